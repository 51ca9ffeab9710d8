// SPDX-License-Identifier: GPL-2.0-only
/*
 * pidfd_store: criu-lite restore --pidfd-store against a supervisor, without
 * the zdtm runner.
 *
 *   pidfd_store CRIU [--kernel-rights=present|absent] [CASE...]
 *
 * This program is the supervisor. Per case: it forks a tree (a session
 * leader with two children, all in pause()), dumps it with CRIU, listens on
 * a unix socket and runs `CRIU restore -D DIR -v3 --pidfd-store=SOCKET ...`.
 * It then checks each message (lib/pidfd-store.h) and its pidfd: one per
 * process; the pidfd's fdinfo Pid: is the message's PID, which is the
 * dumped PID; the rights are what was asked for where the kernel narrows
 * pidfds (PIDFD_GET_RIGHTS, fdinfo Rights:), all of them where it can't;
 * a signal through the pidfd works iff it holds the signal right. The root
 * becomes our child when criu-lite -d exits (we are a child subreaper):
 * waitid(P_PIDFD) on it works iff its pidfd holds the wait right. Each
 * pidfd must not poll readable while its process runs and must once it is
 * killed (by PID, not through the pidfd). A narrower request than the
 * kernel can enforce must be refused before anything is restored.
 * If restore logged its cold marking, the line says whether the layout
 * cookie was used: it must have been where the kernel has pidfd rights
 * (kernel/'s series brings both).
 *
 * --kernel-rights: fail unless the kernel has (or lacks) pidfd rights, so a
 * guest run can't pass on the wrong kernel; with "present", every restore
 * must also log cold marking checked by the layout cookie. Output: "PASS/FAIL/SKIP
 * pidfd_store/CASE", then "N passed, N failed, N skipped"; exit 1 on a FAIL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kapi.h"
#include "pidfd-store.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define NPROC 3		/* the root and two children */

struct tcase {
	const char *name;
	const char *rights_arg;	/* NULL: the default */
	uint32_t rights;	/* what it asks for */
	int allow_full, detach, stream;
};

static const struct tcase cases[] = {
	{ "all", "all", PIDFD_RIGHTS_ALL, 0, 1, 0 },
	{ "default", NULL, PIDFD_RIGHT_WAIT, 0, 1, 0 },
	{ "wait-info", "wait,info", PIDFD_RIGHT_WAIT, 0, 1, 1 },
	{ "signal", "signal", PIDFD_RIGHT_SIGNAL, 0, 1, 0 },
	{ "allow-full", NULL, PIDFD_RIGHT_WAIT, 1, 0, 1 },
};

static const char *criu;
static char work[] = "/tmp/crl-pidfd-store.XXXXXX";
static int have_rights;
static int want_cookie;		/* --kernel-rights=present: the series */
static int failed;
static const char *cur;

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (!failed)
		printf("FAIL pidfd_store/%s: ", cur);
	else
		printf("  also: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed = 1;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int fd, int sig)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* The kernel has pidfd rights: an ioctl the series adds answers. */
static int probe_rights(void)
{
	int fd = pidfd_open(getpid()), ret;

	if (fd < 0) {
		perror("pidfd_open(self)");
		exit(2);
	}
	ret = ioctl(fd, PIDFD_GET_RIGHTS) >= 0;
	close(fd);
	return ret;
}

static void tree_child(void)
{
	for (;;)
		pause();
}

/* A session leader with two children; its PID, theirs in PIDS. */
static pid_t make_tree(pid_t *pids)
{
	int p[2], i, fd;
	pid_t root;

	if (pipe(p)) {
		perror("pipe");
		exit(2);
	}
	root = fork();
	if (root < 0) {
		perror("fork");
		exit(2);
	}
	if (!root) {
		setsid();
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		for (fd = 3; fd < 1024; fd++)
			if (fd != p[1])
				close(fd);
		pids[0] = getpid();
		for (i = 1; i < NPROC; i++) {
			pids[i] = fork();
			if (!pids[i]) {
				close(p[1]);
				tree_child();
			}
		}
		if (write(p[1], pids, sizeof(pid_t) * NPROC) < 0)
			_exit(1);
		close(p[1]);
		tree_child();
	}
	close(p[1]);
	if (read(p[0], pids, sizeof(pid_t) * NPROC) !=
	    (ssize_t)(sizeof(pid_t) * NPROC)) {
		fprintf(stderr, "the tree did not start\n");
		exit(2);
	}
	close(p[0]);
	msleep(50);	/* all in pause() */
	return root;
}

/* Run criu-lite, stderr to ERR; its PID. */
static pid_t spawn(char **argv, const char *err)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (!pid) {
		fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 2);
		close(fd);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Reap everything that ends below us; the status of WANT, if it did. */
static int reap(pid_t want, int *status)
{
	int st, got = 0;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0)
		if (p == want) {
			*status = st;
			got = 1;
		}
	return got;
}

