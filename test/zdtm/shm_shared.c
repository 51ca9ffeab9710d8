// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory shared between processes: a MAP_SHARED|MAP_ANONYMOUS region and a
 * MAP_SHARED memfd region (its fd closed: only the mappings hold the memfd),
 * both inherited by a child. Before the dump the parent writes page 0 and
 * the child page 1. After restore both still see both pages, then the
 * parent writes page 2 and the child must see it, and the child writes
 * page 3 and the parent must see it: the mappings are shared again, not
 * two private copies that happen to hold the same bytes.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PAGE 4096
#define NPAGES 4

struct region {
	const char *name;
	uint8_t *p;
};

static struct region regions[2] = { { .name = "shared anon" },
				     { .name = "memfd" } };

static void map_regions(void)
{
	int fd;

	regions[0].p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("zdtm-shm", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, NPAGES * PAGE))
		fail("memfd: %m");
	regions[1].p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
			    MAP_SHARED, fd, 0);
	close(fd);
	if (regions[0].p == MAP_FAILED || regions[1].p == MAP_FAILED)
		fail("mmap: %m");
}

static void write_page(int page, uint32_t seed)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(regions); i++)
		fill_pattern(regions[i].p + page * PAGE, PAGE, seed);
}

/* Page holds seed's pattern (seed 0: zeroes), and the mapping is shared. */
static void check_page(const char *who, int page, uint32_t seed)
{
	char line[512];
	size_t i, off;

	for (i = 0; i < ARRAY_SIZE(regions); i++) {
		const uint8_t *p = regions[i].p + page * PAGE;

		off = seed ? check_pattern(p, PAGE, seed) : check_zero(p, PAGE);
		if (off != (size_t)-1)
			fail("%s: %s page %d differs at %zu: %#x (%s)", who,
			     regions[i].name, page, off, p[off],
			     seed ? "expected the other side's bytes" :
				    "expected zero");
		maps_line(p, line, sizeof(line));
		if (!strchr(line, ' ') || strchr(line, ' ')[4] != 's')
			fail("%s: %s is no longer a shared mapping: %s", who,
			     regions[i].name, line);
	}
}

static void child(void)
{
	write_page(1, 2);
	test_ready_send(getppid(), 0);
	test_waitsig();

	check_page("child", 0, 1);
	check_page("child", 1, 2);
	check_page("child", 2, 3); /* the parent's, after restore */
	write_page(3, 4);
	test_child_pass();
}

int main(int argc, char **argv)
{
	pid_t pid;
	int st;

	test_init(argc, argv);
	test_ready_init();
	map_regions();
	write_page(0, 1);
	pid = test_fork();
	if (pid == 0)
		child();
	test_ready_wait(NULL);
	check_page("parent before the dump", 1, 2);
	test_daemon();
	test_waitsig();

	check_page("parent", 0, 1);
	check_page("parent", 1, 2);
	check_page("parent", 3, 0);
	write_page(2, 3);
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	check_page("parent", 3, 4); /* the child's, after restore */
	pass();
}
