// SPDX-License-Identifier: GPL-2.0-only
/*
 * File descriptors: 0/1/2 and regular files opened with various flags at
 * chosen numbers with moved offsets, FD_CLOEXEC on some, a dup (one shared
 * file description) and a second open of one file (two descriptions),
 * /dev/null, /dev/zero, /dev/urandom. After restore: the exact set of fds,
 * and per fd its path, open flags, fd flags, offset, inode and which fds
 * share a description (kcmp); then the fds still behave (shared offset moves
 * together, O_APPEND appends, the devices read and write as they should).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

static void make_file(const char *name, size_t len, uint32_t seed)
{
	char *buf = malloc(len);
	int fd;

	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !buf)
		fail("create %s: %m", name);
	fill_pattern(buf, len, seed);
	if (write(fd, buf, len) != (ssize_t)len)
		fail("write %s: %m", name);
	close(fd);
	free(buf);
}

static void at(int want, int fd)
{
	if (fd < 0)
		fail("open for fd %d: %m", want);
	if (fd != want) {
		if (dup3(fd, want, fcntl(fd, F_GETFD) & FD_CLOEXEC ?
					   O_CLOEXEC : 0) != want)
			fail("dup3 -> %d: %m", want);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	static struct test_fds s0;
	char buf[64], zero[64] = { 0 };
	struct stat st;
	off_t app_size;
	int i;

	test_init(argc, argv);

	make_file("f_ro", 3 * 4096, 31);
	make_file("f_app", 1000, 32);
	make_file("f_rw", 4096, 33);
	make_file("f with space", 100, 34);

	at(17, open("f_ro", O_RDONLY | O_NOATIME));
	if (lseek(17, 1234, SEEK_SET) != 1234)
		fail("lseek: %m");
	if (dup2(17, 18) != 18)
		fail("dup2: %m");
	at(42, open("f_app", O_WRONLY | O_APPEND));
	if (write(42, "appended", 8) != 8)
		fail("write: %m");
	at(5, open("f_rw", O_RDWR | O_CLOEXEC | O_NONBLOCK));
	if (lseek(5, 5000, SEEK_SET) != 5000) /* past EOF */
		fail("lseek: %m");
	at(6, open("f_rw", O_RDONLY));
	if (lseek(6, 100, SEEK_SET) != 100)
		fail("lseek: %m");
	at(100, open("/dev/null", O_RDWR));
	at(101, open("/dev/zero", O_RDONLY | O_CLOEXEC));
	at(102, open("/dev/urandom", O_RDONLY));
	at(1000, open("f with space", O_RDWR | O_DSYNC));
	if (lseek(1000, 7, SEEK_SET) != 7 || fcntl(1000, F_SETFD, FD_CLOEXEC))
		fail("lseek/F_SETFD: %m");
	if (fstat(42, &st))
		fail("fstat: %m");
	app_size = st.st_size;

	test_msg("fds set up"); /* no more writes to 1/2 until the check */
	test_fds_snapshot(&s0);

	test_daemon();
	test_waitsig();

	test_fds_check(&s0);

	/* Offsets: read at 1234 through 17, and 18 moved with it. */
	if (read(17, buf, sizeof(buf)) != sizeof(buf))
		fail("read 17: %m");
	for (i = 0; i < (int)sizeof(buf); i++)
		if ((uint8_t)buf[i] != pattern_byte(31, 1234 + i))
			fail("fd 17 read the wrong bytes");
	if (lseek(18, 0, SEEK_CUR) != 1234 + (off_t)sizeof(buf))
		fail("fd 18 does not share the offset of fd 17");
	if (lseek(6, 0, SEEK_CUR) != 100 || pread(6, buf, 10, 0) != 10)
		fail("fd 6 offset or read");
	/* O_APPEND appends whatever the offset. */
	if (lseek(42, 0, SEEK_SET) != 0 || write(42, "X", 1) != 1 ||
	    fstat(42, &st) || st.st_size != app_size + 1)
		fail("fd 42 does not append");
	if (ftruncate(42, app_size))
		fail("ftruncate: %m");
	/* Devices. */
	if (write(100, "x", 1) != 1 || read(100, buf, 1) != 0)
		fail("/dev/null misbehaves");
	memset(buf, 1, sizeof(buf));
	if (read(101, buf, sizeof(buf)) != sizeof(buf) ||
	    memcmp(buf, zero, sizeof(buf)))
		fail("/dev/zero misbehaves");
	if (read(102, buf, sizeof(buf)) != sizeof(buf) ||
	    !memcmp(buf, zero, sizeof(buf)))
		fail("/dev/urandom misbehaves");
	if (write(1000, "", 0) != 0)
		fail("fd 1000 not writable");
	pass();
}
