// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cold pages come back cold. A process writes SIZE MiB of anonymous memory
 * and pushes the first COLD MiB of it out to swap (MADV_PAGEOUT on itself);
 * the rest is its hot set. It is dumped and restored twice, once with
 * --cold-mark=off and once with the default (auto), and side by side:
 *   RSS and swap use (VmRSS, VmSwap) before the dump and right after restore;
 *   the hot set's resident pages (pagemap, from outside) after restore;
 *   the time of one pass over the hot set (a read per 64 bytes) in the
 *   process, before the dump and right after restore;
 *   the restore's own time.
 * Aim: with cold marking, RSS after restore within 10% of RSS before the
 * dump, and the hot set fully resident.
 * Needs swap on (make bench-cold runs scripts/zram-swap first) and root.
 * Usage: bench-cold [criu-lite] [dir] [SIZE MiB] [COLD MiB]
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

struct shape {
	long rss_kb, swap_kb;
	double hot_resident;	/* share of the hot set's pages */
	double loop_s;		/* one pass over the hot set, in the process */
};

struct result {
	struct shape before, after;
	double restore_s;
};

static const char *dir;

/* The hot set's address and length, for the pagemap check. */
struct target_info {
	uintptr_t hot;
	size_t hot_len;
};

static char *mem;
static size_t hot_off, mem_len;

/* One read per cache line of the hot set; the time goes to a file. */
static void hot_loop(int sig)
{
	volatile uint64_t sum = 0;
	char path[4200];
	double t = now();
	size_t i;
	FILE *f;

	(void)sig;
	for (i = hot_off; i < mem_len; i += 64)
		sum += *(volatile uint64_t *)(mem + i);
	t = now() - t;
	snprintf(path, sizeof(path), "%s/hot-loop", dir);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%.6f\n", t);
		fclose(f);
	}
}

static pid_t start_target(size_t len, size_t cold, int ready_fd)
{
	struct target_info ti;
	pid_t pid = fork();
	size_t i;

	if (pid)
		return pid;
	target_detach(ready_fd);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		_exit(1);
	/* pages of base pages: MADV_PAGEOUT splits nothing, compresses each */
	madvise(mem, len, MADV_NOHUGEPAGE);
	mem_len = len;
	hot_off = cold;
	for (i = 0; i < len; i += 8)
		*(uint64_t *)(mem + i) = (i >> 12) * 0x9e3779b97f4a7c15ull + (i & 0xff);
	if (madvise(mem, cold, MADV_PAGEOUT))
		_exit(2);
	signal(SIGUSR1, hot_loop);
	ti.hot = (uintptr_t)mem + cold;
	ti.hot_len = len - cold;
	if (write(ready_fd, &ti, sizeof(ti)) != sizeof(ti))
		_exit(1);
	close(ready_fd);
	for (;;)
		pause();
}

static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			kb = atol(line + kl + 1);
	fclose(f);
	return kb;
}

static double resident_share(pid_t pid, const struct target_info *ti)
{
	size_t n = ti->hot_len / 4096, i, in = 0;
	uint64_t *pme = malloc(n * sizeof(*pme));
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !pme)
		die(path);
	if (pread(fd, pme, n * 8, ti->hot / 4096 * 8) != (ssize_t)(n * 8))
		die("pagemap");
	for (i = 0; i < n; i++)
		in += !!(pme[i] & (1ULL << 63));
	close(fd);
	free(pme);
	return (double)in / n;
}

static double run_hot_loop(pid_t pid)
{
	char path[4200], buf[64];
	double t_end = now() + 30;
	int fd;

	snprintf(path, sizeof(path), "%s/hot-loop", dir);
	unlink(path);
	if (kill(pid, SIGUSR1))
		die("kill SIGUSR1");
	while (now() < t_end) {
		ssize_t n;

		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n > 0 && buf[n - 1] == '\n') {
				buf[n] = 0;
				unlink(path);
				return atof(buf);
			}
		}
		usleep(1000);
	}
	fprintf(stderr, "bench-cold: no hot loop time from %d\n", pid);
	exit(1);
}

static void measure(pid_t pid, const struct target_info *ti, struct shape *s)
{
	s->rss_kb = status_kb(pid, "VmRSS");
	s->swap_kb = status_kb(pid, "VmSwap");
	s->hot_resident = resident_share(pid, ti);
	s->loop_s = run_hot_loop(pid);
}

