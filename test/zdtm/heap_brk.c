// SPDX-License-Identifier: GPL-2.0-only
/*
 * The heap: memory got by sbrk() and by small malloc()s keeps its bytes,
 * the program break is where it was (sbrk(0), start_brk in /proc/self/stat),
 * and the heap still grows and shrinks afterwards.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NCHUNKS 64
#define BRK_LEN (5 * 4096 + 123)

/* Fields 47 (start_brk) of /proc/self/stat. */
static unsigned long stat_start_brk(void)
{
	char buf[4096], *p;
	unsigned long v = 0;
	int field;

	read_file("/proc/self/stat", buf, sizeof(buf));
	p = strrchr(buf, ')');
	if (!p)
		fail("bad /proc/self/stat");
	/* p + 2 is field 3 (state) */
	p += 2;
	for (field = 3; field < 47 && p; field++)
		p = (p = strchr(p, ' ')) ? p + 1 : NULL;
	if (!p || sscanf(p, "%lu", &v) != 1)
		fail("no start_brk in /proc/self/stat");
	return v;
}

int main(int argc, char **argv)
{
	char heap_before[512], heap_after[512];
	unsigned long start_brk, start_brk2;
	void *brk0, *brk1, *brk_after, *p;
	char *chunks[NCHUNKS], *area;
	int i;

	test_init(argc, argv);

	for (i = 0; i < NCHUNKS; i++) {
		chunks[i] = malloc(100 + i * 37);
		if (!chunks[i])
			fail("malloc");
		fill_pattern(chunks[i], 100 + i * 37, 900 + i);
	}
	brk0 = sbrk(0);
	area = sbrk(BRK_LEN);
	if (area == (void *)-1)
		fail("sbrk: %m");
	fill_pattern(area, BRK_LEN, 999);
	brk1 = sbrk(0);
	if ((char *)brk1 != (char *)brk0 + BRK_LEN)
		fail("sbrk arithmetic");
	start_brk = stat_start_brk();
	maps_line(area, heap_before, sizeof(heap_before));
	if (!strstr(heap_before, "[heap]"))
		fail("sbrk area not in [heap]: %s", heap_before);

	test_daemon();
	test_waitsig();

	brk_after = sbrk(0);
	if (brk_after != brk1)
		fail("sbrk(0) moved: %p -> %p", brk1, brk_after);
	start_brk2 = stat_start_brk();
	if (start_brk2 != start_brk)
		fail("start_brk moved: %#lx -> %#lx", start_brk, start_brk2);
	maps_line(area, heap_after, sizeof(heap_after));
	if (strcmp(heap_before, heap_after))
		fail("[heap] changed:\n  %s\n  %s", heap_before, heap_after);
	if (check_pattern(area, BRK_LEN, 999) != (size_t)-1)
		fail("sbrk area differs");
	for (i = 0; i < NCHUNKS; i++)
		if (check_pattern(chunks[i], 100 + i * 37, 900 + i) !=
		    (size_t)-1)
			fail("malloc chunk %d differs", i);

	/* The heap still works: grow, use, shrink; malloc, free. */
	p = sbrk(64 * 4096);
	if (p != brk1)
		fail("sbrk grow returned %p, expected %p (%m)", p, brk1);
	memset(p, 0xab, 64 * 4096);
	if (sbrk(-64 * 4096) == (void *)-1 || sbrk(0) != brk1)
		fail("sbrk shrink");
	for (i = 0; i < NCHUNKS; i++)
		free(chunks[i]);
	for (i = 0; i < 1000; i++) {
		p = malloc(1000 + i);
		if (!p)
			fail("malloc after restore");
		memset(p, i, 1000 + i);
	}
	p = malloc(8 << 20);
	if (!p)
		fail("big malloc after restore");
	memset(p, 1, 8 << 20);
	free(p);
	pass();
}
