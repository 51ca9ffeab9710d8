// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/crc32c.c: the standard check values, blocks computed three at a time
 * equal to blocks computed one by one and to a stream fed in odd pieces
 * or at block boundaries,
 * and a single flipped bit always changes the CRC of its block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crc32c.h"

#define BLOCK	4096
#define LEN	(7 * BLOCK + 123)	/* 3 + 3 + 1 full blocks, one short */
#define NBLK	((LEN + BLOCK - 1) / BLOCK)

static unsigned char *pattern(void)
{
	unsigned char *b = malloc(LEN);
	uint32_t x = 12345;
	size_t i;

	cr_assert_not_null(b);
	for (i = 0; i < LEN; i++) {
		x = x * 1103515245 + 12345;
		b[i] = x >> 16;
	}
	return b;
}

Test(crc32c, check_values)
{
	static const unsigned char zeros[32], ones[32] = {
		[0 ... 31] = 0xff,
	};

	/* RFC 3720 B.4 and the usual "123456789" */
	cr_assert_eq(crc32c(0, "123456789", 9), 0xe3069283);
	cr_assert_eq(crc32c(0, zeros, 32), 0x8a9136aa);
	cr_assert_eq(crc32c(0, ones, 32), 0x62a8ab43);
	cr_assert_eq(crc32c(0, "", 0), 0);
}

Test(crc32c, continues)
{
	uint32_t c = crc32c(0, "1234", 4);

	cr_assert_eq(crc32c(c, "56789", 5), 0xe3069283);
}

Test(crc32c, blocks_equal_one_by_one)
{
	unsigned char *b = pattern();
	uint32_t got[NBLK];
	size_t i;

	crc32c_blocks(b, LEN, BLOCK, got);
	for (i = 0; i < NBLK; i++) {
		size_t n = LEN - i * BLOCK < BLOCK ? LEN - i * BLOCK : BLOCK;

		cr_assert_eq(got[i], crc32c(0, b + i * BLOCK, n), "block %zu", i);
	}
	free(b);
}

Test(crc32c, stream_in_pieces)
{
	struct crc32c_stream s = { .block = BLOCK };
	unsigned char *b = pattern();
	uint32_t want[NBLK];
	size_t off = 0, piece = 1;

	crc32c_blocks(b, LEN, BLOCK, want);
	while (off < LEN) {
		size_t n = piece < LEN - off ? piece : LEN - off;

		cr_assert_eq(crc32c_stream_add(&s, b + off, n), 0);
		off += n;
		piece = piece * 3 + 1;
	}
	cr_assert_eq(crc32c_stream_end(&s), 0);
	cr_assert_eq(s.n, NBLK);
	cr_assert_arr_eq(s.crcs, want, sizeof(want));
	free(s.crcs);
	free(b);
}

/* Fed at block boundaries, whole triples take the three-at-a-time path. */
Test(crc32c, stream_at_block_boundaries)
{
	static const size_t cuts[] = { 0, BLOCK, 5 * BLOCK, LEN };
	struct crc32c_stream s = { .block = BLOCK };
	unsigned char *b = pattern();
	uint32_t want[NBLK];
	size_t i;

	crc32c_blocks(b, LEN, BLOCK, want);
	for (i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++)
		cr_assert_eq(crc32c_stream_add(&s, b + cuts[i],
					       cuts[i + 1] - cuts[i]), 0);
	cr_assert_eq(crc32c_stream_end(&s), 0);
	cr_assert_eq(s.n, NBLK);
	cr_assert_arr_eq(s.crcs, want, sizeof(want));
	free(s.crcs);
	free(b);
}

Test(crc32c, every_bit_flip_is_seen)
{
	unsigned char *b = pattern();
	uint32_t want[NBLK], got[NBLK];
	size_t bit;

	crc32c_blocks(b, LEN, BLOCK, want);
	for (bit = 0; bit < LEN * 8; bit += 997) {
		b[bit / 8] ^= 1 << (bit % 8);
		crc32c_blocks(b, LEN, BLOCK, got);
		cr_assert_neq(got[bit / 8 / BLOCK], want[bit / 8 / BLOCK],
			      "bit %zu", bit);
		b[bit / 8] ^= 1 << (bit % 8);
	}
	free(b);
}
