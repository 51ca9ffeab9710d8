// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rest of a task's state: rlimits, cwd, root, umask, personality, comm,
 * the clear_child_tid address, the robust futex list, the rseq area,
 * interval timers, the parent-death signal and the dumpable flag.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "log.h"
#include "syscalls.h"
#include "task.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#define RSEQ_FLAG_UNREGISTER	1

struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

struct kitimerval {
	struct { int64_t sec, usec; } interval, value;
};

static int remote_ok(struct remote *r, pid_t pid, const char *what, long *ret,
		     long nr, long a1, long a2, long a3)
{
	if (remote_syscall(r, ret, nr, a1, a2, a3, 0, 0, 0))
		return -1;
	if (*ret < 0) {
		errno = -*ret;
		pr_perror("PID %d: %s", pid, what);
		return -1;
	}
	return 0;
}

static int rlimits_dump(struct dump_task *t)
{
	TaskCoreEntry *core = t->core;
	int res;

	core->rlimits = arena_alloc(t->arena, RLIM_NLIMITS * sizeof(void *));
	if (!core->rlimits)
		return -1;
	for (res = 0; res < RLIM_NLIMITS; res++) {
		RlimitEntry *re = arena_alloc(t->arena, sizeof(*re));
		struct rlimit rl;
		long ret;

		if (!re)
			return -1;
		/* asked inside: prlimit() on another uid's task needs more */
		if (remote_syscall(&t->remote, &ret, SYS_prlimit64, 0, res, 0,
				   t->remote.scratch, 0, 0))
			return -1;
		if (ret) {
			errno = -ret;
			pr_perror("PID %d: can't read rlimit %d", t->pid, res);
			return -1;
		}
		if (remote_read(t->pid, t->remote.scratch, &rl, sizeof(rl)))
			return -1;
		rlimit_entry__init(re);
		re->resource = res;
		re->cur = rl.rlim_cur;
		re->max = rl.rlim_max;
		core->rlimits[core->n_rlimits++] = re;
	}
	return 0;
}

static int fs_dump(struct dump_task *t)
{
	char path[4096];

	if (proc_readlink(t->pid, "cwd", path, sizeof(path)))
		return -1;
	t->core->cwd = arena_strdup(t->arena, path);
	if (proc_readlink(t->pid, "root", path, sizeof(path)))
		return -1;
	t->core->root = arena_strdup(t->arena, path);
	if (!t->core->cwd || !t->core->root)
		return -1;
	if (strstr(t->core->cwd, " (deleted)")) {
		pr_err("PID %d: its working directory %s was deleted\n", t->pid,
		       t->core->cwd);
		return -1;
	}
	t->core->umask = t->status.umask;
	return 0;
}

/* Runs in TID: the remote session targets that thread. */
int misc_dump_thread(struct dump_task *t, pid_t tid, ThreadCoreEntry *tc)
{
	struct remote *r = &t->remote;
	struct rseq_config rc = {};
	uint64_t head = 0;
	size_t len = 0;
	char name[64], comm[64];
	ssize_t n;
	long ret;

	if (remote_ok(r, tid, "prctl(PR_GET_TID_ADDRESS)", &ret, SYS_prctl,
		      PR_GET_TID_ADDRESS, r->scratch, 0) ||
	    remote_read(tid, r->scratch, &tc->clear_tid_addr, 8))
		return -1;
	if (syscall(SYS_get_robust_list, tid, &head, &len)) {
		pr_perror("TID %d: get_robust_list", tid);
		return -1;
	}
	tc->robust_list = head;
	tc->robust_list_len = len;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) < 0) {
		pr_perror("TID %d: can't read the rseq configuration", tid);
		return -1;
	}
	if (rc.rseq_abi_pointer) {
		tc->rseq = arena_alloc(t->arena, sizeof(*tc->rseq));
		if (!tc->rseq)
			return -1;
		rseq_entry__init(tc->rseq);
		tc->rseq->ptr = rc.rseq_abi_pointer;
		tc->rseq->len = rc.rseq_abi_size;
		tc->rseq->flags = rc.flags;
		tc->rseq->sig = rc.signature;
	}
	snprintf(name, sizeof(name), "task/%d/comm", tid);
	n = proc_read_file(t->pid, name, comm, sizeof(comm) - 1);
	if (n <= 0)
		return -1;
	comm[n] = 0;
	comm[strcspn(comm, "\n")] = 0;
	tc->comm = arena_strdup(t->arena, comm);
	return tc->comm ? 0 : -1;
}

