// SPDX-License-Identifier: GPL-2.0-only
/*
 * lazy_fast.c with the reads spread out (1 ms every 8 blocks, 512 KiB): most
 * pages are prefetched by then, some are asked for while a prefetch fills
 * them.
 */
#define LAZY_SLOW 1
#include "lazy_fast.c"
