// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unix domain sockets: stream, dgram and seqpacket. Each socket (a socket
 * has one open file description) is an entry of unix-sk.img: its type and
 * state, its name, its peer by inode, a listener's backlog and queued
 * connections, its shutdown state, its options and what its receive queue
 * holds, message by message.
 *
 * Dump learns who is connected to whom from sock_diag (lib/unix-diag.c),
 * never by guessing, and reads each receive queue without taking it: a
 * pidfd_getfd() copy of the socket peeks (MSG_PEEK) from offset 0 with
 * SO_PEEK_OFF, which is put back afterwards, so --leave-running loses
 * nothing. A peeked message carrying SCM_RIGHTS refuses the dump (the fds
 * it installed here are closed again): descriptors in flight do not come
 * back. So does a stream or seqpacket socket connected to one outside the
 * dumped tree, and a dgram socket connected to an unnamed one outside it;
 * a dgram socket connected to a path outside (/dev/log) is connected to
 * that path again at restore.
 *
 * Restore makes every socket in criu-lite before any task runs: a connected
 * pair with socketpair(), or, when one end was accepted from a listener of
 * the dump, by connect() to the restored listener and accept(), so that the
 * names read the same; then the connections still queued on the listener,
 * by connect() alone, oldest first. Each queue is filled again from the
 * peer's side (a named dgram socket's from a socket of criu-lite's), in
 * order and message by message; then shutdown and options. A path name
 * whose file was unlinked after bind() is bound and unlinked again once
 * everything is connected.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "files.h"
#include "images.h"
#include "log.h"
#include "task.h"
#include "unix-diag.h"

#define SK_RCV_SHUTDOWN	1
#define SK_SEND_SHUTDOWN 2

/* Enough room for the ancillary data of one peeked message. */
#define PEEK_CMSG_SIZE	8192
#define PEEK_CHUNK	(64 << 10)

/*
 * Sockets criu-lite makes: non-blocking while it connects, accepts and
 * fills them (a full backlog or queue fails instead of hanging restore);
 * each gets its own O_NONBLOCK back when handed over.
 */
#define USK_NEW		(SOCK_CLOEXEC | SOCK_NONBLOCK)

static const char *sk_type_name(uint32_t type)
{
	switch (type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	}
	return "unknown";
}

/* A name for messages: @abstract, a path, or "unnamed". */
static const char *sk_name_str(const void *name, size_t len, char *buf,
			       size_t size)
{
	const char *n = name;

	if (!len)
		return "unnamed";
	if (n[0])
		snprintf(buf, size, "%.*s", (int)len, n);
	else
		snprintf(buf, size, "@%.*s", (int)len - 1, n + 1);
	return buf;
}

/* Dump side */

struct usk_seen {
	uint32_t ino;
	pid_t pid;
	int fd;
};

/* A connection queued on a listener: the client's inode, the listener. */
struct usk_icon {
	uint32_t client;
	const struct unix_diag_sk *listener;
};

static struct {
	struct cr_img *img;
	struct unix_diag_table diag;
	struct usk_seen *v;	/* sorted by inode once all are seen */
	size_t n, cap;
	struct usk_icon *icons;	/* every listener's, sorted by client */
	size_t n_icons;
} ud;

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int usk_match(const struct stat *st, const char *link)
{
	return S_ISSOCK(st->st_mode) && !strncmp(link, "socket:", 7) &&
	       unix_diag_find(&ud.diag, st->st_ino);
}

static int usk_dump_start(int dirfd)
{
	if (unix_diag_collect(&ud.diag)) {
		pr_perror("Can't list the unix sockets (sock_diag)");
		return -1;
	}
	ud.img = create_image(dirfd, IMG_UNIX_SK, 0);
	if (!ud.img) {
		unix_diag_free(&ud.diag);
		return -1;
	}
	return 0;
}

static const struct usk_seen *usk_seen(uint32_t ino)
{
	return ud.n ? bsearch(&ino, ud.v, ud.n, sizeof(*ud.v), cmp_u32) : NULL;
}

static int usk_remember(const struct fd_dump_ctx *c, uint32_t ino)
{
	if (ud.n == ud.cap) {
		size_t cap = ud.cap ? ud.cap * 2 : 32;
		struct usk_seen *v = realloc(ud.v, cap * sizeof(*v));

		if (!v) {
			pr_err("Out of memory for %zu unix sockets\n", cap);
			return -1;
		}
		ud.v = v;
		ud.cap = cap;
	}
	ud.v[ud.n++] = (struct usk_seen){ ino, c->t->pid, c->fd };
	return 0;
}

