// SPDX-License-Identifier: GPL-2.0-only
/*
 * restore --lazy-pages against the eager restore it stands in for, in one
 * run: a process with SIZE MiB of written anonymous memory is dumped once,
 * then restored ROUNDS times each way (-d), alternately:
 *   eager:  restore start -> restore returns: the process runs, every page
 *           is home;
 *   lazy:   restore start -> restore returns (the process runs), and
 *           restore start -> the lazy-pages daemon and its guard have exited
 *           (every page is home; checked by the process's RssAnon).
 * Printed: medians, lazy running / eager and lazy all home / eager.
 * Aims: lazy running <= 0.1 s, all home <= 1.5 x eager.
 * Usage: bench-lazy [criu-lite] [dir] [MiB] [rounds]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ROUNDS 16

static long rss_anon_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void kill_target(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/*
 * The daemon and its guard are ours once restore -d exits (we are a child
 * subreaper): both gone means every page is home.
 */
static void wait_lazy_helpers(pid_t target)
{
	int status, n = 0;
	pid_t pid;

	while (n < 2 && (pid = waitpid(-1, &status, 0)) > 0)
		if (pid != target)
			n++;
	if (n < 2)
		die("lazy-pages daemon and guard");
}

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "criu-lite/criu-lite";
	const char *dir = argc > 2 ? argv[2] : "/dev/shm/criu-lite-bench-lazy";
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 1024;
	int rounds = argc > 4 ? atoi(argv[4]) : 3, r, status;
	double eager[MAX_ROUNDS], running[MAX_ROUNDS], home[MAX_ROUNDS], t;
	double e, l_run, l_home;
	char imgdir[4096], pidbuf[16];
	long rss, want_kb = (long)(mib << 10);
	pid_t pid;

	if (rounds < 1 || rounds > MAX_ROUNDS)
		rounds = 3;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(imgdir, sizeof(imgdir), "%s/img", dir);
	mkdir(dir, 0700);
	mkdir(imgdir, 0700);
	clear_dir(imgdir);

	pid = target_start(anon_target, mib << 20);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	{
		char *dump_argv[] = { (char *)tool, "dump", "-t", pidbuf, "-D",
				      imgdir, NULL };

		if (run_tool(dump_argv, NULL))
			die("criu-lite dump failed");
		waitpid(pid, &status, 0);
	}
	for (r = 0; r < rounds; r++) {
		char *eager_argv[] = { (char *)tool, "restore", "-D", imgdir,
				       "-d", NULL };
		char *lazy_argv[] = { (char *)tool, "restore", "-D", imgdir,
				      "-d", "--lazy-pages", NULL };

		t = now();
		if (run_tool(eager_argv, NULL))
			die("criu-lite restore failed");
		eager[r] = now() - t;
		kill_target(pid);

		t = now();
		if (run_tool(lazy_argv, NULL))
			die("criu-lite restore --lazy-pages failed");
		running[r] = now() - t;
		wait_lazy_helpers(pid);
		home[r] = now() - t;
		rss = rss_anon_kb(pid);
		if (rss < want_kb) {
			fprintf(stderr, "bench-lazy: only %ld of %ld kB home after the daemon exited\n",
				rss, want_kb);
			return 1;
		}
		kill_target(pid);
	}
	clear_dir(imgdir);

	e = median(eager, rounds);
	l_run = median(running, rounds);
	l_home = median(home, rounds);
	printf("bench-lazy: %zu MiB of anonymous memory, images in %s, median of %d\n",
	       mib, imgdir, rounds);
	printf("  eager restore (running, all home)  %8.3f s\n", e);
	printf("  lazy restore: running              %8.3f s   lazy running/eager   %5.3f   (aim: <= 0.1 s)\n",
	       l_run, l_run / e);
	printf("  lazy restore: every page home      %8.3f s   lazy all home/eager  %5.2f   (aim: <= 1.5)\n",
	       l_home, l_home / e);
	return 0;
}
