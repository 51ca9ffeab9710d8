// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumped while blocked in nanosleep(1 hour): after restore the sleep goes on
 * (the kernel restarts it after a stop), so it may end only by the SIGTERM
 * handler (EINTR with the flag set), never early, never with a spurious EINTR,
 * and the remaining time it reports is sane.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SLEEP_SEC 3600

int main(int argc, char **argv)
{
	struct timespec req = { SLEEP_SEC, 0 }, rem = { -1, -1 }, t0, t1;
	long r;
	int err;

	test_init(argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_daemon();

	r = syscall(SYS_nanosleep, &req, &rem);
	err = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (r == 0)
		fail("nanosleep returned 0 after %ld s (asked %d)",
		     (long)(t1.tv_sec - t0.tv_sec), SLEEP_SEC);
	if (err != EINTR)
		fail("nanosleep failed: errno %d", err);
	if (!test_sig_received())
		fail("nanosleep returned EINTR but no signal was delivered");
	if (rem.tv_sec < 0 || rem.tv_nsec < 0 || rem.tv_nsec >= 1000000000 ||
	    rem.tv_sec > SLEEP_SEC || (rem.tv_sec == SLEEP_SEC && rem.tv_nsec))
		fail("remaining time %ld.%09ld is not within (0, %d]",
		     (long)rem.tv_sec, rem.tv_nsec, SLEEP_SEC);
	/* The kernel counts the sleep on CLOCK_MONOTONIC: downtime counts. */
	if (rem.tv_sec > SLEEP_SEC - (t1.tv_sec - t0.tv_sec) + 1)
		test_msg("note: remaining %ld s, but %ld s passed since the "
			 "sleep began: the sleep was extended",
			 (long)rem.tv_sec, (long)(t1.tv_sec - t0.tv_sec));
	pass();
}
