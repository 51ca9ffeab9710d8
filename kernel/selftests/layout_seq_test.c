// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for the VMA layout cookie: PIDFD_GET_LAYOUT_SEQ and
 * process_madvise(..., PROCESS_MADVISE_LAYOUT_SEQ, &cookie).
 *
 * Each layout-changing call must give a new cookie; calls that leave the
 * mappings alone must not. A stale cookie must be refused with ESTALE and a
 * fresh one accepted; without the flag process_madvise() must behave as it
 * always did.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <string.h>
#include <stdlib.h>

#include "crl_kapi.h"
#include "kselftest_harness.h"

#define PG 4096L

static uint64_t seq_of(struct __test_metadata *_metadata, int pidfd)
{
	uint64_t seq = 0;
	int ret = pidfd_layout_seq(pidfd, &seq);

	if (ret)
		TH_LOG("PIDFD_GET_LAYOUT_SEQ: %s", strerror(-ret));
	EXPECT_EQ(0, ret);
	return seq;
}

FIXTURE(self)
{
	int pidfd;
	char *map;		/* four private anonymous RW pages */
};

FIXTURE_SETUP(self)
{
	self->pidfd = sys_pidfd_open(getpid(), 0);
	ASSERT_GE(self->pidfd, 0);
	self->map = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, 1, 4 * PG);
}

FIXTURE_TEARDOWN(self)
{
	munmap(self->map, 4 * PG);
	close(self->pidfd);
}

TEST_F(self, cookie_is_readable_and_stable)
{
	uint64_t a = seq_of(_metadata, self->pidfd);
	uint64_t b = seq_of(_metadata, self->pidfd);

	ASSERT_NE(0, a);
	ASSERT_EQ(a, b);
}

TEST_F(self, mmap_changes_cookie)
{
	uint64_t a = seq_of(_metadata, self->pidfd);
	void *p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(a, seq_of(_metadata, self->pidfd));
	munmap(p, PG);
}

TEST_F(self, munmap_changes_cookie)
{
	uint64_t a = seq_of(_metadata, self->pidfd);

	ASSERT_EQ(0, munmap(self->map + 3 * PG, PG));
	ASSERT_NE(a, seq_of(_metadata, self->pidfd));
}

TEST_F(self, mremap_shrink_changes_cookie)
{
	uint64_t a = seq_of(_metadata, self->pidfd);

	ASSERT_EQ(self->map, mremap(self->map, 4 * PG, 2 * PG, 0));
	ASSERT_NE(a, seq_of(_metadata, self->pidfd));
}

TEST_F(self, mremap_grow_in_place_changes_cookie)
{
	uint64_t a;

	ASSERT_EQ(0, munmap(self->map + 2 * PG, 2 * PG));
	a = seq_of(_metadata, self->pidfd);
	if (mremap(self->map, 2 * PG, 3 * PG, 0) == MAP_FAILED)
		SKIP(return, "no room to grow the mapping in place");
	ASSERT_NE(a, seq_of(_metadata, self->pidfd));
}

