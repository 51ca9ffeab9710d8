// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unix socketpairs with data queued:
 *   fds 20/21  stream: 5,000 bytes queued for 21, 3,000 for 20; fd 21
 *              O_NONBLOCK, SO_SNDBUF 64 KiB; fd 20 SO_PASSCRED, SO_RCVTIMEO
 *              2.5 s, SO_PEEK_OFF 0 (enabled);
 *   fds 30/31  dgram: four messages for 31 (7, 70,000, 0 and 1 bytes: the
 *              boundaries must stay, the big one is larger than one peek),
 *              one of 100 bytes for 30; fd 31 SO_RCVBUF 300,000.
 * After restore: the fd table as before (type, flags), the options, every
 * byte and every message boundary in order and nothing more, then a
 * message each way on each pair. The original (--leave-running) checks the
 * same: the dump read the queues without taking them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "zdtmtst.h"

static const size_t dgram_len[] = { 7, 70000, 0, 1 };

static void setopt(int fd, int opt, const void *v, socklen_t len)
{
	if (setsockopt(fd, SOL_SOCKET, opt, v, len))
		fail("setsockopt(%d, %d): %m", fd, opt);
}

int main(int argc, char **argv)
{
	struct timeval tv = { 2, 500000 }, got;
	int one = 1, zero = 0, big = 65536, rcv = 300000;
	struct test_fds s0;
	socklen_t len = sizeof(got);
	int snd21, rcv31;
	size_t i;

	test_init(argc, argv);
	test_sk_pair_at(SOCK_STREAM, 20, 21);
	test_sk_send(20, 5000, 1);
	test_sk_send(21, 3000, 2);
	if (fcntl(21, F_SETFL, O_NONBLOCK))
		fail("F_SETFL: %m");
	setopt(21, SO_SNDBUF, &big, sizeof(big));
	setopt(20, SO_PASSCRED, &one, sizeof(one));
	setopt(20, SO_RCVTIMEO, &tv, sizeof(tv));
	setopt(20, SO_PEEK_OFF, &zero, sizeof(zero));
	test_sk_pair_at(SOCK_DGRAM, 30, 31);
	for (i = 0; i < ARRAY_SIZE(dgram_len); i++)
		test_sk_send(30, dgram_len[i], 10 + i);
	test_sk_send(31, 100, 20);
	setopt(31, SO_RCVBUF, &rcv, sizeof(rcv));
	snd21 = test_sk_opt(21, SO_SNDBUF);
	rcv31 = test_sk_opt(31, SO_RCVBUF);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	if (!test_sk_opt(20, SO_PASSCRED) || test_sk_opt(21, SO_PASSCRED))
		fail("SO_PASSCRED: fd 20 %d, fd 21 %d", test_sk_opt(20, SO_PASSCRED),
		     test_sk_opt(21, SO_PASSCRED));
	if (test_sk_opt(21, SO_SNDBUF) != snd21 || test_sk_opt(31, SO_RCVBUF) != rcv31)
		fail("SO_SNDBUF of fd 21 %d (was %d), SO_RCVBUF of fd 31 %d (was %d)",
		     test_sk_opt(21, SO_SNDBUF), snd21, test_sk_opt(31, SO_RCVBUF), rcv31);
	if (test_sk_opt(20, SO_PEEK_OFF) != 0 || test_sk_opt(21, SO_PEEK_OFF) != -1)
		fail("SO_PEEK_OFF: fd 20 %d, fd 21 %d", test_sk_opt(20, SO_PEEK_OFF),
		     test_sk_opt(21, SO_PEEK_OFF));
	if (getsockopt(20, SOL_SOCKET, SO_RCVTIMEO, &got, &len) ||
	    got.tv_sec != tv.tv_sec || got.tv_usec != tv.tv_usec)
		fail("SO_RCVTIMEO of fd 20: %ld.%06ld", (long)got.tv_sec,
		     (long)got.tv_usec);
	setopt(20, SO_PEEK_OFF, &(int){ -1 }, sizeof(int));
	test_sk_expect("stream", 21, 0, 5000, 1);
	test_sk_expect("stream", 20, 0, 3000, 2);
	test_sk_empty("stream", 20);
	test_sk_empty("stream", 21);
	for (i = 0; i < ARRAY_SIZE(dgram_len); i++)
		test_sk_expect("dgram", 31, 1, dgram_len[i], 10 + i);
	test_sk_expect("dgram", 30, 1, 100, 20);
	test_sk_empty("dgram", 30);
	test_sk_empty("dgram", 31);
	test_sk_ping("stream", 20, 21);
	test_sk_ping("dgram", 30, 31);
	pass();
}
