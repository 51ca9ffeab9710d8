// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumped while blocked in poll(NULL, 0, -1) (no timeout): after restore it waits on,
 * ending only by the SIGTERM handler (EINTR), not with 0 (early timeout) and
 * not with a spurious EINTR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	long r;
	int err;

	test_init(argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_daemon();

	r = syscall(SYS_poll, NULL, 0, -1);
	err = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r == 0)
		fail("poll with no timeout returned 0 after %ld s",
		     (long)(t1.tv_sec - t0.tv_sec));
	if (r != -1 || err != EINTR)
		fail("poll returned %ld errno %d", r, err);
	if (!test_sig_received())
		fail("poll returned EINTR but no signal was delivered");
	pass();
}