TEST_F(self, mremap_move_changes_cookie)
{
	char *dst = mmap(NULL, 4 * PG, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t a;

	ASSERT_NE(MAP_FAILED, dst);
	a = seq_of(_metadata, self->pidfd);
	ASSERT_EQ(dst, mremap(self->map, 4 * PG, 4 * PG,
			      MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	ASSERT_NE(a, seq_of(_metadata, self->pidfd));
	self->map = dst;
}

TEST_F(self, mprotect_changes_cookie)
{
	uint64_t a = seq_of(_metadata, self->pidfd), b;

	/* whole mapping: no split, only the protection changes */
	ASSERT_EQ(0, mprotect(self->map, 4 * PG, PROT_READ));
	b = seq_of(_metadata, self->pidfd);
	ASSERT_NE(a, b);
	/* one page in the middle: a split */
	ASSERT_EQ(0, mprotect(self->map + PG, PG, PROT_NONE));
	ASSERT_NE(b, seq_of(_metadata, self->pidfd));
}

TEST_F(self, mprotect_to_same_protection_keeps_cookie)
{
	uint64_t a = seq_of(_metadata, self->pidfd);

	ASSERT_EQ(0, mprotect(self->map, 4 * PG, PROT_READ | PROT_WRITE));
	ASSERT_EQ(a, seq_of(_metadata, self->pidfd));
}

TEST_F(self, brk_changes_cookie)
{
	uint64_t a, b;

	/* settle glibc's own heap set-up first */
	free(malloc(1));
	a = seq_of(_metadata, self->pidfd);
	ASSERT_NE((void *)-1, sbrk(16 * PG));
	b = seq_of(_metadata, self->pidfd);
	ASSERT_NE(a, b);
	ASSERT_NE((void *)-1, sbrk(-(long)(16 * PG)));
	ASSERT_NE(b, seq_of(_metadata, self->pidfd));
}

TEST_F(self, memory_use_keeps_cookie)
{
	char vec[4];
	uint64_t a = seq_of(_metadata, self->pidfd);
	struct iovec iov = { .iov_base = self->map, .iov_len = 4 * PG };

	/* faults, writes, reads, page state changes: no layout change */
	memset(self->map, 2, 4 * PG);
	ASSERT_EQ(0, mincore(self->map, 4 * PG, (unsigned char *)vec));
	ASSERT_EQ(0, madvise(self->map, 4 * PG, MADV_DONTNEED));
	ASSERT_EQ(0, self->map[PG]);
	self->map[2 * PG] = 3;
	ASSERT_EQ(4 * PG, sys_process_madvise6(self->pidfd, &iov, 1,
					       MADV_COLD, 0, NULL));
	ASSERT_EQ(0, mprotect(self->map, 4 * PG, PROT_READ | PROT_WRITE));
	getpid();
	ASSERT_EQ(a, seq_of(_metadata, self->pidfd));
}

TEST_F(self, fresh_cookie_accepted)
{
	struct iovec iov = { .iov_base = self->map, .iov_len = 4 * PG };
	uint64_t seq = seq_of(_metadata, self->pidfd);

	ASSERT_EQ(4 * PG, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					       PROCESS_MADVISE_LAYOUT_SEQ, &seq));
	/* and again: advice does not change the layout */
	ASSERT_EQ(4 * PG, sys_process_madvise6(self->pidfd, &iov, 1,
					       MADV_PAGEOUT,
					       PROCESS_MADVISE_LAYOUT_SEQ, &seq));
}

TEST_F(self, stale_cookie_refused)
{
	struct iovec iov = { .iov_base = self->map, .iov_len = 2 * PG };
	uint64_t seq = seq_of(_metadata, self->pidfd);

	/* same address, different memory: the case the cookie is for */
	ASSERT_EQ(self->map, mmap(self->map, 2 * PG, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				  -1, 0));
	errno = 0;
	ASSERT_EQ(-1, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					   PROCESS_MADVISE_LAYOUT_SEQ, &seq));
	ASSERT_EQ(ESTALE, errno);

	seq = seq_of(_metadata, self->pidfd);
	ASSERT_EQ(2 * PG, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					       PROCESS_MADVISE_LAYOUT_SEQ, &seq));
}

TEST_F(self, stale_cookie_refused_with_empty_vector)
{
	uint64_t seq = seq_of(_metadata, self->pidfd);

	ASSERT_EQ(0, sys_process_madvise6(self->pidfd, NULL, 0, MADV_COLD,
					  PROCESS_MADVISE_LAYOUT_SEQ, &seq));
	ASSERT_EQ(0, munmap(self->map + 3 * PG, PG));
	errno = 0;
	ASSERT_EQ(-1, sys_process_madvise6(self->pidfd, NULL, 0, MADV_COLD,
					   PROCESS_MADVISE_LAYOUT_SEQ, &seq));
	ASSERT_EQ(ESTALE, errno);
}

