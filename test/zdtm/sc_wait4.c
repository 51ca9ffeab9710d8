// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumped while blocked in wait4() for a child that does not exit: after
 * restore it keeps waiting and returns EINTR only once the SIGTERM handler
 * has run; the child is then still there to be killed and reaped.
 * (Needs a process tree: see unsupported.list.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	pid_t child;
	long r;
	int err, st;

	test_init(argc, argv);
	child = fork();
	if (child < 0)
		fail("fork: %m");
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	test_daemon();

	r = syscall(SYS_wait4, child, &st, 0, NULL);
	err = errno;
	if (r >= 0) {
		fail("wait4 returned %ld (status %#x)", r, st);
	}
	if (err != EINTR) {
		kill(child, SIGKILL);
		fail("wait4 failed: errno %d", err);
	}
	if (!test_sig_received()) {
		kill(child, SIGKILL);
		fail("wait4 returned EINTR but no signal was delivered");
	}
	if (kill(child, SIGKILL))
		fail("the child %d is gone: %m", child);
	if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st) ||
	    WTERMSIG(st) != SIGKILL)
		fail("child did not die of SIGKILL: status %#x", st);
	pass();
}
