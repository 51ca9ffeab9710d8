// SPDX-License-Identifier: GPL-2.0-only
/*
 * The page server: `criu-lite page-server -D DIR --port N` takes one dump
 * over TCP and writes its images into DIR; `dump --page-server` streams its
 * pages images there as it reads them, then sends every other image, so DIR
 * ends up holding the complete dump, and waits for the server's word that all
 * of it is on disk before it kills the tree. The protocol is in
 * criu-lite-images(5), PAGE SERVER PROTOCOL:
 *
 *   hello (both ways): u32 magic "CLPS", u32 version, u32 page size, u32 0;
 *   then the server's ACK (0: go on; else why not), then frames from the
 *   dumper: OPEN name, PAGES (n, {vaddr, nr_pages} x n, the data), DATA
 *   bytes, CLOSE total, ... FINISH; the server answers FINISH with an ACK.
 *
 * The server stages what it receives in a directory of its own inside DIR
 * and moves it into place only on FINISH, once every file is fsync'ed: a
 * dumper that goes away mid-stream leaves nothing behind that looks like a
 * dump. It never holds more than one buffer of data: frames are streamed to
 * disk as they come.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crtools.h"
#include "log.h"
#include "page-xfer.h"
#include "stage.h"
#include "stream.h"

#define PS_MAGIC	0x53504c43u	/* "CLPS" */
#define PS_VERSION	1u
#define PS_MAX_NAME	255
#define PS_MAX_IOV	1024		/* pages.c's batch: UIO_MAXIOV */
#define PS_MAX_DATA	(1ULL << 30)	/* a DATA frame */
#define PS_MAX_MSG	1024		/* an ACK's text */
#define PS_BUF		(4u << 20)
#define PS_PIPE_SIZE	(1 << 20)	/* the default pipe-max-size */
#define PS_HELLO_TIMEOUT_S	10
#define PS_IO_TIMEOUT_S		120	/* a server that stalls this long is gone */
/* the dumper may freeze and inspect a big tree before it sends a page */
#define PS_IDLE_TIMEOUT_S	600

enum ps_cmd {
	PS_OPEN = 1,	/* payload: the image's file name */
	PS_PAGES,	/* arg: n; payload: n struct ps_iov, then their pages */
	PS_DATA,	/* payload: bytes of the open image */
	PS_CLOSE,	/* payload: u64, the bytes the image holds */
	PS_FINISH,	/* no payload: commit the dump */
	PS_ACK,		/* server: arg 0 done, else failed; payload: text */
	PS_ABORT,	/* the dump failed on the dumper's side: drop it */
};

struct ps_hello {
	uint32_t magic;
	uint32_t version;
	uint32_t page_size;
	uint32_t flags;
};

struct ps_iov {
	uint64_t vaddr;
	uint64_t nr_pages;
};

