// SPDX-License-Identifier: GPL-2.0-only
/*
 * zdtm-run: puts zdtm tests and real programs through criu-lite.
 *
 *   zdtm-run [--criu PATH]
 *            [--mode plain|leave-running|twice|pidns|predump|pageserver|lazy|none|all]
 *            [--page-server] [--keep] [--verbose] [--list] [TEST...]
 *
 * Per test and mode: start the test (setsid, stdin /dev/null, stdout+stderr
 * to its outfile), wait until it is ready, dump it, restore it (-d), check it
 * runs at its PID, SIGTERM it and read its verdict. The runner is a child
 * subreaper: the restored tasks become its children and are reaped at once,
 * and a test may be a process tree: whatever is left below the runner after
 * a dump or a verdict is waited for (its PIDs must be free for a restore) and
 * killed between cases. The verdict is the root's PASS/FAIL (any FAIL line
 * of any process of the tree counts).
 * Mode pidns restores with --pidns while the original (dumped with
 * --leave-running) still holds every PID: the copy's root is then a child of
 * the new namespace's PID 1, which criu-lite leaves to us, and reads its
 * original PIDs inside; both the copy and the original are judged.
 * Mode predump pre-dumps the running test three times, each on the one
 * before (--prev-images-dir), letting it run (and write) in between, then
 * dumps it with --prev-images-dir --track-mem on the last, and restores that.
 * Mode pageserver is plain through a page server: a `criu-lite page-server`
 * on 127.0.0.1, on a free port, takes the dump (the runner reads the port
 * from its stdout) and the restore is from its directory, DIR/ps/img; the
 * local one lacks the pages. --page-server does the same for any mode: with
 * predump, every pre-dump goes to a page server of its own, into DIR/ps/preN,
 * so that the chain lies on the server side as it does locally.
 * Mode lazy is plain with restore --lazy-pages: the test runs while its
 * private memory still comes in from the lazy-pages daemon.
 * One line per (test, mode): "PASS name [mode]", "FAIL name [mode]: why" or
 * "SKIP name [mode]: why" (the test printed "SKIP: why" instead of PASS: it
 * could not set up what it checks), and last "N passed, N failed, N skipped".
 * Exit status 1 if anything failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef ZDTM_TEST_LIST
#define ZDTM_TEST_LIST ""
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define READY_TIMEOUT_MS 10000
#define CRIU_TIMEOUT_MS 120000
#define EXIT_TIMEOUT_MS 10000
#define GONE_TIMEOUT_MS 10000
#define PS_PORT_TIMEOUT_MS 10000

static const char *criu = NULL;
static char zdtm_dir[PATH_MAX]; /* test/zdtm, where the tests live */
static char root_dir[PATH_MAX]; /* the repository */
static char tmp_dir[PATH_MAX];
static bool keep, verbose, page_server;
static volatile sig_atomic_t interrupted;

/* ---------------------------------------------------------------- misc */

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) && errno == EINTR && !interrupted)
		;
}

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
	static long long t0;
	va_list ap;

	if (!verbose)
		return;
	if (!t0)
		t0 = now_ms();
	fprintf(stderr, "[%7.3f] ", (now_ms() - t0) / 1000.0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* snprintf for paths: a truncated path is a bug, not a warning. */
static void xsnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "zdtm-run: path too long: %s\n", buf);
		exit(2);
	}
}

/* Whole small file into buf (NUL-terminated); length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	ssize_t len = 0, n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)len + 1 < size &&
	       (n = read(fd, buf + len, size - len - 1)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return len;
}

struct pstat {
	char state;
	pid_t ppid, pgrp, sid;
	char comm[64];
};

static int proc_stat(pid_t pid, struct pstat *ps)
{
	char path[64], buf[1024], *p, *c;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return -1;
	c = strchr(buf, '(');
	p = strrchr(buf, ')');
	if (!c || !p)
		return -1;
	snprintf(ps->comm, sizeof(ps->comm), "%.*s", (int)(p - c - 1), c + 1);
	if (sscanf(p + 2, "%c %d %d %d", &ps->state, &ps->ppid, &ps->pgrp,
		   &ps->sid) != 4)
		return -1;
	return 0;
}

/* ------------------------------------------------------- child reaping */

#define MAX_REAPED 1024
static struct {
	pid_t pid;
	int status;
} reaped[MAX_REAPED];
static int nreaped;

static void reap_all(void)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG | __WALL)) > 0) {
		vlog("reaped %d status %#x", p, st);
		if (nreaped == MAX_REAPED) {
			memmove(reaped, reaped + 1,
				sizeof(reaped[0]) * (MAX_REAPED - 1));
			nreaped--;
		}
		reaped[nreaped].pid = p;
		reaped[nreaped].status = st;
		nreaped++;
	}
}

static int take_reaped(pid_t pid, int *status)
{
	int i;

	for (i = 0; i < nreaped; i++)
		if (reaped[i].pid == pid) {
			*status = reaped[i].status;
			memmove(reaped + i, reaped + i + 1,
				sizeof(reaped[0]) * (nreaped - i - 1));
			nreaped--;
			return 0;
		}
	return -1;
}

static void forget_reaped(pid_t pid)
{
	int st;

	while (!take_reaped(pid, &st))
		;
}

/* Wait for our child pid to be reaped: 0 and its status, or -1 on timeout. */
static int wait_for(pid_t pid, int timeout_ms, int *status)
{
	long long end = now_ms() + timeout_ms;

	for (;;) {
		reap_all();
		if (!take_reaped(pid, status))
			return 0;
		if (now_ms() >= end || interrupted)
			return -1;
		sleep_ms(5);
	}
}

static void describe_status(int st, char *buf, size_t size)
{
	if (WIFEXITED(st))
		snprintf(buf, size, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, size, "status %#x", st);
}

/*
 * Shell jobs run in a session on a pty of ours, as under a shell: the
 * session's leader (a "terminal", which only waits) is below us but not
 * part of the test. Each holds its session and our master of its pty.
 */
#define MAX_TERMINALS 8
static struct {
	pid_t pid;
	int master;
} terminals[MAX_TERMINALS];
static int nterminals;

static bool is_terminal(pid_t pid)
{
	int i;

	for (i = 0; i < nterminals; i++)
		if (terminals[i].pid == pid)
			return true;
	return false;
}

/*
 * Every live process below the runner: the tests are process trees, and a
 * tree's orphans come to us (we are a child subreaper), so "below us" is
 * exactly "what is left of the test". Returns how many (at most max).
 */
static int descendants(pid_t *out, int max, char *states)
{
	static struct {
		pid_t pid, ppid;
		char state;
	} all[32768];
	pid_t me = getpid();
	struct dirent *de;
	int n = 0, found = 0, i, hops;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < (int)ARRAY_SIZE(all)) {
		struct pstat ps;
		pid_t pid = atoi(de->d_name);

		if (pid <= 1 || pid == me || is_terminal(pid) ||
		    proc_stat(pid, &ps))
			continue;
		all[n].pid = pid;
		all[n].ppid = ps.ppid;
		all[n].state = ps.state;
		n++;
	}
	closedir(d);
	for (i = 0; i < n && found < max; i++) {
		pid_t up = all[i].ppid;
		int j;

		/* Walk up the parents; a tree is never deeper than this. */
		for (hops = 0; up > 1 && up != me && !is_terminal(up) &&
			       hops < 256; hops++) {
			for (j = 0; j < n && all[j].pid != up; j++)
				;
			up = j < n ? all[j].ppid : 0;
		}
		if (up != me)
			continue;
		if (states)
			states[found] = all[i].state;
		out[found++] = all[i].pid;
	}
	return found;
}

/* Kill everything below us and every process of the given sessions. */
static void kill_leftovers(const pid_t *sids, int nsids)
{
	static pid_t below[4096];
	static char states[4096];
	long long end = now_ms() + 5000;
	int round;

	for (round = 0; round < 50; round++) {
		struct dirent *de;
		int found, i;
		DIR *d;

		found = descendants(below, ARRAY_SIZE(below), states);
		for (i = 0; i < found; i++)
			if (states[i] != 'Z') {
				vlog("killing leftover %d", below[i]);
				kill(below[i], SIGKILL);
			}
		d = opendir("/proc");
		if (!d)
			return;
		while ((de = readdir(d))) {
			struct pstat ps;
			pid_t pid = atoi(de->d_name);

			if (pid <= 1 || pid == getpid() || proc_stat(pid, &ps) ||
			    ps.state == 'Z')
				continue;
			for (i = 0; i < nsids; i++)
				if (sids[i] > 1 && ps.sid == sids[i]) {
					vlog("killing leftover %d (%s) of "
					     "session %d", pid, ps.comm,
					     sids[i]);
					kill(pid, SIGKILL);
					found++;
				}
		}
		closedir(d);
		reap_all();
		if (!found || now_ms() > end)
			break;
		sleep_ms(20);
	}
	reap_all();
	nreaped = 0;
}

/*
 * Wait until nothing is left below us: after a dump killed the tree, or after
 * the root's verdict (a root waits for its tree). Restoring needs every PID
 * free again, zombies included. 0, or -1 and the first leftover in *left.
 */
static int wait_tree_gone(int timeout_ms, pid_t *left)
{
	long long end = now_ms() + timeout_ms;
	pid_t pid;

	for (;;) {
		reap_all();
		if (!descendants(&pid, 1, NULL))
			return 0;
		if (now_ms() >= end || interrupted) {
			*left = pid;
			return -1;
		}
		sleep_ms(5);
	}
}

/* --------------------------------------------------------- test cases */

struct ctx;

struct test_ops {
	/* Start the program: fork, setsid, exec; sets c->pid. */
	int (*start)(struct ctx *c);
	/* Wait until it is ready to be dumped. */
	int (*ready)(struct ctx *c);
	/* Right after a successful dump. */
	int (*after_dump)(struct ctx *c);
	/* While it runs (the original after --leave-running, or restored). */
	int (*check_running)(struct ctx *c, bool restored);
	/* End it and judge it. */
	int (*finish)(struct ctx *c);
};

