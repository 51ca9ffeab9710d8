// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private anonymous memory: contents byte for byte, pages never touched
 * read as zero and are not populated, a PROT_NONE area stays inaccessible
 * and keeps the data written before it was closed (the dump can't take
 * those pages the way it takes readable ones), a read-only area keeps its
 * data and protection, and each VMA keeps its address, protection and
 * flags.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NPAGES 64

static long psz;
static sigjmp_buf segv_env;
static volatile int segv_count;

static void segv_handler(int sig)
{
	(void)sig;
	segv_count++;
	siglongjmp(segv_env, 1);
}

/* 1 if reading addr faults. */
static int read_faults(volatile const char *addr)
{
	struct sigaction sa = { .sa_handler = segv_handler }, old;
	int faulted = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(segv_env, 1) == 0)
		(void)*addr;
	else
		faulted = 1;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

/* Page layout of the RW area (NPAGES pages). */
enum { P_DATA, P_UNTOUCHED, P_READONLY_TOUCH, P_ZEROWRITE };

static int page_kind(int i)
{
	if (i % 4 == 1)
		return P_UNTOUCHED;
	if (i % 8 == 2)
		return P_READONLY_TOUCH; /* read, never written: zero page */
	if (i == 11)
		return P_ZEROWRITE; /* written with zeros: still zero */
	return P_DATA;
}

#define NVMAS 4
struct vma_state {
	void *addr;
	char line[512];
	char flags[256];
};

static void snapshot(struct vma_state *v, void *const *addrs)
{
	int i;

	for (i = 0; i < NVMAS; i++) {
		v[i].addr = addrs[i];
		maps_line(addrs[i], v[i].line, sizeof(v[i].line));
		vma_flags(addrs[i], v[i].flags, sizeof(v[i].flags));
	}
}

int main(int argc, char **argv)
{
	struct vma_state before[NVMAS], after[NVMAS];
	unsigned char vec[NPAGES];
	char *rw, *guard_area, *ro, *nr, *guard;
	void *addrs[NVMAS];
	volatile char sink;
	size_t off;
	int i;

	test_init(argc, argv);
	psz = sysconf(_SC_PAGESIZE);

	rw = mmap(NULL, NPAGES * psz, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* [ 2 pages RW | 4 pages PROT_NONE guard | 2 pages RW ] */
	guard_area = mmap(NULL, 8 * psz, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, 4 * psz, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	nr = mmap(NULL, 4 * psz, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rw == MAP_FAILED || guard_area == MAP_FAILED || ro == MAP_FAILED ||
	    nr == MAP_FAILED)
		fail("mmap: %m");

	for (i = 0; i < NPAGES; i++) {
		char *p = rw + i * psz;

		switch (page_kind(i)) {
		case P_DATA:
			fill_pattern(p, psz, 1000 + i);
			break;
		case P_READONLY_TOUCH:
			sink = *p;
			break;
		case P_ZEROWRITE:
			memset(p, 0, psz);
			break;
		}
	}
	(void)sink;

	fill_pattern(guard_area, 2 * psz, 7);
	fill_pattern(guard_area + 2 * psz, 4 * psz, 11);
	fill_pattern(guard_area + 6 * psz, 2 * psz, 8);
	guard = guard_area + 2 * psz;
	if (mprotect(guard, 4 * psz, PROT_NONE))
		fail("mprotect PROT_NONE: %m");

	fill_pattern(ro, 4 * psz, 9);
	if (mprotect(ro, 4 * psz, PROT_READ))
		fail("mprotect PROT_READ: %m");

	if (madvise(nr, 4 * psz, MADV_DONTFORK))
		fail("madvise DONTFORK: %m");
	fill_pattern(nr, psz, 10);

	addrs[0] = rw;
	addrs[1] = guard;
	addrs[2] = ro;
	addrs[3] = nr;
	snapshot(before, addrs);

	test_daemon();
	test_waitsig();

	snapshot(after, addrs);
	for (i = 0; i < NVMAS; i++) {
		if (strcmp(before[i].line, after[i].line))
			fail("maps line changed:\n  %s\n  %s", before[i].line,
			     after[i].line);
		if (strcmp(before[i].flags, after[i].flags))
			fail("VmFlags of %s changed: [%s] -> [%s]",
			     before[i].line, before[i].flags, after[i].flags);
	}

	/* Residency before reading anything: untouched pages must be absent. */
	if (mincore(rw, NPAGES * psz, vec))
		fail("mincore: %m");
	for (i = 0; i < NPAGES; i++)
		if (page_kind(i) == P_UNTOUCHED && (vec[i] & 1))
			fail("never-touched page %d is populated after restore",
			     i);

	for (i = 0; i < NPAGES; i++) {
		char *p = rw + i * psz;

		if (page_kind(i) == P_DATA)
			off = check_pattern(p, psz, 1000 + i);
		else
			off = check_zero(p, psz);
		if (off != (size_t)-1)
			fail("rw page %d (kind %d) differs at offset %zu", i,
			     page_kind(i), off);
	}
	if (check_pattern(guard_area, 2 * psz, 7) != (size_t)-1 ||
	    check_pattern(guard_area + 6 * psz, 2 * psz, 8) != (size_t)-1)
		fail("pages around the guard area differ");
	for (i = 0; i < 4; i++)
		if (!read_faults(guard + i * psz))
			fail("guard page %d is readable", i);
	if (mprotect(guard, 4 * psz, PROT_READ))
		fail("mprotect PROT_READ of the guard: %m");
	off = check_pattern(guard, 4 * psz, 11);
	if (off != (size_t)-1)
		fail("data under the PROT_NONE guard differs at offset %zu", off);
	if (check_pattern(ro, 4 * psz, 9) != (size_t)-1)
		fail("read-only area differs");
	if (check_pattern(nr, psz, 10) != (size_t)-1 ||
	    check_zero(nr + psz, 3 * psz) != (size_t)-1)
		fail("noreserve area differs");

	/* Still usable as before. */
	fill_pattern(rw, NPAGES * psz, 77);
	if (check_pattern(rw, NPAGES * psz, 77) != (size_t)-1)
		fail("rw area not writable after restore");
	pass();
}
