// SPDX-License-Identifier: GPL-2.0-only
/* The process keeps its PID, and stays the leader of its session and group. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

struct ids {
	pid_t pid, sys_pid, tid, sid, pgid, stat_pid, self_link, nspid;
};

static void measure(struct ids *ids)
{
	char buf[8192], link[64], *p;
	ssize_t n;

	ids->pid = getpid();
	ids->sys_pid = syscall(SYS_getpid);
	ids->tid = syscall(SYS_gettid);
	ids->sid = getsid(0);
	ids->pgid = getpgid(0);

	read_file("/proc/self/stat", buf, sizeof(buf));
	ids->stat_pid = atoi(buf);

	n = readlink("/proc/self", link, sizeof(link) - 1);
	if (n < 0)
		fail("readlink /proc/self: %m");
	link[n] = '\0';
	ids->self_link = atoi(link);

	read_file("/proc/self/status", buf, sizeof(buf));
	p = strstr(buf, "\nNSpid:");
	if (!p)
		fail("no NSpid in /proc/self/status");
	ids->nspid = atoi(p + 7);
}

static void check_consistent(const char *when, const struct ids *i)
{
	if (i->sys_pid != i->pid || i->tid != i->pid || i->stat_pid != i->pid ||
	    i->self_link != i->pid || i->nspid != i->pid)
		fail("%s: pid views disagree: getpid %d SYS_getpid %d gettid %d "
		     "stat %d /proc/self %d NSpid %d", when, i->pid, i->sys_pid,
		     i->tid, i->stat_pid, i->self_link, i->nspid);
	if (i->sid != i->pid)
		fail("%s: getsid %d != pid %d", when, i->sid, i->pid);
	if (i->pgid != i->pid)
		fail("%s: getpgid %d != pid %d", when, i->pgid, i->pid);
}

int main(int argc, char **argv)
{
	struct ids before, after;

	test_init(argc, argv);
	measure(&before);
	check_consistent("before", &before);

	test_daemon();
	test_waitsig();

	measure(&after);
	check_consistent("after", &after);
	if (after.pid != before.pid)
		fail("pid changed: %d -> %d", before.pid, after.pid);
	if (after.sid != before.sid || after.pgid != before.pgid)
		fail("sid/pgid changed: %d/%d -> %d/%d", before.sid,
		     before.pgid, after.sid, after.pgid);
	test_msg("pid %d ppid %d", after.pid, getppid());
	pass();
}
