// SPDX-License-Identifier: GPL-2.0-only
/*
 * A session leader whose controlling terminal is a pty slave: it holds the
 * master at fd 10 and the slave at fd 11, made its controlling terminal by
 * TIOCSCTTY, and /dev/tty at fd 12; its child leads a process group of its own, which is in front
 * of the terminal (tcsetpgrp). After restore, in both processes: tty_nr of
 * /proc/self/stat is the slave's device (the pts index may have changed),
 * tcgetpgrp() and tcgetsid() on the slave name the child's group and the
 * leader's session; fd 12 is that terminal still (TIOCGDEV: it comes back
 * as the slave itself); and the terminal works as one: the child, in
 * front, reads what the master writes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

/* /proc/self/stat: tty_nr and tpgid */
static void stat_tty(int *tty_nr, int *tpgid)
{
	char buf[1024], *p;

	read_file("/proc/self/stat", buf, sizeof(buf));
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %d %d", tty_nr, tpgid) != 2)
		fail("can't parse /proc/self/stat");
}

/* Both processes: the slave is the session's terminal, CHILD in front. */
static void check_ctty(const char *who, pid_t leader, pid_t child)
{
	struct stat st;
	int tty_nr, tpgid;

	if (fstat(11, &st))
		fail("%s: fstat fd 11: %m", who);
	stat_tty(&tty_nr, &tpgid);
	if ((dev_t)tty_nr != st.st_rdev)
		fail("%s: tty_nr %u:%u, but fd 11 is %u:%u", who,
		     major(tty_nr), minor(tty_nr), major(st.st_rdev),
		     minor(st.st_rdev));
	if (tpgid != child || tcgetpgrp(11) != child)
		fail("%s: the foreground group is %d (tcgetpgrp %d), not %d",
		     who, tpgid, tcgetpgrp(11), child);
	if (tcgetsid(11) != leader)
		fail("%s: the terminal's session is %d, not %d", who,
		     tcgetsid(11), leader);
}

/* fd 12, opened as /dev/tty, is the slave */
static void check_dev_tty(void)
{
	unsigned int dev;
	struct stat st;

	if (fstat(11, &st) || ioctl(12, TIOCGDEV, &dev))
		fail("fd 12: %m");
	if (dev != st.st_rdev)
		fail("fd 12 is the terminal %u:%u, not the slave %u:%u",
		     major(dev), minor(dev), major(st.st_rdev),
		     minor(st.st_rdev));
}

static void child(pid_t leader)
{
	char buf[8];

	if (setpgid(0, 0))
		fail("setpgid: %m");
	test_ready_send(leader, 0);
	test_waitsig();
	check_ctty("child", leader, getpid());
	test_ready_send(leader, 1);
	if (read(11, buf, sizeof(buf)) != 3 || memcmp(buf, "go\n", 3))
		fail("child: the slave did not read what the master wrote");
	test_child_pass();
}

int main(int argc, char **argv)
{
	pid_t me, pid;
	int st;

	test_init(argc, argv);
	test_ready_init();
	me = getpid();
	if (getsid(0) != me)
		fail("not a session leader");
	if (dup2(posix_openpt(O_RDWR | O_NOCTTY), 10) != 10 || grantpt(10) ||
	    unlockpt(10) || dup2(open(ptsname(10), O_RDWR | O_NOCTTY), 11) != 11)
		fail("make a pty: %m");
	close(3);
	close(4);
	if (ioctl(11, TIOCSCTTY, 0))
		fail("TIOCSCTTY: %m");
	if (dup2(open("/dev/tty", O_RDWR), 12) != 12)
		fail("open /dev/tty: %m");
	close(3);
	pid = test_fork();
	if (pid == 0)
		child(me);
	test_ready_wait(NULL);
	/* the child is in a group of its own: put it in front */
	if (tcsetpgrp(11, pid))
		fail("tcsetpgrp: %m");
	test_daemon();
	test_waitsig();

	check_ctty("leader", me, pid);
	check_dev_tty();
	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	test_ready_wait(NULL);
	if (write(10, "go\n", 3) != 3)
		fail("write the master: %m");
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	pass();
}
