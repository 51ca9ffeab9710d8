// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumped while blocked in clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
 * now + 1 hour): after restore it sleeps on and ends only by the SIGTERM
 * handler, never early, never with a spurious EINTR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct timespec until, now;
	long r;
	int err;

	test_init(argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 3600;
	test_daemon();

	r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME,
		    &until, NULL);
	err = errno;
	clock_gettime(CLOCK_MONOTONIC, &now);

	if (r == 0)
		fail("clock_nanosleep returned 0 at %ld, sleeping until %ld",
		     (long)now.tv_sec, (long)until.tv_sec);
	if (err != EINTR)
		fail("clock_nanosleep failed: errno %d", err);
	if (!test_sig_received())
		fail("clock_nanosleep returned EINTR but no signal came");
	pass();
}