static int wait_for(pid_t pid, int secs)
{
	int st = -1, i;

	for (i = 0; i < secs * 100; i++) {
		if (reap(pid, &st))
			return st;
		msleep(10);
	}
	return -1;
}

static int pids_free(const pid_t *pids)
{
	char path[32];
	int i, j;

	for (j = 0; j < 500; j++) {
		reap(0, NULL);
		for (i = 0; i < NPROC; i++) {
			snprintf(path, sizeof(path), "/proc/%d", pids[i]);
			if (!access(path, F_OK))
				break;
		}
		if (i == NPROC)
			return 1;
		msleep(10);
	}
	return 0;
}

static char *slurp(const char *path)
{
	static char buf[16384];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	buf[0] = 0;
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	return buf;
}

/* The value of fdinfo field NAME of our FD; -1 if absent. */
static long fdinfo_field(int fd, const char *name, int base)
{
	char path[64], *s, key[32];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	snprintf(key, sizeof(key), "\n%s:", name);
	s = strstr(slurp(path), key);
	return s ? strtol(s + strlen(key), NULL, base) : -1;
}

static void print_lines(const char *log, const char *what)
{
	const char *s = log, *e;

	while ((s = strstr(s, what))) {
		while (s > log && s[-1] != '\n')
			s--;
		e = strchr(s, '\n');
		printf("  %.*s\n", e ? (int)(e - s) : (int)strlen(s), s);
		s = e ? e : s + strlen(s);
	}
}

static int listen_on(const char *path, int type)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int sk = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "socket path too long: %s\n", path);
		exit(2);
	}
	memcpy(a.sun_path, path, strlen(path));
	unlink(path);
	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(sk, 1)) {
		perror("supervisor socket");
		exit(2);
	}
	return sk;
}

/* Accept criu-lite's connection, unless it exits first. */
static int accept_from(int lsk, pid_t crl, int *status)
{
	struct pollfd p = { .fd = lsk, .events = POLLIN };
	int i;

	for (i = 0; i < 3000; i++) {
		if (poll(&p, 1, 10) == 1)
			return accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
		if (reap(crl, status))
			return -2;
	}
	return -1;
}

/* One message and its pidfd: 1, 0 at EOF, -1 broken. */
static int recv_one(int sk, struct crl_pidfd_msg *m, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	if (n == 0)
		return 0;
	if (n != sizeof(*m)) {
		fail("recvmsg: %zd bytes (%s)", n, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	c = CMSG_FIRSTHDR(&mh);
	if ((mh.msg_flags & MSG_CTRUNC) || !c || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int))) {
		fail("message %u: not exactly one fd attached", m->index);
		return -1;
	}
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 1;
}

