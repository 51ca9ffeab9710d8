// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dump and restore of descriptors, side by side with the reference they are
 * measured against: the same processes without them, in the same run.
 *
 *   fds:   one process holding NFDS fds of mixed kinds, in turn: a regular
 *          file (its own description of one of 64 files, at an offset), a
 *          directory, /dev/null, a pipe's read end, its write end, a dup of
 *          the regular file's fd;
 *   pipes: a tree of NPROC processes (the root and its children) sharing
 *          NPIPES pipes the root made before forking: 2 * NPIPES fds in
 *          each process, 2 * NPIPES descriptions in the tree.
 *
 * Each case runs REPS times (start, dump, restore -d, a check that every
 * process is back holding as many fds as before, kill), with and without
 * its fds; the medians are printed, with the cost per fd (the difference,
 * divided by the fds of the tree) and the ratio.
 *
 * Usage: bench-fds [criu-lite] [dir] [reps]
 * Runs as root; a child subreaper that reaps the killed trees at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define NFDS		10000
#define NFILES		64
#define NPROC		50
#define NPIPES		1000
#define MAX_REPS	15
#define MAX_PROCS	64

struct shape {
	const char *name;
	int nproc;
	int with_fds;
	void (*setup)(const char *dir);
	int fds_per_proc;	/* besides 0-2 */
};

static void dief(const char *msg)
{
	fprintf(stderr, "bench-fds: %s\n", msg);
	exit(1);
}

/* ---------------------------------------------------------- the target */

static void place(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		_exit(2);
	if (fd != want)
		close(fd);
}

/* NFDS fds from 3, six kinds in turn */
static void setup_mixed(const char *dir)
{
	char name[4200];
	int fd, p[2];

	for (fd = 3; fd < 3 + NFDS; fd++) {
		switch ((fd - 3) % 6) {
		case 0:
			snprintf(name, sizeof(name), "%s/f%d", dir, fd % NFILES);
			place(open(name, O_RDWR | O_CREAT, 0600), fd);
			lseek(fd, fd, SEEK_SET);
			break;
		case 1:
			place(open(dir, O_RDONLY | O_DIRECTORY), fd);
			break;
		case 3:
			if (fd + 1 < 3 + NFDS) {
				if (pipe(p))
					_exit(2);
				place(p[0], fd);
				place(p[1], ++fd);
				break;
			}
			/* no room for both ends */
			__attribute__((fallthrough));
		case 2:
			place(open("/dev/null", O_WRONLY), fd);
			break;
		case 5:
			if (dup2(fd - 5, fd) != fd)
				_exit(2);
			break;
		}
	}
}

/* NPIPES pipes, both ends, from 3: the children inherit them */
static void setup_pipes(const char *dir)
{
	int i, p[2];

	(void)dir;
	for (i = 0; i < NPIPES; i++) {
		if (pipe(p))
			_exit(2);
		place(p[0], 3 + 2 * i);
		place(p[1], 4 + 2 * i);
	}
}

#define READY_FD	(NFDS + 32)

static __attribute__((noreturn)) void sit(void)
{
	close(READY_FD);
	for (;;)
		pause();
}

/*
 * The root, then its children; each closes its copy of the ready pipe
 * once it holds its fds, so the bench reads end of file when the whole
 * tree is ready.
 */
static pid_t build(const struct shape *s, const char *dir)
{
	struct rlimit rl = { NFDS + 64, NFDS + 64 };
	int ready[2], nul, i;
	char c;
	pid_t root;

	if (pipe(ready))
		die("pipe");
	root = fork();
	if (root < 0)
		die("fork");
	if (!root) {
		setsid();
		nul = open("/dev/null", O_RDWR);
		if (nul < 0 || setrlimit(RLIMIT_NOFILE, &rl) ||
		    dup2(ready[1], READY_FD) != READY_FD)
			_exit(2);
		for (i = 0; i < 3; i++)
			dup2(nul, i);
		close_range(3, READY_FD - 1, 0);
		if (s->with_fds)
			s->setup(dir);
		for (i = 1; i < s->nproc; i++) {
			pid_t pid = fork();

			if (pid < 0)
				_exit(2);
			if (!pid)
				sit();
		}
		sit();
	}
	close(ready[1]);
	while (read(ready[0], &c, 1) > 0)
		;
	close(ready[0]);
	return root;
}

/* ------------------------------------------------------ looking at it */

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The root and its children; their count, or -1 if one is missing. */
static int list_tree(pid_t root, pid_t *v)
{
	char path[64];
	FILE *f;
	int n = 1;

	v[0] = root;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", root, root);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (n < MAX_PROCS && fscanf(f, "%d", &v[n]) == 1)
		n++;
	fclose(f);
	return n;
}

