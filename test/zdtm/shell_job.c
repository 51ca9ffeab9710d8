// SPDX-License-Identifier: GPL-2.0-only
/*
 * A job of a shell: the runner starts it as a shell with job control would
 * (zdtm-run: a session of its own on a pty the runner made, whose leader is
 * outside the tree; the job leads a process group in front of the terminal)
 * and dumps and restores it with --shell-job, the restore from a session on
 * another pty. Its stdin is the terminal; it puts that on fds 1 and 2 too
 * (one open file description), its verdict going to the outfile. After restore: fds 0-2 are still one description, of the
 * restoring terminal: the controlling terminal of the job's session now
 * (tty_nr, /dev/tty), which the job is still in front of (tcgetpgrp), and
 * the job is still no session leader. Without a controlling terminal (run
 * outside such a runner) it is a SKIP.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "zdtmtst.h"

#define OUT_FD	20

/* Nothing to check: the verdict still comes after the SIGTERM. */
static void skip(const char *why)
{
	test_daemon();
	test_waitsig();
	dprintf(OUT_FD, "SKIP: %s\n", why);
	_exit(0);
}

static int tty_nr(void)
{
	char buf[1024], *p;
	int nr;

	read_file("/proc/self/stat", buf, sizeof(buf));
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %d", &nr) != 1)
		fail("can't parse /proc/self/stat");
	return nr;
}

/* fds 0-2 on the controlling terminal, one description; it is returned. */
static unsigned int check_terminal(const char *when)
{
	unsigned int ctty;
	struct stat st;
	int fd, i;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, TIOCGDEV, &ctty))
		fail("%s: no controlling terminal: %m", when);
	close(fd);
	for (i = 0; i < 3; i++) {
		if (fstat(i, &st) || !isatty(i))
			fail("%s: fd %d is no terminal: %m", when, i);
		if (st.st_rdev != ctty)
			fail("%s: fd %d is %u:%u, the controlling terminal %u:%u",
			     when, i, major(st.st_rdev), minor(st.st_rdev),
			     major(ctty), minor(ctty));
		if (i && syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, i))
			fail("%s: fds 0 and %d are not one description", when,
			     i);
	}
	if ((dev_t)tty_nr() != ctty)
		fail("%s: tty_nr %u:%u is not /dev/tty %u:%u", when,
		     major(tty_nr()), minor(tty_nr()), major(ctty),
		     minor(ctty));
	if (getsid(0) == getpid() || getpgrp() != getpid())
		fail("%s: session %d, group %d: not a job leading its group",
		     when, getsid(0), getpgrp());
	if (tcgetpgrp(0) != getpgrp())
		fail("%s: group %d is in front of the terminal, not ours %d",
		     when, tcgetpgrp(0), getpgrp());
	return ctty;
}

int main(int argc, char **argv)
{
	unsigned int before, after;
	int fd;

	test_init(argc, argv);
	if (dup2(STDOUT_FILENO, OUT_FD) != OUT_FD)
		fail("dup2: %m");
	test_out_fd(OUT_FD);
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0 || !isatty(0))
		skip("no controlling terminal on stdin: run it as a shell job (zdtm-run does)");
	close(fd);
	if (dup2(0, 1) != 1 || dup2(0, 2) != 2)
		fail("dup2 the terminal: %m");
	before = check_terminal("before");
	test_daemon();
	test_waitsig();

	after = check_terminal("after");
	test_msg("terminal %u:%u, now %u:%u", major(before), minor(before),
		 major(after), minor(after));
	pass();
}