static void check_msg(const struct tcase *tc, const struct crl_pidfd_msg *m,
		      int fd, unsigned int i, const pid_t *pids)
{
	uint32_t want = have_rights ? tc->rights : PIDFD_RIGHTS_ALL;
	long fpid = fdinfo_field(fd, "Pid", 10);
	long frights = fdinfo_field(fd, "Rights", 16);
	int r;

	if (m->magic != CRL_PIDFD_MSG_MAGIC || m->version != CRL_PIDFD_MSG_VERSION ||
	    m->size != sizeof(*m))
		fail("message %u: magic 0x%x version %u size %u", i, m->magic,
		     m->version, m->size);
	if (m->index != i || m->count != NPROC)
		fail("message %u: says %u of %u, want %u of %d", i, m->index,
		     m->count, i, NPROC);
	/* restored at its PID, parents first: the order we made them in */
	if (m->pid != pids[i] || m->image_pid != pids[i] || fpid != m->pid)
		fail("message %u: PID %d, image PID %d, the pidfd's fdinfo Pid: %ld; the dumped PID was %d",
		     i, m->pid, m->image_pid, fpid, pids[i]);
	if (!!(m->flags & CRL_PIDFD_ROOT) != !i)
		fail("message %u: root flag 0x%x", i, m->flags);
	if (!!(m->flags & CRL_PIDFD_ENFORCED) != have_rights)
		fail("message %u: enforced flag 0x%x, kernel %s pidfd rights", i,
		     m->flags, have_rights ? "has" : "lacks");
	if (m->rights != want)
		fail("message %u: rights 0x%x, want 0x%x", i, m->rights, want);
	r = ioctl(fd, PIDFD_GET_RIGHTS);
	if (have_rights && (r != (int)want || frights != (long)want))
		fail("message %u: the pidfd holds 0x%x (fdinfo Rights: 0x%lx), want 0x%x",
		     i, r, frights, want);
	/* signal 0: permission only, nothing is sent */
	r = pidfd_signal(fd, 0);
	if (want & PIDFD_RIGHT_SIGNAL ? r != 0 : r != -1 || errno != EPERM)
		fail("message %u: pidfd_send_signal(0) -> %d (%s), its rights 0x%x",
		     i, r, r ? strerror(errno) : "ok", want);
}

