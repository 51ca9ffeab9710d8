// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_SHARED file mappings: writes made through the mapping before the dump
 * are in the file after restore, and the restored mapping is still the file:
 * writes through it reach the file and writes to the file show in it.
 * The file is put back as it was at dump time before pass(), so the test
 * can be restored again from the same images.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NPAGES 8
#define SEED 700

static const char *fname = "maps_file_shared.data";
static const char *rname = "maps_file_shared.ro";

int main(int argc, char **argv)
{
	char lw[512], lr[512], aw[512], ar[512], fw[256], fr[256], gw[256],
		gr[256];
	long psz = sysconf(_SC_PAGESIZE);
	char *m, *ro, *expect, *buf;
	int fd, rfd, i;
	size_t off;

	test_init(argc, argv);

	expect = malloc(NPAGES * psz);
	buf = malloc(NPAGES * psz);
	if (!expect || !buf)
		fail("malloc");

	fd = open(fname, O_RDWR | O_CREAT | O_TRUNC, 0644);
	rfd = open(rname, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || rfd < 0)
		fail("open: %m");
	if (ftruncate(fd, NPAGES * psz))
		fail("ftruncate: %m");
	fill_pattern(buf, NPAGES * psz, SEED + 1);
	if (pwrite(rfd, buf, NPAGES * psz, 0) != NPAGES * psz)
		fail("pwrite: %m");
	close(rfd);
	rfd = open(rname, O_RDONLY);
	if (rfd < 0)
		fail("open ro: %m");

	m = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ro = mmap(NULL, NPAGES * psz, PROT_READ, MAP_SHARED, rfd, 0);
	if (m == MAP_FAILED || ro == MAP_FAILED)
		fail("mmap: %m");
	close(fd);
	close(rfd);

	/* Written only through the mapping; some pages left as holes. */
	memset(expect, 0, NPAGES * psz);
	for (i = 0; i < NPAGES; i++)
		if (i != 2 && i != 5)
			fill_pattern(expect + i * psz, psz, SEED + 10 + i);
	for (i = 0; i < NPAGES; i++)
		if (i != 2 && i != 5)
			memcpy(m + i * psz, expect + i * psz, psz);

	maps_line(m, lw, sizeof(lw));
	maps_line(ro, lr, sizeof(lr));
	vma_flags(m, fw, sizeof(fw));
	vma_flags(ro, fr, sizeof(fr));

	test_daemon();
	test_waitsig();

	maps_line(m, aw, sizeof(aw));
	maps_line(ro, ar, sizeof(ar));
	vma_flags(m, gw, sizeof(gw));
	vma_flags(ro, gr, sizeof(gr));
	if (strcmp(lw, aw) || strcmp(lr, ar))
		fail("maps changed:\n  %s\n  %s\nnow\n  %s\n  %s", lw, lr, aw,
		     ar);
	if (strcmp(fw, gw) || strcmp(fr, gr))
		fail("VmFlags changed: [%s] [%s] -> [%s] [%s]", fw, fr, gw, gr);

	fd = open(fname, O_RDWR);
	if (fd < 0)
		fail("reopen: %m");
	if (pread(fd, buf, NPAGES * psz, 0) != NPAGES * psz)
		fail("pread: %m");
	if (memcmp(buf, expect, NPAGES * psz))
		fail("the file does not hold what was written via the mapping");
	if (memcmp(m, expect, NPAGES * psz))
		fail("the mapping does not hold what was written");
	rfd = open(rname, O_RDONLY);
	if (rfd < 0 || pread(rfd, buf, NPAGES * psz, 0) != NPAGES * psz)
		fail("read %s: %m", rname);
	if (memcmp(ro, buf, NPAGES * psz) ||
	    check_pattern(buf, NPAGES * psz, SEED + 1) != (size_t)-1)
		fail("read-only shared mapping or its file differs");
	close(rfd);

	/* Through the mapping to the file ... */
	for (i = 0; i < NPAGES; i++) {
		char c;

		off = i * psz + 33;
		m[off] = (char)(expect[off] + 1);
		if (pread(fd, &c, 1, off) != 1)
			fail("pread: %m");
		if (c != m[off])
			fail("page %d: write via mapping not in the file", i);
		/* ... and from the file to the mapping. */
		c = (char)(expect[off] + 2);
		if (pwrite(fd, &c, 1, off) != 1)
			fail("pwrite: %m");
		if (m[off] != c)
			fail("page %d: write to file not seen in mapping", i);
	}

	/* Put the file back as it was at dump time. */
	if (pwrite(fd, expect, NPAGES * psz, 0) != NPAGES * psz)
		fail("pwrite restore: %m");
	if (memcmp(m, expect, NPAGES * psz))
		fail("mapping differs after putting the file back");
	close(fd);
	pass();
}
