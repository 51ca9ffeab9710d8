// SPDX-License-Identifier: GPL-2.0-only
/*
 * Open file descriptions shared across processes: the parent opens a file
 * twice (fd 10 read-write at offset 1000, fd 11 read-only O_NONBLOCK at
 * offset 50), then forks; the child dups fd 10 to 20 and opens the file
 * again for itself (fd 12, offset 7). After restore each process has its
 * fd table exactly as before, and across the two processes fds 10, 20 and
 * 10 are one description (kcmp), 11 and 11 another, and the child's 12 is
 * its own. Then the child reads 24 bytes through fd 20 and clears
 * O_NONBLOCK on fd 11: the parent must see its fd 10 at 1024 and its fd 11
 * blocking, as one description would have it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define FILE_LEN 8192

static struct test_fds s0;

static void open_at(const char *name, int flags, int want, off_t pos)
{
	int fd = open(name, flags);

	if (fd < 0 || dup2(fd, want) != want || lseek(want, pos, SEEK_SET) != pos)
		fail("open %s as fd %d at %ld: %m", name, want, (long)pos);
	close(fd);
}

static int shared(pid_t a, int fa, pid_t b, int fb)
{
	long r = syscall(SYS_kcmp, a, b, KCMP_FILE, fa, fb);

	if (r < 0)
		fail("kcmp(%d:%d, %d:%d): %m", a, fa, b, fb);
	return r == 0;
}

static void child(void)
{
	pid_t pp = getppid();
	uint8_t buf[24];
	size_t i;

	if (dup2(10, 20) != 20)
		fail("dup2: %m");
	open_at("shared", O_RDONLY, 12, 7);
	test_fds_snapshot(&s0);
	test_ready_send(pp, 0);
	test_waitsig();

	test_fds_check(&s0);
	if (!shared(pp, 10, getpid(), 10) || !shared(pp, 10, getpid(), 20) ||
	    !shared(pp, 11, getpid(), 11))
		fail("child: fds 10, 20, 11 no longer share the parent's descriptions");
	if (shared(pp, 10, getpid(), 12) || shared(pp, 11, getpid(), 12))
		fail("child: its own fd 12 shares a description of the parent's");
	if (read(20, buf, sizeof(buf)) != sizeof(buf))
		fail("child: read fd 20: %m");
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != pattern_byte(7, 1000 + i))
			fail("child: fd 20 read the wrong bytes at %zu", i);
	if (fcntl(11, F_SETFL, 0))
		fail("child: F_SETFL: %m");
	test_child_pass();
}

int main(int argc, char **argv)
{
	uint8_t *data = malloc(FILE_LEN);
	pid_t pid;
	int fd, st;

	test_init(argc, argv);
	test_ready_init();
	fd = open("shared", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !data)
		fail("create: %m");
	fill_pattern(data, FILE_LEN, 7);
	if (write(fd, data, FILE_LEN) != FILE_LEN)
		fail("write: %m");
	close(fd);
	open_at("shared", O_RDWR, 10, 1000);
	open_at("shared", O_RDONLY | O_NONBLOCK, 11, 50);
	pid = test_fork();
	if (pid == 0)
		child();
	test_ready_wait(NULL);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	if (lseek(10, 0, SEEK_CUR) != 1024)
		fail("fd 10 at %ld, not 1024: the child's read did not move it",
		     (long)lseek(10, 0, SEEK_CUR));
	if (fcntl(11, F_GETFL) & O_NONBLOCK)
		fail("fd 11 still O_NONBLOCK: the child's F_SETFL did not reach it");
	pass();
}
