// SPDX-License-Identifier: GPL-2.0-only
/*
 * lib/kapi.c against a booted kernel, inside the qemu guest of run-qemu:
 *
 *   kapi_test present   the series is there: every helper works and the
 *                       kernel's answers (ESTALE, EPERM, EINVAL) come through
 *   kapi_test absent    no series: every helper says EOPNOTSUPP
 *
 * Prints TAP; exits 1 if any check fails. Linked statically with libcrlite.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kapi.h"
#include "syscalls.h"

#ifndef MADV_COLD
#define MADV_COLD 20
#endif

static int n, failed;

static void check(int ok, const char *what)
{
	int err = errno;

	n++;
	if (!ok)
		failed++;
	printf("%sok %d %s", ok ? "" : "not ", n, what);
	if (!ok)
		printf(" # errno %d (%s)", err, strerror(err));
	printf("\n");
}

static void *map_page(struct iovec *iov)
{
	iov->iov_len = getpagesize();
	iov->iov_base = mmap(NULL, iov->iov_len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (iov->iov_base != MAP_FAILED)
		*(volatile char *)iov->iov_base = 1;
	return iov->iov_base;
}

/* Without a cookie it is plain process_madvise, with or without the series. */
static void check_plain_madvise(int pfd, const struct iovec *iov)
{
	check(process_madvise_seq(pfd, iov, 1, MADV_COLD, NULL) ==
	      (ssize_t)iov->iov_len, "no cookie: plain process_madvise");
}

static void present(int pfd)
{
	uint64_t seq = 0, again = 0, after = 0;
	struct iovec iov;
	void *other;
	int d, d2;

	check(kapi_probe_layout_seq() == 1, "layout_seq probe says present");
	check(kapi_probe_pidfd_rights() == 1, "pidfd_rights probe says present");

	check(map_page(&iov) != MAP_FAILED, "mmap a page");
	check(pidfd_layout_seq(pfd, &seq) == 0, "pidfd_layout_seq reads a cookie");
	check(pidfd_layout_seq(pfd, &again) == 0 && again == seq,
	      "cookie is stable while the layout is");
	check(process_madvise_seq(pfd, &iov, 1, MADV_COLD, &seq) ==
	      (ssize_t)iov.iov_len, "fresh cookie: advice applied");
	other = mmap(NULL, iov.iov_len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	check(pidfd_layout_seq(pfd, &after) == 0 && after != seq,
	      "mmap changes the cookie");
	errno = 0;
	check(process_madvise_seq(pfd, &iov, 1, MADV_COLD, &seq) < 0 &&
	      errno == ESTALE, "stale cookie: ESTALE");
	check_plain_madvise(pfd, &iov);
	munmap(other, iov.iov_len);
	munmap(iov.iov_base, iov.iov_len);

	check(pidfd_get_rights(pfd) == (int)PIDFD_RIGHTS_ALL,
	      "pidfd_open gives every right");
	d = pidfd_derive(pfd, PIDFD_RIGHT_WAIT);
	check(d >= 0 && pidfd_get_rights(d) == (int)PIDFD_RIGHT_WAIT,
	      "pidfd_derive(WAIT) holds exactly WAIT");
	errno = 0;
	check(sys_pidfd_send_signal(d, 0, NULL, 0) < 0 && errno == EPERM,
	      "derived pidfd without SIGNAL: pidfd_send_signal EPERM");
	errno = 0;
	check(pidfd_layout_seq(d, &seq) < 0 && errno == EPERM,
	      "derived pidfd without MADVISE: pidfd_layout_seq EPERM");
	errno = 0;
	d2 = pidfd_derive(d, PIDFD_RIGHT_WAIT | PIDFD_RIGHT_SIGNAL);
	check(d2 < 0 && errno == EPERM, "rights cannot be raised: EPERM");
	errno = 0;
	d2 = pidfd_derive(pfd, 1ULL << 20);
	check(d2 < 0 && errno == EINVAL, "unknown right: EINVAL, not absent");
	if (d >= 0)
		close(d);
}

static void absent(int pfd)
{
	uint64_t seq = 0;
	struct iovec iov;

	check(kapi_probe_layout_seq() == 0, "layout_seq probe says absent");
	check(kapi_probe_pidfd_rights() == 0, "pidfd_rights probe says absent");
	check(map_page(&iov) != MAP_FAILED, "mmap a page");
	errno = 0;
	check(pidfd_layout_seq(pfd, &seq) < 0 && errno == EOPNOTSUPP,
	      "pidfd_layout_seq: EOPNOTSUPP");
	errno = 0;
	check(process_madvise_seq(pfd, &iov, 1, MADV_COLD, &seq) < 0 &&
	      errno == EOPNOTSUPP, "process_madvise with cookie: EOPNOTSUPP");
	check_plain_madvise(pfd, &iov);
	errno = 0;
	check(pidfd_get_rights(pfd) < 0 && errno == EOPNOTSUPP,
	      "pidfd_get_rights: EOPNOTSUPP");
	errno = 0;
	check(pidfd_derive(pfd, PIDFD_RIGHT_WAIT) < 0 && errno == EOPNOTSUPP,
	      "pidfd_derive: EOPNOTSUPP");
	munmap(iov.iov_base, iov.iov_len);
}

int main(int argc, char **argv)
{
	int pfd;

	if (argc != 2 || (strcmp(argv[1], "present") &&
			  strcmp(argv[1], "absent"))) {
		fprintf(stderr, "usage: %s present|absent\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pfd = sys_pidfd_open(getpid(), 0);
	if (pfd < 0) {
		perror("pidfd_open");
		return 1;
	}
	if (!strcmp(argv[1], "present"))
		present(pfd);
	else
		absent(pfd);
	close(pfd);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
