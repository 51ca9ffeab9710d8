// SPDX-License-Identifier: GPL-2.0-only
/*
 * PID namespaces nested 3 deep: the test process starts A, the init (PID 1)
 * of a new PID namespace; A starts B, init of a namespace inside it; B
 * starts C, init of a third; C has a child D (PID 2 there) with a second
 * thread. Every process records its NSpid line (its PID at every level, as
 * the host sees it) and getpid(); after restore each checks both from
 * inside, and the thread its TID at every level.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define DEPTH	3

struct ids {
	pid_t pid;
	char nspid[128];
};

static volatile int *ready;	/* shared: processes set up so far */
static struct ids thread_ids;
static volatile int thread_go, thread_verdict = -1;

static void nspid_of(const char *status_path, char *out, size_t size)
{
	char buf[4096], *p, *e;

	read_file(status_path, buf, sizeof(buf));
	p = strstr(buf, "\nNSpid:");
	if (!p)
		fail("no NSpid in %s", status_path);
	p += 7;
	e = strchr(p, '\n');
	if (e)
		*e = 0;
	snprintf(out, size, "%s", p);
}

static void record(struct ids *id)
{
	id->pid = getpid();
	nspid_of("/proc/self/status", id->nspid, sizeof(id->nspid));
}

/* 0 if this process still has the IDs it recorded. */
static int verify(const struct ids *id, const char *who)
{
	struct ids now;

	record(&now);
	if (now.pid == id->pid && !strcmp(now.nspid, id->nspid))
		return 0;
	test_msg("%s: getpid %d NSpid \"%s\", was %d \"%s\"\n", who, now.pid,
		 now.nspid, id->pid, id->nspid);
	return 1;
}

static void *thread_main(void *arg)
{
	/* thread-self: /proc is the host's, where our TID is another */
	static const char path[] = "/proc/thread-self/status";
	char now[128];

	(void)arg;
	thread_ids.pid = syscall(SYS_gettid);
	nspid_of(path, thread_ids.nspid, sizeof(thread_ids.nspid));
	__atomic_add_fetch(ready, 1, __ATOMIC_SEQ_CST);
	while (!thread_go)
		usleep(10000);
	thread_verdict = syscall(SYS_gettid) != thread_ids.pid;
	nspid_of(path, now, sizeof(now));
	if (strcmp(now, thread_ids.nspid))
		thread_verdict = 1;
	return NULL;
}

static pid_t fork_newpid(void)
{
	pid_t pid = syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL,
			    NULL, NULL);

	if (pid < 0)
		fail("clone(CLONE_NEWPID): %m");
	return pid;
}

/* D: a plain child of C, with a second thread. */
static void __attribute__((noreturn)) leaf(void)
{
	struct ids id;
	pthread_t th;
	int bad;

	record(&id);
	if (pthread_create(&th, NULL, thread_main, NULL))
		fail("pthread_create");
	__atomic_add_fetch(ready, 1, __ATOMIC_SEQ_CST);
	test_waitsig();
	thread_go = 1;
	pthread_join(th, NULL);
	bad = verify(&id, "D") || thread_verdict;
	if (thread_verdict)
		test_msg("D's thread: TID or NSpid changed\n");
	_exit(bad);
}

static void __attribute__((noreturn)) level(int depth)
{
	struct ids id;
	pid_t child;
	int bad;

	record(&id);
	if (id.pid != 1)
		fail("level %d: PID %d, not 1", depth, id.pid);
	child = depth < DEPTH ? fork_newpid() : test_fork();
	if (!child) {
		if (depth < DEPTH)
			level(depth + 1);
		leaf();
	}
	__atomic_add_fetch(ready, 1, __ATOMIC_SEQ_CST);
	test_waitsig();
	bad = verify(&id, depth == 1 ? "A" : depth == 2 ? "B" : "C");
	kill(child, SIGTERM);
	bad += test_reap_children();
	_exit(bad != 0);
}

int main(int argc, char **argv)
{
	struct ids id;
	pid_t child;
	int bad;

	test_init(argc, argv);
	ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ready == MAP_FAILED)
		fail("mmap: %m");
	record(&id);
	child = fork_newpid();
	if (!child)
		level(1);
	/* A, B, C, D and D's thread */
	while (__atomic_load_n(ready, __ATOMIC_SEQ_CST) < DEPTH + 2)
		usleep(10000);
	test_daemon();
	test_waitsig();
	bad = verify(&id, "root");
	kill(child, SIGTERM);
	bad += test_reap_children();
	if (bad)
		fail("%d processes changed their IDs", bad);
	pass();
}
