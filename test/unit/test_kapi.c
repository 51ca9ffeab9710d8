// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/kapi.c on the machine the unit tests run on, which has no kernel
 * series (mainline does not): each helper must say EOPNOTSUPP, other
 * failures must keep their own errno, and what mainline has must still
 * work. On a kernel with the series the absent-only tests skip; the present
 * path is tested inside the qemu guest (kernel/guest/kapi_test.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "kapi.h"
#include "syscalls.h"
#include "unit.h"

#ifndef MADV_COLD
#define MADV_COLD 20
#endif

static int self_pidfd(void)
{
	int fd = sys_pidfd_open(getpid(), 0);

	cr_assert(fd >= 0, "pidfd_open(self): %m");
	return fd;
}

/* 1 if this kernel has the series (by the raw ioctl, not by kapi.c) */
static int series_present(void)
{
	int fd = self_pidfd(), ret;
	uint64_t seq;

	ret = ioctl(fd, PIDFD_GET_LAYOUT_SEQ, &seq);
	close(fd);
	return ret == 0;
}

static void *page(void)
{
	void *p = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert(p != MAP_FAILED);
	*(volatile char *)p = 1;
	return p;
}

Test(kapi, probes_agree_with_the_kernel)
{
	int present = series_present();

	cr_expect_eq(kapi_probe_layout_seq(), present);
	cr_expect_eq(kapi_probe_pidfd_rights(), present);
}

Test(kapi, absent_is_eopnotsupp)
{
	struct iovec iov = { .iov_len = getpagesize() };
	uint64_t seq = 42;
	int fd;

	if (series_present())
		cr_skip_test("this kernel has the series");
	fd = self_pidfd();
	iov.iov_base = page();

	errno = 0;
	cr_expect_eq(pidfd_layout_seq(fd, &seq), -1);
	cr_expect_eq(errno, EOPNOTSUPP, "layout_seq: %m");
	cr_expect_eq(seq, 42, "nothing written when absent");

	errno = 0;
	cr_expect_eq(pidfd_get_rights(fd), -1);
	cr_expect_eq(errno, EOPNOTSUPP, "get_rights: %m");

	errno = 0;
	cr_expect_eq(pidfd_derive(fd, PIDFD_RIGHT_WAIT), -1);
	cr_expect_eq(errno, EOPNOTSUPP, "derive: %m");
	/* bits the series would call unknown: still "absent", not EINVAL */
	errno = 0;
	cr_expect_eq(pidfd_derive(fd, 1ULL << 40), -1);
	cr_expect_eq(errno, EOPNOTSUPP, "derive unknown bits: %m");

	errno = 0;
	cr_expect_eq(process_madvise_seq(fd, &iov, 1, MADV_COLD, &seq), -1);
	cr_expect_eq(errno, EOPNOTSUPP, "process_madvise with cookie: %m");

	munmap(iov.iov_base, iov.iov_len);
	close(fd);
}

/* Without a cookie it is plain process_madvise, on any kernel. */
Test(kapi, madvise_without_cookie)
{
	struct iovec iov = { .iov_len = getpagesize() };
	int fd = self_pidfd();

	iov.iov_base = page();
	cr_expect_eq(process_madvise_seq(fd, &iov, 1, MADV_COLD, NULL),
		     (ssize_t)iov.iov_len, "process_madvise: %m");
	/* and its own errors come through: advice that does not exist */
	errno = 0;
	cr_expect_eq(process_madvise_seq(fd, &iov, 1, 12345, NULL), -1);
	cr_expect_eq(errno, EINVAL, "%m");
	munmap(iov.iov_base, iov.iov_len);
	close(fd);
}

/* What is not about the series keeps its errno. */
Test(kapi, other_errors_pass_through)
{
	struct iovec iov = { .iov_len = getpagesize() };
	uint64_t seq = 0;

	iov.iov_base = page();
	errno = 0;
	cr_expect_eq(pidfd_layout_seq(-1, &seq), -1);
	cr_expect_eq(errno, EBADF, "layout_seq(-1): %m");
	errno = 0;
	cr_expect_eq(pidfd_derive(-1, PIDFD_RIGHT_WAIT), -1);
	cr_expect_eq(errno, EBADF, "derive(-1): %m");
	errno = 0;
	cr_expect_eq(pidfd_get_rights(-1), -1);
	cr_expect_eq(errno, EBADF, "get_rights(-1): %m");
	errno = 0;
	cr_expect_eq(process_madvise_seq(-1, &iov, 1, MADV_COLD, NULL), -1);
	cr_expect_eq(errno, EBADF, "process_madvise(-1): %m");
	munmap(iov.iov_base, iov.iov_len);
}

/* The probes leave no descriptor or mapping behind. */
Test(kapi, probes_leak_nothing)
{
	int before = dup(0), after;

	close(before);
	kapi_probe_layout_seq();
	kapi_probe_pidfd_rights();
	after = dup(0);
	close(after);
	cr_expect_eq(after, before, "a probe leaked fd %d", before);
}