static void one_run(const char *tool, const char *imgdir, size_t len,
		    size_t cold, const char *mode, struct result *r)
{
	char pidbuf[16], opt[32];
	struct target_info ti;
	int pfd[2], status;
	pid_t pid;
	double t;

	clear_dir(imgdir);
	if (pipe(pfd))
		die("pipe");
	pid = start_target(len, cold, pfd[1]);
	close(pfd[1]);
	if (read(pfd[0], &ti, sizeof(ti)) != sizeof(ti))
		die("target did not start (MADV_PAGEOUT refused?)");
	close(pfd[0]);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	snprintf(opt, sizeof(opt), "--cold-mark=%s", mode);
	measure(pid, &ti, &r->before);
	{
		char *dump_argv[] = { (char *)tool, "dump", "-t", pidbuf, "-D",
				      (char *)imgdir, NULL };
		char *rst_argv[] = { (char *)tool, "restore", "-D",
				     (char *)imgdir, "-d", opt, NULL };

		if (run_tool(dump_argv, NULL))
			die("criu-lite dump failed");
		waitpid(pid, &status, 0);	/* the dumped, killed target */
		t = now();
		if (run_tool(rst_argv, NULL))
			die("criu-lite restore failed");
		r->restore_s = now() - t;
	}
	measure(pid, &ti, &r->after);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	clear_dir(imgdir);
}

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "criu-lite/criu-lite";
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 1024;
	size_t cold_mib = argc > 4 ? strtoul(argv[4], NULL, 10) : 768;
	static const char *const modes[] = { "off", "auto" };
	struct result r[2];
	char imgdir[4096];
	struct sysinfo si;
	unsigned int i;

	dir = argc > 2 ? argv[2] : "/dev/shm/criu-lite-bench-cold";
	if (sysinfo(&si) || !si.totalswap) {
		fprintf(stderr, "bench-cold: no swap on (scripts/zram-swap sets it up)\n");
		return 1;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(imgdir, sizeof(imgdir), "%s/img", dir);
	mkdir(dir, 0700);
	mkdir(imgdir, 0700);
	for (i = 0; i < 2; i++)
		one_run(tool, imgdir, mib << 20, cold_mib << 20, modes[i], &r[i]);

	printf("bench-cold: %zu MiB written, the first %zu MiB paged out before the dump (swap on, %lu MiB)\n",
	       mib, cold_mib, (unsigned long)(si.totalswap * si.mem_unit >> 20));
	printf("%-34s %14s %14s\n", "", "--cold-mark=off", "auto");
	printf("%-34s %11.1f MiB %11.1f MiB\n", "RSS before dump", r[0].before.rss_kb / 1024.0,
	       r[1].before.rss_kb / 1024.0);
	printf("%-34s %11.1f MiB %11.1f MiB\n", "RSS after restore", r[0].after.rss_kb / 1024.0,
	       r[1].after.rss_kb / 1024.0);
	printf("%-34s %13.1f%% %13.1f%%\n", "  after/before - 1 (aim: < 10%)",
	       100.0 * r[0].after.rss_kb / r[0].before.rss_kb - 100,
	       100.0 * r[1].after.rss_kb / r[1].before.rss_kb - 100);
	printf("%-34s %11.1f MiB %11.1f MiB\n", "swap before dump", r[0].before.swap_kb / 1024.0,
	       r[1].before.swap_kb / 1024.0);
	printf("%-34s %11.1f MiB %11.1f MiB\n", "swap after restore", r[0].after.swap_kb / 1024.0,
	       r[1].after.swap_kb / 1024.0);
	printf("%-34s %13.1f%% %13.1f%%\n", "hot set resident after restore",
	       100 * r[0].after.hot_resident, 100 * r[1].after.hot_resident);
	printf("%-34s %12.2f ms %12.2f ms\n", "hot-set loop before dump", r[0].before.loop_s * 1e3,
	       r[1].before.loop_s * 1e3);
	printf("%-34s %12.2f ms %12.2f ms\n", "hot-set loop right after restore",
	       r[0].after.loop_s * 1e3, r[1].after.loop_s * 1e3);
	printf("%-34s %13.3f s %13.3f s\n", "restore (whole command)", r[0].restore_s,
	       r[1].restore_s);
	return 0;
}
