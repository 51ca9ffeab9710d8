// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/stream.c: frames go through a socket whole, in many pieces and larger
 * than the socket's buffer; a stream cut inside a header or a payload is an
 * error or a short read, never a frame; a peer gone is EPIPE, not SIGPIPE;
 * splice from a socket into a file moves every byte, and says how many
 * when the socket ends early; TCP on 127.0.0.1 with a free port, and a
 * refused connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "stream.h"
#include "unit.h"

#define BIG	(3u << 20)	/* well past a socketpair's buffer */

struct reader {
	int fd;
	unsigned char *buf;
	size_t len;
	ssize_t got;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;

	r->got = stream_read_full(r->fd, r->buf, r->len);
	return NULL;
}

Test(stream, frame_roundtrip_big)
{
	unsigned char *data = malloc(BIG), *back = malloc(BIG + 64);
	struct iovec iov[3];
	struct frame_hdr h;
	struct reader r;
	pthread_t th;
	int sp[2];
	size_t i;

	cr_assert(data && back);
	for (i = 0; i < BIG; i++)
		data[i] = i * 7 + (i >> 12);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	r = (struct reader){ sp[1], back, sizeof(h) + BIG, 0 };
	cr_assert_eq(pthread_create(&th, NULL, read_all, &r), 0);
	iov[0] = (struct iovec){ data, 5 };
	iov[1] = (struct iovec){ data + 5, BIG / 2 };
	iov[2] = (struct iovec){ data + 5 + BIG / 2, BIG - 5 - BIG / 2 };
	cr_assert_eq(frame_send(sp[0], 7, 42, iov, 3), 0);
	pthread_join(th, NULL);
	cr_assert_eq(r.got, (ssize_t)(sizeof(h) + BIG));
	memcpy(&h, back, sizeof(h));
	cr_assert_eq(h.type, 7);
	cr_assert_eq(h.arg, 42);
	cr_assert_eq(h.len, BIG);
	cr_assert_eq(memcmp(back + sizeof(h), data, BIG), 0);
	close(sp[0]);
	close(sp[1]);
	free(data);
	free(back);
}

Test(stream, cut_short)
{
	struct frame_hdr h = { 1, 2, 100 };
	unsigned char buf[100];
	int sp[2];

	/* a clean end between frames */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	close(sp[0]);
	cr_assert_eq(frame_recv_hdr(sp[1], &h), 0);
	close(sp[1]);
	/* cut inside a header: an error, EPIPE */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	cr_assert_eq(stream_write_full(sp[0], &h, 9), 0);
	close(sp[0]);
	errno = 0;
	cr_assert_eq(frame_recv_hdr(sp[1], &h), -1);
	cr_assert_eq(errno, EPIPE);
	close(sp[1]);
	/* cut inside a payload: a short read the caller sees */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	cr_assert_eq(frame_send(sp[0], 1, 0, &(struct iovec){ buf, 10 }, 1), 0);
	close(sp[0]);
	cr_assert_eq(frame_recv_hdr(sp[1], &h), 1);
	cr_assert_eq(h.len, 10);
	cr_assert_eq(stream_read_full(sp[1], buf, sizeof(buf)), 10);
	close(sp[1]);
}

Test(stream, peer_gone_is_epipe)
{
	unsigned char buf[4096] = {};
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	close(sp[1]);
	errno = 0;
	cr_assert_eq(stream_write_full(sp[0], buf, sizeof(buf)), -1);
	cr_assert_eq(errno, EPIPE);
	close(sp[0]);
}

Test(stream, tcp_loopback)
{
	char desc[64], buf[6] = {}, *log;
	uint16_t port = 0;
	struct capture c;
	int l, a, b;

	l = tcp_listen("127.0.0.1", &port, desc, sizeof(desc));
	cr_assert_geq(l, 0);
	cr_assert_neq(port, 0);
	cr_assert(strstr(desc, "127.0.0.1:"), "%s", desc);
	a = tcp_connect("127.0.0.1", port);
	cr_assert_geq(a, 0);
	b = accept(l, NULL, NULL);
	cr_assert_geq(b, 0);
	cr_assert_eq(stream_write_full(a, "hello", 5), 0);
	cr_assert_eq(stream_read_full(b, buf, 5), 5);
	cr_assert_str_eq(buf, "hello");
	close(a);
	close(b);
	close(l);
	/* nothing listens there now */
	capture_start(&c);
	a = tcp_connect("127.0.0.1", port);
	log = capture_end(&c);
	cr_assert_eq(a, -1);
	cr_assert_log_has(log, "Can't connect to 127.0.0.1 port",
			  "Connection refused");
	free(log);
}

struct writer {
	int fd;
	const unsigned char *buf;
	size_t len;
};

static void *write_close(void *arg)
{
	struct writer *w = arg;

	stream_write_full(w->fd, w->buf, w->len);
	close(w->fd);
	return NULL;
}

/* LEN bytes written into a socket (then closed), spliced asking for WANT. */
static int splice_some(size_t len, uint64_t want, uint64_t *moved,
		       unsigned char **back)
{
	unsigned char *data = malloc(len);
	struct writer w;
	pthread_t th;
	int sp[2], p[2], fd, ret;
	size_t i;

	cr_assert(data);
	for (i = 0; i < len; i++)
		data[i] = i * 13 + (i >> 16);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	cr_assert_eq(pipe(p), 0);
	fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	cr_assert_geq(fd, 0);
	w = (struct writer){ sp[0], data, len };
	cr_assert_eq(pthread_create(&th, NULL, write_close, &w), 0);
	ret = stream_splice(sp[1], fd, p, want, moved);
	pthread_join(th, NULL);
	*back = malloc(len);
	cr_assert(*back);
	cr_assert_eq(pread(fd, *back, len, 0), (ssize_t)*moved);
	cr_assert_eq(memcmp(*back, data, *moved), 0);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	close(fd);
	free(data);
	return ret;
}

Test(stream, splice_to_file)
{
	unsigned char *back;
	uint64_t moved;

	cr_assert_eq(splice_some(BIG, BIG, &moved, &back), 0);
	cr_assert_eq(moved, BIG);
	free(back);
	/* the socket ends 1000 bytes short: EPIPE, and what did arrive */
	errno = 0;
	cr_assert_eq(splice_some(BIG - 1000, BIG, &moved, &back), -1);
	cr_assert_eq(errno, EPIPE);
	cr_assert_eq(moved, BIG - 1000);
	free(back);
}
