// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/arena.c: zeroed, 16-byte aligned, non-overlapping allocations of any
 * size, and copies of strings and buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "arena.h"
#include "unit.h"

static int all_bytes(const void *p, int c, size_t size)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < size; i++)
		if (b[i] != c)
			return 0;
	return 1;
}

/*
 * Memory malloc hands out is not zeroed, so an arena that forgot to clear
 * would show: dirty the heap first (glibc reuses the freed chunks; ASan fills
 * fresh allocations with garbage on its own).
 */
static void dirty_heap(void)
{
	static const size_t sizes[] = { 64, 4096, 65536 + 64, 70000, 300000 };
	void *p[sizeof(sizes) / sizeof(sizes[0])];
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = malloc(sizes[i]);
		cr_assert(p[i]);
		memset(p[i], 0xa5, sizes[i]);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		free(p[i]);
}

Test(arena, zeroed)
{
	struct arena a = { 0 };
	size_t size;

	dirty_heap();
	for (size = 1; size < 3000; size += 37) {
		unsigned char *p = arena_alloc(&a, size);

		cr_assert(p);
		cr_assert(all_bytes(p, 0, size), "%zu bytes not zeroed", size);
		memset(p, 0xff, size);
	}
	arena_free(&a);
	cr_expect_null(a.head);

	/* a second round reuses what the first dirtied */
	for (size = 1; size < 3000; size += 37) {
		unsigned char *p = arena_alloc(&a, size);

		cr_assert(p);
		cr_assert(all_bytes(p, 0, size), "%zu bytes not zeroed", size);
	}
	arena_free(&a);
}

Test(arena, aligned_and_disjoint)
{
	static const size_t sizes[] = { 1, 3, 15, 16, 17, 31, 33, 100, 7, 1000, 2 };
	struct arena a = { 0 };
	struct {
		unsigned char *p;
		size_t size;
	} got[2000];
	int n = 0, i, j;

	for (i = 0; i < 2000; i++) {
		size_t size = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		unsigned char *p = arena_alloc(&a, size);

		cr_assert(p);
		cr_assert_eq((uintptr_t)p % 16, 0, "allocation %d of %zu at %p", i,
			     size, (void *)p);
		/* fill the whole of it: ASan sees any overflow of a chunk */
		memset(p, i & 0xff, size);
		got[n].p = p;
		got[n].size = size;
		n++;
	}
	/* nothing written later overwrote anything written earlier */
	for (i = 0; i < n; i++)
		cr_assert(all_bytes(got[i].p, i & 0xff, got[i].size),
			  "allocation %d was overwritten", i);
	/* and no two overlap */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			cr_assert(got[i].p + got[i].size <= got[j].p ||
				  got[j].p + got[j].size <= got[i].p,
				  "allocations %d and %d overlap", i, j);
	arena_free(&a);
}

/* Bigger than a chunk (64 KiB): their own chunk, and small ones still work. */
Test(arena, big_allocations)
{
	static const size_t sizes[] = { 65536, 65537, 200000, 1 << 20, 16 };
	struct arena a = { 0 };
	unsigned char *small, *p[5];
	size_t i;

	dirty_heap();
	small = arena_alloc(&a, 40);
	cr_assert(small);
	memset(small, 0x11, 40);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = arena_alloc(&a, sizes[i]);
		cr_assert(p[i], "%zu bytes", sizes[i]);
		cr_assert_eq((uintptr_t)p[i] % 16, 0);
		cr_assert(all_bytes(p[i], 0, sizes[i]), "%zu bytes not zeroed",
			  sizes[i]);
		memset(p[i], 0x20 + i, sizes[i]);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		cr_assert(all_bytes(p[i], 0x20 + i, sizes[i]), "%zu bytes overwritten",
			  sizes[i]);
	cr_assert(all_bytes(small, 0x11, 40));
	arena_free(&a);
}

/* A size that wraps when rounded up must fail, not return a tiny block. */
Test(arena, size_overflow)
{
	static const size_t sizes[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 14,
					SIZE_MAX - 15, SIZE_MAX - 40 };
	struct arena a = { 0 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct capture c;
		char *log;
		void *p;

		capture_start(&c);
		p = arena_alloc(&a, sizes[i]);
		log = capture_end(&c);
		cr_expect_null(p, "arena_alloc(%#zx) returned %p", sizes[i], p);
		cr_expect(strstr(log, "Out of memory"), "log: %s", log);
		free(log);
	}
	/* and the arena is still usable */
	cr_assert(arena_alloc(&a, 10));
	arena_free(&a);
}

Test(arena, strdup_and_memdup)
{
	static const char *const strs[] = { "", "a", "pagemap-1234.img",
					    "with\ttabs and spaces" };
	struct arena a = { 0 };
	char big[100000];
	unsigned char bytes[37];
	unsigned char *m;
	char *s;
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		s = arena_strdup(&a, strs[i]);
		cr_assert(s);
		cr_expect_neq((void *)s, (void *)strs[i]);
		cr_expect_str_eq(s, strs[i]);
		cr_expect_eq((uintptr_t)s % 16, 0);
	}

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	s = arena_strdup(&a, big);
	cr_assert(s);
	cr_expect_eq(strlen(s), sizeof(big) - 1);
	cr_expect_str_eq(s, big);

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = i * 7;
	bytes[5] = 0;	/* memdup copies past NULs */
	m = arena_memdup(&a, bytes, sizeof(bytes));
	cr_assert(m);
	cr_expect_eq(memcmp(m, bytes, sizeof(bytes)), 0);

	/* zero bytes: a valid pointer, distinct from the next allocation */
	m = arena_memdup(&a, bytes, 0);
	cr_assert(m);
	cr_expect_neq((void *)m, arena_alloc(&a, 1));
	arena_free(&a);
}

Test(arena, free_empty_and_twice)
{
	struct arena a = { 0 };

	arena_free(&a);
	cr_expect_null(a.head);
	cr_assert(arena_alloc(&a, 8));
	arena_free(&a);
	arena_free(&a);
	cr_expect_null(a.head);
}
