// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dump and restore of a process with SIZE MiB of written anonymous memory,
 * side by side with the references they are measured against:
 *   W: write SIZE from a populated buffer to a file in the image directory;
 *   R: read that file into a fresh buffer populated with MADV_POPULATE_WRITE
 *      (R_read times the read alone, R_all the populate and the read).
 * Also the peak RSS of the dumper and of the restorer. Usage: bench-mem [criu-lite] [dir] [MiB]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
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

#include "bench.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double ref_write(const char *path, size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t;
	size_t off = 0;
	int fd;

	if (p == MAP_FAILED)
		die("mmap");
	bench_fill(p, len, 3);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	t = now();
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n <= 0)
			die("write");
		off += n;
	}
	close(fd);
	t = now() - t;
	munmap(p, len);
	return t;
}

static void ref_read(const char *path, size_t len, double *t_read,
		     double *t_all)
{
	double t0 = now(), t1;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off = 0;
	int fd;

	if (p == MAP_FAILED || madvise(p, len, MADV_POPULATE_WRITE))
		die("populate");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	t1 = now();
	while (off < len) {
		ssize_t n = read(fd, p + off, len - off);

		if (n <= 0)
			die("read");
		off += n;
	}
	*t_read = now() - t1;
	*t_all = now() - t0;
	close(fd);
	munmap(p, len);
}

struct round {
	double dump, rst, w, r_read, r_all;
	long dump_rss, rst_rss;
};

/* Dump and restore a target of LEN bytes, then the references. */
static void one_round(const char *tool, const char *imgdir, const char *ref,
		      size_t len, struct round *r)
{
	char pidbuf[16];
	int status;
	pid_t pid;
	double t;

	clear_dir(imgdir);
	pid = target_start(anon_target, len);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);

	char *dump_argv[] = { (char *)tool, "dump", "-t", pidbuf, "-D",
			      (char *)imgdir, NULL };
	char *rst_argv[] = { (char *)tool, "restore", "-D", (char *)imgdir,
			     "-d", NULL };

	t = now();
	if (run_tool(dump_argv, &r->dump_rss))
		die("criu-lite dump failed");
	r->dump = now() - t;
	waitpid(pid, &status, 0);	/* the dumped, killed target */
	t = now();
	if (run_tool(rst_argv, &r->rst_rss))
		die("criu-lite restore failed");
	r->rst = now() - t;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	clear_dir(imgdir);

	r->w = ref_write(ref, len);
	ref_read(ref, len, &r->r_read, &r->r_all);
	unlink(ref);
}

#define ROUNDS	5

/* The median of field OFF over the rounds. */
static double round_median(const struct round *r, size_t off)
{
	double v[ROUNDS];
	int i;

	for (i = 0; i < ROUNDS; i++)
		v[i] = *(const double *)((const char *)&r[i] + off);
	return median(v, ROUNDS);
}

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "criu-lite/criu-lite";
	const char *dir = argc > 2 ? argv[2] : "/dev/shm/criu-lite-bench";
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 1024;
	char imgdir[4096], ref[4200];
	struct round r[ROUNDS];
	double d, rs, w, rr, ra;
	long dump_rss = 0, rst_rss = 0;
	int i;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(imgdir, sizeof(imgdir), "%s/img", dir);
	snprintf(ref, sizeof(ref), "%s/ref.data", dir);
	mkdir(dir, 0700);
	mkdir(imgdir, 0700);
	for (i = 0; i < ROUNDS; i++) {
		one_round(tool, imgdir, ref, mib << 20, &r[i]);
		if (r[i].dump_rss > dump_rss)
			dump_rss = r[i].dump_rss;
		if (r[i].rst_rss > rst_rss)
			rst_rss = r[i].rst_rss;
	}
	d = round_median(r, offsetof(struct round, dump));
	rs = round_median(r, offsetof(struct round, rst));
	w = round_median(r, offsetof(struct round, w));
	rr = round_median(r, offsetof(struct round, r_read));
	ra = round_median(r, offsetof(struct round, r_all));

	printf("bench-mem: %zu MiB of anonymous memory, images in %s, median of %d rounds\n",
	       mib, imgdir, ROUNDS);
	printf("  dump     %8.3f s   W (write file)        %8.3f s   dump/W     %5.2f\n",
	       d, w, d / w);
	printf("  restore  %8.3f s   R (read, populated)   %8.3f s   restore/R  %5.2f\n",
	       rs, rr, rs / rr);
	printf("                      R_all (populate+read) %8.3f s   restore/R_all %5.2f\n",
	       ra, rs / ra);
	printf("  peak RSS: dumper %ld KiB (limit 65536), restorer %ld KiB\n",
	       dump_rss, rst_rss);
	return 0;
}
