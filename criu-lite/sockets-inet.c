// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP and UDP sockets over IPv4 and IPv6. Each open file description of one
 * is an entry of inet-sk.img: family, type, state, addresses, the options
 * applications set (SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE and its TCP
 * timers, TCP_NODELAY, buffer sizes, IPV6_V6ONLY), O_NONBLOCK, a listener's
 * backlog, and the datagrams a UDP socket holds unread. Each ESTABLISHED TCP
 * connection is also an entry of tcp-stream.img: what TCP_REPAIR reads of it
 * (sequence numbers, both queues, MSS, window scale, SACK, timestamps,
 * windows).
 *
 * Dump finds the tree's sockets (their state, addresses, backlog) with
 * sock_diag (inet_diag, through libnl) by inode, and reads the rest on a
 * copy of the fd (pidfd_getfd). The connections are read once the walk of
 * the fd tables is over: first one nft run adds a table "criu_lite_PID"
 * (the dumped root PID) whose rules drop their packets both ways, then each
 * is put in repair mode and read. While its owner is gone the peer must get
 * no reset, and its retransmissions are simply lost until the restored
 * socket answers. The socket stays in repair mode when the tree is killed, so its close sends
 * nothing; the rules stay until restore has rebuilt the connection and the
 * tree runs. With --leave-running, or when the dump fails, repair mode is
 * turned off before the tree runs again and the rules go once it runs.
 *
 * Restore creates every listener first (a connection accepted from one
 * shares its port, which a listen() after it would find taken), then each
 * socket the first time a task's fd names it. A connection is rebuilt in
 * repair mode: sequence numbers, bind, connect (no SYN is sent), options,
 * windows, the received bytes and the sent-but-unacked ones written back
 * into their queues; repair mode ends once every task holds its fds, the
 * bytes never sent are then written like any others, and the rules are
 * deleted once the tree runs. A UDP socket's queued datagrams are sent to
 * it again from their source address through a raw socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/idiag/idiagnl.h>
#include <netlink/idiag/msg.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "files.h"
#include "images.h"
#include "log.h"
#include "task.h"

#ifndef TCP_BOUND_INACTIVE
#define TCP_BOUND_INACTIVE	13	/* sock_diag: bound, neither listening nor connected */
#endif

