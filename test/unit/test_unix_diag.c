// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/unix-diag.c against sockets this test makes: a socketpair's ends
 * name each other, a listener reports its backlog and the client queued
 * on it (by the client's inode), names come back as bound, queue lengths
 * and shutdown are read.
 */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "unit.h"
#include "unix-diag.h"

static uint32_t ino_of(int fd)
{
	struct stat st;

	cr_assert(!fstat(fd, &st), "fstat: %m");
	return st.st_ino;
}

static const struct unix_diag_sk *find(const struct unix_diag_table *t, int fd)
{
	const struct unix_diag_sk *d = unix_diag_find(t, ino_of(fd));

	cr_assert(d, "fd %d (inode %u) is not listed", fd, ino_of(fd));
	return d;
}

Test(unix_diag, pair_peers_queue_shutdown)
{
	struct unix_diag_table t;
	int sv[2];

	cr_assert(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	cr_assert(send(sv[0], "hello", 5, 0) == 5);
	cr_assert(!shutdown(sv[1], SHUT_WR));
	cr_assert(!unix_diag_collect(&t), "collect: %m");
	cr_assert_eq(find(&t, sv[0])->peer, ino_of(sv[1]));
	cr_assert_eq(find(&t, sv[1])->peer, ino_of(sv[0]));
	cr_assert_eq(find(&t, sv[1])->type, SOCK_SEQPACKET);
	cr_assert_eq(find(&t, sv[1])->rqueue, 5);
	cr_assert_eq(find(&t, sv[1])->shutdown, 2);
	cr_assert_eq(find(&t, sv[0])->shutdown, 1);
	cr_assert_eq(find(&t, sv[0])->name_len, 0);
	unix_diag_free(&t);
	close(sv[0]);
	close(sv[1]);
}

Test(unix_diag, listener_backlog_queued_name)
{
	static const char name[] = "\0criu-lite-unit-unix-diag";
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + sizeof(name) - 1;
	struct unix_diag_table t;
	const struct unix_diag_sk *d;
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);

	memcpy(a.sun_path, name, sizeof(name) - 1);
	cr_assert(!bind(l, (struct sockaddr *)&a, len), "bind: %m");
	cr_assert(!listen(l, 9));
	cr_assert(!connect(c, (struct sockaddr *)&a, len), "connect: %m");
	cr_assert(!unix_diag_collect(&t), "collect: %m");
	d = find(&t, l);
	cr_assert_eq(d->state, 10 /* TCP_LISTEN */);
	cr_assert_eq(d->wqueue, 9);
	cr_assert_eq(d->n_icons, 1);
	cr_assert_eq(d->icons[0], ino_of(c));
	cr_assert_eq(d->name_len, sizeof(name) - 1);
	cr_assert(!memcmp(d->name, name, d->name_len));
	cr_assert_eq(find(&t, c)->peer, 0, "a queued client's peer has no inode");
	cr_assert(!unix_diag_find(&t, 0));
	unix_diag_free(&t);
	close(c);
	close(l);
}
