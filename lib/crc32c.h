/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_CRC32C_H
#define CRLITE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C (Castagnoli), with the SSE4.2 instruction where the CPU has it.
 * Start with crc = 0; feed the result back in to continue.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * The CRC of each BLOCK bytes of BUF into OUT (the last block may be
 * shorter); three blocks at a time, so it runs about three times faster
 * than one long crc32c().
 */
void crc32c_blocks(const void *buf, size_t len, size_t block, uint32_t *out);

/* A stream cut into fixed blocks, each with its own CRC. */
struct crc32c_stream {
	size_t block;
	size_t fill;		/* bytes in the current block */
	uint32_t crc;		/* ... and their CRC */
	uint32_t *crcs;		/* the finished blocks (malloc'ed) */
	size_t n, cap;
};

int crc32c_stream_add(struct crc32c_stream *s, const void *buf, size_t len);
/* Ends the last, short block; returns -1 only on allocation failure. */
int crc32c_stream_end(struct crc32c_stream *s);

#endif
