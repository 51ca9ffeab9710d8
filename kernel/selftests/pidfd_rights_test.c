// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for reduced-rights pidfds: PIDFD_DERIVE and PIDFD_GET_RIGHTS.
 *
 * Every pidfd operation must check its right, a derived pidfd must never
 * carry more than its source, and a pidfd nobody derived must behave as it
 * always did.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "crl_kapi.h"
#include "kselftest_harness.h"

#define PG 4096L
#define TARGET_FD 100	/* an fd number the target holds, for pidfd_getfd() */

FIXTURE(target)
{
	pid_t pid;
	int pidfd;		/* full rights, from pidfd_open() */
	char *map;		/* mapped before fork: same address in target */
	bool reaped;
};

FIXTURE_SETUP(target)
{
	int sync[2];
	char c;

	self->map = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 1, 4 * PG);
	ASSERT_EQ(0, pipe(sync));
	self->reaped = false;
	self->pid = fork();
	ASSERT_GE(self->pid, 0);
	if (self->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sync[0]);
		if (dup2(sync[1], TARGET_FD) != TARGET_FD)
			_exit(1);
		close(sync[1]);
		if (write(TARGET_FD, "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(sync[1]);
	ASSERT_EQ(1, read(sync[0], &c, 1));
	close(sync[0]);
	self->pidfd = sys_pidfd_open(self->pid, 0);
	ASSERT_GE(self->pidfd, 0);
}

FIXTURE_TEARDOWN(target)
{
	if (!self->reaped) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	close(self->pidfd);
	munmap(self->map, 4 * PG);
}

/* fd with exactly @rights, derived from the full pidfd */
static int derive(struct __test_metadata *_metadata, int pidfd,
		  unsigned int rights)
{
	int fd = pidfd_derive(pidfd, rights);

	if (fd < 0)
		TH_LOG("PIDFD_DERIVE(%#x): %s", rights, strerror(errno));
	EXPECT_GE(fd, 0);
	return fd;
}

static unsigned int fdinfo_rights(int fd)
{
	char path[64], line[256];
	unsigned int rights = ~0U;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return ~0U;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rights: %x", &rights) == 1)
			break;
	fclose(f);
	return rights;
}

TEST_F(target, new_pidfd_has_all_rights)
{
	ASSERT_EQ(PIDFD_RIGHTS_ALL, pidfd_rights(self->pidfd));
	ASSERT_EQ(PIDFD_RIGHTS_ALL, fdinfo_rights(self->pidfd));
}

TEST_F(target, derive_gives_exactly_the_subset)
{
	unsigned int r;

	for (r = 0; r <= PIDFD_RIGHTS_ALL; r++) {
		int fd = derive(_metadata, self->pidfd, r);

		ASSERT_GE(fd, 0);
		ASSERT_EQ(r, pidfd_rights(fd));
		ASSERT_EQ(r, fdinfo_rights(fd));
		ASSERT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
}

TEST_F(target, rights_cannot_be_raised)
{
	int w = derive(_metadata, self->pidfd, PIDFD_RIGHT_WAIT), fd;
	unsigned int r;

	ASSERT_GE(w, 0);
	for (r = 1; r <= PIDFD_RIGHTS_ALL; r++) {
		errno = 0;
		fd = pidfd_derive(w, r);
		if (r == PIDFD_RIGHT_WAIT) {
			ASSERT_GE(fd, 0);
			ASSERT_EQ(PIDFD_RIGHT_WAIT, pidfd_rights(fd));
			close(fd);
		} else {
			ASSERT_EQ(-1, fd);
			ASSERT_EQ(EPERM, errno);
		}
	}
	/* dropping everything is allowed, and final */
	fd = derive(_metadata, w, 0);
	ASSERT_GE(fd, 0);
	errno = 0;
	ASSERT_EQ(-1, pidfd_derive(fd, PIDFD_RIGHT_WAIT));
	ASSERT_EQ(EPERM, errno);
	/* bits that name no right */
	errno = 0;
	ASSERT_EQ(-1, pidfd_derive(self->pidfd, PIDFD_RIGHTS_ALL + 1));
	ASSERT_EQ(EINVAL, errno);
	/* the source keeps its rights */
	ASSERT_EQ(PIDFD_RIGHT_WAIT, pidfd_rights(w));
	ASSERT_EQ(PIDFD_RIGHTS_ALL, pidfd_rights(self->pidfd));
	close(fd);
	close(w);
}

TEST_F(target, rights_follow_the_file)
{
	int w = derive(_metadata, self->pidfd, PIDFD_RIGHT_WAIT), d;

	ASSERT_GE(w, 0);
	d = dup(w);
	ASSERT_GE(d, 0);
	ASSERT_EQ(PIDFD_RIGHT_WAIT, pidfd_rights(d));
	errno = 0;
	ASSERT_EQ(-1, sys_pidfd_send_signal(d, 0, 0));
	ASSERT_EQ(EPERM, errno);
	close(d);
	close(w);
}

TEST_F(target, nonblock_is_inherited)
{
	int nb = sys_pidfd_open(self->pid, PIDFD_NONBLOCK), fd;

	ASSERT_GE(nb, 0);
	fd = derive(_metadata, nb, PIDFD_RIGHT_WAIT);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	fd = derive(_metadata, self->pidfd, PIDFD_RIGHT_WAIT);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	close(nb);
}

TEST_F(target, signal_needs_signal_right)
{
	int no = derive(_metadata, self->pidfd,
			PIDFD_RIGHTS_ALL & ~PIDFD_RIGHT_SIGNAL);
	int yes = derive(_metadata, self->pidfd, PIDFD_RIGHT_SIGNAL);
	siginfo_t si = {};

	ASSERT_GE(no, 0);
	ASSERT_GE(yes, 0);
	errno = 0;
	ASSERT_EQ(-1, sys_pidfd_send_signal(no, SIGKILL, 0));
	ASSERT_EQ(EPERM, errno);
	errno = 0;
	ASSERT_EQ(-1, sys_pidfd_send_signal(no, 0, 0));
	ASSERT_EQ(EPERM, errno);
	/* still alive */
	ASSERT_EQ(0, waitid(P_PID, self->pid, &si, WEXITED | WNOHANG));
	ASSERT_EQ(0, si.si_pid);

	ASSERT_EQ(0, sys_pidfd_send_signal(yes, 0, 0));
	ASSERT_EQ(0, sys_pidfd_send_signal(yes, SIGKILL, 0));
	ASSERT_EQ(0, waitid(P_PID, self->pid, &si, WEXITED));
	ASSERT_EQ(self->pid, si.si_pid);
	self->reaped = true;
	close(no);
	close(yes);
}

TEST_F(target, mrelease_needs_signal_right)
{
	int no = derive(_metadata, self->pidfd,
			PIDFD_RIGHTS_ALL & ~PIDFD_RIGHT_SIGNAL);
	int yes = derive(_metadata, self->pidfd, PIDFD_RIGHT_SIGNAL);

	ASSERT_GE(no, 0);
	ASSERT_GE(yes, 0);
	errno = 0;
	ASSERT_EQ(-1, sys_process_mrelease(no, 0));
	ASSERT_EQ(EPERM, errno);
	/* with the right it gets as far as noticing the target is not dying */
	errno = 0;
	ASSERT_EQ(-1, sys_process_mrelease(yes, 0));
	ASSERT_EQ(EINVAL, errno);
	close(no);
	close(yes);
}

TEST_F(target, wait_needs_wait_right)
{
	int no = derive(_metadata, self->pidfd,
			PIDFD_RIGHTS_ALL & ~PIDFD_RIGHT_WAIT);
	int yes = derive(_metadata, self->pidfd, PIDFD_RIGHT_WAIT);
	siginfo_t si = {};

	ASSERT_GE(no, 0);
	ASSERT_GE(yes, 0);
	ASSERT_EQ(0, kill(self->pid, SIGKILL));
	errno = 0;
	ASSERT_EQ(-1, waitid(P_PIDFD, no, &si, WEXITED));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(0, waitid(P_PIDFD, yes, &si, WEXITED));
	ASSERT_EQ(self->pid, si.si_pid);
	ASSERT_EQ(CLD_KILLED, si.si_code);
	self->reaped = true;
	close(no);
	close(yes);
}

TEST_F(target, getfd_needs_getfd_right)
{
	int no = derive(_metadata, self->pidfd,
			PIDFD_RIGHTS_ALL & ~PIDFD_RIGHT_GETFD);
	int yes = derive(_metadata, self->pidfd, PIDFD_RIGHT_GETFD);
	int fd;

	ASSERT_GE(no, 0);
	ASSERT_GE(yes, 0);
	errno = 0;
	ASSERT_EQ(-1, sys_pidfd_getfd(no, TARGET_FD, 0));
	ASSERT_EQ(EPERM, errno);
	fd = sys_pidfd_getfd(yes, TARGET_FD, 0);
	ASSERT_GE(fd, 0);
	close(fd);
	close(no);
	close(yes);
}

TEST_F(target, madvise_needs_madvise_right)
{
	int no = derive(_metadata, self->pidfd,
			PIDFD_RIGHTS_ALL & ~PIDFD_RIGHT_MADVISE);
	int yes = derive(_metadata, self->pidfd, PIDFD_RIGHT_MADVISE);
	struct iovec iov = { .iov_base = self->map, .iov_len = 4 * PG };
	uint64_t seq;

	ASSERT_GE(no, 0);
	ASSERT_GE(yes, 0);
	errno = 0;
	ASSERT_EQ(-1, sys_process_madvise6(no, &iov, 1, MADV_COLD, 0, NULL));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(-EPERM, pidfd_layout_seq(no, &seq));
	ASSERT_EQ(4 * PG, sys_process_madvise6(yes, &iov, 1, MADV_COLD, 0,
					       NULL));
	ASSERT_EQ(0, pidfd_layout_seq(yes, &seq));
	ASSERT_EQ(4 * PG, sys_process_madvise6(yes, &iov, 1, MADV_COLD,
					       PROCESS_MADVISE_LAYOUT_SEQ,
					       &seq));
	close(no);
	close(yes);
}

TEST_F(target, setns_needs_setns_right)
{
	int no = derive(_metadata, self->pidfd,
			PIDFD_RIGHTS_ALL & ~PIDFD_RIGHT_SETNS);
	int yes = derive(_metadata, self->pidfd, PIDFD_RIGHT_SETNS);

	ASSERT_GE(no, 0);
	ASSERT_GE(yes, 0);
	/* the target shares our namespaces, so joining them changes nothing */
	errno = 0;
	ASSERT_EQ(-1, setns(no, CLONE_NEWUTS));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(0, setns(yes, CLONE_NEWUTS));
	close(no);
	close(yes);
}

TEST_F(target, no_rights_still_polls_for_exit)
{
	int none = derive(_metadata, self->pidfd, 0);
	struct pollfd pfd;

	ASSERT_GE(none, 0);
	pfd.fd = none;
	pfd.events = POLLIN;
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(0, kill(self->pid, SIGKILL));
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_EQ(POLLIN, pfd.revents & POLLIN);
	close(none);
}

/* A pidfd nobody derived from does everything it always could. */
TEST_F(target, full_pidfd_behaviour_unchanged)
{
	struct iovec iov = { .iov_base = self->map, .iov_len = 4 * PG };
	siginfo_t si = {};
	int fd;

	ASSERT_EQ(0, sys_pidfd_send_signal(self->pidfd, 0, 0));
	fd = sys_pidfd_getfd(self->pidfd, TARGET_FD, 0);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(4 * PG, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					       0, NULL));
	ASSERT_EQ(0, setns(self->pidfd, CLONE_NEWUTS));
	ASSERT_EQ(0, waitid(P_PIDFD, self->pidfd, &si, WEXITED | WNOHANG));
	ASSERT_EQ(0, si.si_pid);
	ASSERT_EQ(0, sys_pidfd_send_signal(self->pidfd, SIGKILL, 0));
	ASSERT_EQ(0, waitid(P_PIDFD, self->pidfd, &si, WEXITED));
	ASSERT_EQ(self->pid, si.si_pid);
	self->reaped = true;
}

TEST_HARNESS_MAIN