struct test {
	char name[64];
	const struct test_ops *ops;
	const char *const *argv; /* real programs; NULL: zdtm binary */
};

struct ctx {
	const struct test *t;
	const char *mode;
	char dir[PATH_MAX];
	char img[PATH_MAX];
	char outfile[PATH_MAX];
	char pidfile[PATH_MAX];
	char counter[PATH_MAX];
	pid_t pid;
	/*
	 * A copy restored with --pidns: its new namespace's PID 1, our child
	 * (the root is its child). Its exit status is the root's.
	 */
	pid_t init;
	pid_t stopped[64];	/* the original, stopped while its copy runs */
	int nstopped;
	pid_t sids[8];
	int nsids;
	char comm[64];
	char cmdline[4096];
	ssize_t cmdline_len;
	off_t out_off;
	long counter_at_dump;
	long counters_at_dump[8];
	pid_t tids[16];
	int ntids;
	int nrestores;
	char reason[2048];
	char skip[512];		/* the test's SKIP line: nothing was checked */
	char logs[12][PATH_MAX];
	int nlogs;
	pid_t ps_pid;		/* the page server of the dump under way */
	char ps_port[8];
	/* over TCP: the runner's listener and its connection to the test */
	int peer_l, peer;
	int port;
	size_t peer_sent, peer_got;
};

static int failf(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int failf(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->reason[0]) /* keep the first reason */
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static void add_log(struct ctx *c, const char *path)
{
	int i;

	for (i = 0; i < c->nlogs; i++)
		if (!strcmp(c->logs[i], path))
			return;
	if (c->nlogs < (int)ARRAY_SIZE(c->logs))
		snprintf(c->logs[c->nlogs++], PATH_MAX, "%s", path);
}

static void remember_sid(struct ctx *c, pid_t pid)
{
	if (c->nsids < (int)ARRAY_SIZE(c->sids))
		c->sids[c->nsids++] = pid;
}

/* In a child: cwd = dir, stdin IN, stdout+stderr = out, exec argv. */
static __attribute__((noreturn)) void exec_child(const char *const *argv,
						 const char *dir,
						 const char *out,
						 const char *in_path)
{
	int in, fd;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (chdir(dir))
		_exit(126);
	in = open(in_path, strcmp(in_path, "/dev/null") ? O_RDWR : O_RDONLY);
	fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (in < 0 || fd < 0)
		_exit(126);
	dup2(in, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	syscall(SYS_close_range, 3, ~0U, 0);
	setenv("ZDTM_DIR", dir, 1);
	execvp(argv[0], (char *const *)argv);
	dprintf(2, "zdtm-run: exec %s: %m\n", argv[0]);
	_exit(127);
}

/*
 * Fork and exec argv with cwd = dir, stdin /dev/null, stdout+stderr = out
 * (O_WRONLY|O_APPEND|O_CREAT); new session if new_session.
 */
static pid_t spawn(const char *const *argv, const char *dir, const char *out,
		   bool new_session)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (new_session && setsid() < 0)
			_exit(126);
		exec_child(argv, dir, out, "/dev/null");
	}
	return pid;
}

/*
 * A terminal's session leader, as a shell: the pty SLAVE is its controlling
 * terminal; it starts one job (argv) in a group of its own in front of it,
 * through a child that exits at once (the job is orphaned to us, like every
 * test), reports the job's PID on REPORT, then only waits.
 */
static __attribute__((noreturn)) void terminal(const char *slave,
					       const char *const *argv,
					       const char *dir, const char *out,
					       bool tty_in, int report)
{
	pid_t job;
	int fd;

	if (setsid() < 0 || (fd = open(slave, O_RDWR)) < 0 ||
	    ioctl(fd, TIOCSCTTY, 0))
		_exit(126);
	if (fork() == 0) {
		job = fork();
		if (job == 0) {
			setpgid(0, 0);
			signal(SIGTTOU, SIG_IGN);
			tcsetpgrp(fd, getpid());
			signal(SIGTTOU, SIG_DFL);
			exec_child(argv, dir, out, tty_in ? slave : "/dev/null");
		}
		if (write(report, &job, sizeof(job)) != sizeof(job))
			_exit(1);
		_exit(0);
	}
	close(report);
	for (;;)
		if (wait(NULL) < 0 && errno == ECHILD)
			pause();
}

/*
 * Start argv as a shell with job control would, on a new pty of ours (its
 * stdin if tty_in): for the tests that are shell jobs (--shell-job). The
 * terminal lives until the case ends. Returns the job's PID, or -1.
 */
static pid_t spawn_job(struct ctx *c, const char *const *argv, const char *out,
		       bool tty_in)
{
	char slave[64];
	pid_t t, job = -1;
	int m, p[2];

	if (nterminals == MAX_TERMINALS)
		return -1;
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m) ||
	    ptsname_r(m, slave, sizeof(slave)) || pipe2(p, O_CLOEXEC)) {
		if (m >= 0)
			close(m);
		return -1;
	}
	t = fork();
	if (t == 0)
		terminal(slave, argv, c->dir, out, tty_in, p[1]);
	close(p[1]);
	if (t < 0 || read(p[0], &job, sizeof(job)) != sizeof(job))
		job = -1;
	close(p[0]);
	if (t < 0) {
		close(m);
		return -1;
	}
	terminals[nterminals].pid = t;
	terminals[nterminals++].master = m;
	remember_sid(c, t);
	vlog("%s: terminal %d on %s started %d", c->t->name, t, slave, job);
	return job;
}

/* After kill_leftovers(): the terminals are gone, close their masters. */
static void release_terminals(void)
{
	while (nterminals > 0)
		close(terminals[--nterminals].master);
}

/* Tests that are jobs of a shell: run on a terminal, with --shell-job. */
static bool shell_job(const struct ctx *c)
{
	return !strcmp(c->t->name, "shell_job");
}

static int read_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	return slurp(path, buf, size);
}

/* Alive (not a zombie, not stopped) and still named the same. */
static int check_alive(struct ctx *c, const char *who)
{
	struct pstat ps;
	char cmd[4096];
	ssize_t n;

	if (proc_stat(c->pid, &ps))
		return failf(c, "%s: no process %d", who, c->pid);
	if (ps.state == 'Z' || ps.state == 'X')
		return failf(c, "%s: %d is dead (state %c)", who, c->pid,
			     ps.state);
	if (ps.state == 'T' || ps.state == 't')
		return failf(c, "%s: %d is stopped (state %c)", who, c->pid,
			     ps.state);
	if (strcmp(ps.comm, c->comm))
		return failf(c, "%s: %d is \"%s\", not \"%s\"", who, c->pid,
			     ps.comm, c->comm);
	n = read_cmdline(c->pid, cmd, sizeof(cmd));
	if (n != c->cmdline_len || memcmp(cmd, c->cmdline, n))
		return failf(c, "%s: /proc/%d/cmdline differs", who, c->pid);
	if (c->init && ps.ppid != c->init)
		return failf(c, "%s: %d has parent %d, not the PID 1 of its namespace %d",
			     who, c->pid, ps.ppid, c->init);
	if (!c->init && ps.ppid != getpid())
		return failf(c, "%s: %d has parent %d, not the runner %d", who,
			     c->pid, ps.ppid, getpid());
	return 0;
}

/*
 * Our child whose end is the tree's: the root, or for a copy restored with
 * --pidns the PID 1 of its namespace (whose death ends everything in it).
 */
static pid_t tree_child(struct ctx *c)
{
	return c->init ? c->init : c->pid;
}

/*
 * The status of tree_child() as the root's: PID 1 can't die of a signal
 * from inside its namespace, so it exits 128+N when the root was killed by N.
 */
static int root_status(struct ctx *c, int st)
{
	if (c->init && WIFEXITED(st) && WEXITSTATUS(st) > 128 &&
	    WEXITSTATUS(st) < 128 + 65)
		return WEXITSTATUS(st) - 128;	/* as if killed by N */
	return st;
}

