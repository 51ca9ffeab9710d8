// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dump and restore of a process holding NFDS event descriptors, side by
 * side with the same process holding none (its reference): a quarter
 * eventfds, a quarter eventfds all watched by one epoll, a quarter
 * periodic timerfds, a quarter signalfds. Each case runs REPS times (a
 * fresh process, dump, restore -d, a check that /proc/PID/fd has every fd
 * back, kill); the medians are printed, with the cost per fd and the ratio
 * to the reference.
 *
 * Usage: bench-anonfd [criu-lite] [dir] [nfds] [reps]
 * Runs as root; a child subreaper, which reaps the restored processes.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include "bench.h"

#define MAX_REPS 15

static void make_fds(int n)
{
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0), i, fd = -1;
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	if (ep < 0)
		die("epoll_create1");
	for (i = 0; i < n - 1; i++) {
		switch (i % 4) {
		case 0:
			fd = eventfd(i, 0);
			break;
		case 1:
			fd = eventfd(0, EFD_NONBLOCK);
			ev.data.u64 = i;
			if (fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
				die("epoll_ctl");
			break;
		case 2:
			fd = timerfd_create(CLOCK_MONOTONIC, 0);
			if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL))
				die("timerfd_settime");
			break;
		case 3:
			fd = signalfd(-1, &m, 0);
			break;
		}
		if (fd < 0)
			die("making the fds");
	}
}

/* A process holding N fds (with the epoll), stopped in pause(). */
static pid_t target(int n)
{
	struct rlimit rl = { n + 64, n + 64 };
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* only what it makes: not make's pipes */
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || dup2(null, 0) || dup2(null, 1) != 1 ||
		    dup2(null, 2) != 2 || dup2(p[1], 3) != 3 ||
		    close_range(4, ~0U, 0))
			die("close_range");
		p[1] = 3;
		if (setsid() < 0 || setrlimit(RLIMIT_NOFILE, &rl))
			die("setsid/setrlimit");
		if (n)
			make_fds(n);
		if (write(p[1], "", 1) != 1)
			die("write");
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	/* its byte, then end of file once it closed its end */
	if (read(p[0], &c, 1) != 1 || read(p[0], &c, 1) != 0)
		die("the target did not start");
	close(p[0]);
	return pid;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* One run: dump and restore times, in seconds. */
static void run_once(const char *tool, const char *dir, int n, double *dump,
		     double *restore)
{
	char spid[16];
	char *dargv[] = { (char *)tool, "dump", "-t", spid, "-D", (char *)dir,
			  NULL };
	char *rargv[] = { (char *)tool, "restore", "-D", (char *)dir, "-d",
			  NULL };
	pid_t pid = target(n);
	int before = count_fds(pid), after;
	double t0;

	snprintf(spid, sizeof(spid), "%d", pid);
	clear_dir(dir);
	t0 = now();
	if (run_tool(dargv, NULL))
		die("dump failed");
	*dump = now() - t0;
	reap_all();
	t0 = now();
	if (run_tool(rargv, NULL))
		die("restore failed");
	*restore = now() - t0;
	after = count_fds(pid);
	if (after != before) {
		fprintf(stderr, "bench-anonfd: %d fds before the dump, %d after restore\n",
			before, after);
		exit(1);
	}
	kill(pid, SIGKILL);
	reap_all();
}

static void bench(const char *tool, const char *dir, int n, int reps,
		  double *dump, double *restore)
{
	double d[MAX_REPS], r[MAX_REPS];
	int i;

	for (i = 0; i < reps; i++)
		run_once(tool, dir, n, &d[i], &r[i]);
	*dump = median(d, reps);
	*restore = median(r, reps);
}

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "criu-lite/criu-lite";
	const char *dir = argc > 2 ? argv[2] : "/dev/shm/criu-lite-bench-anonfd";
	int n = argc > 3 ? atoi(argv[3]) : 8000;
	int reps = argc > 4 ? atoi(argv[4]) : 3;
	double d0, r0, dn, rn;
	char abs_tool[4096];
	struct rlimit nofile;

	if (reps < 1 || reps > MAX_REPS || n < 4) {
		fprintf(stderr, "usage: bench-anonfd [criu-lite] [dir] [nfds >= 4] [reps 1..15]\n");
		return 1;
	}
	if (!realpath(tool, abs_tool))
		die(tool);
	/* criu-lite holds every description twice while it restores */
	if (getrlimit(RLIMIT_NOFILE, &nofile))
		die("RLIMIT_NOFILE");
	nofile.rlim_cur = nofile.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &nofile) || nofile.rlim_cur < 2 * (rlim_t)n + 128) {
		fprintf(stderr, "bench-anonfd: restoring %d fds needs RLIMIT_NOFILE %d, the hard limit is %llu\n",
			n, 2 * n + 128, (unsigned long long)nofile.rlim_max);
		return 1;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		die("PR_SET_CHILD_SUBREAPER");
	if (mkdir(dir, 0700) && errno != EEXIST)
		die(dir);
	bench(abs_tool, dir, 0, reps, &d0, &r0);
	bench(abs_tool, dir, n, reps, &dn, &rn);
	printf("bench-anonfd: one process, %d event fds (eventfd, eventfd in one epoll, timerfd, signalfd), median of %d\n",
	       n, reps);
	printf("%-10s %12s %12s %14s %8s\n", "", "no fds ms", "fds ms",
	       "us per fd", "ratio");
	printf("%-10s %12.1f %12.1f %14.1f %8.2f\n", "dump", d0 * 1e3,
	       dn * 1e3, (dn - d0) * 1e6 / n, dn / d0);
	printf("%-10s %12.1f %12.1f %14.1f %8.2f\n", "restore", r0 * 1e3,
	       rn * 1e3, (rn - r0) * 1e6 / n, rn / r0);
	clear_dir(dir);
	rmdir(dir);
	return 0;
}
