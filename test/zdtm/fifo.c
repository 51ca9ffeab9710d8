// SPDX-License-Identifier: GPL-2.0-only
/*
 * A FIFO, by path, opened three times (three descriptions): read-write as
 * fd 10, read-only O_NONBLOCK as fd 11, write-only as fd 12, holding 3,000
 * bytes in a 128 KiB buffer. After restore: the fd table exactly as before
 * (the same FIFO inode), the bytes in order and complete, and a write on
 * fd 12 is read on fd 11. The bytes are then written back, so that the
 * FIFO holds what it held at the dump: under restore --pidns the copy and
 * the original share the one FIFO buffer, and the original checks it next.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#define LEN 3000
#define SIZE (128 << 10)

static struct test_fds s0;

static void open_at(int flags, int want)
{
	int fd = open("fifo", flags);

	if (fd < 0 || dup2(fd, want) != want)
		fail("open fifo as fd %d: %m", want);
	close(fd);
}

int main(int argc, char **argv)
{
	uint8_t buf[LEN], data[LEN];
	int queued;
	size_t off;

	test_init(argc, argv);
	unlink("fifo");
	if (mkfifo("fifo", 0600))
		fail("mkfifo: %m");
	open_at(O_RDWR, 10);
	open_at(O_RDONLY | O_NONBLOCK, 11);
	open_at(O_WRONLY, 12);
	if (fcntl(10, F_SETPIPE_SZ, SIZE) != SIZE)
		fail("F_SETPIPE_SZ: %m");
	fill_pattern(data, LEN, 9);
	if (write(12, data, LEN) != LEN)
		fail("write: %m");
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	if (ioctl(11, FIONREAD, &queued) || queued != LEN)
		fail("the FIFO holds %d bytes, not %d", queued, LEN);
	if (read(11, buf, LEN) != LEN)
		fail("read: %m");
	off = check_pattern(buf, LEN, 9);
	if (off != (size_t)-1)
		fail("byte %zu of %d differs", off, LEN);
	if (write(12, "ping", 4) != 4 || read(11, buf, 8) != 4 ||
	    memcmp(buf, "ping", 4))
		fail("a write on fd 12 is not read on fd 11");
	if (read(11, buf, 1) != -1 || errno != EAGAIN)
		fail("fd 11 is no longer O_NONBLOCK, or the FIFO holds more");
	if (write(12, data, LEN) != LEN)
		fail("write back: %m");
	pass();
}
