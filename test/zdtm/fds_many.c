// SPDX-License-Identifier: GPL-2.0-only
/*
 * Many fds of mixed kinds: fds FIRST .. FIRST+N-1 cycle through eight
 * slots: a regular file read-write at an offset, the same file read-only
 * O_NONBLOCK at another offset, a directory, /dev/null, both ends of a pipe
 * holding one byte, a dup of the read-write file, a dup of the pipe's write
 * end with FD_CLOEXEC. After restore the set of fds is exactly what it was
 * (nothing missing, nothing extra) and each fd is what its slot says: kind,
 * flags, FD_CLOEXEC, offset, the description shared with its twin, the
 * byte in its pipe.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define FIRST	104	/* slot 0 */
#define N	5000
#define NFILES	16
#define MAXFD	(FIRST + N + 64)

static char before[MAXFD];

static void list_fds(char *set)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int dfd, fd;

	if (!d)
		fail("opendir: %m");
	dfd = dirfd(d);
	memset(set, 0, MAXFD);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dfd)
			continue;
		if (fd >= MAXFD)
			fail("fd %d is out of range", fd);
		set[fd] = 1;
	}
	closedir(d);
}

static void place(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		fail("fd %d: %m", want);
	close(fd);
}

static void file_name(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "f%d", (fd / 8) % NFILES);
}

static void setup(void)
{
	char name[16];
	int fd, p[2];

	for (fd = FIRST; fd < FIRST + N; fd++) {
		file_name(fd, name, sizeof(name));
		switch (fd % 8) {
		case 0:
			place(open(name, O_RDWR | O_CREAT, 0644), fd);
			if (lseek(fd, fd, SEEK_SET) != fd)
				fail("lseek: %m");
			break;
		case 1:
			place(open(name, O_RDONLY | O_NONBLOCK), fd);
			if (lseek(fd, 3 * fd, SEEK_SET) != 3 * fd)
				fail("lseek: %m");
			break;
		case 2:
			place(open(".", O_RDONLY | O_DIRECTORY), fd);
			break;
		case 3:
			place(open("/dev/null", O_WRONLY), fd);
			break;
		case 4:
			if (pipe(p))
				fail("pipe: %m");
			place(p[0], fd);
			place(p[1], fd + 1);
			if (write(fd + 1, &(char){ (char)fd }, 1) != 1)
				fail("write: %m");
			fd++;
			break;
		case 6:
			if (dup2(fd - 6, fd) != fd)
				fail("dup2: %m");
			break;
		case 7:
			if (dup3(fd - 2, fd, O_CLOEXEC) != fd)
				fail("dup3: %m");
			break;
		}
	}
}

static int same_desc(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

static void check_fd(int fd)
{
	static const int fl[8] = { O_RDWR, O_RDONLY | O_NONBLOCK,
				   O_RDONLY | O_DIRECTORY, O_WRONLY, O_RDONLY,
				   O_WRONLY, O_RDWR, O_WRONLY };
	static const mode_t kind[8] = { S_IFREG, S_IFREG, S_IFDIR, S_IFCHR,
					S_IFIFO, S_IFIFO, S_IFREG, S_IFIFO };
	int slot = fd % 8, cloexec = slot == 7 ? FD_CLOEXEC : 0;
	off_t want = slot == 0 || slot == 6 ? (fd & ~7) : slot == 1 ? 3 * fd : 0;
	struct stat st;
	char c;

	if (fstat(fd, &st) || (st.st_mode & S_IFMT) != kind[slot])
		fail("fd %d: not the kind it was (mode %o)", fd, st.st_mode);
	if ((fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_DIRECTORY)) !=
	    fl[slot])
		fail("fd %d: flags %#o, want %#o", fd, fcntl(fd, F_GETFL),
		     fl[slot]);
	if (fcntl(fd, F_GETFD) != cloexec)
		fail("fd %d: FD_CLOEXEC %d", fd, fcntl(fd, F_GETFD));
	if (slot <= 1 || slot == 6) {
		if (lseek(fd, 0, SEEK_CUR) != want)
			fail("fd %d: offset %ld, want %ld", fd,
			     (long)lseek(fd, 0, SEEK_CUR), (long)want);
	}
	if ((slot == 6 && !same_desc(fd, fd - 6)) ||
	    (slot == 7 && !same_desc(fd, fd - 2)) ||
	    (slot == 1 && same_desc(fd, fd - 1)))
		fail("fd %d: the wrong description sharing", fd);
	if (slot == 4 && (read(fd, &c, 1) != 1 || c != (char)fd))
		fail("fd %d: the pipe lost its byte", fd);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { MAXFD, MAXFD };
	char after[MAXFD];
	int fd;

	test_init(argc, argv);
	if (setrlimit(RLIMIT_NOFILE, &rl))
		fail("setrlimit: %m");
	setup();
	list_fds(before);
	test_daemon();
	test_waitsig();

	list_fds(after);
	for (fd = 0; fd < MAXFD; fd++)
		if (before[fd] != after[fd])
			fail("fd %d is %s", fd, before[fd] ? "missing" : "extra");
	for (fd = FIRST; fd < FIRST + N; fd++)
		check_fd(fd);
	pass();
}
