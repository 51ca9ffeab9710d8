/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_ASYNC_WRITER_H
#define CRLITE_ASYNC_WRITER_H

#include <stddef.h>

/*
 * Double buffering with a writer thread: the caller fills one buffer while
 * the thread hands the other to SINK, in the order they were submitted. On
 * two CPUs, reading the next data overlaps writing the last.
 *
 * SINK runs in the thread; it reports its own errors and returns -1, after
 * which aw_buffer() returns NULL and aw_finish() -1.
 */
typedef int (*aw_sink_fn)(void *arg, const void *buf, size_t len);

struct async_writer;

struct async_writer *aw_start(size_t buf_size, aw_sink_fn sink, void *arg);
/* The buffer to fill next, once the thread is done with it; NULL: failed. */
void *aw_buffer(struct async_writer *aw);
/* The buffer aw_buffer() gave, LEN bytes of it filled, goes to the thread. */
void aw_submit(struct async_writer *aw, size_t len);
/* Wait for everything submitted, stop the thread, free. 0, or -1. */
int aw_finish(struct async_writer *aw);

#endif
