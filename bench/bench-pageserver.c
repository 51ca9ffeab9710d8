// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dump through the page server, side by side with the dump into local files
 * of the same process (both --leave-running, both into DIR, tmpfs by
 * default, so the difference is the transfer): a process with SIZE MiB of
 * written anonymous memory is dumped ROUNDS times each way, alternating,
 * and the best of each is compared. Also the peak RSS of the dumper and of
 * the page server (memory stays bounded: pages are streamed, not held), and
 * a restore from the server's directory, which must bring the process back.
 * Usage: bench-pageserver [criu-lite] [dir] [MiB] [rounds]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* `criu-lite page-server` on 127.0.0.1, a free port: its PID, the port */
static pid_t start_server(const char *tool, const char *dir, char *port,
			  size_t size)
{
	int pfd[2];
	ssize_t n;
	pid_t pid;

	if (pipe(pfd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl(tool, tool, "page-server", "-D", dir, "--port", "0",
		      "--address", "127.0.0.1", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	n = read(pfd[0], port, size - 1);
	close(pfd[0]);
	if (n <= 0)
		die("the page server told no port");
	port[n] = 0;
	port[strcspn(port, "\n")] = 0;
	return pid;
}

/* The server's exit status must be 0; its peak RSS, its CPU time. */
static void wait_server(pid_t pid, long *rss, double *cpu)
{
	struct rusage ru;
	int status;

	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "the page server failed (status %#x)\n", status);
		exit(1);
	}
	*rss = ru.ru_maxrss;
	*cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct result {
	double best;
	long dumper_rss, server_rss;
	double server_cpu;	/* in the best round */
};

static void dump_local(const char *tool, const char *pid, const char *dir,
		       struct result *r)
{
	char *argv[] = { (char *)tool, "dump", "-t", (char *)pid, "-D",
			 (char *)dir, "-R", NULL };
	double t;

	clear_dir(dir);
	t = now();
	if (run_tool(argv, &r->dumper_rss))
		die("criu-lite dump failed");
	t = now() - t;
	if (!r->best || t < r->best)
		r->best = t;
}

static void dump_remote(const char *tool, const char *pid, const char *dir,
			const char *srv, struct result *r)
{
	char port[16];
	char *argv[] = { (char *)tool, "dump", "-t", (char *)pid, "-D",
			 (char *)dir, "-R", "--page-server", "--address",
			 "127.0.0.1", "--port", port, NULL };
	pid_t server;
	double t, cpu;

	clear_dir(dir);
	clear_dir(srv);
	server = start_server(tool, srv, port, sizeof(port));
	t = now();
	if (run_tool(argv, &r->dumper_rss))
		die("criu-lite dump --page-server failed");
	t = now() - t;
	wait_server(server, &r->server_rss, &cpu);
	if (!r->best || t < r->best) {
		r->best = t;
		r->server_cpu = cpu;
	}
}

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "criu-lite/criu-lite";
	const char *dir = argc > 2 ? argv[2] : "/dev/shm/criu-lite-bench-ps";
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 1024;
	int rounds = argc > 4 ? atoi(argv[4]) : 3, i, status;
	char local[4096], srv[4096], pidbuf[16];
	struct result loc = {}, rem = {};
	pid_t pid;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(local, sizeof(local), "%s/local", dir);
	snprintf(srv, sizeof(srv), "%s/server", dir);
	if ((mkdir(dir, 0700) && errno != EEXIST) ||
	    (mkdir(local, 0700) && errno != EEXIST) ||
	    (mkdir(srv, 0700) && errno != EEXIST))
		die(dir);
	pid = target_start(anon_target, mib << 20);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);

	for (i = 0; i < rounds; i++) {
		if (i % 2) {
			dump_remote(tool, pidbuf, local, srv, &rem);
			dump_local(tool, pidbuf, local, &loc);
		} else {
			dump_local(tool, pidbuf, local, &loc);
			dump_remote(tool, pidbuf, local, srv, &rem);
		}
	}
	/* the last images are the server's: the process comes back from them */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	{
		char *rst[] = { (char *)tool, "restore", "-D", srv, "-d", NULL };

		if (run_tool(rst, NULL) || kill(pid, 0))
			die("restore from the page server's directory failed");
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	clear_dir(local);
	clear_dir(srv);

	printf("bench-pageserver: %zu MiB of anonymous memory, dump --leave-running, best of %d, images in %s\n",
	       mib, rounds, dir);
	printf("  local files  %8.3f s  %7.0f MiB/s\n", loc.best, mib / loc.best);
	printf("  page server  %8.3f s  %7.0f MiB/s   page server/local %5.2f\n",
	       rem.best, mib / rem.best, rem.best / loc.best);
	printf("  peak RSS: dumper %ld KiB local, %ld KiB to the page server; page server %ld KiB\n",
	       loc.dumper_rss, rem.dumper_rss, rem.server_rss);
	printf("  page server CPU time %.3f s (%.2f s per GiB)\n", rem.server_cpu,
	       rem.server_cpu * 1024 / mib);
	printf("  restore from the page server's directory: ok\n");
	return 0;
}
