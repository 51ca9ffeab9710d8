# SPDX-License-Identifier: GPL-2.0-only
BENCH_BIN := build/bench-mem
BENCH_TREE_BIN := build/bench-tree
BENCH_COLD_BIN := build/bench-cold
BENCH_PREDUMP_BIN := build/bench-predump
BENCH_ANONFD_BIN := build/bench-anonfd
BENCH_FDS_BIN := build/bench-fds
BENCH_PS_BIN := build/bench-pageserver
BENCH_LAZY_BIN := build/bench-lazy
BENCH_DIR := /dev/shm/criu-lite-bench

$(BENCH_BIN): bench/bench-mem.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_TREE_BIN): bench/bench-tree.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o $@ $<

$(BENCH_COLD_BIN): bench/bench-cold.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_PREDUMP_BIN): bench/bench-predump.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_LAZY_BIN): bench/bench-lazy.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_ANONFD_BIN): bench/bench-anonfd.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_FDS_BIN): bench/bench-fds.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_PS_BIN): bench/bench-pageserver.c bench/bench.h
	@mkdir -p build
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

bench: bench-mem bench-tree bench-cold bench-predump bench-anonfd bench-fds \
	bench-pageserver bench-lazy

bench-mem: all $(BENCH_BIN)
	$(BENCH_BIN) criu-lite/criu-lite $(BENCH_DIR) 1024

bench-tree: all $(BENCH_TREE_BIN)
	$(BENCH_TREE_BIN) criu-lite/criu-lite $(BENCH_DIR)-tree 3

# swap on zram first (scripts/zram-swap leaves it on)
bench-cold: all $(BENCH_COLD_BIN)
	scripts/zram-swap
	$(BENCH_COLD_BIN) criu-lite/criu-lite $(BENCH_DIR)-cold 1024 768

# 1 GiB, 16 MiB rewritten between pre-dump and dump
bench-predump: all $(BENCH_PREDUMP_BIN)
	$(BENCH_PREDUMP_BIN) criu-lite/criu-lite $(BENCH_DIR)-predump 1024 16

# 1 GiB: restore --lazy-pages against the eager restore, 3 rounds each
bench-lazy: all $(BENCH_LAZY_BIN)
	$(BENCH_LAZY_BIN) criu-lite/criu-lite $(BENCH_DIR)-lazy 1024 3

# 8,000 eventfds, epoll watches, timerfds and signalfds in one process
# (restore holds each twice: 10,000 would need RLIMIT_NOFILE above 20,000)
bench-anonfd: all $(BENCH_ANONFD_BIN)
	$(BENCH_ANONFD_BIN) criu-lite/criu-lite $(BENCH_DIR)-anonfd 8000 3

# 10,000 fds in one process; 50 processes sharing 1,000 pipes
bench-fds: all $(BENCH_FDS_BIN)
	$(BENCH_FDS_BIN) criu-lite/criu-lite $(BENCH_DIR)-fds 3

# 1 GiB dumped into local files and through a page server on 127.0.0.1
bench-pageserver: all $(BENCH_PS_BIN)
	$(BENCH_PS_BIN) criu-lite/criu-lite $(BENCH_DIR)-ps 1024 5

.PHONY: bench bench-mem bench-tree bench-cold bench-predump bench-anonfd bench-fds \
	bench-pageserver bench-lazy
