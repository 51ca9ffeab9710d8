// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pending signals of a threaded process: each thread's own (thread-directed,
 * queued real-time with si_value, and a standard tgkill()) and the process's
 * shared ones (queued and standard), all blocked everywhere. After restore
 * each thread finds exactly its own pending set, in order and with its
 * siginfo, and none of another thread's; the shared queue is intact. A
 * restore that queues everything to the process, or everything to the main
 * thread, fails here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SIG_T 44 /* thread-directed, queued */
#define SIG_P 45 /* process-wide, queued */
#define NR_WORKERS 2

struct expect {
	int signo, code, value; /* value only for SI_QUEUE */
};

struct thread {
	pthread_t th;
	pid_t tid;
	struct expect own[4]; /* signo 0 ends */
	char status[512];
	char err[1280];
};

static struct thread threads[NR_WORKERS + 1]; /* [0] is main */
static int nready, go;
static pid_t me;

static const char *const pnd_keys[] = { "SigPnd:", "ShdPnd:", "SigBlk:",
					NULL };

static void read_status(pid_t tid, char *out, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	status_lines(path, pnd_keys, out, size);
}

/*
 * Take the pending signals of set, without waiting, and compare them with
 * exp: same order, codes, values, sender. 0 or a message in err.
 */
static int take(const sigset_t *set, const struct expect *exp, char *err,
		size_t size)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	int i, sig;

	for (i = 0;; i++) {
		sig = sigtimedwait(set, &si, &zero);
		if (sig < 0 && errno == EAGAIN) {
			if (exp[i].signo)
				return snprintf(err, size, "signal %d (value "
						"%d) no longer pending",
						exp[i].signo, exp[i].value);
			return 0;
		}
		if (sig < 0)
			return snprintf(err, size, "sigtimedwait: %m");
		if (!exp[i].signo)
			return snprintf(err, size, "extra signal %d pending "
					"(code %d, value %d)", sig, si.si_code,
					si.si_value.sival_int);
		if (sig != exp[i].signo || si.si_code != exp[i].code ||
		    si.si_pid != me ||
		    (si.si_code == SI_QUEUE &&
		     si.si_value.sival_int != exp[i].value))
			return snprintf(err, size, "got signal %d code %d "
					"pid %d value %d, expected %d code %d "
					"value %d", sig, si.si_code,
					si.si_pid, si.si_value.sival_int,
					exp[i].signo, exp[i].code,
					exp[i].value);
	}
}

/* The thread's own signals, checked from inside the thread. */
static void check_own(struct thread *t)
{
	char now[512];
	sigset_t set;

	read_status(t->tid, now, sizeof(now));
	if (strcmp(now, t->status)) {
		snprintf(t->err, sizeof(t->err), "tid %d: pending/blocked "
			 "changed:\n%s-- now --\n%s", t->tid, t->status, now);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIG_T);
	sigaddset(&set, SIGUSR1);
	take(&set, t->own, t->err, sizeof(t->err));
}

static void *worker(void *arg)
{
	struct thread *t = arg;

	t->tid = syscall(SYS_gettid);
	test_count_add(&nready, 1);
	test_count_wait(&go, 1);
	check_own(t);
	return NULL;
}

static void start_workers(void)
{
	sigset_t set;
	int i;

	/* Workers are born blocking all four and SIGTERM (main's). */
	sigemptyset(&set);
	sigaddset(&set, SIG_T);
	sigaddset(&set, SIG_P);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 1; i <= NR_WORKERS; i++)
		if (pthread_create(&threads[i].th, NULL, worker, &threads[i]))
			fail("pthread_create");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	test_count_wait(&nready, NR_WORKERS);
}

static void expect_own(struct thread *t, int signo, int code, int value)
{
	struct expect *e = t->own;

	while (e->signo)
		e++;
	*e = (struct expect){ signo, code, value };
}

/*
 * The si_code tgkill() gives: SI_TKILL, but some kernels say SI_USER.
 * What was sent must come back, so ask this kernel (the signal is blocked).
 */
static int tkill_code(void)
{
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (syscall(SYS_tgkill, me, me, SIGUSR1) || sigwaitinfo(&set, &si) < 0)
		fail("tgkill to self: %m");
	return si.si_code;
}

/* Own signals: main one queued, worker 1 two, worker 2 a tkill and one. */
static void send_signals(void)
{
	int i, code = tkill_code();

	threads[0].tid = me;
	test_sigqueue(me, me, SIG_T, 1000);
	expect_own(&threads[0], SIG_T, SI_QUEUE, 1000);
	test_sigqueue(me, threads[1].tid, SIG_T, 1001);
	test_sigqueue(me, threads[1].tid, SIG_T, 1011);
	expect_own(&threads[1], SIG_T, SI_QUEUE, 1001);
	expect_own(&threads[1], SIG_T, SI_QUEUE, 1011);
	if (syscall(SYS_tgkill, me, threads[2].tid, SIGUSR1))
		fail("tgkill: %m");
	test_sigqueue(me, threads[2].tid, SIG_T, 1002);
	expect_own(&threads[2], SIGUSR1, code, 0);
	expect_own(&threads[2], SIG_T, SI_QUEUE, 1002);

	test_sigqueue(me, 0, SIG_P, 2001);
	test_sigqueue(me, 0, SIG_P, 2002);
	if (kill(me, SIGUSR2))
		fail("kill: %m");
	for (i = 0; i <= NR_WORKERS; i++)
		read_status(threads[i].tid, threads[i].status,
			    sizeof(threads[i].status));
}

int main(int argc, char **argv)
{
	static const struct expect shared[] = {
		{ SIGUSR2, SI_USER, 0 },
		{ SIG_P, SI_QUEUE, 2001 },
		{ SIG_P, SI_QUEUE, 2002 },
		{ 0, 0, 0 },
	};
	char err[1280] = "";
	stack_t ss;
	sigset_t set;
	int i;

	test_init(argc, argv);
	me = getpid();
	start_workers();
	send_signals();
	test_daemon();
	test_waitsig();

	/* none at dump, none after: not the restorer's (an ASan build has one) */
	if (sigaltstack(NULL, &ss) || !(ss.ss_flags & SS_DISABLE))
		fail("an alternate signal stack appeared: %p+%zu, flags %d",
		     ss.ss_sp, ss.ss_size, ss.ss_flags);

	test_count_add(&go, 1);
	for (i = 1; i <= NR_WORKERS; i++) {
		pthread_join(threads[i].th, NULL);
		if (threads[i].err[0])
			fail("worker %d: %s", i, threads[i].err);
	}
	check_own(&threads[0]);
	if (threads[0].err[0])
		fail("main: %s", threads[0].err);
	sigemptyset(&set);
	sigaddset(&set, SIG_P);
	sigaddset(&set, SIGUSR2);
	if (take(&set, shared, err, sizeof(err)))
		fail("shared: %s", err);
	pass();
}
