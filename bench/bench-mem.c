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

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "criu-lite/criu-lite";
	const char *dir = argc > 2 ? argv[2] : "/dev/shm/criu-lite-bench";
	size_t mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 1024;
	size_t len = mib << 20;
	char imgdir[4096], ref[4200], pidbuf[16];
	double w, r_read, r_all, t_dump, t_rst;
	long dump_rss, rst_rss;
	int status;
	pid_t pid;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(imgdir, sizeof(imgdir), "%s/img", dir);
	snprintf(ref, sizeof(ref), "%s/ref.data", dir);
	mkdir(dir, 0700);
	mkdir(imgdir, 0700);
	clear_dir(imgdir);

	pid = target_start(anon_target, len);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);

	{
		char *dump_argv[] = { (char *)tool, "dump", "-t", pidbuf, "-D",
				      imgdir, NULL };
		char *rst_argv[] = { (char *)tool, "restore", "-D", imgdir, "-d",
				     NULL };
		double t = now();

		if (run_tool(dump_argv, &dump_rss))
			die("criu-lite dump failed");
		t_dump = now() - t;
		waitpid(pid, &status, 0);	/* the dumped, killed target */
		t = now();
		if (run_tool(rst_argv, &rst_rss))
			die("criu-lite restore failed");
		t_rst = now() - t;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	clear_dir(imgdir);

	w = ref_write(ref, len);
	ref_read(ref, len, &r_read, &r_all);
	unlink(ref);

	printf("bench-mem: %zu MiB of anonymous memory, images in %s\n", mib, imgdir);
	printf("  dump     %8.3f s   W (write file)        %8.3f s   dump/W     %5.2f\n",
	       t_dump, w, t_dump / w);
	printf("  restore  %8.3f s   R (read, populated)   %8.3f s   restore/R  %5.2f\n",
	       t_rst, r_read, t_rst / r_read);
	printf("                      R_all (populate+read) %8.3f s   restore/R_all %5.2f\n",
	       r_all, t_rst / r_all);
	printf("  peak RSS: dumper %ld KiB (limit 65536), restorer %ld KiB\n",
	       dump_rss, rst_rss);
	return 0;
}
