// SPDX-License-Identifier: GPL-2.0-only
/*
 * Incremental dumps: the test keeps rewriting its memory while it is
 * pre-dumped, again and again, then dumped with --prev-images-dir
 * --track-mem (the runner's mode predump). Every page of a region carries
 * its index and a generation, the generations live in another VMA; pages
 * are rewritten at random, some dropped with MADV_DONTNEED (they must read
 * zero), and a third VMA is unmapped and mapped again now and then (new
 * since the last pre-dump). After restore the loop goes on until SIGTERM,
 * then every page must match its generation: a page taken from a stale
 * pre-dump, or a dropped page brought back, shows.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NPAGES		8192	/* 32 MiB */
#define CHURN_PAGES	256
#define PAGE		4096

static unsigned char *region, *churn;
static uint32_t *gen;
static uint32_t churn_gen;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void write_page(unsigned char *p, uint64_t k, uint32_t g)
{
	uint64_t head = k << 32 | g;

	memset(p + sizeof(head), (int)((k * 7 + g) & 0xff), PAGE - sizeof(head));
	memcpy(p, &head, sizeof(head));
}

static int page_ok(const unsigned char *p, uint64_t k, uint32_t g)
{
	unsigned char want[PAGE];

	if (!g) {
		memset(want, 0, PAGE);
		return !memcmp(p, want, PAGE);
	}
	write_page(want, k, g);
	return !memcmp(p, want, PAGE);
}

static void churn_remap(void)
{
	size_t i;

	if (churn && munmap(churn, CHURN_PAGES * PAGE))
		fail("munmap: %m");
	churn = mmap(NULL, CHURN_PAGES * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (churn == MAP_FAILED)
		fail("mmap: %m");
	churn_gen++;
	for (i = 0; i < CHURN_PAGES; i++)
		write_page(churn + i * PAGE, i, churn_gen);
}

static void step(unsigned long n)
{
	uint64_t k = next_rand() % NPAGES;

	if (n % 97 == 0) {
		gen[k] = 0;
		if (madvise(region + k * PAGE, PAGE, MADV_DONTNEED))
			fail("madvise: %m");
		return;
	}
	if (n % 4099 == 0)
		churn_remap();
	gen[k]++;
	if (!gen[k])
		gen[k] = 1;
	write_page(region + k * PAGE, k, gen[k]);
}

int main(int argc, char **argv)
{
	struct timespec ms = { 0, 1000000 };
	unsigned long n = 0, bad = 0;
	uint64_t k;

	test_init(argc, argv);
	region = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = mmap(NULL, NPAGES * sizeof(*gen), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || gen == MAP_FAILED)
		fail("mmap: %m");
	for (k = 0; k < NPAGES; k++) {
		gen[k] = 1;
		write_page(region + k * PAGE, k, 1);
	}
	churn_remap();
	test_daemon();
	while (!test_sig_received()) {
		step(n++);
		if (n % 4 == 0)
			nanosleep(&ms, NULL);
	}
	for (k = 0; k < NPAGES; k++)
		if (!page_ok(region + k * PAGE, k, gen[k]) && bad++ < 5)
			printf("page %lu (generation %u) is wrong\n",
			       (unsigned long)k, gen[k]);
	for (k = 0; k < CHURN_PAGES; k++)
		if (!page_ok(churn + k * PAGE, k, churn_gen) && bad++ < 10)
			printf("churn page %lu (generation %u) is wrong\n",
			       (unsigned long)k, churn_gen);
	if (bad)
		fail("%lu pages differ from their generation after %lu steps",
		     bad, n);
	pass();
	return 0;
}
