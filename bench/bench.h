/* SPDX-License-Identifier: GPL-2.0-only */
/* What every benchmark here needs: a clock and a way out. */
#ifndef CRIU_LITE_BENCH_H
#define CRIU_LITE_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void die(const char *what)
{
	perror(what);
	exit(1);
}

#endif