static int timers_dump(struct dump_task *t)
{
	TaskCoreEntry *core = t->core;
	struct remote *r = &t->remote;
	int which;
	long ret;

	core->itimers = arena_alloc(t->arena, 3 * sizeof(void *));
	if (!core->itimers)
		return -1;
	for (which = 0; which < 3; which++) {
		struct kitimerval it;
		ItimerEntry *ie;

		if (remote_ok(r, t->pid, "getitimer", &ret, SYS_getitimer,
			      which, r->scratch, 0) ||
		    remote_read(t->pid, r->scratch, &it, sizeof(it)))
			return -1;
		if (!it.value.sec && !it.value.usec)
			continue;
		ie = arena_alloc(t->arena, sizeof(*ie));
		if (!ie)
			return -1;
		itimer_entry__init(ie);
		ie->which = which;
		ie->interval_us = it.interval.sec * 1000000 + it.interval.usec;
		ie->value_us = it.value.sec * 1000000 + it.value.usec;
		core->itimers[core->n_itimers++] = ie;
	}
	return 0;
}

int misc_dump(struct dump_task *t)
{
	struct remote *r = &t->remote;
	char buf[32];
	ssize_t n;
	long ret;
	int sig;

	if (rlimits_dump(t) || fs_dump(t) || timers_dump(t))
		return -1;
	n = proc_read_file(t->pid, "personality", buf, sizeof(buf) - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	t->core->personality = strtoul(buf, NULL, 16);
	if (remote_ok(r, t->pid, "prctl(PR_GET_PDEATHSIG)", &ret, SYS_prctl,
		      PR_GET_PDEATHSIG, r->scratch, 0) ||
	    remote_read(t->pid, r->scratch, &sig, sizeof(sig)))
		return -1;
	t->core->pdeath_sig = sig;
	if (remote_ok(r, t->pid, "prctl(PR_GET_CHILD_SUBREAPER)", &ret,
		      SYS_prctl, PR_GET_CHILD_SUBREAPER, r->scratch, 0) ||
	    remote_read(t->pid, r->scratch, &sig, sizeof(sig)))
		return -1;
	t->subreaper = !!sig;
	if (remote_ok(r, t->pid, "prctl(PR_GET_DUMPABLE)", &ret, SYS_prctl,
		      PR_GET_DUMPABLE, 0, 0))
		return -1;
	t->core->dumpable = ret;
	t->core->exit_signal = t->stat.exit_signal;
	return 0;
}

static int rst_ok(struct rst_task *t, const char *what, long nr, long a1,
		  long a2, long a3)
{
	long ret;

	return remote_ok(&t->remote, t->pid, what, &ret, nr, a1, a2, a3);
}

int rlimits_restore(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->core->n_rlimits; i++) {
		const RlimitEntry *re = t->core->rlimits[i];
		struct rlimit rl = { .rlim_cur = re->cur, .rlim_max = re->max };

		if (prlimit(t->pid, re->resource, &rl, NULL)) {
			pr_perror("PID %d: can't set rlimit %u to %llu/%llu",
				  t->pid, re->resource,
				  (unsigned long long)re->cur,
				  (unsigned long long)re->max);
			return -1;
		}
	}
	return 0;
}