/* ------------------------------------------------------------ running */

static void kill_tree(pid_t root)
{
	kill(-root, SIGKILL);
	reap_all();
}

/* Every process of the tree back, each with its fds; 0 if so. */
static int check_tree(const struct shape *s, pid_t root)
{
	pid_t v[MAX_PROCS];
	int n = list_tree(root, v), i, want;

	if (n != s->nproc) {
		fprintf(stderr, "bench-fds: %d processes, not %d\n", n,
			s->nproc);
		return -1;
	}
	want = 3 + (s->with_fds ? s->fds_per_proc : 0);
	for (i = 0; i < n; i++)
		if (count_fds(v[i]) != want) {
			fprintf(stderr, "bench-fds: PID %d holds %d fds, not %d\n",
				v[i], count_fds(v[i]), want);
			return -1;
		}
	return 0;
}

static void one_rep(const char *tool, const char *dir, const struct shape *s,
		    double *dump, double *rst)
{
	char pidbuf[16], files[4200];
	char *dump_argv[] = { (char *)tool, "dump", "-t", pidbuf, "-D",
			      (char *)dir, NULL };
	char *rst_argv[] = { (char *)tool, "restore", "-D", (char *)dir, "-d",
			     NULL };
	pid_t root;
	double t0;

	snprintf(files, sizeof(files), "%s-files", dir);
	if ((mkdir(dir, 0700) && errno != EEXIST) ||
	    (mkdir(files, 0700) && errno != EEXIST))
		die(dir);
	clear_dir(dir);
	root = build(s, files);
	usleep(50000);	/* every process in pause() */
	if (check_tree(s, root))
		dief("the tree did not start with its fds");
	snprintf(pidbuf, sizeof(pidbuf), "%d", root);
	t0 = now();
	if (run_tool(dump_argv, NULL))
		dief("criu-lite dump failed");
	*dump = now() - t0;
	reap_all();
	t0 = now();
	if (run_tool(rst_argv, NULL))
		dief("criu-lite restore failed");
	*rst = now() - t0;
	if (check_tree(s, root)) {
		kill_tree(root);
		dief("the restored tree is not the dumped one");
	}
	kill_tree(root);
	clear_dir(dir);
}

/* Medians of REPS runs of the case, with its fds or without. */
static void run_case(const char *tool, const char *base,
		     const struct shape *s, int with_fds, int reps,
		     double *dump, double *rst)
{
	struct shape c = *s;
	double d[MAX_REPS], r[MAX_REPS];
	char dir[4096];
	int i;

	c.with_fds = with_fds;
	snprintf(dir, sizeof(dir), "%s/%s", base, s->name);
	for (i = 0; i < reps; i++)
		one_rep(tool, dir, &c, &d[i], &r[i]);
	*dump = median(d, reps);
	*rst = median(r, reps);
}

static void bench(const char *tool, const char *base, const struct shape *s,
		  int reps)
{
	int nfds = s->nproc * s->fds_per_proc;
	double d, r, d0, r0;

	run_case(tool, base, s, 1, reps, &d, &r);
	run_case(tool, base, s, 0, reps, &d0, &r0);
	printf("bench-fds: %s: %d process%s x %d fds = %d fds, median of %d\n",
	       s->name, s->nproc, s->nproc > 1 ? "es" : "", s->fds_per_proc,
	       nfds, reps);
	printf("  %-8s %10s %10s %10s %9s\n", "", "ms", "ms no fds", "us/fd",
	       "x no fds");
	printf("  %-8s %10.1f %10.1f %10.2f %9.2f\n", "dump", d * 1e3,
	       d0 * 1e3, (d - d0) * 1e6 / nfds, d / d0);
	printf("  %-8s %10.1f %10.1f %10.2f %9.2f\n", "restore", r * 1e3,
	       r0 * 1e3, (r - r0) * 1e6 / nfds, r / r0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *base;
	int reps;
	static const struct shape shapes[] = {
		{ "fds", 1, 1, setup_mixed, NFDS },
		{ "pipes", NPROC, 1, setup_pipes, 2 * NPIPES },
	};
	char abs_tool[PATH_MAX];
	size_t i;

	bench_args(argc, argv, "/dev/shm/criu-lite-bench-fds", MAX_REPS, abs_tool, &base, &reps);
	printf("bench-fds: images in %s\n", base);
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		bench(abs_tool, base, &shapes[i], reps);
	return 0;
}