static const char *const tcp_states[] = {
	[TCP_ESTABLISHED] = "ESTABLISHED", [TCP_SYN_SENT] = "SYN_SENT",
	[TCP_SYN_RECV] = "SYN_RECV", [TCP_FIN_WAIT1] = "FIN_WAIT1",
	[TCP_FIN_WAIT2] = "FIN_WAIT2", [TCP_TIME_WAIT] = "TIME_WAIT",
	[TCP_CLOSE] = "CLOSE", [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[TCP_LAST_ACK] = "LAST_ACK", [TCP_LISTEN] = "LISTEN",
	[TCP_CLOSING] = "CLOSING",
};

static const char *state_name(unsigned int state)
{
	if (state < ARRAY_SIZE(tcp_states) && tcp_states[state])
		return tcp_states[state];
	return "unknown";
}

/* "TCP 127.0.0.1:80 -> 10.0.0.1:4242", for messages. */
static const char *sk_name(const InetSkEntry *e, char *buf, size_t size)
{
	char src[INET6_ADDRSTRLEN] = "?", dst[INET6_ADDRSTRLEN] = "?";
	const char *proto = e->proto == IPPROTO_TCP ? "TCP" : "UDP";
	int v6 = e->family == AF_INET6;

	inet_ntop(e->family, e->src_addr.data, src, sizeof(src));
	if (!e->has_dst_port) {
		snprintf(buf, size, "%s%s %s%s%s:%u", proto, v6 ? "v6" : "",
			 v6 ? "[" : "", src, v6 ? "]" : "", e->src_port);
		return buf;
	}
	inet_ntop(e->family, e->dst_addr.data, dst, sizeof(dst));
	snprintf(buf, size, "%s%s %s%s%s:%u -> %s%s%s:%u", proto, v6 ? "v6" : "",
		 v6 ? "[" : "", src, v6 ? "]" : "", e->src_port,
		 v6 ? "[" : "", dst, v6 ? "]" : "", e->dst_port);
	return buf;
}

/* ::ffff:a.b.c.d, in 16 bytes of any alignment (image data). */
static bool v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

static size_t addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static socklen_t sk_addr(int family, const uint8_t *addr, unsigned int port,
			 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	memcpy(&s4->sin_addr, addr, 4);
	return sizeof(*s4);
}

/* ---- nftables: keep a connection's traffic still while it is dumped */

/*
 * Runs `nft -f -` on SCRIPT; its output goes to the log. A missing nft
 * (exit 127) and a failing one are both errors naming what was asked
 * (WHY; NULL: a probe, quiet).
 */
static int nft_run(const char *script, const char *why)
{
	int in[2], out[2], st;
	sighandler_t old_pipe;
	char msg[1024];
	ssize_t n, len = 0;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC))
		goto err_pipe;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		goto err_pipe;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("Can't start nft to %s", why);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (!pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execlp("nft", "nft", "-f", "-", NULL);
		dprintf(2, "can't run nft: %m");
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* an nft that exits before reading must not kill us with SIGPIPE */
	old_pipe = signal(SIGPIPE, SIG_IGN);
	if (write(in[1], script, strlen(script)) < 0)
		pr_debug("nft took no script: %m\n");
	signal(SIGPIPE, old_pipe);
	close(in[1]);
	while (len < (ssize_t)sizeof(msg) - 1 &&
	       (n = read(out[0], msg + len, sizeof(msg) - 1 - len)) > 0)
		len += n;
	msg[len] = '\0';
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	close(out[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			pr_perror("Can't wait for nft");
			return -1;
		}
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	if (!why)
		pr_debug("nft: status %#x: %s\n", st, msg);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		pr_err("Can't %s: %s: criu-lite needs nft (Debian package nftables) to keep TCP connections still while they are dumped\n",
		       why, msg);
	else
		pr_err("Can't %s: nft failed (status %#x): %s\n", why, st, msg);
	return -1;
err_pipe:
	pr_perror("Can't make a pipe to run nft");
	return -1;
}

/* One address for an nft rule: "ip 1.2.3.4" or "ip6 ::1" (v4-mapped: ip). */
static void nft_addr(int family, const uint8_t *a, char *proto, char *buf)
{
	if (family == AF_INET6 && v4mapped(a)) {
		family = AF_INET;
		a += 12;
	}
	strcpy(proto, family == AF_INET ? "ip" : "ip6");
	inet_ntop(family, a, buf, INET6_ADDRSTRLEN);
}

/* The rules that drop E's packets both ways, appended to BUF (SIZE). */
static size_t nft_rules(char *buf, size_t size, const char *table,
			const InetSkEntry *e)
{
	char lp[4], rp[4], la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
	int n;

	nft_addr(e->family, e->src_addr.data, lp, la);
	nft_addr(e->family, e->dst_addr.data, rp, ra);
	n = snprintf(buf, size,
		     "add rule inet %1$s in %2$s saddr %3$s %4$s daddr %5$s tcp sport %6$u tcp dport %7$u drop\n"
		     "add rule inet %1$s out %4$s saddr %5$s %2$s daddr %3$s tcp sport %7$u tcp dport %6$u drop\n",
		     table, rp, ra, lp, la, e->dst_port, e->src_port);
	return n < 0 ? 0 : (size_t)n;
}

/* Delete TABLE, there or not (add is a no-op on an existing table). */
static int nft_unblock(const char *table)
{
	char script[256], why[128];

	snprintf(script, sizeof(script),
		 "add table inet %1$s\ndelete table inet %1$s\n", table);
	snprintf(why, sizeof(why), "delete the nftables table %s", table);
	return nft_run(script, why);
}

/*
 * The dump worker of ROOT died (killed, crashed) before it could clean up:
 * its table goes, and the tree may hold connections left in repair mode.
 */
void inet_dump_abandoned(pid_t root)
{
	char script[128];

	snprintf(script, sizeof(script), "delete table inet criu_lite_%d\n",
		 root);
	if (!nft_run(script, NULL))
		pr_warn("Deleted the nftables table inet criu_lite_%d of the dead dump worker: the TCP connections of PID %d may be left in repair mode\n",
			root, root);
}

/* ---- dump: what sock_diag says of every TCP and UDP socket */

struct diag_sk {
	uint32_t ino;
	uint8_t family, proto, state;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t rqueue, wqueue;	/* LISTEN: accept queue, backlog */
};

/*
 * An ESTABLISHED connection of the tree: read once the walk is over, all
 * blocked with one nft run; in repair mode until the dump is over.
 */
struct repaired {
	int fd;			/* criu-lite's copy */
	uint32_t id;
	pid_t pid;		/* the first holder, for messages */
	int fdno;
	const struct diag_sk *d;
	bool reuseaddr;		/* TCP_REPAIR off clears it */
	bool on;		/* in repair mode */
};

static struct {
	struct diag_sk *v;
	size_t n, cap;
	uint8_t proto;		/* of the query being answered */
	bool oom;		/* a socket could not be added */
	struct cr_img *sks, *streams;
	struct repaired *rep;
	size_t n_rep;
	char table[32];
	bool blocked;		/* the table exists */
} dd;

static int diag_add(struct nl_msg *msg, void *arg)
{
	struct idiagnl_msg *m;
	struct diag_sk *d;
	struct nl_addr *a;

	(void)arg;
	if (idiagnl_msg_parse(nlmsg_hdr(msg), &m) < 0)
		return NL_SKIP;
	if (!idiagnl_msg_get_inode(m))	/* TIME_WAIT, SYN_RECV: no socket */
		goto out;
	if (dd.n == dd.cap) {
		size_t cap = dd.cap ? dd.cap * 2 : 64;

		d = realloc(dd.v, cap * sizeof(*d));
		if (!d) {
			idiagnl_msg_put(m);
			dd.oom = true;
			return NL_STOP;
		}
		dd.v = d;
		dd.cap = cap;
	}
	d = &dd.v[dd.n++];
	memset(d, 0, sizeof(*d));
	d->ino = idiagnl_msg_get_inode(m);
	d->family = idiagnl_msg_get_family(m);
	d->proto = dd.proto;
	d->state = idiagnl_msg_get_state(m);
	d->sport = idiagnl_msg_get_sport(m);
	d->dport = idiagnl_msg_get_dport(m);
	d->rqueue = idiagnl_msg_get_rqueue(m);
	d->wqueue = idiagnl_msg_get_wqueue(m);
	a = idiagnl_msg_get_src(m);
	if (a && nl_addr_get_len(a) <= 16)
		memcpy(d->src, nl_addr_get_binary_addr(a), nl_addr_get_len(a));
	a = idiagnl_msg_get_dst(m);
	if (a && nl_addr_get_len(a) <= 16)
		memcpy(d->dst, nl_addr_get_binary_addr(a), nl_addr_get_len(a));
out:
	idiagnl_msg_put(m);
	return NL_OK;
}

static int diag_query(struct nl_sock *sk, int family, int proto)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = family,
		.sdiag_protocol = proto,
		.idiag_states = ~0u,	/* bound-inactive ones too (6.6+) */
	};
	int err;

	dd.proto = proto;
	err = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req,
			     sizeof(req));
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	if (dd.oom) {
		pr_err("sock_diag: out of memory for %zu sockets\n", dd.n);
		return -1;
	}
	if (err < 0) {
		pr_err("sock_diag: can't list the %s %s sockets: %s\n",
		       family == AF_INET ? "IPv4" : "IPv6",
		       proto == IPPROTO_TCP ? "TCP" : "UDP", nl_geterror(err));
		return -1;
	}
	return 0;
}

static int diag_load(void)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct nl_sock *sk = nl_socket_alloc();
	int ret = -1;
	size_t i, j;

	if (!sk) {
		pr_err("Out of memory for a netlink socket\n");
		return -1;
	}
	if (idiagnl_connect(sk) < 0) {
		pr_err("Can't open a sock_diag netlink socket\n");
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, diag_add, NULL);
	for (i = 0; i < ARRAY_SIZE(fams); i++)
		for (j = 0; j < ARRAY_SIZE(protos); j++)
			if (diag_query(sk, fams[i], protos[j]))
				goto out;
	ret = 0;
out:
	nl_socket_free(sk);
	return ret;
}

