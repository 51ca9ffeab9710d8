/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_STREAM_H
#define CRLITE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * Byte streams (sockets, pipes, files): whole-length reads and writes, TCP
 * endpoints, and frames: a 16-byte header { u32 type, u32 arg, u64 len }
 * (little endian) followed by len bytes of payload. The I/O functions return
 * -1 with errno set and log nothing: the caller knows whom it talks to. A
 * signal that interrupts them is an error (EINTR): only a signal with a
 * handler installed without SA_RESTART does, and that means "stop".
 */
struct frame_hdr {
	uint32_t type;
	uint32_t arg;
	uint64_t len;
};

/* LEN bytes; -1 on error. Sockets are written with MSG_NOSIGNAL. */
int stream_write_full(int fd, const void *buf, size_t len);
/* The whole iovec array (modified on the way); -1 on error. */
int stream_writev_full(int fd, struct iovec *iov, int n);
/* Up to LEN bytes: fewer only at end of stream; -1 on error. */
ssize_t stream_read_full(int fd, void *buf, size_t len);

/*
 * LEN bytes from IN (a socket or a pipe) to the file OUT through the pipe P,
 * in the kernel: the data never comes to user space. 0 when done; -1 when
 * reading IN failed (errno; EPIPE: it ended first), -2 when writing OUT did.
 * *MOVED: the bytes that reached OUT. EINVAL from IN with nothing moved:
 * these can't splice, copy with read and write instead.
 */
int stream_splice(int in, int out, const int p[2], uint64_t len,
		  uint64_t *moved);

/* A header and a payload in N pieces; the length is their sum. */
int frame_send(int fd, uint32_t type, uint32_t arg, const struct iovec *payload,
	       int n);
/* 1: a header in *h, 0: clean end of stream, -1: error (EPIPE if cut short). */
int frame_recv_hdr(int fd, struct frame_hdr *h);

/*
 * TCP. tcp_listen binds ADDR (NULL: any) at PORT (0: a free one, written
 * back to *port), and puts "ADDR:PORT" into DESC; tcp_connect tries every
 * address ADDR resolves to. Both log what failed, naming the address.
 */
int tcp_listen(const char *addr, uint16_t *port, char *desc, size_t size);
int tcp_connect(const char *addr, uint16_t port);
/* "ADDR:PORT" of the peer of a connected socket. */
void tcp_peer_name(int sk, char *buf, size_t size);

#endif
