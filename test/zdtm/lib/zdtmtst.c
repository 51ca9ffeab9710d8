// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

const char *test_name = "zdtm";
static const char *pidfile;
static const char *outfile;
static volatile int sig_received;
static int pidfile_dirfd = AT_FDCWD;
static const char *pidfile_base;
static int msg_fd = -1;		/* test_out_fd(): instead of stdout/stderr */

void test_out_fd(int fd)
{
	msg_fd = fd;
}

static void sigterm_handler(int sig)
{
	(void)sig;
	sig_received = 1;
	syscall(SYS_futex, &sig_received, FUTEX_WAKE_PRIVATE, INT_MAX,
		NULL, NULL, 0);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void vmsg(int fd, const char *prefix, const char *fmt, va_list ap)
{
	char buf[4096];
	int n = 0;

	if (prefix)
		n = snprintf(buf, sizeof(buf), "%s", prefix);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	write_all(msg_fd >= 0 ? msg_fd : fd, buf, n);
}

void test_msg(const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s[%d]: ", test_name, getpid());
	va_start(ap, fmt);
	vmsg(STDERR_FILENO, prefix, fmt, ap);
	va_end(ap);
}

void pass(void)
{
	write_all(msg_fd >= 0 ? msg_fd : STDOUT_FILENO, "PASS\n", 5);
	exit(0);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(STDOUT_FILENO, "FAIL: ", fmt, ap);
	va_end(ap);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: %s --pidfile=PATH [--outfile=PATH]\n",
		test_name);
	exit(2);
}

void test_init(int argc, char **argv)
{
	struct sigaction sa;
	const char *p;
	int i;

	p = strrchr(argv[0], '/');
	test_name = p ? p + 1 : argv[0];

	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--pidfile=", 10))
			pidfile = argv[i] + 10;
		else if (!strncmp(argv[i], "--outfile=", 10))
			outfile = argv[i] + 10;
		else
			usage();
	}
	(void)outfile; /* the runner already made it our stdout/stderr */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigterm_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the waits see EINTR */
	if (sigaction(SIGTERM, &sa, NULL))
		fail("sigaction(SIGTERM): %m");
}

void test_keep_pidfile_dir(void)
{
	char dir[PATH_MAX];
	const char *slash;

	if (!pidfile)
		return;
	slash = strrchr(pidfile, '/');
	if (!slash) {
		if (!getcwd(dir, sizeof(dir)))
			fail("getcwd: %m");
		pidfile_base = pidfile;
	} else {
		if (slash == pidfile)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s",
				 (int)(slash - pidfile), pidfile);
		pidfile_base = slash + 1;
	}
	pidfile_dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pidfile_dirfd < 0)
		fail("open %s: %m", dir);
}

