// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files unlinked while open. "big" holds data, a 3 MiB hole and data again;
 * fd 10 opens it read-write at offset 12345, fd 11 read-only O_NONBLOCK at
 * 777 (two descriptions of one inode); "empty" is opened O_WRONLY|O_APPEND
 * as fd 12. Both are unlinked, then a child inherits the three fds. After
 * restore, in both processes: the fd tables are as before, the contents and
 * sizes match, st_nlink is 0, fds 10 and 11 are one inode and 12 another,
 * nothing is at either path nor left next to them; the child reads through
 * fd 10 and the parent sees the offset move (one description across the
 * two), and the parent appends through fd 12.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define HEAD_LEN	40000
#define TAIL_OFF	(3 << 20)
#define TAIL_LEN	5000
#define BIG_SIZE	(TAIL_OFF + TAIL_LEN)
#define POS10		12345
#define POS11		777

static struct test_fds s0;

static void open_at(const char *name, int flags, int want, off_t pos)
{
	int fd = open(name, flags | O_CREAT, 0640);

	if (fd < 0 || dup2(fd, want) != want || lseek(want, pos, SEEK_SET) != pos)
		fail("open %s as fd %d at %ld: %m", name, want, (long)pos);
	close(fd);
}

static void write_at(int fd, off_t off, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len);

	if (!buf)
		fail("malloc: %m");
	fill_pattern(buf, len, seed);
	if (pwrite(fd, buf, len, off) != (ssize_t)len)
		fail("pwrite: %m");
	free(buf);
}

static void check_range(int fd, off_t off, size_t len, int seed)
{
	uint8_t *buf = malloc(len);
	size_t bad;

	if (!buf)
		fail("malloc: %m");
	if (pread(fd, buf, len, off) != (ssize_t)len)
		fail("pread %zu at %ld: %m", len, (long)off);
	bad = seed < 0 ? check_zero(buf, len) : check_pattern(buf, len, seed);
	if (bad != (size_t)-1)
		fail("deleted file: wrong byte at %ld", (long)(off + bad));
	free(buf);
}

/* contents, size, no link, and nothing left in the directory */
static void check_files(void)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	check_range(11, 0, HEAD_LEN, 1);
	check_range(11, HEAD_LEN, TAIL_OFF - HEAD_LEN, -1);
	check_range(11, TAIL_OFF, TAIL_LEN, 2);
	if (fstat(10, &st) || st.st_size != BIG_SIZE || st.st_nlink ||
	    (st.st_mode & 07777) != 0640)
		fail("fd 10: size %ld, %lu links, mode %o", (long)st.st_size,
		     (unsigned long)st.st_nlink, st.st_mode & 07777);
	if (fstat(12, &st) || st.st_nlink)
		fail("fd 12: still linked");
	if (!access("big", F_OK) || !access("empty", F_OK))
		fail("a deleted file is back at its path");
	d = opendir(".");
	if (!d)
		fail("opendir: %m");
	while ((de = readdir(d)))
		if (strstr(de->d_name, "crlite"))
			fail("%s left in the directory", de->d_name);
	closedir(d);
}

static void child(void)
{
	pid_t pp = getppid();
	uint8_t buf[24];
	size_t i;

	test_fds_snapshot(&s0);
	test_ready_send(pp, 0);
	test_waitsig();

	test_fds_check(&s0);
	check_files();
	if (syscall(SYS_kcmp, pp, getpid(), KCMP_FILE, 10, 10))
		fail("child: fd 10 is no longer the parent's description");
	if (read(10, buf, sizeof(buf)) != sizeof(buf))
		fail("child: read fd 10: %m");
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != pattern_byte(1, POS10 + i))
			fail("child: fd 10 read the wrong bytes at %zu", i);
	test_child_pass();
}

int main(int argc, char **argv)
{
	struct stat a, b;
	pid_t pid;
	int st;

	test_init(argc, argv);
	test_ready_init();
	open_at("big", O_RDWR, 10, POS10);
	write_at(10, 0, HEAD_LEN, 1);
	write_at(10, TAIL_OFF, TAIL_LEN, 2);
	open_at("big", O_RDONLY | O_NONBLOCK, 11, POS11);
	open_at("empty", O_WRONLY | O_APPEND, 12, 0);
	if (fchmod(10, 0640) || unlink("big") || unlink("empty"))
		fail("unlink: %m");
	pid = test_fork();
	if (pid == 0)
		child();
	test_ready_wait(NULL);
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	check_files();
	if (fstat(10, &a) || fstat(11, &b) || a.st_ino != b.st_ino)
		fail("fds 10 and 11 are no longer one file");
	if (fstat(12, &b) || a.st_ino == b.st_ino)
		fail("fd 12 is the same file as fd 10");
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	if (lseek(10, 0, SEEK_CUR) != POS10 + 24)
		fail("fd 10 at %ld, not %d: the child's read did not move it",
		     (long)lseek(10, 0, SEEK_CUR), POS10 + 24);
	if (write(12, "x", 1) != 1 || fstat(12, &b) || b.st_size != 1)
		fail("fd 12: append: %m");
	pass();
}
