// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tree that changes while it is frozen: one thread keeps forking children
 * that exit at once (and reaps them), another keeps creating threads that
 * exit at once (and joins them), a third keeps forking children that live
 * a moment and call fork() themselves. The dump must freeze a consistent
 * set (walking until nothing new appears) and the restore bring back what
 * was there; after it every loop still goes on: each counter moves.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static atomic_long forks, threads, grandforks;
static atomic_int stop;

static void *short_child(void *arg)
{
	(void)arg;
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	while (!stop) {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		if (p > 0 && waitpid(p, NULL, 0) == p)
			forks++;
	}
	return NULL;
}

static void *spawner(void *arg)
{
	pthread_t t;

	(void)arg;
	while (!stop) {
		if (!pthread_create(&t, NULL, short_child, NULL) &&
		    !pthread_join(t, NULL))
			threads++;
	}
	return NULL;
}

/* Children that fork once more before they go: a deeper, moving tree. */
static void *deep_forker(void *arg)
{
	(void)arg;
	while (!stop) {
		pid_t p = fork();

		if (p == 0) {
			pid_t q = fork();

			if (q == 0) {
				usleep(2000);
				_exit(0);
			}
			if (q > 0)
				waitpid(q, NULL, 0);
			_exit(q > 0 ? 0 : 1);
		}
		if (p > 0 && waitpid(p, NULL, 0) == p)
			grandforks++;
	}
	return NULL;
}

static void wait_moves(atomic_long *c, const char *what)
{
	long v = *c;
	int i;

	for (i = 0; i < 500 && *c == v; i++)
		usleep(10000);
	if (*c == v)
		fail("%s stuck at %ld after restore", what, v);
}

int main(int argc, char **argv)
{
	pthread_t t[3];
	sigset_t set;
	int i;

	test_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t[0], NULL, forker, NULL) ||
	    pthread_create(&t[1], NULL, spawner, NULL) ||
	    pthread_create(&t[2], NULL, deep_forker, NULL))
		fail("pthread_create");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (forks < 10 || threads < 10 || grandforks < 10)
		usleep(10000);
	test_daemon();
	test_waitsig();
	wait_moves(&forks, "forking");
	wait_moves(&threads, "thread creation");
	wait_moves(&grandforks, "forking two deep");
	stop = 1;
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	test_msg("%ld forks, %ld threads, %ld two-deep forks\n", (long)forks,
		 (long)threads, (long)grandforks);
	pass();
}
