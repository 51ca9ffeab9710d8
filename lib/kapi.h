/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_KAPI_H
#define CRLITE_KAPI_H

/*
 * The interfaces criu-lite's own kernel series adds (kernel/patches), not in
 * mainline: a VMA layout cookie that process_madvise() checks, and rights on
 * a pidfd. This header is the one place in criu-lite that spells their
 * numbers; they are the series' uapi (<linux/pidfd.h>, <linux/mman.h>), and
 * kernel/ci-fast fails if the patched headers ever disagree.
 *
 * On a kernel without the series every helper fails with errno EOPNOTSUPP
 * (the pidfd ioctls are unknown there: ENOTTY). The kapi_probe_*() functions
 * use each feature once on the calling process and answer 1 (present),
 * 0 (absent) or -1 (the probe itself failed, errno says why). Nothing here
 * logs: only the caller knows whether an absent feature is an error.
 */
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef PIDFD_GET_LAYOUT_SEQ
#define PIDFD_GET_LAYOUT_SEQ		_IOR(0xFF, 0x40, uint64_t)
#endif
#ifndef PIDFD_GET_RIGHTS
#define PIDFD_GET_RIGHTS		_IO(0xFF, 0x41)
#endif
#ifndef PIDFD_DERIVE
#define PIDFD_DERIVE			_IO(0xFF, 0x42)
#endif
#ifndef PIDFD_RIGHT_WAIT
#define PIDFD_RIGHT_WAIT		(1U << 0)	/* waitid(P_PIDFD) */
#define PIDFD_RIGHT_SIGNAL		(1U << 1)	/* pidfd_send_signal, process_mrelease */
#define PIDFD_RIGHT_GETFD		(1U << 2)	/* pidfd_getfd */
#define PIDFD_RIGHT_MADVISE		(1U << 3)	/* process_madvise, PIDFD_GET_LAYOUT_SEQ */
#define PIDFD_RIGHT_SETNS		(1U << 4)	/* setns */
#define PIDFD_RIGHTS_ALL		0x1fU
#endif
#ifndef PROCESS_MADVISE_LAYOUT_SEQ
#define PROCESS_MADVISE_LAYOUT_SEQ	0x1
#endif

/*
 * Reads the VMA layout cookie of the process PIDFD names into *seq. The
 * value is opaque: only equality with a later reading means anything.
 * 0, or -1 with errno: EOPNOTSUPP (no series), EPERM/EACCES (no ptrace read
 * access, or a pidfd without PIDFD_RIGHT_MADVISE), ESRCH (exited).
 */
int pidfd_layout_seq(int pidfd, uint64_t *seq);

/*
 * A new pidfd (O_CLOEXEC) for the same process holding only RIGHTS, which
 * must be a subset of what PIDFD holds. The fd, or -1 with errno:
 * EOPNOTSUPP (no series), EPERM (RIGHTS asks for a right PIDFD lacks),
 * EINVAL (a bit that names no right).
 */
int pidfd_derive(int pidfd, uint64_t rights);

/* The rights PIDFD holds (PIDFD_RIGHT_*), or -1 with errno (EOPNOTSUPP). */
int pidfd_get_rights(int pidfd);

/*
 * process_madvise(2), with the advice refused if SEQ is given and the
 * target's layout changed since *SEQ was read (pidfd_layout_seq()). Returns
 * the bytes advised, or -1 with errno: ESTALE (layout changed: read the
 * maps and the cookie again), EOPNOTSUPP (SEQ given, kernel without the
 * series), or what process_madvise itself fails with. SEQ NULL is plain
 * process_madvise, on any kernel that has it.
 */
ssize_t process_madvise_seq(int pidfd, const struct iovec *iov, size_t n,
			    int advice, const uint64_t *seq);

/* 1 if a fresh cookie is accepted and a stale one refused with ESTALE. */
int kapi_probe_layout_seq(void);
/* 1 if a pidfd can be derived with fewer rights and they are enforced. */
int kapi_probe_pidfd_rights(void);

#endif
