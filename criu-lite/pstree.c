// SPDX-License-Identifier: GPL-2.0-only
/*
 * The process tree: which tasks, their PIDs at every namespace level,
 * sessions and groups; and, on restore, making sure each PID is free.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "task.h"

/* a zombie holding a PID is normally reaped within PID 1's ~2 s cycle */
#define ZOMBIE_WAIT_MS	5000

int pstree_dump(int dirfd, struct dump_task *t)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	uint32_t tid = t->pid;
	uint32_t nspid[PROC_MAX_NS_LEVELS];
	int i;

	pe.pid = t->pid;
	pe.ppid = t->stat.ppid;
	pe.pgid = t->stat.pgid;
	pe.sid = t->stat.sid;
	pe.n_threads = 1;
	pe.threads = &tid;
	for (i = 0; i < t->status.ns_pid_levels; i++)
		nspid[i] = t->status.ns_pid[i];
	pe.n_ns_pid = t->status.ns_pid_levels;
	pe.ns_pid = nspid;
	return write_one_msg(dirfd, IMG_PSTREE, 0, &pe.base);
}

static int pid_holder(pid_t pid, char *state, char *comm, size_t size,
		      pid_t *ppid)
{
	struct proc_stat st;
	char buf[1024];
	ssize_t n;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (proc_parse_stat_buf(buf, &st))
		return -1;
	*state = st.state;
	*ppid = st.ppid;
	snprintf(comm, size, "%s", st.comm);
	return 1;
}

/* A PID with no task can still be in use as some task's group or session. */
static pid_t pid_used_as_group(pid_t pid, int *as_sid)
{
	struct dirent *de;
	pid_t holder = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while (!holder && (de = readdir(d))) {
		struct proc_stat st;
		char buf[1024];
		pid_t p = atoi(de->d_name);
		ssize_t n;

		if (p <= 0)
			continue;
		n = proc_read_file_quiet(p, "stat", buf, sizeof(buf) - 1);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (proc_parse_stat_buf(buf, &st))
			continue;
		if (st.pgid == pid || st.sid == pid) {
			holder = p;
			*as_sid = st.sid == pid;
		}
	}
	closedir(d);
	return holder;
}

void pid_report_taken(pid_t pid)
{
	int as_sid = 0;
	pid_t holder;

	if (pid_wait_free(pid))
		return;
	holder = pid_used_as_group(pid, &as_sid);
	if (holder)
		pr_err("PID %d is still in use as the %s ID of PID %d\n", pid,
		       as_sid ? "session" : "process group", holder);
	else
		pr_err("PID %d was taken while restoring\n", pid);
}

/*
 * PID must be free for clone3(set_tid). A zombie is waited for (its parent or
 * PID 1 reaps it soon); anything else is reported with who holds it.
 */
int pid_wait_free(pid_t pid)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char comm[64], state;
	int waited = 0, ret;
	pid_t ppid;

	for (;;) {
		ret = pid_holder(pid, &state, comm, sizeof(comm), &ppid);
		if (ret <= 0)
			return ret;
		if (state != 'Z' || waited >= ZOMBIE_WAIT_MS)
			break;
		if (!waited)
			pr_info("PID %d is held by a zombie (%s), waiting for its parent %d to reap it\n",
				pid, comm, ppid);
		nanosleep(&ts, NULL);
		waited += 10;
	}
	pr_err("PID %d is taken by \"%s\" (state %c, parent PID %d)%s\n", pid,
	       comm, state, ppid,
	       state == 'Z' ? ": a zombie nobody reaped within 5 s" : "");
	return -1;
}
