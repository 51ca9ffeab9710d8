// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private pages inherited across fork and written by nobody since stay
 * shared copy-on-write after restore. The root fills COW_MB of private
 * anonymous memory and forks NR_CHILDREN children that only read it. The
 * summed Pss of the tree (smaps_rollup of the root and each child) must
 * not grow by more than MAX_GROWTH across the dump: a restore that gives
 * each process its own copy multiplies it by up to NR_CHILDREN + 1. Every
 * process also checks the bytes.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

/*
 * The size. Filling and checking it takes well under a second;
 * the cost is the tool's (an image of 256 MiB, or nine times that for a
 * tool that does not share pages).
 */
#define COW_MB 256
#define COW_SIZE ((size_t)COW_MB << 20)
#define NR_CHILDREN 8
#define MAX_GROWTH 1.15

static uint64_t *mem;
static pid_t children[NR_CHILDREN];

/* A word per 8 bytes: cheap enough for 256 MiB, and no two pages alike. */
static uint64_t word(size_t i)
{
	uint64_t x = (i + 0x5eed) * 0x9e3779b97f4a7c15ull;

	return x ^ x >> 29;
}

static void fill(void)
{
	size_t i;

	mem = mmap(NULL, COW_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail("mmap %d MiB: %m", COW_MB);
	for (i = 0; i < COW_SIZE / 8; i++)
		mem[i] = word(i);
}

static void check_bytes(const char *who)
{
	size_t i;

	for (i = 0; i < COW_SIZE / 8; i++)
		if (mem[i] != word(i))
			fail("%s: word %zu of the inherited memory is %#llx, "
			     "expected %#llx", who, i,
			     (unsigned long long)mem[i],
			     (unsigned long long)word(i));
}

static long pss_kb(pid_t pid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	read_file(path, buf, sizeof(buf));
	p = strstr(buf, "\nPss:");
	if (!p)
		fail("no Pss in %s", path);
	return atol(p + 5);
}

static long tree_pss_kb(void)
{
	long sum = pss_kb(getpid());
	int i;

	for (i = 0; i < NR_CHILDREN; i++)
		sum += pss_kb(children[i]);
	return sum;
}

static void child(void)
{
	test_ready_send(getppid(), 0);
	test_waitsig();
	check_bytes("child");
	test_child_pass();
}

int main(int argc, char **argv)
{
	long before, after;
	int i;

	test_init(argc, argv);
	test_ready_init();
	fill();
	for (i = 0; i < NR_CHILDREN; i++) {
		children[i] = test_fork();
		if (children[i] == 0)
			child();
	}
	for (i = 0; i < NR_CHILDREN; i++)
		test_ready_wait(NULL);
	before = tree_pss_kb();
	if (before < (long)(COW_SIZE >> 10))
		fail("tree Pss %ld kB before the dump: the %d MiB are not "
		     "all there", before, COW_MB);
	test_daemon();
	test_waitsig();

	after = tree_pss_kb();
	test_msg("tree Pss %ld kB before the dump, %ld kB after", before,
		 after);
	for (i = 0; i < NR_CHILDREN; i++)
		if (kill(children[i], SIGTERM))
			fail("child %d is gone: %m", children[i]);
	check_bytes("root");
	if (test_reap_children())
		fail("children failed");
	if (after > before * MAX_GROWTH)
		fail("tree Pss grew from %ld kB to %ld kB (x%.2f > x%.2f): "
		     "the inherited pages are no longer shared", before,
		     after, (double)after / before, MAX_GROWTH);
	pass();
}
