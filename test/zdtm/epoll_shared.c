// SPDX-License-Identifier: GPL-2.0-only
/*
 * One epoll shared by a parent and its child, with a target each: the
 * parent makes epoll fd 30 watching its eventfd fd 20 (data 0x20), then
 * forks; the child makes a pipe (read end fd 40, which the parent does not
 * have) and adds fd 40 (data 0x40) to the shared epoll, and writes to it.
 * After restore fds 30 and 20 are still one description each in both
 * (kcmp); the parent's epoll_wait reports both targets; then the child,
 * whose fd number the watch of the pipe is filed under, modifies and
 * deletes it by that number; after that the parent sees only its eventfd.
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static struct test_fds s0;

static void move_to(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		fail("fd at %d: %m", want);
	close(fd);
}

static void add(int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	if (epoll_ctl(30, EPOLL_CTL_ADD, fd, &ev))
		fail("EPOLL_CTL_ADD %d: %m", fd);
}

/* What epoll_wait on fd 30 reports: a bit per target (1: 0x20, 2: 0x40). */
static int ready(void)
{
	struct epoll_event ev[4];
	int n, i, seen = 0;

	n = epoll_wait(30, ev, 4, 0);
	if (n < 0)
		fail("epoll_wait: %m");
	for (i = 0; i < n; i++)
		seen |= ev[i].data.u64 == 0x20 ? 1 :
			ev[i].data.u64 == 0x40 ? 2 : 4;
	return seen;
}

static void child(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x41 };
	int p[2];

	if (pipe(p))
		fail("pipe: %m");
	move_to(p[0], 40);
	move_to(p[1], 41);
	add(40, 0x40);
	if (write(41, "x", 1) != 1)
		fail("child: write: %m");
	test_fds_snapshot(&s0);
	test_ready_send(getppid(), 0);
	test_waitsig();

	test_fds_check(&s0);
	if (epoll_ctl(30, EPOLL_CTL_MOD, 40, &ev))
		fail("child: EPOLL_CTL_MOD fd 40: %m");
	if (epoll_ctl(30, EPOLL_CTL_DEL, 40, NULL))
		fail("child: EPOLL_CTL_DEL fd 40: %m");
	test_child_pass();
}

int main(int argc, char **argv)
{
	uint64_t one = 1;
	pid_t pid;
	int st, r;

	test_init(argc, argv);
	test_ready_init();
	move_to(eventfd(0, EFD_NONBLOCK), 20);
	move_to(epoll_create1(0), 30);
	add(20, 0x20);
	if (write(20, &one, sizeof(one)) != sizeof(one))
		fail("write eventfd: %m");
	pid = test_fork();
	if (pid == 0)
		child();
	test_ready_wait(NULL);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	if (syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, 30, 30))
		fail("fd 30 is no longer one epoll in parent and child");
	if (syscall(SYS_kcmp, getpid(), pid, KCMP_FILE, 20, 20))
		fail("fd 20 is no longer one eventfd in parent and child");
	r = ready();
	if (r != 3)
		fail("epoll_wait reports %#x, not both targets", r);
	if (epoll_ctl(30, EPOLL_CTL_DEL, 40, NULL) != -1 || errno != EBADF)
		fail("the parent has an fd 40");
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	r = ready();
	if (r != 1)
		fail("after the child's EPOLL_CTL_DEL epoll_wait reports %#x", r);
	pass();
}
