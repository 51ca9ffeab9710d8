// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signal state: every disposition (handler, flags, mask, restorer, as the
 * kernel reports them), the blocked mask, pending signals (thread-private and
 * process-wide, standard and queued real-time with their si_value, in order),
 * and the alternate signal stack, on which an SA_ONSTACK handler still runs.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NSIG_K 64
#define SIG_ONSTACK 40
#define SIG_RTQ 45   /* two queued, process-wide */
#define SIG_RTT 46   /* one queued, thread-directed */
#define ALTSTACK_SIZE (64 << 10)

struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static void get_all(struct ksigaction *ka)
{
	int s;

	for (s = 1; s <= NSIG_K; s++)
		if (syscall(SYS_rt_sigaction, s, NULL, &ka[s - 1], 8))
			fail("rt_sigaction(%d): %m", s);
}

static struct {
	int signo, code, value;
	pid_t pid;
} log_[32];
static volatile int nlog;
static volatile int usr1_mask_ok = -1;
static volatile uintptr_t onstack_addr;
static volatile int onstack_flags = -1;

static void h_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (nlog < (int)ARRAY_SIZE(log_)) {
		log_[nlog].signo = sig;
		log_[nlog].code = si->si_code;
		log_[nlog].value = si->si_value.sival_int;
		log_[nlog].pid = si->si_pid;
	}
	nlog++;
	if (sig == SIGUSR1) {
		sigset_t cur;

		sigprocmask(SIG_BLOCK, NULL, &cur);
		usr1_mask_ok = sigismember(&cur, SIGUSR2) &&
			       sigismember(&cur, SIGHUP) &&
			       sigismember(&cur, SIGUSR1);
	}
}

static void h_plain(int sig)
{
	h_info(sig, &(siginfo_t){ .si_code = -100 }, NULL);
}

static void h_onstack(int sig, siginfo_t *si, void *uc)
{
	stack_t ss;
	char here;

	(void)sig;
	(void)si;
	(void)uc;
	onstack_addr = (uintptr_t)&here;
	if (sigaltstack(NULL, &ss) == 0)
		onstack_flags = ss.ss_flags;
}

static void set(int sig, void *h, int flags, const int *mask)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	if (flags & SA_SIGINFO)
		sa.sa_sigaction = h;
	else
		sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	for (; mask && *mask; mask++)
		sigaddset(&sa.sa_mask, *mask);
	if (sigaction(sig, &sa, NULL))
		fail("sigaction(%d): %m", sig);
}

static const char *const sig_keys[] = { "SigPnd:", "ShdPnd:", "SigBlk:",
					"SigIgn:", "SigCgt:", NULL };