static void run_case(const struct tcase *tc)
{
	char dir[256], sock[256], err[256], store[300], rights[64];
	pid_t pids[NPROC], root, crl;
	int fds[NPROC], lsk, sk, st = -1, i, n, refused;
	struct crl_pidfd_msg m;
	struct timeval tv = { .tv_sec = 30 };
	char *argv[16], *log;
	siginfo_t si;

	cur = tc->name;
	failed = 0;
	refused = !have_rights && tc->rights != PIDFD_RIGHTS_ALL &&
		  !tc->allow_full;
	snprintf(dir, sizeof(dir), "%s/%s", work, tc->name);
	snprintf(sock, sizeof(sock), "%s/sock", work);
	snprintf(err, sizeof(err), "%s/%s.log", work, tc->name);
	mkdir(dir, 0700);

	root = make_tree(pids);
	argv[0] = (char *)criu;
	argv[1] = "dump";
	argv[2] = "-t";
	snprintf(rights, sizeof(rights), "%d", root);
	argv[3] = rights;
	argv[4] = "-D";
	argv[5] = dir;
	argv[6] = NULL;
	crl = spawn(argv, err);
	st = wait_for(crl, 60);
	if (st != 0) {
		fail("dump exited with status 0x%x: %s", st, slurp(err));
		kill(-root, SIGKILL);
		pids_free(pids);
		return;
	}
	if (!pids_free(pids)) {
		fail("the dumped tree's PIDs are still taken");
		return;
	}

	/* no supervisor listening: refused before anything is restored */
	if (!strcmp(tc->name, "all")) {
		snprintf(store, sizeof(store), "--pidfd-store=%s/nobody", work);
		argv[0] = (char *)criu;
		argv[1] = "restore";
		argv[2] = "-D";
		argv[3] = dir;
		argv[4] = store;
		argv[5] = "--pidfd-rights=all";
		argv[6] = NULL;
		st = wait_for(spawn(argv, err), 30);
		log = slurp(err);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 ||
		    !strstr(log, "Can't connect to the supervisor at"))
			fail("restore without a supervisor: status 0x%x: %s",
			     st, log);
		else if (!pids_free(pids))
			fail("restore without a supervisor restored something");
		else
			print_lines(log, "Can't connect");
	}

	lsk = listen_on(sock, tc->stream ? SOCK_STREAM : SOCK_SEQPACKET);
	snprintf(store, sizeof(store), "--pidfd-store=%s", sock);
	n = 0;
	argv[n++] = (char *)criu;
	argv[n++] = "restore";
	argv[n++] = "-D";
	argv[n++] = dir;
	argv[n++] = "-v3";
	argv[n++] = store;
	if (tc->detach)
		argv[n++] = "-d";
	if (tc->rights_arg) {
		snprintf(rights, sizeof(rights), "--pidfd-rights=%s",
			 tc->rights_arg);
		argv[n++] = rights;
	}
	if (tc->allow_full)
		argv[n++] = "--pidfd-allow-full";
	argv[n] = NULL;
	crl = spawn(argv, err);
	st = -1;
	sk = accept_from(lsk, crl, &st);
	log = slurp(err);
	if (refused) {
		if (sk != -2 || !WIFEXITED(st) || WEXITSTATUS(st) != 1)
			fail("restore was not refused (status 0x%x)", st);
		else if (!strstr(log, "can't narrow a pidfd"))
			fail("no reason given: %s", log);
		else if (!pids_free(pids))
			fail("a refused restore restored something");
		else
			print_lines(log, "can't narrow");
		goto out_lsk;
	}
	if (sk < 0) {
		fail("criu-lite never connected (%d, status 0x%x): %s", sk, st, log);
		goto out_lsk;
	}

	/* a criu-lite that never closes its side must fail, not hang */
	if (setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		fail("SO_RCVTIMEO: %s", strerror(errno));
	for (i = 0; i < NPROC; i++)
		fds[i] = -1;
	for (i = 0;; i++) {
		int fd;

		n = recv_one(sk, &m, &fd);
		if (n <= 0)
			break;
		if (i >= NPROC) {
			close(fd);
			continue;
		}
		fds[i] = fd;
		check_msg(tc, &m, fd, i, pids);
	}
	if (n < 0 || i != NPROC)
		fail("got %d messages, want %d then EOF", i, NPROC);
	close(sk);
	if (tc->detach) {
		st = wait_for(crl, 30);
		if (st != 0)
			fail("restore -d exited with status 0x%x", st);
	}
	log = slurp(err);
	print_lines(log, "Handed ");
	print_lines(log, "Cold marking:");
	print_lines(log, "Warn:");
	if (strstr(log, "Cold marking:") &&
	    !strstr(log, have_rights ? "(layout cookie checked)" :
				       "no layout cookie in this kernel"))
		fail("cold marking did not say it %s the layout cookie",
		     have_rights ? "used" : "went without");
	if (want_cookie && !strstr(log, "(layout cookie checked)"))
		fail("no cold marking with the layout cookie in the log");
	if (!have_rights && tc->allow_full &&
	    !strstr(log, "the supervisor gets full pidfds"))
		fail("no warning about full pidfds");

	if (i == NPROC) {
		struct pollfd p[NPROC];

		/* the root is ours now (we subreap): wait needs the right */
		memset(&si, 0, sizeof(si));
		n = waitid(P_PIDFD, fds[0], &si, WEXITED | WNOHANG);
		if (tc->detach && (have_rights && !(tc->rights & PIDFD_RIGHT_WAIT) ?
				   n != -1 || errno != EPERM : n != 0 || si.si_pid))
			fail("waitid(P_PIDFD, root, WNOHANG) -> %d (%s) pid %d",
			     n, n ? strerror(errno) : "ok", si.si_pid);
		for (i = 0; i < NPROC; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(p, NPROC, 0) != 0)
			fail("a pidfd polls readable while its process runs");
		for (i = NPROC - 1; i >= 0; i--)
			if (kill(pids[i], SIGKILL))
				fail("kill %d: %s", pids[i], strerror(errno));
		for (i = 0; i < NPROC; i++) {
			p[0] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
			if (poll(p, 1, 5000) != 1 || !(p[0].revents & POLLIN))
				fail("pidfd of PID %d: no exit seen by poll()",
				     pids[i]);
		}
		if (tc->detach && (!have_rights || tc->rights & PIDFD_RIGHT_WAIT)) {
			memset(&si, 0, sizeof(si));
			n = waitid(P_PIDFD, fds[0], &si, WEXITED);
			if (n || si.si_pid != pids[0] || si.si_code != CLD_KILLED ||
			    si.si_status != SIGKILL)
				fail("waitid(P_PIDFD, root) -> %d (%s): pid %d code %d status %d",
				     n, n ? strerror(errno) : "ok", si.si_pid,
				     si.si_code, si.si_status);
		}
		for (i = 0; i < NPROC; i++)
			close(fds[i]);
	} else {
		for (i = 0; i < NPROC; i++)
			kill(pids[i], SIGKILL);
	}
	if (!tc->detach) {
		/* criu-lite waited on the root: it passes SIGKILL on */
		st = wait_for(crl, 30);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 128 + SIGKILL)
			fail("restore exited with status 0x%x, want exit %d", st,
			     128 + SIGKILL);
	}
	if (!pids_free(pids))
		fail("the restored tree did not go away");