/* The path name's file, as the task sees it: stat()ed and checked. */
static int usk_dump_path(const struct fd_dump_ctx *c,
			 const struct unix_diag_sk *d, UnixSkEntry *e)
{
	char path[PATH_MAX + 64], dir[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (d->name[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%.*s", c->t->pid,
			 (int)d->name_len, d->name);
	} else {
		snprintf(path, sizeof(path), "/proc/%d/cwd", c->t->pid);
		n = readlink(path, dir, sizeof(dir) - 1);
		if (n < 0) {
			pr_perror("PID %d: can't read its cwd for fd %d", c->t->pid,
				  c->fd);
			return -1;
		}
		dir[n] = '\0';
		e->name_dir = strdup(dir);
		snprintf(path, sizeof(path), "/proc/%d/cwd/%.*s", c->t->pid,
			 (int)d->name_len, d->name);
	}
	if (stat(path, &st) || !S_ISSOCK(st.st_mode) ||
	    st.st_ino != d->vfs_ino) {
		/* a relative one is bound anywhere at restore, then unlinked */
		free(e->name_dir);
		e->name_dir = NULL;
		e->has_name_unlinked = 1;
		e->name_unlinked = 1;
		return 0;
	}
	e->has_name_mode = e->has_name_uid = e->has_name_gid = 1;
	e->name_mode = st.st_mode & 07777;
	e->name_uid = st.st_uid;
	e->name_gid = st.st_gid;
	return 0;
}

static int usk_dump_opts(const struct fd_dump_ctx *c, int fd, UnixSkOpts *o)
{
	static const int ints[] = { SO_PASSCRED, SO_PASSSEC, SO_RCVBUF,
				    SO_SNDBUF, SO_PEEK_OFF };
	int v[ARRAY_SIZE(ints)];
	struct timeval rt, st;
	socklen_t len;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ints); i++) {
		len = sizeof(v[i]);
		if (getsockopt(fd, SOL_SOCKET, ints[i], &v[i], &len)) {
			pr_perror("PID %d: fd %d: getsockopt(%d)", c->t->pid,
				  c->fd, ints[i]);
			return -1;
		}
	}
	len = sizeof(rt);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, &len) ||
	    (len = sizeof(st),
	     getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, &len))) {
		pr_perror("PID %d: fd %d: getsockopt(SO_RCVTIMEO/SO_SNDTIMEO)",
			  c->t->pid, c->fd);
		return -1;
	}
	o->passcred = v[0];
	o->passsec = v[1];
	o->rcvbuf = v[2];
	o->sndbuf = v[3];
	o->peek_off = v[4];
	o->rcvtimeo_us = rt.tv_sec * 1000000ULL + rt.tv_usec;
	o->sndtimeo_us = st.tv_sec * 1000000ULL + st.tv_usec;
	return 0;
}

/* Close the fds a peeked SCM_RIGHTS installed here; 1 if there were any. */
static int peeked_rights(struct msghdr *mh)
{
	struct cmsghdr *cm;
	int found = 0;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int *fds = (int *)CMSG_DATA(cm);
		size_t i, n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++)
			close(fds[i]);
		found = 1;
	}
	return found || (mh->msg_flags & MSG_CTRUNC);
}

struct peek {
	const struct fd_dump_ctx *c;
	const struct unix_diag_sk *d;
	int fd;
	_Alignas(struct cmsghdr) char cbuf[PEEK_CMSG_SIZE];
};

#define PEEK_END	(-2)

/*
 * Peek the next LEN bytes at most into BUF: the length of what is left of
 * the message (MSG_TRUNC; a stream: the bytes peeked), PEEK_END when nothing
 * more is queued, -1 on error.
 */
static ssize_t peek_some(struct peek *p, void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = p->cbuf,
			     .msg_controllen = sizeof(p->cbuf) };
	int flags = MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC;
	ssize_t n;

	if (p->d->type != SOCK_STREAM)
		flags |= MSG_TRUNC;
	n = recvmsg(p->fd, &mh, flags);
	if (n < 0 && errno == EAGAIN)
		return PEEK_END;
	if (n < 0) {
		pr_perror("PID %d: fd %d: can't peek at socket:[%u]",
			  p->c->t->pid, p->c->fd, p->d->ino);
		return -1;
	}
	if (peeked_rights(&mh)) {
		pr_err("PID %d: fd %d: unix socket socket:[%u] has descriptors in flight (SCM_RIGHTS sent, not yet received), which criu-lite can't dump\n",
		       p->c->t->pid, p->c->fd, p->d->ino);
		return -1;
	}
	return n;
}

static int queue_add(UnixSkEntry *e, const void *data, size_t len)
{
	ProtobufCBinaryData *q = realloc(e->queue,
					 (e->n_queue + 1) * sizeof(*q));

	if (!q)
		return -1;
	e->queue = q;
	q[e->n_queue].data = malloc(len ? len : 1);
	if (!q[e->n_queue].data)
		return -1;
	memcpy(q[e->n_queue].data, data, len);
	q[e->n_queue++].len = len;
	return 0;
}

/* One whole message (or, for a stream, what one peek gives): 0 at the end. */
static ssize_t peek_one(struct peek *p, UnixSkEntry *e, char **buf,
			size_t *cap)
{
	ssize_t n, more, got;

	n = peek_some(p, *buf, *cap);
	if (n == PEEK_END || (n == 0 && p->d->type == SOCK_STREAM))
		return 0;
	if (n < 0)
		return -1;
	got = n < (ssize_t)*cap ? n : (ssize_t)*cap;
	if (n > (ssize_t)*cap) {
		char *nb = realloc(*buf, n);

		if (!nb)
			goto oom;
		*buf = nb;
		*cap = n;
		/* the rest of the message, from the peek offset on */
		more = peek_some(p, *buf + got, n - got);
		if (more != n - got) {
			pr_err("PID %d: fd %d: socket:[%u]: a %zd-byte message changed while peeked\n",
			       p->c->t->pid, p->c->fd, p->d->ino, n);
			return -1;
		}
	}
	if (queue_add(e, *buf, n) == 0)
		return 1;
oom:
	pr_err("PID %d: fd %d: out of memory for the queue of socket:[%u]\n",
	       p->c->t->pid, p->c->fd, p->d->ino);
	return -1;
}

/*
 * Every message queued for FD, read from offset 0 with SO_PEEK_OFF: the
 * task's own peek offset is put back afterwards.
 */
