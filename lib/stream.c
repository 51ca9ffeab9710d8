// SPDX-License-Identifier: LGPL-2.1-or-later
/* Whole-length stream I/O, frames, TCP endpoints (see stream.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream.h"

#define FRAME_MAX_PIECES	8
#define SPLICE_MAX		(1u << 30)	/* the pipe takes what fits */

int stream_writev_full(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
	int sock = 1;

	while (mh.msg_iovlen) {
		ssize_t done;

		if (!mh.msg_iov->iov_len) {
			mh.msg_iov++;
			mh.msg_iovlen--;
			continue;
		}
		/* MSG_NOSIGNAL: a peer gone is an EPIPE to report, not a death */
		done = sock ? sendmsg(fd, &mh, MSG_NOSIGNAL) :
			      writev(fd, mh.msg_iov, mh.msg_iovlen);
		if (done < 0 && errno == ENOTSOCK && sock) {
			sock = 0;
			continue;
		}
		if (done < 0 && errno == EINTR)
			continue;
		if (done < 0)
			return -1;
		while (done && (size_t)done >= mh.msg_iov->iov_len) {
			done -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (done) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + done;
			mh.msg_iov->iov_len -= done;
		}
	}
	return 0;
}

int stream_write_full(int fd, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return stream_writev_full(fd, &iov, 1);
}

ssize_t stream_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n)
			break;
		done += n;
	}
	return done;
}

int stream_splice(int in, int out, const int p[2], uint64_t len,
		  uint64_t *moved)
{
	*moved = 0;
	while (len) {
		ssize_t n = splice(in, NULL, p[1], NULL,
				   len < SPLICE_MAX ? len : SPLICE_MAX,
				   SPLICE_F_MOVE);

		if (n <= 0) {
			if (!n)
				errno = EPIPE;
			return -1;
		}
		len -= n;
		while (n) {
			ssize_t m = splice(p[0], NULL, out, NULL, n,
					   SPLICE_F_MOVE);

			if (m <= 0) {
				if (!m)
					errno = EIO;
				return -2;
			}
			n -= m;
			*moved += m;
		}
	}
	return 0;
}

int frame_send(int fd, uint32_t type, uint32_t arg, const struct iovec *payload,
	       int n)
{
	struct iovec iov[FRAME_MAX_PIECES + 1];
	struct frame_hdr h = { .type = type, .arg = arg };
	int i;

	if (n > FRAME_MAX_PIECES) {
		errno = E2BIG;
		return -1;
	}
	iov[0] = (struct iovec){ .iov_base = &h, .iov_len = sizeof(h) };
	for (i = 0; i < n; i++) {
		iov[i + 1] = payload[i];
		h.len += payload[i].iov_len;
	}
	return stream_writev_full(fd, iov, n + 1);
}

int frame_recv_hdr(int fd, struct frame_hdr *h)
{
	ssize_t n = stream_read_full(fd, h, sizeof(*h));

	if (n == (ssize_t)sizeof(*h))
		return 1;
	if (n > 0)
		errno = EPIPE;
	return n ? -1 : 0;
}

static void addr_name(const struct sockaddr *sa, socklen_t len, char *buf,
		      size_t size)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

void tcp_peer_name(int sk, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(sk, (struct sockaddr *)&ss, &len)) {
		snprintf(buf, size, "?");
		return;
	}
	addr_name((struct sockaddr *)&ss, len, buf, size);
}

static struct addrinfo *resolve(const char *addr, uint16_t port, int passive)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = passive ? AI_PASSIVE : 0 };
	struct addrinfo *res;
	char serv[8];
	int err;

	snprintf(serv, sizeof(serv), "%u", port);
	err = getaddrinfo(addr, serv, &hints, &res);
	if (err) {
		pr_err("Can't resolve address %s: %s\n", addr ? addr : "(any)",
		       gai_strerror(err));
		return NULL;
	}
	return res;
}

static int do_listen(int sk, const struct addrinfo *ai)
{
	int one = 1;

	setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(sk, ai->ai_addr, ai->ai_addrlen) || listen(sk, 1) ? -1 : 0;
}

static int do_connect(int sk, const struct addrinfo *ai)
{
	return connect(sk, ai->ai_addr, ai->ai_addrlen);
}

/* A socket for the first address of RES that USE takes; frees RES. */
static int first_socket(struct addrinfo *res,
			int (*use)(int sk, const struct addrinfo *ai))
{
	struct addrinfo *ai;
	int sk = -1, err = EADDRNOTAVAIL;

	for (ai = res; ai && sk < 0; ai = ai->ai_next) {
		sk = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (sk >= 0 && use(sk, ai)) {
			err = errno;
			close(sk);
			sk = -1;
		} else if (sk < 0) {
			err = errno;
		}
	}
	freeaddrinfo(res);
	errno = err;
	return sk;
}

int tcp_listen(const char *addr, uint16_t *port, char *desc, size_t size)
{
	struct addrinfo *res = resolve(addr, *port, 1);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int sk;

	if (!res)
		return -1;
	sk = first_socket(res, do_listen);
	if (sk < 0) {
		pr_perror("Can't listen on %s port %u", addr ? addr : "(any)",
			  *port);
		return -1;
	}
	if (getsockname(sk, (struct sockaddr *)&ss, &len)) {
		pr_perror("Can't read the address of the listening socket");
		close(sk);
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ?
		      ((struct sockaddr_in6 *)&ss)->sin6_port :
		      ((struct sockaddr_in *)&ss)->sin_port);
	addr_name((struct sockaddr *)&ss, len, desc, size);
	return sk;
}

int tcp_connect(const char *addr, uint16_t port)
{
	struct addrinfo *res = resolve(addr, port, 0);
	int sk;

	if (!res)
		return -1;
	sk = first_socket(res, do_connect);
	if (sk < 0)
		pr_perror("Can't connect to %s port %u", addr, port);
	return sk;
}