out_lsk:
	close(lsk);
	if (failed)
		printf("  criu-lite said:\n%s", slurp(err));
}

/* Bad options: exit 1 with MSG, before anything else happens. */
static int check_usage(const char *name, const char *msg, ...)
{
	char *argv[12], err[300];
	va_list ap;
	int n = 0, st;

	cur = name;
	failed = 0;
	argv[n++] = (char *)criu;
	va_start(ap, msg);
	while ((argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	snprintf(err, sizeof(err), "%s/usage.log", work);
	st = wait_for(spawn(argv, err), 30);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !strstr(slurp(err), msg))
		fail("status 0x%x, want 1 and \"%s\" in: %s", st, msg,
		     slurp(err));
	else
		printf("PASS pidfd_store/%s\n", name);
	return failed;
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	int i, j, pass = 0, nfail = 0, skip = 0, ran;
	const char *want = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: pidfd_store CRIU [--kernel-rights=present|absent] [CASE...]\n");
		return 2;
	}
	criu = argv[1];
	argv += 2;
	argc -= 2;
	if (argc && !strncmp(argv[0], "--kernel-rights=", 16)) {
		want = argv[0] + 16;
		want_cookie = !strcmp(want, "present");
		argv++;
		argc--;
	}
	if (geteuid()) {
		printf("SKIP pidfd_store: needs root to restore\n0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	if (!mkdtemp(work)) {
		perror("mkdtemp");
		return 2;
	}
	/* the tree's orphans and, after criu-lite -d, its root are ours */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	have_rights = probe_rights();
	printf("kernel pidfd rights: %s\n", have_rights ? "present" : "absent");
	if (want && strcmp(want, have_rights ? "present" : "absent")) {
		printf("FAIL pidfd_store/kernel: pidfd rights %s, want %s\n",
		       have_rights ? "present" : "absent", want);
		nfail++;
	}
	if (!argc) {
		nfail += check_usage("opt-bad-right", "takes a comma-separated list",
				     "restore", "-D", work, "--pidfd-store=/x",
				     "--pidfd-rights=wait,kill", NULL);
		nfail += check_usage("opt-no-store", "need --pidfd-store=SOCKET",
				     "restore", "-D", work,
				     "--pidfd-rights=wait", NULL);
		nfail += check_usage("opt-not-restore", "are for restore",
				     "dump", "-t", "1", "-D", work,
				     "--pidfd-store=/x", NULL);
		pass += 3 - nfail;
	}
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		for (j = 0, ran = !argc; j < argc; j++)
			if (!strcmp(argv[j], cases[i].name))
				ran = 1;
		if (!ran)
			continue;
		run_case(&cases[i]);
		if (failed) {
			nfail++;
		} else {
			printf("PASS pidfd_store/%s\n", cases[i].name);
			pass++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", pass, nfail, skip);
	if (!nfail && nftw(work, rm_one, 16, FTW_DEPTH | FTW_PHYS))
		fprintf(stderr, "could not remove %s\n", work);
	return nfail ? 1 : 0;
}
