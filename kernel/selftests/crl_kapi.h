/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace view of the criu-lite kernel series: constants from the patched
 * uapi headers, with fallbacks so the same binaries can also be run on an
 * unpatched kernel (where they must fail). Build with -DCRL_REQUIRE_UAPI to
 * insist that the headers in use are the patched ones.
 */
#ifndef CRL_KAPI_H
#define CRL_KAPI_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
/*
 * <linux/pidfd.h> pulls in <linux/fcntl.h>, whose O_* definitions clash with
 * glibc's <fcntl.h>; glibc already gave us everything it would add.
 */
#ifndef _LINUX_FCNTL_H
# define _LINUX_FCNTL_H
#endif
#include <linux/pidfd.h>

/* <linux/mman.h> clashes with glibc's <sys/mman.h>: uapi_check.c covers it. */
#ifdef CRL_REQUIRE_UAPI
# if !defined(PIDFD_GET_LAYOUT_SEQ) || !defined(PIDFD_DERIVE) || \
     !defined(PIDFD_GET_RIGHTS) || !defined(PIDFD_RIGHTS_ALL)
#  error "uapi headers lack the criu-lite pidfd additions"
# endif
#endif

#ifndef PIDFD_IOC_MAGIC
# define PIDFD_IOC_MAGIC 0xFF
#endif
#ifndef PIDFD_GET_LAYOUT_SEQ
# define PIDFD_GET_LAYOUT_SEQ _IOR(PIDFD_IOC_MAGIC, 0x40, uint64_t)
#endif
#ifndef PIDFD_GET_RIGHTS
# define PIDFD_GET_RIGHTS _IO(PIDFD_IOC_MAGIC, 0x41)
#endif
#ifndef PIDFD_DERIVE
# define PIDFD_DERIVE _IO(PIDFD_IOC_MAGIC, 0x42)
#endif
#ifndef PIDFD_RIGHT_WAIT
# define PIDFD_RIGHT_WAIT	(1U << 0)
# define PIDFD_RIGHT_SIGNAL	(1U << 1)
# define PIDFD_RIGHT_GETFD	(1U << 2)
# define PIDFD_RIGHT_MADVISE	(1U << 3)
# define PIDFD_RIGHT_SETNS	(1U << 4)
# define PIDFD_RIGHTS_ALL	0x1fU
#endif
#ifndef PROCESS_MADVISE_LAYOUT_SEQ
# define PROCESS_MADVISE_LAYOUT_SEQ 0x1
#endif

#ifndef P_PIDFD
# define P_PIDFD 3
#endif
#ifndef MADV_COLD
# define MADV_COLD 20
#endif
#ifndef __NR_pidfd_send_signal
# define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_pidfd_open
# define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
# define __NR_pidfd_getfd 438
#endif
#ifndef __NR_process_madvise
# define __NR_process_madvise 440
#endif
#ifndef __NR_process_mrelease
# define __NR_process_mrelease 448
#endif

static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(__NR_pidfd_open, pid, flags);
}

static inline int sys_pidfd_send_signal(int pidfd, int sig, unsigned int flags)
{
	return syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, flags);
}

static inline int sys_pidfd_getfd(int pidfd, int fd, unsigned int flags)
{
	return syscall(__NR_pidfd_getfd, pidfd, fd, flags);
}

static inline int sys_process_mrelease(int pidfd, unsigned int flags)
{
	return syscall(__NR_process_mrelease, pidfd, flags);
}

/* The sixth argument is only looked at with PROCESS_MADVISE_LAYOUT_SEQ. */
static inline long sys_process_madvise6(int pidfd, const struct iovec *iov,
					size_t vlen, int advice,
					unsigned int flags, const void *cookie)
{
	return syscall(__NR_process_madvise, pidfd, iov, vlen, advice, flags,
		       cookie);
}

/* Returns 0 and fills *seq, or -errno. */
static inline int pidfd_layout_seq(int pidfd, uint64_t *seq)
{
	return ioctl(pidfd, PIDFD_GET_LAYOUT_SEQ, seq) ? -errno : 0;
}

static inline int pidfd_derive(int pidfd, unsigned long rights)
{
	return ioctl(pidfd, PIDFD_DERIVE, rights);
}

static inline int pidfd_rights(int pidfd)
{
	return ioctl(pidfd, PIDFD_GET_RIGHTS);
}

#endif /* CRL_KAPI_H */
