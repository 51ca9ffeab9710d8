// SPDX-License-Identifier: GPL-2.0-only
/*
 * A statically linked program (no ld.so, no shared libraries): data, bss,
 * heap, anonymous memory and stack contents, its PID, the maps layout and
 * the time through the vdso all come back.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define LEN (256 << 10)

static char bss_area[LEN];
static char data_area[4096] = { 1, 2, 3 };
static char maps0[1 << 16], maps1[1 << 16];

int main(int argc, char **argv)
{
	char stack_area[8192];
	struct timespec t0, t1;
	pid_t pid;
	char *heap, *anon;

	test_init(argc, argv);
	pid = getpid();
	heap = malloc(LEN);
	anon = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!heap || anon == MAP_FAILED)
		fail("alloc: %m");
	fill_pattern(bss_area, LEN / 2, 1);
	fill_pattern(data_area + 3, sizeof(data_area) - 3, 2);
	fill_pattern(heap, LEN, 3);
	fill_pattern(anon, LEN / 2, 4); /* second half never touched */
	fill_pattern(stack_area, sizeof(stack_area), 5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	maps_all(maps0, sizeof(maps0));
	if (strstr(maps0, "ld-linux") || strstr(maps0, "libc.so"))
		fail("not statically linked");

	test_daemon();
	test_waitsig();

	maps_all(maps1, sizeof(maps1));
	if (strcmp(maps0, maps1))
		fail("maps changed:\n%s-- now --\n%s", maps0, maps1);
	if (getpid() != pid || syscall(SYS_getpid) != pid)
		fail("pid changed: %d -> %d", pid, getpid());
	if (check_pattern(bss_area, LEN / 2, 1) != (size_t)-1 ||
	    check_zero(bss_area + LEN / 2, LEN / 2) != (size_t)-1)
		fail("bss differs");
	if (data_area[0] != 1 || data_area[1] != 2 || data_area[2] != 3 ||
	    check_pattern(data_area + 3, sizeof(data_area) - 3, 2) !=
		    (size_t)-1)
		fail("data differs");
	if (check_pattern(heap, LEN, 3) != (size_t)-1)
		fail("heap differs");
	if (check_pattern(anon, LEN / 2, 4) != (size_t)-1 ||
	    check_zero(anon + LEN / 2, LEN / 2) != (size_t)-1)
		fail("anon differs");
	if (check_pattern(stack_area, sizeof(stack_area), 5) != (size_t)-1)
		fail("stack differs");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (t1.tv_sec < t0.tv_sec)
		fail("CLOCK_MONOTONIC went back");
	pass();
}
