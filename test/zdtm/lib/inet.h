// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers of the TCP/UDP zdtm tests: sockets on loopback, byte streams
 * whose every byte says where it belongs (pattern_byte at its offset in the
 * stream), options read back.
 */
#ifndef ZDTM_INET_H
#define ZDTM_INET_H

#include <stddef.h>
#include <sys/socket.h>

/* Loopback of FAMILY (127.0.0.1 or ::1), port PORT, into SS; its length. */
socklen_t inet_loopback(int family, int port, struct sockaddr_storage *ss);
/* The port a socket is bound to. */
int inet_port(int fd);
/* A TCP listener on loopback, any port, with SO_REUSEADDR. */
int inet_listener(int family, int backlog);
/* A connected pair over loopback: *c connected to *s, accepted from L. */
void inet_pair(int family, int l, int *c, int *s);
/* An int option, failing the test when getsockopt() does. */
int inet_opt(int fd, int level, int name);
/* Fail unless option NAME of FD reads WANT. */
void inet_expect_opt(const char *who, int fd, int level, int name, int want);

/* A stream of SEED: LEN bytes from offset *off, written / read fully. */
void stream_write(int fd, uint32_t seed, size_t *off, size_t len);
/* Write (nonblocking) until the socket takes no more; bytes written. */
size_t stream_fill(int fd, uint32_t seed, size_t *off);
/* Read exactly LEN bytes, checking them (FD may be nonblocking). */
void stream_expect(const char *who, int fd, uint32_t seed, size_t *off,
		   size_t len);
/* A listener's backlog as sock_diag tells it (idiag_wqueue). */
int inet_backlog(int fd);
/* Close without TIME_WAIT (RST): the next restore needs the 4-tuple. */
void inet_abort(int fd);

#endif