static const struct diag_sk *diag_find(ino_t ino)
{
	size_t i;

	for (i = 0; i < dd.n; i++)
		if (dd.v[i].ino == ino)
			return &dd.v[i];
	return NULL;
}

/* What sock_diag says of a socket, as its entry. */
static void entry_of(const struct diag_sk *d, InetSkEntry *e)
{
	inet_sk_entry__init(e);
	e->ino = d->ino;
	e->family = d->family;
	e->proto = d->proto;
	e->type = d->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	e->state = d->state;
	e->src_addr.data = (uint8_t *)d->src;
	e->src_addr.len = addr_len(d->family);
	e->src_port = ntohs(d->sport);
	if (!d->dport)		/* not connected */
		return;
	e->dst_addr.data = (uint8_t *)d->dst;
	e->dst_addr.len = addr_len(d->family);
	e->has_dst_addr = e->has_dst_port = 1;
	e->dst_port = ntohs(d->dport);
}

static int inet_match(const struct stat *st, const char *link)
{
	(void)link;
	return S_ISSOCK(st->st_mode) && diag_find(st->st_ino);
}

static int inet_dump_start(int dirfd)
{
	dd.n = 0;
	snprintf(dd.table, sizeof(dd.table), "criu_lite_%d", opts.pid);
	if (diag_load())
		return -1;
	dd.sks = create_image(dirfd, IMG_INET_SK, 0);
	dd.streams = dd.sks ? create_image(dirfd, IMG_TCP_STREAM, 0) : NULL;
	if (dd.streams)
		return 0;
	if (dd.sks)
		img_close_write(dd.sks);
	dd.sks = NULL;
	return -1;
}

/* ---- dump: options */

static int sockopt_get(int fd, int level, int name, uint32_t *val)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		return -1;
	*val = v;
	return 0;
}

/* SO_RCVBUF and SO_SNDBUF of a fresh socket like E: the defaults. */
static void default_bufs(const InetSkEntry *e, uint32_t *rcv, uint32_t *snd)
{
	int s = socket(e->family, e->type | SOCK_CLOEXEC, e->proto);

	*rcv = *snd = 0;
	if (s < 0)
		return;
	sockopt_get(s, SOL_SOCKET, SO_RCVBUF, rcv);
	sockopt_get(s, SOL_SOCKET, SO_SNDBUF, snd);
	close(s);
}

static int dump_opts(const struct fd_dump_ctx *c, int fd, InetSkEntry *e)
{
	uint32_t v, rcv, snd, def_rcv, def_snd;

	if (sockopt_get(fd, SOL_SOCKET, SO_REUSEADDR, &v))
		goto err;
	e->reuseaddr = v;
	if (sockopt_get(fd, SOL_SOCKET, SO_REUSEPORT, &v))
		goto err;
	e->reuseport = v;
	if (sockopt_get(fd, SOL_SOCKET, SO_KEEPALIVE, &v))
		goto err;
	e->keepalive = v;
	if (sockopt_get(fd, SOL_SOCKET, SO_RCVBUF, &rcv) ||
	    sockopt_get(fd, SOL_SOCKET, SO_SNDBUF, &snd))
		goto err;
	/* the defaults are left to the kernel, which may grow them */
	default_bufs(e, &def_rcv, &def_snd);
	e->has_rcvbuf = rcv != def_rcv;
	e->rcvbuf = rcv;
	e->has_sndbuf = snd != def_snd;
	e->sndbuf = snd;
	if (e->family == AF_INET6) {
		if (sockopt_get(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v))
			goto err;
		e->has_v6only = 1;
		e->v6only = v;
	}
	if (e->proto != IPPROTO_TCP)
		return 0;
	e->has_nodelay = e->has_keepidle = e->has_keepintvl = e->has_keepcnt = 1;
	if (sockopt_get(fd, IPPROTO_TCP, TCP_NODELAY, &v) ||
	    sockopt_get(fd, IPPROTO_TCP, TCP_KEEPIDLE, &e->keepidle) ||
	    sockopt_get(fd, IPPROTO_TCP, TCP_KEEPINTVL, &e->keepintvl) ||
	    sockopt_get(fd, IPPROTO_TCP, TCP_KEEPCNT, &e->keepcnt))
		goto err;
	e->nodelay = v;
	return 0;
err:
	pr_perror("PID %d: fd %d (%s): can't read its socket options",
		  c->t->pid, c->fd, c->link);
	return -1;
}

/* ---- dump: an ESTABLISHED connection, through TCP_REPAIR */

static int repair_set(int fd, int level, int name, const void *val,
		      socklen_t len, const char *what, const InetSkEntry *e)
{
	char buf[160];

	if (!setsockopt(fd, level, name, val, len))
		return 0;
	pr_perror("%s: can't set %s", sk_name(e, buf, sizeof(buf)), what);
	return -1;
}

static int repair_int(int fd, int name, int val, const char *what,
		      const InetSkEntry *e)
{
	return repair_set(fd, IPPROTO_TCP, name, &val, sizeof(val), what, e);
}