static int usk_dump_queue(const struct fd_dump_ctx *c,
			  const struct unix_diag_sk *d, int fd, UnixSkEntry *e)
{
	struct peek *p = malloc(sizeof(*p));
	int inq = 0, ret = -1, zero = 0;
	size_t cap = PEEK_CHUNK, total = 0;
	char *buf = malloc(cap);
	ssize_t n;

	if (!p || !buf) {
		pr_err("PID %d: fd %d: out of memory to peek\n", c->t->pid, c->fd);
		goto out_free;
	}
	*p = (struct peek){ c, d, fd };
	if (ioctl(fd, SIOCINQ, &inq) ||
	    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero))) {
		pr_perror("PID %d: fd %d: SIOCINQ/SO_PEEK_OFF on socket:[%u]",
			  c->t->pid, c->fd, d->ino);
		goto out_free;
	}
	for (;;) {
		/* shut down for reading, a seqpacket socket peeks 0 at the end */
		if (d->type == SOCK_SEQPACKET && total >= (size_t)inq &&
		    (d->shutdown & SK_RCV_SHUTDOWN))
			break;
		n = peek_one(p, e, &buf, &cap);
		if (n <= 0)
			break;
		total += e->queue[e->n_queue - 1].len;
	}
	ret = n < 0 ? -1 : 0;
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &e->opts->peek_off,
		       sizeof(int))) {
		pr_perror("PID %d: fd %d: can't put SO_PEEK_OFF of socket:[%u] back to %d",
			  c->t->pid, c->fd, d->ino, e->opts->peek_off);
		ret = -1;
	}
	pr_debug("PID %d: fd %d: socket:[%u] holds %zu bytes in %zu messages\n",
		 c->t->pid, c->fd, d->ino, total, e->n_queue);
out_free:
	free(buf);
	free(p);
	return ret;
}

static void usk_entry_free(UnixSkEntry *e)
{
	size_t i;

	for (i = 0; i < e->n_queue; i++)
		free(e->queue[i].data);
	free(e->queue);
	free(e->name_dir);
	free(e->peer_path);
}

static int usk_dump_entry(const struct fd_dump_ctx *c,
			  const struct unix_diag_sk *d, int fd, UnixSkEntry *e)
{
	const struct unix_diag_sk *peer;

	e->id = c->id;
	e->ino = d->ino;
	e->type = d->type;
	e->state = d->state;
	e->flags = c->fi->flags & ~O_CLOEXEC;
	e->shutdown = d->shutdown;
	if (d->name_len) {
		e->has_name = 1;
		e->name.data = (uint8_t *)d->name;
		e->name.len = d->name_len;
		if (d->name[0] && usk_dump_path(c, d, e))
			return -1;
	}
	if (d->peer) {
		e->has_peer = 1;
		e->peer = d->peer;
		peer = unix_diag_find(&ud.diag, d->peer);
		if (d->type == SOCK_DGRAM && peer && peer->name_len &&
		    peer->name[0]) {
			e->peer_path = strndup(peer->name, peer->name_len);
			if (!e->peer_path)
				return -1;
		}
	}
	if (d->state == TCP_LISTEN) {
		e->has_backlog = 1;
		e->backlog = d->wqueue;
		e->icons = d->icons;
		e->n_icons = d->n_icons;
		return usk_dump_opts(c, fd, e->opts);
	}
	if (usk_dump_opts(c, fd, e->opts))
		return -1;
	return usk_dump_queue(c, d, fd, e);
}

static int usk_dump(const struct fd_dump_ctx *c)
{
	const struct unix_diag_sk *d = unix_diag_find(&ud.diag, c->st->st_ino);
	UnixSkEntry e = UNIX_SK_ENTRY__INIT;
	UnixSkOpts o = UNIX_SK_OPTS__INIT;
	char name[128];
	int fd, ret;

	if (d->type != SOCK_STREAM && d->type != SOCK_DGRAM &&
	    d->type != SOCK_SEQPACKET) {
		pr_err("PID %d: fd %d: unix socket socket:[%u] is of type %u, which criu-lite can't dump\n",
		       c->t->pid, c->fd, d->ino, d->type);
		return -1;
	}
	fd = fd_dump_take(c);
	if (fd < 0)
		return -1;
	e.opts = &o;
	ret = usk_dump_entry(c, d, fd, &e);
	close(fd);
	if (!ret)
		ret = img_write_msg(ud.img, &e.base);
	if (!ret)
		ret = usk_remember(c, d->ino);
	pr_debug("PID %d: fd %d: unix %s socket:[%u] %s, state %u, peer %u\n",
		 c->t->pid, c->fd, sk_type_name(d->type), d->ino,
		 sk_name_str(d->name, d->name_len, name, sizeof(name)),
		 d->state, d->peer);
	usk_entry_free(&e);
	return ret;
}

/* Index the queued connections of every listener in the namespace. */
static int index_icons(void)
{
	size_t i, n = 0;
	uint32_t j;

	for (i = 0; i < ud.diag.n; i++)
		n += ud.diag.v[i].n_icons;
	ud.icons = malloc((n + 1) * sizeof(*ud.icons));
	if (!ud.icons) {
		pr_err("Out of memory for %zu queued connections\n", n);
		return -1;
	}
	for (i = 0; i < ud.diag.n; i++)
		for (j = 0; j < ud.diag.v[i].n_icons; j++)
			ud.icons[ud.n_icons++] = (struct usk_icon){
				ud.diag.v[i].icons[j], &ud.diag.v[i] };
	qsort(ud.icons, ud.n_icons, sizeof(*ud.icons), cmp_u32);
	return 0;
}

/* The listener, anywhere in the namespace, whose queue holds INO. */
static const struct unix_diag_sk *queued_on(uint32_t ino)
{
	const struct usk_icon *ic;

	if (!ud.n_icons)
		return NULL;
	ic = bsearch(&ino, ud.icons, ud.n_icons, sizeof(*ud.icons), cmp_u32);
	return ic ? ic->listener : NULL;
}

