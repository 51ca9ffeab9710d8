// SPDX-License-Identifier: GPL-2.0-only
/*
 * Zombies: children that exited (42, 0) or were killed (SIGKILL, SIGUSR1's
 * default action), not reaped before the dump, and one zombie a level
 * down, the child of a live child. After restore each is still a zombie
 * (state Z in /proc) at its PID with the same parent, waitid(WNOWAIT) sees
 * the same siginfo, and its parent reaps it with the exact status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

enum end { EXIT, KILLED, RAISED };

struct zombie {
	enum end how;
	int arg; /* exit code or signal */
	pid_t pid;
	siginfo_t si; /* waitid(WNOWAIT) before the dump */
};

static struct zombie zombies[] = {
	{ .how = EXIT, .arg = 42 },
	{ .how = EXIT, .arg = 0 },
	{ .how = KILLED, .arg = SIGKILL },
	{ .how = RAISED, .arg = SIGUSR1 },
};

/* The grandchild zombie, of the middle child. */
static struct zombie deep = { .how = EXIT, .arg = 3 };

static void make(struct zombie *z)
{
	z->pid = test_fork();
	if (z->pid == 0) {
		if (z->how == EXIT)
			_exit(z->arg);
		if (z->how == RAISED) {
			signal(z->arg, SIG_DFL);
			raise(z->arg);
		}
		for (;;)
			pause();
	}
	if (z->how == KILLED && kill(z->pid, z->arg))
		fail("kill %d: %m", z->pid);
	/* Until it is a zombie: this does not reap it. */
	memset(&z->si, 0, sizeof(z->si));
	if (waitid(P_PID, z->pid, &z->si, WEXITED | WNOWAIT))
		fail("waitid %d: %m", z->pid);
}

static int expected_status(const struct zombie *z)
{
	return z->how == EXIT ? z->arg << 8 : z->arg;
}

static void check(const struct zombie *z)
{
	char path[64], buf[512], *p;
	siginfo_t si;
	int st;

	snprintf(path, sizeof(path), "/proc/%d/stat", z->pid);
	read_file(path, buf, sizeof(buf));
	p = strrchr(buf, ')');
	if (!p || p[2] != 'Z' || atoi(p + 4) != getpid())
		fail("%d is not our zombie: %s", z->pid, buf);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, z->pid, &si, WEXITED | WNOWAIT | WNOHANG))
		fail("waitid %d: %m", z->pid);
	if (si.si_pid != z->si.si_pid || si.si_code != z->si.si_code ||
	    si.si_status != z->si.si_status || si.si_uid != z->si.si_uid)
		fail("zombie %d: waitid says pid %d code %d status %d uid %d, "
		     "was %d/%d/%d/%d", z->pid, si.si_pid, si.si_code,
		     si.si_status, si.si_uid, z->si.si_pid, z->si.si_code,
		     z->si.si_status, z->si.si_uid);
	if (waitpid(z->pid, &st, WNOHANG) != z->pid)
		fail("zombie %d cannot be reaped: %m", z->pid);
	if (st != expected_status(z))
		fail("zombie %d: status %#x, expected %#x", z->pid, st,
		     expected_status(z));
}

/* The middle child: keeps its own zombie until its SIGTERM. */
static void middle(void)
{
	make(&deep);
	test_ready_send(getppid(), 0);
	test_waitsig();
	check(&deep);
	test_child_pass();
}

int main(int argc, char **argv)
{
	pid_t mid;
	size_t i;
	int st;

	test_init(argc, argv);
	test_ready_init();
	mid = test_fork();
	if (mid == 0)
		middle();
	test_ready_wait(NULL);
	for (i = 0; i < ARRAY_SIZE(zombies); i++)
		make(&zombies[i]);
	test_daemon();
	test_waitsig();

	for (i = 0; i < ARRAY_SIZE(zombies); i++)
		check(&zombies[i]);
	if (kill(mid, SIGTERM))
		fail("the middle child %d is gone: %m", mid);
	if (waitpid(mid, &st, 0) != mid || st)
		fail("the middle child %d: status %#x", mid, st);
	if (waitpid(-1, &st, WNOHANG) >= 0 || errno != ECHILD)
		fail("a child we did not make");
	pass();
}
