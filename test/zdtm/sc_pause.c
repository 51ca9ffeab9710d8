// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumped while blocked in pause(): after restore it keeps waiting, and
 * returns (EINTR) only once the SIGTERM handler has run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	long r;
	int err;

	test_init(argc, argv);
	test_daemon();

	r = syscall(SYS_pause);
	err = errno;
	if (r != -1 || err != EINTR)
		fail("pause returned %ld errno %d", r, err);
	if (!test_sig_received())
		fail("pause returned EINTR but no signal was delivered");
	pass();
}
