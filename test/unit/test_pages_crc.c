// SPDX-License-Identifier: GPL-2.0-only
/*
 * criu-lite/pages.c, the pages image's checksum table: a header whose
 * blocks can't tile the image (restore maps it a window at a time, and a
 * block across two windows would be read past one) is refused naming the
 * image; a good table passes clean data, groups of blocks are checked
 * together, and a flipped bit is named by its block's bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crc32c.h"
#include "task.h"
#include "unit.h"

#define BLOCK	(64u << 10)
#define NBLK	5
#define SIZE	((uint64_t)BLOCK * NBLK - 4096)	/* the last block short */

static unsigned char *image(uint32_t *crcs)
{
	unsigned char *b = malloc(SIZE);
	size_t i;

	cr_assert_not_null(b);
	for (i = 0; i < SIZE; i++)
		b[i] = i * 131 + (i >> 12);
	crc32c_blocks(b, SIZE, BLOCK, crcs);
	return b;
}

static int init(struct pages_crc *c, uint32_t block, uint32_t *crcs,
		size_t n, char **log)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	struct capture cap;
	int ret;

	head.crc_block = block;
	head.crc32c = crcs;
	head.n_crc32c = n;
	capture_start(&cap);
	ret = pages_crc_init(c, &head, "pages-7.img", SIZE);
	*log = capture_end(&cap);
	return ret;
}

Test(pages_crc, bad_tables_refused)
{
	static const struct { uint32_t block; size_t n; } bad[] = {
		{ 0, NBLK },			/* no block size */
		{ 3 * BLOCK, 2 },		/* not a power of two */
		{ 512, SIZE / 512 },		/* below a page */
		{ 1u << 30, 1 },		/* over a mapped window */
		{ BLOCK, NBLK - 1 },		/* too few for the image */
		{ BLOCK, NBLK + 1 },		/* too many */
	};
	uint32_t crcs[SIZE / 512 + 1] = { 0 };
	struct pages_crc c;
	size_t i;
	char *log;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(init(&c, bad[i].block, crcs, bad[i].n, &log), -1,
			     "block %u, %zu checksums", bad[i].block, bad[i].n);
		cr_assert_log_has(log, "Image pages-7.img", "checksums");
		free(log);
		pages_crc_free(&c);
	}
}

Test(pages_crc, checked_and_flip_named)
{
	uint32_t crcs[NBLK];
	unsigned char *b = image(crcs);
	struct pages_crc c;
	char *log, want[96];
	struct capture cap;

	cr_assert_eq(init(&c, BLOCK, crcs, NBLK, &log), 0, "%s", log);
	free(log);
	/* the whole image from a map of it at offset 0 */
	cr_assert_eq(pages_crc_check(&c, -1, b, 0, "pages-7.img", 0, SIZE), 0);
	pages_crc_free(&c);

	/* a map that starts at block 2: a flip in block 3 is found */
	b[3 * BLOCK + 17] ^= 0x10;
	cr_assert_eq(init(&c, BLOCK, crcs, NBLK, &log), 0);
	free(log);
	capture_start(&cap);
	cr_assert_eq(pages_crc_check(&c, -1, b + 2 * BLOCK, 2 * BLOCK,
				     "pages-7.img", 2 * BLOCK + 5, BLOCK), -1);
	log = capture_end(&cap);
	snprintf(want, sizeof(want), "checksum mismatch in bytes %u-%u",
		 3 * BLOCK, 4 * BLOCK - 1);
	cr_assert_log_has(log, "Image pages-7.img", want);
	free(log);
	/* block 2 alone, undamaged, passes */
	cr_assert_eq(pages_crc_check(&c, -1, b + 2 * BLOCK, 2 * BLOCK,
				     "pages-7.img", 2 * BLOCK, BLOCK), 0);
	pages_crc_free(&c);
	free(b);
}
