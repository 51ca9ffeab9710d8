/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the unit tests: capturing what the library writes to
 * stderr (errors always reach it, see lib/log.c), so a test can check that a
 * failure was reported and that the report names what failed.
 *
 * A sanitizer report raised while stderr is captured is lost with the test
 * process: a test that fails under ASan/UBSan with no message, run again with
 * UNIT_NO_CAPTURE=1 in the environment, prints it (and fails its log checks).
 */
#ifndef CRLITE_TEST_UNIT_H
#define CRLITE_TEST_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

struct capture {
	int fd;		/* memfd collecting stderr */
	int saved;	/* the real stderr */
};

static inline void capture_start(struct capture *c)
{
	fflush(stderr);
	c->fd = c->saved = -1;
	if (getenv("UNIT_NO_CAPTURE"))
		return;
	c->fd = memfd_create("unit-stderr", MFD_CLOEXEC);
	cr_assert(c->fd >= 0, "memfd_create: %m");
	c->saved = dup(STDERR_FILENO);
	cr_assert(c->saved >= 0, "dup: %m");
	cr_assert(dup2(c->fd, STDERR_FILENO) == STDERR_FILENO, "dup2: %m");
}

/* Restores stderr and returns what was written meanwhile (free() it). */
static inline char *capture_end(struct capture *c)
{
	off_t len;
	char *buf;

	fflush(stderr);
	if (c->fd < 0)
		return strdup("");
	cr_assert(dup2(c->saved, STDERR_FILENO) == STDERR_FILENO, "dup2: %m");
	close(c->saved);
	len = lseek(c->fd, 0, SEEK_END);
	cr_assert(len >= 0);
	buf = malloc(len + 1);
	cr_assert(buf);
	cr_assert(pread(c->fd, buf, len, 0) == len);
	buf[len] = 0;
	close(c->fd);
	return buf;
}

/* Asserts that the captured text LOG contains every one of the strings given. */
#define cr_assert_log_has(log, ...)						\
	do {									\
		const char *__w[] = { __VA_ARGS__, NULL };			\
		for (int __i = 0; __w[__i]; __i++)				\
			cr_assert(strstr((log), __w[__i]),			\
				  "expected \"%s\" in the log: \"%s\"",	\
				  __w[__i], (log));				\
	} while (0)

#endif