/* Before memory is filled: unhook the restorer's own rseq area. */
int misc_restore(struct rst_task *t)
{
	struct rseq_config rc = {};
	long ret;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->pid, sizeof(rc), &rc) < 0) {
		pr_perror("PID %d: can't read the rseq configuration", t->pid);
		return -1;
	}
	if (!rc.rseq_abi_pointer)
		return 0;
	if (remote_syscall(&t->remote, &ret, __NR_rseq, rc.rseq_abi_pointer,
			   rc.rseq_abi_size, RSEQ_FLAG_UNREGISTER, rc.signature,
			   0, 0))
		return -1;
	if (ret) {
		errno = -ret;
		pr_perror("PID %d: can't unregister the restorer's rseq area",
			  t->pid);
		return -1;
	}
	return 0;
}

/* Runs in the thread TC describes: the remote session targets it. */
int misc_restore_thread(struct rst_task *t, const ThreadCoreEntry *tc)
{
	uint64_t addr;
	long ret;

	addr = scratch_put(&t->remote, 0, tc->comm, strlen(tc->comm) + 1);
	if (rst_ok(t, "prctl(PR_SET_NAME)", SYS_prctl, PR_SET_NAME, addr, 0) ||
	    remote_syscall(&t->remote, &ret, SYS_set_tid_address,
			   tc->clear_tid_addr, 0, 0, 0, 0, 0))
		return -1;
	if (tc->robust_list &&
	    rst_ok(t, "set_robust_list", SYS_set_robust_list, tc->robust_list,
		   tc->robust_list_len, 0))
		return -1;
	if (tc->rseq) {
		long r;

		if (remote_syscall(&t->remote, &r, __NR_rseq, tc->rseq->ptr,
				   tc->rseq->len, 0, tc->rseq->sig, 0, 0))
			return -1;
		if (r < 0) {
			errno = -r;
			pr_perror("PID %d: can't register rseq at %#llx", t->pid,
				  (unsigned long long)tc->rseq->ptr);
			return -1;
		}
	}
	return 0;
}

static int timers_restore(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->core->n_itimers; i++) {
		const ItimerEntry *ie = t->core->itimers[i];
		struct kitimerval it = {
			.interval = { ie->interval_us / 1000000,
				      ie->interval_us % 1000000 },
			.value = { ie->value_us / 1000000,
				   ie->value_us % 1000000 },
		};
		uint64_t addr = scratch_put(&t->remote, 0, &it, sizeof(it));

		if (rst_ok(t, "setitimer", SYS_setitimer, ie->which, addr, 0))
			return -1;
	}
	return 0;
}

/* After memory: everything here may point into the restored layout. */
int misc_restore_late(struct rst_task *t)
{
	const TaskCoreEntry *core = t->core;
	uint64_t addr;
	long ret;

	addr = scratch_put(&t->remote, 0, core->cwd, strlen(core->cwd) + 1);
	if (rst_ok(t, "chdir to its working directory", SYS_chdir, addr, 0, 0))
		return -1;
	if (strcmp(core->root, "/")) {
		addr = scratch_put(&t->remote, 0, core->root,
				   strlen(core->root) + 1);
		if (rst_ok(t, "chroot", SYS_chroot, addr, 0, 0))
			return -1;
	}
	if (remote_syscall(&t->remote, &ret, SYS_umask, core->umask, 0, 0, 0,
			   0, 0) ||
	    rst_ok(t, "personality", SYS_personality, core->personality, 0, 0))
		return -1;
	return timers_restore(t);
}

/* Last, as credential changes reset both. */
int misc_restore_final(struct rst_task *t)
{
	if (rst_ok(t, "prctl(PR_SET_PDEATHSIG)", SYS_prctl, PR_SET_PDEATHSIG,
		   t->core->pdeath_sig, 0))
		return -1;
	if (t->core->dumpable <= 1 &&
	    rst_ok(t, "prctl(PR_SET_DUMPABLE)", SYS_prctl, PR_SET_DUMPABLE,
		   t->core->dumpable, 0))
		return -1;
	return 0;
}
