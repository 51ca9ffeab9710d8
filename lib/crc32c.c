// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

#define POLY	0x82f63b78u	/* reflected Castagnoli polynomial */

static uint32_t table[256];

static void table_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		for (c = i, j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[i] = c;
	}
}

static uint32_t crc_sw(uint32_t c, const unsigned char *p, size_t len)
{
	if (!table[1])
		table_init();
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t c, const unsigned char *p, size_t len)
{
	uint64_t x = c, w;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		x = __builtin_ia32_crc32di(x, w);
	}
	c = x;
	while (len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}

/* Three equal blocks at once: the instruction's latency hides. */
__attribute__((target("sse4.2")))
static void crc_hw3(const unsigned char *p, size_t block, uint32_t *out)
{
	uint64_t a = ~0u, b = ~0u, c = ~0u, wa, wb, wc;
	size_t i;

	for (i = 0; i + 8 <= block; i += 8) {
		memcpy(&wa, p + i, 8);
		memcpy(&wb, p + block + i, 8);
		memcpy(&wc, p + 2 * block + i, 8);
		a = __builtin_ia32_crc32di(a, wa);
		b = __builtin_ia32_crc32di(b, wb);
		c = __builtin_ia32_crc32di(c, wc);
	}
	out[0] = ~crc_hw(a, p + i, block - i);
	out[1] = ~crc_hw(b, p + block + i, block - i);
	out[2] = ~crc_hw(c, p + 2 * block + i, block - i);
}

static int have_hw(void)
{
	static int hw = -1;

	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2");
	return hw;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = ~crc;

	c = have_hw() ? crc_hw(c, buf, len) : crc_sw(c, buf, len);
	return ~c;
}

void crc32c_blocks(const void *buf, size_t len, size_t block, uint32_t *out)
{
	const unsigned char *p = buf;

	for (; have_hw() && len >= 3 * block; len -= 3 * block) {
		crc_hw3(p, block, out);
		p += 3 * block;
		out += 3;
	}
	for (; len; out++) {
		size_t n = len < block ? len : block;

		*out = crc32c(0, p, n);
		p += n;
		len -= n;
	}
}

static int stream_reserve(struct crc32c_stream *s, size_t more)
{
	if (s->n + more > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint32_t *n = realloc(s->crcs, cap * sizeof(*n));

		if (!n)
			return -1;
		s->crcs = n;
		s->cap = cap;
	}
	return 0;
}

static int stream_push(struct crc32c_stream *s)
{
	if (stream_reserve(s, 1))
		return -1;
	s->crcs[s->n++] = s->crc;
	s->crc = 0;
	s->fill = 0;
	return 0;
}

int crc32c_stream_add(struct crc32c_stream *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* whole blocks at a block boundary: three at a time */
	while (s->fill == 0 && len >= 3 * s->block && have_hw()) {
		if (stream_reserve(s, 3))
			return -1;
		crc_hw3(p, s->block, s->crcs + s->n);
		s->n += 3;
		p += 3 * s->block;
		len -= 3 * s->block;
	}
	while (len) {
		size_t n = s->block - s->fill;

		if (n > len)
			n = len;
		s->crc = crc32c(s->crc, p, n);
		s->fill += n;
		p += n;
		len -= n;
		if (s->fill == s->block && stream_push(s))
			return -1;
	}
	return 0;
}

int crc32c_stream_end(struct crc32c_stream *s)
{
	return s->fill ? stream_push(s) : 0;
}
