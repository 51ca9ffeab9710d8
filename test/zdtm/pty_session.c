// SPDX-License-Identifier: GPL-2.0-only
/*
 * A pty whose ends are in different processes, as under sshd or tmux: the
 * root holds only the master (fd 10); its child starts a session whose
 * controlling terminal is the slave (opened without O_NOCTTY, on fd 0);
 * the child's child leads a process group in front of the terminal.
 * After restore: in the session, tty_nr is the slave's device and
 * tcgetpgrp() names the grandchild's group, tcgetsid() the child; and the
 * two ends are still one pty: a line the root writes to the master is what
 * the grandchild reads from its terminal.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

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

/* fd 0 is the session's terminal, SID's, with group FG in front. */
static void check_session(const char *who, pid_t sid, pid_t fg)
{
	struct stat st;

	if (fstat(0, &st) || !isatty(0))
		fail("%s: fd 0 is no terminal: %m", who);
	if ((dev_t)tty_nr() != st.st_rdev)
		fail("%s: tty_nr %u:%u, fd 0 is %u:%u", who, major(tty_nr()),
		     minor(tty_nr()), major(st.st_rdev), minor(st.st_rdev));
	if (tcgetsid(0) != sid || tcgetpgrp(0) != fg)
		fail("%s: the terminal's session %d, group %d: not %d, %d", who,
		     tcgetsid(0), tcgetpgrp(0), sid, fg);
}

static void grandchild(pid_t root)
{
	char buf[16];

	if (setpgid(0, 0))
		fail("setpgid: %m");
	test_ready_send(getppid(), 0);
	test_waitsig();
	check_session("grandchild", getsid(0), getpid());
	test_ready_send(root, 1);
	if (read(0, buf, sizeof(buf)) != 6 || memcmp(buf, "hello\n", 6))
		fail("grandchild: its terminal did not read the master's line");
	test_child_pass();
}

static void child(const char *slave)
{
	pid_t root = getppid(), pid;
	int fd, st;

	if (setsid() < 0)
		fail("setsid: %m");
	/* a session leader without a terminal: this one becomes it */
	fd = open(slave, O_RDWR);
	if (fd < 0 || dup2(fd, 0) || close(fd))
		fail("open %s: %m", slave);
	pid = test_fork();
	if (pid == 0)
		grandchild(root);
	test_ready_wait(NULL);
	if (tcsetpgrp(0, pid))
		fail("tcsetpgrp: %m");
	test_ready_send(root, 0);
	test_waitsig();
	check_session("child", getpid(), pid);
	if (kill(pid, SIGTERM) || waitpid(pid, &st, 0) != pid || st)
		fail("child: the grandchild %d: status %#x: %m", pid, st);
	test_child_pass();
}

int main(int argc, char **argv)
{
	char slave[64];
	pid_t pid;
	int st;

	test_init(argc, argv);
	test_ready_init();
	if (dup2(posix_openpt(O_RDWR | O_NOCTTY), 10) != 10 || close(3) ||
	    grantpt(10) || unlockpt(10) || ptsname_r(10, slave, sizeof(slave)))
		fail("make a pty: %m");
	pid = test_fork();
	if (pid == 0)
		child(slave);
	test_ready_wait(NULL);
	test_daemon();
	test_waitsig();

	if (kill(pid, SIGTERM))
		fail("the child %d is gone: %m", pid);
	test_ready_wait(NULL);
	if (write(10, "hello\n", 6) != 6)
		fail("write the master: %m");
	if (waitpid(pid, &st, 0) != pid || st)
		fail("the child %d: status %#x", pid, st);
	pass();
}
