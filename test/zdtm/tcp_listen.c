// SPDX-License-Identifier: GPL-2.0-only
/*
 * Listening TCP sockets and their options:
 *   fd 10  127.0.0.1, SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY, SO_RCVBUF
 *          48 KiB, backlog 7;
 *   fd 11  [::1], IPV6_V6ONLY, SO_REUSEPORT, O_NONBLOCK, backlog 3;
 *   fd 12  [::] dual-stack (IPV6_V6ONLY 0), SO_SNDBUF 96 KiB, backlog 128;
 *   fd 13  127.0.0.1, bound but neither listening nor connected.
 * After restore every fd is the same socket again (family, port, options,
 * backlog as sock_diag reads it, status flags), and new clients connect to
 * each listener (the dual-stack one over IPv4 and IPv6 both) and exchange
 * data with the accepted sockets, which inherit the listener's options.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inet.h"
#include "zdtmtst.h"

struct lsk {
	int fd, family, backlog;
	int v6only, reuseport, nonblock, rcvbuf, sndbuf;
	int port;
};

static void setopt(int fd, int level, int name, int val)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)))
		fail("fd %d: setsockopt(%d, %d): %m", fd, level, name);
}

static void make(struct lsk *l, int at, int any)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_loopback(l->family, 0, &ss);
	int fd = socket(l->family, SOCK_STREAM, 0);

	if (fd < 0 || dup2(fd, at) != at)
		fail("socket at %d: %m", at);
	close(fd);
	l->fd = at;
	if (any)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
	if (l->family == AF_INET6)
		setopt(at, IPPROTO_IPV6, IPV6_V6ONLY, l->v6only);
	if (l->reuseport)
		setopt(at, SOL_SOCKET, SO_REUSEPORT, 1);
	if (l->rcvbuf)
		setopt(at, SOL_SOCKET, SO_RCVBUF, l->rcvbuf);
	if (l->sndbuf)
		setopt(at, SOL_SOCKET, SO_SNDBUF, l->sndbuf);
	if (bind(at, (struct sockaddr *)&ss, len))
		fail("bind fd %d: %m", at);
	if (l->backlog && listen(at, l->backlog))
		fail("listen fd %d: %m", at);
	if (l->nonblock && fcntl(at, F_SETFL, O_NONBLOCK))
		fail("O_NONBLOCK: %m");
	l->port = inet_port(at);
	if (l->rcvbuf)
		l->rcvbuf = inet_opt(at, SOL_SOCKET, SO_RCVBUF);
	if (l->sndbuf)
		l->sndbuf = inet_opt(at, SOL_SOCKET, SO_SNDBUF);
}

static void same(const struct lsk *l)
{
	char who[32];

	snprintf(who, sizeof(who), "fd %d", l->fd);
	if (inet_port(l->fd) != l->port)
		fail("%s: port %d, was %d", who, inet_port(l->fd), l->port);
	inet_expect_opt(who, l->fd, SOL_SOCKET, SO_DOMAIN, l->family);
	inet_expect_opt(who, l->fd, SOL_SOCKET, SO_TYPE, SOCK_STREAM);
	inet_expect_opt(who, l->fd, SOL_SOCKET, SO_ACCEPTCONN, !!l->backlog);
	inet_expect_opt(who, l->fd, SOL_SOCKET, SO_REUSEPORT, l->reuseport);
	if (l->family == AF_INET6)
		inet_expect_opt(who, l->fd, IPPROTO_IPV6, IPV6_V6ONLY,
				l->v6only);
	if (l->rcvbuf)
		inet_expect_opt(who, l->fd, SOL_SOCKET, SO_RCVBUF, l->rcvbuf);
	if (l->sndbuf)
		inet_expect_opt(who, l->fd, SOL_SOCKET, SO_SNDBUF, l->sndbuf);
	if (!!(fcntl(l->fd, F_GETFL) & O_NONBLOCK) != l->nonblock)
		fail("%s: O_NONBLOCK is %d, was %d", who,
		     !!(fcntl(l->fd, F_GETFL) & O_NONBLOCK), l->nonblock);
	if (l->backlog && inet_backlog(l->fd) != l->backlog)
		fail("%s: backlog %d, was %d", who, inet_backlog(l->fd),
		     l->backlog);
}

/* A new client of L over FAMILY: both ways, and what it inherited. */
static void serve(const struct lsk *l, int family, uint32_t seed)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_loopback(family, l->port, &ss);
	size_t w = 0, r = 0, w2 = 0, r2 = 0;
	int c = socket(family, SOCK_STREAM, 0), s;

	if (c < 0 || connect(c, (struct sockaddr *)&ss, len))
		fail("fd %d: can't connect to port %d (family %d): %m", l->fd,
		     l->port, family);
	if (l->nonblock)
		fcntl(l->fd, F_SETFL, 0);
	s = accept(l->fd, NULL, NULL);
	if (s < 0)
		fail("fd %d: accept: %m", l->fd);
	if (l->nonblock)
		fcntl(l->fd, F_SETFL, O_NONBLOCK);
	if (l->rcvbuf)
		inet_expect_opt("accepted", s, SOL_SOCKET, SO_RCVBUF, l->rcvbuf);
	stream_write(c, seed, &w, 1000);
	stream_expect("accepted", s, seed, &r, 1000);
	stream_write(s, seed + 1, &w2, 1000);
	stream_expect("client", c, seed + 1, &r2, 1000);
	inet_abort(c);
	inet_abort(s);
}

/* A bound socket keeps its port taken. */
static void still_bound(const struct lsk *l)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_loopback(l->family, l->port, &ss);
	int t = socket(l->family, SOCK_STREAM, 0);

	if (!bind(t, (struct sockaddr *)&ss, len))
		fail("fd %d: port %d is free after restore", l->fd, l->port);
	close(t);
}

int main(int argc, char **argv)
{
	struct lsk l[] = {
		{ .family = AF_INET, .backlog = 7, .rcvbuf = 48 << 10 },
		{ .family = AF_INET6, .backlog = 3, .v6only = 1,
		  .reuseport = 1, .nonblock = 1 },
		{ .family = AF_INET6, .backlog = 128, .sndbuf = 96 << 10 },
		{ .family = AF_INET },
	};
	size_t i;

	test_init(argc, argv);
	for (i = 0; i < ARRAY_SIZE(l); i++)
		make(&l[i], 10 + i, i == 2);
	setopt(10, SOL_SOCKET, SO_REUSEADDR, 1);
	setopt(10, SOL_SOCKET, SO_KEEPALIVE, 1);
	setopt(10, IPPROTO_TCP, TCP_NODELAY, 1);
	test_daemon();
	test_waitsig();
	for (i = 0; i < ARRAY_SIZE(l); i++)
		same(&l[i]);
	inet_expect_opt("fd 10", 10, SOL_SOCKET, SO_REUSEADDR, 1);
	inet_expect_opt("fd 10", 10, SOL_SOCKET, SO_KEEPALIVE, 1);
	inet_expect_opt("fd 10", 10, IPPROTO_TCP, TCP_NODELAY, 1);
	serve(&l[0], AF_INET, 1);
	serve(&l[1], AF_INET6, 3);
	serve(&l[2], AF_INET6, 5);
	serve(&l[2], AF_INET, 7);
	still_bound(&l[3]);
	pass();
}
