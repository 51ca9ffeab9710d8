// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * unix_diag through libnl-3: one SOCK_DIAG_BY_FAMILY dump request for every
 * state, each answer parsed into a struct unix_diag_sk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "unix-diag.h"

static int add_icons(struct unix_diag_sk *s, struct nlattr *a)
{
	s->n_icons = nla_len(a) / sizeof(uint32_t);
	if (!s->n_icons)
		return 0;
	s->icons = malloc(s->n_icons * sizeof(uint32_t));
	if (!s->icons)
		return -1;
	memcpy(s->icons, nla_data(a), s->n_icons * sizeof(uint32_t));
	return 0;
}

static void parse_attrs(struct unix_diag_sk *s, struct nlattr **tb)
{
	if (tb[UNIX_DIAG_NAME]) {
		s->name_len = nla_len(tb[UNIX_DIAG_NAME]);
		if (s->name_len > sizeof(s->name))
			s->name_len = sizeof(s->name);
		memcpy(s->name, nla_data(tb[UNIX_DIAG_NAME]), s->name_len);
	}
	if (tb[UNIX_DIAG_VFS] &&
	    nla_len(tb[UNIX_DIAG_VFS]) >= (int)sizeof(struct unix_diag_vfs)) {
		struct unix_diag_vfs *v = nla_data(tb[UNIX_DIAG_VFS]);

		s->vfs_ino = v->udiag_vfs_ino;
		s->vfs_dev = v->udiag_vfs_dev;
	}
	if (tb[UNIX_DIAG_PEER])
		s->peer = nla_get_u32(tb[UNIX_DIAG_PEER]);
	if (tb[UNIX_DIAG_RQLEN] && nla_len(tb[UNIX_DIAG_RQLEN]) >=
				   (int)sizeof(struct unix_diag_rqlen)) {
		struct unix_diag_rqlen *r = nla_data(tb[UNIX_DIAG_RQLEN]);

		s->rqueue = r->udiag_rqueue;
		s->wqueue = r->udiag_wqueue;
	}
	if (tb[UNIX_DIAG_SHUTDOWN])
		s->shutdown = nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct unix_diag_table *t = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[UNIX_DIAG_MAX + 1];
	struct unix_diag_msg *m;
	struct unix_diag_sk *s;

	if (nlmsg_parse(h, sizeof(*m), tb, UNIX_DIAG_MAX, NULL) < 0)
		return NL_SKIP;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		s = realloc(t->v, cap * sizeof(*s));
		if (!s) {
			t->oom = 1;
			return NL_STOP;
		}
		t->v = s;
		t->cap = cap;
	}
	m = nlmsg_data(h);
	s = &t->v[t->n];
	memset(s, 0, sizeof(*s));
	s->ino = m->udiag_ino;
	s->type = m->udiag_type;
	s->state = m->udiag_state;
	parse_attrs(s, tb);
	if (tb[UNIX_DIAG_ICONS] && add_icons(s, tb[UNIX_DIAG_ICONS])) {
		t->oom = 1;
		return NL_STOP;
	}
	t->n++;
	return NL_OK;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct unix_diag_sk *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

int unix_diag_collect(struct unix_diag_table *t)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = ~0U,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS |
			      UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			      UDIAG_SHOW_RQLEN,
	};
	struct nl_sock *sk;
	int err;

	memset(t, 0, sizeof(*t));
	sk = nl_socket_alloc();
	if (!sk) {
		errno = ENOMEM;
		return -1;
	}
	nl_socket_disable_auto_ack(sk);
	nl_socket_enable_msg_peek(sk);
	err = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (!err)
		err = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg,
					  t);
	if (!err)
		err = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY,
				     NLM_F_REQUEST | NLM_F_DUMP, &req,
				     sizeof(req));
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (err < 0 || t->oom) {
		int e = err == -NLE_NOMEM || t->oom ? ENOMEM : EPROTO;

		unix_diag_free(t);
		errno = e;
		return -1;
	}
	qsort(t->v, t->n, sizeof(*t->v), cmp_ino);
	return 0;
}

const struct unix_diag_sk *unix_diag_find(const struct unix_diag_table *t,
					  uint32_t ino)
{
	struct unix_diag_sk key = { .ino = ino };

	if (!t->n)
		return NULL;
	return bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_ino);
}

void unix_diag_free(struct unix_diag_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].icons);
	free(t->v);
	memset(t, 0, sizeof(*t));
}