void test_daemon(void)
{
	const char *name = pidfile_base ? pidfile_base : pidfile;
	char tmp[PATH_MAX], buf[32];
	int fd, n;

	if (!pidfile) {
		test_msg("no --pidfile, ready (pid %d)", getpid());
		return;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		fail("pidfile path too long");
	fd = openat(pidfile_dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd < 0)
		fail("open %s: %m", tmp);
	n = snprintf(buf, sizeof(buf), "%d\n", getpid());
	write_all(fd, buf, n);
	if (close(fd))
		fail("close %s: %m", tmp);
	if (renameat(pidfile_dirfd, tmp, pidfile_dirfd, name))
		fail("rename %s -> %s: %m", tmp, name);
	if (pidfile_dirfd != AT_FDCWD) {
		close(pidfile_dirfd);
		pidfile_dirfd = AT_FDCWD;
	}
}

int test_sig_received(void)
{
	return sig_received;
}

void test_waitsig(void)
{
	/*
	 * A futex wait on the flag: no race with the handler (the kernel
	 * compares the value), no change to the signal mask, and after an
	 * interrupt (a dump, a restore, the signal) we simply look again.
	 */
	while (!sig_received)
		syscall(SYS_futex, &sig_received, FUTEX_WAIT_PRIVATE, 0,
			NULL, NULL, 0);
}

size_t read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s: %m", path);
	for (;;) {
		ssize_t n;

		if (len + 1 >= size)
			fail("%s does not fit in %zu bytes", path, size);
		n = read(fd, buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("read %s: %m", path);
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

void status_lines(const char *path, const char *const *keys, char *out,
		  size_t size)
{
	char buf[8192], *line, *save = NULL;
	const char *const *k;
	size_t off = 0;

	read_file(path, buf, sizeof(buf));
	out[0] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		for (k = keys; *k; k++)
			if (!strncmp(line, *k, strlen(*k)) && off < size)
				off += snprintf(out + off, size - off, "%s\n",
						line);
}

void test_sigqueue(pid_t tgid, pid_t tid, int sig, int value)
{
	siginfo_t si;
	long r;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	if (tid)
		r = syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &si);
	else
		r = syscall(SYS_rt_sigqueueinfo, tgid, sig, &si);
	if (r)
		fail("queue signal %d to %d/%d: %m", sig, tgid, tid);
}

static char mapsbuf[1 << 20];

size_t maps_all(char *buf, size_t size)
{
	return read_file("/proc/self/maps", buf, size);
}

void maps_line(const void *addr, char *out, size_t size)
{
	unsigned long a = (unsigned long)addr;
	char *line, *save = NULL;

	maps_all(mapsbuf, sizeof(mapsbuf));
	for (line = strtok_r(mapsbuf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			fail("bad maps line: %s", line);
		if (a >= s && a < e) {
			snprintf(out, size, "%s", line);
			return;
		}
	}
	snprintf(out, size, "<no mapping at %p>", addr);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vma_flags(const void *addr, char *out, size_t size)
{
	unsigned long a = (unsigned long)addr;
	char *line, *save = NULL;
	int in = 0;

	read_file("/proc/self/smaps", mapsbuf, sizeof(mapsbuf));
	snprintf(out, size, "<no VmFlags for %p>", addr);
	for (line = strtok_r(mapsbuf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		char *flags[64], *f, *fs = NULL;
		size_t nf = 0, i, off = 0;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= s && a < e;
			continue;
		}
		if (!in || strncmp(line, "VmFlags:", 8))
			continue;
		for (f = strtok_r(line + 8, " ", &fs); f && nf < 64;
		     f = strtok_r(NULL, " ", &fs))
			if (strcmp(f, "sd") && strcmp(f, "um"))
				flags[nf++] = f;
		qsort(flags, nf, sizeof(flags[0]), cmp_str);
		out[0] = '\0';
		for (i = 0; i < nf && off < size; i++)
			off += snprintf(out + off, size - off, "%s%s",
					i ? " " : "", flags[i]);
		return;
	}
}

void fill_pattern(void *p, size_t len, uint32_t seed)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = pattern_byte(seed, i);
}

size_t check_pattern(const void *p, size_t len, uint32_t seed)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != pattern_byte(seed, i))
			return i;
	return (size_t)-1;
}

size_t check_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return i;
	return (size_t)-1;
}

void test_ready_init(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, TEST_SIG_READY);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		fail("block the readiness signal: %m");
}

void test_ready_send(pid_t to, long value)
{
	union sigval v = { .sival_ptr = (void *)value };

	if (sigqueue(to, TEST_SIG_READY, v))
		fail("sigqueue(%d, readiness %ld): %m", to, value);
}

long test_ready_wait(pid_t *from)
{
	struct timespec ts = { 10, 0 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, TEST_SIG_READY);
	while (sigtimedwait(&set, &si, &ts) < 0)
		if (errno != EINTR)
			fail("no readiness signal: %m");
	if (from)
		*from = si.si_pid;
	return (long)si.si_value.sival_ptr;
}

void test_count_add(int *word, int add)
{
	__atomic_add_fetch(word, add, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void test_count_wait(int *word, int value)
{
	int n;

	while ((n = __atomic_load_n(word, __ATOMIC_SEQ_CST)) < value)
		syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, n, NULL, NULL, 0);
}

pid_t test_fork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork: %m");
	return pid;
}

