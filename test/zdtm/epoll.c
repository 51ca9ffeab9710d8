// SPDX-License-Identifier: GPL-2.0-only
/*
 * An epoll loop over pipes and eventfds. Epoll fd 30 watches: fd 20 (a
 * pipe's read end holding 5 bytes) EPOLLIN, fd 22 (an eventfd at 1)
 * EPOLLIN|EPOLLET, fd 24 (another pipe's write end) EPOLLOUT|EPOLLONESHOT,
 * fd 23 (that pipe's empty read end) EPOLLIN|EPOLLRDHUP, and fd 25, a dup
 * of fd 20 added as its own watch, and fd 26 (an empty eventfd)
 * EPOLLIN|EPOLLEXCLUSIVE; each with its own 64-bit data. Epoll fd
 * 31 watches epoll fd 30. After restore: the fd table is as before, the
 * watches are exactly the same (fd number, events, data, from fdinfo);
 * epoll_wait on fd 31 says fd 30 is ready, and on fd 30 reports exactly
 * fds 20, 22, 24 and 25 with their data; EPOLL_CTL_DEL by fd number works for fd 20 and EPOLL_CTL_MOD for fd 23,
 * which then reports a write made after restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "zdtmtst.h"

static struct test_fds s0;

static const struct watch {
	int fd;
	uint32_t events;
	uint64_t data;
	int ready;
} watches[] = {
	{ 20, EPOLLIN, 0x1111, 1 },
	{ 22, EPOLLIN | EPOLLET, 0x2222222222ull, 1 },
	{ 24, EPOLLOUT | EPOLLONESHOT, 0x3333, 1 },
	{ 23, EPOLLIN | EPOLLRDHUP, 0x4444, 0 },
	{ 25, EPOLLIN, 0xffffffff00000001ull, 1 },
	{ 26, EPOLLIN | EPOLLEXCLUSIVE, 0x6666, 0 },
};

static void move_to(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		fail("fd at %d: %m", want);
	close(fd);
}

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		fail("EPOLL_CTL_ADD %d to %d: %m", fd, ep);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The watches of epoll EP from fdinfo (fd, events, data), sorted. */
static void watches_of(int ep, char *out, size_t size)
{
	char path[64], buf[4096], *lines[64], *p, *save = NULL;
	size_t n = 0, i, off = 0;
	int tfd;
	unsigned int ev;
	unsigned long long data;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	read_file(path, buf, sizeof(buf));
	for (p = strtok_r(buf, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
		if (!strncmp(p, "tfd:", 4) && n < ARRAY_SIZE(lines))
			lines[n++] = p;
	for (i = 0; i < n; i++) {
		if (sscanf(lines[i], "tfd: %d events: %x data: %llx", &tfd, &ev,
			   &data) != 3)
			fail("fdinfo of %d: %s", ep, lines[i]);
		snprintf(lines[i], strlen(lines[i]) + 1, "%d %x %llx", tfd, ev,
			 data);
	}
	qsort(lines, n, sizeof(*lines), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		off += snprintf(out + off, size - off, "%s\n", lines[i]);
}

static const struct watch *watch_of(uint64_t data)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(watches); i++)
		if (watches[i].data == data)
			return &watches[i];
	return NULL;
}

/* epoll_wait on fd 30 reports exactly the ready watches, each once. */
static void check_ready(void)
{
	struct epoll_event ev[8];
	int n, i, seen = 0, want = 0;
	size_t k;

	n = epoll_wait(30, ev, 8, 0);
	if (n < 0)
		fail("epoll_wait: %m");
	for (i = 0; i < n; i++) {
		const struct watch *w = watch_of(ev[i].data.u64);

		if (!w || !w->ready)
			fail("epoll_wait reports data %#llx",
			     (unsigned long long)ev[i].data.u64);
		seen |= 1 << (w - watches);
	}
	for (k = 0; k < ARRAY_SIZE(watches); k++)
		if (watches[k].ready)
			want |= 1 << k;
	if (seen != want || n != __builtin_popcount(want))
		fail("epoll_wait reports %d events (mask %#x, not %#x)", n, seen,
		     want);
}

int main(int argc, char **argv)
{
	char before30[1024], before31[256], now[1024];
	struct epoll_event ev;
	int p[2];
	size_t i;

	test_init(argc, argv);
	if (pipe(p) || write(p[1], "hello", 5) != 5)
		fail("pipe: %m");
	move_to(p[0], 20);
	move_to(p[1], 21);
	move_to(eventfd(1, EFD_NONBLOCK), 22);
	if (pipe(p))
		fail("pipe: %m");
	move_to(p[0], 23);
	move_to(p[1], 24);
	if (dup2(20, 25) != 25)
		fail("dup2: %m");
	move_to(eventfd(0, EFD_NONBLOCK), 26);
	move_to(epoll_create1(0), 30);
	move_to(epoll_create1(EPOLL_CLOEXEC), 31);
	for (i = 0; i < ARRAY_SIZE(watches); i++)
		add(30, watches[i].fd, watches[i].events, watches[i].data);
	add(31, 30, EPOLLIN, 0x30);
	watches_of(30, before30, sizeof(before30));
	watches_of(31, before31, sizeof(before31));
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	watches_of(30, now, sizeof(now));
	if (strcmp(now, before30))
		fail("epoll 30 watched\n%sand now\n%s", before30, now);
	watches_of(31, now, sizeof(now));
	if (strcmp(now, before31))
		fail("epoll 31 watched\n%sand now\n%s", before31, now);
	if (epoll_wait(31, &ev, 1, 0) != 1 || ev.data.u64 != 0x30)
		fail("epoll 31 does not see epoll 30 ready: %m");
	check_ready();
	if (epoll_ctl(30, EPOLL_CTL_DEL, 20, NULL))
		fail("EPOLL_CTL_DEL fd 20: %m");
	if (epoll_ctl(30, EPOLL_CTL_DEL, 20, NULL) != -1 || errno != ENOENT)
		fail("fd 20 still watched after EPOLL_CTL_DEL");
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 0x5555 };
	if (epoll_ctl(30, EPOLL_CTL_MOD, 23, &ev))
		fail("EPOLL_CTL_MOD fd 23: %m");
	if (write(24, "x", 1) != 1)
		fail("write fd 24: %m");
	for (i = 0; i < 8 && epoll_wait(30, &ev, 1, 0) == 1; i++)
		if (ev.data.u64 == 0x5555)
			pass();
	fail("a write to fd 24 is not reported on fd 23");
}
