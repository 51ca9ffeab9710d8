// SPDX-License-Identifier: GPL-2.0-only
/*
 * Freezing the tree. Every thread of every process under the root is seized
 * (PTRACE_SEIZE + PTRACE_INTERRUPT) and each process is held by a pidfd.
 * A process whose threads are all stopped can't fork, so its children list
 * is final once read after that; its thread list is read again until a pass
 * seizes nothing new. Zombies are recorded, not seized: ptrace can't attach
 * to them, and their parent, being stopped, can't reap them meanwhile.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "task.h"

#define PF_KTHREAD	0x00200000

static int tree_add(struct dump_tree *tree, struct dump_task *t)
{
	if (tree->n == tree->cap) {
		size_t cap = tree->cap ? tree->cap * 2 : 16;
		struct dump_task **n = realloc(tree->tasks, cap * sizeof(*n));

		if (!n) {
			pr_err("Out of memory for %zu tasks\n", cap);
			return -1;
		}
		tree->tasks = n;
		tree->cap = cap;
	}
	tree->tasks[tree->n++] = t;
	return 0;
}

static int task_check(struct dump_task *t)
{
	pid_t pid = t->pid;

	if (pid == getpid()) {
		pr_err("PID %d is criu-lite itself\n", pid);
		return -1;
	}
	proc_status_free(&t->status);
	if (proc_parse_stat(pid, &t->stat) || proc_parse_status(pid, &t->status))
		return -1;
	if (t->stat.flags & PF_KTHREAD) {
		pr_err("PID %d (%s) is a kernel thread\n", pid, t->stat.comm);
		return -1;
	}
	if (t->status.tgid != pid) {
		pr_err("PID %d is a thread of process %d: dump the process\n",
		       pid, t->status.tgid);
		return -1;
	}
	if (t->status.tracer_pid && t->status.tracer_pid != getpid()) {
		pr_err("PID %d (%s) is already traced by PID %d\n", pid,
		       t->stat.comm, t->status.tracer_pid);
		return -1;
	}
	return 0;
}

/*
 * A PID namespace comes back only with its init: a task one level deeper
 * than its parent must be PID 1 there, and the root may be such an init.
 */
static int check_pidns(const struct dump_task *t)
{
	int lv = t->status.ns_pid_levels - 1;
	int plv = t->parent ? t->parent->status.ns_pid_levels - 1 : 0;

	if (lv == plv || (lv == plv + 1 && t->status.ns_pid[lv] == 1))
		return 0;
	pr_err("PID %d (%s) is PID %d in a PID namespace %d levels down whose init is not in the dumped tree\n",
	       t->pid, t->stat.comm, t->status.ns_pid[lv], lv);
	return -1;
}

/* Every thread's TID at every level, as restore needs for set_tid. */
static int collect_ns_tids(struct dump_task *t)
{
	size_t levels = t->status.ns_pid_levels, i, l;
	struct proc_status st = {};

	t->ns_tids = arena_alloc(t->arena,
				 t->n_tids * levels * sizeof(*t->ns_tids));
	if (!t->ns_tids)
		return -1;
	for (i = 0; i < t->n_tids; i++) {
		if (proc_parse_status(t->tids[i], &st))
			return -1;
		proc_status_free(&st);
		if ((size_t)st.ns_pid_levels != levels) {
			pr_err("TID %d of PID %d is %d PID namespace levels deep, its process %zu\n",
			       t->tids[i], t->pid, st.ns_pid_levels, levels);
			return -1;
		}
		for (l = 0; l < levels; l++)
			t->ns_tids[i * levels + l] = st.ns_pid[l];
	}
	return 0;
}

static int tid_known(const struct dump_task *t, pid_t tid)
{
	size_t i;

	for (i = 0; i < t->n_tids; i++)
		if (t->tids[i] == tid)
			return 1;
	return 0;
}