/* The sequence number of a queue (TCP_QUEUE_SEQ). */
static int queue_seq(int fd, int queue, uint32_t *seq, const InetSkEntry *e)
{
	if (repair_int(fd, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE", e))
		return -1;
	return sockopt_get(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq);
}

/* LEN bytes of a queue, read with MSG_PEEK: the queue keeps them. */
static int queue_peek(int fd, int queue, size_t len, ProtobufCBinaryData *out,
		      const InetSkEntry *e)
{
	ssize_t n;

	if (!len)
		return 0;
	out->data = malloc(len);
	if (!out->data)
		return -1;
	if (repair_int(fd, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE", e))
		return -1;
	n = recv(fd, out->data, len, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		char buf[160];

		pr_perror("%s: read %zd of the %zu bytes of its %s queue",
			  sk_name(e, buf, sizeof(buf)), n, len,
			  queue == TCP_SEND_QUEUE ? "send" : "receive");
		return -1;
	}
	out->len = len;
	return 0;
}

/* A connection to read once the walk is over. */
static int stream_add(const struct fd_dump_ctx *c, int fd,
		      const struct diag_sk *d, const InetSkEntry *e)
{
	struct repaired *r = realloc(dd.rep, (dd.n_rep + 1) * sizeof(*r));

	if (!r) {
		pr_err("Out of memory\n");
		return -1;
	}
	dd.rep = r;
	r += dd.n_rep;
	*r = (struct repaired){ fcntl(fd, F_DUPFD_CLOEXEC, 0), c->id,
				c->t->pid, c->fd, d, e->reuseaddr, false };
	if (r->fd < 0) {
		pr_perror("PID %d: fd %d: can't keep it", c->t->pid, c->fd);
		return -1;
	}
	dd.n_rep++;
	return 0;
}

static int read_stream(int fd, const InetSkEntry *e, TcpStreamEntry *te)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq, unsq, inq;
	char buf[160];

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    sockopt_get(fd, IPPROTO_TCP, TCP_MAXSEG, &te->mss) ||
	    queue_seq(fd, TCP_SEND_QUEUE, &te->snd_seq, e) ||
	    queue_seq(fd, TCP_RECV_QUEUE, &te->rcv_seq, e) ||
	    ioctl(fd, SIOCOUTQ, &outq) || ioctl(fd, SIOCOUTQNSD, &unsq) ||
	    ioctl(fd, SIOCINQ, &inq))
		goto err;
	if (ti.tcpi_state != TCP_ESTABLISHED) {
		pr_err("%s: went %s while it was dumped\n",
		       sk_name(e, buf, sizeof(buf)), state_name(ti.tcpi_state));
		return -1;
	}
	te->tcpi_options = ti.tcpi_options;
	te->snd_wscale = ti.tcpi_snd_wscale;
	te->rcv_wscale = ti.tcpi_rcv_wscale;
	te->unsent = unsq;
	if (queue_peek(fd, TCP_SEND_QUEUE, outq, &te->send_queue, e) ||
	    queue_peek(fd, TCP_RECV_QUEUE, inq, &te->recv_queue, e))
		return -1;
	len = sizeof(w);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) ||
	    sockopt_get(fd, IPPROTO_TCP, TCP_TIMESTAMP, &te->timestamp))
		goto err;
	te->snd_wl1 = w.snd_wl1;
	te->snd_wnd = w.snd_wnd;
	te->max_window = w.max_window;
	te->rcv_wnd = w.rcv_wnd;
	te->rcv_wup = w.rcv_wup;
	return repair_int(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE,
			  "TCP_REPAIR_QUEUE", e);
err:
	pr_perror("%s: can't read its TCP state", sk_name(e, buf, sizeof(buf)));
	return -1;
}

/* One nft run adds the table and drops every connection's packets. */
static int streams_block(void)
{
	size_t size = 512 + dd.n_rep * 512, len, i;
	char *script = malloc(size), name[160], why[320];
	InetSkEntry e;
	int ret;

	if (!script) {
		pr_err("Out of memory for the nftables rules\n");
		return -1;
	}
	len = snprintf(script, size,
		       "add table inet %1$s\n"
		       "add chain inet %1$s in { type filter hook input priority -300; policy accept; }\n"
		       "add chain inet %1$s out { type filter hook output priority -300; policy accept; }\n",
		       dd.table);
	for (i = 0; i < dd.n_rep; i++) {
		entry_of(dd.rep[i].d, &e);
		len += nft_rules(script + len, size - len, dd.table, &e);
	}
	entry_of(dd.rep[0].d, &e);
	snprintf(why, sizeof(why), "block the traffic of PID %d's fd %d, %s%s",
		 dd.rep[0].pid, dd.rep[0].fdno, sk_name(&e, name, sizeof(name)),
		 dd.n_rep > 1 ? " and the other connections" : "");
	ret = nft_run(script, why);
	free(script);
	dd.blocked = !ret;
	return ret;
}

/* Freeze a connection in repair mode, read it. */
static int stream_dump(struct repaired *r)
{
	TcpStreamEntry te = TCP_STREAM_ENTRY__INIT;
	InetSkEntry e;
	int ret = -1;

	entry_of(r->d, &e);
	if (repair_int(r->fd, TCP_REPAIR, TCP_REPAIR_ON,
		       "TCP_REPAIR (criu-lite needs CAP_NET_ADMIN)", &e))
		return -1;
	r->on = true;
	te.id = r->id;
	if (!read_stream(r->fd, &e, &te))
		ret = img_write_msg(dd.streams, &te.base);
	free(te.send_queue.data);
	free(te.recv_queue.data);
	pr_debug("PID %d: fd %d: snd_seq %u rcv_seq %u, %zu bytes to send (%u unsent), %zu received\n",
		 r->pid, r->fdno, te.snd_seq, te.rcv_seq, te.send_queue.len,
		 te.unsent, te.recv_queue.len);
	return ret;
}

/*
 * Every connection of the tree, once the walk is over: blocked (before any
 * is touched), then read. Also after a failed walk: the dump's end undoes it.
 */
static int streams_dump(void)
{
	size_t i;

	if (!dd.n_rep || !dd.streams)
		return 0;
	if (streams_block())
		return -1;
	for (i = 0; i < dd.n_rep; i++)
		if (stream_dump(&dd.rep[i]))
			return -1;
	return 0;
}

/* ---- dump: a UDP socket's queued datagrams, read with MSG_PEEK */

static void free_dgrams(InetSkEntry *e)
{
	size_t i;

	for (i = 0; i < e->n_dgrams; i++) {
		free(e->dgrams[i]->addr.data);
		free(e->dgrams[i]->data.data);
		free(e->dgrams[i]);
	}
	free(e->dgrams);
}

#define DGRAM_MAX	65536	/* more than any UDP payload */

/*
 * The next datagram, with SO_PEEK_OFF on: each MSG_PEEK goes on past what
 * the ones before read. Its length, or -1 when there is none.
 */
static ssize_t peek_next(int fd, void *buf, struct sockaddr_storage *ss)
{
	struct iovec iov = { buf, DGRAM_MAX };
	struct msghdr mh = { .msg_name = ss, .msg_namelen = sizeof(*ss),
			     .msg_iov = &iov, .msg_iovlen = 1 };

	return recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT);
}

