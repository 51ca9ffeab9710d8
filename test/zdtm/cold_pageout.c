// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cold pages come back cold: the test pages out the first half of a region
 * (MADV_PAGEOUT on itself) before the dump. After restore the first half
 * must not be resident (mincore) and be in swap (smaps Swap), the second
 * half must be resident, and every byte must be as it was (checked last:
 * reading swaps the pages in).
 *
 * Needs swap: when none is on, scripts/zram-swap sets up /dev/zram0. When
 * that can't be done, or MADV_PAGEOUT moves nothing out before the dump,
 * the verdict is SKIP with the reason.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define REGION_MB	64
#define REGION		((size_t)REGION_MB << 20)
#define HALF		(REGION / 2)
#define SEED		0xc01d
/* pages the kernel may keep back (or fault in) in either half */
#define SLACK		0.05

static char skip_reason[256];

static int swap_total(void)
{
	struct sysinfo si;

	return !sysinfo(&si) && si.totalswap;
}

/* scripts/zram-swap, found from our own binary: test/zdtm/NAME */
static void ensure_swap(void)
{
	char exe[PATH_MAX], cmd[PATH_MAX + 64], *slash;
	ssize_t n;
	int ret;

	if (swap_total())
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		fail("readlink /proc/self/exe: %m");
	exe[n] = 0;
	slash = strrchr(exe, '/');
	*slash = 0;
	snprintf(cmd, sizeof(cmd), "%s/../../scripts/zram-swap >/dev/null", exe);
	ret = system(cmd);
	if (ret != 0 || !swap_total())
		snprintf(skip_reason, sizeof(skip_reason),
			 "no swap, and scripts/zram-swap could not set it up (status %d, its reason above)",
			 ret);
}

/* Resident pages of [P, P + LEN) by mincore. */
static size_t resident(const char *p, size_t len)
{
	size_t page = getpagesize(), n = len / page, i, in = 0;
	unsigned char *vec = malloc(n);

	if (!vec)
		fail("malloc");
	if (mincore((void *)p, len, vec))
		fail("mincore: %m");
	for (i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	return in;
}

/* Swap: of the region's VMA in /proc/self/smaps, in kB. */
static long swap_kb(const void *addr)
{
	char line[512], range[64];
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		fail("/proc/self/smaps: %m");
	snprintf(range, sizeof(range), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, range, strlen(range)))
			in = 1;
		else if (in && !strncmp(line, "Swap:", 5)) {
			kb = atol(line + 5);
			break;
		}
	}
	fclose(f);
	if (kb < 0)
		fail("no Swap: line for the region at %p in smaps", addr);
	return kb;
}

static void check_shape(const char *p, const char *when)
{
	size_t page = getpagesize(), half = HALF / page;
	size_t cold_in = resident(p, HALF), hot_in = resident(p + HALF, HALF);
	long swap = swap_kb(p);

	test_msg("%s: paged-out half %zu/%zu pages resident, other half %zu/%zu, Swap %ld kB\n",
		 when, cold_in, half, hot_in, half, swap);
	if (cold_in > half * SLACK)
		fail("%s: %zu of %zu pages of the paged-out half are resident",
		     when, cold_in, half);
	if (hot_in < half)
		fail("%s: only %zu of %zu pages of the hot half are resident",
		     when, hot_in, half);
	if (swap < (long)((HALF >> 10) * (1 - SLACK)))
		fail("%s: the region has %ld kB in swap, %zu kB were paged out",
		     when, swap, HALF >> 10);
}

int main(int argc, char **argv)
{
	size_t page = getpagesize(), off;
	char *p;

	test_init(argc, argv);
	ensure_swap();
	p = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail("mmap %d MiB: %m", REGION_MB);
	/* no THP: a huge page would be paged out (or not) as one */
	if (madvise(p, REGION, MADV_NOHUGEPAGE))
		fail("madvise(MADV_NOHUGEPAGE): %m");
	fill_pattern(p, REGION, SEED);
	if (!skip_reason[0]) {
		if (madvise(p, HALF, MADV_PAGEOUT))
			fail("madvise(MADV_PAGEOUT): %m");
		if (resident(p, HALF) > HALF / page * SLACK)
			snprintf(skip_reason, sizeof(skip_reason),
				 "MADV_PAGEOUT left %zu of %zu pages resident before the dump (swap full?)",
				 resident(p, HALF), HALF / page);
	}
	if (!skip_reason[0])
		check_shape(p, "before the dump");

	test_daemon();
	test_waitsig();

	if (skip_reason[0]) {
		printf("SKIP: %s\n", skip_reason);
		fflush(stdout);
		return 0;
	}
	check_shape(p, "after restore");
	off = check_pattern(p, REGION, SEED);
	if (off != (size_t)-1)
		fail("byte %zu of the region differs", off);
	pass();
}
