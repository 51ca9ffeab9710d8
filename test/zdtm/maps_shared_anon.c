// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_SHARED|MAP_ANONYMOUS: contents kept, untouched pages zero, and two
 * mappings of one shared object (made by mremap(old_size = 0)) still share
 * it after restore.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NPAGES 16

/* maps line without dev and inode (a new shmem object gets a new inode) */
static void shm_line(const void *addr, char *out, size_t size)
{
	char line[512], range[64], perms[8], dev[16], path[256] = "";
	unsigned long off, ino;

	maps_line(addr, line, sizeof(line));
	if (sscanf(line, "%63s %7s %lx %15s %lu %255[^\n]", range, perms, &off,
		   dev, &ino, path) < 5)
		fail("cannot parse maps line: %s", line);
	snprintf(out, size, "%s %s %08lx %s", range, perms, off, path);
}

int main(int argc, char **argv)
{
	char l1[512], l2[512], l3[512], a1[512], a2[512], a3[512];
	char f1[256], f2[256], g1[256], g2[256];
	long psz = sysconf(_SC_PAGESIZE);
	char *sh, *alias, *ro;
	size_t off;
	int i;

	test_init(argc, argv);

	sh = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		fail("mmap: %m");
	alias = mremap(sh, 0, NPAGES * psz, MREMAP_MAYMOVE);
	if (alias == MAP_FAILED)
		fail("mremap alias: %m");
	for (i = 0; i < NPAGES; i++)
		if (i % 3)
			fill_pattern(sh + i * psz, psz, 300 + i);

	/* A second, read-only shared object. */
	ro = mmap(NULL, 4 * psz, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		fail("mmap ro: %m");
	fill_pattern(ro, 3 * psz, 400);
	if (mprotect(ro, 4 * psz, PROT_READ))
		fail("mprotect: %m");

	shm_line(sh, l1, sizeof(l1));
	shm_line(alias, l2, sizeof(l2));
	shm_line(ro, l3, sizeof(l3));
	vma_flags(sh, f1, sizeof(f1));
	vma_flags(ro, f2, sizeof(f2));

	test_daemon();
	test_waitsig();

	shm_line(sh, a1, sizeof(a1));
	shm_line(alias, a2, sizeof(a2));
	shm_line(ro, a3, sizeof(a3));
	vma_flags(sh, g1, sizeof(g1));
	vma_flags(ro, g2, sizeof(g2));
	if (strcmp(l1, a1) || strcmp(l2, a2) || strcmp(l3, a3))
		fail("maps changed:\n  %s\n  %s\n  %s\nnow\n  %s\n  %s\n  %s",
		     l1, l2, l3, a1, a2, a3);
	if (strcmp(f1, g1) || strcmp(f2, g2))
		fail("VmFlags changed: [%s] [%s] -> [%s] [%s]", f1, f2, g1, g2);

	for (i = 0; i < NPAGES; i++) {
		off = i % 3 ? check_pattern(sh + i * psz, psz, 300 + i) :
			      check_zero(sh + i * psz, psz);
		if (off != (size_t)-1)
			fail("page %d differs at %zu", i, off);
		if (memcmp(sh + i * psz, alias + i * psz, psz))
			fail("alias page %d differs", i);
	}
	if (check_pattern(ro, 3 * psz, 400) != (size_t)-1 ||
	    check_zero(ro + 3 * psz, psz) != (size_t)-1)
		fail("read-only shared area differs");

	/* Still one object: a write through one mapping shows in the other. */
	for (i = 0; i < NPAGES; i++) {
		sh[i * psz + 5] ^= 0x5a;
		if (alias[i * psz + 5] != sh[i * psz + 5])
			fail("page %d: mappings no longer share memory", i);
		alias[i * psz + 7] = (char)i;
		if (sh[i * psz + 7] != (char)i)
			fail("page %d: mappings no longer share memory (2)", i);
	}
	pass();
}
