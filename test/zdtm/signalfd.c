// SPDX-License-Identifier: GPL-2.0-only
/*
 * signalfds: fd 20 reads SIGUSR1 and SIGUSR2 (O_NONBLOCK), fd 21 reads
 * SIGRTMIN+3 (blocking); all three are blocked, and a SIGUSR1 carrying a
 * value is pending at dump. After restore the masks are as before, fd 20
 * reads that SIGUSR1 with its value and then has nothing (EAGAIN), and a
 * SIGRTMIN+3 sent after restore is read from fd 21.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "zdtmtst.h"

static struct test_fds s0;

static void sfd_at(const sigset_t *m, int flags, int want)
{
	int fd = signalfd(-1, m, flags);

	if (fd < 0 || dup2(fd, want) != want)
		fail("signalfd at %d: %m", want);
	close(fd);
}

static void mask_of(int fd, char *out, size_t size)
{
	static const char *const keys[] = { "sigmask:", NULL };
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	status_lines(path, keys, out, size);
}

static void expect(int fd, int sig, int value)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		fail("signalfd %d: no signal %d: %m", fd, sig);
	if ((int)si.ssi_signo != sig || si.ssi_int != value)
		fail("signalfd %d: read signal %u value %d, not %d value %d", fd,
		     si.ssi_signo, si.ssi_int, sig, value);
}

int main(int argc, char **argv)
{
	char m20[64], m21[64], now[64];
	sigset_t a, b, all;
	struct signalfd_siginfo si;

	test_init(argc, argv);
	sigemptyset(&a);
	sigaddset(&a, SIGUSR1);
	sigaddset(&a, SIGUSR2);
	sigemptyset(&b);
	sigaddset(&b, SIGRTMIN + 3);
	all = a;
	sigaddset(&all, SIGRTMIN + 3);
	if (sigprocmask(SIG_BLOCK, &all, NULL))
		fail("sigprocmask: %m");
	sfd_at(&a, SFD_NONBLOCK, 20);
	sfd_at(&b, 0, 21);
	test_sigqueue(getpid(), 0, SIGUSR1, 4242);
	mask_of(20, m20, sizeof(m20));
	mask_of(21, m21, sizeof(m21));
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	mask_of(20, now, sizeof(now));
	if (strcmp(now, m20))
		fail("fd 20: %s -> %s", m20, now);
	mask_of(21, now, sizeof(now));
	if (strcmp(now, m21))
		fail("fd 21: %s -> %s", m21, now);
	expect(20, SIGUSR1, 4242);
	if (read(20, &si, sizeof(si)) != -1 || errno != EAGAIN)
		fail("fd 20: a second signal, or not O_NONBLOCK any more");
	test_sigqueue(getpid(), 0, SIGRTMIN + 3, 77);
	expect(21, SIGRTMIN + 3, 77);
	pass();
}
