// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two TCP connections between sockets of this process, over 127.0.0.1 and
 * ::1, each accepted from a listener that stays open (the connection shares
 * its port):
 *   client -> server: written until the client's socket takes no more: the
 *     server's small receive buffer is full, unread, and the client's send
 *     queue holds bytes, some of them never sent;
 *   server -> client: 3,000 bytes, unread.
 * The client is O_NONBLOCK with TCP_NODELAY and SO_KEEPALIVE (TCP_KEEPIDLE
 * 77). After restore each side reads exactly what was queued for it, in
 * order (every byte says its offset in its stream), then both exchange
 * more: nothing lost or doubled, the sequence goes on.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "inet.h"
#include "zdtmtst.h"

#define S2C_LEN 3000
#define MORE 20000

struct conn {
	int family;
	int l, c, s;
	size_t c2s_w, c2s_r, s2c_w, s2c_r;
};

static void conn_setup(struct conn *k)
{
	k->l = inet_listener(k->family, 4);
	/* small, so that the client's bytes pile up in both queues */
	if (setsockopt(k->l, SOL_SOCKET, SO_RCVBUF, &(int){ 8192 }, sizeof(int)))
		fail("SO_RCVBUF: %m");
	inet_pair(k->family, k->l, &k->c, &k->s);
	if (setsockopt(k->c, SOL_SOCKET, SO_SNDBUF, &(int){ 32768 }, sizeof(int)) ||
	    setsockopt(k->c, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)) ||
	    setsockopt(k->c, SOL_SOCKET, SO_KEEPALIVE, &(int){ 1 }, sizeof(int)) ||
	    setsockopt(k->c, IPPROTO_TCP, TCP_KEEPIDLE, &(int){ 77 }, sizeof(int)) ||
	    fcntl(k->c, F_SETFL, O_NONBLOCK))
		fail("client options: %m");
	stream_write(k->s, 2, &k->s2c_w, S2C_LEN);
	stream_fill(k->c, 1, &k->c2s_w);
	usleep(200000);
	stream_fill(k->c, 1, &k->c2s_w);
}

static void conn_report(const struct conn *k)
{
	int outq = 0, unsent = 0, inq = 0;

	ioctl(k->c, SIOCOUTQ, &outq);
	ioctl(k->c, SIOCOUTQNSD, &unsent);
	ioctl(k->s, SIOCINQ, &inq);
	test_msg("family %d: client wrote %zu, %d in its send queue (%d never sent), %d unread by the server\n",
		 k->family, k->c2s_w, outq, unsent, inq);
}

static void conn_check(struct conn *k)
{
	const char *who = k->family == AF_INET ? "127.0.0.1" : "::1";
	int i;

	if (!(fcntl(k->c, F_GETFL) & O_NONBLOCK))
		fail("%s: the client lost O_NONBLOCK", who);
	inet_expect_opt(who, k->c, IPPROTO_TCP, TCP_NODELAY, 1);
	inet_expect_opt(who, k->c, SOL_SOCKET, SO_KEEPALIVE, 1);
	inet_expect_opt(who, k->c, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	inet_expect_opt(who, k->c, SOL_SOCKET, SO_ERROR, 0);
	/* what was queued at the dump, in both directions */
	stream_expect(who, k->s, 1, &k->c2s_r, k->c2s_w - k->c2s_r);
	stream_expect(who, k->c, 2, &k->s2c_r, k->s2c_w - k->s2c_r);
	/* and the streams go on */
	for (i = 0; i < 5; i++) {
		stream_write(k->c, 1, &k->c2s_w, MORE);
		stream_expect(who, k->s, 1, &k->c2s_r, MORE);
		stream_write(k->s, 2, &k->s2c_w, MORE);
		stream_expect(who, k->c, 2, &k->s2c_r, MORE);
	}
	inet_abort(k->c);
	inet_abort(k->s);
	close(k->l);
}

int main(int argc, char **argv)
{
	struct conn k[2] = { { .family = AF_INET }, { .family = AF_INET6 } };
	size_t i;

	test_init(argc, argv);
	for (i = 0; i < ARRAY_SIZE(k); i++) {
		conn_setup(&k[i]);
		conn_report(&k[i]);
	}
	test_daemon();
	test_waitsig();
	for (i = 0; i < ARRAY_SIZE(k); i++)
		conn_check(&k[i]);
	pass();
}
