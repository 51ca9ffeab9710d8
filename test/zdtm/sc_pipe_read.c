// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumped while blocked in read() on an empty pipe (both ends held by this
 * process): after restore it keeps waiting and returns EINTR only once the
 * SIGTERM handler has run; the pipe is still one pipe afterwards. (Its
 * inode number is the kernel's to choose: a restored pipe is a new pipe,
 * so only that both ends are of one pipe is checked, not the number.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

static void pipe_ids(int p[2], char *r, char *w, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	n = readlink(path, r, size - 1);
	r[n < 0 ? 0 : n] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	n = readlink(path, w, size - 1);
	w[n < 0 ? 0 : n] = '\0';
}

int main(int argc, char **argv)
{
	char r0[64], w0[64], r1[64], w1[64], buf[16];
	int p[2];
	long r;
	int err;

	test_init(argc, argv);
	if (pipe(p))
		fail("pipe: %m");
	if (write(p[1], "hello", 5) != 5 || read(p[0], buf, 5) != 5)
		fail("pipe round trip: %m");
	pipe_ids(p, r0, w0, sizeof(r0));
	test_daemon();

	r = syscall(SYS_read, p[0], buf, sizeof(buf));
	err = errno;
	if (r >= 0)
		fail("read on an empty pipe returned %ld", r);
	if (err != EINTR)
		fail("read failed: errno %d", err);
	if (!test_sig_received())
		fail("read returned EINTR but no signal was delivered");

	pipe_ids(p, r1, w1, sizeof(r1));
	if (strcmp(r0, w0) || strcmp(r1, w1) || strncmp(r1, "pipe:", 5))
		fail("pipe ends changed: %s %s -> %s %s", r0, w0, r1, w1);
	if (write(p[1], "world", 5) != 5 || read(p[0], buf, 5) != 5 ||
	    memcmp(buf, "world", 5))
		fail("pipe round trip after restore: %m");
	pass();
}
