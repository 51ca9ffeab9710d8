// SPDX-License-Identifier: GPL-2.0-only
/*
 * zdtmtst: the tiny library every zdtm test links with.
 *
 * Contract with the runner (test/zdtm/zdtm-run):
 *   NAME --pidfile=PATH --outfile=PATH, cwd = per-test work dir (also $ZDTM_DIR),
 *   started via setsid(), stdin = /dev/null, stdout+stderr = outfile (O_APPEND).
 *
 *   test_init(argc, argv);   parse args, install the SIGTERM handler
 *   ... set up state ...
 *   test_daemon();           write the pidfile: "ready to be dumped"
 *   test_waitsig();          block until SIGTERM (may be dumped/restored here)
 *   ... check state ...
 *   pass();  or  fail("reason %d", x);
 */
#ifndef ZDTMTST_H
#define ZDTMTST_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

extern const char *test_name;

void test_init(int argc, char **argv);
void test_daemon(void);
/*
 * For a test that chroots or changes cwd before test_daemon(): keep a handle
 * on the pidfile's directory (closed again by test_daemon()).
 */
void test_keep_pidfile_dir(void);
void test_waitsig(void);
/* Non-zero once SIGTERM has been received. */
int test_sig_received(void);

/*
 * Process trees. test_waitsig() works in forked children too (each process
 * has its own flag), so every process of a tree can wait for its SIGTERM.
 * No pipes or sockets (the tool does not restore them yet): readiness goes
 * up as queued real-time signals carrying a value (never merged, unlike
 * standard signals), and verdicts come back as exit codes, each process
 * printing its own FAIL line to the shared outfile.
 */
#define TEST_SIG_READY 50

/* Block TEST_SIG_READY; before forking the children that will send it. */
void test_ready_init(void);
/* Queue one readiness value to process to (usually getppid()). */
void test_ready_send(pid_t to, long value);
/* Next readiness value (from *from, if not NULL); fails after 10 s. */
long test_ready_wait(pid_t *from);
/*
 * Threads of one process: add to a counter and wake its waiters; wait until
 * it reaches at least value (a private futex: no shared memory involved).
 */
void test_count_add(int *word, int add);
void test_count_wait(int *word, int value);

/* fork(), failing the test on error. */
pid_t test_fork(void);
/*
 * Wait for every child (until ECHILD); returns how many did not exit 0,
 * each named with test_msg(). For parents after their own checks.
 */
int test_reap_children(void);
/* A child's verdict: exit 0 quietly (only the root prints PASS). */
void test_child_pass(void) __attribute__((noreturn));

/* Messages, PASS and FAIL go to FD (the outfile, kept) from now on. */
void test_out_fd(int fd);

void pass(void) __attribute__((noreturn));
void fail(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
void test_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fail() unless cond, with the stringified condition as reason. */
#define test_assert(cond)                                                   \
	do {                                                                \
		if (!(cond))                                                \
			fail("%s:%d: assertion failed: %s", __FILE__,       \
			     __LINE__, #cond);                              \
	} while (0)

/*
 * Read a whole (proc) file into buf without malloc; NUL-terminated.
 * Returns bytes read, fails the test on error or if it does not fit.
 */
size_t read_file(const char *path, char *buf, size_t size);

/*
 * The lines of a /proc status file that start with one of keys (a NULL-
 * terminated list), in file order, each ending in '\n'.
 */
void status_lines(const char *path, const char *const *keys, char *out,
		  size_t size);

/*
 * Queue sig with an int si_value (si_code SI_QUEUE, from us) to process
 * tgid, or to its thread tid if tid is not 0. Fails the test on error.
 */
void test_sigqueue(pid_t tgid, pid_t tid, int sig, int value);

/* Copy of the /proc/self/maps line that contains addr (without '\n'). */
void maps_line(const void *addr, char *out, size_t size);
/*
 * VmFlags of the VMA containing addr from /proc/self/smaps, sorted,
 * without "sd" and "um" (soft-dirty is a dumper's tool, uffd-missing the
 * lazy-pages daemon's while memory still comes in: not the app's state).
 */
void vma_flags(const void *addr, char *out, size_t size);
/* The whole /proc/self/maps. */
size_t maps_all(char *buf, size_t size);

/*
 * This process's fd table, to compare before the dump and after restore:
 * per fd its path, open flags, fd flags, offset, inode (a pipe's inode is
 * not kept: only that it is a pipe), pipe capacity; and which fds share an
 * open file description (kcmp) and which an object (the same inode).
 */
#define TEST_MAXFD 64
struct test_fd {
	int fd;
	char path[PATH_MAX];
	int fl, fdfl, pipe_sz;
	off_t pos;
	dev_t dev, rdev;
	ino_t ino;
};
struct test_fds {
	int n;
	struct test_fd f[TEST_MAXFD];
	unsigned char same[TEST_MAXFD][TEST_MAXFD];	/* one description */
	unsigned char same_obj[TEST_MAXFD][TEST_MAXFD];	/* one inode */
};
void test_fds_snapshot(struct test_fds *s);
/*
 * Take a snapshot now and compare it with BEFORE: fail() naming the first
 * difference (an fd missing or extra, a field, a sharing).
 */
void test_fds_check(const struct test_fds *before);

/*
 * Sockets. Send LEN bytes of SEED's pattern in one send(); expect them on
 * FD: one message of exactly LEN bytes (MSG), or LEN bytes of a stream;
 * nothing more queued; a message each way; an int option's value. Each
 * fails the test naming who and the fd.
 */
/* A unix socketpair of TYPE at fds A and B. */
void test_sk_pair_at(int type, int a, int b);
void test_sk_send(int fd, size_t len, uint32_t seed);
void test_sk_expect(const char *who, int fd, int msg, size_t len, uint32_t seed);
void test_sk_empty(const char *who, int fd);
void test_sk_ping(const char *who, int a, int b);
int test_sk_opt(int fd, int opt);

/* Deterministic byte pattern for page filling: depends on seed and offset. */
static inline uint8_t pattern_byte(uint32_t seed, size_t off)
{
	uint32_t x = seed * 2654435761u + (uint32_t)off * 40503u +
		     (uint32_t)(off >> 12) * 97u;

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return (uint8_t)x;
}
void fill_pattern(void *p, size_t len, uint32_t seed);
/* Returns offset of first mismatch, or (size_t)-1 if all bytes match. */
size_t check_pattern(const void *p, size_t len, uint32_t seed);
/* Returns offset of first non-zero byte, or (size_t)-1. */
size_t check_zero(const void *p, size_t len);

#endif