static int tid_add(struct dump_task *t, pid_t tid, const char *wchan)
{
	pid_t *n = realloc(t->tids, (t->n_tids + 1) * sizeof(*n));
	struct thread_wchan *w;

	if (!n)
		return -1;
	t->tids = n;
	w = realloc(t->wchan, (t->n_tids + 1) * sizeof(*w));
	if (!w)
		return -1;
	t->wchan = w;
	snprintf(w[t->n_tids].fn, sizeof(w->fn), "%s", wchan);
	t->tids[t->n_tids++] = tid;
	return 0;
}

/*
 * Where TID sleeps, read before we seize it (then it sleeps in ptrace):
 * the only trace of which call a restart_syscall restarts.
 */
static void read_wchan(pid_t tid, char *buf, size_t size)
{
	ssize_t n = proc_read_file_quiet(tid, "wchan", buf, size - 1);

	buf[n > 0 ? n : 0] = 0;
}

/* Seize one more thread; 1 if it is gone (a thread racing to exit). */
/* A thread refused to ptrace because it is on its way out. */
static int thread_exiting(pid_t pid, pid_t tid)
{
	char name[64], buf[512], *p;
	ssize_t n;

	snprintf(name, sizeof(name), "task/%d/stat", tid);
	n = proc_read_file_quiet(pid, name, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Seize one more thread; 1 if it is gone (a thread racing to exit). */
static int seize_thread(struct dump_task *t, pid_t tid)
{
	char wchan[48];

	read_wchan(tid, wchan, sizeof(wchan));
	if (!ptrace_seize_stop(tid, 0))
		return tid_add(t, tid, wchan);
	if (errno == EPERM && thread_exiting(t->pid, tid))
		errno = ESRCH;
	if (errno == ESRCH && tid != t->pid)
		return 1;
	if (errno == EPERM)
		pr_err("Not permitted to trace PID %d: dump needs root (or CAP_SYS_PTRACE and CAP_CHECKPOINT_RESTORE)\n",
		       tid);
	else if (errno == ESRCH && !t->parent)
		pr_err("PID %d exited while being seized\n", tid);
	return -1;
}

/* The leader first, then every thread, until a pass finds no new one. */
static int seize_threads(struct dump_task *t)
{
	pid_t *tids;
	int n, i, added, ret = 0;

	if (seize_thread(t, t->pid))
		return -1;
	do {
		n = proc_list_tids(t->pid, &tids);
		if (n < 0)
			return -1;
		added = 0;
		for (i = 0; i < n && !ret; i++) {
			if (tid_known(t, tids[i]))
				continue;
			ret = seize_thread(t, tids[i]);
			if (ret == 1)
				ret = 0;
			else if (!ret)
				added++;
		}
		free(tids);
	} while (added && !ret);
	if (ret)
		return -1;
	/* the pidfd names the process we checked; a recycled PID would differ */
	if (!pidref_alive(&t->ref)) {
		pr_err("PID %d exited while being seized\n", t->pid);
		return -1;
	}
	/* it may have changed between the checks and the stop */
	if (task_check(t) || check_pidns(t))
		return -1;
	return collect_ns_tids(t);
}

static struct dump_task *task_new(struct dump_tree *tree, pid_t pid,
				  struct dump_task *parent)
{
	struct dump_task *t = arena_alloc(tree->arena, sizeof(*t));

	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->ref = PIDREF_NONE;
	t->pid = pid;
	t->parent = parent;
	t->arena = tree->arena;
	if (tree_add(tree, t))
		return NULL;
	if (pidref_from_pid(&t->ref, pid))
		return NULL;
	return t;
}

/* A child that turned out to be a zombie: record how it died. */
static int child_record_zombie(struct dump_task *t)
{
	int i;

	/* one that is exiting becomes a zombie in a moment */
	for (i = 0; i < 100; i++) {
		if (proc_parse_stat(t->pid, &t->stat))
			return -1;
		if (t->stat.state == 'Z')
			break;
		usleep(1000);
	}
	if (t->stat.state != 'Z') {
		pr_err("PID %d (%s) can't be seized in state %c\n", t->pid,
		       t->stat.comm, t->stat.state);
		return -1;
	}
	t->zombie = 1;
	proc_status_free(&t->status);
	if (proc_parse_status(t->pid, &t->status) || check_pidns(t))
		return -1;
	pr_info("PID %d (%s) is a zombie, exit status %#x\n", t->pid,
		t->stat.comm, t->stat.exit_code);
	return 0;
}

static int seize_child(struct dump_tree *tree, struct dump_task *parent,
		       pid_t pid)
{
	struct dump_task *t = task_new(tree, pid, parent);

	if (!t)
		return -1;
	if (proc_parse_stat(pid, &t->stat))
		return -1;
	if (t->stat.ppid != parent->pid) {
		pr_err("PID %d changed parent while the tree was frozen\n", pid);
		return -1;
	}
	if (t->stat.state == 'Z')
		return child_record_zombie(t);
	if (task_check(t))
		return -1;
	if (seize_threads(t)) {
		/* it died between the listing and the seize */
		if (errno == ESRCH)
			return child_record_zombie(t);
		return -1;
	}
	return 0;
}

static int seize_children(struct dump_tree *tree, struct dump_task *t)
{
	size_t i;
	int n, j;

	for (i = 0; i < t->n_tids; i++) {
		pid_t *kids;

		n = proc_list_children(t->pid, t->tids[i], &kids);
		if (n < 0)
			return -1;
		for (j = 0; j < n; j++)
			if (seize_child(tree, t, kids[j]))
				break;
		free(kids);
		if (j < n)
			return -1;
	}
	return 0;
}

int tree_seize(struct dump_tree *tree, pid_t root)
{
	struct dump_task *t = task_new(tree, root, NULL);
	size_t i;

	if (!t || task_check(t))
		return -1;
	if (t->stat.state == 'Z') {
		pr_err("PID %d (%s) is a zombie: nothing to dump\n", root,
		       t->stat.comm);
		return -1;
	}
	if (t->stat.sid != root && !opts.shell_job) {
		pr_err("PID %d (%s) is not a session leader (session %d): run it under setsid, or dump it as a shell job (--shell-job)\n",
		       root, t->stat.comm, t->stat.sid);
		return -1;
	}
	if (seize_threads(t))
		return -1;
	/* breadth first: the array grows as children are found */
	for (i = 0; i < tree->n; i++)
		if (!tree->tasks[i]->zombie &&
		    seize_children(tree, tree->tasks[i]))
			return -1;
	return 0;
}

static void task_detach(struct dump_task *t)
{
	size_t i;

	if (t->detached)
		return;
	for (i = 0; i < t->n_tids; i++) {
		regs_restart_in_place(t->tids[i]);
		ptrace(PTRACE_DETACH, t->tids[i], NULL, NULL);
	}
	t->detached = 1;
}

/* Let the tree run on (pre-dump), still holding it by pidfds. */
void tree_detach(struct dump_tree *tree)
{
	size_t i;

	for (i = 0; i < tree->n; i++)
		if (!tree->tasks[i]->zombie)
			task_detach(tree->tasks[i]);
}

/*
 * Once SIGKILL is sent, the task never runs its own code again; it still
 * frees its memory before its PID goes, a tenth of a second per GiB. That
 * is not waited for here: a restore waits for a PID held by a task on its
 * way out (pid_wait_free()).
 */
static void task_kill(struct dump_task *t)
{
	if (pidref_kill(&t->ref, SIGKILL))
		pr_perror("Can't kill PID %d after the dump", t->pid);
}

/* Let the tree go (or kill it), children first; free what we held. */
void tree_release(struct dump_tree *tree, int kill_them)
{
	size_t i = tree->n;

	while (i--) {
		struct dump_task *t = tree->tasks[i];

		if (!t->zombie && t->n_tids) {
			if (kill_them)
				task_kill(t);
			else
				task_detach(t);
		}
		proc_status_free(&t->status);
		pidref_close(&t->ref);
		free(t->tids);
		free(t->wchan);
	}
	free(tree->tasks);
	tree->tasks = NULL;
	tree->n = tree->cap = 0;
}
