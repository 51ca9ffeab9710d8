# SPDX-License-Identifier: GPL-2.0-only
#
# zdtm tests and their runner. Include from the top Makefile:
#     include test/zdtm/zdtm.mk
# Targets: zdtm (build everything), zdtm-clean.
# Uses $(CC), $(CFLAGS), $(LDFLAGS) from the caller; sanitizer flags are
# dropped: the tests are what gets dumped, not the tool.

ZDTM_SRCDIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# Every test is $(ZDTM_SRCDIR)/NAME.c -> $(ZDTM_SRCDIR)/NAME
ZDTM_TESTS := \
	pid \
	maps_anon \
	maps_shared_anon \
	maps_file_private \
	maps_file_shared \
	maps_layout \
	heap_brk \
	stack \
	vdso \
	regs_fpu \
	sc_nanosleep \
	sc_nanosleep_rem \
	sc_clock_nanosleep_abs \
	sc_pause \
	sc_poll \
	sc_poll_inf \
	sc_pipe_read \
	sc_wait4 \
	signals \
	mm_fields \
	task_misc \
	chroot \
	creds \
	fds \
	fds_shared \
	file_deleted \
	file_locks \
	shared_fdtable \
	fds_many \
	pipes \
	fifo \
	pipeline \
	unix_pair \
	unix_seqpacket \
	unix_shutdown \
	unix_tree \
	unix_bound \
	pty_pair \
	pty_ctty \
	pty_session \
	shell_job \
	static \
	pstree \
	threads \
	thread_signals \
	zombie \
	shm_shared \
	cow_pss \
	tree_churn \
	pidns_nested \
	cold_pageout \
	predump_chain \
	eventfd \
	signalfd \
	epoll \
	epoll_shared \
	timerfd \
	inotify \
	tcp_established \
	tcp_listen \
	tcp_peer_outside \
	udp \
	lazy_fast \
	lazy_slow

ZDTM_STATIC_TESTS := static
ZDTM_PTHREAD_TESTS := thread_signals threads pidns_nested sc_nanosleep_rem tree_churn \
	lazy_fast lazy_slow
# TCP and UDP: with lib/inet.c
ZDTM_INET_TESTS := tcp_established tcp_listen tcp_peer_outside udp

ZDTM_CC ?= $(CC)
ZDTM_CFLAGS ?= $(filter-out -fsanitize=% -D_GNU_SOURCE -MMD -MP -O0 -O1 -O3 -Os,$(CFLAGS)) \
	-std=gnu11 -Wall -Wextra -Werror -O2 -g -I$(ZDTM_SRCDIR)/lib
ZDTM_LDFLAGS ?= $(filter-out -fsanitize=%,$(LDFLAGS))

ZDTM_BINS := $(addprefix $(ZDTM_SRCDIR)/,$(ZDTM_TESTS))
ZDTM_LIBOBJ := $(ZDTM_SRCDIR)/lib/zdtmtst.o
ZDTM_INETOBJ := $(ZDTM_SRCDIR)/lib/inet.o
ZDTM_RUNNER := $(ZDTM_SRCDIR)/zdtm-run

zdtm: $(ZDTM_BINS) $(ZDTM_RUNNER)

$(ZDTM_LIBOBJ): $(ZDTM_SRCDIR)/lib/zdtmtst.c $(ZDTM_SRCDIR)/lib/zdtmtst.h
	$(ZDTM_CC) $(ZDTM_CFLAGS) -c -o $@ $<

$(ZDTM_INETOBJ): $(ZDTM_SRCDIR)/lib/inet.c $(ZDTM_SRCDIR)/lib/inet.h $(ZDTM_SRCDIR)/lib/zdtmtst.h
	$(ZDTM_CC) $(ZDTM_CFLAGS) -c -o $@ $<

$(ZDTM_BINS): %: %.c $(ZDTM_LIBOBJ) $(ZDTM_INETOBJ) $(ZDTM_SRCDIR)/lib/zdtmtst.h
	$(ZDTM_CC) $(ZDTM_CFLAGS) $(ZDTM_LDFLAGS) \
		$(if $(filter $(notdir $@),$(ZDTM_STATIC_TESTS)),-static) \
		-o $@ $< $(ZDTM_LIBOBJ) \
		$(if $(filter $(notdir $@),$(ZDTM_INET_TESTS)),$(ZDTM_INETOBJ)) $(if $(filter $(notdir $@),creds),-lcap) \
		$(if $(filter $(notdir $@),$(ZDTM_PTHREAD_TESTS)),-pthread)

$(ZDTM_SRCDIR)/lazy_slow: $(ZDTM_SRCDIR)/lazy_fast.c

# zdtm.mk too: the runner has the test list built in.
$(ZDTM_RUNNER): $(ZDTM_SRCDIR)/zdtm-run.c $(ZDTM_SRCDIR)/zdtm.mk
	$(ZDTM_CC) $(ZDTM_CFLAGS) $(ZDTM_LDFLAGS) \
		-DZDTM_TEST_LIST='"$(strip $(ZDTM_TESTS))"' -o $@ $<

zdtm-clean:
	rm -f $(ZDTM_BINS) $(ZDTM_RUNNER) $(ZDTM_LIBOBJ) $(ZDTM_INETOBJ)

.PHONY: zdtm zdtm-clean