/* A connection S made to a listener, not accepted yet. */
static int check_queued(const struct usk_seen *s, const struct unix_diag_sk *d,
			const struct unix_diag_sk *l)
{
	char name[128];

	if (!usk_seen(l->ino)) {
		pr_err("PID %d: fd %d: unix socket socket:[%u] is connecting to %s (socket:[%u]) outside the dumped tree, which criu-lite can't dump\n",
		       s->pid, s->fd, d->ino,
		       sk_name_str(l->name, l->name_len, name, sizeof(name)),
		       l->ino);
		return -1;
	}
	if (d->wqueue) {
		pr_err("PID %d: fd %d: unix socket socket:[%u] sent data on a connection %s has not accepted yet, which criu-lite can't read to dump it\n",
		       s->pid, s->fd, d->ino,
		       sk_name_str(l->name, l->name_len, name, sizeof(name)));
		return -1;
	}
	return 0;
}

/* Every peer in the dump, or one restore can reach again. */
static int check_peer(const struct usk_seen *s)
{
	const struct unix_diag_sk *d = unix_diag_find(&ud.diag, s->ino), *p, *l;
	char name[128];

	if (d->state == TCP_LISTEN)
		return 0;
	l = d->type != SOCK_DGRAM ? queued_on(d->ino) : NULL;
	if (l)
		return check_queued(s, d, l);
	if (!d->peer || usk_seen(d->peer))
		return 0;
	p = unix_diag_find(&ud.diag, d->peer);
	if (d->type == SOCK_DGRAM && p && p->name_len && p->name[0]) {
		pr_info("PID %d: fd %d: socket:[%u] is connected to %.*s outside the tree: restore connects it there again\n",
			s->pid, s->fd, d->ino, (int)p->name_len, p->name);
		return 0;
	}
	pr_err("PID %d: fd %d: unix %s socket socket:[%u] is connected to socket:[%u] (%s) outside the dumped tree, which criu-lite can't dump\n",
	       s->pid, s->fd, sk_type_name(d->type), d->ino, d->peer,
	       p ? sk_name_str(p->name, p->name_len, name, sizeof(name)) :
		   "gone");
	return -1;
}

/* Connections queued on a dumped listener by clients outside the tree. */
static void warn_foreign_queued(const struct usk_seen *s)
{
	const struct unix_diag_sk *d = unix_diag_find(&ud.diag, s->ino);
	uint32_t i;

	for (i = 0; i < d->n_icons; i++)
		if (!usk_seen(d->icons[i]))
			pr_warn("PID %d: fd %d: the connection of socket:[%u] from outside the tree, queued on socket:[%u], does not come back\n",
				s->pid, s->fd, d->icons[i], d->ino);
}

static int usk_dump_finish(void)
{
	int ret = img_close_write(ud.img);
	size_t i;

	if (ud.n)
		qsort(ud.v, ud.n, sizeof(*ud.v), cmp_u32);
	if (index_icons())
		ret = -1;
	for (i = 0; i < ud.n && ud.icons; i++) {
		if (check_peer(&ud.v[i]))
			ret = -1;
		warn_foreign_queued(&ud.v[i]);
	}
	unix_diag_free(&ud.diag);
	free(ud.v);
	free(ud.icons);
	ud = (typeof(ud)){};
	return ret ? -1 : 0;
}

/* Restore side */

struct rst_usk {
	UnixSkEntry *e;
	int fd;			/* criu-lite's; -1: not made yet */
	int made;
	struct rst_usk *peer;	/* the peer, when the dump holds it */
};

static struct {
	UnixSkEntry **v;
	size_t n;
	struct rst_usk *s;		/* in image order */
	struct rst_usk **by_ino, **by_id;
	struct rst_usk **lst;		/* the listeners */
	size_t n_lst;
	struct unix_diag_table diag;	/* the sockets at restore */
	int unlinked;		/* names to unlink again: done */
	char *tmpdir;		/* relative names unlinked at dump bind here */
} ru;

static int cmp_ino(const void *a, const void *b)
{
	const struct rst_usk *x = *(struct rst_usk *const *)a;
	const struct rst_usk *y = *(struct rst_usk *const *)b;

	return x->e->ino < y->e->ino ? -1 : x->e->ino > y->e->ino;
}

static int cmp_id(const void *a, const void *b)
{
	const struct rst_usk *x = *(struct rst_usk *const *)a;
	const struct rst_usk *y = *(struct rst_usk *const *)b;

	return x->e->id < y->e->id ? -1 : x->e->id > y->e->id;
}

static struct rst_usk *usk_find(struct rst_usk **v, uint32_t key,
				int (*cmp)(const void *, const void *))
{
	UnixSkEntry e = { .ino = key, .id = key };
	struct rst_usk k = { .e = &e }, *kp = &k, **r;

	if (!ru.n)
		return NULL;
	r = bsearch(&kp, v, ru.n, sizeof(*v), cmp);
	return r ? *r : NULL;
}

static struct rst_usk *usk_by_ino(uint32_t ino)
{
	return ino ? usk_find(ru.by_ino, ino, cmp_ino) : NULL;
}

static struct rst_usk *usk_by_id(uint32_t id)
{
	return usk_find(ru.by_id, id, cmp_id);
}

/* Indexes by inode and id, and the listeners. */
static int usk_index(void)
{
	size_t i;

	ru.by_ino = malloc((ru.n + 1) * sizeof(*ru.by_ino));
	ru.by_id = malloc((ru.n + 1) * sizeof(*ru.by_id));
	ru.lst = malloc((ru.n + 1) * sizeof(*ru.lst));
	if (!ru.by_ino || !ru.by_id || !ru.lst) {
		pr_err("Out of memory for %zu unix sockets\n", ru.n);
		return -1;
	}
	for (i = 0; i < ru.n; i++) {
		ru.by_ino[i] = ru.by_id[i] = &ru.s[i];
		if (ru.v[i]->state == TCP_LISTEN)
			ru.lst[ru.n_lst++] = &ru.s[i];
	}
	qsort(ru.by_ino, ru.n, sizeof(*ru.by_ino), cmp_ino);
	qsort(ru.by_id, ru.n, sizeof(*ru.by_id), cmp_id);
	return 0;
}

