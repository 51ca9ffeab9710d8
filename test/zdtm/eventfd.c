// SPDX-License-Identifier: GPL-2.0-only
/*
 * eventfds: fd 10 holds a counter wider than 32 bits (O_NONBLOCK), fd 11 is
 * an EFD_SEMAPHORE holding 3 (O_NONBLOCK), fd 12 is empty and blocking, fd
 * 13 is a dup of fd 10. After restore the fd table is as before; fd 10
 * gives its whole counter in one read, fd 11 gives 1 three times, then
 * both say EAGAIN; fd 12 is not readable until written to; fd 13 is still
 * fd 10's description (empty now).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "zdtmtst.h"

#define BIG 12345678901ull

static struct test_fds s0;

static void efd_at(unsigned int init, int flags, int want)
{
	int fd = eventfd(init, flags);

	if (fd < 0 || dup2(fd, want) != want)
		fail("eventfd at %d: %m", want);
	close(fd);
}

static void put(int fd, uint64_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		fail("write %llu to eventfd %d: %m", (unsigned long long)v, fd);
}

static void expect(int fd, uint64_t want)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v) || v != want)
		fail("eventfd %d: read %llu, not %llu: %m", fd,
		     (unsigned long long)v, (unsigned long long)want);
}

static void expect_empty(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != -1 || errno != EAGAIN)
		fail("eventfd %d: not empty, or not O_NONBLOCK any more", fd);
}

int main(int argc, char **argv)
{
	struct pollfd p = { .fd = 12, .events = POLLIN };
	char fi[256];

	test_init(argc, argv);
	efd_at(0, EFD_NONBLOCK, 10);
	put(10, BIG);
	efd_at(3, EFD_SEMAPHORE | EFD_NONBLOCK, 11);
	efd_at(0, 0, 12);
	if (dup2(10, 13) != 13)
		fail("dup2: %m");
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	read_file("/proc/self/fdinfo/11", fi, sizeof(fi));
	if (!strstr(fi, "eventfd-semaphore: 1"))
		fail("fd 11 is no longer EFD_SEMAPHORE:\n%s", fi);
	expect(10, BIG);
	expect_empty(13);
	expect(11, 1);
	expect(11, 1);
	expect(11, 1);
	expect_empty(11);
	if (poll(&p, 1, 0) != 0)
		fail("fd 12 is readable while empty");
	put(12, 7);
	expect(12, 7);
	pass();
}
