// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inet.h"
#include "zdtmtst.h"

socklen_t inet_loopback(int family, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*s4);
}

int inet_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("getsockname(%d): %m", fd);
	return ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
}

int inet_listener(int family, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_loopback(family, 0, &ss);
	int l = socket(family, SOCK_STREAM, 0);

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 },
				sizeof(int)) ||
	    bind(l, (struct sockaddr *)&ss, len) || listen(l, backlog))
		fail("listener (family %d): %m", family);
	return l;
}

void inet_pair(int family, int l, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_loopback(family, inet_port(l), &ss);

	*c = socket(family, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&ss, len))
		fail("connect (family %d): %m", family);
	*s = accept(l, NULL, NULL);
	if (*s < 0)
		fail("accept: %m");
}

int inet_opt(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		fail("getsockopt(%d, %d, %d): %m", fd, level, name);
	return v;
}

void inet_expect_opt(const char *who, int fd, int level, int name, int want)
{
	int v = inet_opt(fd, level, name);

	if (v != want)
		fail("%s: fd %d: option %d/%d reads %d, not %d", who, fd, level,
		     name, v, want);
}

static void stream_chunk(uint8_t *buf, uint32_t seed, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(seed, off + i);
}

void stream_write(int fd, uint32_t seed, size_t *off, size_t len)
{
	uint8_t buf[4096];
	struct pollfd p = { fd, POLLOUT, 0 };

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t w;

		stream_chunk(buf, seed, *off, n);
		w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN && poll(&p, 1, 10000) == 1)
			continue;
		if (w <= 0)
			fail("write %zu bytes to fd %d at %zu: %m", n, fd, *off);
		*off += w;
		len -= w;
	}
}

size_t stream_fill(int fd, uint32_t seed, size_t *off)
{
	uint8_t buf[4096];
	size_t total = 0;
	ssize_t w;

	for (;;) {
		stream_chunk(buf, seed, *off, sizeof(buf));
		w = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN)
			return total;
		if (w <= 0)
			fail("fill fd %d at %zu: %m", fd, *off);
		*off += w;
		total += w;
	}
}

void stream_expect(const char *who, int fd, uint32_t seed, size_t *off,
		   size_t len)
{
	uint8_t buf[4096], want[4096];
	struct pollfd p = { fd, POLLIN, 0 };

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf), i;
		ssize_t r;

		if (poll(&p, 1, 20000) != 1)
			fail("%s: fd %d: nothing to read at offset %zu (%zu more expected) in 20 s",
			     who, fd, *off, len);
		r = recv(fd, buf, n, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r <= 0)
			fail("%s: fd %d: read at offset %zu returned %zd: %m",
			     who, fd, *off, r);
		stream_chunk(want, seed, *off, r);
		for (i = 0; i < (size_t)r; i++)
			if (buf[i] != want[i])
				fail("%s: fd %d: byte %zu of the stream differs",
				     who, fd, *off + i);
		*off += r;
		len -= r;
	}
}

void inet_abort(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The answer to REQ whose inode is INO: its wqueue, or -1. */
static int diag_find_wqueue(int nl, ino_t ino)
{
	static char buf[32768];
	struct nlmsghdr *h;
	ssize_t n;

	while ((n = recv(nl, buf, sizeof(buf), 0)) > 0)
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR)
				return -1;
			if (m->idiag_inode == ino)
				return m->idiag_wqueue;
		}
	return -1;
}

int inet_backlog(int fd)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = { sizeof(req), SOCK_DIAG_BY_FAMILY,
		       NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		.r = { .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1 << TCP_LISTEN },
	};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stat st;
	int nl, ret;

	if (fstat(fd, &st) || getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("fd %d: fstat/getsockname: %m", fd);
	req.r.sdiag_family = ss.ss_family;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0 || send(nl, &req, sizeof(req), 0) != sizeof(req))
		fail("sock_diag: %m");
	ret = diag_find_wqueue(nl, st.st_ino);
	close(nl);
	return ret;
}
