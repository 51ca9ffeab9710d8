// SPDX-License-Identifier: GPL-2.0-only
/*
 * A relative sleep interrupted by the dump goes on for what was left of it,
 * as the kernel would have it, not for its whole length again. The main
 * thread sleeps SLEEP_SEC in nanosleep() (with rem), another thread in
 * clock_nanosleep(), both with SIGTERM blocked; a third writes the
 * pidfile a while into the sleeps, takes SIGTERM, and watches the clock:
 * any gap over GAP_MS is time the process did not run (frozen, dumped,
 * waiting to be restored), which does not count. What remains must be
 * about SLEEP_SEC per sleep, not SLEEP_SEC plus the part slept before.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SLEEP_SEC	4
#define BEFORE_MS	2000	/* slept when the pidfile appears */
#define GAP_MS		200
#define SLACK_MS	1000

static volatile int done;
static volatile int64_t gaps_ms;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void *watch(void *arg)
{
	int64_t start = now_ms(), last = start, t;
	int ready = 0;

	(void)arg;
	while (!done) {
		usleep(10000);
		t = now_ms();
		if (t - last > GAP_MS)
			gaps_ms += t - last;
		last = t;
		if (!ready && t - start >= BEFORE_MS) {
			test_daemon();
			ready = 1;
		}
	}
	return NULL;
}

/* How long the sleep took, the time nobody ran taken out. */
static int64_t sleep_ms(int clock)
{
	struct timespec req = { SLEEP_SEC, 0 }, rem;
	int64_t t0 = now_ms(), g0 = gaps_ms;
	long r;

	r = clock ? syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem) :
		    syscall(SYS_nanosleep, &req, &rem);
	if (r)
		fail("%s: %m", clock ? "clock_nanosleep" : "nanosleep");
	return now_ms() - t0 - (gaps_ms - g0);
}

static void *clock_sleeper(void *arg)
{
	*(int64_t *)arg = sleep_ms(1);
	return NULL;
}

static void check(const char *what, int64_t ms)
{
	if (ms < SLEEP_SEC * 1000 - SLACK_MS || ms > SLEEP_SEC * 1000 + SLACK_MS)
		fail("%s(%d s) slept %lld ms while the process ran", what,
		     SLEEP_SEC, (long long)ms);
}

int main(int argc, char **argv)
{
	pthread_t watcher, sleeper;
	int64_t a, b;
	sigset_t set;

	test_init(argc, argv);
	if (pthread_create(&watcher, NULL, watch, NULL))
		fail("pthread_create");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&sleeper, NULL, clock_sleeper, &b))
		fail("pthread_create");
	a = sleep_ms(0);
	pthread_join(sleeper, NULL);
	done = 1;
	pthread_join(watcher, NULL);
	/* the watcher took SIGTERM; if it has not come yet, main takes it */
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	test_waitsig();
	test_msg("nanosleep %lld ms, clock_nanosleep %lld ms, %lld ms not run\n",
		 (long long)a, (long long)b, (long long)gaps_ms);
	check("nanosleep", a);
	check("clock_nanosleep", b);
	pass();
}