static int add_dgram(InetSkEntry *e, const void *data, size_t len,
		     const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	bool v6 = ss->ss_family == AF_INET6;
	UdpDgram *d = calloc(1, sizeof(*d)), **v;

	v = realloc(e->dgrams, (e->n_dgrams + 1) * sizeof(*v));
	if (v)
		e->dgrams = v;
	if (!d || !v) {
		free(d);
		goto err;
	}
	udp_dgram__init(d);
	v[e->n_dgrams++] = d;
	d->addr.len = v6 ? 16 : 4;
	d->port = ntohs(v6 ? s6->sin6_port : s4->sin_port);
	d->addr.data = malloc(d->addr.len);
	d->data.data = malloc(len ? len : 1);
	if (!d->addr.data || !d->data.data)
		goto err;
	memcpy(d->addr.data, v6 ? (const void *)&s6->sin6_addr :
				  (const void *)&s4->sin_addr, d->addr.len);
	memcpy(d->data.data, data, len);
	d->data.len = len;
	return 0;
err:
	pr_err("Out of memory for a queued datagram\n");
	return -1;
}

/* Counts the queued datagrams, or reads them into E. */
static int walk_dgrams(int fd, InetSkEntry *e, size_t *count)
{
	struct sockaddr_storage ss;
	int off = 0, saved = -1, ret = 0;
	socklen_t len = sizeof(saved);
	void *buf = malloc(DGRAM_MAX);
	ssize_t n;

	if (!buf)
		return -1;
	getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &saved, &len);
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off))) {
		free(buf);
		return -1;
	}
	*count = 0;
	while (!ret && (n = peek_next(fd, buf, &ss)) >= 0) {
		(*count)++;
		if (e)
			ret = add_dgram(e, buf, n, &ss);
	}
	setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof(saved));
	free(buf);
	return ret;
}

static int dump_dgrams(const struct fd_dump_ctx *c, int fd, InetSkEntry *e)
{
	size_t n;

	if (!walk_dgrams(fd, e, &n))
		return 0;
	pr_perror("PID %d: fd %d: can't read its queued datagrams", c->t->pid,
		  c->fd);
	return -1;
}

/* ---- dump: one socket */

static int check_state(const struct fd_dump_ctx *c, const struct diag_sk *d,
		       InetSkEntry *e)
{
	char buf[160];

	if (d->state == TCP_BOUND_INACTIVE)
		e->state = TCP_CLOSE;
	if (e->state == TCP_LISTEN && d->rqueue) {
		pr_err("PID %d: fd %d: the listening %s has %u connections not accepted yet, which criu-lite can't dump\n",
		       c->t->pid, c->fd, sk_name(e, buf, sizeof(buf)), d->rqueue);
		return -1;
	}
	if (e->state == TCP_LISTEN || e->state == TCP_ESTABLISHED ||
	    e->state == TCP_CLOSE)
		return 0;
	pr_err("PID %d: fd %d: %s is in state %s; criu-lite dumps only LISTEN, ESTABLISHED and CLOSE\n",
	       c->t->pid, c->fd, sk_name(e, buf, sizeof(buf)),
	       state_name(e->state));
	return -1;
}

static int inet_dump(const struct fd_dump_ctx *c)
{
	const struct diag_sk *d = diag_find(c->st->st_ino);
	InetSkEntry e;
	int fd, ret = -1;

	entry_of(d, &e);
	e.id = c->id;
	e.flags = c->fi->flags & ~O_CLOEXEC;
	if (check_state(c, d, &e))
		return -1;
	if (e.state == TCP_LISTEN) {
		e.has_backlog = 1;
		e.backlog = d->wqueue;
	}
	fd = fd_dump_take(c);
	if (fd < 0)
		return -1;
	if (dump_opts(c, fd, &e))
		goto out;
	if (e.proto == IPPROTO_UDP && dump_dgrams(c, fd, &e))
		goto out;
	if (e.proto == IPPROTO_TCP && e.state == TCP_ESTABLISHED) {
		e.nft_table = dd.table;
		if (stream_add(c, fd, d, &e))
			goto out;
	}
	ret = img_write_msg(dd.sks, &e.base);
out:
	free_dgrams(&e);
	close(fd);
	return ret;
}

static int inet_dump_finish(void)
{
	int ret = streams_dump();

	ret |= img_close_write(dd.sks);
	ret |= img_close_write(dd.streams);
	dd.sks = dd.streams = NULL;
	return ret ? -1 : 0;
}

/*
 * Killed in repair mode, a socket closes without a word to its peer; a
 * tree that runs on gets its connections back as they were.
 */
static void inet_dump_release(int kill)
{
	size_t i;

	for (i = 0; i < dd.n_rep; i++) {
		struct repaired *r = &dd.rep[i];

		if (!kill && r->on &&
		    (setsockopt(r->fd, IPPROTO_TCP, TCP_REPAIR,
				&(int){ TCP_REPAIR_OFF }, sizeof(int)) ||
		     (r->reuseaddr &&
		      setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 },
				 sizeof(int)))))
			pr_perror("Can't take a connection of the tree out of repair mode");
		close(r->fd);
	}
	free(dd.rep);
	dd.rep = NULL;
	dd.n_rep = 0;
	free(dd.v);
	dd.v = NULL;
	dd.n = dd.cap = 0;
}

static void inet_dump_unlock(int kill)
{
	if (!dd.blocked)
		return;
	dd.blocked = false;
	if (kill) {
		pr_info("The tree's TCP connections stay blocked (nftables table inet %s) until restore\n",
			dd.table);
		return;
	}
	nft_unblock(dd.table);
}

/* ---- restore */

static struct {
	InetSkEntry **sks;
	size_t n_sks;
	TcpStreamEntry **streams;
	size_t n_streams;
	int *fd;		/* per entry: criu-lite's socket, -1: not yet */
	bool listeners;		/* every listener is made */
} ri;

static int inet_load(int dirfd)
{
	size_t i;

	if (!files_image_exists(dirfd, IMG_INET_SK))
		return 0;
	if (files_load_msgs(dirfd, IMG_INET_SK, &inet_sk_entry__descriptor,
			    (void ***)&ri.sks, &ri.n_sks) ||
	    files_load_msgs(dirfd, IMG_TCP_STREAM,
			    &tcp_stream_entry__descriptor,
			    (void ***)&ri.streams, &ri.n_streams))
		return -1;
	ri.fd = malloc((ri.n_sks + 1) * sizeof(*ri.fd));
	if (!ri.fd) {
		pr_err("Out of memory for %zu sockets\n", ri.n_sks);
		return -1;
	}
	for (i = 0; i < ri.n_sks; i++)
		ri.fd[i] = -1;
	return 0;
}

