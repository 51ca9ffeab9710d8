// SPDX-License-Identifier: GPL-2.0-only
/*
 * Named and listening unix sockets, in one process:
 *   fd 20  stream listener bound to the absolute path WORKDIR/listen.sock
 *          (mode 0640), backlog 7;
 *   fd 21/22  a client connected to it (21) and the socket accepted for it
 *          (22), 4,000 bytes queued for 22 and 900 for 21;
 *   fd 23  a second client whose connection is still queued on fd 20, not
 *          accepted;
 *   fd 30  stream listener on the abstract name @zdtm-unix-bound, backlog 3;
 *   fd 31/32  client and accepted socket, 50 bytes queued for 31;
 *   fd 40  dgram socket bound to the relative path dgram.sock, holding two
 *          messages sent to it by fd 41 (unconnected, unnamed);
 *   fd 50  dgram socket bound to gone.sock, which was then unlinked.
 * After restore: the fd table as before; every name as getsockname() and
 * getpeername() read it; the queued data; accept() on fd 20 gives the
 * connection of fd 23; a NEW client connects to each listener by its name
 * and talks with the socket accepted for it; fd 40 receives both messages;
 * fd 50 still has its name, and gone.sock is still gone.
 * The socket files stay, as at dump time, for the next restore.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

static const char abstract[] = "\0zdtm-unix-bound";

static socklen_t addr(struct sockaddr_un *a, const char *name, size_t len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

static int sock_at(int type, int fd)
{
	int s = socket(AF_UNIX, type, 0);

	if (s < 0 || dup2(s, fd) != fd)
		fail("socket at %d: %m", fd);
	close(s);
	return fd;
}

static void bind_to(int fd, const char *name, size_t len)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, len);

	if (bind(fd, (struct sockaddr *)&a, l))
		fail("bind fd %d to %s: %m", fd, name[0] ? name : name + 1);
}

static void connect_to(int fd, const char *name, size_t len)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, len);

	if (connect(fd, (struct sockaddr *)&a, l))
		fail("connect fd %d to %s: %m", fd, name[0] ? name : name + 1);
}

static void accept_at(int l, int fd)
{
	int s = accept(l, NULL, NULL);

	if (s < 0 || dup2(s, fd) != fd)
		fail("accept on %d at %d: %m", l, fd);
	close(s);
}

/* getsockname (PEER 0) or getpeername (1) of FD is NAME. */
static void expect_name(int fd, int peer, const char *name, size_t len)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &l) :
		       getsockname(fd, (struct sockaddr *)&a, &l);

	if (r)
		fail("fd %d: get%sname: %m", fd, peer ? "peer" : "sock");
	/* a path comes back with its NUL */
	if (name[0])
		len++;
	if (l != offsetof(struct sockaddr_un, sun_path) + len ||
	    memcmp(a.sun_path, name, len))
		fail("fd %d: its %s name is %.*s (%u bytes), not %s", fd,
		     peer ? "peer's" : "own",
		     (int)(l - offsetof(struct sockaddr_un, sun_path)),
		     a.sun_path[0] ? a.sun_path : a.sun_path + 1, l,
		     name[0] ? name : name + 1);
}

/* A new client of listener L (by NAME) talks to the socket accepted for it. */
static void new_client(int l, const char *name, size_t len)
{
	int c = socket(AF_UNIX, SOCK_STREAM, 0), a;

	if (c < 0)
		fail("socket: %m");
	connect_to(c, name, len);
	a = accept(l, NULL, NULL);
	if (a < 0)
		fail("accept a new client on fd %d: %m", l);
	test_sk_ping("new client", c, a);
	close(a);
	close(c);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], cwd[PATH_MAX - 32];
	size_t plen, alen = sizeof(abstract) - 1;
	struct sockaddr_un a;
	struct test_fds s0;
	struct stat st;
	socklen_t l;

	test_init(argc, argv);
	if (!getcwd(cwd, sizeof(cwd)))
		fail("getcwd: %m");
	snprintf(path, sizeof(path), "%s/listen.sock", cwd);
	plen = strlen(path);
	unlink(path);
	unlink("dgram.sock");
	unlink("gone.sock");
	umask(0022);
	bind_to(sock_at(SOCK_STREAM, 20), path, plen);
	if (chmod(path, 0640) || listen(20, 7))
		fail("chmod/listen %s: %m", path);
	connect_to(sock_at(SOCK_STREAM, 21), path, plen);
	accept_at(20, 22);
	connect_to(sock_at(SOCK_STREAM, 23), path, plen);
	test_sk_send(21, 4000, 1);
	test_sk_send(22, 900, 2);
	bind_to(sock_at(SOCK_STREAM, 30), abstract, alen);
	if (listen(30, 3))
		fail("listen: %m");
	connect_to(sock_at(SOCK_STREAM, 31), abstract, alen);
	accept_at(30, 32);
	test_sk_send(32, 50, 3);
	bind_to(sock_at(SOCK_DGRAM, 40), "dgram.sock", 10);
	sock_at(SOCK_DGRAM, 41);
	l = addr(&a, "dgram.sock", 10);
	if (sendto(41, "first", 5, 0, (struct sockaddr *)&a, l) != 5 ||
	    sendto(41, "second!", 7, 0, (struct sockaddr *)&a, l) != 7)
		fail("sendto dgram.sock: %m");
	bind_to(sock_at(SOCK_DGRAM, 50), "gone.sock", 9);
	if (unlink("gone.sock"))
		fail("unlink gone.sock: %m");
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	if (stat(path, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640)
		fail("%s: mode %#o: %m", path, st.st_mode);
	if (!test_sk_opt(20, SO_ACCEPTCONN) || !test_sk_opt(30, SO_ACCEPTCONN) ||
	    test_sk_opt(22, SO_ACCEPTCONN))
		fail("SO_ACCEPTCONN: fd 20 %d, fd 30 %d, fd 22 %d",
		     test_sk_opt(20, SO_ACCEPTCONN), test_sk_opt(30, SO_ACCEPTCONN),
		     test_sk_opt(22, SO_ACCEPTCONN));
	expect_name(20, 0, path, plen);
	expect_name(22, 0, path, plen);
	expect_name(21, 1, path, plen);
	expect_name(23, 1, path, plen);
	expect_name(30, 0, abstract, alen);
	expect_name(32, 0, abstract, alen);
	expect_name(31, 1, abstract, alen);
	expect_name(40, 0, "dgram.sock", 10);
	expect_name(50, 0, "gone.sock", 9);
	if (!lstat("gone.sock", &st))
		fail("gone.sock is back on disk");
	test_sk_expect("accepted", 22, 0, 4000, 1);
	test_sk_expect("client", 21, 0, 900, 2);
	test_sk_expect("abstract client", 31, 0, 50, 3);
	test_sk_empty("accepted", 22);
	test_sk_empty("client", 21);
	test_sk_empty("abstract client", 31);
	test_sk_ping("path", 21, 22);
	test_sk_ping("abstract", 31, 32);
	{
		char buf[16] = "";

		if (recv(40, buf, sizeof(buf), MSG_DONTWAIT) != 5 ||
		    memcmp(buf, "first", 5) ||
		    recv(40, buf, sizeof(buf), MSG_DONTWAIT) != 7 ||
		    memcmp(buf, "second!", 7))
			fail("fd 40: the messages are not back: '%s' %m", buf);
	}
	test_sk_empty("dgram", 40);
	/* the queued connection is the one accept() gives now */
	accept_at(20, 24);
	test_sk_ping("queued", 23, 24);
	close(24);
	new_client(20, path, plen);
	new_client(30, abstract, alen);
	pass();
}