static int usk_load(int dirfd)
{
	size_t i;

	if (!files_image_exists(dirfd, IMG_UNIX_SK))
		return 0;
	if (files_load_msgs(dirfd, IMG_UNIX_SK, &unix_sk_entry__descriptor,
			    (void ***)&ru.v, &ru.n))
		return -1;
	ru.s = calloc(ru.n + 1, sizeof(*ru.s));
	if (!ru.s) {
		pr_err("Out of memory for %zu unix sockets\n", ru.n);
		return -1;
	}
	for (i = 0; i < ru.n; i++)
		ru.s[i] = (struct rst_usk){ ru.v[i], -1, 0, NULL };
	if (usk_index())
		return -1;
	for (i = 0; i < ru.n; i++)
		if (ru.v[i]->has_peer)
			ru.s[i].peer = usk_by_ino(ru.v[i]->peer);
	if (ru.n && unix_diag_collect(&ru.diag)) {
		pr_perror("Can't list the unix sockets (sock_diag)");
		return -1;
	}
	return 0;
}

static const char *usk_describe(uint32_t id, char *buf, size_t size)
{
	const struct rst_usk *s = usk_by_id(id);
	char name[112];

	if (!s)
		return "socket:[?]";
	snprintf(buf, size, "unix socket socket:[%u] (%s)", s->e->ino,
		 sk_name_str(s->e->name.data, s->e->name.len, name,
			     sizeof(name)));
	return buf;
}

static int same_name(const UnixSkEntry *a, const UnixSkEntry *b)
{
	return a->has_name && b->has_name && a->name.len == b->name.len &&
	       !memcmp(a->name.data, b->name.data, a->name.len);
}

/* The listener of the dump whose name S carries. */
static struct rst_usk *listener_named(const struct rst_usk *s)
{
	size_t i;

	for (i = 0; i < ru.n_lst; i++)
		if (ru.lst[i]->e->type == s->e->type &&
		    same_name(ru.lst[i]->e, s->e))
			return ru.lst[i];
	return NULL;
}

/* The listener of the dump on which S's connection is queued. */
static struct rst_usk *listener_queuing(const struct rst_usk *s)
{
	size_t i, j;

	for (i = 0; i < ru.n_lst; i++)
		for (j = 0; j < ru.lst[i]->e->n_icons; j++)
			if (ru.lst[i]->e->icons[j] == s->e->ino)
				return ru.lst[i];
	return NULL;
}

/*
 * Does S bind its name? An accepted socket carries its listener's, and of
 * sockets sharing a name otherwise (accepted ones whose listener is gone)
 * the first binds it.
 */
static int binds_name(const struct rst_usk *s)
{
	const struct rst_usk *l;
	size_t i;

	if (!s->e->has_name)
		return 0;
	l = listener_named(s);
	if (l)
		return l == s;
	for (i = 0; &ru.s[i] != s; i++)
		if (same_name(ru.v[i], s->e))
			return 0;
	return 1;
}

static int is_path(const UnixSkEntry *e)
{
	return e->has_name && e->name.len && e->name.data[0];
}

/* E's path name as a file name: from the directory it was bound in. */
static const char *usk_path(const UnixSkEntry *e, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%.*s", e->name_dir ? e->name_dir : "",
		 e->name_dir ? "/" : "", (int)e->name.len, e->name.data);
	return buf;
}

/* A live socket bound to that abstract name, or to that file. */
static const struct unix_diag_sk *name_live(const UnixSkEntry *e,
					    const struct stat *st)
{
	size_t i;

	for (i = 0; i < ru.diag.n; i++) {
		const struct unix_diag_sk *d = &ru.diag.v[i];

		if (st ? d->vfs_ino == st->st_ino &&
			 (d->state == TCP_LISTEN || d->type == SOCK_DGRAM) :
			 d->name_len == e->name.len &&
			 !memcmp(d->name, e->name.data, d->name_len))
			return d;
	}
	return NULL;
}

/* The name is free, or a path held by a stale socket file. */
static int usk_name_free(const struct rst_task *t, const FdinfoEntry *fe,
			 const struct rst_usk *s)
{
	char name[PATH_MAX + 112];
	struct stat st;

	if (!is_path(s->e)) {
		sk_name_str(s->e->name.data, s->e->name.len, name,
			    sizeof(name));
		if (!name_live(s->e, NULL))
			return 0;
		pr_err("PID %d: fd %u: the abstract name %s is bound by a socket already\n",
		       t->pid, fe->fd, name);
		return -1;
	}
	if (s->e->name_unlinked && !s->e->name_dir && s->e->name.data[0] != '/')
		return 0;	/* bound in a directory of criu-lite's own */
	usk_path(s->e, name, sizeof(name));
	if (lstat(name, &st)) {
		if (errno == ENOENT)
			return 0;
		pr_perror("PID %d: fd %u: can't stat %s", t->pid, fe->fd, name);
		return -1;
	}
	if (s->e->name_unlinked) {
		pr_err("PID %d: fd %u: %s, the socket's name (unlinked at dump), is taken by a file now\n",
		       t->pid, fe->fd, name);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pr_err("PID %d: fd %u: %s, the socket's name, is a file that is no socket now\n",
		       t->pid, fe->fd, name);
		return -1;
	}
	if (name_live(s->e, &st)) {
		pr_err("PID %d: fd %u: %s is bound by a live socket\n", t->pid,
		       fe->fd, name);
		return -1;
	}
	return 0;
}

static int usk_validate(const struct rst_task *t, const FdinfoEntry *fe)
{
	const struct rst_usk *s = usk_by_id(fe->id);

	if (!s) {
		pr_err("PID %d: fd %u refers to socket %u, which unix-sk.img does not have\n",
		       t->pid, fe->fd, fe->id);
		return -1;
	}
	if (s->e->has_name &&
	    s->e->name.len > sizeof(((struct sockaddr_un *)0)->sun_path)) {
		pr_err("Image unix-sk.img: socket:[%u] has a %zu-byte name\n",
		       s->e->ino, s->e->name.len);
		return -1;
	}
	if (!binds_name(s))
		return 0;
	return usk_name_free(t, fe, s);
}