static int find_log(int sig, int nth)
{
	int i;

	for (i = 0; i < nlog && i < (int)ARRAY_SIZE(log_); i++)
		if (log_[i].signo == sig && nth-- == 0)
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	static struct ksigaction ka0[NSIG_K], ka1[NSIG_K];
	static const int usr1_mask[] = { SIGUSR2, SIGHUP, 0 };
	char st0[512], st1[512];
	sigset_t block, blk0, blk1, pnd0, pnd1;
	stack_t ss0, ss1;
	char *alt;
	pid_t me;
	int s, i;

	test_init(argc, argv);
	me = getpid();

	set(SIGUSR1, h_info, SA_SIGINFO | SA_RESTART, usr1_mask);
	set(SIGUSR2, h_plain, SA_NODEFER | SA_RESETHAND, NULL);
	set(SIGHUP, SIG_IGN, 0, NULL);
	set(SIGCHLD, SIG_DFL, SA_NOCLDSTOP, NULL);
	set(SIGWINCH, h_plain, SA_RESTART, NULL);
	set(SIGPIPE, h_info, SA_SIGINFO, NULL);
	set(SIG_ONSTACK, h_onstack, SA_SIGINFO | SA_ONSTACK, NULL);
	set(SIG_RTQ, h_info, SA_SIGINFO | SA_RESTART, NULL);
	set(SIG_RTT, h_info, SA_SIGINFO, NULL);

	alt = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt == MAP_FAILED)
		fail("mmap: %m");
	ss0.ss_sp = alt;
	ss0.ss_size = ALTSTACK_SIZE;
	ss0.ss_flags = 0;
	if (sigaltstack(&ss0, NULL))
		fail("sigaltstack: %m");

	sigemptyset(&block);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, SIG_RTQ);
	sigaddset(&block, SIG_RTT);
	sigaddset(&block, SIGURG);
	if (sigprocmask(SIG_BLOCK, &block, NULL))
		fail("sigprocmask: %m");

	raise(SIGWINCH);               /* thread-private */
	kill(me, SIGPIPE);             /* process-wide */
	test_sigqueue(me, 0, SIG_RTQ, 111);
	test_sigqueue(me, 0, SIG_RTQ, 222);
	test_sigqueue(me, me, SIG_RTT, 333);
	if (nlog)
		fail("a blocked signal was delivered");

	get_all(ka0);
	sigprocmask(SIG_BLOCK, NULL, &blk0);
	sigpending(&pnd0);
	sigaltstack(NULL, &ss0);
	status_lines("/proc/self/status", sig_keys, st0, sizeof(st0));

	test_daemon();
	test_waitsig();

	get_all(ka1);
	sigprocmask(SIG_BLOCK, NULL, &blk1);
	sigpending(&pnd1);
	sigaltstack(NULL, &ss1);
	status_lines("/proc/self/status", sig_keys, st1, sizeof(st1));

	for (s = 1; s <= NSIG_K; s++) {
		struct ksigaction *a = &ka0[s - 1], *b = &ka1[s - 1];

		if (memcmp(a, b, sizeof(*a)))
			fail("signal %d: sigaction was {%p %#lx %p %#lx}, now "
			     "{%p %#lx %p %#lx}", s, a->handler, a->flags,
			     a->restorer, (unsigned long)a->mask, b->handler,
			     b->flags, b->restorer, (unsigned long)b->mask);
	}
	if (memcmp(&blk0, &blk1, 8))
		fail("blocked mask changed: %s / %s", st0, st1);
	if (memcmp(&pnd0, &pnd1, 8))
		fail("pending set changed:\n%s-- now --\n%s", st0, st1);
	if (strcmp(st0, st1))
		fail("signal lines of /proc/self/status changed:\n%s-- now --\n%s",
		     st0, st1);
	if (ss0.ss_sp != ss1.ss_sp || ss0.ss_size != ss1.ss_size ||
	    ss0.ss_flags != ss1.ss_flags)
		fail("sigaltstack was %p/%zu/%d, now %p/%zu/%d", ss0.ss_sp,
		     ss0.ss_size, ss0.ss_flags, ss1.ss_sp, ss1.ss_size,
		     ss1.ss_flags);
	if (nlog)
		fail("%d blocked signal(s) were delivered", nlog);

	/* The SA_ONSTACK handler runs on the alternate stack. */
	raise(SIG_ONSTACK);
	if (onstack_addr < (uintptr_t)alt ||
	    onstack_addr >= (uintptr_t)alt + ALTSTACK_SIZE)
		fail("SA_ONSTACK handler ran at %#lx, not on %p+%d",
		     (unsigned long)onstack_addr, alt, ALTSTACK_SIZE);
	if (onstack_flags != SS_ONSTACK)
		fail("sigaltstack flags in handler: %d", onstack_flags);

	/* Pending signals are delivered once unblocked, with their info. */
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	if (nlog != 5)
		fail("%d signals delivered after unblocking, expected 5",
		     nlog);
	if (find_log(SIGWINCH, 0) < 0 || find_log(SIGPIPE, 0) < 0)
		fail("pending SIGWINCH or SIGPIPE lost");
	i = find_log(SIGPIPE, 0);
	if (log_[i].code != SI_USER || log_[i].pid != me)
		fail("SIGPIPE siginfo: code %d pid %d", log_[i].code,
		     log_[i].pid);
	i = find_log(SIG_RTQ, 0);
	s = find_log(SIG_RTQ, 1);
	if (i < 0 || s < 0)
		fail("queued signal %d lost", SIG_RTQ);
	if (log_[i].value != 111 || log_[s].value != 222 ||
	    log_[i].code != SI_QUEUE || log_[s].code != SI_QUEUE ||
	    log_[i].pid != me)
		fail("queued signal %d: values %d,%d codes %d,%d pid %d", SIG_RTQ,
		     log_[i].value, log_[s].value, log_[i].code, log_[s].code,
		     log_[i].pid);
	i = find_log(SIG_RTT, 0);
	if (i < 0 || log_[i].value != 333 || log_[i].code != SI_QUEUE)
		fail("thread-directed queued signal %d lost or changed", SIG_RTT);

	/* The handlers act as installed. */
	raise(SIGHUP); /* ignored */
	nlog = 0;
	raise(SIGUSR1);
	if (nlog != 1 || log_[0].signo != SIGUSR1 || usr1_mask_ok != 1)
		fail("SIGUSR1 handler: ran %d, mask applied %d", nlog,
		     usr1_mask_ok);
	raise(SIGUSR2); /* SA_RESETHAND: runs once, then default */
	if (nlog != 2 || log_[1].signo != SIGUSR2)
		fail("SIGUSR2 handler did not run");
	if (syscall(SYS_rt_sigaction, SIGUSR2, NULL, &ka1[0], 8) ||
	    ka1[0].handler != SIG_DFL)
		fail("SA_RESETHAND did not reset SIGUSR2");
	pass();
}
