// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Helpers for the interfaces of criu-lite's kernel series (see kapi.h).
 * "Absent" is told apart from every other failure by errno: the series'
 * pidfd ioctls are unknown to other kernels (ENOTTY, or EINVAL from a file
 * type that takes no ioctls), and process_madvise() without the series
 * refuses any flag with EINVAL.
 */
#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kapi.h"
#include "syscalls.h"

#ifndef MADV_COLD
#define MADV_COLD 20
#endif

static int ioctl_absent(void)
{
	if (errno == ENOTTY || errno == EINVAL)
		errno = EOPNOTSUPP;
	return -1;
}

int pidfd_layout_seq(int pidfd, uint64_t *seq)
{
	if (ioctl(pidfd, PIDFD_GET_LAYOUT_SEQ, seq) == 0)
		return 0;
	return ioctl_absent();
}

int pidfd_get_rights(int pidfd)
{
	int ret = ioctl(pidfd, PIDFD_GET_RIGHTS);

	return ret >= 0 ? ret : ioctl_absent();
}

int pidfd_derive(int pidfd, uint64_t rights)
{
	int fd = ioctl(pidfd, PIDFD_DERIVE, (unsigned long)rights);

	if (fd >= 0)
		return fd;
	if (errno == ENOTTY) {
		errno = EOPNOTSUPP;
	} else if (errno == EINVAL) {
		/* the series' answer to unknown bits, or no series at all */
		if (pidfd_get_rights(pidfd) >= 0 || errno != EOPNOTSUPP)
			errno = EINVAL;
	}
	return -1;
}

static long madvise6(int pidfd, const struct iovec *iov, size_t n, int advice,
		     unsigned int flags, const uint64_t *seq)
{
	return syscall(__NR_process_madvise, pidfd, iov, n, advice, flags, seq);
}

ssize_t process_madvise_seq(int pidfd, const struct iovec *iov, size_t n,
			    int advice, const uint64_t *seq)
{
	uint64_t now;
	ssize_t ret;

	if (!seq)
		return sys_process_madvise(pidfd, iov, n, advice, 0);
	ret = madvise6(pidfd, iov, n, advice, PROCESS_MADVISE_LAYOUT_SEQ, seq);
	/*
	 * Without the series the flag is refused with EINVAL, as bad
	 * arguments are: a kernel that can't give out a cookie lacks it.
	 */
	if (ret < 0 && errno == EINVAL) {
		if (pidfd_layout_seq(pidfd, &now) == 0 || errno != EOPNOTSUPP)
			errno = EINVAL;
	}
	return ret;
}

int kapi_probe_layout_seq(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct iovec iov = { .iov_len = page };
	int pfd, ret = -1, saved;
	uint64_t seq;
	void *other;

	pfd = sys_pidfd_open(getpid(), 0);
	if (pfd < 0)
		return errno == ENOSYS ? 0 : -1;
	iov.iov_base = mmap(NULL, page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (iov.iov_base == MAP_FAILED)
		goto out_close;
	*(volatile char *)iov.iov_base = 1;

	if (pidfd_layout_seq(pfd, &seq)) {
		ret = errno == EOPNOTSUPP ? 0 : -1;
		goto out_unmap;
	}
	if (madvise6(pfd, &iov, 1, MADV_COLD, PROCESS_MADVISE_LAYOUT_SEQ,
		     &seq) != page) {
		/* no process_madvise, or no flag: cold marking can't use it */
		ret = errno == EINVAL || errno == ENOSYS ? 0 : -1;
		goto out_unmap;
	}
	/* a new mapping changes the layout: the cookie must now be refused */
	other = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (other == MAP_FAILED)
		goto out_unmap;
	if (madvise6(pfd, &iov, 1, MADV_COLD, PROCESS_MADVISE_LAYOUT_SEQ,
		     &seq) < 0 && errno == ESTALE)
		ret = 1;
	else
		ret = 0;	/* the flag was accepted but not honoured */
	munmap(other, page);
out_unmap:
	saved = errno;
	munmap(iov.iov_base, page);
	errno = saved;
out_close:
	saved = errno;
	close(pfd);
	errno = saved;
	return ret;
}

int kapi_probe_pidfd_rights(void)
{
	int pfd, dfd = -1, ret = -1, saved;

	pfd = sys_pidfd_open(getpid(), 0);
	if (pfd < 0)
		return errno == ENOSYS ? 0 : -1;
	if (pidfd_get_rights(pfd) < 0) {
		ret = errno == EOPNOTSUPP ? 0 : -1;
		goto out;
	}
	dfd = pidfd_derive(pfd, PIDFD_RIGHT_WAIT);
	if (dfd < 0) {
		ret = errno == EOPNOTSUPP ? 0 : -1;
		goto out;
	}
	/* derived exactly; the right it lacks is refused; none can be added */
	ret = pidfd_get_rights(dfd) == (int)PIDFD_RIGHT_WAIT &&
	      sys_pidfd_send_signal(dfd, 0, NULL, 0) < 0 && errno == EPERM &&
	      pidfd_derive(dfd, PIDFD_RIGHT_WAIT | PIDFD_RIGHT_SIGNAL) < 0 &&
	      errno == EPERM;
out:
	saved = errno;
	if (dfd >= 0)
		close(dfd);
	close(pfd);
	errno = saved;
	return ret;
}
