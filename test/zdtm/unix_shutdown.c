// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shutdown states of unix sockets, with data queued:
 *   fds 20/21  stream: 20 sent 2,000 bytes, then shutdown(SHUT_WR); 21 sent
 *              700 bytes back. 21 reads the 2,000 bytes, then end of file;
 *              20 can't send (EPIPE) but still receives;
 *   fds 40/41  seqpacket: 40 did shutdown(SHUT_RD): 41 can't send, 40 can;
 *   fd 50      stream whose peer was closed after sending it 1,500 bytes:
 *              the bytes, then end of file, and sending fails.
 * Checked after restore from inside; the original (--leave-running) too.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

static void eof(const char *who, int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	if (n)
		fail("%s: fd %d: recv %zd, not end of file: %m", who, fd, n);
}

static void epipe(const char *who, int fd)
{
	if (send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 || errno != EPIPE)
		fail("%s: fd %d: send did not fail with EPIPE: %m", who, fd);
}

int main(int argc, char **argv)
{
	struct test_fds s0;
	int sv[2];

	test_init(argc, argv);
	test_sk_pair_at(SOCK_STREAM, 20, 21);
	test_sk_send(20, 2000, 1);
	test_sk_send(21, 700, 2);
	if (shutdown(20, SHUT_WR))
		fail("shutdown(20, SHUT_WR): %m");
	test_sk_pair_at(SOCK_SEQPACKET, 40, 41);
	if (shutdown(40, SHUT_RD))
		fail("shutdown(40, SHUT_RD): %m");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || dup2(sv[0], 50) != 50)
		fail("socketpair: %m");
	close(sv[0]);
	test_sk_send(sv[1], 1500, 3);
	close(sv[1]);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	test_sk_expect("SHUT_WR peer", 21, 0, 2000, 1);
	eof("SHUT_WR peer", 21);
	epipe("SHUT_WR", 20);
	test_sk_expect("SHUT_WR", 20, 0, 700, 2);
	test_sk_send(21, 10, 4);
	test_sk_expect("SHUT_WR", 20, 0, 10, 4);
	eof("SHUT_RD", 40);
	epipe("SHUT_RD peer", 41);
	test_sk_send(40, 33, 5);
	test_sk_expect("SHUT_RD peer", 41, 1, 33, 5);
	test_sk_expect("peer closed", 50, 0, 1500, 3);
	eof("peer closed", 50);
	epipe("peer closed", 50);
	pass();
}
