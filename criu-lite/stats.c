// SPDX-License-Identifier: GPL-2.0-only
/* Timing helpers and the progress line shown on a terminal. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "task.h"

static uint64_t progress_last_us;
static int progress_shown;

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* Shown only on a terminal, once a phase has run for more than a second. */
void progress(const char *what, uint64_t done, uint64_t total, uint64_t start_us)
{
	uint64_t now = now_us();

	if (now - start_us < 1000000 || now - progress_last_us < 200000 ||
	    !isatty(STDERR_FILENO))
		return;
	progress_last_us = now;
	progress_shown = 1;
	if (total)
		fprintf(stderr, "\r%s: %" PRIu64 " / %" PRIu64 " MiB (%" PRIu64 "%%)  ",
			what, done >> 20, total >> 20, done * 100 / total);
	else
		fprintf(stderr, "\r%s: %" PRIu64 " MiB  ", what, done >> 20);
}

void progress_done(void)
{
	if (progress_shown)
		fputc('\n', stderr);
	progress_shown = 0;
}
