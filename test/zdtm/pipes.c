// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pipes within and across processes, with data in flight:
 *   A  parent only: read end fd 20 (O_NONBLOCK), write end fd 21, a second
 *      description of the read end fd 22 (reopened through /proc), capacity
 *      256 KiB holding 100,000 bytes (more than a default pipe holds);
 *   B  parent writes (fd 30, O_NONBLOCK), child reads (fd 31): 5,000 bytes;
 *   C  child writes (fd 40), parent reads (fd 41): 777 bytes;
 *   D  read end fd 50 inherited by both (one description), write end fd 51
 *      in the parent, empty.
 * After restore each process has its fd table exactly as before (flags,
 * capacity, which fds share a description or a pipe); every pipe holds
 * exactly its bytes, in order; then a write on one end is read on the other
 * across the processes (C, B, D), and fd 50 is still one description.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define A_LEN 100000
#define A_SIZE (256 << 10)
#define B_LEN 5000
#define C_LEN 777

static struct test_fds s0;

static void pipe_at(int r, int w)
{
	int p[2];

	if (pipe(p) || dup2(p[0], r) != r || dup2(p[1], w) != w)
		fail("pipe at %d/%d: %m", r, w);
	close(p[0]);
	close(p[1]);
}

static void put(int fd, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len);

	fill_pattern(buf, len, seed);
	if (!buf || write(fd, buf, len) != (ssize_t)len)
		fail("write %zu bytes to fd %d: %m", len, fd);
	free(buf);
}

/* Exactly LEN bytes of SEED's pattern are queued in read end FD. */
static void expect(const char *who, int fd, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len);
	size_t got = 0, off;
	int queued;
	ssize_t n;

	if (ioctl(fd, FIONREAD, &queued) || queued != (int)len)
		fail("%s: fd %d holds %d bytes, not %zu", who, fd, queued, len);
	while (got < len && (n = read(fd, buf + got, len - got)) > 0)
		got += n;
	if (got != len)
		fail("%s: read %zu of %zu bytes from fd %d: %m", who, got, len, fd);
	off = check_pattern(buf, len, seed);
	if (off != (size_t)-1)
		fail("%s: fd %d: byte %zu of %zu differs", who, fd, off, len);
	free(buf);
}

static void ping(const char *who, int w, int r, const char *msg)
{
	char buf[16] = "";
	size_t len = strlen(msg);

	if (w >= 0 && write(w, msg, len) != (ssize_t)len)
		fail("%s: write %s to fd %d: %m", who, msg, w);
	if (r >= 0 && (read(r, buf, len) != (ssize_t)len || memcmp(buf, msg, len)))
		fail("%s: read '%s' from fd %d, not %s: %m", who, buf, r, msg);
}

static void child(void)
{
	pid_t pp = getppid();

	close(30);
	close(41);
	close(51);
	put(40, C_LEN, 3);
	test_fds_snapshot(&s0);
	test_ready_send(pp, 0);
	test_waitsig();

	test_fds_check(&s0);
	if (syscall(SYS_kcmp, pp, getpid(), KCMP_FILE, 50, 50))
		fail("child: fd 50 no longer shares the parent's description");
	expect("child", 31, B_LEN, 2);
	ping("child", 40, -1, "ping-C");
	ping("child", -1, 31, "ping-B");
	ping("child", -1, 50, "ping-D");
	test_child_pass();
}

int main(int argc, char **argv)
{
	char path[64];
	pid_t pid;
	int fd, st;

	test_init(argc, argv);
	test_ready_init();
	pipe_at(20, 21);
	if (fcntl(21, F_SETPIPE_SZ, A_SIZE) != A_SIZE)
		fail("F_SETPIPE_SZ: %m");
	put(21, A_LEN, 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", 20);
	fd = open(path, O_RDONLY);
	if (fd < 0 || dup2(fd, 22) != 22 || fcntl(20, F_SETFL, O_NONBLOCK))
		fail("second read end: %m");
	close(fd);
	pipe_at(31, 30);
	put(30, B_LEN, 2);
	if (fcntl(30, F_SETFL, O_NONBLOCK))
		fail("F_SETFL: %m");
	pipe_at(41, 40);
	pipe_at(50, 51);
	pid = test_fork();
	if (pid == 0)
		child();
	close(31);
	close(40);
	test_ready_wait(NULL);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	expect("parent", 20, A_LEN, 1);
	if (read(20, path, 1) != -1 || errno != EAGAIN)
		fail("fd 20 is no longer O_NONBLOCK");
	ping("parent", 21, 22, "ping-A");
	expect("parent", 41, C_LEN, 3);
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	ping("parent", -1, 41, "ping-C");
	ping("parent", 30, -1, "ping-B");
	ping("parent", 51, -1, "ping-D");
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	pass();
}
