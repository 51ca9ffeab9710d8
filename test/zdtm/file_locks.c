// SPDX-License-Identifier: GPL-2.0-only
/*
 * Advisory locks: fd 10 holds flock(LOCK_EX) on "flock", fd 11 POSIX locks
 * on "posix" (write 10..19, read 100..EOF), fd 12 an OFD write lock on
 * byte 5 of "ofd", and fd 13, a dup of 11, shows the same POSIX locks.
 * After restore a probe (a child forked then, with descriptions of its own)
 * must find each lock held, by its owner, over exactly its range: flock
 * fails with EWOULDBLOCK, F_GETLK and F_OFD_GETLK report the lock, and the
 * bytes around them are free. The probe runs before the dump too, so the
 * test is known to see locks at all. A second process shares our fd table
 * (clone CLONE_FILES) and maps "posix": restoring its mapping opens and
 * closes the file in the shared table, which must not cost the table its
 * POSIX locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static struct test_fds s0;

static void open_as(const char *name, int want)
{
	int fd = open(name, O_RDWR | O_CREAT, 0644);

	if (fd < 0 || dup2(fd, want) != want)
		fail("open %s as fd %d: %m", name, want);
	close(fd);
}

static void set_lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock f = { .l_type = type, .l_whence = SEEK_SET,
			   .l_start = start, .l_len = len };

	if (fcntl(fd, cmd, &f))
		fail("fcntl lock fd %d %ld+%ld: %m", fd, (long)start, (long)len);
}

/* What a probe's write lock on START+LEN meets: its type (F_UNLCK: none). */
static short probe_range(const char *name, int cmd, off_t start, off_t len,
			 pid_t *pid, off_t *lstart, off_t *llen)
{
	struct flock f = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			   .l_start = start, .l_len = len };
	int fd = open(name, O_RDWR);

	if (fd < 0 || fcntl(fd, cmd, &f))
		fail("probe: F_GETLK on %s: %m", name);
	close(fd);
	*pid = f.l_pid;
	*lstart = f.l_start;
	*llen = f.l_len;
	return f.l_type;
}

static void expect(const char *name, int cmd, off_t start, off_t len,
		   short type, pid_t owner, off_t lstart, off_t llen)
{
	off_t s, l;
	pid_t pid;
	short t = probe_range(name, cmd, start, len, &pid, &s, &l);

	if (t != type)
		fail("probe: %s %ld+%ld: lock type %d, want %d", name,
		     (long)start, (long)len, t, type);
	if (type != F_UNLCK && (pid != owner || s != lstart || l != llen))
		fail("probe: %s: lock of PID %d at %ld+%ld, want PID %d at %ld+%ld",
		     name, pid, (long)s, (long)l, owner, (long)lstart,
		     (long)llen);
}

static void probe(pid_t owner)
{
	int fd, st;
	pid_t pid = test_fork();

	if (pid) {
		if (waitpid(pid, &st, 0) != pid || st)
			fail("the probe found the locks wrong (status %#x)", st);
		return;
	}
	fd = open("flock", O_RDONLY);
	if (fd < 0)
		fail("probe: open flock: %m");
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		fail("probe: flock LOCK_SH on a file locked LOCK_EX: %m");
	close(fd);
	expect("posix", F_GETLK, 0, 10, F_UNLCK, 0, 0, 0);
	expect("posix", F_GETLK, 12, 1, F_WRLCK, owner, 10, 10);
	expect("posix", F_GETLK, 20, 80, F_UNLCK, 0, 0, 0);
	expect("posix", F_GETLK, 1000, 1, F_RDLCK, owner, 100, 0);
	expect("ofd", F_OFD_GETLK, 0, 5, F_UNLCK, 0, 0, 0);
	expect("ofd", F_OFD_GETLK, 0, 0, F_WRLCK, -1, 5, 1);
	expect("ofd", F_OFD_GETLK, 6, 0, F_UNLCK, 0, 0, 0);
	test_child_pass();
}

#define STACK_SIZE	(256 << 10)

static int sharer(void *arg)
{
	(void)arg;
	if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, 11, 0) == MAP_FAILED)
		fail("sharer: mmap: %m");
	test_ready_send(getppid(), 0);
	test_waitsig();
	test_child_pass();
}

int main(int argc, char **argv)
{
	char *stack = malloc(STACK_SIZE);
	pid_t pid;
	int st;

	test_init(argc, argv);
	test_ready_init();
	if (!stack)
		fail("malloc: %m");
	open_as("flock", 10);
	open_as("posix", 11);
	open_as("ofd", 12);
	if (flock(10, LOCK_EX | LOCK_NB) || dup2(11, 13) != 13 ||
	    ftruncate(11, 4096))
		fail("flock: %m");
	set_lock(11, F_SETLK, F_WRLCK, 10, 10);
	set_lock(11, F_SETLK, F_RDLCK, 100, 0);
	set_lock(12, F_OFD_SETLK, F_WRLCK, 5, 1);
	pid = clone(sharer, stack + STACK_SIZE, CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		fail("clone: %m");
	test_ready_wait(NULL);
	probe(getpid());
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	probe(getpid());
	if (kill(pid, SIGTERM) || waitpid(pid, &st, 0) != pid || st)
		fail("the sharer %d: status %#x: %m", pid, st);
	pass();
}