int test_reap_children(void)
{
	int bad = 0, st;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &st, __WALL);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		if (WIFEXITED(st) && !WEXITSTATUS(st))
			continue;
		bad++;
		if (WIFEXITED(st))
			test_msg("child %d exited %d", pid, WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			test_msg("child %d killed by signal %d", pid,
				 WTERMSIG(st));
		else
			test_msg("child %d: status %#x", pid, st);
	}
	if (errno != ECHILD)
		fail("waitpid: %m");
	return bad;
}

void test_child_pass(void)
{
	_exit(0);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int list_fds(int *fds)
{
	struct dirent *de;
	int n = 0, dfd;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		fail("opendir /proc/self/fd: %m");
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dfd)
			continue;
		if (n == TEST_MAXFD)
			fail("more than %d fds", TEST_MAXFD);
		fds[n++] = fd;
	}
	closedir(d);
	qsort(fds, n, sizeof(int), cmp_int);
	return n;
}

static void fd_state(struct test_fd *f)
{
	char link[64];
	struct stat st;
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", f->fd);
	len = readlink(link, f->path, sizeof(f->path) - 1);
	if (len < 0)
		fail("readlink %s: %m", link);
	f->path[len] = '\0';
	f->fl = fcntl(f->fd, F_GETFL);
	f->fdfl = fcntl(f->fd, F_GETFD);
	f->pos = lseek(f->fd, 0, SEEK_CUR);
	if (fstat(f->fd, &st))
		fail("fstat %d: %m", f->fd);
	f->dev = st.st_dev;
	f->rdev = st.st_rdev;
	f->ino = st.st_ino;
	f->pipe_sz = S_ISFIFO(st.st_mode) ? fcntl(f->fd, F_GETPIPE_SZ) : 0;
	/* a new pipe is a new inode: only what it is can stay */
	if (!strncmp(f->path, "pipe:", 5)) {
		strcpy(f->path, "pipe");
		f->dev = f->ino = 0;
	}
	/* so is a file unlinked while open, made again at restore */
	if (f->path[0] == '/' && len > 10 &&
	    !strcmp(f->path + len - 10, " (deleted)"))
		f->dev = f->ino = 0;
	/* so is a socket: its domain and type stay */
	if (!strncmp(f->path, "socket:", 7)) {
		int dom = -1, type = -1;
		socklen_t len = sizeof(int);

		getsockopt(f->fd, SOL_SOCKET, SO_DOMAIN, &dom, &len);
		len = sizeof(int);
		getsockopt(f->fd, SOL_SOCKET, SO_TYPE, &type, &len);
		snprintf(f->path, sizeof(f->path), "socket domain %d type %d",
			 dom, type);
		f->dev = f->ino = 0;
	}
}

void test_fds_snapshot(struct test_fds *s)
{
	int fds[TEST_MAXFD], n, i, j;
	struct stat a, b;

	n = list_fds(fds);
	memset(s, 0, sizeof(*s));
	s->n = n;
	for (i = 0; i < n; i++) {
		s->f[i].fd = fds[i];
		fd_state(&s->f[i]);
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			long r = syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE,
					 fds[i], fds[j]);

			if (r < 0 || fstat(fds[i], &a) || fstat(fds[j], &b))
				fail("kcmp/fstat: %m");
			s->same[i][j] = r == 0;
			s->same_obj[i][j] = a.st_dev == b.st_dev &&
					    a.st_ino == b.st_ino;
		}
}