/* PID's NSpid: its PID at every PID namespace level, ours first. */
static int read_nspid(const char *status, pid_t *ids, int max)
{
	char buf[4096], *p;
	int n = 0;

	if (slurp(status, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nNSpid:");
	if (!p)
		return -1;
	p += 7;
	while (n < max && *p && *p != '\n') {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		ids[n++] = v;
		p = end;
	}
	return n;
}

/* TID as a task of the tree sees it (c->init: in the new namespace). */
static pid_t tree_view(struct ctx *c, pid_t pid, pid_t tid)
{
	char path[96];
	pid_t ids[8];

	if (!c->init)
		return tid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	return read_nspid(path, ids, ARRAY_SIZE(ids)) >= 2 ? ids[1] : -1;
}

/* Record comm and cmdline of the ready process. */
static int note_identity(struct ctx *c)
{
	struct pstat ps;

	if (proc_stat(c->pid, &ps))
		return failf(c, "process %d vanished", c->pid);
	snprintf(c->comm, sizeof(c->comm), "%s", ps.comm);
	c->cmdline_len = read_cmdline(c->pid, c->cmdline, sizeof(c->cmdline));
	if (c->cmdline_len < 0)
		return failf(c, "cannot read cmdline of %d", c->pid);
	return 0;
}

/* True if no thread of pid is running (state R). */
static bool threads_asleep(pid_t pid)
{
	char path[64], buf[512], *p;
	struct dirent *de;
	bool asleep = true;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return true; /* gone: nothing runs */
	while (asleep && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", pid,
			 de->d_name);
		if (slurp(path, buf, sizeof(buf)) > 0 &&
		    (p = strrchr(buf, ')')) && p[1] && p[2] == 'R')
			asleep = false;
	}
	closedir(d);
	return asleep;
}

/*
 * Give it up to ms until every thread of every process of the tree sleeps
 * (or is a zombie): it should be blocked when dumped, not half-way through
 * its set-up.
 */
static void wait_sleeping(struct ctx *c, int ms)
{
	static pid_t below[4096];
	long long end = now_ms() + ms;
	int n, i;

	(void)c;
	while (now_ms() < end) {
		n = descendants(below, ARRAY_SIZE(below), NULL);
		for (i = 0; i < n && threads_asleep(below[i]); i++)
			;
		if (i == n)
			return;
		sleep_ms(5);
	}
}

/* The whole tree went with its root: every PID is free for a restore. */
static int tree_gone(struct ctx *c, const char *when)
{
	struct pstat ps;
	pid_t left;

	if (!wait_tree_gone(GONE_TIMEOUT_MS, &left))
		return 0;
	if (proc_stat(left, &ps)) {
		snprintf(ps.comm, sizeof(ps.comm), "?");
		ps.state = '?';
	}
	return failf(c, "%s: process %d (%s, state %c) of the tree still "
		     "there after %d ms", when, left, ps.comm, ps.state,
		     GONE_TIMEOUT_MS);
}

/* ---- zdtm test binaries */

static int zdtm_start(struct ctx *c)
{
	char bin[PATH_MAX], pf[PATH_MAX + 16], of[PATH_MAX + 16];
	const char *argv[] = { bin, pf, of, NULL };

	xsnprintf(bin, sizeof(bin), "%s/%s", zdtm_dir, c->t->name);
	snprintf(pf, sizeof(pf), "--pidfile=%s", c->pidfile);
	snprintf(of, sizeof(of), "--outfile=%s", c->outfile);
	if (access(bin, X_OK))
		return failf(c, "no test binary %s (make zdtm?)", bin);
	if (shell_job(c))
		c->pid = spawn_job(c, argv, c->outfile, true);
	else
		c->pid = spawn(argv, c->dir, c->outfile, true);
	if (c->pid < 0)
		return failf(c, "fork: %m");
	remember_sid(c, c->pid);
	vlog("%s: started %d", c->t->name, c->pid);
	return 0;
}

static int zdtm_ready(struct ctx *c)
{
	long long end = now_ms() + READY_TIMEOUT_MS;
	char buf[64];
	int st;

	for (;;) {
		if (slurp(c->pidfile, buf, sizeof(buf)) > 0)
			break;
		reap_all();
		if (!take_reaped(c->pid, &st)) {
			describe_status(st, buf, sizeof(buf));
			return failf(c, "test exited before it was ready: %s",
				     buf);
		}
		if (now_ms() > end || interrupted)
			return failf(c, "no pidfile after %d ms",
				     READY_TIMEOUT_MS);
		sleep_ms(5);
	}
	if (atoi(buf) != c->pid)
		return failf(c, "pidfile says %d, started %d", atoi(buf),
			     c->pid);
	wait_sleeping(c, 2000);
	return note_identity(c);
}

/* SIGTERM, once the output so far is skipped: the verdict comes after. */
static int zdtm_sigterm(struct ctx *c)
{
	struct stat st;

	c->out_off = stat(c->outfile, &st) ? 0 : st.st_size;
	vlog("%s: SIGTERM %d", c->t->name, c->pid);
	if (kill(c->pid, SIGTERM))
		return failf(c, "kill(%d, SIGTERM): %m", c->pid);
	return 0;
}

static int zdtm_verdict(struct ctx *c)
{
	char buf[8192], desc[128], *line, *save = NULL;
	bool passed = false;
	ssize_t n;
	int fd, status;

	if (wait_for(tree_child(c), EXIT_TIMEOUT_MS, &status))
		return failf(c, "%d did not exit %d ms after SIGTERM", c->pid,
			     EXIT_TIMEOUT_MS);
	status = root_status(c, status);

	/* What this process wrote after the SIGTERM. */
	buf[0] = '\0';
	fd = open(c->outfile, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf) - 1, c->out_off);
		buf[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "FAIL", 4))
			return failf(c, "%s", line);
		if (!strcmp(line, "PASS"))
			passed = true;
		/* a SKIP stands for a PASS, and makes the whole case a skip */
		if (!strncmp(line, "SKIP: ", 6)) {
			snprintf(c->skip, sizeof(c->skip), "%s", line + 6);
			passed = true;
		}
	}
	describe_status(status, desc, sizeof(desc));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return failf(c, "test %s%s", desc, passed ? " after PASS" : "");
	if (!passed)
		return failf(c, "test exited 0 without printing PASS");
	/* its namespace went with its PID 1 */
	if (c->init)
		return 0;
	/* Only after the verdict: a failing root may leave its tree behind. */
	return tree_gone(c, "after the root's verdict");
}

static int zdtm_finish(struct ctx *c)
{
	return zdtm_sigterm(c) || zdtm_verdict(c) ? -1 : 0;
}

static int zdtm_check_running(struct ctx *c, bool restored)
{
	return check_alive(c, restored ? "restored" : "original");
}

static const struct test_ops zdtm_ops = {
	.start = zdtm_start,
	.ready = zdtm_ready,
	.check_running = zdtm_check_running,
	.finish = zdtm_finish,
};

/* ---- real programs */

static int real_start(struct ctx *c)
{
	c->pid = spawn(c->t->argv, c->dir, c->outfile, true);
	if (c->pid < 0)
		return failf(c, "fork: %m");
	remember_sid(c, c->pid);
	add_log(c, c->outfile);
	vlog("%s: started %d", c->t->name, c->pid);
	return 0;
}

/* Ready once it has exec'ed argv[0] and sleeps. */
static int real_exec_ready(struct ctx *c)
{
	long long end = now_ms() + READY_TIMEOUT_MS;
	const char *want = strrchr(c->t->argv[0], '/');
	struct pstat ps;
	int st;

	want = want ? want + 1 : c->t->argv[0];
	for (;;) {
		reap_all();
		if (!take_reaped(c->pid, &st))
			return failf(c, "%s exited at start (status %#x)", want,
				     st);
		if (!proc_stat(c->pid, &ps) && !strncmp(ps.comm, want, 15) &&
		    ps.state == 'S')
			break;
		if (now_ms() > end || interrupted)
			return failf(c, "%s not running after %d ms", want,
				     READY_TIMEOUT_MS);
		sleep_ms(10);
	}
	sleep_ms(200);
	return note_identity(c);
}

static int real_check_sleep(struct ctx *c, bool restored)
{
	const char *who = restored ? "restored" : "original";

	if (check_alive(c, who))
		return -1;
	sleep_ms(500);
	return check_alive(c, who);
}

/*
 * Terminated by SIGTERM's default action: it was alive and well. A server
 * that handles SIGTERM (EXIT_OK) may exit 0 instead.
 */
static int real_end(struct ctx *c, bool exit_ok)
{
	char desc[128];
	int st;

	if (kill(c->pid, SIGTERM))
		return failf(c, "kill(%d, SIGTERM): %m", c->pid);
	if (wait_for(tree_child(c), EXIT_TIMEOUT_MS, &st))
		return failf(c, "%d still alive %d ms after SIGTERM", c->pid,
			     EXIT_TIMEOUT_MS);
	st = root_status(c, st);
	if (!c->init && tree_gone(c, "after the root's death"))
		return -1;
	if (exit_ok && WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) {
		describe_status(st, desc, sizeof(desc));
		return failf(c, "expected death by SIGTERM%s, got %s",
			     exit_ok ? " or exit 0" : "", desc);
	}
	return 0;
}

static int real_finish(struct ctx *c)
{
	return real_end(c, false);
}

/* The counter file's number, or -1 while it is empty or being rewritten. */
static long read_counter(struct ctx *c)
{
	char buf[64], *end;
	long v;

	if (slurp(c->counter, buf, sizeof(buf)) <= 0)
		return -1;
	v = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n'))
		return -1;
	return v;
}

/* Reads until it gets a whole number (the writer truncates, then writes). */
static long read_counter_settled(struct ctx *c)
{
	long long end = now_ms() + 2000;
	long v;

	while ((v = read_counter(c)) < 0 && now_ms() < end)
		sleep_ms(5);
	return v;
}

#define COUNTER_READY 30

static int counter_ready(struct ctx *c)
{
	long long end = now_ms() + 3 * READY_TIMEOUT_MS;
	long v = -1;
	int st;

	for (;;) {
		reap_all();
		if (!take_reaped(c->pid, &st))
			return failf(c, "the loop exited (status %#x)", st);
		v = read_counter(c);
		if (v >= COUNTER_READY)
			break;
		if (now_ms() > end || interrupted)
			return failf(c, "counter at %ld after %d ms", v,
				     3 * READY_TIMEOUT_MS);
		sleep_ms(20);
	}
	return note_identity(c);
}

static int counter_after_dump(struct ctx *c)
{
	c->counter_at_dump = read_counter_settled(c);
	vlog("%s: counter %ld after dump", c->t->name, c->counter_at_dump);
	if (c->counter_at_dump < COUNTER_READY)
		return failf(c, "counter reads %ld after the dump",
			     c->counter_at_dump);
	return 0;
}

static int counter_check(struct ctx *c, bool restored)
{
	long v0 = c->counter_at_dump, pre, x, y;
	long long end;

	if (check_alive(c, restored ? "restored" : "original"))
		return -1;
	if (!restored) {
		/* The original goes on counting after --leave-running. */
		end = now_ms() + 5000;
		while ((x = read_counter(c)) <= v0 && now_ms() < end)
			sleep_ms(10);
		if (x <= v0)
			return failf(c, "original stopped counting at %ld", x);
		return 0;
	}
	/* The first new number must continue from the dump, not from 0. */
	pre = read_counter_settled(c);
	end = now_ms() + 5000;
	for (;;) {
		x = read_counter(c);
		if (x >= 0 && x != pre)
			break;
		if (now_ms() > end)
			return failf(c, "restored loop does not count: counter "
				     "stays %ld", pre);
		sleep_ms(2);
	}
	if (x < v0 - 5 || x > v0 + 10)
		return failf(c, "restored counter went %ld -> %ld, but it was "
			     "%ld at dump time: it did not carry on", pre, x,
			     v0);
	sleep_ms(1000);
	y = read_counter_settled(c);
	if (y <= x)
		return failf(c, "restored counter stuck: %ld then %ld", x, y);
	vlog("%s: counter %ld at dump, %ld, %ld after restore", c->t->name,
	     v0, x, y);
	return check_alive(c, "restored");
}