/* S's name as an address, LEN set. */
static void usk_addr(const UnixSkEntry *e, struct sockaddr_un *a,
		     socklen_t *len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, e->name.data, e->name.len);
	*len = offsetof(struct sockaddr_un, sun_path) + e->name.len;
}

/*
 * bind() or connect() to E's name; a relative path from the directory it
 * was bound in (criu-lite's cwd moves there and back).
 */
static int usk_at_name(const UnixSkEntry *e, int fd,
		       int (*op)(int, const struct sockaddr *, socklen_t))
{
	struct sockaddr_un a;
	int cwd = -1, ret, err;
	socklen_t len;

	usk_addr(e, &a, &len);
	if (is_path(e) && e->name_dir) {
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0 || chdir(e->name_dir)) {
			if (cwd >= 0)
				close(cwd);
			return -1;
		}
	}
	ret = op(fd, (struct sockaddr *)&a, len);
	err = errno;
	if (cwd >= 0) {
		if (fchdir(cwd))
			pr_perror("Can't go back to criu-lite's cwd");
		close(cwd);
	}
	errno = err;
	return ret;
}

/*
 * A relative name unlinked at dump is bound in a directory of criu-lite's
 * own, and unlinked there: any directory gives the same name.
 */
static int usk_tmpdir(struct rst_usk *s)
{
	static char tmpl[] = "/tmp/criu-lite-unix.XXXXXX";

	if (!ru.tmpdir) {
		ru.tmpdir = mkdtemp(tmpl);
		if (!ru.tmpdir) {
			pr_perror("Can't make a directory to bind socket:[%u] in",
				  s->e->ino);
			return -1;
		}
	}
	s->e->name_dir = strdup(ru.tmpdir);
	if (!s->e->name_dir) {
		pr_err("Out of memory binding socket:[%u]\n", s->e->ino);
		return -1;
	}
	return 0;
}

/* Unlink the stale socket file of S's path, bind, give it the file's mode. */
static int usk_bind(struct rst_usk *s, int fd)
{
	const UnixSkEntry *e = s->e;
	char name[112], path[PATH_MAX + 112];
	struct stat st;

	sk_name_str(e->name.data, e->name.len, name, sizeof(name));
	if (e->name_unlinked && !e->name_dir && name[0] != '/' &&
	    usk_tmpdir(s))
		return -1;
	usk_path(e, path, sizeof(path));
	if (is_path(e) && !e->name_unlinked && !lstat(path, &st) &&
	    S_ISSOCK(st.st_mode) && unlink(path)) {
		pr_perror("Can't remove the stale socket file %s", path);
		return -1;
	}
	if (usk_at_name(e, fd, bind)) {
		pr_perror("Can't bind socket:[%u] to %s", e->ino, name);
		return -1;
	}
	if (!is_path(e) || e->name_unlinked || !e->has_name_mode)
		return 0;
	if (chmod(path, e->name_mode) ||
	    lchown(path, e->name_uid, e->name_gid)) {
		pr_perror("Can't give %s mode %#o and owner %u:%u", path,
			  e->name_mode, e->name_uid, e->name_gid);
		return -1;
	}
	return 0;
}

