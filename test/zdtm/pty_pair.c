// SPDX-License-Identifier: GPL-2.0-only
/*
 * A pty pair held by one process: the master at fd 10 (packet mode on,
 * locked: the slave can't be opened again), the slave at fd 11 (read-write)
 * and again at fd 12 (a second description, read-only, O_NONBLOCK), in
 * exclusive mode (TIOCEXCL). The slave is raw-ish (no ICANON, ECHO, ISIG,
 * ICRNL; VMIN 1, VTIME 3, VINTR changed) with a 37x123 window of 7x15
 * pixels. After restore: the fd set is exactly 0-2 and 10-12, fd 10 is a
 * pty master whose slave is what fds 11 and 12 are (its index may have
 * changed), with the same flags, termios, window size, packet mode, lock
 * and exclusive mode;
 * bytes written to the master are read on the slave (fd 12), and bytes
 * written to the slave come out of the master behind a packet-mode byte.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

static void at_fd(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		fail("fd %d: %m", want);
	close(fd);
}

static void setup(void)
{
	struct winsize ws = { 37, 123, 7, 15 };
	struct termios t;
	int pkt = 1, lck = 1;

	at_fd(posix_openpt(O_RDWR | O_NOCTTY), 10);
	if (grantpt(10) || unlockpt(10))
		fail("grantpt/unlockpt: %m");
	at_fd(open(ptsname(10), O_RDWR | O_NOCTTY), 11);
	at_fd(open(ptsname(10), O_RDONLY | O_NOCTTY | O_NONBLOCK), 12);
	if (tcgetattr(11, &t))
		fail("tcgetattr: %m");
	t.c_lflag &= ~(ICANON | ECHO | ISIG);
	t.c_iflag &= ~ICRNL;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 3;
	t.c_cc[VINTR] = 7;
	if (tcsetattr(11, TCSANOW, &t) || ioctl(11, TIOCSWINSZ, &ws) ||
	    ioctl(10, TIOCPKT, &pkt) || ioctl(10, TIOCSPTLCK, &lck) ||
	    ioctl(11, TIOCEXCL))
		fail("set up the pty: %m");
}

/* Exactly fds 0-2 and 10-12. */
static void check_fd_set(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fd;

	if (!d)
		fail("opendir: %m");
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d) || fd <= 2 || (fd >= 10 && fd <= 12))
			continue;
		fail("fd %d is open, and was not", fd);
	}
	closedir(d);
}

static void check_pair(void)
{
	struct stat m, s1, s2;
	unsigned int n;

	if (fstat(10, &m) || fstat(11, &s1) || fstat(12, &s2))
		fail("fstat: %m");
	if (!S_ISCHR(m.st_mode) || major(m.st_rdev) != 5 || minor(m.st_rdev) != 2)
		fail("fd 10 is no pty master (%u:%u)", major(m.st_rdev),
		     minor(m.st_rdev));
	if (ioctl(10, TIOCGPTN, &n))
		fail("TIOCGPTN: %m");
	if (s1.st_rdev != s2.st_rdev || major(s1.st_rdev) != 136 ||
	    minor(s1.st_rdev) != (unsigned int)n)
		fail("fds 11 and 12 (%u:%u, %u:%u) are not the slave of pts/%u",
		     major(s1.st_rdev), minor(s1.st_rdev), major(s2.st_rdev),
		     minor(s2.st_rdev), n);
	if ((fcntl(11, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) != O_RDWR ||
	    (fcntl(12, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) !=
		    (O_RDONLY | O_NONBLOCK))
		fail("slave flags %#x %#x", fcntl(11, F_GETFL),
		     fcntl(12, F_GETFL));
}

static void check_settings(const struct termios *t0, const struct winsize *w0)
{
	struct termios t;
	struct winsize w;
	int pkt = 0, lck = 0, excl = 0;

	if (tcgetattr(12, &t) || ioctl(11, TIOCGWINSZ, &w) ||
	    ioctl(10, TIOCGPKT, &pkt) || ioctl(10, TIOCGPTLCK, &lck) ||
	    ioctl(12, TIOCGEXCL, &excl))
		fail("read settings: %m");
	if (t.c_iflag != t0->c_iflag || t.c_oflag != t0->c_oflag ||
	    t.c_cflag != t0->c_cflag || t.c_lflag != t0->c_lflag ||
	    memcmp(t.c_cc, t0->c_cc, NCCS))
		fail("termios: iflag %#x oflag %#x cflag %#x lflag %#x, was %#x %#x %#x %#x",
		     t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag, t0->c_iflag,
		     t0->c_oflag, t0->c_cflag, t0->c_lflag);
	if (memcmp(&w, w0, sizeof(w)))
		fail("window %ux%u (%ux%u px), was %ux%u (%ux%u)", w.ws_row,
		     w.ws_col, w.ws_xpixel, w.ws_ypixel, w0->ws_row,
		     w0->ws_col, w0->ws_xpixel, w0->ws_ypixel);
	if (!pkt || !lck || !excl)
		fail("packet mode %d, locked %d, exclusive %d: all were on", pkt,
		     lck, excl);
}

static void check_data(void)
{
	char buf[16];
	ssize_t n;

	if (write(10, "ping\n", 5) != 5)
		fail("write master: %m");
	usleep(50000);
	n = read(12, buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "ping\n", 5))
		fail("slave read %zd bytes (%.*s), not ping: %m", n,
		     n > 0 ? (int)n : 0, buf);
	if (write(11, "pong", 4) != 4)
		fail("write slave: %m");
	n = read(10, buf, sizeof(buf));
	if (n != 5 || buf[0] != 0 || memcmp(buf + 1, "pong", 4))
		fail("master read %zd bytes, not a packet byte and pong", n);
}

int main(int argc, char **argv)
{
	struct termios t0;
	struct winsize w0;

	test_init(argc, argv);
	setup();
	if (tcgetattr(11, &t0) || ioctl(11, TIOCGWINSZ, &w0))
		fail("tcgetattr: %m");
	test_daemon();
	test_waitsig();

	check_fd_set();
	check_pair();
	check_settings(&t0, &w0);
	check_data();
	pass();
}
