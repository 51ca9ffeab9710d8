/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_SYSCALLS_H
#define CRLITE_SYSCALLS_H

/* Thin wrappers for the syscalls glibc 2.36 does not wrap, or wraps late. */
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_process_madvise
#define __NR_process_madvise 440
#endif
#ifndef __NR_rseq
#define __NR_rseq 334
#endif

static inline long sys_clone3(struct clone_args *args, size_t size)
{
	return syscall(__NR_clone3, args, size);
}

static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(__NR_pidfd_open, pid, flags);
}

static inline int sys_pidfd_getfd(int pidfd, int fd, unsigned int flags)
{
	return syscall(__NR_pidfd_getfd, pidfd, fd, flags);
}

static inline int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info,
					unsigned int flags)
{
	return syscall(__NR_pidfd_send_signal, pidfd, sig, info, flags);
}

static inline ssize_t sys_process_madvise(int pidfd, const struct iovec *iov,
					  size_t n, int advice,
					  unsigned int flags)
{
	return syscall(__NR_process_madvise, pidfd, iov, n, advice, flags);
}

static inline pid_t sys_gettid(void)
{
	return syscall(SYS_gettid);
}

#endif
