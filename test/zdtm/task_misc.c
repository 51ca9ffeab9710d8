// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-task odds and ends: cwd (a directory with a space in its name), umask,
 * every rlimit (several set to non-default values), comm (PR_SET_NAME) and
 * personality (ADDR_NO_RANDOMIZE | UNAME26).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "zdtmtst.h"

struct misc {
	char cwd[PATH_MAX], cwd_link[PATH_MAX];
	struct stat cwd_st;
	mode_t umask;
	struct rlimit rl[RLIM_NLIMITS];
	char comm[17], proc_comm[32];
	int pers;
};

static void measure(struct misc *m)
{
	ssize_t n;
	int i;

	if (!getcwd(m->cwd, sizeof(m->cwd)))
		fail("getcwd: %m");
	n = readlink("/proc/self/cwd", m->cwd_link, sizeof(m->cwd_link) - 1);
	if (n < 0)
		fail("readlink cwd: %m");
	m->cwd_link[n] = '\0';
	if (stat(".", &m->cwd_st))
		fail("stat .: %m");
	m->umask = umask(0);
	umask(m->umask);
	for (i = 0; i < RLIM_NLIMITS; i++)
		if (getrlimit(i, &m->rl[i]))
			fail("getrlimit(%d): %m", i);
	memset(m->comm, 0, sizeof(m->comm));
	prctl(PR_GET_NAME, m->comm, 0, 0, 0);
	read_file("/proc/self/comm", m->proc_comm, sizeof(m->proc_comm));
	m->pers = personality(0xffffffff);
}

/* Without CAP_SYS_RESOURCE a hard limit can only go down: clamp. */
static void setrl(int res, rlim_t cur, rlim_t max)
{
	struct rlimit rl, old;

	if (getrlimit(res, &old))
		fail("getrlimit(%d): %m", res);
	rl.rlim_max = max < old.rlim_max ? max : old.rlim_max;
	rl.rlim_cur = cur < rl.rlim_max ? cur : rl.rlim_max;

	if (setrlimit(res, &rl))
		fail("setrlimit(%d): %m", res);
}

int main(int argc, char **argv)
{
	static struct misc m0, m1;
	struct utsname u;
	int i;

	test_init(argc, argv);

	if (mkdir("cwd dir", 0755) || chdir("cwd dir"))
		fail("mkdir/chdir: %m");
	umask(0027);
	setrl(RLIMIT_NOFILE, 1000, 5000);
	setrl(RLIMIT_CORE, 12345 * 1024, RLIM_INFINITY);
	setrl(RLIMIT_CPU, 36000, 72000);
	setrl(RLIMIT_FSIZE, 1ul << 34, RLIM_INFINITY);
	setrl(RLIMIT_STACK, 16 << 20, RLIM_INFINITY);
	setrl(RLIMIT_MSGQUEUE, 400000, 819200);
	setrl(RLIMIT_NICE, 5, 10);
	setrl(RLIMIT_SIGPENDING, 4321, 8642);
	if (prctl(PR_SET_NAME, "zdtm-misc-comm", 0, 0, 0))
		fail("PR_SET_NAME: %m");
	if (personality(ADDR_NO_RANDOMIZE | UNAME26) < 0)
		fail("personality: %m");

	measure(&m0);
	if (m0.pers != (ADDR_NO_RANDOMIZE | UNAME26))
		fail("personality is %#x", m0.pers);

	test_daemon();
	test_waitsig();

	measure(&m1);
	if (strcmp(m0.cwd, m1.cwd) || strcmp(m0.cwd_link, m1.cwd_link))
		fail("cwd changed: %s -> %s", m0.cwd_link, m1.cwd_link);
	if (m0.cwd_st.st_ino != m1.cwd_st.st_ino ||
	    m0.cwd_st.st_dev != m1.cwd_st.st_dev)
		fail("cwd is another directory now");
	if (m0.umask != m1.umask)
		fail("umask changed: %04o -> %04o", m0.umask, m1.umask);
	for (i = 0; i < RLIM_NLIMITS; i++)
		if (m0.rl[i].rlim_cur != m1.rl[i].rlim_cur ||
		    m0.rl[i].rlim_max != m1.rl[i].rlim_max)
			fail("rlimit %d changed: %lu/%lu -> %lu/%lu", i,
			     (unsigned long)m0.rl[i].rlim_cur,
			     (unsigned long)m0.rl[i].rlim_max,
			     (unsigned long)m1.rl[i].rlim_cur,
			     (unsigned long)m1.rl[i].rlim_max);
	if (strcmp(m0.comm, m1.comm) || strcmp(m0.proc_comm, m1.proc_comm))
		fail("comm changed: %s -> %s", m0.comm, m1.comm);
	if (m0.pers != m1.pers)
		fail("personality changed: %#x -> %#x", m0.pers, m1.pers);
	if (uname(&u) || strncmp(u.release, "2.6.", 4))
		fail("UNAME26 not in effect: release %s", u.release);
	pass();
}
