// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process tree four levels deep, with two more sessions than the root's,
 * process groups that are not their members' own, and the hard cases: a
 * group whose leader has exited (its members orphaned) and a session whose
 * leader has exited. After restore every process checks from inside its
 * pid, ppid, pgid and sid against what the tree was built to be.
 *
 * The root is a child subreaper (PR_SET_CHILD_SUBREAPER) so that the
 * orphans of exited leaders come to it rather than to init of the PID
 * namespace, which would take them out of the tree the tool dumps. Being a
 * subreaper is state too: the root checks it is still one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

enum how {
	SAME,     /* parent's group and session */
	SESSION,  /* setsid(): leader of a new session and group */
	PGRP,     /* leader of a new group in the parent's session */
	JOIN,     /* member of the group of node .join */
};

struct node {
	const char *name;
	int parent;
	enum how how;
	int join;
	int exits; /* leaves once its subtree is ready: a dead leader */
};

static const struct node nodes[] = {
	{ "root", -1, SAME, 0, 0 },
	{ "a", 0, SAME, 0, 0 },
	{ "a1", 1, SAME, 0, 0 },
	{ "a1x", 2, SAME, 0, 0 },	/* fourth level */
	{ "b", 0, SESSION, 0, 0 },	/* second session, leader alive */
	{ "b1", 4, SAME, 0, 0 },
	{ "b2", 4, PGRP, 0, 0 },
	{ "b2x", 6, SAME, 0, 0 },
	{ "b3", 4, JOIN, 6, 0 },	/* in its sibling's group */
	{ "g", 0, PGRP, 0, 1 },		/* orphaned group, leader gone */
	{ "g1", 9, SAME, 0, 0 },
	{ "g1x", 10, SAME, 0, 0 },
	{ "g2", 9, SAME, 0, 0 },
	{ "s", 0, SESSION, 0, 1 },	/* third session, leader gone */
	{ "s1", 13, SAME, 0, 0 },
	{ "s1x", 14, SAME, 0, 0 },
	{ "s2", 13, PGRP, 0, 0 },	/* own group in the leaderless session */
};

#define NR_NODES ((int)ARRAY_SIZE(nodes))

/* Filled in as the tree grows; a process knows its ancestors' and elders'. */
static pid_t pids[NR_NODES];

struct ids {
	pid_t pid, ppid, pgid, sid;
};

static struct ids expect; /* this process's */

static pid_t exp_sid(int i)
{
	if (i == 0 || nodes[i].how == SESSION)
		return pids[i];
	return exp_sid(nodes[i].parent);
}

static pid_t exp_pgid(int i)
{
	switch (nodes[i].how) {
	case SESSION:
	case PGRP:
		return pids[i];
	case JOIN:
		return pids[nodes[i].join];
	default:
		return i ? exp_pgid(nodes[i].parent) : pids[0];
	}
}

static int subtree_size(int i)
{
	int n = 1, j;

	for (j = i + 1; j < NR_NODES; j++)
		if (nodes[j].parent == i)
			n += subtree_size(j);
	return n;
}

/* Both parent and child set the group: whoever runs first, no race. */
static void set_ids(int i, pid_t pid)
{
	switch (nodes[i].how) {
	case SESSION:
		if (pid == 0 && setsid() < 0)
			fail("%s: setsid: %m", nodes[i].name);
		break;
	case PGRP:
		if (setpgid(pid, pid ? pid : getpid()) && errno != ESRCH)
			fail("%s: setpgid: %m", nodes[i].name);
		break;
	case JOIN:
		if (setpgid(pid, pids[nodes[i].join]) && errno != ESRCH)
			fail("%s: setpgid to %d: %m", nodes[i].name,
			     pids[nodes[i].join]);
		break;
	default:
		break;
	}
}

