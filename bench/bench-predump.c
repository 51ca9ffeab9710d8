// SPDX-License-Identifier: GPL-2.0-only
/*
 * Incremental dumps: a process with SIZE MiB of written anonymous memory
 * that rewrites DIRTY MiB between a pre-dump and the dump on it. Side by
 * side in one run: the frozen time of a full dump (--leave-running) and of
 * the final dump (--prev-images-dir --track-mem) after the pre-dump; the
 * aim is the second within 10% of the first. The dumped process is then
 * restored from the chain and checks every byte from inside.
 * Usage: bench-predump [criu-lite] [dir] [MiB] [dirty MiB]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static char *mem;
static size_t mem_len, dirty_len;
static const char *flag_dir;

static void flag(const char *name)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", flag_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		close(fd);
}

/* SIGUSR1: rewrite the middle DIRTY bytes */
static void on_rewrite(int sig)
{
	(void)sig;
	bench_fill(mem + mem_len / 2, dirty_len, 99);
	flag("rewritten");
}

/* SIGUSR2: check every byte */
static void on_check(int sig)
{
	char want[4096];
	size_t i;

	(void)sig;
	for (i = 0; i < mem_len; i += 4096) {
		int in_dirty = i >= mem_len / 2 && i < mem_len / 2 + dirty_len;
		unsigned int seed = in_dirty ? 99 : 7;
		size_t base = in_dirty ? mem_len / 2 : 0;

		memset(want, (int)(seed + (i - base) / 4096), 4096);
		if (memcmp(mem + i, want, 4096)) {
			flag("bad");
			return;
		}
	}
	flag("good");
}

static pid_t start_target(void)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	target_detach(-1);
	mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		_exit(1);
	bench_fill(mem, mem_len, 7);
	signal(SIGUSR1, on_rewrite);
	signal(SIGUSR2, on_check);
	flag("ready");
	for (;;)
		pause();
}

static void wait_flag(const char *name)
{
	char path[4200];
	int i;

	snprintf(path, sizeof(path), "%s/%s", flag_dir, name);
	for (i = 0; i < 60000; i++) {
		if (!access(path, F_OK))
			return;
		usleep(1000);
	}
	fprintf(stderr, "bench-predump: no %s after 60 s\n", path);
	exit(1);
}

/* "... frozen X ms" from a dump log */
static double frozen_ms(const char *log)
{
	char line[1024], *p;
	double ms = -1;
	FILE *f = fopen(log, "r");

	if (!f)
		die(log);
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, "ump: frozen ")))
			ms = strtod(p + strlen("ump: frozen "), NULL);
	fclose(f);
	return ms;
}

static double tool(const char *criu, const char *what, const char *dir,
		   const char *log, char *const extra[])
{
	char *argv[16];
	int n = 0, i;
	double t = now();

	argv[n++] = (char *)criu;
	argv[n++] = (char *)what;
	argv[n++] = "-D";
	argv[n++] = (char *)dir;
	argv[n++] = getenv("BENCH_V4") ? "-v4" : "-v3";
	argv[n++] = "-o";
	argv[n++] = (char *)log;
	for (i = 0; extra && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (run_tool(argv, NULL)) {
		fprintf(stderr, "bench-predump: criu-lite %s failed, see %s\n",
			what, log);
		exit(1);
	}
	return now() - t;
}

int main(int argc, char **argv)
{
	const char *criu = argc > 1 ? argv[1] : "criu-lite/criu-lite";
	const char *dir = argc > 2 ? argv[2] : "/dev/shm/criu-lite-bench-predump";
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 1024;
	size_t dirty = argc > 4 ? strtoul(argv[4], NULL, 10) : 16;
	char full[4200], pre[4200], inc[4200], log[4300], pidbuf[16];
	double f_full, f_pre, f_inc, t_full, t_pre, t_inc, t_rst;
	pid_t pid;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	mem_len = mib << 20;
	dirty_len = dirty << 20;
	flag_dir = dir;
	mkdir(dir, 0700);
	snprintf(full, sizeof(full), "%s/full", dir);
	snprintf(pre, sizeof(pre), "%s/pre", dir);
	snprintf(inc, sizeof(inc), "%s/inc", dir);
	mkdir(full, 0700);
	mkdir(pre, 0700);
	mkdir(inc, 0700);
	clear_dir(full);
	clear_dir(pre);
	clear_dir(inc);
	unlink(strcat(strcpy(log, dir), "/ready"));
	unlink(strcat(strcpy(log, dir), "/rewritten"));
	unlink(strcat(strcpy(log, dir), "/good"));
	unlink(strcat(strcpy(log, dir), "/bad"));

	pid = start_target();
	wait_flag("ready");
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);

	snprintf(log, sizeof(log), "%s/full.log", dir);
	t_full = tool(criu, "dump", full, log,
		      (char *[]){ "-t", pidbuf, "--leave-running", NULL });
	f_full = frozen_ms(log);

	snprintf(log, sizeof(log), "%s/pre.log", dir);
	t_pre = tool(criu, "pre-dump", pre, log, (char *[]){ "-t", pidbuf, NULL });
	f_pre = frozen_ms(log);

	kill(pid, SIGUSR1);
	wait_flag("rewritten");

	snprintf(log, sizeof(log), "%s/inc.log", dir);
	t_inc = tool(criu, "dump", inc, log,
		     (char *[]){ "-t", pidbuf, "--prev-images-dir", "../pre",
				 "--track-mem", NULL });
	f_inc = frozen_ms(log);
	/* killed by the dump, maybe still freeing its memory: reap it */
	waitpid(pid, NULL, 0);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;

	snprintf(log, sizeof(log), "%s/restore.log", dir);
	t_rst = tool(criu, "restore", inc, log, (char *[]){ "-d", NULL });
	kill(pid, SIGUSR2);
	wait_flag("good");	/* "bad" times out with a message */
	kill(pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;

	printf("%zu MiB process, %zu MiB rewritten between pre-dump and dump\n",
	       mib, dirty);
	printf("full dump:         frozen %8.1f ms  (whole run %6.2f s)\n",
	       f_full, t_full);
	printf("pre-dump:          frozen %8.1f ms  (whole run %6.2f s)\n",
	       f_pre, t_pre);
	printf("incremental dump:  frozen %8.1f ms  (whole run %6.2f s)\n",
	       f_inc, t_inc);
	printf("restore from the chain: %.2f s, every byte checked by the process: good\n",
	       t_rst);
	printf("incremental/full frozen: %.1f%% (aim: <= 10%%): %s\n",
	       100 * f_inc / f_full, f_inc <= f_full / 10 ? "met" : "NOT MET");
	return f_inc <= f_full / 10 ? 0 : 1;
}
