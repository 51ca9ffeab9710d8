// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unix socketpairs across processes:
 *   stream: the parent holds fd 20, the child fd 21; 3,000 bytes queued for
 *           the child, 1,200 for the parent;
 *   dgram:  fds 30/31 inherited by both (one description each), two
 *           messages queued for 31, one for 30.
 * After restore each process has its fd table as before (and fd 30 still
 * one description across them); the child reads what was queued for it and
 * its dgram messages, then each side talks to the other across processes.
 */
#define _GNU_SOURCE
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static struct test_fds s0;

static void child(void)
{
	pid_t pp = getppid();

	close(20);
	test_fds_snapshot(&s0);
	test_ready_send(pp, 0);
	test_waitsig();

	test_fds_check(&s0);
	if (syscall(SYS_kcmp, pp, getpid(), KCMP_FILE, 30, 30))
		fail("child: fd 30 no longer shares the parent's description");
	test_sk_expect("child", 21, 0, 3000, 1);
	test_sk_expect("child", 31, 1, 100, 3);
	test_sk_expect("child", 31, 1, 2, 4);
	test_sk_empty("child", 21);
	test_sk_empty("child", 31);
	test_sk_send(21, 8, 6);
	test_sk_send(30, 9, 7);
	test_child_pass();
}

int main(int argc, char **argv)
{
	pid_t pid;
	int st;

	test_init(argc, argv);
	test_ready_init();
	test_sk_pair_at(SOCK_STREAM, 20, 21);
	test_sk_pair_at(SOCK_DGRAM, 30, 31);
	test_sk_send(20, 3000, 1);
	test_sk_send(21, 1200, 2);
	test_sk_send(30, 100, 3);
	test_sk_send(30, 2, 4);
	test_sk_send(31, 50, 5);
	pid = test_fork();
	if (pid == 0)
		child();
	close(21);
	test_ready_wait(NULL);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	test_sk_expect("parent", 20, 0, 1200, 2);
	test_sk_expect("parent", 30, 1, 50, 5);
	test_sk_empty("parent", 20);
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	test_sk_expect("parent", 20, 0, 8, 6);
	test_sk_expect("parent", 31, 1, 9, 7);
	pass();
}
