// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two processes sharing one fd table: the child is made by clone() with
 * CLONE_FILES (not a thread: its own memory and PID). Before the dump the
 * parent opens fd 10 and the child fd 11, each seen by the other. After
 * restore the two tables are one (kcmp KCMP_FILES), fds 10 and 11 are
 * there; the parent opens fd 42, which the child must see, and the child
 * opens fd 43, which the parent must see once the child is done.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define STACK_SIZE	(256 << 10)

static void open_as(const char *name, int want)
{
	int fd = open(name, O_RDWR | O_CREAT, 0644);

	if (fd < 0 || dup2(fd, want) != want)
		fail("open %s as fd %d: %m", name, want);
	close(fd);
}

/* FD names the file NAME in the work dir */
static int is_file(int fd, const char *name)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	size_t len = strlen(name);

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	return (size_t)n > len && path[n - len - 1] == '/' &&
	       !strcmp(path + n - len, name);
}

static int shares_table(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0) == 0;
}

static int child(void *arg)
{
	pid_t pp = getppid();

	(void)arg;
	open_as("child", 11);
	test_ready_send(pp, 0);
	test_waitsig();

	if (!shares_table(pp, getpid()))
		fail("child: no longer shares the parent's fd table");
	if (!is_file(10, "parent") || !is_file(11, "child"))
		fail("child: fds 10 and 11 are not what they were");
	if (!is_file(42, "late"))
		fail("child: the parent's new fd 42 is not in its table");
	open_as("late-child", 43);
	test_child_pass();
}

int main(int argc, char **argv)
{
	char *stack = malloc(STACK_SIZE);
	pid_t pid;
	int st;

	test_init(argc, argv);
	test_ready_init();
	if (!stack)
		fail("malloc: %m");
	open_as("parent", 10);
	pid = clone(child, stack + STACK_SIZE, CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		fail("clone: %m");
	test_ready_wait(NULL);
	if (!is_file(11, "child"))
		fail("the child's fd 11 is not in our table");
	test_daemon();
	test_waitsig();

	if (!shares_table(getpid(), pid))
		fail("the child %d no longer shares our fd table", pid);
	if (!is_file(10, "parent") || !is_file(11, "child"))
		fail("fds 10 and 11 are not what they were");
	open_as("late", 42);
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	if (!is_file(43, "late-child"))
		fail("the child's new fd 43 is not in our table");
	close(42);
	close(43);
	pass();
}
