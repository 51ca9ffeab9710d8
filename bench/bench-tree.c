// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dump and restore of process trees and threads, side by side with the
 * reference they are measured against: the time to create the same tree
 * from scratch with fork() and pthread_create() (each thread writing its
 * bit of memory), measured on the very tree that then gets dumped.
 *
 *   tree:    NPROC processes (heap-shaped, FANOUT children each) of NTHR
 *            threads each, the main thread included;
 *   threads: one process of NTHR1 threads, the main thread included.
 *
 * Every thread writes THREAD_KIB of its stack and every process PROC_KIB
 * of heap, then sleeps in pause(). Each case runs REPS times (a fresh tree,
 * dump, restore -d, a check through /proc that every PID and TID is back,
 * kill); the median of each time is printed.
 *
 * Usage: bench-tree [criu-lite] [dir] [reps]
 * Runs as root; a child subreaper that reaps the killed trees at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define FANOUT		10
#define THREAD_KIB	16
#define PROC_KIB	64
#define READY_TIMEOUT_S	60
#define MAX_REPS	15

struct shape {
	const char *name;
	int nproc;
	int nthr;	/* per process, the main thread included */
};

/* shared between the bench and the tree it builds: who is ready */
struct ready {
	_Atomic int n;
	int total;
};

static struct ready *ready;

static void dief(const char *msg)
{
	fprintf(stderr, "bench-tree: %s\n", msg);
	exit(1);
}

static long futex(_Atomic int *uaddr, int op, int val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

/* ---------------------------------------------------------- the target */

static void touch(char *p, size_t len, int seed)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		p[i] = (char)(seed + i);
}

/* threads of this process that are ready: each process has its own */
static _Atomic int threads_in;

static __attribute__((noreturn)) void sleep_forever(void)
{
	for (;;)
		pause();
}

static void *thread_fn(void *arg)
{
	char buf[THREAD_KIB << 10];

	touch(buf, sizeof(buf), (int)(long)arg);
	__asm__ volatile("" : : "r"(buf) : "memory");
	atomic_fetch_add(&threads_in, 1);
	futex(&threads_in, FUTEX_WAKE_PRIVATE, 1, NULL);
	sleep_forever();
}

/*
 * Process number IDX of the shape: its children first, then its threads.
 * Once they are all in, it counts itself in with the bench (the last one
 * wakes it) and unmaps the page it shares with the bench, so the dumped
 * tree shares no memory between processes.
 */
static __attribute__((noreturn)) void node(const struct shape *s, int idx)
{
	char *heap;
	int c, i, v;

	for (c = idx * FANOUT + 1; c <= idx * FANOUT + FANOUT && c < s->nproc;
	     c++) {
		pid_t pid = fork();

		if (pid < 0)
			_exit(1);
		if (!pid)
			node(s, c);
	}
	heap = malloc(PROC_KIB << 10);
	if (!heap)
		_exit(1);
	touch(heap, PROC_KIB << 10, idx);
	for (i = 1; i < s->nthr; i++) {
		pthread_t th;

		if (pthread_create(&th, NULL, thread_fn, (void *)(long)i))
			_exit(1);
	}
	while ((v = atomic_load(&threads_in)) < s->nthr - 1)
		futex(&threads_in, FUTEX_WAIT_PRIVATE, v, NULL);
	if (atomic_fetch_add(&ready->n, s->nthr) + s->nthr == ready->total)
		futex(&ready->n, FUTEX_WAKE, 1, NULL);
	munmap(ready, 4096);
	sleep_forever();
}

/*
 * Starts the tree and waits until every thread is in; returns the root and
 * the time it took: the reference.
 */
static pid_t build(const struct shape *s, double *t_create)
{
	struct timespec ts = { .tv_sec = 1 };
	double t0, deadline;
	pid_t root;
	int v;

	atomic_store(&ready->n, 0);
	ready->total = s->nproc * s->nthr;
	t0 = now();
	deadline = t0 + READY_TIMEOUT_S;
	root = fork();
	if (root < 0)
		die("fork");
	if (!root) {
		int nul = open("/dev/null", O_RDWR), fd;

		/* only what criu-lite can dump: /dev/null on 0-2 */
		setsid();
		for (fd = 0; fd < 3; fd++)
			dup2(nul, fd);
		closefrom(3);
		node(s, 0);
	}
	while ((v = atomic_load(&ready->n)) < ready->total) {
		futex(&ready->n, FUTEX_WAIT, v, &ts);
		if (now() > deadline || waitpid(root, NULL, WNOHANG) == root)
			dief("the tree did not start");
	}
	*t_create = now() - t0;
	return root;
}

/* ------------------------------------------------------ looking at it */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

struct idlist {
	int *v;
	int n, cap;
};

static void id_add(struct idlist *l, int id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			die("realloc");
	}
	l->v[l->n++] = id;
}

/* Reads a whitespace-separated list of numbers from PATH into L. */
static void read_ids(const char *path, struct idlist *l)
{
	char buf[8192], *p, *end;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (p = buf;; p = end) {
		long id = strtol(p, &end, 10);

		if (end == p)
			break;
		id_add(l, id);
	}
}

/*
 * Every process under ROOT (ROOT included) into PROCS and every thread
 * into TIDS, both sorted.
 */
