/* SPDX-License-Identifier: GPL-2.0-only */
/* What every benchmark here needs: a clock, a way out, running the tool. */
#ifndef CRIU_LITE_BENCH_H
#define CRIU_LITE_BENCH_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Runs ARGV, waits; its exit status (128 + signal); its peak RSS if asked. */
static inline int run_tool(char *const argv[], long *maxrss_kb)
{
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4");
	if (maxrss_kb)
		*maxrss_kb = ru.ru_maxrss;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * In a forked target: a session of its own, /dev/null on 0-2, no other fd
 * but KEEP (-1: none): only what criu-lite can dump.
 */
static inline void target_detach(int keep)
{
	int nul, fd;

	setsid();
	nul = open("/dev/null", O_RDWR);
	for (fd = 0; fd < 3; fd++)
		dup2(nul, fd);
	for (fd = 3; fd < 1024; fd++)
		if (fd != keep)
			close(fd);
}

/* Every page of P a byte of its own, from SEED. */
static inline void bench_fill(char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		memset(p + i, (int)(seed + i / 4096), 4096);
}

/* A target with LEN of written anonymous memory, which then sleeps. */
static inline pid_t anon_target(size_t len, int ready_fd)
{
	pid_t pid = fork();
	char *p;

	if (pid)
		return pid;
	target_detach(ready_fd);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		_exit(1);
	bench_fill(p, len, 7);
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	close(ready_fd);
	for (;;)
		pause();
}

/*
 * START(LEN, fd) forks a target that writes a byte on fd once it is ready,
 * then closes it.
 */
static inline pid_t target_start(pid_t (*start)(size_t len, int ready_fd),
				 size_t len)
{
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd))
		die("pipe");
	pid = start(len, pfd[1]);
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		die("target did not start");
	/* and has closed it: no pipe in what gets dumped */
	while (read(pfd[0], &c, 1) > 0)
		;
	close(pfd[0]);
	return pid;
}

/* images of earlier runs (other PIDs) would pile up in memory on /dev/shm */
static inline void clear_dir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		die(dir);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0))
			die(de->d_name);
	closedir(d);
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of N times; sorts them. */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The arguments of a tree benchmark, [criu-lite] [dir] [reps]: the tool's
 * absolute path into TOOL (PATH_MAX), the images directory (made), the
 * repetitions (1..MAX). Makes us a child subreaper, which reaps the trees.
 */
static inline void bench_args(int argc, char **argv, const char *dir,
			      int max, char *tool, const char **base,
			      int *reps)
{
	*base = argc > 2 ? argv[2] : dir;
	*reps = argc > 3 ? atoi(argv[3]) : 3;
	if (*reps < 1 || *reps > max) {
		fprintf(stderr, "%s: reps must be 1..%d\n", argv[0], max);
		exit(1);
	}
	if (!realpath(argc > 1 ? argv[1] : "criu-lite/criu-lite", tool))
		die(argc > 1 ? argv[1] : "criu-lite/criu-lite");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		die("PR_SET_CHILD_SUBREAPER");
	if (mkdir(*base, 0700) && errno != EEXIST)
		die(*base);
}

/* Reaps until nothing is left below us: for a child subreaper. */
static inline void reap_all(void)
{
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
	if (errno != ECHILD)
		die("waitpid");
}

#endif