static void set_timeout(int sk, int opt, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(sk, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static const char *io_error(int err)
{
	if (err == EAGAIN)
		return "no progress for too long: the peer is stuck or unreachable";
	if (err == EPIPE || err == ECONNRESET)
		return "connection lost: the peer died or closed it";
	return strerror(err);
}

static int send_ack(int sk, uint32_t status, const char *text)
{
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };

	return frame_send(sk, PS_ACK, status, &iov, 1);
}

/* An ACK: 0 if it says done, else -1 with its text in WHY. */
static int recv_ack(int sk, char *why, size_t size)
{
	struct frame_hdr h;
	char text[PS_MAX_MSG + 1];
	int ret = frame_recv_hdr(sk, &h);

	if (ret <= 0) {
		snprintf(why, size, "%s", ret ? io_error(errno) :
			 "connection closed: the page server died or refused it");
		return -1;
	}
	if (h.type != PS_ACK || h.len > PS_MAX_MSG) {
		snprintf(why, size, "a frame of type %u and %" PRIu64 " bytes instead of an acknowledgement",
			 h.type, h.len);
		return -1;
	}
	if (stream_read_full(sk, text, h.len) != (ssize_t)h.len) {
		snprintf(why, size, "the acknowledgement was cut short");
		return -1;
	}
	text[h.len] = 0;
	snprintf(why, size, "%s", text);
	return h.arg ? -1 : 0;
}

/* Dump side */

static struct {
	int sk;
	int broken;		/* failed once: stay quiet, the dump fails */
	char peer[128];
	uint64_t sent;
} cl = { .sk = -1 };

int page_server_active(void)
{
	return cl.sk >= 0;
}

/*
 * A send failed: the server may have said why before it closed (an ACK
 * with a failure), else the connection is named with what went wrong.
 */
static int cl_fail(const char *what, const char *name)
{
	char why[PS_MAX_MSG + 64];
	int err = errno;
	struct pollfd p = { .fd = cl.sk, .events = POLLIN };

	if (cl.broken++)
		return -1;
	if (poll(&p, 1, 0) == 1 && recv_ack(cl.sk, why, sizeof(why)) &&
	    strncmp(why, "connection", 10)) {
		pr_err("Page server %s refused %s %s: %s\n", cl.peer, what,
		       name, why);
		return -1;
	}
	pr_err("Page server %s: can't send %s %s: %s\n", cl.peer, what, name,
	       io_error(err));
	return -1;
}

static int cl_handshake(void)
{
	struct ps_hello h = { PS_MAGIC, PS_VERSION, getpagesize(), 0 }, r;
	char why[PS_MAX_MSG + 64];
	ssize_t n;

	set_timeout(cl.sk, SO_RCVTIMEO, PS_HELLO_TIMEOUT_S);
	if (stream_write_full(cl.sk, &h, sizeof(h))) {
		pr_err("Page server %s: can't send the hello: %s\n", cl.peer,
		       io_error(errno));
		return -1;
	}
	n = stream_read_full(cl.sk, &r, sizeof(r));
	if (n != sizeof(r) || r.magic != PS_MAGIC) {
		pr_err("%s is not a criu-lite page server: %s\n", cl.peer,
		       n < 0 ? io_error(errno) :
		       n < (ssize_t)sizeof(r) ? "no hello" : "wrong magic");
		return -1;
	}
	if (r.version != PS_VERSION) {
		pr_err("Page server %s speaks protocol version %u, this criu-lite %u\n",
		       cl.peer, r.version, PS_VERSION);
		return -1;
	}
	if (recv_ack(cl.sk, why, sizeof(why))) {
		pr_err("Page server %s refused the dump: %s\n", cl.peer, why);
		return -1;
	}
	set_timeout(cl.sk, SO_RCVTIMEO, PS_IO_TIMEOUT_S);
	set_timeout(cl.sk, SO_SNDTIMEO, PS_IO_TIMEOUT_S);
	return 0;
}

/* Before anything is frozen: a wrong address or port fails here. */
int page_server_connect(void)
{
	if (!opts.page_server)
		return 0;
	snprintf(cl.peer, sizeof(cl.peer), "%s:%d", opts.ps_addr, opts.ps_port);
	cl.sk = tcp_connect(opts.ps_addr, opts.ps_port);
	if (cl.sk < 0)
		return -1;
	tcp_peer_name(cl.sk, cl.peer, sizeof(cl.peer));
	if (cl_handshake()) {
		page_server_disconnect(0);
		return -1;
	}
	pr_info("Sending the images to page server %s\n", cl.peer);
	return 0;
}

/* FAILED: the dump did, tell the server why it ends (if it still hears). */
void page_server_disconnect(int failed)
{
	if (cl.sk < 0)
		return;
	if (failed && !cl.broken)
		frame_send(cl.sk, PS_ABORT, 0, NULL, 0);
	close(cl.sk);
	cl.sk = -1;
}

static int cl_send(uint32_t type, uint32_t arg, const struct iovec *iov,
		   int n, const char *what, const char *name)
{
	struct pollfd p = { .fd = cl.sk, .events = POLLIN };

	if (cl.broken)
		return -1;
	/* the server speaks before FINISH only to say it failed */
	if (poll(&p, 1, 0) == 1) {
		errno = ECONNRESET;
		return cl_fail(what, name);
	}
	if (frame_send(cl.sk, type, arg, iov, n))
		return cl_fail(what, name);
	return 0;
}

static int ps_open(struct page_xfer *x, int dirfd)
{
	struct iovec iov = { .iov_base = x->name, .iov_len = strlen(x->name) };

	(void)dirfd;
	return cl_send(PS_OPEN, 0, &iov, 1, "image", x->name);
}

static int ps_write(struct page_xfer *x, const struct iovec *where, int n,
		    const void *buf, size_t len)
{
	struct ps_iov piov[PS_MAX_IOV];
	struct iovec iov[2];
	long page = getpagesize();
	int i;

	if (n < 1 || n > PS_MAX_IOV) {
		pr_err("Image %s: %d page runs in one write, the protocol takes 1 to %d\n",
		       x->name, n, PS_MAX_IOV);
		return -1;
	}
	for (i = 0; i < n; i++) {
		piov[i].vaddr = (uint64_t)(uintptr_t)where[i].iov_base;
		piov[i].nr_pages = where[i].iov_len / page;
	}
	iov[0] = (struct iovec){ .iov_base = piov, .iov_len = n * sizeof(*piov) };
	iov[1] = (struct iovec){ .iov_base = (void *)buf, .iov_len = len };
	if (cl_send(PS_PAGES, n, iov, 2, "the pages of", x->name))
		return -1;
	cl.sent += len;
	return 0;
}

static int ps_close(struct page_xfer *x, int complete)
{
	struct iovec iov = { .iov_base = &x->bytes, .iov_len = sizeof(x->bytes) };

	if (!complete)
		return 0;
	return cl_send(PS_CLOSE, 0, &iov, 1, "the end of", x->name);
}

const struct page_xfer_ops page_server_xfer_ops = {
	.open = ps_open,
	.write = ps_write,
	.close = ps_close,
};

/* An image the dump wrote locally, sent whole. */
int page_server_send_file(int dirfd, const char *name)
{
	struct page_xfer x = { .ops = &page_server_xfer_ops };
	unsigned char *buf = malloc(PS_BUF);
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC), ret = -1;
	ssize_t n;

	snprintf(x.name, sizeof(x.name), "%s", name);
	if (fd < 0 || !buf) {
		pr_perror("Can't read image %s to send it", name);
		goto out;
	}
	if (ps_open(&x, dirfd))
		goto out;
	while ((n = read(fd, buf, PS_BUF)) > 0) {
		struct iovec iov = { .iov_base = buf, .iov_len = n };

		if (cl_send(PS_DATA, 0, &iov, 1, "image", name))
			goto out;
		x.bytes += n;
		cl.sent += n;
	}
	if (n < 0) {
		pr_perror("Can't read image %s to send it", name);
		goto out;
	}
	ret = ps_close(&x, 1);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* Everything is sent: wait for the server's word that it is on disk. */
int page_server_finish(void)
{
	char why[PS_MAX_MSG + 64];

	if (cl_send(PS_FINISH, 0, NULL, 0, "the end of", "the dump"))
		return -1;
	if (recv_ack(cl.sk, why, sizeof(why))) {
		pr_err("Page server %s did not complete the dump: %s\n",
		       cl.peer, why);
		return -1;
	}
	pr_info("Page server %s: %s (%.1f MiB sent)\n", cl.peer, why,
		cl.sent / 1048576.0);
	return 0;
}

/* Server side */

struct ps_server {
	int sk;
	char peer[128];
	struct image_stage stage;
	int fd;			/* the open image, or -1 */
	char name[PS_MAX_NAME + 1];
	uint64_t bytes;		/* in it */
	uint64_t total;		/* in every image */
	unsigned int images;
	int has_inventory;
	int committed;		/* the images are in place */
	long page;
	int pipe[2];		/* for splice, or -1 */
	unsigned char *buf;
	char why[PS_MAX_MSG];	/* what went wrong, for the log and the dumper */
};

static volatile sig_atomic_t ps_stop;

static void ps_stop_handler(int sig)
{
	ps_stop = sig;
}

static int ps_refuse(struct ps_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int ps_refuse(struct ps_server *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* A read from the dumper failed or came short: why, in words. */
static int ps_recv_failed(struct ps_server *s, ssize_t got, const char *what)
{
	if (got >= 0)
		return ps_refuse(s, "the dumper went away in the middle of %s",
				 what);
	if (errno == EINTR && ps_stop)
		return ps_refuse(s, "interrupted by signal %d", ps_stop);
	return ps_refuse(s, "can't receive %s: %s", what, io_error(errno));
}

static int ps_recv(struct ps_server *s, void *buf, size_t len, const char *what)
{
	ssize_t got = stream_read_full(s->sk, buf, len);

	if (got == (ssize_t)len)
		return 0;
	return ps_recv_failed(s, got, what);
}

/*
 * In the kernel from the socket to the image through a pipe: a read and a
 * write of every byte less (about a fifth of the server's CPU time).
 */
static int ps_splice_data(struct ps_server *s, uint64_t *len)
{
	uint64_t moved;
	int ret = stream_splice(s->sk, s->fd, s->pipe, *len, &moved);

	s->bytes += moved;
	s->total += moved;
	*len -= moved;
	if (!ret)
		return 0;
	if (ret == -2)
		return ps_refuse(s, "can't write %s/%s: %s", s->stage.dir,
				 s->name, strerror(errno));
	if (errno == EINVAL && !moved) {
		pr_debug("No splice from this socket: copying\n");
		close(s->pipe[0]);
		close(s->pipe[1]);
		s->pipe[0] = s->pipe[1] = -1;
		return 0;
	}
	return ps_recv_failed(s, errno == EPIPE ? 0 : -1, s->name);
}

/* LEN bytes of the open image: spliced, or through the bounded buffer. */
static int ps_recv_data(struct ps_server *s, uint64_t len)
{
	if (s->pipe[0] >= 0 && ps_splice_data(s, &len))
		return -1;
	while (len) {
		size_t chunk = len < PS_BUF ? len : PS_BUF;

		if (ps_recv(s, s->buf, chunk, s->name))
			return -1;
		if (stream_write_full(s->fd, s->buf, chunk))
			return ps_refuse(s, "can't write %s/%s: %s", s->stage.dir,
					 s->name, strerror(errno));
		s->bytes += chunk;
		s->total += chunk;
		len -= chunk;
	}
	return 0;
}

/* A plain file name: the images directory holds nothing else. */
static int ps_name_ok(const char *name)
{
	const char *p;

	if (!name[0] || name[0] == '.')
		return 0;
	for (p = name; *p; p++)
		if (*p == '/' || *p <= ' ' || *p > '~')
			return 0;
	return 1;
}

static int ps_cmd_open(struct ps_server *s, const struct frame_hdr *h)
{
	if (s->fd >= 0)
		return ps_refuse(s, "image opened while %s is still open",
				 s->name);
	if (!h->len || h->len > PS_MAX_NAME)
		return ps_refuse(s, "an image name of %" PRIu64 " bytes",
				 h->len);
	if (ps_recv(s, s->name, h->len, "an image name"))
		return -1;
	s->name[h->len] = 0;
	if (!ps_name_ok(s->name))
		return ps_refuse(s, "\"%.64s\" is not an image file name",
				 s->name);
	s->fd = openat(s->stage.fd, s->name,
		       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return ps_refuse(s, "can't create image %s: %s", s->name,
				 errno == EEXIST ? "sent twice" : strerror(errno));
	s->bytes = 0;
	s->images++;
	if (!strcmp(s->name, "inventory.img"))
		s->has_inventory = 1;
	pr_debug("Receiving %s\n", s->name);
	return 0;
}

/* The runs must add up to the data that follows them, to the byte. */
static int ps_cmd_pages(struct ps_server *s, const struct frame_hdr *h)
{
	struct ps_iov iov[PS_MAX_IOV];
	uint64_t pages = 0, n = h->arg, i;

	if (s->fd < 0)
		return ps_refuse(s, "pages sent with no image open");
	if (!n || n > PS_MAX_IOV || h->len < n * sizeof(*iov))
		return ps_refuse(s, "%s: %" PRIu64 " page runs in a frame of %" PRIu64 " bytes",
				 s->name, n, h->len);
	if (ps_recv(s, iov, n * sizeof(*iov), "page runs"))
		return -1;
	for (i = 0; i < n; i++) {
		if (!iov[i].nr_pages || iov[i].nr_pages > PS_MAX_DATA / s->page ||
		    iov[i].vaddr % s->page)
			return ps_refuse(s, "%s: run %#" PRIx64 "+%" PRIu64 " pages is not a run of pages",
					 s->name, iov[i].vaddr, iov[i].nr_pages);
		pages += iov[i].nr_pages;
	}
	if (pages > PS_MAX_DATA / s->page ||
	    h->len - n * sizeof(*iov) != pages * s->page)
		return ps_refuse(s, "%s: runs of %" PRIu64 " pages with %" PRIu64 " bytes of data",
				 s->name, pages, h->len - n * sizeof(*iov));
	return ps_recv_data(s, pages * s->page);
}

static int ps_cmd_data(struct ps_server *s, const struct frame_hdr *h)
{
	if (s->fd < 0)
		return ps_refuse(s, "data sent with no image open");
	if (h->len > PS_MAX_DATA)
		return ps_refuse(s, "%s: %" PRIu64 " bytes in one frame",
				 s->name, h->len);
	return ps_recv_data(s, h->len);
}

/* On disk before the dumper is told: it kills the tree on our word. */
static int ps_cmd_close(struct ps_server *s, const struct frame_hdr *h)
{
	uint64_t total;

	if (s->fd < 0)
		return ps_refuse(s, "close with no image open");
	if (h->len != sizeof(total))
		return ps_refuse(s, "%s: a close of %" PRIu64 " bytes", s->name,
				 h->len);
	if (ps_recv(s, &total, sizeof(total), "a close"))
		return -1;
	if (total != s->bytes)
		return ps_refuse(s, "%s: the dumper sent %" PRIu64 " bytes, %" PRIu64 " arrived",
				 s->name, total, s->bytes);
	if (fsync(s->fd))
		return ps_refuse(s, "can't sync %s/%s: %s", s->stage.dir,
				 s->name, strerror(errno));
	close(s->fd);
	s->fd = -1;
	return 0;
}

static int ps_cmd_finish(struct ps_server *s, const struct frame_hdr *h)
{
	int dfd;

	if (h->len || s->fd >= 0)
		return ps_refuse(s, "finish with %s still open or a payload",
				 s->fd >= 0 ? s->name : "nothing");
	if (!s->has_inventory)
		return ps_refuse(s, "finish without inventory.img: not a dump");
	dfd = dup(s->stage.dirfd);
	if (dfd < 0 || stage_commit(&s->stage)) {
		if (dfd >= 0)
			close(dfd);
		return ps_refuse(s, "can't move the images into %s", s->stage.dir);
	}
	s->committed = 1;
	if (fsync(dfd)) {
		pr_perror("Can't sync %s", s->stage.dir);
		close(dfd);
		return ps_refuse(s, "can't sync %s", s->stage.dir);
	}
	close(dfd);
	return 0;
}

/* 1: the dump is complete, 0: go on, -1: refused (s->why). */
static int ps_serve_frame(struct ps_server *s)
{
	struct frame_hdr h;
	int ret = frame_recv_hdr(s->sk, &h);

	if (!ret)
		return ps_refuse(s, "the dumper went away before the end of the dump");
	if (ret < 0)
		return ps_recv_failed(s, -1, "a frame");
	switch (h.type) {
	case PS_OPEN:
		return ps_cmd_open(s, &h);
	case PS_PAGES:
		return ps_cmd_pages(s, &h);
	case PS_DATA:
		return ps_cmd_data(s, &h);
	case PS_CLOSE:
		return ps_cmd_close(s, &h);
	case PS_FINISH:
		return ps_cmd_finish(s, &h) ? -1 : 1;
	case PS_ABORT:
		return ps_refuse(s, "the dump failed on the dumper's side (see its log)");
	}
	return ps_refuse(s, "unknown command %u (arg %u, %" PRIu64 " bytes): not the criu-lite page server protocol",
			 h.type, h.arg, h.len);
}

static int ps_hello(struct ps_server *s)
{
	struct ps_hello h, r = { PS_MAGIC, PS_VERSION, s->page, 0 };

	set_timeout(s->sk, SO_RCVTIMEO, PS_HELLO_TIMEOUT_S);
	if (ps_recv(s, &h, sizeof(h), "the hello"))
		return -1;
	if (h.magic != PS_MAGIC)
		return ps_refuse(s, "no criu-lite dumper: its first bytes are %08x %08x",
				 h.magic, h.version);
	if (stream_write_full(s->sk, &r, sizeof(r)))
		return ps_refuse(s, "can't answer the hello: %s",
				 io_error(errno));
	if (h.version != PS_VERSION)
		return ps_refuse(s, "the dumper speaks protocol version %u, this page server %u",
				 h.version, PS_VERSION);
	if (h.page_size != (uint32_t)s->page)
		return ps_refuse(s, "the dumper's pages are %u bytes, here %ld: restore could not use them",
				 h.page_size, s->page);
	if (send_ack(s->sk, 0, "go on"))
		return ps_refuse(s, "can't answer the hello: %s",
				 io_error(errno));
	set_timeout(s->sk, SO_RCVTIMEO, PS_IDLE_TIMEOUT_S);
	set_timeout(s->sk, SO_SNDTIMEO, PS_IO_TIMEOUT_S);
	return 0;
}

/*
 * Tell the dumper why, and let what it still sends drain for a moment: a
 * close with unread data resets the connection, and may discard our word.
 */
static void ps_tell_failure(struct ps_server *s)
{
	int i;

	if (send_ack(s->sk, 1, s->why))
		return;
	shutdown(s->sk, SHUT_WR);
	set_timeout(s->sk, SO_RCVTIMEO, 1);
	for (i = 0; i < 256 && read(s->sk, s->buf, PS_BUF) > 0; i++)
		;
}

static int ps_session(struct ps_server *s)
{
	int ret;

	if (ps_hello(s))
		return -1;
	while (!(ret = ps_serve_frame(s)))
		;
	if (ret < 0)
		return -1;
	if (send_ack(s->sk, 0, "the dump is on disk"))
		pr_warn("Page server: the dump is in %s, but the dumper %s did not hear it: %s\n",
			s->stage.dir, s->peer, io_error(errno));
	return 0;
}

static int ps_accept(int lsk, char *peer, size_t size)
{
	int sk;

	sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	if (sk < 0) {
		if (errno == EINTR && ps_stop)
			pr_err("Page server: interrupted by signal %d while waiting for a dumper\n",
			       ps_stop);
		else
			pr_perror("Page server: can't accept a connection");
		return -1;
	}
	tcp_peer_name(sk, peer, size);
	return sk;
}

static void ps_signals(void)
{
	struct sigaction sa = { .sa_handler = ps_stop_handler };

	/* no SA_RESTART: a blocked read returns, the stage is removed */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cr_page_server(void)
{
	struct ps_server s = { .sk = -1, .fd = -1, .page = getpagesize(),
			       .pipe = { -1, -1 } };
	uint16_t port = opts.ps_port;
	char where[128];
	int lsk, ret = 1;

	if (opts.ps_port < 0) {
		pr_err("page-server needs a port to listen on: --port N (0: any free one)\n");
		return 1;
	}
	ps_signals();
	s.buf = malloc(PS_BUF);
	if (!s.buf || stage_open(&s.stage, opts.dir, "page-server")) {
		free(s.buf);
		return 1;
	}
	/* a larger pipe, fewer splices; without one, data is copied */
	if (!pipe2(s.pipe, O_CLOEXEC))
		fcntl(s.pipe[1], F_SETPIPE_SZ, PS_PIPE_SIZE);
	lsk = tcp_listen(opts.ps_addr, &port, where, sizeof(where));
	if (lsk < 0)
		goto out;
	/* the port on stdout: a script that asked for any port learns which */
	printf("%u\n", port);
	fflush(stdout);
	pr_info("Page server: listening on %s for one dump into %s\n", where,
		opts.dir);
	s.sk = ps_accept(lsk, s.peer, sizeof(s.peer));
	close(lsk);
	if (s.sk < 0)
		goto out;
	pr_info("Page server: dumper %s connected\n", s.peer);
	if (ps_session(&s)) {
		pr_err("Page server: dump from %s refused, nothing kept: %s\n",
		       s.peer, s.why);
		ps_tell_failure(&s);
		goto out;
	}
	pr_summary("Page server: %u images, %.1f MiB from %s into %s\n",
		   s.images, s.total / 1048576.0, s.peer, opts.dir);
	ret = 0;
out:
	if (s.fd >= 0)
		close(s.fd);
	if (s.sk >= 0)
		close(s.sk);
	if (s.pipe[0] >= 0) {
		close(s.pipe[0]);
		close(s.pipe[1]);
	}
	if (!s.committed)
		stage_abort(&s.stage);
	free(s.buf);
	return ret;
}
