/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_UNIX_DIAG_H
#define CRLITE_UNIX_DIAG_H

/*
 * Every unix socket of the caller's network namespace as sock_diag
 * (NETLINK_SOCK_DIAG, unix_diag) reports it: the facts /proc does not show,
 * above all which socket is whose peer, by inode.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

struct unix_diag_sk {
	uint32_t ino;
	uint8_t type;		/* SOCK_STREAM, _DGRAM, _SEQPACKET */
	uint8_t state;		/* TCP_ESTABLISHED, _CLOSE, _LISTEN */
	uint8_t shutdown;	/* sk_shutdown: 1 receive, 2 send */
	uint32_t peer;		/* the peer's inode, 0: none (or gone) */
	uint32_t vfs_ino;	/* a path name: the socket file's inode */
	uint32_t vfs_dev;
	/* the bound name (sun_path), abstract ones start with a NUL */
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t name_len;	/* 0: unnamed */
	/* listening: connections queued and the backlog; else bytes queued */
	uint32_t rqueue, wqueue;
	uint32_t *icons;	/* listening: the queued connections' inodes */
	uint32_t n_icons;
};

struct unix_diag_table {
	struct unix_diag_sk *v;	/* sorted by inode */
	size_t n, cap;
	int oom;		/* an answer did not fit in memory */
};

/* Fill T with every unix socket; -1 with errno set (nothing logged). */
int unix_diag_collect(struct unix_diag_table *t);
const struct unix_diag_sk *unix_diag_find(const struct unix_diag_table *t,
					  uint32_t ino);
void unix_diag_free(struct unix_diag_table *t);

#endif