/*
 * real/python-threads: PY_THREADS workers, each counting in its own slot;
 * whoever counts writes every slot to the counter file, in place, in one
 * pwrite of fixed-width numbers (no truncation, so no empty file to read).
 * After restore every slot must carry on from its value at dump time.
 */
#define PY_THREADS 4
#define STR_(x) #x
#define STR(x) STR_(x)

/* The counter file's PY_THREADS numbers into v; -1 if it is not whole. */
static int read_counters(struct ctx *c, long *v)
{
	char buf[256], *p = buf, *end;
	int i;

	if (slurp(c->counter, buf, sizeof(buf)) <= 0)
		return -1;
	for (i = 0; i < PY_THREADS; i++, p = end) {
		v[i] = strtol(p, &end, 10);
		if (end == p || v[i] < 0)
			return -1;
	}
	return *end == '\n' ? 0 : -1;
}

static int read_counters_settled(struct ctx *c, long *v)
{
	long long end = now_ms() + 2000;

	while (read_counters(c, v)) {
		if (now_ms() > end)
			return -1;
		sleep_ms(5);
	}
	return 0;
}

static void format_counters(const long *v, char *buf, size_t size)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < PY_THREADS && off < size; i++)
		off += snprintf(buf + off, size - off, "%s%ld", i ? " " : "",
				v[i]);
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* The TIDs of c->pid, sorted; their number or -1. */
static int list_tids(struct ctx *c, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", c->pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && n < max)
			tids[n++] = tree_view(c, c->pid, atoi(de->d_name));
	closedir(d);
	qsort(tids, n, sizeof(*tids), cmp_pid);
	return n;
}

static int threads_ready(struct ctx *c)
{
	long long end = now_ms() + 3 * READY_TIMEOUT_MS;
	long v[PY_THREADS];
	char buf[128];
	int st, i;

	for (;;) {
		reap_all();
		if (!take_reaped(c->pid, &st))
			return failf(c, "python exited (status %#x)", st);
		if (!read_counters(c, v)) {
			for (i = 0; i < PY_THREADS && v[i] >= COUNTER_READY; i++)
				;
			if (i == PY_THREADS)
				break;
		}
		if (now_ms() > end || interrupted) {
			format_counters(v, buf, sizeof(buf));
			return failf(c, "counters not all at %d after %d ms: %s",
				     COUNTER_READY, 3 * READY_TIMEOUT_MS, buf);
		}
		sleep_ms(20);
	}
	c->ntids = list_tids(c, c->tids, ARRAY_SIZE(c->tids));
	if (c->ntids != PY_THREADS + 1)
		return failf(c, "python %d has %d threads, not %d", c->pid,
			     c->ntids, PY_THREADS + 1);
	wait_sleeping(c, 500);
	return note_identity(c);
}

static int threads_after_dump(struct ctx *c)
{
	char buf[128];
	int i;

	if (read_counters_settled(c, c->counters_at_dump))
		return failf(c, "counter file not readable after the dump");
	format_counters(c->counters_at_dump, buf, sizeof(buf));
	vlog("%s: counters %s after dump", c->t->name, buf);
	for (i = 0; i < PY_THREADS; i++)
		if (c->counters_at_dump[i] < COUNTER_READY)
			return failf(c, "counters read %s after the dump", buf);
	return 0;
}

/* Same TIDs as when it was ready. */
static int threads_same(struct ctx *c, const char *who)
{
	pid_t tids[ARRAY_SIZE(c->tids)];
	int n = list_tids(c, tids, ARRAY_SIZE(tids));

	if (n != c->ntids || memcmp(tids, c->tids, n * sizeof(*tids)))
		return failf(c, "%s: %d has %d threads, had %d (or other TIDs)",
			     who, c->pid, n, c->ntids);
	return 0;
}

static int threads_check(struct ctx *c, bool restored)
{
	const char *who = restored ? "restored" : "original";
	const long *v0 = c->counters_at_dump;
	long pre[PY_THREADS], x[PY_THREADS], y[PY_THREADS];
	char b0[128], b1[128], b2[128];
	long long end = now_ms() + 5000;
	int i;

	if (check_alive(c, who) || threads_same(c, who))
		return -1;
	if (read_counters_settled(c, pre))
		return failf(c, "%s: counter file not readable", who);
	/* wait for the first write after this point */
	for (;;) {
		if (!read_counters(c, x) && memcmp(x, pre, sizeof(x)))
			break;
		if (now_ms() > end) {
			format_counters(pre, b0, sizeof(b0));
			return failf(c, "%s python does not count: counters stay %s",
				     who, b0);
		}
		sleep_ms(2);
	}
	format_counters(v0, b0, sizeof(b0));
	format_counters(x, b1, sizeof(b1));
	/* restored: each slot carries on from the dump, not from 0 */
	for (i = 0; restored && i < PY_THREADS; i++)
		if (x[i] < v0[i] - 5 || x[i] > v0[i] + 10)
			return failf(c, "restored counters read %s, but they were %s at dump time: thread %d did not carry on",
				     b1, b0, i);
	sleep_ms(1000);
	if (read_counters_settled(c, y))
		return failf(c, "%s: counter file not readable", who);
	format_counters(y, b2, sizeof(b2));
	for (i = 0; i < PY_THREADS; i++)
		if (y[i] <= x[i])
			return failf(c, "%s: thread %d stopped counting: %s, then %s a second later",
				     who, i, b1, b2);
	vlog("%s: counters %s at dump, %s, %s %s", c->t->name, b0, b1, b2,
	     who);
	if (check_alive(c, who) || threads_same(c, who))
		return -1;
	return 0;
}

/* ---- over TCP: the runner as the peer of the test */

/* A TCP listener on 127.0.0.1, any port: its fd, its port in *port. */
static int tcp_listen_any(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&sa, len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&sa, &len)) {
		if (l >= 0)
			close(l);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return l;
}

/* A connection to 127.0.0.1:port, or -1 (until the server listens). */
static int tcp_connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		close(s);
		s = -1;
	}
	return s;
}

/* Close without TIME_WAIT (RST): a restore needs the other end's 4-tuple. */
static void tcp_abort(int *fd)
{
	struct linger lg = { 1, 0 };

	if (*fd < 0)
		return;
	setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(*fd);
	*fd = -1;
}

/* Up to size-1 bytes, until want is in them or timeout: 0 if found. */
static int tcp_read_until(int fd, char *buf, size_t size, const char *want,
			  int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	struct pollfd p = { fd, POLLIN, 0 };
	size_t len = 0;
	ssize_t n;

	buf[0] = '\0';
	while (!strstr(buf, want) && len + 1 < size && now_ms() < end) {
		if (poll(&p, 1, 100) != 1)
			continue;
		n = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
	}
	return strstr(buf, want) ? 0 : -1;
}

/* The byte stream of test/zdtm/lib/inet.c: each byte says its offset. */
#define PEER_TO_TEST	11	/* seeds: what the runner sends */
#define PEER_FROM_TEST	12	/* ... and what the test sends */
#define PEER_CHUNK	3000	/* the runner sends before the dump and after */
#define PEER_EXPECT	9000	/* the test sends: 5,000 before, 4,000 after */

