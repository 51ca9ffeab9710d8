// SPDX-License-Identifier: GPL-2.0-only
/*
 * The stack: data in many nested frames (deep recursion, and a large frame
 * that grew the stack VMA) is intact when the recursion unwinds after
 * restore, and the [stack] VMA is where it was.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

#define DEPTH 2000
#define FRAME 200
#define BIG (1 << 20) /* larger than the initial stack VMA */

static char stack_before[512], stack_after[512];

/* Grow the stack VMA below us, so the signal frame and the checks fit. */
static void __attribute__((noinline)) pregrow(void)
{
	volatile char pad[64 << 10];
	size_t i;

	for (i = 0; i < sizeof(pad); i += 512)
		pad[i] = 1;
}

static void __attribute__((noinline)) at_bottom(void)
{
	char here = 0;

	pregrow();

	maps_line(&here, stack_before, sizeof(stack_before));
	if (!strstr(stack_before, "[stack]"))
		fail("not on [stack]: %s", stack_before);
	test_daemon();
	test_waitsig();
	maps_line(&here, stack_after, sizeof(stack_after));
	if (strcmp(stack_before, stack_after))
		fail("[stack] changed:\n  %s\n  %s", stack_before, stack_after);
}

static int __attribute__((noinline)) recurse(int depth)
{
	volatile char frame[FRAME];
	size_t off;
	int r;

	fill_pattern((char *)frame, FRAME, depth);
	if (depth == DEPTH)
		at_bottom();
	else if (recurse(depth + 1) != depth + 1)
		fail("return value of frame %d lost", depth + 1);
	off = check_pattern((char *)frame, FRAME, depth);
	if (off != (size_t)-1)
		fail("frame %d differs at %zu", depth, off);
	r = depth;
	return r;
}

static int __attribute__((noinline)) big_frame(void)
{
	volatile char big[BIG];
	size_t off;

	fill_pattern((char *)big, BIG, 12345);
	if (recurse(0) != 0)
		fail("return value of frame 0 lost");
	off = check_pattern((char *)big, BIG, 12345);
	if (off != (size_t)-1)
		fail("big frame differs at %zu", off);
	return 0;
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (big_frame())
		fail("big_frame");
	pass();
}
