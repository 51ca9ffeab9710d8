// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_PRIVATE file mapping of a file the test creates: pages it changed keep
 * the change, pages it did not change still come from the file (a later
 * write to the file shows through them), and the file itself is unchanged.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define FILE_PAGES 12
#define MAP_OFF 2 /* map from page 2 of the file */
#define NPAGES 8
#define SEED 500

static const char *fname = "maps_file_private.data";
static long psz;

static int modified(int i)
{
	return i == 0 || i == 3 || i == 4 || i == 7;
}

static void check_file(int fd)
{
	char *buf = malloc(FILE_PAGES * psz);

	if (!buf)
		fail("malloc");
	if (pread(fd, buf, FILE_PAGES * psz, 0) != FILE_PAGES * psz)
		fail("pread file: %m");
	if (check_pattern(buf, FILE_PAGES * psz, SEED) != (size_t)-1)
		fail("the file changed");
	free(buf);
}

int main(int argc, char **argv)
{
	char lw[512], lr[512], aw[512], ar[512], fw[256], fr[256], gw[256],
		gr[256];
	char *buf, *m, *ro;
	volatile char sink;
	size_t off;
	int fd, i;

	test_init(argc, argv);
	psz = sysconf(_SC_PAGESIZE);

	fd = open(fname, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail("open %s: %m", fname);
	buf = malloc(FILE_PAGES * psz);
	if (!buf)
		fail("malloc");
	fill_pattern(buf, FILE_PAGES * psz, SEED);
	if (pwrite(fd, buf, FILE_PAGES * psz, 0) != FILE_PAGES * psz)
		fail("pwrite: %m");

	m = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		 MAP_OFF * psz);
	ro = mmap(NULL, 4 * psz, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED || ro == MAP_FAILED)
		fail("mmap: %m");
	close(fd); /* the mappings hold the file, not an fd */

	for (i = 0; i < NPAGES; i++) {
		if (modified(i))
			fill_pattern(m + i * psz, psz, 600 + i);
		else if (i % 2)
			sink = m[i * psz]; /* read: page cache page mapped */
	}
	sink = ro[0];
	(void)sink;

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
		fail("reopen %s: %m", fname);
	check_file(fd);

	for (i = 0; i < NPAGES; i++) {
		char *p = m + i * psz;

		if (modified(i))
			off = check_pattern(p, psz, 600 + i);
		else
			off = memcmp(p, buf + (MAP_OFF + i) * psz, psz) ?
				      0 : (size_t)-1;
		if (off != (size_t)-1)
			fail("mapped page %d (%s) differs at %zu", i,
			     modified(i) ? "modified" : "unmodified", off);
	}
	if (memcmp(ro, buf, 4 * psz))
		fail("read-only mapping differs from the file");

	/*
	 * Unmodified pages are still the file's pages: a write to the file
	 * shows through them; modified pages are private copies: it does not.
	 */
	for (i = 0; i < NPAGES; i++) {
		off = (MAP_OFF + i) * psz + 100;
		char c = buf[off] ^ 0xff;

		if (pwrite(fd, &c, 1, off) != 1)
			fail("pwrite: %m");
		if (modified(i) && m[i * psz + 100] == c)
			fail("modified page %d follows the file", i);
		if (!modified(i) && m[i * psz + 100] != c)
			fail("unmodified page %d no longer backed by the file",
			     i);
		if (pwrite(fd, buf + off, 1, off) != 1)
			fail("pwrite: %m");
	}
	if (ro[100] != buf[100])
		fail("read-only mapping differs");
	check_file(fd);
	/* And private copies stay private. */
	m[0] ^= 1;
	check_file(fd);
	close(fd);
	pass();
}