static int peer_send(struct ctx *c, size_t len)
{
	uint8_t buf[PEER_CHUNK];
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(PEER_TO_TEST, c->peer_sent + i);
	if (send(c->peer, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return failf(c, "runner: can't send %zu bytes to the test: %m",
			     len);
	c->peer_sent += len;
	return 0;
}

static int peer_expect(struct ctx *c, size_t len)
{
	long long end = now_ms() + 20000;
	struct pollfd p = { c->peer, POLLIN, 0 };
	uint8_t buf[4096];
	ssize_t n, i;

	while (len && now_ms() < end) {
		if (poll(&p, 1, 100) != 1)
			continue;
		n = recv(c->peer, buf, len < sizeof(buf) ? len : sizeof(buf),
			 MSG_DONTWAIT);
		if (n <= 0)
			return failf(c, "runner: the connection to the test ended after %zu bytes: %m",
				     c->peer_got);
		for (i = 0; i < n; i++)
			if (buf[i] != pattern_byte(PEER_FROM_TEST, c->peer_got + i))
				return failf(c, "runner: byte %zu from the test differs",
					     c->peer_got + i);
		c->peer_got += n;
		len -= n;
	}
	if (len)
		return failf(c, "runner: %zu bytes from the test still missing after 20 s",
			     len);
	return 0;
}

/* The test connects to the runner, given the port in ZDTM_PEER_PORT. */
static int peer_start(struct ctx *c)
{
	char port[16];
	int ret;

	c->peer = -1;
	c->peer_l = tcp_listen_any(&c->port);
	if (c->peer_l < 0)
		return failf(c, "runner: can't listen on 127.0.0.1: %m");
	snprintf(port, sizeof(port), "%d", c->port);
	setenv("ZDTM_PEER_PORT", port, 1);
	ret = zdtm_start(c);
	unsetenv("ZDTM_PEER_PORT");
	return ret;
}

/* Ready, connected, and data from the runner waits in it, unread. */
static int peer_ready(struct ctx *c)
{
	if (zdtm_ready(c))
		return -1;
	c->peer = accept4(c->peer_l, NULL, NULL, SOCK_CLOEXEC);
	close(c->peer_l);
	if (c->peer < 0)
		return failf(c, "runner: the test did not connect: %m");
	if (peer_send(c, PEER_CHUNK))
		return -1;
	sleep_ms(100);
	return 0;
}

/* The restored test (or the original) gets more while it runs. */
static int peer_check(struct ctx *c, bool restored)
{
	if (check_alive(c, restored ? "restored" : "original"))
		return -1;
	return peer_send(c, PEER_CHUNK);
}

/* After SIGTERM the test reads all, sends more and says PASS. */
static int peer_finish(struct ctx *c)
{
	int ret = zdtm_sigterm(c) || peer_expect(c, PEER_EXPECT) ? -1 : 0;

	tcp_abort(&c->peer);
	return zdtm_verdict(c) || ret ? -1 : 0;
}

static const struct test_ops peer_ops = {
	.start = peer_start,
	.ready = peer_ready,
	.check_running = peer_check,
	.finish = peer_finish,
};

/*
 * real/redis: the runner's client SETs a key before the dump and GETs it
 * after restore on the same connection. A copy restored after the original
 * went on (leave-running) or after an earlier copy (twice) finds that
 * connection gone: it is asked on a new one.
 */
#define REDIS_SET "SET criu-lite-key hello-from-before-the-dump\r\n"
#define REDIS_GET "GET criu-lite-key\r\n"
#define REDIS_VAL "$26\r\nhello-from-before-the-dump\r\n"

/* A free port for a server the runner starts. */
static int free_port(struct ctx *c)
{
	int l = tcp_listen_any(&c->port);

	if (l < 0)
		return failf(c, "runner: no free port: %m");
	close(l);
	return 0;
}

static int server_wait(struct ctx *c, const char *what)
{
	long long end = now_ms() + READY_TIMEOUT_MS;
	int fd, st;

	while ((fd = tcp_connect_to(c->port)) < 0) {
		reap_all();
		if (!take_reaped(c->pid, &st))
			return failf(c, "%s exited at start (status %#x)", what,
				     st);
		if (now_ms() > end || interrupted)
			return failf(c, "%s does not listen on port %d after %d ms",
				     what, c->port, READY_TIMEOUT_MS);
		sleep_ms(20);
	}
	return fd;
}

static int redis_start(struct ctx *c)
{
	char port[16];
	const char *argv[] = { "redis-server", "--port", port, "--bind",
			       "127.0.0.1", "--save", "", "--appendonly", "no",
			       "--daemonize", "no", "--dir", c->dir, NULL };
	pid_t pid;

	if (access("/usr/bin/redis-server", X_OK))
		return failf(c, "no /usr/bin/redis-server (apt-get install redis-server)");
	if (free_port(c))
		return -1;
	snprintf(port, sizeof(port), "%d", c->port);
	pid = spawn(argv, c->dir, c->outfile, true);
	if (pid < 0)
		return failf(c, "fork: %m");
	c->pid = pid;
	remember_sid(c, pid);
	return 0;
}

static int redis_ask(struct ctx *c, const char *cmd, const char *want)
{
	char buf[512];

	if (send(c->peer, cmd, strlen(cmd), MSG_NOSIGNAL) < 0 ||
	    tcp_read_until(c->peer, buf, sizeof(buf), want, 10000))
		return failf(c, "redis: asked %.*s, got \"%s\", not \"%.*s\"",
			     (int)strlen(cmd) - 2, cmd, buf,
			     (int)strlen(want) - 2, want);
	return 0;
}

static int redis_ready(struct ctx *c)
{
	c->peer = server_wait(c, "redis-server");
	if (c->peer < 0 || redis_ask(c, REDIS_SET, "+OK\r\n"))
		return -1;
	wait_sleeping(c, 2000);
	return note_identity(c);
}

static int redis_check(struct ctx *c, bool restored)
{
	if (check_alive(c, restored ? "restored" : "original"))
		return -1;
	if (c->peer < 0) {
		c->peer = tcp_connect_to(c->port);
		if (c->peer < 0)
			return failf(c, "redis: can't connect to port %d: %m",
				     c->port);
	}
	return redis_ask(c, REDIS_GET, REDIS_VAL);
}

/* redis-server exits 0 on SIGTERM; its client goes first (RST). */
static int redis_finish(struct ctx *c)
{
	tcp_abort(&c->peer);
	return real_end(c, true);
}

static const struct test_ops redis_ops = {
	.start = redis_start,
	.ready = redis_ready,
	.check_running = redis_check,
	.finish = redis_finish,
};

/* real/http-server: python3 -m http.server serves a file after restore. */
#define HTTP_FILE "criu-lite.txt"
#define HTTP_BODY "served by a restored python3 -m http.server\n"

static int http_start(struct ctx *c)
{
	char port[16], path[PATH_MAX + 32];
	const char *argv[] = { "/usr/bin/python3", "-m", "http.server", port,
			       "--bind", "127.0.0.1", NULL };
	FILE *f;

	snprintf(path, sizeof(path), "%s/" HTTP_FILE, c->dir);
	f = fopen(path, "we");
	if (!f || fputs(HTTP_BODY, f) < 0 || fclose(f))
		return failf(c, "can't write %s: %m", path);
	if (free_port(c))
		return -1;
	snprintf(port, sizeof(port), "%d", c->port);
	c->pid = spawn(argv, c->dir, c->outfile, true);
	if (c->pid < 0)
		return failf(c, "fork: %m");
	remember_sid(c, c->pid);
	return 0;
}

static int http_get(struct ctx *c, const char *who)
{
	static const char req[] = "GET /" HTTP_FILE " HTTP/1.0\r\n\r\n";
	char buf[4096];
	int fd = tcp_connect_to(c->port), ret;

	if (fd < 0)
		return failf(c, "%s: can't connect to port %d: %m", who,
			     c->port);
	ret = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0 ||
	      tcp_read_until(fd, buf, sizeof(buf), HTTP_BODY, 10000);
	close(fd);
	if (ret)
		return failf(c, "%s: GET /" HTTP_FILE " answered \"%.200s\"",
			     who, buf);
	return 0;
}

static int http_ready(struct ctx *c)
{
	int fd = server_wait(c, "python3 -m http.server");

	if (fd < 0)
		return -1;
	close(fd);
	if (http_get(c, "before the dump"))
		return -1;
	wait_sleeping(c, 2000);
	return note_identity(c);
}

static int http_check(struct ctx *c, bool restored)
{
	const char *who = restored ? "restored" : "original";

	return check_alive(c, who) || http_get(c, who) ? -1 : 0;
}

static const struct test_ops http_ops = {
	.start = http_start,
	.ready = http_ready,
	.check_running = http_check,
	.finish = real_finish,
};

static const struct test_ops real_sleep_ops = {
	.start = real_start,
	.ready = real_exec_ready,
	.check_running = real_check_sleep,
	.finish = real_finish,
};

static const struct test_ops real_counter_ops = {
	.start = real_start,
	.ready = counter_ready,
	.after_dump = counter_after_dump,
	.check_running = counter_check,
	.finish = real_finish,
};

static const struct test_ops real_threads_ops = {
	.start = real_start,
	.ready = threads_ready,
	.after_dump = threads_after_dump,
	.check_running = threads_check,
	.finish = real_finish,
};

static const char *const sleep_argv[] = { "sleep", "1000", NULL };
static const char *const bash_argv[] = {
	"/bin/bash", "-c",
	"enable -f /usr/lib/bash/sleep sleep || exit 3; "
	"i=0; while :; do i=$((i+1)); echo $i > counter; sleep 0.1; done",
	NULL
};
static const char *const bash_fork_argv[] = {
	"/bin/bash", "-c",
	"i=0; while :; do i=$((i+1)); echo $i > counter; sleep 0.1; done",
	NULL
};
static const char *const python_argv[] = {
	"/usr/bin/python3", "-c",
	"import time\n"
	"i = 0\n"
	"while True:\n"
	"    i += 1\n"
	"    with open('counter', 'w') as f:\n"
	"        f.write('%d\\n' % i)\n"
	"    time.sleep(0.1)\n",
	NULL
};

/*
 * A selectors (epoll) loop carried by an eventfd and a pipe in turn: each
 * eventfd wakeup writes the pipe, each pipe wakeup counts and, 100 ms on,
 * signals the eventfd. A watch or a readiness lost by restore stops it.
 */
static const char *const python_epoll_argv[] = {
	"/usr/bin/python3", "-c",
	"import os, selectors, time\n"
	"sel = selectors.EpollSelector()\n"
	"r, w = os.pipe()\n"
	"e = os.eventfd(0, os.EFD_NONBLOCK)\n"
	"sel.register(r, selectors.EVENT_READ, 'pipe')\n"
	"sel.register(e, selectors.EVENT_READ, 'eventfd')\n"
	"os.eventfd_write(e, 1)\n"
	"i = 0\n"
	"while True:\n"
	"    for key, ev in sel.select(1.0):\n"
	"        if key.data == 'eventfd':\n"
	"            os.eventfd_read(e)\n"
	"            os.write(w, b'x')\n"
	"            continue\n"
	"        os.read(r, 1)\n"
	"        i += 1\n"
	"        with open('counter', 'w') as f:\n"
	"            f.write('%d\\n' % i)\n"
	"        time.sleep(0.1)\n"
	"        os.eventfd_write(e, 1)\n",
	NULL
};

static const char *const python_threads_argv[] = {
	"/usr/bin/python3", "-c",
	"import os, threading, time\n"
	"N = " STR(PY_THREADS) "\n"
	"counts = [0] * N\n"
	"lock = threading.Lock()\n"
	"fd = os.open('counter', os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)\n"
	"def work(i):\n"
	"    while True:\n"
	"        with lock:\n"
	"            counts[i] += 1\n"
	"            line = ' '.join('%10d' % n for n in counts) + '\\n'\n"
	"            os.pwrite(fd, line.encode(), 0)\n"
	"        time.sleep(0.1)\n"
	"ts = [threading.Thread(target=work, args=(i,), name='worker%d' % i)\n"
	"      for i in range(N)]\n"
	"for t in ts:\n"
	"    t.start()\n"
	"for t in ts:\n"
	"    t.join()\n",
	NULL
};

static const struct test real_tests[] = {
	{ "real/sleep", &real_sleep_ops, sleep_argv },
	{ "real/bash", &real_counter_ops, bash_argv },
	{ "real/bash-fork", &real_counter_ops, bash_fork_argv },
	{ "real/python", &real_counter_ops, python_argv },
	{ "real/python-threads", &real_threads_ops, python_threads_argv },
	{ "real/python-epoll", &real_counter_ops, python_epoll_argv },
	{ "real/redis", &redis_ops, NULL },
	{ "real/http-server", &http_ops, NULL },
};

/* zdtm tests the runner takes part in */
static const struct test zdtm_special[] = {
	{ "tcp_peer_outside", &peer_ops, NULL },
};

/*
 * Modes a test can't go through, and why: the case is a SKIP. Mode pidns
 * restores next to the original, which still holds its ports, connections
 * and locks (in the one network namespace, on the one file). A connection whose peer is the
 * runner goes on with one process only: the original after
 * --leave-running, the first copy of twice.
 */
static const struct mode_skip {
	const char *test, *mode, *why;
} mode_skips[] = {
	{ "tcp_established", "pidns", "the original still holds both ends of its connections" },
	{ "tcp_listen", "pidns", "the original still listens on its ports" },
	{ "tcp_peer_outside", "pidns", "the original still holds its connection" },
	{ "tcp_peer_outside", "leave-running", "the runner's connection went on with the original: a copy restored after it has no peer" },
	{ "tcp_peer_outside", "twice", "the runner's connection went on with the first copy: a second has no peer" },
	{ "udp", "pidns", "the original still holds its ports" },
	{ "unix_bound", "pidns", "the original still holds its socket names (one network and mount namespace)" },
	{ "real/redis", "pidns", "the original still listens on its port" },
	{ "real/http-server", "pidns", "the original still listens on its port" },
	/* that restore fails, naming the lock: test/faults checks it */
	{ "file_locks", "pidns", "the original keeps the locks its copy would take" },
};

static const char *mode_skipped(const struct test *t, const char *mode)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mode_skips); i++)
		if (!strcmp(mode_skips[i].test, t->name) &&
		    !strcmp(mode_skips[i].mode, mode))
			return mode_skips[i].why;
	return NULL;
}