static int usk_socket(struct rst_usk *s)
{
	int fd = socket(AF_UNIX, s->e->type | USK_NEW, 0);

	if (fd < 0) {
		pr_perror("Can't create a unix %s socket for socket:[%u]",
			  sk_type_name(s->e->type), s->e->ino);
		return -1;
	}
	if (binds_name(s) && usk_bind(s, fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int usk_set(struct rst_usk *s, int fd)
{
	s->fd = fd;
	s->made = 1;
	return 0;
}

/*
 * SO_SNDBUF or SO_RCVBUF (OPT) to VAL (as setsockopt takes it): past
 * net.core.[rw]mem_max with the FORCE variant where criu-lite may.
 */
static int usk_setbuf(int fd, int opt, int val)
{
	int force = opt == SO_SNDBUF ? SO_SNDBUFFORCE : SO_RCVBUFFORCE;

	if (!setsockopt(fd, SOL_SOCKET, force, &val, sizeof(val)))
		return 0;
	if (errno != EPERM)
		return -1;
	return setsockopt(fd, SOL_SOCKET, opt, &val, sizeof(val));
}

/* Send E's queue from FROM, in order, each message one send(). */
static int usk_fill(const UnixSkEntry *e, int from)
{
	size_t i, total = 0;
	int big;

	for (i = 0; i < e->n_queue; i++)
		total += e->queue[i].len;
	if (!total && !e->n_queue)
		return 0;
	/* room in the sender for all of it: its own size is set afterwards */
	big = total + (e->n_queue + 16) * 1024;
	if (usk_setbuf(from, SO_SNDBUF, big)) {
		pr_perror("socket:[%u]: can't make room for its %zu queued bytes",
			  e->ino, total);
		return -1;
	}
	for (i = 0; i < e->n_queue; i++) {
		const ProtobufCBinaryData *q = &e->queue[i];
		size_t off = 0;
		ssize_t n;

		do {
			n = send(from, q->data + off, q->len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				pr_perror("socket:[%u]: can't queue message %zu of %zu (%zu bytes) again",
					  e->ino, i + 1, e->n_queue, q->len);
				return -1;
			}
			off += n;
		} while (off < q->len && e->type == SOCK_STREAM);
	}
	return 0;
}

static int usk_shutdown(const struct rst_usk *s)
{
	uint32_t how = s->e->shutdown;

	/* a connected stream's receive side is its peer's send side */
	if (s->e->type != SOCK_DGRAM && s->peer)
		how &= SK_SEND_SHUTDOWN;
	if (!how)
		return 0;
	if (shutdown(s->fd, how - 1)) {
		pr_perror("Can't shut socket:[%u] down (%u)", s->e->ino, how);
		return -1;
	}
	return 0;
}

static int setopt(const struct rst_usk *s, int opt, const void *v,
		  socklen_t len)
{
	if (!setsockopt(s->fd, SOL_SOCKET, opt, v, len))
		return 0;
	pr_perror("Can't set option %d of socket:[%u]", opt, s->e->ino);
	return -1;
}

/* SO_RCVBUF or SO_SNDBUF (OPT) as getsockopt read WANT at dump. */
static int usk_buf(const struct rst_usk *s, int opt, uint32_t want)
{
	socklen_t len = sizeof(int);
	int cur;

	if (getsockopt(s->fd, SOL_SOCKET, opt, &cur, &len) == 0 &&
	    (uint32_t)cur == want)
		return 0;
	/* the kernel doubles what it is given */
	if (usk_setbuf(s->fd, opt, want / 2) == 0)
		return 0;
	pr_perror("Can't set option %d of socket:[%u] to %u", opt, s->e->ino,
		  want);
	return -1;
}

/* The options a new socket does not have already. */
static int usk_opts(const struct rst_usk *s)
{
	const UnixSkOpts *o = s->e->opts;
	struct timeval rt = { o->rcvtimeo_us / 1000000,
			      o->rcvtimeo_us % 1000000 };
	struct timeval st = { o->sndtimeo_us / 1000000,
			      o->sndtimeo_us % 1000000 };
	int one = 1;

	if ((o->passcred && setopt(s, SO_PASSCRED, &one, sizeof(one))) ||
	    (o->passsec && setopt(s, SO_PASSSEC, &one, sizeof(one))) ||
	    usk_buf(s, SO_RCVBUF, o->rcvbuf) ||
	    usk_buf(s, SO_SNDBUF, o->sndbuf))
		return -1;
	if (o->peek_off >= 0 &&
	    setopt(s, SO_PEEK_OFF, &o->peek_off, sizeof(o->peek_off)))
		return -1;
	if ((o->rcvtimeo_us && setopt(s, SO_RCVTIMEO, &rt, sizeof(rt))) ||
	    (o->sndtimeo_us && setopt(s, SO_SNDTIMEO, &st, sizeof(st))))
		return -1;
	return 0;
}

/*
 * A and B are connected to each other (B NULL: A's peer is gone, BFD a
 * stand-in closed afterwards): both queues, then shutdown.
 */
static int usk_pair_done(struct rst_usk *a, struct rst_usk *b, int bfd)
{
	int ret;

	ret = usk_fill(a->e, bfd) || (b && usk_fill(b->e, a->fd));
	if (!b)
		close(bfd);
	if (ret || usk_shutdown(a) || (b && usk_shutdown(b)))
		return -1;
	return 0;
}

/* A connected pair not made through a listener: socketpair(), then names. */
static int usk_make_pair(struct rst_usk *a, struct rst_usk *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, a->e->type | USK_NEW, 0, sv)) {
		pr_perror("Can't create a unix %s socketpair for socket:[%u]",
			  sk_type_name(a->e->type), a->e->ino);
		return -1;
	}
	usk_set(a, sv[0]);
	if (b)
		usk_set(b, sv[1]);
	if ((binds_name(a) && usk_bind(a, a->fd)) ||
	    (b && binds_name(b) && usk_bind(b, b->fd))) {
		if (!b)
			close(sv[1]);
		return -1;
	}
	return usk_pair_done(a, b, sv[1]);
}

/* A new socket for S connected to L's name (S NULL: a stand-in). */
static int usk_connect_to(struct rst_usk *l, struct rst_usk *s)
{
	int fd = s ? usk_socket(s) : socket(AF_UNIX, l->e->type | USK_NEW, 0);

	if (fd < 0)
		return -1;
	if (usk_at_name(l->e, fd, connect)) {
		pr_perror("Can't connect socket:[%u] to socket:[%u] again",
			  s ? s->e->ino : 0, l->e->ino);
		close(fd);
		return -1;
	}
	return fd;
}

/* An accepted socket A of listener L, with its client (or a stand-in). */
static int usk_accepted(struct rst_usk *l, struct rst_usk *a)
{
	struct rst_usk *c = a->peer;
	int cfd, afd;

	cfd = usk_connect_to(l, c);
	if (cfd < 0)
		return -1;
	afd = accept4(l->fd, NULL, NULL, USK_NEW);
	if (afd < 0) {
		pr_perror("Can't accept socket:[%u] on socket:[%u] again",
			  a->e->ino, l->e->ino);
		close(cfd);
		return -1;
	}
	usk_set(a, afd);
	if (c)
		usk_set(c, cfd);
	return usk_pair_done(a, c, cfd);
}

/*
 * A listener: bound, listening; its accepted connections made again, then
 * the ones still queued, oldest first.
 */
static int usk_make_listener(struct rst_usk *l)
{
	struct rst_usk *c;
	size_t i;
	int fd;

	fd = usk_socket(l);
	if (fd < 0)
		return -1;
	usk_set(l, fd);
	if (listen(fd, l->e->backlog)) {
		pr_perror("Can't listen on socket:[%u]", l->e->ino);
		return -1;
	}
	for (i = 0; i < ru.n; i++) {
		struct rst_usk *a = &ru.s[i];

		if (a != l && !a->made && a->e->state == TCP_ESTABLISHED &&
		    listener_named(a) == l && usk_accepted(l, a))
			return -1;
	}
	for (i = 0; i < l->e->n_icons; i++) {
		c = usk_by_ino(l->e->icons[i]);
		if (!c || c->made)
			continue;
		fd = usk_connect_to(l, c);
		if (fd < 0)
			return -1;
		usk_set(c, fd);
		if (usk_shutdown(c))
			return -1;
	}
	return 0;
}

static int usk_make(struct rst_usk *s);

/* A connected stream or seqpacket socket, and its peer. */
static int usk_make_connected(struct rst_usk *s)
{
	struct rst_usk *l = listener_named(s);

	if (!l && s->peer)
		l = listener_named(s->peer);
	if (!l)
		l = listener_queuing(s);
	if (l)
		return usk_make(l);
	if (s->e->has_peer && s->e->peer && !s->peer) {
		pr_err("socket:[%u] is connected to socket:[%u], which the dump does not hold\n",
		       s->e->ino, s->e->peer);
		return -1;
	}
	return usk_make_pair(s, s->peer);
}

/* A dgram socket connected to PEER_PATH outside the dump. */
static int usk_connect_path(struct rst_usk *s)
{
	UnixSkEntry path = UNIX_SK_ENTRY__INIT;

	path.has_name = 1;
	path.name.data = (uint8_t *)s->e->peer_path;
	path.name.len = strlen(s->e->peer_path);
	if (usk_at_name(&path, s->fd, connect)) {
		pr_perror("Can't connect socket:[%u] to %s again", s->e->ino,
			  s->e->peer_path);
		return -1;
	}
	return 0;
}

/* Messages queued on a named dgram socket by others: from a socket of ours. */
static int usk_fill_named(struct rst_usk *s)
{
	int fd, ret;

	if (!s->e->n_queue)
		return 0;
	if (!s->e->has_name) {
		pr_err("socket:[%u] holds %zu messages from a peer the dump does not hold\n",
		       s->e->ino, s->e->n_queue);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | USK_NEW, 0);
	if (fd < 0) {
		pr_perror("Can't create a socket to fill socket:[%u]", s->e->ino);
		return -1;
	}
	ret = usk_at_name(s->e, fd, connect);
	if (ret)
		pr_perror("Can't connect to socket:[%u] to fill it", s->e->ino);
	else
		ret = usk_fill(s->e, fd);
	close(fd);
	return ret;
}

/* A dgram socket, or an unconnected stream one. */
static int usk_make_single(struct rst_usk *s)
{
	struct rst_usk *p = s->peer;
	int fd;

	if (s->e->type == SOCK_DGRAM && p && p != s && p->peer == s &&
	    !p->made)
		return usk_make_pair(s, p);
	fd = usk_socket(s);
	if (fd < 0)
		return -1;
	usk_set(s, fd);
	if (s->e->type != SOCK_DGRAM)
		return usk_shutdown(s);
	if (usk_fill_named(s))
		return -1;
	/* connected to one that is not connected back, or to itself */
	if (p && (p->peer != s || p == s)) {
		if (usk_make(p))
			return -1;
		if (usk_at_name(p->e, s->fd, connect)) {
			pr_perror("Can't connect socket:[%u] to socket:[%u] again",
				  s->e->ino, p->e->ino);
			return -1;
		}
	} else if (!p && s->e->peer_path && usk_connect_path(s)) {
		return -1;
	}
	return usk_shutdown(s);
}

/* S and whatever must exist with it: its peer, its listener. */
static int usk_make(struct rst_usk *s)
{
	if (s->made)
		return 0;
	if (s->e->state == TCP_LISTEN)
		return usk_make_listener(s);
	if (s->e->type != SOCK_DGRAM && s->e->state == TCP_ESTABLISHED) {
		if (usk_make_connected(s))
			return -1;
		if (!s->made) {
			pr_err("socket:[%u]: no connection of the dump made it\n",
			       s->e->ino);
			return -1;
		}
		return 0;
	}
	return usk_make_single(s);
}

/* criu-lite's copy of FE's socket, made with its peers on first use. */
static int usk_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	struct rst_usk *s = usk_by_id(fe->id);
	char name[160];

	if (usk_make(s) || usk_opts(s))
		goto err;
	if (fcntl(s->fd, F_SETFL, s->e->flags & O_NONBLOCK)) {
		pr_perror("Can't set the flags %#o", s->e->flags);
		goto err;
	}
	/* files.c owns it now */
	return s->fd;
err:
	pr_err("PID %d: fd %u: can't restore %s\n", t->pid, fe->fd,
	       usk_describe(fe->id, name, sizeof(name)));
	return -1;
}