static ssize_t sk_find(uint32_t id)
{
	size_t i;

	for (i = 0; i < ri.n_sks; i++)
		if (ri.sks[i]->id == id)
			return i;
	return -1;
}

static const TcpStreamEntry *stream_find(uint32_t id)
{
	size_t i;

	for (i = 0; i < ri.n_streams; i++)
		if (ri.streams[i]->id == id)
			return ri.streams[i];
	return NULL;
}

static const char *inet_describe(uint32_t id, char *buf, size_t size)
{
	ssize_t i = sk_find(id);

	return i < 0 ? "socket:[?]" : sk_name(ri.sks[i], buf, size);
}

static int inet_validate(const struct rst_task *t, const FdinfoEntry *fe)
{
	ssize_t i = sk_find(fe->id);
	const InetSkEntry *e;
	char buf[160];

	if (i < 0) {
		pr_err("PID %d: fd %u refers to socket %u, which inet-sk.img does not have\n",
		       t->pid, fe->fd, fe->id);
		return -1;
	}
	e = ri.sks[i];
	if ((e->family != AF_INET && e->family != AF_INET6) ||
	    e->src_addr.len != addr_len(e->family) ||
	    (e->has_dst_addr && e->dst_addr.len != addr_len(e->family))) {
		pr_err("PID %d: fd %u: inet-sk.img entry %u has a bad address\n",
		       t->pid, fe->fd, fe->id);
		return -1;
	}
	if (e->proto == IPPROTO_TCP && e->state == TCP_ESTABLISHED &&
	    (!e->has_dst_addr || !stream_find(e->id))) {
		pr_err("PID %d: fd %u: %s: tcp-stream.img lacks its connection\n",
		       t->pid, fe->fd, sk_name(e, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

static int set_int(int s, int level, int name, int val, const char *what,
		   const InetSkEntry *e)
{
	return repair_set(s, level, name, &val, sizeof(val), what, e);
}

/* A buffer size as read (doubled by the kernel), forced past the sysctl max. */
static int set_buf(int s, int name, uint32_t val, const char *what,
		   const InetSkEntry *e)
{
	return set_int(s, SOL_SOCKET, name, val / 2, what, e);
}

static int bufs_dumped(int s, const InetSkEntry *e)
{
	return (e->has_rcvbuf &&
		set_buf(s, SO_RCVBUFFORCE, e->rcvbuf, "SO_RCVBUFFORCE", e)) ||
	       (e->has_sndbuf &&
		set_buf(s, SO_SNDBUFFORCE, e->sndbuf, "SO_SNDBUFFORCE", e));
}

/* What must be set before bind(). */
static int restore_early_opts(int s, const InetSkEntry *e)
{
	if (e->has_v6only &&
	    set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, e->v6only, "IPV6_V6ONLY", e))
		return -1;
	if (e->reuseport &&
	    set_int(s, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", e))
		return -1;
	return bufs_dumped(s, e);
}

/* SO_REUSEADDR too: TCP_REPAIR off clears it, so a connection sets it last. */
static int restore_opts(int s, const InetSkEntry *e)
{
	if (e->reuseaddr &&
	    set_int(s, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", e))
		return -1;
	if (e->keepalive &&
	    set_int(s, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE", e))
		return -1;
	if (e->proto != IPPROTO_TCP)
		return 0;
	if ((e->nodelay &&
	     set_int(s, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY", e)) ||
	    (e->has_keepidle &&
	     set_int(s, IPPROTO_TCP, TCP_KEEPIDLE, e->keepidle, "TCP_KEEPIDLE", e)) ||
	    (e->has_keepintvl &&
	     set_int(s, IPPROTO_TCP, TCP_KEEPINTVL, e->keepintvl, "TCP_KEEPINTVL", e)) ||
	    (e->has_keepcnt &&
	     set_int(s, IPPROTO_TCP, TCP_KEEPCNT, e->keepcnt, "TCP_KEEPCNT", e)))
		return -1;
	return 0;
}

/* bind() to E's address, or connect() to its peer (PEER). */
static int sk_attach(int s, const InetSkEntry *e, bool peer)
{
	const ProtobufCBinaryData *a = peer ? &e->dst_addr : &e->src_addr;
	struct sockaddr_storage ss;
	socklen_t len = sk_addr(e->family, a->data,
				peer ? e->dst_port : e->src_port, &ss);
	char buf[160];

	if (!(peer ? connect : bind)(s, (struct sockaddr *)&ss, len))
		return 0;
	pr_perror("Can't %s %s", peer ? "connect" : "bind",
		  sk_name(e, buf, sizeof(buf)));
	return -1;
}

/* Write LEN bytes into the queue QUEUE of a socket in repair mode. */
static int queue_write(int s, int queue, const uint8_t *data, size_t len,
		       const InetSkEntry *e)
{
	char buf[160];
	ssize_t n;

	if (!len)
		return 0;
	if (repair_int(s, TCP_REPAIR_QUEUE, queue, "TCP_REPAIR_QUEUE", e))
		return -1;
	while (len) {
		n = send(s, data, len, MSG_DONTWAIT);
		if (n <= 0) {
			pr_perror("%s: can't put back %zu bytes of its %s queue",
				  sk_name(e, buf, sizeof(buf)), len,
				  queue == TCP_SEND_QUEUE ? "send" : "receive");
			return -1;
		}
		data += n;
		len -= n;
	}
	return 0;
}

static int restore_repair_opts(int s, const InetSkEntry *e,
			       const TcpStreamEntry *te)
{
	struct tcp_repair_opt o[4];
	int n = 0;

	o[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, te->mss };
	if (te->tcpi_options & TCPI_OPT_WSCALE)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
			te->snd_wscale | (te->rcv_wscale << 16) };
	if (te->tcpi_options & TCPI_OPT_SACK)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (te->tcpi_options & TCPI_OPT_TIMESTAMPS)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	if (repair_set(s, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o, n * sizeof(o[0]),
		       "TCP_REPAIR_OPTIONS", e))
		return -1;
	if ((te->tcpi_options & TCPI_OPT_TIMESTAMPS) &&
	    repair_int(s, TCP_TIMESTAMP, te->timestamp, "TCP_TIMESTAMP", e))
		return -1;
	return 0;
}

/*
 * Room for the queues while they are written back (skbs made anew may take
 * more memory than the dumped ones): the dumped sizes come back afterwards.
 */
static int bufs_room(int s, const InetSkEntry *e, const TcpStreamEntry *te)
{
	uint32_t snd = e->has_sndbuf ? e->sndbuf : 0;
	uint32_t rcv = e->has_rcvbuf ? e->rcvbuf : 0;

	return set_buf(s, SO_SNDBUFFORCE, snd + 4 * te->send_queue.len + 65536,
		       "SO_SNDBUFFORCE", e) ||
	       set_buf(s, SO_RCVBUFFORCE, rcv + 4 * te->recv_queue.len + 65536,
		       "SO_RCVBUFFORCE", e);
}

/*
 * The connection in repair mode: sequence numbers, bind, connect (which
 * sends nothing), options, the queues (received bytes, then the sent but
 * unacked ones), the windows (after the receive queue: rcv_wup may not
 * pass rcv_nxt). The bytes never sent wait for inet_release().
 */
static int restore_stream(int s, const InetSkEntry *e, const TcpStreamEntry *te)
{
	size_t sent = te->send_queue.len - te->unsent;
	struct tcp_repair_window w = { te->snd_wl1, te->snd_wnd,
				       te->max_window, te->rcv_wnd,
				       te->rcv_wup };

	if (te->unsent > te->send_queue.len) {
		pr_err("Image tcp-stream.img: connection %u has %u unsent bytes of %zu\n",
		       te->id, te->unsent, te->send_queue.len);
		return -1;
	}
	if (repair_int(s, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR", e) ||
	    restore_early_opts(s, e) || bufs_room(s, e, te) ||
	    repair_int(s, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", e) ||
	    repair_int(s, TCP_QUEUE_SEQ, te->snd_seq - te->send_queue.len,
		       "TCP_QUEUE_SEQ", e) ||
	    repair_int(s, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE", e) ||
	    repair_int(s, TCP_QUEUE_SEQ, te->rcv_seq - te->recv_queue.len,
		       "TCP_QUEUE_SEQ", e) ||
	    sk_attach(s, e, false) || sk_attach(s, e, true) ||
	    restore_repair_opts(s, e, te) ||
	    queue_write(s, TCP_RECV_QUEUE, te->recv_queue.data,
			te->recv_queue.len, e) ||
	    repair_set(s, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w),
		       "TCP_REPAIR_WINDOW", e) ||
	    queue_write(s, TCP_SEND_QUEUE, te->send_queue.data, sent, e))
		return -1;
	return repair_int(s, TCP_REPAIR_QUEUE, TCP_NO_QUEUE, "TCP_REPAIR_QUEUE", e);
}

/* ---- restore: a UDP socket's datagrams, sent again from their source */

/* Where to send to reach a socket bound to ADDR (any: loopback). */
static void dgram_dst(const InetSkEntry *e, bool v4, uint8_t *dst)
{
	static const uint8_t any6[16];

	if (v4) {
		const uint8_t *a = e->src_addr.data +
				   (e->family == AF_INET6 ? 12 : 0);
		uint32_t lo = htonl(INADDR_LOOPBACK);

		if (e->family == AF_INET6 &&
		    !v4mapped(e->src_addr.data))
			a = (const uint8_t *)&lo;
		memcpy(dst, a, 4);
		if (!memcmp(dst, any6, 4))
			memcpy(dst, &lo, 4);
		return;
	}
	memcpy(dst, e->src_addr.data, 16);
	if (!memcmp(dst, any6, 16))
		memcpy(dst, &in6addr_loopback, 16);
}

/* D's UDP header and payload, to E's port. */
static void udp_fill(struct udphdr *uh, const InetSkEntry *e, const UdpDgram *d)
{
	uh->source = htons(d->port);
	uh->dest = htons(e->src_port);
	uh->len = htons(sizeof(*uh) + d->data.len);
	memcpy(uh + 1, d->data.data, d->data.len);
}

/* PKT through the raw socket S (-1: none could be made), closed after. */
static int raw_send(int s, void *pkt, size_t len, const void *to,
		    socklen_t tolen)
{
	int ret = -1;

	if (s >= 0 && sendto(s, pkt, len, 0, to, tolen) == (ssize_t)len)
		ret = 0;
	if (s >= 0)
		close(s);
	free(pkt);
	return ret;
}

/* IPv4: a raw IP packet (the kernel fills the checksum, length and id). */
static int dgram_send4(int family, const InetSkEntry *e, const UdpDgram *d)
{
	size_t len = sizeof(struct iphdr) + sizeof(struct udphdr) + d->data.len;
	const uint8_t *src = d->addr.data + (family == AF_INET6 ? 12 : 0);
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint8_t *pkt = calloc(1, len);
	struct iphdr *ip = (struct iphdr *)pkt;

	if (!pkt)
		return -1;
	dgram_dst(e, true, (uint8_t *)&to.sin_addr);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	memcpy(&ip->saddr, src, 4);
	ip->daddr = to.sin_addr.s_addr;
	udp_fill((struct udphdr *)(ip + 1), e, d);
	return raw_send(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW),
			pkt, len, &to, sizeof(to));
}

/* IPv6: a raw UDP socket bound to the source; the kernel sums it. */
static int dgram_send6(const InetSkEntry *e, const UdpDgram *d)
{
	size_t len = sizeof(struct udphdr) + d->data.len;
	struct sockaddr_in6 to = { .sin6_family = AF_INET6 }, from = to;
	uint8_t *pkt = calloc(1, len);
	int s;

	if (!pkt)
		return -1;
	dgram_dst(e, false, (uint8_t *)&to.sin6_addr);
	memcpy(&from.sin6_addr, d->addr.data, 16);
	udp_fill((struct udphdr *)pkt, e, d);
	s = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (s >= 0 && (setsockopt(s, IPPROTO_IPV6, IPV6_CHECKSUM, &(int){ 6 },
				  sizeof(int)) ||
		       bind(s, (struct sockaddr *)&from, sizeof(from)))) {
		close(s);
		s = -1;
	}
	return raw_send(s, pkt, len, &to, sizeof(to));
}

/* Queue the datagrams again, in order, and wait until they are there. */
static int restore_dgrams(int s, const InetSkEntry *e)
{
	char buf[160];
	size_t i;
	int tries, ret = 0;

	for (i = 0; i < e->n_dgrams && !ret; i++) {
		const UdpDgram *d = e->dgrams[i];
		bool v4 = d->addr.len == 4 ||
			  (d->addr.len == 16 &&
			   v4mapped(d->addr.data));

		if (d->addr.len != addr_len(e->family) && d->addr.len != 4)
			ret = -1;
		else if (v4)
			ret = dgram_send4(d->addr.len == 16 ? AF_INET6 : AF_INET,
					  e, d);
		else
			ret = dgram_send6(e, d);
	}
	if (ret) {
		pr_perror("%s: can't queue its datagram %zu again",
			  sk_name(e, buf, sizeof(buf)), i);
		return -1;
	}
	/* loopback delivers from a softirq: usually before sendto() returns */
	for (tries = 0; tries < 100; tries++) {
		size_t n;

		if (walk_dgrams(s, NULL, &n) || n >= e->n_dgrams)
			return 0;
		usleep(1000);
	}
	pr_warn("%s: not all of its %zu datagrams are queued again\n",
		sk_name(e, buf, sizeof(buf)), e->n_dgrams);
	return 0;
}

/* ---- restore: one socket */

static int sk_make(const InetSkEntry *e)
{
	char buf[160];
	int s = socket(e->family, e->type | SOCK_CLOEXEC, e->proto);
	int ret = -1;

	if (s < 0) {
		pr_perror("Can't create %s", sk_name(e, buf, sizeof(buf)));
		return -1;
	}
	if (e->proto == IPPROTO_TCP && e->state == TCP_ESTABLISHED) {
		ret = restore_stream(s, e, stream_find(e->id));
	} else {
		ret = restore_early_opts(s, e) || restore_opts(s, e);
		if (!ret && e->src_port)
			ret = sk_attach(s, e, false);
		if (!ret && e->state == TCP_LISTEN && listen(s, e->backlog)) {
			pr_perror("Can't listen on %s (backlog %u)",
				  sk_name(e, buf, sizeof(buf)), e->backlog);
			ret = -1;
		}
		if (!ret && e->has_dst_port)
			ret = sk_attach(s, e, true);
		if (!ret && e->n_dgrams)
			ret = restore_dgrams(s, e);
	}
	if (!ret && fcntl(s, F_SETFL, e->flags & O_NONBLOCK)) {
		pr_perror("Can't set the flags of %s", sk_name(e, buf, sizeof(buf)));
		ret = -1;
	}
	if (ret) {
		close(s);
		return -1;
	}
	return s;
}

static int make_listeners(void)
{
	size_t i;

	ri.listeners = true;
	for (i = 0; i < ri.n_sks; i++)
		if (ri.sks[i]->state == TCP_LISTEN) {
			ri.fd[i] = sk_make(ri.sks[i]);
			if (ri.fd[i] < 0)
				return -1;
		}
	return 0;
}

static int inet_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	ssize_t i = sk_find(fe->id);
	char buf[160];
	int fd;

	if (!ri.listeners && make_listeners())
		goto err;
	if (ri.fd[i] < 0)
		ri.fd[i] = sk_make(ri.sks[i]);
	if (ri.fd[i] < 0)
		goto err;
	fd = fcntl(ri.fd[i], F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		return fd;
	pr_perror("PID %d: fd %u: can't dup %s", t->pid, fe->fd,
		  sk_name(ri.sks[i], buf, sizeof(buf)));
	return -1;
err:
	pr_err("PID %d: fd %u: can't restore %s\n", t->pid, fe->fd,
	       sk_name(ri.sks[i], buf, sizeof(buf)));
	return -1;
}

/* The end of repair mode: the bytes never sent go out as usual. */
static void stream_finish(int s, const InetSkEntry *e)
{
	const TcpStreamEntry *te = stream_find(e->id);
	size_t sent = te->send_queue.len - te->unsent;
	const uint8_t *p = te->send_queue.data + sent;
	size_t len = te->unsent;
	char buf[160];
	ssize_t n;

	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &(int){ TCP_REPAIR_OFF },
		       sizeof(int)) || restore_opts(s, e)) {
		pr_perror("%s: can't leave repair mode", sk_name(e, buf, sizeof(buf)));
		return;
	}
	while (len && (n = send(s, p, len, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
		p += n;
		len -= n;
	}
	if (len)
		pr_perror("%s: %zu of its unsent bytes are lost",
			  sk_name(e, buf, sizeof(buf)), len);
	bufs_dumped(s, e);
}

static void inet_release(void)
{
	size_t i;

	for (i = 0; i < ri.n_sks; i++) {
		if (ri.fd[i] < 0)
			continue;
		if (ri.sks[i]->proto == IPPROTO_TCP &&
		    ri.sks[i]->state == TCP_ESTABLISHED)
			stream_finish(ri.fd[i], ri.sks[i]);
		close(ri.fd[i]);
		ri.fd[i] = -1;
	}
}

/* The tree runs: its connections may talk again. */
static void inet_restored(void)
{
	const char *done = NULL;
	size_t i;

	for (i = 0; i < ri.n_sks; i++) {
		const char *table = ri.sks[i]->nft_table;

		if (!table || (done && !strcmp(done, table)))
			continue;
		if (!nft_unblock(table))
			pr_info("Deleted the nftables table inet %s\n", table);
		done = table;
	}
}

/* ---- check */

int inet_probe_repair(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), ok;

	if (s < 0)
		return 0;
	ok = !setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &(int){ TCP_REPAIR_ON },
			 sizeof(int));
	close(s);
	return ok;
}

int inet_probe_nft(void)
{
	return !nft_run("add table inet criu_lite_check\n"
			"delete table inet criu_lite_check\n", NULL);
}

const struct fd_kind inet_sk_kind = {
	.type = FD_TYPE__FD_INETSK,
	.name = "inet socket",
	.match = inet_match,
	.dump_start = inet_dump_start,
	.dump = inet_dump,
	.dump_finish = inet_dump_finish,
	.dump_release = inet_dump_release,
	.dump_unlock = inet_dump_unlock,
	.load = inet_load,
	.validate = inet_validate,
	.open = inet_open,
	.describe = inet_describe,
	.release = inet_release,
	.restored = inet_restored,
};