/* -------------------------------------------------------- criu-lite */

/* PROG ARGS..., its output in DIR/WHAT.out, LOG shown on failure. */
static int run_prog(struct ctx *c, const char *what, const char *prog,
		    const char *const *args, const char *log)
{
	const char *argv[32];
	char out[PATH_MAX + 32], desc[128];
	int i, n = 0, st;
	pid_t pid;

	argv[n++] = prog;
	for (i = 0; args[i] && n < (int)ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	snprintf(out, sizeof(out), "%s/%s.out", c->dir, what);
	add_log(c, out);
	add_log(c, log);
	if (verbose) {
		char cmd[2048];
		size_t off = 0;

		for (i = 0; argv[i]; i++)
			off += snprintf(cmd + off, sizeof(cmd) - off, "%s%s",
					i ? " " : "", argv[i]);
		vlog("%s: %s", c->t->name, cmd);
	}
	/* a shell job comes back on another terminal, as a job of its own */
	if (shell_job(c) && !strncmp(what, "restore", 7))
		pid = spawn_job(c, argv, out, true);
	else
		pid = spawn(argv, c->dir, out, false);
	if (pid < 0)
		return failf(c, "fork: %m");
	if (wait_for(pid, CRIU_TIMEOUT_MS, &st)) {
		kill(pid, SIGKILL);
		wait_for(pid, 5000, &st);
		return failf(c, "%s: %s still running after %d s", what,
			     basename(prog), CRIU_TIMEOUT_MS / 1000);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		describe_status(st, desc, sizeof(desc));
		return failf(c, "%s: %s %s", what, basename(prog), desc);
	}
	return 0;
}

static int run_criu(struct ctx *c, const char *what, const char *const *args,
		    const char *log)
{
	const char *all[32];
	int n;

	for (n = 0; args[n] && n < (int)ARRAY_SIZE(all) - 2; n++)
		all[n] = args[n];
	/* a shell job is dumped and restored as one */
	if (shell_job(c))
		all[n++] = "--shell-job";
	all[n] = NULL;
	return run_prog(c, what, criu, all, log);
}

#define PREDUMPS 3
#define PREDUMP_GAP_MS 200

static bool use_page_server(const struct ctx *c)
{
	return page_server || !strcmp(c->mode, "pageserver");
}

/* The images of dump NAME ("img", "pre1"...): where restore reads them. */
static void images_dir(const struct ctx *c, const char *name, char *buf,
		       size_t size)
{
	xsnprintf(buf, size, "%s%s/%s", c->dir,
		  use_page_server(c) ? "/ps" : "", name);
}

/* ARGS, NULL-terminated within MAX, gets MORE at its end. */
static void append_args(const char **args, size_t max,
			const char *const *more)
{
	size_t n = 0;

	while (args[n])
		n++;
	for (; *more; more++) {
		if (n + 1 >= max) {
			fprintf(stderr, "zdtm-run: too many arguments\n");
			exit(2);
		}
		args[n++] = *more;
	}
	args[n] = NULL;
}

/*
 * A page server on 127.0.0.1 for dump NAME, into DIR/ps/NAME; ARGS gets the
 * dumper's side. The server prints the free port it took on its stdout.
 */
static int ps_start(struct ctx *c, const char *name, const char **args,
		    size_t max)
{
	char dir[PATH_MAX], log[PATH_MAX + 16], out[PATH_MAX + 16], buf[16];
	const char *argv[] = { criu, "page-server", "-D", dir, "--port", "0",
			       "--address", "127.0.0.1", "-v4", "-o", log,
			       NULL };
	const char *more[] = { "--page-server", "--address", "127.0.0.1",
			       "--port", c->ps_port, NULL };
	long long end = now_ms() + PS_PORT_TIMEOUT_MS;
	int st;

	if (!use_page_server(c))
		return 0;
	xsnprintf(dir, sizeof(dir), "%s/ps", c->dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return failf(c, "mkdir %s: %m", dir);
	images_dir(c, name, dir, sizeof(dir));
	if (mkdir(dir, 0700) && errno != EEXIST)
		return failf(c, "mkdir %s: %m", dir);
	xsnprintf(log, sizeof(log), "%s/page-server-%s.log", c->dir, name);
	xsnprintf(out, sizeof(out), "%s/page-server-%s.out", c->dir, name);
	add_log(c, log);
	add_log(c, out);
	c->ps_pid = spawn(argv, c->dir, out, false);
	if (c->ps_pid < 0)
		return failf(c, "fork: %m");
	while (slurp(out, buf, sizeof(buf)) <= 0 || !strchr(buf, '\n')) {
		reap_all();
		if (!take_reaped(c->ps_pid, &st)) {
			c->ps_pid = 0;
			return failf(c, "the page server exited before it listened");
		}
		if (now_ms() > end || interrupted)
			return failf(c, "the page server told no port in %d ms",
				     PS_PORT_TIMEOUT_MS);
		sleep_ms(5);
	}
	snprintf(c->ps_port, sizeof(c->ps_port), "%d", atoi(buf));
	append_args(args, max, more);
	return 0;
}

/* The page server ends with the dump: well if DUMP_OK, else killed. */
static int ps_finish(struct ctx *c, bool dump_ok)
{
	char desc[128];
	int st;

	if (!c->ps_pid)
		return 0;
	if (!dump_ok)
		kill(c->ps_pid, SIGKILL);
	if (wait_for(c->ps_pid, GONE_TIMEOUT_MS, &st)) {
		kill(c->ps_pid, SIGKILL);
		wait_for(c->ps_pid, 5000, &st);
		c->ps_pid = 0;
		return failf(c, "the page server still runs after the dump");
	}
	c->ps_pid = 0;
	if (dump_ok && (!WIFEXITED(st) || WEXITSTATUS(st))) {
		describe_status(st, desc, sizeof(desc));
		return failf(c, "the page server: %s", desc);
	}
	return 0;
}

/* criu-lite WHAT (dump, pre-dump) of dump NAME, through a page server. */
static int run_dump(struct ctx *c, const char *what, const char *name,
		    const char **args, size_t max, const char *log)
{
	int ret;

	if (ps_start(c, name, args, max)) {
		ps_finish(c, false);
		return -1;
	}
	ret = run_criu(c, what, args, log);
	if (ps_finish(c, !ret))
		return -1;
	return ret;
}

static int dump(struct ctx *c, bool leave_running)
{
	char pid[16], log[PATH_MAX + 16], prev[32];
	bool predump = !strcmp(c->mode, "predump");
	const char *args[20] = { "dump", "-t", pid, "-D", c->img, "-v4", "-o",
				 log, leave_running ? "--leave-running" : NULL,
				 NULL, NULL, NULL, NULL };
	int st;

	if (predump) {
		snprintf(prev, sizeof(prev), "../pre%d", PREDUMPS);
		args[8] = "--prev-images-dir";
		args[9] = prev;
		args[10] = "--track-mem";
		args[11] = leave_running ? "--leave-running" : NULL;
	}

	snprintf(pid, sizeof(pid), "%d", c->pid);
	snprintf(log, sizeof(log), "%s/dump.log", c->dir);
	if (mkdir(c->img, 0700) && errno != EEXIST)
		return failf(c, "mkdir %s: %m", c->img);
	if (run_dump(c, "dump", "img", args, ARRAY_SIZE(args), log))
		return -1;

	if (leave_running) {
		reap_all();
		if (!take_reaped(c->pid, &st))
			return failf(c, "dump --leave-running: the original "
				     "died (status %#x)", st);
		if (check_alive(c, "original after dump --leave-running"))
			return -1;
	} else {
		if (wait_for(c->pid, GONE_TIMEOUT_MS, &st))
			return failf(c, "the original %d still runs after dump",
				     c->pid);
		vlog("%s: original gone (status %#x)", c->t->name, st);
		if (tree_gone(c, "after dump"))
			return -1;
	}
	if (c->t->ops->after_dump && c->t->ops->after_dump(c))
		return -1;
	return 0;
}

/*
 * The copy restored with --pidns: criu-lite left its PID 1 to us (we are a
 * subreaper); the root is the child of that whose NSpid, past ours, starts
 * with the original's PID.
 */
static int find_pidns_copy(struct ctx *c)
{
	struct dirent *de;
	pid_t orig = c->pid;
	DIR *d = opendir("/proc");

	if (!d)
		return failf(c, "opendir /proc: %m");
	while (!c->init && (de = readdir(d))) {
		char path[96], buf[4096], *p, *end;
		pid_t pid = atoi(de->d_name), ids[8];
		struct pstat ps;

		if (pid <= 1 || proc_stat(pid, &ps) || ps.ppid != getpid() ||
		    strcmp(ps.comm, "criu-lite"))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		if (read_nspid(path, ids, ARRAY_SIZE(ids)) != 2 || ids[1] != 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid,
			 pid);
		if (slurp(path, buf, sizeof(buf)) < 0)
			continue;
		for (p = buf;; p = end) {
			pid_t kid = strtol(p, &end, 10);

			if (end == p)
				break;
			snprintf(path, sizeof(path), "/proc/%d/status", kid);
			if (read_nspid(path, ids, ARRAY_SIZE(ids)) >= 2 &&
			    ids[1] == orig) {
				c->init = pid;
				c->pid = kid;
				break;
			}
		}
	}
	closedir(d);
	if (!c->init)
		return failf(c, "restore --pidns: no PID 1 of ours has a child at PID %d",
			     orig);
	vlog("%s: PID %d runs as %d, under PID 1 %d", c->t->name, orig, c->pid,
	     c->init);
	return 0;
}

static int restore(struct ctx *c)
{
	char log[PATH_MAX + 16], what[32];
	bool pidns = !strcmp(c->mode, "pidns");
	bool lazy = !strcmp(c->mode, "lazy");
	char dir[PATH_MAX];
	const char *args[] = { "restore", "-D", dir, "-d", "-v4", "-o", log,
			       pidns ? "--pidns" : lazy ? "--lazy-pages" : NULL,
			       NULL };

	c->nrestores++;
	snprintf(what, sizeof(what), c->nrestores > 1 ? "restore%d" : "restore",
		 c->nrestores);
	xsnprintf(log, sizeof(log), "%s/%s.log", c->dir, what);
	images_dir(c, "img", dir, sizeof(dir));
	forget_reaped(c->pid);
	if (run_criu(c, what, args, log))
		return -1;
	if (pidns && find_pidns_copy(c))
		return -1;
	return c->t->ops->check_running(c, true);
}

/* ---------------------------------------------------------------- modes */

static int start(struct ctx *c)
{
	if (c->t->ops->start(c))
		return -1;
	return c->t->ops->ready(c);
}

/* pre-dump N into DIR/preN, on DIR/pre(N-1); the test keeps running */
static int pre_dump(struct ctx *c, int n)
{
	char pid[16], log[PATH_MAX + 16], dir[PATH_MAX + 16], prev[32];
	char what[16], name[16];
	const char *args[16] = { "pre-dump", "-t", pid, "-D", dir, "-v4", "-o",
				 log, n > 1 ? "--prev-images-dir" : NULL, prev,
				 NULL };

	snprintf(pid, sizeof(pid), "%d", c->pid);
	snprintf(what, sizeof(what), "pre-dump%d", n);
	snprintf(prev, sizeof(prev), "../pre%d", n - 1);
	snprintf(name, sizeof(name), "pre%d", n);
	xsnprintf(dir, sizeof(dir), "%s/%s", c->dir, name);
	xsnprintf(log, sizeof(log), "%s/%s.log", c->dir, what);
	if (mkdir(dir, 0700))
		return failf(c, "mkdir %s: %m", dir);
	if (run_dump(c, what, name, args, ARRAY_SIZE(args), log))
		return -1;
	return check_alive(c, "the original after pre-dump");
}

/* dump (kill), restore, finish */
static int mode_plain(struct ctx *c)
{
	if (start(c) || dump(c, false) || restore(c))
		return -1;
	return c->t->ops->finish(c);
}

/* dump --leave-running: the original finishes well; then restore, finish */
static int mode_leave_running(struct ctx *c)
{
	if (start(c) || dump(c, true))
		return -1;
	if (c->t->ops->check_running(c, false))
		return -1;
	if (c->t->ops->finish(c)) {
		char why[sizeof(c->reason)];

		snprintf(why, sizeof(why), "%s", c->reason);
		c->reason[0] = '\0';
		return failf(c, "original after dump --leave-running: %s", why);
	}
	if (restore(c))
		return -1;
	return c->t->ops->finish(c);
}

/* dump, restore, finish, restore again from the same images, finish */
static int mode_twice(struct ctx *c)
{
	if (start(c) || dump(c, false) || restore(c) || c->t->ops->finish(c))
		return -1;
	if (restore(c))
		return -1;
	return c->t->ops->finish(c);
}

/* SIG to the original tree (everything below us, before the copy exists). */
static int signal_original(struct ctx *c, int sig)
{
	long long end = now_ms() + 5000;
	int i;

	if (sig == SIGSTOP)
		c->nstopped = descendants(c->stopped, ARRAY_SIZE(c->stopped),
					  NULL);
	for (i = 0; i < c->nstopped; i++)
		if (kill(c->stopped[i], sig))
			return failf(c, "kill(%d, %d): %m", c->stopped[i], sig);
	for (i = 0; sig == SIGSTOP && i < c->nstopped; i++) {
		struct pstat ps;

		while (!proc_stat(c->stopped[i], &ps) && ps.state != 'T' &&
		       ps.state != 'Z' && now_ms() < end)
			sleep_ms(2);
	}
	return 0;
}

/*
 * dump --leave-running, then restore --pidns while the original still holds
 * every PID: the copy runs in a new PID namespace under a PID-1 helper, at
 * the same PIDs there. Judge the copy, then the original. A real program
 * keeps writing its counter file: it is stopped while its copy runs.
 */
static int mode_pidns(struct ctx *c)
{
	char why[sizeof(c->reason)];
	pid_t orig;
	int ret;

	if (start(c) || dump(c, true) || c->t->ops->check_running(c, false))
		return -1;
	orig = c->pid;
	if (c->t->argv && signal_original(c, SIGSTOP))
		return -1;
	ret = restore(c) || c->t->ops->finish(c) ? -1 : 0;
	c->pid = orig;
	c->init = 0;
	if (ret)
		return -1;
	if (signal_original(c, SIGCONT))
		return -1;
	if (!c->t->ops->check_running(c, false) && !c->t->ops->finish(c))
		return 0;
	snprintf(why, sizeof(why), "%s", c->reason);
	c->reason[0] = '\0';
	return failf(c, "the original after restore --pidns: %s", why);
}

/*
 * pre-dump three times while the test runs and writes, dump on the last
 * (--prev-images-dir --track-mem), restore the chain, finish.
 */
static int mode_predump(struct ctx *c)
{
	int n;

	if (start(c))
		return -1;
	for (n = 1; n <= PREDUMPS; n++) {
		if (pre_dump(c, n))
			return -1;
		sleep_ms(PREDUMP_GAP_MS);
	}
	if (dump(c, false) || restore(c))
		return -1;
	return c->t->ops->finish(c);
}

/*
 * scripts/criu-lite-migrate to "localhost" through a remote shell that runs
 * the command here (test/migrate-rsh): two pre-dumps while the test runs,
 * the dump, the images copied to another directory, the restore from there.
 */
static int migrate(struct ctx *c, bool page_server)
{
	char pid[16], script[PATH_MAX + 32], rsh[PATH_MAX + 32];
	char local[PATH_MAX + 16], remote[PATH_MAX + 16];
	char log[PATH_MAX + 16];
	const char *args[] = { "-t", pid, "--to", "localhost", "--rsh", rsh,
			       "--criu", criu, "--remote-criu", criu, "-D",
			       local, "--remote-dir", remote, "-v",
			       page_server ? "--page-server" : NULL,
			       "127.0.0.1", NULL };

	/* their check needs the counter at the moment of the dump */
	if (c->t->ops->after_dump) {
		snprintf(c->skip, sizeof(c->skip),
			 "the dump happens inside the script, out of sight");
		return 0;
	}
	if (shell_job(c)) {
		snprintf(c->skip, sizeof(c->skip),
			 "a shell job: the script's restore has no terminal to give it");
		return 0;
	}
	if (start(c))
		return -1;
	snprintf(pid, sizeof(pid), "%d", c->pid);
	xsnprintf(script, sizeof(script), "%s/scripts/criu-lite-migrate",
		  root_dir);
	xsnprintf(rsh, sizeof(rsh), "%s/test/migrate-rsh", root_dir);
	xsnprintf(local, sizeof(local), "%s/here", c->dir);
	xsnprintf(remote, sizeof(remote), "%s/there", c->dir);
	xsnprintf(log, sizeof(log), "%s/there/restore.log", c->dir);
	if (run_prog(c, "migrate", script, args, log))
		return -1;
	/* the images restored are the copy's */
	xsnprintf(c->img, sizeof(c->img), "%s/final", remote);
	forget_reaped(c->pid);
	if (c->t->ops->check_running(c, true))
		return -1;
	return c->t->ops->finish(c);
}

static int mode_migrate(struct ctx *c)
{
	return migrate(c, false);
}

/* The same, each dump streamed to a page server started "there". */
static int mode_migrate_pageserver(struct ctx *c)
{
	return migrate(c, true);
}

/*
 * No criu-lite at all: start, ready, SIGTERM, verdict. Proves a test passes
 * on its own, so that a failure in the other modes is the tool's.
 */
static int mode_none(struct ctx *c)
{
	if (start(c) || c->t->ops->check_running(c, false))
		return -1;
	return c->t->ops->finish(c);
}

struct mode {
	const char *name;
	int (*run)(struct ctx *c);
	bool in_all; /* run by --mode all */
};

static const struct mode modes[] = {
	{ "plain", mode_plain, true },
	{ "leave-running", mode_leave_running, true },
	{ "twice", mode_twice, true },
	{ "pidns", mode_pidns, true },
	{ "predump", mode_predump, false },
	{ "pageserver", mode_plain, false },
	{ "lazy", mode_plain, false },
	{ "migrate", mode_migrate, false },
	{ "migrate-pageserver", mode_migrate_pageserver, false },
	{ "none", mode_none, false },
};

/* -------------------------------------------------------------- driver */

static void print_tail(const char *path, int lines)
{
	static char buf[1 << 20];
	ssize_t n;
	char *p;
	int nl = 0;

	n = slurp(path, buf, sizeof(buf));
	if (n <= 0)
		return;
	for (p = buf + n; p > buf; p--)
		if (p[-1] == '\n' && p != buf + n && ++nl == lines)
			break;
	printf("  --- %s (last %d lines) ---\n", path, lines);
	while (*p) {
		char *e = strchrnul(p, '\n');

		printf("  | %.*s\n", (int)(e - p), p);
		p = *e ? e + 1 : e;
	}
}

static void rm_rf(const char *path)
{
	struct stat st;
	DIR *d;

	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path))) {
		struct dirent *de;
		char sub[PATH_MAX];

		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* 0 passed, 1 failed, 2 skipped */
static int run_case(const struct test *t, const struct mode *m)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char slug[128];
	int ret, i;

	if (!c) {
		perror("calloc");
		exit(2);
	}
	c->t = t;
	c->mode = m->name;
	snprintf(slug, sizeof(slug), "%s.%s", t->name, m->name);
	for (i = 0; slug[i]; i++)
		if (slug[i] == '/')
			slug[i] = '_';
	xsnprintf(c->dir, sizeof(c->dir), "%s/%s", tmp_dir, slug);
	xsnprintf(c->img, sizeof(c->img), "%s/img", c->dir);
	xsnprintf(c->outfile, sizeof(c->outfile), "%s/%s.out", c->dir, slug);
	xsnprintf(c->pidfile, sizeof(c->pidfile), "%s/%s.pid", c->dir, slug);
	xsnprintf(c->counter, sizeof(c->counter), "%s/counter", c->dir);
	add_log(c, c->outfile);
	if (mode_skipped(t, m->name)) {
		snprintf(c->skip, sizeof(c->skip), "%s", mode_skipped(t, m->name));
		ret = 0;
	} else if (mkdir(c->dir, 0755)) {
		failf(c, "mkdir %s: %m", c->dir);
		ret = -1;
	} else {
		vlog("=== %s [%s] in %s", t->name, m->name, c->dir);
		ret = m->run(c);
	}
	if (!ret && interrupted)
		ret = failf(c, "interrupted");
	kill_leftovers(c->sids, c->nsids);
	release_terminals();

	if (!ret && c->skip[0]) {
		printf("SKIP %s [%s]: %s\n", t->name, m->name, c->skip);
		ret = 2;
		if (!keep)
			rm_rf(c->dir);
	} else if (!ret) {
		printf("PASS %s [%s]\n", t->name, m->name);
		if (!keep)
			rm_rf(c->dir);
	} else {
		ret = 1;
		printf("FAIL %s [%s]: %s\n", t->name, m->name, c->reason);
		for (i = 0; i < c->nlogs; i++)
			print_tail(c->logs[i], 20);
	}
	fflush(stdout);
	free(c);
	return ret;
}

