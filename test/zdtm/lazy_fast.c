// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory read right away after restore (with restore --lazy-pages: while
 * most of it is still to come from the lazy-pages daemon), by everything
 * that can touch it at once: a child forked before any read, four threads
 * reading the same pages together, the kernel (read() into and write() out
 * of memory not yet there), and the calls that change the layout under the
 * daemon: mremap of a region not read yet, MADV_DONTNEED of half of one
 * (reads zeros after), munmap and a new mapping in its place (zeros). Every
 * byte is checked from inside, holes (pages never written) read as zeros.
 * lazy_slow.c is the same with the reads spread out over a few hundred milliseconds.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef LAZY_SLOW
#define LAZY_SLOW 0
#endif

#define BIG_MIB		128
#define SMALL_MIB	8
#define BLOCK		(64 << 10)	/* every 7th block of BIG is a hole */
#define NTHREADS	4

static char *big, *moved, *emptied, *replaced;
static size_t big_len = (size_t)BIG_MIB << 20, small_len = SMALL_MIB << 20;

static int is_hole(size_t block)
{
	return block % 7 == 3;
}

static void big_fill(void)
{
	size_t b;

	for (b = 0; b < big_len / BLOCK; b++)
		if (!is_hole(b))
			fill_pattern(big + b * BLOCK, BLOCK, 100 + b);
}

/* 0, or 1 + the block that is wrong. */
static size_t big_check_block(size_t b)
{
	size_t off;

	if (is_hole(b))
		off = check_zero(big + b * BLOCK, BLOCK);
	else
		off = check_pattern(big + b * BLOCK, BLOCK, 100 + b);
	return off == (size_t)-1 ? 0 : b + 1;
}

static void pause_slowly(void)
{
	struct timespec ts = { 0, 1000000 };

	if (LAZY_SLOW)
		nanosleep(&ts, NULL);
}

/* Every thread reads all of BIG, each starting at its own quarter. */
static void *reader(void *arg)
{
	size_t nb = big_len / BLOCK, first = (size_t)(long)arg * nb / NTHREADS;
	size_t i, bad;

	for (i = 0; i < nb; i++) {
		bad = big_check_block((first + i) % nb);
		if (bad)
			return (void *)bad;
		if (i % 8 == 0)
			pause_slowly();
	}
	return NULL;
}

static void check_by_threads(void)
{
	pthread_t th[NTHREADS];
	void *res;
	long i;

	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, reader, (void *)i))
			fail("pthread_create");
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], &res);
		if (res)
			fail("thread %ld: block %zu of the big area differs",
			     i, (size_t)res - 1);
	}
}

/* The kernel writes into, and reads out of, memory not read yet. */
static void check_by_kernel(void)
{
	size_t b = big_len / BLOCK - 4, len = 4096;	/* b, b + 1: no hole */
	char *src = big + b * BLOCK, *dst = src + BLOCK;
	char buf[4096], want[4096];
	int p[2];

	fill_pattern(want, len, 100 + b);
	if (pipe(p))
		fail("pipe: %m");
	/* write() out of a lazy page: copy_from_user faults */
	if (write(p[1], src, len) != (ssize_t)len ||
	    read(p[0], buf, len) != (ssize_t)len)
		fail("write() from lazy memory: %m");
	if (memcmp(buf, want, len))
		fail("write() out of lazy memory gave other bytes");
	/* read() into a lazy page: copy_to_user faults */
	memset(buf, 0x5a, len);
	if (write(p[1], buf, len) != (ssize_t)len ||
	    read(p[0], dst, len) != (ssize_t)len)
		fail("read() into lazy memory: %m");
	if (memcmp(dst, buf, len))
		fail("read() into lazy memory left other bytes");
	close(p[0]);
	close(p[1]);
	/* the threads check the whole block */
	fill_pattern(dst, BLOCK, 100 + b + 1);
}

static void check_layout_changes(void)
{
	char *to = mmap(NULL, small_len, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *want = malloc(small_len);

	if (to == MAP_FAILED || !want)
		fail("mmap: %m");
	moved = mremap(moved, small_len, small_len,
		       MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (moved != to)
		fail("mremap: %m");
	if (madvise(emptied, small_len / 2, MADV_DONTNEED))
		fail("madvise: %m");
	if (munmap(replaced, small_len) ||
	    mmap(replaced, small_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != replaced)
		fail("munmap + mmap: %m");
	pause_slowly();
	if (check_pattern(moved, small_len, 11) != (size_t)-1)
		fail("the area moved by mremap differs");
	if (check_zero(emptied, small_len / 2) != (size_t)-1)
		fail("the half emptied by MADV_DONTNEED is not zero");
	fill_pattern(want, small_len, 12);
	if (memcmp(emptied + small_len / 2, want + small_len / 2,
		   small_len / 2))
		fail("the half kept after MADV_DONTNEED differs");
	free(want);
	if (check_zero(replaced, small_len) != (size_t)-1)
		fail("a new mapping where a lazy one was is not zero");
}

static char *map_small(uint32_t seed)
{
	char *p = mmap(NULL, small_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap: %m");
	fill_pattern(p, small_len, seed);
	return p;
}

int main(int argc, char **argv)
{
	pid_t child;

	test_init(argc, argv);
	/* first, so above BIG: the daemon prefetches them last */
	moved = map_small(11);
	emptied = map_small(12);
	replaced = map_small(13);
	big = mmap(NULL, big_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED)
		fail("mmap: %m");
	big_fill();

	test_daemon();
	test_waitsig();

	/* before anything is read: the child misses what the parent does */
	child = test_fork();
	if (!child) {
		check_by_threads();
		test_child_pass();
	}
	check_layout_changes();
	check_by_kernel();
	check_by_threads();
	if (test_reap_children())
		fail("the child forked after restore saw other bytes");
	pass();
}