static void check_self(int i)
{
	const char *name = nodes[i].name;
	struct ids now = { getpid(), getppid(), getpgid(0), getsid(0) };

	if (syscall(SYS_gettid) != now.pid)
		fail("%s: gettid %ld != getpid %d", name,
		     syscall(SYS_gettid), now.pid);
	if (now.pid != expect.pid)
		fail("%s: pid %d, expected %d", name, now.pid, expect.pid);
	/* The root's parent is the runner's business. */
	if (i && now.ppid != expect.ppid)
		fail("%s(%d): ppid %d, expected %d", name, now.pid, now.ppid,
		     expect.ppid);
	if (now.pgid != expect.pgid)
		fail("%s(%d): pgid %d, expected %d", name, now.pid, now.pgid,
		     expect.pgid);
	if (now.sid != expect.sid)
		fail("%s(%d): sid %d, expected %d", name, now.pid, now.sid,
		     expect.sid);
}

static void node_run(int i) __attribute__((noreturn));

/* Fork the children of node i, in table order (a group before its joiners). */
static void fork_children(int i)
{
	int j;

	for (j = i + 1; j < NR_NODES; j++) {
		pid_t pid;

		if (nodes[j].parent != i)
			continue;
		pid = test_fork();
		if (pid == 0)
			node_run(j);
		pids[j] = pid;
		set_ids(j, pid);
	}
}

/*
 * Pass every descendant's "ready" up (the root learns all PIDs from them),
 * then reap the children that were to leave: their orphans are ours or the
 * root's by then.
 */
static void gather_ready(int i)
{
	int n = subtree_size(i) - 1, j;
	long v;

	while (n--) {
		v = test_ready_wait(NULL);
		pids[v >> 32] = (pid_t)v;
		if (i)
			test_ready_send(getppid(), v);
	}
	for (j = i + 1; j < NR_NODES; j++) {
		int st;

		if (nodes[j].parent != i || !nodes[j].exits)
			continue;
		if (waitpid(pids[j], &st, 0) != pids[j] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			fail("%s: leader %s(%d) did not exit 0 (status %#x)",
			     nodes[i].name, nodes[j].name, pids[j], st);
	}
}

static void node_run(int i)
{
	int parent = nodes[i].parent;

	pids[i] = getpid();
	set_ids(i, 0);
	expect.pid = pids[i];
	expect.ppid = nodes[parent].exits ? pids[0] : pids[parent];
	expect.pgid = exp_pgid(i);
	expect.sid = exp_sid(i);

	fork_children(i);
	gather_ready(i);
	test_ready_send(getppid(), (long)i << 32 | pids[i]);
	if (nodes[i].exits)
		_exit(0);

	test_waitsig();
	check_self(i);
	if (test_reap_children())
		fail("%s(%d): some children failed", nodes[i].name, pids[i]);
	test_child_pass();
}

/*
 * Every process of the tree must still be there (not a zombie); each is told
 * to check itself even if one is missing, so that all problems are reported
 * and the tree goes away.
 */
static void signal_tree(void)
{
	char path[64], buf[512], *p;
	int i, dead = -1;

	for (i = 1; i < NR_NODES; i++) {
		if (nodes[i].exits)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
		read_file(path, buf, sizeof(buf));
		p = strrchr(buf, ')');
		if (!p || p[2] == 'Z' || p[2] == 'X')
			dead = i;
		else if (kill(pids[i], SIGTERM))
			dead = i;
	}
	if (dead >= 0)
		fail("%s(%d) is gone or dead", nodes[dead].name, pids[dead]);
}

int main(int argc, char **argv)
{
	int bad, on = 0;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		fail("PR_SET_CHILD_SUBREAPER: %m");
	test_ready_init();

	pids[0] = getpid();
	expect.pid = pids[0];
	expect.pgid = exp_pgid(0);
	expect.sid = exp_sid(0);
	check_self(0); /* the runner made us a session leader */

	fork_children(0);
	gather_ready(0);
	test_daemon();
	test_waitsig();

	check_self(0);
	if (prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) || on != 1)
		fail("root is no longer a child subreaper (%d)", on);
	signal_tree();
	bad = test_reap_children();
	if (bad)
		fail("%d children of the root failed", bad);
	pass();
}