#define MAX_TESTS 256
static struct test tests[MAX_TESTS];
static int ntests;

static char unsupported[MAX_TESTS][64];
static int nunsupported;

static void load_unsupported(void)
{
	char path[PATH_MAX + 32], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/unsupported.list", zdtm_dir);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && nunsupported < MAX_TESTS) {
		char name[64];

		if (line[0] == '#' || sscanf(line, "%63s", name) != 1)
			continue;
		snprintf(unsupported[nunsupported++], 64, "%s", name);
	}
	fclose(f);
}

static bool is_unsupported(const char *name)
{
	int i;

	for (i = 0; i < nunsupported; i++)
		if (!strcmp(unsupported[i], name))
			return true;
	return false;
}

static void add_all_tests(void)
{
	char list[] = ZDTM_TEST_LIST, *tok, *save = NULL;
	size_t i;

	for (tok = strtok_r(list, " \t", &save); tok && ntests < MAX_TESTS;
	     tok = strtok_r(NULL, " \t", &save)) {
		snprintf(tests[ntests].name, sizeof(tests[0].name), "%s", tok);
		tests[ntests].ops = &zdtm_ops;
		for (i = 0; i < ARRAY_SIZE(zdtm_special); i++)
			if (!strcmp(zdtm_special[i].name, tok))
				tests[ntests].ops = zdtm_special[i].ops;
		ntests++;
	}
	for (i = 0; i < ARRAY_SIZE(real_tests) && ntests < MAX_TESTS; i++)
		tests[ntests++] = real_tests[i];
}