TEST_F(self, bad_cookie_pointer_is_efault)
{
	struct iovec iov = { .iov_base = self->map, .iov_len = PG };

	errno = 0;
	ASSERT_EQ(-1, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					   PROCESS_MADVISE_LAYOUT_SEQ, NULL));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F(self, no_flag_behaviour_unchanged)
{
	struct iovec iov = { .iov_base = self->map, .iov_len = 4 * PG };
	uint64_t bogus = 0;

	/* the sixth argument is ignored without the flag, whatever it is */
	ASSERT_EQ(4 * PG, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					       0, (void *)0x10));
	ASSERT_EQ(4 * PG, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					       0, &bogus));
	/* unknown flags are still EINVAL */
	errno = 0;
	ASSERT_EQ(-1, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					   0x2, NULL));
	ASSERT_EQ(EINVAL, errno);
	/* unmapped range: ENOMEM as before, not ESTALE */
	ASSERT_EQ(0, munmap(self->map, 4 * PG));
	errno = 0;
	ASSERT_EQ(-1, sys_process_madvise6(self->pidfd, &iov, 1, MADV_COLD,
					   0, NULL));
	ASSERT_EQ(ENOMEM, errno);
	self->map = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Another process: the case process_madvise() exists for. */
TEST(other_process_remap_is_detected)
{
	int cmd[2], ack[2], pidfd, self, status;
	uint64_t seq, seq2;
	char *map, c;
	struct iovec iov;
	pid_t pid;

	map = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, pipe(cmd));
	ASSERT_EQ(0, pipe(ack));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(cmd[1]);
		close(ack[0]);
		memset(map, 7, 4 * PG);
		while (read(cmd[0], &c, 1) == 1) {
			if (c == 'r')
				mmap(map, 4 * PG, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				     -1, 0);
			if (write(ack[1], &c, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	pidfd = sys_pidfd_open(pid, 0);
	ASSERT_GE(pidfd, 0);
	ASSERT_EQ(0, pidfd_layout_seq(pidfd, &seq));
	ASSERT_EQ(0, pidfd_layout_seq(pidfd, &seq2));
	ASSERT_EQ(seq, seq2);
	/* a forked child has its own mm, hence its own cookie */
	self = sys_pidfd_open(getpid(), 0);
	ASSERT_GE(self, 0);
	ASSERT_EQ(0, pidfd_layout_seq(self, &seq2));
	ASSERT_NE(seq, seq2);
	close(self);

	iov.iov_base = map;
	iov.iov_len = 4 * PG;
	ASSERT_EQ(4 * PG, sys_process_madvise6(pidfd, &iov, 1, MADV_PAGEOUT,
					       PROCESS_MADVISE_LAYOUT_SEQ, &seq));

	c = 'r';
	ASSERT_EQ(1, write(cmd[1], &c, 1));
	ASSERT_EQ(1, read(ack[0], &c, 1));
	errno = 0;
	ASSERT_EQ(-1, sys_process_madvise6(pidfd, &iov, 1, MADV_PAGEOUT,
					   PROCESS_MADVISE_LAYOUT_SEQ, &seq));
	ASSERT_EQ(ESTALE, errno);

	close(cmd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	/* exited: nothing to read the cookie of */
	ASSERT_EQ(-ESRCH, pidfd_layout_seq(pidfd, &seq2));
	close(pidfd);
}

TEST(exec_changes_cookie)
{
	int go[2], done[2], pidfd, status;
	uint64_t before, after;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe2(done, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		close(done[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		execl("/bin/busybox", "sleep", "30", (char *)NULL);
		_exit(2);
	}
	close(done[1]);
	pidfd = sys_pidfd_open(pid, 0);
	ASSERT_GE(pidfd, 0);
	ASSERT_EQ(0, pidfd_layout_seq(pidfd, &before));
	c = 'x';
	ASSERT_EQ(1, write(go[1], &c, 1));
	/* EOF once the exec closed the O_CLOEXEC write end */
	ASSERT_EQ(0, read(done[0], &c, 1));
	ASSERT_EQ(0, pidfd_layout_seq(pidfd, &after));
	ASSERT_NE(before, after);
	ASSERT_EQ(0, sys_pidfd_send_signal(pidfd, SIGKILL, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(pidfd);
}

TEST_HARNESS_MAIN