static void compare_fd(const struct test_fd *x, const struct test_fd *y)
{
	if (strcmp(x->path, y->path))
		fail("fd %d: path %s -> %s", x->fd, x->path, y->path);
	if (x->fl != y->fl)
		fail("fd %d (%s): open flags %#o -> %#o", x->fd, x->path, x->fl,
		     y->fl);
	if (x->fdfl != y->fdfl)
		fail("fd %d (%s): fd flags %#x -> %#x", x->fd, x->path, x->fdfl,
		     y->fdfl);
	if (x->pos != y->pos)
		fail("fd %d (%s): offset %ld -> %ld", x->fd, x->path,
		     (long)x->pos, (long)y->pos);
	if (x->dev != y->dev || x->ino != y->ino || x->rdev != y->rdev)
		fail("fd %d (%s): another file now", x->fd, x->path);
	if (x->pipe_sz != y->pipe_sz)
		fail("fd %d (%s): pipe capacity %d -> %d", x->fd, x->path,
		     x->pipe_sz, y->pipe_sz);
}

static void test_fds_compare(const struct test_fds *a,
			     const struct test_fds *b)
{
	int i, j;

	for (i = 0, j = 0; i < a->n || j < b->n; i++, j++) {
		if (j >= b->n || (i < a->n && a->f[i].fd < b->f[j].fd))
			fail("fd %d (%s) is missing", a->f[i].fd, a->f[i].path);
		if (i >= a->n || b->f[j].fd < a->f[i].fd)
			fail("extra fd %d (%s)", b->f[j].fd, b->f[j].path);
	}
	for (i = 0; i < a->n; i++)
		compare_fd(&a->f[i], &b->f[i]);
	for (i = 0; i < a->n; i++)
		for (j = 0; j < a->n; j++) {
			if (a->same[i][j] != b->same[i][j])
				fail("fds %d and %d %s share a file description",
				     a->f[i].fd, a->f[j].fd,
				     b->same[i][j] ? "now" : "no longer");
			if (a->same_obj[i][j] != b->same_obj[i][j])
				fail("fds %d and %d %s refer to one object",
				     a->f[i].fd, a->f[j].fd,
				     b->same_obj[i][j] ? "now" : "no longer");
		}
}

void test_fds_check(const struct test_fds *before)
{
	static struct test_fds now;

	test_fds_snapshot(&now);
	test_fds_compare(before, &now);
}

void test_sk_send(int fd, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len + 1);

	if (!buf)
		fail("out of memory for %zu bytes", len);
	fill_pattern(buf, len, seed);
	if (send(fd, buf, len, MSG_DONTWAIT) != (ssize_t)len)
		fail("send %zu bytes on fd %d: %m", len, fd);
	free(buf);
}

void test_sk_expect(const char *who, int fd, int msg, size_t len, uint32_t seed)
{
	uint8_t *buf = malloc(len + 16);
	size_t got = 0, off;
	ssize_t n;

	if (!buf)
		fail("out of memory for %zu bytes", len);
	do {
		n = recv(fd, buf + got, len + 16 - got, MSG_DONTWAIT);
		if (n < 0 || (n == 0 && !msg))
			break;
		got += n;
	} while (!msg && got < len);
	if (got != len)
		fail("%s: fd %d: %s %zu bytes, not %zu: %m", who, fd,
		     msg ? "a message of" : "read", got, len);
	off = check_pattern(buf, len, seed);
	if (off != (size_t)-1)
		fail("%s: fd %d: byte %zu of %zu differs", who, fd, off, len);
	free(buf);
}

void test_sk_empty(const char *who, int fd)
{
	char c;

	if (recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) != -1 || errno != EAGAIN)
		fail("%s: fd %d holds more than it should (or is shut down): %m",
		     who, fd);
}

void test_sk_ping(const char *who, int a, int b)
{
	test_sk_send(a, 5, 77);
	test_sk_expect(who, b, 1, 5, 77);
	test_sk_send(b, 6, 78);
	test_sk_expect(who, a, 1, 6, 78);
}

int test_sk_opt(int fd, int opt)
{
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len))
		fail("getsockopt(%d, %d): %m", fd, opt);
	return v;
}

void test_sk_pair_at(int type, int a, int b)
{
	int sv[2];

	if (socketpair(AF_UNIX, type, 0, sv) || dup2(sv[0], a) != a ||
	    dup2(sv[1], b) != b)
		fail("socketpair at %d/%d: %m", a, b);
	close(sv[0]);
	close(sv[1]);
}