static const struct test *find_test(const char *name)
{
	static struct test extra[MAX_TESTS];
	static int nextra;
	char bin[PATH_MAX + 64];
	int i;

	for (i = 0; i < ntests; i++)
		if (!strcmp(tests[i].name, name))
			return &tests[i];
	/* A zdtm binary not in the built-in list (say, a new test). */
	snprintf(bin, sizeof(bin), "%s/%s", zdtm_dir, name);
	if (strchr(name, '/') || access(bin, X_OK) || nextra == MAX_TESTS)
		return NULL;
	snprintf(extra[nextra].name, sizeof(extra[0].name), "%s", name);
	extra[nextra].ops = &zdtm_ops;
	return &extra[nextra++];
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: zdtm-run [--criu PATH] [--mode MODE|all] [--keep] "
		"[--page-server] [--verbose] [--list] [TEST...]\n"
		"  --criu PATH  criu-lite binary (default: <repo>/criu-lite/criu-lite)\n"
		"  --mode MODE  one of:");
	for (i = 0; i < ARRAY_SIZE(modes); i++)
		fprintf(f, " %s", modes[i].name);
	fprintf(f, ", or all (default: every mode but none)\n"
		   "  --page-server  dump through a page server on 127.0.0.1,\n"
		   "               restore from its directory (any mode)\n"
		   "  --keep       keep the work dirs (images, logs)\n"
		   "  --verbose    log every step to stderr\n"
		   "  --list       list the tests (unsupported ones marked)\n"
		   "Without TEST: every test not in unsupported.list.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "criu", required_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "keep", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "list", no_argument, NULL, 'l' },
		{ "page-server", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct test *run[MAX_TESTS];
	const struct mode *run_modes[ARRAY_SIZE(modes)];
	int nrun = 0, nmodes = 0, passed = 0, failed = 0, skipped = 0, opt, i, j;
	const char *mode = "all";
	char exe[PATH_MAX], criu_buf[PATH_MAX];
	bool list = false;
	struct sigaction sa;
	ssize_t n;

	while ((opt = getopt_long(argc, argv, "c:m:kvlph", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			criu = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'k':
			keep = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'l':
			list = true;
			break;
		case 'p':
			page_server = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		perror("readlink /proc/self/exe");
		return 2;
	}
	exe[n] = '\0';
	snprintf(zdtm_dir, sizeof(zdtm_dir), "%.*s",
		 (int)(strrchr(exe, '/') - exe), exe);
	xsnprintf(root_dir, sizeof(root_dir), "%s/../..", zdtm_dir);
	if (realpath(root_dir, criu_buf))
		snprintf(root_dir, sizeof(root_dir), "%s", criu_buf);

	load_unsupported();
	add_all_tests();

	if (list) {
		for (i = 0; i < ntests; i++)
			printf("%s%s\n", tests[i].name,
			       is_unsupported(tests[i].name) ?
				       "  (unsupported)" : "");
		return 0;
	}

	for (i = 0; i < (int)ARRAY_SIZE(modes); i++)
		if ((!strcmp(mode, "all") && modes[i].in_all) ||
		    !strcmp(mode, modes[i].name))
			run_modes[nmodes++] = &modes[i];
	if (!nmodes) {
		fprintf(stderr, "zdtm-run: unknown mode %s\n", mode);
		usage(stderr);
		return 2;
	}

	if (optind < argc) {
		for (i = optind; i < argc; i++) {
			const struct test *t = find_test(argv[i]);

			if (!t) {
				fprintf(stderr, "zdtm-run: no test %s\n",
					argv[i]);
				return 2;
			}
			if (is_unsupported(t->name))
				fprintf(stderr, "zdtm-run: note: %s is in "
					"unsupported.list\n", t->name);
			run[nrun++] = t;
		}
	} else {
		for (i = 0; i < ntests; i++)
			if (!is_unsupported(tests[i].name))
				run[nrun++] = &tests[i];
	}

	if (!criu) {
		xsnprintf(criu_buf, sizeof(criu_buf), "%s/criu-lite/criu-lite",
			 root_dir);
		criu = criu_buf;
	} else if (criu[0] != '/' && strchr(criu, '/')) {
		static char abs_criu[PATH_MAX];

		if (!realpath(criu, abs_criu)) {
			fprintf(stderr, "zdtm-run: %s: %m\n", criu);
			return 2;
		}
		criu = abs_criu;
	}
	if (strchr(criu, '/') && access(criu, X_OK))
		fprintf(stderr, "zdtm-run: warning: cannot execute %s: %m\n",
			criu);

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/zdtm-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 2;
	}
	vlog("criu-lite %s, work dir %s", criu, tmp_dir);

	for (i = 0; i < nrun && !interrupted; i++)
		for (j = 0; j < nmodes && !interrupted; j++) {
			switch (run_case(run[i], run_modes[j])) {
			case 0:
				passed++;
				break;
			case 2:
				skipped++;
				break;
			default:
				failed++;
			}
		}

	kill_leftovers(NULL, 0);
	if (keep || failed)
		printf("work dir kept: %s\n", tmp_dir);
	else
		rm_rf(tmp_dir);
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed || interrupted ? 1 : 0;
}