/* Names unlinked after bind() at dump: unlinked again, now all are made. */
static int usk_restore_task(struct rst_task *t)
{
	size_t i;

	(void)t;
	if (ru.unlinked)
		return 0;
	ru.unlinked = 1;
	for (i = 0; i < ru.n; i++) {
		const UnixSkEntry *e = ru.v[i];
		char path[PATH_MAX + 112];

		if (!e->name_unlinked || !binds_name(&ru.s[i]))
			continue;
		if (unlink(usk_path(e, path, sizeof(path)))) {
			pr_perror("Can't unlink %s again, as it was at dump", path);
			return -1;
		}
	}
	if (ru.tmpdir && rmdir(ru.tmpdir)) {
		pr_perror("Can't remove %s", ru.tmpdir);
		return -1;
	}
	return 0;
}

static void usk_release(void)
{
	unix_diag_free(&ru.diag);
}

const struct fd_kind unix_sk_kind = {
	.type = FD_TYPE__FD_UNIXSK,
	.name = "unix socket",
	.match = usk_match,
	.dump_start = usk_dump_start,
	.dump = usk_dump,
	.dump_finish = usk_dump_finish,
	.load = usk_load,
	.validate = usk_validate,
	.open = usk_open,
	.describe = usk_describe,
	.restore_task = usk_restore_task,
	.release = usk_release,
};
