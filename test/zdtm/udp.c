// SPDX-License-Identifier: GPL-2.0-only
/*
 * UDP over 127.0.0.1 and ::1, per family:
 *   A  bound to loopback, any port, SO_RCVBUF 32 KiB (64 read back), holding two datagrams
 *      from B (100 and 1,400 bytes), unread;
 *   B  bound and connected to A, O_NONBLOCK, holding one datagram from A
 *      (700 bytes), unread;
 *   C  bound, unconnected, nothing queued.
 * After restore A reads exactly its two datagrams, in order, from B's
 * address, and B its one from A; B is still connected to A (getpeername,
 * send() without an address reaches A) and they exchange more.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inet.h"
#include "zdtmtst.h"

struct udp {
	int family, a, b, c;
	int pa, pb, pc, rcvbuf;
};

static int bound(int family, int at)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_loopback(family, 0, &ss);
	int fd = socket(family, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) ||
	    dup2(fd, at) != at)
		fail("udp socket at %d: %m", at);
	close(fd);
	return at;
}

static void dgram_send(int fd, int family, int port, uint32_t seed,
		       size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = inet_loopback(family, port, &ss);
	uint8_t buf[2048];

	fill_pattern(buf, len, seed);
	if (sendto(fd, buf, len, 0, port ? (struct sockaddr *)&ss : NULL,
		   port ? sl : 0) != (ssize_t)len)
		fail("sendto fd %d: %m", fd);
}

/* The next datagram on FD is LEN bytes of SEED, from port FROM. */
static void dgram_expect(int fd, int from, uint32_t seed, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct pollfd p = { fd, POLLIN, 0 };
	uint8_t buf[4096];
	ssize_t n;

	if (poll(&p, 1, 10000) != 1)
		fail("fd %d: no datagram of %zu bytes (seed %u)", fd, len, seed);
	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
		     (struct sockaddr *)&ss, &sl);
	if (n != (ssize_t)len || check_pattern(buf, len, seed) != (size_t)-1)
		fail("fd %d: got %zd bytes, not the %zu of seed %u", fd, n, len,
		     seed);
	if (ntohs(((struct sockaddr_in *)&ss)->sin_port) != from)
		fail("fd %d: datagram from port %d, not %d", fd,
		     ntohs(((struct sockaddr_in *)&ss)->sin_port), from);
}

static void setup(struct udp *u, int base)
{
	struct sockaddr_storage ss;
	socklen_t len;

	u->a = bound(u->family, base);
	u->b = bound(u->family, base + 1);
	u->c = bound(u->family, base + 2);
	u->pa = inet_port(u->a);
	u->pb = inet_port(u->b);
	u->pc = inet_port(u->c);
	if (setsockopt(u->a, SOL_SOCKET, SO_RCVBUF, &(int){ 32768 }, sizeof(int)))
		fail("SO_RCVBUF: %m");
	u->rcvbuf = inet_opt(u->a, SOL_SOCKET, SO_RCVBUF);
	len = inet_loopback(u->family, u->pa, &ss);
	if (connect(u->b, (struct sockaddr *)&ss, len) ||
	    fcntl(u->b, F_SETFL, O_NONBLOCK))
		fail("connect: %m");
	dgram_send(u->b, u->family, 0, 1, 100);
	dgram_send(u->b, u->family, 0, 2, 1400);
	dgram_send(u->a, u->family, u->pb, 3, 700);
}

static void check(struct udp *u)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int v;

	if (inet_port(u->a) != u->pa || inet_port(u->b) != u->pb ||
	    inet_port(u->c) != u->pc)
		fail("family %d: ports changed", u->family);
	inet_expect_opt("A", u->a, SOL_SOCKET, SO_RCVBUF, u->rcvbuf);
	if (!(fcntl(u->b, F_GETFL) & O_NONBLOCK))
		fail("B lost O_NONBLOCK");
	if (getpeername(u->b, (struct sockaddr *)&ss, &len) ||
	    ntohs(((struct sockaddr_in *)&ss)->sin_port) != u->pa)
		fail("family %d: B is not connected to A: %m", u->family);
	if (!getpeername(u->c, (struct sockaddr *)&ss, &len))
		fail("family %d: C is connected", u->family);
	dgram_expect(u->a, u->pb, 1, 100);
	dgram_expect(u->a, u->pb, 2, 1400);
	dgram_expect(u->b, u->pa, 3, 700);
	if (recv(u->a, &v, sizeof(v), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		fail("A holds more than its two datagrams");
	dgram_send(u->b, u->family, 0, 4, 500);
	dgram_expect(u->a, u->pb, 4, 500);
	dgram_send(u->a, u->family, u->pb, 5, 600);
	dgram_expect(u->b, u->pa, 5, 600);
	dgram_send(u->c, u->family, u->pa, 6, 50);
	dgram_expect(u->a, u->pc, 6, 50);
}

int main(int argc, char **argv)
{
	struct udp u[2] = { { .family = AF_INET }, { .family = AF_INET6 } };
	size_t i;

	test_init(argc, argv);
	for (i = 0; i < ARRAY_SIZE(u); i++)
		setup(&u[i], 20 + 10 * i);
	test_daemon();
	test_waitsig();
	for (i = 0; i < ARRAY_SIZE(u); i++)
		check(&u[i]);
	pass();
}
