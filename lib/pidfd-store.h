/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_PIDFD_STORE_H
#define CRLITE_PIDFD_STORE_H

/*
 * What `criu-lite restore --pidfd-store=SOCKET` sends a supervisor, once the
 * tree is restored and running: one message per restored process, parents
 * before children, each carrying exactly one pidfd for that process as
 * SCM_RIGHTS; then criu-lite shuts its side down (the supervisor reads EOF).
 * Zombies and --pidns's PID 1 get none. criu-lite connects to SOCKET with
 * SOCK_SEQPACKET, or SOCK_STREAM if the listener is a stream socket; the
 * message has a fixed size, so a stream reader reads exactly that many bytes
 * per recvmsg(). Fields are in the host's byte order. See criu-lite(8).
 */
#include <stdint.h>

#define CRL_PIDFD_MSG_MAGIC	0x46504c43U	/* "CLPF" in memory on x86 */
#define CRL_PIDFD_MSG_VERSION	1

/* flags */
#define CRL_PIDFD_ENFORCED	(1U << 0)	/* the kernel checks .rights */
#define CRL_PIDFD_ROOT		(1U << 1)	/* the restored tree's root */

struct crl_pidfd_msg {
	uint32_t magic;		/* CRL_PIDFD_MSG_MAGIC */
	uint16_t version;	/* CRL_PIDFD_MSG_VERSION */
	uint16_t size;		/* sizeof(struct crl_pidfd_msg): 32 */
	int32_t pid;		/* as the supervisor sees it; 0: not visible */
	int32_t image_pid;	/* in the images (pstree.img, the dumper's view) */
	uint32_t rights;	/* PIDFD_RIGHT_* (lib/kapi.h) the pidfd holds */
	uint32_t flags;		/* CRL_PIDFD_* */
	uint32_t index;		/* this message: 0 .. count - 1 */
	uint32_t count;		/* messages in all (restored processes) */
};

_Static_assert(sizeof(struct crl_pidfd_msg) == 32, "pidfd-store ABI");

#endif
