// SPDX-License-Identifier: GPL-2.0-only
/*
 * A connection whose peer is outside the dumped tree: the runner
 * (zdtm-run), listening at 127.0.0.1:$ZDTM_PEER_PORT. Before the dump the
 * test sends 5,000 bytes the runner does not read yet, and the runner sends
 * 3,000 the test does not read; once the test runs again (restored) the
 * runner sends 3,000 more. After SIGTERM the test reads all 6,000 in order,
 * sends 4,000 more and the runner checks all 9,000 in order: neither side
 * saw a reset or lost a byte while the test was gone.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inet.h"
#include "zdtmtst.h"

#define TO_RUNNER	12	/* seeds, as zdtm-run has them */
#define FROM_RUNNER	11

int main(int argc, char **argv)
{
	const char *port = getenv("ZDTM_PEER_PORT");
	struct sockaddr_storage ss;
	size_t sent = 0, got = 0;
	socklen_t len;
	char c;
	int fd;

	test_init(argc, argv);
	if (!port)
		fail("no ZDTM_PEER_PORT: run me through zdtm-run");
	len = inet_loopback(AF_INET, atoi(port), &ss);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
		fail("connect to the runner at port %s: %m", port);
	stream_write(fd, TO_RUNNER, &sent, 5000);
	test_daemon();
	test_waitsig();
	inet_expect_opt("the connection", fd, SOL_SOCKET, SO_ERROR, 0);
	stream_expect("from the runner", fd, FROM_RUNNER, &got, 6000);
	stream_write(fd, TO_RUNNER, &sent, 4000);
	/* the runner ends it (RST) once it has read everything */
	shutdown(fd, SHUT_WR);
	while (recv(fd, &c, 1, 0) > 0)
		fail("the runner sent more than 6,000 bytes");
	close(fd);
	pass();
}