static void walk(pid_t root, struct idlist *procs, struct idlist *tids)
{
	int i;

	procs->n = tids->n = 0;
	id_add(procs, root);
	for (i = 0; i < procs->n; i++) {
		char path[64];
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/task", procs->v[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			char cpath[384];

			if (de->d_name[0] == '.')
				continue;
			id_add(tids, atoi(de->d_name));
			snprintf(cpath, sizeof(cpath), "%s/%s/children", path,
				 de->d_name);
			read_ids(cpath, procs);
		}
		closedir(d);
	}
	qsort(procs->v, procs->n, sizeof(int), cmp_int);
	qsort(tids->v, tids->n, sizeof(int), cmp_int);
}

static int same(const struct idlist *a, const struct idlist *b)
{
	return a->n == b->n && !memcmp(a->v, b->v, a->n * sizeof(int));
}

/* ------------------------------------------------------------ running */

static void kill_all(const struct idlist *procs)
{
	int i;

	for (i = 0; i < procs->n; i++)
		kill(procs->v[i], SIGKILL);
	reap_all();
}

static void rm_images(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || strlen(de->d_name) > 2)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

struct times {
	double create, dump, restore;
};

static void one_rep(const char *tool, const char *dir, const struct shape *s,
		    struct times *t)
{
	struct idlist procs = {}, tids = {}, rprocs = {}, rtids = {};
	char pidbuf[16], msg[256];
	pid_t root;
	double t0;

	rm_images(dir);
	if (mkdir(dir, 0700))
		die(dir);
	root = build(s, &t->create);
	usleep(100000);	/* let every thread settle in pause() */
	walk(root, &procs, &tids);
	if (procs.n != s->nproc || tids.n != s->nproc * s->nthr) {
		snprintf(msg, sizeof(msg), "built %d processes, %d threads",
			 procs.n, tids.n);
		dief(msg);
	}
	snprintf(pidbuf, sizeof(pidbuf), "%d", root);
	{
		char *dump_argv[] = { (char *)tool, "dump", "-t", pidbuf, "-D",
				      (char *)dir, NULL };
		char *rst_argv[] = { (char *)tool, "restore", "-D", (char *)dir,
				     "-d", NULL };

		t0 = now();
		if (run_tool(dump_argv, NULL))
			dief("criu-lite dump failed");
		t->dump = now() - t0;
		/* the dump killed the tree: every PID must be free again */
		reap_all();
		t0 = now();
		if (run_tool(rst_argv, NULL))
			dief("criu-lite restore failed");
		t->restore = now() - t0;
	}
	walk(root, &rprocs, &rtids);
	if (!same(&procs, &rprocs) || !same(&tids, &rtids)) {
		snprintf(msg, sizeof(msg),
			 "restored %d processes, %d threads under %d; dumped %d, %d, or other IDs",
			 rprocs.n, rtids.n, root, procs.n, tids.n);
		kill_all(&rprocs);
		dief(msg);
	}
	kill_all(&rprocs);
	rm_images(dir);
	free(procs.v);
	free(tids.v);
	free(rprocs.v);
	free(rtids.v);
}

static void bench(const char *tool, const char *base, const struct shape *s,
		  int reps)
{
	double create[MAX_REPS], dump[MAX_REPS], rst[MAX_REPS], c, d, r;
	int nthreads = s->nproc * s->nthr, i;
	char dir[4096];
	struct times t;

	snprintf(dir, sizeof(dir), "%s/%s", base, s->name);
	for (i = 0; i < reps; i++) {
		one_rep(tool, dir, s, &t);
		create[i] = t.create;
		dump[i] = t.dump;
		rst[i] = t.restore;
	}
	c = median(create, reps);
	d = median(dump, reps);
	r = median(rst, reps);
	printf("bench-tree: %s: %d process%s x %d threads = %d threads, median of %d\n",
	       s->name, s->nproc, s->nproc > 1 ? "es" : "", s->nthr, nthreads,
	       reps);
	printf("  %-8s %9s %12s %12s %8s\n", "", "ms", "us/process", "us/thread",
	       "x create");
	printf("  %-8s %9.1f %12.1f %12.1f %8.2f\n", "dump", d * 1e3,
	       d * 1e6 / s->nproc, d * 1e6 / nthreads, d / c);
	printf("  %-8s %9.1f %12.1f %12.1f %8.2f\n", "restore", r * 1e3,
	       r * 1e6 / s->nproc, r * 1e6 / nthreads, r / c);
	printf("  %-8s %9.1f %12.1f %12.1f %8s   (fork+pthread_create, reference)\n",
	       "create", c * 1e3, c * 1e6 / s->nproc, c * 1e6 / nthreads, "1.00");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *base;
	int reps;
	static const struct shape shapes[] = {
		{ "tree", 100, 4 },
		{ "threads", 1, 1000 },
	};
	char abs_tool[PATH_MAX];
	size_t i;

	bench_args(argc, argv, "/dev/shm/criu-lite-bench-tree", MAX_REPS, abs_tool, &base, &reps);
	ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ready == MAP_FAILED)
		die("mmap");
	printf("bench-tree: each thread writes %d KiB of stack, each process %d KiB of heap; images in %s\n",
	       THREAD_KIB, PROC_KIB, base);
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		bench(abs_tool, base, &shapes[i], reps);
	rmdir(base);
	return 0;
}
