/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_ARENA_H
#define CRLITE_ARENA_H

#include <stddef.h>

/*
 * A bump allocator for the many small objects (protobuf messages, strings)
 * a dump builds and frees all at once at the end.
 */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
};

/* Zeroed memory; aborts the caller's operation (NULL + logged) on OOM. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t size);
void arena_free(struct arena *a);

#endif
