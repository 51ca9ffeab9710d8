// SPDX-License-Identifier: GPL-2.0-only
/*
 * A seqpacket socketpair, fds 40/41, fd 41 O_NONBLOCK: five messages queued
 * for 41 (1, 4,000, 0, 100,000 and 3 bytes: the boundaries must stay, an
 * empty one included), two for 40. After restore: the fd table as before,
 * each message whole and in order and nothing more, then a message each way.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

static const size_t to41[] = { 1, 4000, 0, 100000, 3 };
static const size_t to40[] = { 512, 9 };

int main(int argc, char **argv)
{
	struct test_fds s0;
	int sv[2];
	size_t i;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) || dup2(sv[0], 40) != 40 ||
	    dup2(sv[1], 41) != 41 || fcntl(41, F_SETFL, O_NONBLOCK))
		fail("socketpair at 40/41: %m");
	close(sv[0]);
	close(sv[1]);
	for (i = 0; i < ARRAY_SIZE(to41); i++)
		test_sk_send(40, to41[i], 30 + i);
	for (i = 0; i < ARRAY_SIZE(to40); i++)
		test_sk_send(41, to40[i], 40 + i);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	for (i = 0; i < ARRAY_SIZE(to41); i++)
		test_sk_expect("fd 41", 41, 1, to41[i], 30 + i);
	for (i = 0; i < ARRAY_SIZE(to40); i++)
		test_sk_expect("fd 40", 40, 1, to40[i], 40 + i);
	test_sk_empty("fd 40", 40);
	test_sk_empty("fd 41", 41);
	test_sk_ping("seqpacket", 40, 41);
	pass();
}
