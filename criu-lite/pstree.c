// SPDX-License-Identifier: GPL-2.0-only
/*
 * The process tree: which tasks, their PIDs at every namespace level,
 * sessions and groups; and, on restore, making sure each PID is free.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "syscalls.h"
#include "task.h"

/* a zombie holding a PID is normally reaped within PID 1's ~2 s cycle */
#define ZOMBIE_WAIT_MS	5000
/* an exiting task frees its memory first: seconds for a large one */
#define EXITING_WAIT_MS	60000

const struct dump_task *tree_find(const struct dump_tree *tree, pid_t pid)
{
	size_t i;

	for (i = 0; i < tree->n; i++)
		if (tree->tasks[i]->pid == pid)
			return tree->tasks[i];
	return NULL;
}

/*
 * A session or group whose leader lives outside the tree can't come back with
 * it. One whose leader is gone is recreated by a helper at restore.
 */
static int check_leader(const struct dump_tree *tree,
			const struct dump_task *t, pid_t id, const char *what)
{
	const struct dump_task *root = tree->tasks[0];

	if (tree_find(tree, id))
		return 0;
	/* a shell job: the caller's session and group, restore gives ours */
	if (opts.shell_job && (id == root->stat.sid || id == root->stat.pgid))
		return 0;
	if (kill(id, 0) && errno == ESRCH) {
		pr_info("PID %d: the leader %d of its %s is gone\n", t->pid, id,
			what);
		return 0;
	}
	pr_err("PID %d (%s) is in the %s of PID %d, which is outside the dumped tree: dump the tree that holds both (or the job with --shell-job)\n",
	       t->pid, t->stat.comm, what, id);
	return -1;
}

int pstree_check(const struct dump_tree *tree)
{
	size_t i;

	for (i = 0; i < tree->n; i++) {
		const struct dump_task *t = tree->tasks[i];

		if (check_leader(tree, t, t->stat.sid, "session") ||
		    check_leader(tree, t, t->stat.pgid, "process group"))
			return -1;
		if (t->zombie && WIFSIGNALED(t->stat.exit_code) &&
		    WCOREDUMP(t->stat.exit_code))
			pr_warn("Zombie PID %d dumped core; it comes back without the core-dumped flag\n",
				t->pid);
	}
	return 0;
}

static int pstree_write_one(struct cr_img *img, const struct dump_task *t)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	const struct proc_status *st = &t->status;

	pe.pid = t->pid;
	pe.ppid = t->parent ? t->parent->pid : 0;
	pe.pgid = t->stat.pgid;
	pe.sid = t->stat.sid;
	/* pid_t and uint32 have one size: the TIDs go out as they are */
	pe.n_threads = t->n_tids;
	pe.threads = (uint32_t *)t->tids;
	pe.n_ns_pid = pe.n_ns_pgid = pe.n_ns_sid = st->ns_pid_levels;
	/* int and uint32 have one size: the IDs go out as they are */
	pe.ns_pid = (uint32_t *)st->ns_pid;
	pe.ns_pgid = (uint32_t *)st->ns_pgid;
	pe.ns_sid = (uint32_t *)st->ns_sid;
	pe.n_ns_tids = t->n_tids * st->ns_pid_levels;
	pe.ns_tids = t->ns_tids;
	pe.has_exit_signal = 1;
	pe.exit_signal = t->stat.exit_signal;
	if (t->zombie) {
		pe.has_zombie = pe.zombie = 1;
		pe.has_exit_status = 1;
		pe.exit_status = t->stat.exit_code;
		pe.comm = (char *)t->stat.comm;
	}
	if (t->subreaper)
		pe.has_child_subreaper = pe.child_subreaper = 1;
	if (t->files_of)
		pe.has_files_of = 1;
	pe.files_of = t->files_of;
	return img_write_msg(img, &pe.base);
}

int pstree_dump(int dirfd, const struct dump_tree *tree)
{
	struct cr_img *img = create_image(dirfd, IMG_PSTREE, 0);
	size_t i;

	if (!img)
		return -1;
	for (i = 0; i < tree->n; i++)
		if (pstree_write_one(img, tree->tasks[i]))
			break;
	return img_close_write(img) || i < tree->n ? -1 : 0;
}

#define PF_EXITING	0x00000004	/* in do_exit(), from its task flags */

static int pid_holder(pid_t pid, char *state, int *exiting, char *comm,
		      size_t size, pid_t *ppid)
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
	*exiting = !!(st.flags & PF_EXITING);
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

	if (opts.pidns) {
		/* the namespace is fresh: only the image can clash with itself */
		pr_err("PID %d is taken in the new PID namespace: pstree.img lists it twice\n",
		       pid);
		return;
	}
	if (pid_wait_free(pid))
		return;
	holder = pid_used_as_group(pid, &as_sid);
	if (holder)
		pr_err("PID %d is still in use as the %s ID of PID %d; restore --pidns puts the tree in a fresh PID namespace\n",
		       pid, as_sid ? "session" : "process group", holder);
	else
		pr_err("PID %d was taken while restoring; restore --pidns puts the tree in a fresh PID namespace\n",
		       pid);
}

/*
 * PID must be free for clone3(set_tid). A task on its way out (killed by
 * the dump just before, say, and still freeing its memory) and a zombie are
 * waited for (the parent or PID 1 reaps it soon); anything else is reported
 * with who holds it.
 */
int pid_wait_free(pid_t pid)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int ewaited = 0, zwaited = 0, ret, exiting = 0;
	char comm[64], state;
	pid_t ppid;

	for (;;) {
		ret = pid_holder(pid, &state, &exiting, comm, sizeof(comm),
				 &ppid);
		if (ret <= 0)
			return ret;
		if (state != 'Z' && exiting && ewaited < EXITING_WAIT_MS) {
			if (!ewaited)
				pr_info("PID %d is held by \"%s\", which is exiting: waiting for it\n",
					pid, comm);
			ewaited += 10;
		} else if (state == 'Z' && zwaited < ZOMBIE_WAIT_MS) {
			if (!zwaited)
				pr_info("PID %d is held by a zombie (%s), waiting for its parent %d to reap it\n",
					pid, comm, ppid);
			zwaited += 10;
		} else {
			break;
		}
		nanosleep(&ts, NULL);
	}
	pr_err("PID %d is taken by \"%s\" (state %c, parent PID %d)%s; restore --pidns puts the tree in a fresh PID namespace\n",
	       pid, comm, state, ppid,
	       state == 'Z' ? ": a zombie nobody reaped within 5 s" :
	       exiting ? ": still exiting after 60 s" : "");
	return -1;
}

/* Restore side */

#define TREE_TIMEOUT_MS	30000

/* What the tasks do, in lock step, while the tree is born. */
enum rst_phase {
	PH_CREATE,	/* fork the children, setsid(), lead their own group */
	PH_GROUPS,	/* join their process group */
	PH_EXIT,	/* helpers and zombies exit, the rest reap helpers */
	PH_NR,
	PH_SEIZED = PH_NR,	/* never set: wait to be seized */
};

enum rst_step {
	STEP_CLONE = 1,
	STEP_SETSID,
	STEP_SETPGID,
	STEP_SUBREAPER,
	STEP_REAP,
	STEP_PREMAP,
	STEP_CTTY,
};

struct rst_sync {
	uint32_t phase;			/* futex: the controller's word */
	uint32_t done[PH_NR];		/* futexes: tasks through each phase */
	int32_t err_pid, err_errno, err_step, err_arg;
	pid_t ctl_pid;			/* the root's parent, as the root sees it */
	uint32_t init_proc;		/* --pidns: futex, enum init_proc */
	uint32_t userns_mapped;		/* futex: 1 once our ids are mapped */
	int32_t init_errno;
	uint32_t born[];		/* per node: 1 once it runs */
};

/* --pidns: PID 1 mounts the namespace's own /proc once the tree is rebuilt */
enum init_proc {
	INIT_PROC_WAIT,
	INIT_PROC_MOUNT,	/* the controller: go */
	INIT_PROC_DONE,
	INIT_PROC_FAILED,	/* init_errno says why */
};

static long futex(uint32_t *addr, int op, uint32_t val, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	return syscall(SYS_futex, addr, op, val, ms ? &ts : NULL, NULL, 0);
}

static void futex_wake_all(uint32_t *addr)
{
	futex(addr, FUTEX_WAKE, INT32_MAX, 0);
}

static int entry_check(const struct rst_tree *tree, const PstreeEntry *pe)
{
	size_t i;

	if (!pe->pid || pe->pid > INT32_MAX || !pe->n_ns_pid ||
	    pe->n_ns_pid > PROC_MAX_NS_LEVELS || pe->ns_pid[0] != pe->pid ||
	    pe->n_ns_pgid != pe->n_ns_pid || pe->n_ns_sid != pe->n_ns_pid ||
	    pe->n_ns_tids != pe->n_threads * pe->n_ns_pid) {
		pr_err("Image pstree.img: PID %u has bad PID namespace IDs (%zu levels)\n",
		       pe->pid, pe->n_ns_pid);
		return -1;
	}
	if (pe->zombie ? pe->n_threads != 0 :
			 !pe->n_threads || pe->threads[0] != pe->pid) {
		pr_err("Image pstree.img: PID %u has a bad thread list\n", pe->pid);
		return -1;
	}
	for (i = 0; i < tree->n_entries; i++)
		if (tree->entries[i]->pid == pe->pid)
			break;
	if (i < tree->n_entries) {
		pr_err("Image pstree.img: PID %u appears twice\n", pe->pid);
		return -1;
	}
	if (!tree->n_entries) {
		if (pe->zombie) {
			pr_err("Image pstree.img: the root PID %u is a zombie\n",
			       pe->pid);
			return -1;
		}
		if ((pe->sid != pe->pid || pe->pgid != pe->pid) &&
		    !opts.shell_job) {
			pr_err("Image pstree.img: the root PID %u is in session %u and group %u outside the tree: a shell job, restore it with --shell-job\n",
			       pe->pid, pe->sid, pe->pgid);
			return -1;
		}
		return 0;
	}
	for (i = 0; i < tree->n_entries; i++)
		if (tree->entries[i]->pid == pe->ppid &&
		    !tree->entries[i]->zombie)
			return 0;
	pr_err("Image pstree.img: the parent %u of PID %u is not listed before it\n",
	       pe->ppid, pe->pid);
	return -1;
}

int pstree_load(int dirfd, struct rst_tree *tree)
{
	struct cr_img *img = open_image(dirfd, IMG_PSTREE, 0);
	ProtobufCMessage *msg;
	size_t cap = 0;
	int ret;

	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &pstree_entry__descriptor, &msg)) == 1) {
		PstreeEntry *pe = (PstreeEntry *)msg;

		if (tree->n_entries == cap) {
			PstreeEntry **n;

			cap = cap ? cap * 2 : 16;
			n = realloc(tree->entries, cap * sizeof(*n));
			if (!n) {
				protobuf_c_message_free_unpacked(msg, NULL);
				ret = -1;
				break;
			}
			tree->entries = n;
		}
		if (entry_check(tree, pe)) {
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = -1;
			break;
		}
		tree->entries[tree->n_entries++] = pe;
	}
	img_close(img);
	if (!ret && !tree->n_entries) {
		pr_err("Image pstree.img holds no process\n");
		ret = -1;
	}
	return ret;
}

static struct rst_node *node_find(struct rst_tree *tree, pid_t pid)
{
	size_t i;

	for (i = 0; i < tree->n_nodes; i++)
		if (tree->nodes[i].pid == pid)
			return &tree->nodes[i];
	return NULL;
}

/* Children are forked in the order they are linked. */
static void node_link(struct rst_node *n, struct rst_node *creator,
		      int before_setsid)
{
	struct rst_node **p = &creator->first_child;

	while (*p)
		p = &(*p)->next_sibling;
	*p = n;
	n->creator = creator;
	n->before_setsid = before_setsid;
	n->init_sid = before_setsid ? creator->init_sid : creator->sid;
}

/*
 * The nodes array is sized up front: helpers never outnumber 2 per entry.
 * IDS is the lost leader's ID at each level, as a member saw it, down to
 * the first level where it is outside (0).
 */
static struct rst_node *helper_add(struct rst_tree *tree, pid_t pid, pid_t sid,
				   struct rst_node *parent, const uint32_t *ids,
				   size_t n_ids)
{
	struct rst_node *h = &tree->nodes[tree->n_nodes++];
	size_t l;

	for (l = 0; l < n_ids && ids[l]; l++)
		h->helper_nspid[l] = ids[l];
	h->nspid = h->helper_nspid;
	h->level = l - 1;
	h->pid = h->pgid = pid;
	h->sid = sid;
	h->kind = NODE_HELPER;
	h->setsid = sid == pid;
	h->exit_signal = SIGCHLD;
	h->parent = parent;
	node_link(h, parent, 0);
	pr_info("Helper PID %d (session %d) under PID %d holds a lost leader's ID\n",
		pid, sid, parent->pid);
	return h;
}

/*
 * A task is born into its creator's session: before or after the creator's
 * own setsid(). A session that matches neither lost its leader, and the task
 * was orphaned to its parent (a child subreaper): a helper with the session's
 * ID creates it and exits, so it is orphaned to that parent again.
 */
static int plan_session(struct rst_tree *tree, struct rst_node *n)
{
	struct rst_node *p = n->parent, *h;

	if (n->sid == n->pid) {
		n->setsid = 1;
		node_link(n, p, 0);
		return 0;
	}
	if (n->sid == p->sid) {
		node_link(n, p, 0);
		return 0;
	}
	if (p->setsid && n->sid == p->init_sid) {
		node_link(n, p, 1);
		return 0;
	}
	h = node_find(tree, n->sid);
	if (h && (h->kind != NODE_HELPER || h->parent != p)) {
		pr_err("PID %d is in session %d, whose leader PID %d is elsewhere in the tree: criu-lite can't recreate that\n",
		       n->pid, n->sid, n->sid);
		return -1;
	}
	if (!p->subreaper) {
		pr_err("PID %d is in session %d, whose leader is gone, yet its parent PID %d is no child subreaper: pstree.img is inconsistent\n",
		       n->pid, n->sid, p->pid);
		return -1;
	}
	if (!h)
		h = helper_add(tree, n->sid, n->sid, p, n->pe->ns_sid,
			       n->pe->n_ns_sid);
	node_link(n, h, 0);
	return 0;
}

static struct rst_node *live_in_session(struct rst_tree *tree, pid_t sid)
{
	size_t i;

	for (i = 0; i < tree->n_nodes; i++)
		if (tree->nodes[i].kind == NODE_LIVE &&
		    tree->nodes[i].sid == sid)
			return &tree->nodes[i];
	return NULL;
}

/* A group whose leader is gone gets a helper in the group's session. */
static int plan_group(struct rst_tree *tree, struct rst_node *n)
{
	struct rst_node *l, *creator;

	if (n->pgid == n->pid)
		return 0;
	l = node_find(tree, n->pgid);
	/* a shell job's outside group: the task stays in ours, inherited */
	if (!l && opts.shell_job && n->pgid == tree->nodes[0].pgid)
		return 0;
	if (!l) {
		creator = n->kind == NODE_LIVE ? n : live_in_session(tree, n->sid);
		if (!creator) {
			pr_err("PID %d: no live task is in its session %d to recreate its group %d\n",
			       n->pid, n->sid, n->pgid);
			return -1;
		}
		l = helper_add(tree, n->pgid, n->sid, creator, n->pe->ns_pgid,
			       n->pe->n_ns_pgid);
	}
	if (l->sid != n->sid) {
		pr_err("PID %d is in group %d of session %d, but PID %d leads it from session %d: pstree.img is inconsistent\n",
		       n->pid, n->pgid, n->sid, l->pid, l->sid);
		return -1;
	}
	return 0;
}

/*
 * A process sharing its parent's fd table is cloned by it with CLONE_FILES:
 * the parent must be its creator (not a helper it is orphaned from).
 */
static int plan_files(const struct rst_tree *tree)
{
	size_t i;

	for (i = 0; i < tree->n_entries; i++) {
		const struct rst_node *n = &tree->nodes[i];

		if (!n->pe->files_of)
			continue;
		if (n->kind != NODE_LIVE || !n->creator ||
		    n->creator->kind != NODE_LIVE ||
		    n->creator->pid != (pid_t)n->pe->files_of) {
			pr_err("PID %d shares the fd table of PID %u, which can't create it at restore (its creator is PID %d)\n",
			       n->pid, n->pe->files_of,
			       n->creator ? n->creator->pid : 0);
			return -1;
		}
	}
	return 0;
}

int pstree_plan(struct rst_tree *tree)
{
	size_t i, n_entries = tree->n_entries;
	struct rst_node *root;

	tree->nodes = calloc(3 * n_entries, sizeof(*tree->nodes));
	if (!tree->nodes)
		return -1;
	for (i = 0; i < n_entries; i++) {
		const PstreeEntry *pe = tree->entries[i];
		struct rst_node *n = &tree->nodes[i];

		n->pe = pe;
		n->pid = pe->pid;
		n->level = pe->n_ns_pid - 1;
		n->nspid = pe->ns_pid;
		n->pgid = pe->pgid;
		n->sid = pe->sid;
		n->kind = pe->zombie ? NODE_ZOMBIE : NODE_LIVE;
		n->subreaper = pe->child_subreaper;
		n->exit_signal = pe->has_exit_signal ? pe->exit_signal : SIGCHLD;
		n->exit_status = pe->exit_status;
		n->comm = pe->comm;
		if (i)
			n->parent = node_find(tree, pe->ppid);
		tree->n_nodes = i + 1;
	}
	root = &tree->nodes[0];
	/* a shell job stays in our session, for the image's session ID */
	root->setsid = root->sid == root->pid;
	root->init_sid = root->setsid ? 0 : root->sid;
	for (i = 1; i < n_entries; i++)
		if (plan_session(tree, &tree->nodes[i]))
			return -1;
	/* helpers added here lead their own group: no need to visit them */
	for (i = 0; i < n_entries; i++)
		if (plan_group(tree, &tree->nodes[i]))
			return -1;
	return plan_files(tree);
}

/*
 * --pidns: the new namespace is empty but for its PID 1, the helper that
 * creates the root; the image's level 0 becomes that namespace.
 */
static int pidns_ids_free(const struct rst_tree *tree)
{
	size_t i;

	for (i = 0; i < tree->n_nodes; i++)
		if (tree->nodes[i].nspid[0] == 1) {
			pr_err("PID %d is PID 1 in the image's outer namespace: --pidns needs PID 1 for its helper\n",
			       tree->nodes[i].pid);
			return -1;
		}
	return 0;
}

int pstree_pids_free(const struct rst_tree *tree)
{
	size_t i, j;

	if (opts.pidns)
		return pidns_ids_free(tree);
	for (i = 0; i < tree->n_nodes; i++)
		if (pid_wait_free(tree->nodes[i].pid))
			return -1;
	for (i = 0; i < tree->n_entries; i++)
		for (j = 1; j < tree->entries[i]->n_threads; j++)
			if (pid_wait_free(tree->entries[i]->threads[j]))
				return -1;
	return 0;
}

/* Child side: these run in the new tasks, in a copy of the restorer. */

/* X's PID as a task at LEVEL sees it (0: X is not visible there). */
static pid_t node_view(const struct rst_node *x, int level)
{
	return level <= x->level ? (pid_t)x->nspid[level] : 0;
}

/* set_tid for clone3: innermost level first. */
static size_t node_set_tid(const struct rst_node *n, pid_t *set_tid)
{
	int l;

	for (l = 0; l <= n->level; l++)
		set_tid[l] = n->nspid[n->level - l];
	return n->level + 1;
}

static __attribute__((noreturn)) void node_fail(struct rst_tree *tree,
						struct rst_node *n, int step,
						int arg)
{
	struct rst_sync *s = tree->sync;
	int err = errno, i;

	if (__sync_bool_compare_and_swap(&s->err_pid, 0, n->pid)) {
		s->err_errno = err;
		s->err_step = step;
		s->err_arg = arg;
	}
	for (i = 0; i < PH_NR; i++)
		futex_wake_all(&s->done[i]);
	syscall(SYS_exit_group, 1);
	__builtin_unreachable();
}

static void node_done(struct rst_sync *s, int phase)
{
	__atomic_add_fetch(&s->done[phase], 1, __ATOMIC_RELEASE);
	futex_wake_all(&s->done[phase]);
}

/* Wait for the controller; should it die first, nothing is left behind. */
static void node_wait_phase(struct rst_tree *tree, uint32_t phase)
{
	struct rst_sync *s = tree->sync;
	struct pollfd pfd = { .fd = tree->ctl_pidfd, .events = POLLIN };
	uint32_t cur;

	while ((cur = __atomic_load_n(&s->phase, __ATOMIC_ACQUIRE)) < phase) {
		futex(&s->phase, FUTEX_WAIT, cur, 200);
		if (poll(&pfd, 1, 0) != 0)
			syscall(SYS_exit_group, 1);
	}
}

static __attribute__((noreturn)) void node_run(struct rst_tree *tree,
					       struct rst_node *n);

static void node_spawn(struct rst_tree *tree, struct rst_node *n,
		       struct rst_node *c)
{
	pid_t set_tid[PROC_MAX_NS_LEVELS];
	struct clone_args args = {
		/* one level deeper: the init of a new PID namespace */
		.flags = (c->level > n->level ? CLONE_NEWPID : 0) |
			 (c->pe && c->pe->files_of ? CLONE_FILES : 0),
		.exit_signal = c->exit_signal,
		.set_tid = (uint64_t)(uintptr_t)set_tid,
	};
	long ret;

	args.set_tid_size = node_set_tid(c, set_tid);
	ret = sys_clone3(&args, sizeof(args));

	if (ret == 0)
		node_run(tree, c);
	if (ret < 0)
		node_fail(tree, n, STEP_CLONE, c->pid);
	/* marked here too: should we die now, the controller still kills it */
	tree->sync->born[c - tree->nodes] = 1;
}

static void node_spawn_children(struct rst_tree *tree, struct rst_node *n,
				int before_setsid)
{
	struct rst_node *c;

	for (c = n->first_child; c; c = c->next_sibling)
		if (c->before_setsid == before_setsid)
			node_spawn(tree, n, c);
}

/* A zombie dies as it died; no core file for the signals that make one. */
static __attribute__((noreturn)) void node_die(struct rst_node *n)
{
	int sig = WTERMSIG(n->exit_status);
	sigset_t set;

	if (n->comm)
		prctl(PR_SET_NAME, n->comm);
	if (WIFEXITED(n->exit_status))
		syscall(SYS_exit_group, WEXITSTATUS(n->exit_status));
	prctl(PR_SET_DUMPABLE, 0);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), sig);
	kill(getpid(), SIGKILL);
	__builtin_unreachable();
}

/*
 * Reap the helpers this task forked (their orphans come to it), wait until
 * its zombie children are dead, then drop the SIGCHLDs all that queued.
 */
static void node_settle(struct rst_tree *tree, struct rst_node *n)
{
	struct timespec zero = { 0, 0 };
	struct rst_node *c;
	siginfo_t si;
	sigset_t all;
	size_t i;

	for (c = n->first_child; c; c = c->next_sibling) {
		pid_t pid = node_view(c, n->level);

		if (c->kind == NODE_HELPER &&
		    waitpid(pid, NULL, __WALL) != pid)
			node_fail(tree, n, STEP_REAP, c->pid);
	}
	for (i = 0; i < tree->n_nodes; i++) {
		c = &tree->nodes[i];
		if (c->kind == NODE_ZOMBIE && c->parent == n &&
		    waitid(P_PID, node_view(c, n->level), &si,
			   WEXITED | WNOWAIT))
			node_fail(tree, n, STEP_REAP, c->pid);
	}
	sigfillset(&all);
	while (sigtimedwait(&all, &si, &zero) > 0)
		;
}

static __attribute__((noreturn)) void node_run(struct rst_tree *tree,
					       struct rst_node *n)
{
	struct rst_sync *s = tree->sync;
	pid_t creator = n->creator ? node_view(n->creator, n->level) :
				     s->ctl_pid;
	struct rst_node *leader = node_find(tree, n->pgid);
	pid_t pgid = leader ? node_view(leader, n->level) : 0;
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* die with the creator, unless it is a helper that exits on purpose */
	if (!n->creator || n->creator->kind != NODE_HELPER)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != creator)
		syscall(SYS_exit_group, 1);
	s->born[n - tree->nodes] = 1;
	if (n->subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1))
		node_fail(tree, n, STEP_SUBREAPER, 0);
	/* what the children share copy-on-write, before they fork */
	if (n->kind == NODE_LIVE && cow_premap(n->task))
		node_fail(tree, n, STEP_PREMAP, 0);
	node_spawn_children(tree, n, 1);
	if (n->setsid && setsid() < 0)
		node_fail(tree, n, STEP_SETSID, 0);
	/* the members of its session inherit its terminal when they fork */
	if (n->setsid && n->kind == NODE_LIVE && tty_session_start(n->pid))
		node_fail(tree, n, STEP_CTTY, 0);
	node_spawn_children(tree, n, 0);
	if (!n->setsid && n->pgid == n->pid && setpgid(0, 0))
		node_fail(tree, n, STEP_SETPGID, n->pid);
	node_done(s, PH_CREATE);

	node_wait_phase(tree, PH_GROUPS);
	/* a group led from an outer PID namespace was joined at fork */
	if (pgid && getpgid(0) != pgid && setpgid(0, pgid))
		node_fail(tree, n, STEP_SETPGID, n->pgid);
	node_done(s, PH_GROUPS);

	node_wait_phase(tree, PH_EXIT);
	if (n->kind == NODE_HELPER)
		syscall(SYS_exit_group, 0);
	if (n->kind == NODE_ZOMBIE)
		node_die(n);
	node_settle(tree, n);
	node_done(s, PH_EXIT);
	node_wait_phase(tree, PH_SEIZED);
	syscall(SYS_exit_group, 1);
	__builtin_unreachable();
}

/* Controller side */

static void report_node_error(const struct rst_sync *s)
{
	errno = s->err_errno;
	switch (s->err_step) {
	case STEP_CLONE:
		if (errno == EEXIST)
			pid_report_taken(s->err_arg);
		else
			pr_perror("PID %d: can't create its child PID %d",
				  s->err_pid, s->err_arg);
		break;
	case STEP_SETSID:
		pr_perror("PID %d: can't start its session", s->err_pid);
		break;
	case STEP_SETPGID:
		pr_perror("PID %d: can't join process group %d", s->err_pid,
			  s->err_arg);
		break;
	case STEP_SUBREAPER:
		pr_perror("PID %d: can't become a child subreaper", s->err_pid);
		break;
	case STEP_PREMAP:
		pr_perror("PID %d: can't map the memory it shares with its children",
			  s->err_pid);
		break;
	case STEP_CTTY:
		pr_perror("PID %d: can't take its controlling terminal (TIOCSCTTY)",
			  s->err_pid);
		break;
	default:
		pr_perror("PID %d: can't wait for PID %d", s->err_pid,
			  s->err_arg);
	}
}

static int sync_wait(struct rst_tree *tree, int phase, uint32_t want,
		     pid_t root)
{
	struct rst_sync *s = tree->sync;
	uint64_t deadline = now_us() + TREE_TIMEOUT_MS * 1000ULL;
	uint32_t done;
	int status;

	for (;;) {
		done = __atomic_load_n(&s->done[phase], __ATOMIC_ACQUIRE);
		if (s->err_pid) {
			report_node_error(s);
			return -1;
		}
		if (done >= want)
			return 0;
		if (waitpid(root, &status, WNOHANG | __WALL) == root) {
			pr_err("PID %d died while its tree was created (status %#x)\n",
			       root, status);
			return -1;
		}
		if (now_us() > deadline) {
			pr_err("Timed out creating the tree: %u of %u tasks done with step %d\n",
			       done, want, phase);
			return -1;
		}
		futex(&s->done[phase], FUTEX_WAIT, done, 50);
	}
}

static int sync_setup(struct rst_tree *tree)
{
	size_t size = sizeof(*tree->sync) + tree->n_nodes * sizeof(uint32_t);

	tree->sync = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tree->sync == MAP_FAILED) {
		tree->sync = NULL;
		pr_perror("Can't map the restore sync area");
		return -1;
	}
	/* outside the root's own PID namespace its parent is 0 to it */
	if (tree->nodes[0].level)
		tree->sync->ctl_pid = 0;
	else
		tree->sync->ctl_pid = opts.pidns ? 1 : getpid();
	tree->ctl_pidfd = sys_pidfd_open(getpid(), 0);
	if (tree->ctl_pidfd < 0) {
		pr_perror("Can't open a pidfd for criu-lite itself");
		return -1;
	}
	/* orphans of a failed restore come to us, to be reaped at once */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		pr_perror("Can't make criu-lite a child subreaper");
		return -1;
	}
	return 0;
}

/* PID 1 ends as the root did: a signal as 128+N (it can't die of its own). */
static void pidns_init_reap(const struct rst_node *root, int flags)
{
	siginfo_t si;

	for (;;) {
		si.si_pid = 0;
		if (waitid(P_ALL, 0, &si, WEXITED | __WALL | flags) < 0) {
			if (errno == EINTR)
				continue;
			/* ECHILD: the root is gone without a trace */
			syscall(SYS_exit_group, 1);
		}
		if (!si.si_pid)
			return;		/* WNOHANG, nothing more */
		if (si.si_pid == (pid_t)root->nspid[0])
			syscall(SYS_exit_group, si.si_code == CLD_EXITED ?
					si.si_status : 128 + si.si_status);
	}
}

/*
 * The tree's own /proc, once it is rebuilt (the tasks open criu-lite's
 * shared memory through /proc/CTL until then): what it sees there is what
 * the original saw in its /proc, the image's level 0. Mounts made here
 * don't propagate back.
 */
static void pidns_init_mount_proc(struct rst_tree *tree)
{
	struct rst_sync *s = tree->sync;
	struct pollfd pfd = { .fd = tree->ctl_pidfd, .events = POLLIN };
	uint32_t state = INIT_PROC_DONE;

	while (__atomic_load_n(&s->init_proc, __ATOMIC_ACQUIRE) !=
	       INIT_PROC_MOUNT) {
		futex(&s->init_proc, FUTEX_WAIT, INIT_PROC_WAIT, 200);
		pidns_init_reap(&tree->nodes[0], WNOHANG);
		/* criu-lite is gone: its tasks die with it, the root too */
		if (poll(&pfd, 1, 0) != 0)
			return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL)) {
		s->init_errno = errno;
		state = INIT_PROC_FAILED;
	}
	__atomic_store_n(&s->init_proc, state, __ATOMIC_RELEASE);
	futex_wake_all(&s->init_proc);
}

/*
 * --pidns: PID 1 of the new PID and mount namespaces, a copy of criu-lite.
 * It creates the root at its IDs for levels 0..root level (the image's
 * level 0 is this namespace), mounts the namespace's /proc when told, keeps
 * nothing of criu-lite's open, reaps what is orphaned to it, and when the
 * root exits, exits as the root did. Its death kills whatever is left inside.
 */
static __attribute__((noreturn)) void pidns_init_run(struct rst_tree *tree)
{
	struct rst_node *root = &tree->nodes[0];
	struct rst_sync *s = tree->sync;
	pid_t set_tid[PROC_MAX_NS_LEVELS];
	struct clone_args args = {
		.flags = root->level ? CLONE_NEWPID : 0,
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)set_tid,
	};
	sigset_t all;
	long ret;
	int fd;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* in a new user namespace nothing works before the IDs are mapped */
	while (opts.userns && !__atomic_load_n(&s->userns_mapped, __ATOMIC_ACQUIRE))
		futex(&s->userns_mapped, FUTEX_WAIT, 0, 200);
	args.set_tid_size = node_set_tid(root, set_tid);
	ret = sys_clone3(&args, sizeof(args));
	if (ret == 0)
		node_run(tree, root);
	if (ret < 0) {
		if (__sync_bool_compare_and_swap(&s->err_pid, 0, 1)) {
			s->err_errno = errno;
			s->err_step = STEP_CLONE;
			s->err_arg = root->pid;
		}
		futex_wake_all(&s->done[PH_CREATE]);
		syscall(SYS_exit_group, 1);
	}
	s->born[0] = 1;
	pidns_init_mount_proc(tree);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup3(fd, 0, 0);
		dup3(fd, 1, 0);
		dup3(fd, 2, 0);
	}
	syscall(SYS_close_range, 3, ~0U, 0);
	pidns_init_reap(root, 0);
	syscall(SYS_exit_group, 1);
	__builtin_unreachable();
}

/*
 * Unprivileged: inside the new user namespace the tree's own uid and gid
 * are ours outside, one each (all an unprivileged user may map), and
 * setgroups() is denied, as an unprivileged gid_map requires.
 */
static int map_userns(struct rst_tree *tree, pid_t pid)
{
	const CredsEntry *ce = tree->tasks[0].core->creds;
	char map[64];

	snprintf(map, sizeof(map), "%u %u 1\n", ce->uid, getuid());
	if (proc_write_file(pid, "uid_map", map) || proc_write_file(pid, "setgroups", "deny"))
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", ce->gid, getgid());
	if (proc_write_file(pid, "gid_map", map))
		return -1;
	__atomic_store_n(&tree->sync->userns_mapped, 1, __ATOMIC_RELEASE);
	futex_wake_all(&tree->sync->userns_mapped);
	return 0;
}

static int create_pidns_init(struct rst_tree *tree)
{
	struct clone_args args = {
		.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_PIDFD |
			 (opts.userns ? CLONE_NEWUSER : 0),
		.pidfd = (uint64_t)(uintptr_t)&tree->init_pidfd,
		.exit_signal = SIGCHLD,
	};
	long ret = sys_clone3(&args, sizeof(args));

	if (ret == 0)
		pidns_init_run(tree);
	if (ret < 0) {
		pr_perror("Can't create %snamespaces for --pidns (clone3 %sCLONE_NEWPID|CLONE_NEWNS)",
			  opts.userns ? "user, PID and mount " : "PID and mount ",
			  opts.userns ? "CLONE_NEWUSER|" : "");
		return -1;
	}
	tree->init_pid = ret;
	pr_info("PID 1 of the new PID namespace is PID %ld\n", ret);
	return opts.userns ? map_userns(tree, ret) : 0;
}

static int create_root(struct rst_tree *tree)
{
	struct rst_node *root = &tree->nodes[0];
	struct rst_task *t = root->task;
	pid_t pid = root->pid, set_tid[PROC_MAX_NS_LEVELS];
	struct clone_args args = {
		.flags = CLONE_PIDFD | (root->level ? CLONE_NEWPID : 0),
		.pidfd = (uint64_t)(uintptr_t)&t->pidfd,
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)set_tid,
	};
	long ret;

	if (opts.pidns)
		return create_pidns_init(tree);
	args.set_tid_size = node_set_tid(root, set_tid);
	ret = sys_clone3(&args, sizeof(args));

	if (ret == 0)
		node_run(tree, root);
	if (ret > 0) {
		tree->sync->born[0] = 1;
		return 0;
	}
	if (errno == EEXIST)
		pid_report_taken(pid);
	else if (errno == EPERM)
		pr_err("Not permitted to create PID %d: restore needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN\n",
		       pid);
	else
		pr_perror("clone3 with set_tid %d failed", pid);
	return -1;
}

/* The parent of task I, as criu-lite sees it. */
static pid_t host_ppid(const struct rst_tree *tree, size_t i)
{
	size_t j;

	if (!i)
		return tree->init_pid;
	for (j = 0; j < i; j++)
		if (tree->tasks[j].pe->pid == tree->tasks[i].pe->ppid)
			return tree->tasks[j].pid;
	return 0;
}

/* A pidfd for each live task, checked to be the child of its parent. */
static int open_pidfds(struct rst_tree *tree)
{
	size_t i;

	/* without --pidns, clone3 gave us the root's */
	for (i = opts.pidns ? 0 : 1; i < tree->n_tasks; i++) {
		struct rst_task *t = &tree->tasks[i];
		pid_t ppid = host_ppid(tree, i);
		struct proc_stat st;

		t->pidfd = sys_pidfd_open(t->pid, 0);
		if (t->pidfd < 0) {
			pr_perror("Can't open a pidfd for the new PID %d", t->pid);
			return -1;
		}
		if (proc_parse_stat(t->pid, &st))
			return -1;
		if (st.ppid != ppid) {
			pr_err("New PID %d (PID %u in the image) has parent %d, not %d\n",
			       t->pid, t->pe->pid, st.ppid, ppid);
			return -1;
		}
	}
	return 0;
}

/* NSpid past its first entry (criu-lite's namespace) is IDS[0..LEVELS-1] */
static int ns_ids_match(const struct proc_status *st, const uint32_t *ids,
			size_t levels)
{
	size_t l;

	if ((size_t)st->ns_pid_levels != levels + 1)
		return 0;
	for (l = 0; l < levels; l++)
		if ((uint32_t)st->ns_pid[l + 1] != ids[l])
			return 0;
	return 1;
}

/* Is TID (as criu-lite sees it) at IDS below us? 1 yes, 0 no, -1 error. */
int pstree_ns_tid_check(pid_t tid, const uint32_t *ids, size_t levels)
{
	struct proc_status st;
	int ret;

	memset(&st, 0, sizeof(st));
	if (proc_parse_status(tid, &st))
		return -1;
	ret = ns_ids_match(&st, ids, levels);
	proc_status_free(&st);
	return ret;
}

/*
 * --pidns: the tasks' PIDs as criu-lite sees them are new. Walk the
 * namespace from its PID 1 down and match each task's NSpid, past its entry
 * here, with the image's IDs.
 */
static int find_host_pids(struct rst_tree *tree)
{
	size_t cap = tree->n_nodes + 1, head = 0, tail = 0, found = 0, i;
	pid_t *queue = malloc(cap * sizeof(*queue));
	int ret = -1;

	if (!queue)
		return -1;
	queue[tail++] = tree->init_pid;
	while (head < tail) {
		pid_t *kids = NULL;
		int n = proc_list_children(queue[head], queue[head], &kids), k;

		head++;
		if (n < 0)
			goto out;
		for (k = 0; k < n; k++) {
			if (tail == cap) {
				pr_err("More tasks in the new PID namespace than the image has\n");
				free(kids);
				goto out;
			}
			queue[tail++] = kids[k];
		}
		free(kids);
	}
	for (i = 0; i < tree->n_tasks; i++)
		tree->tasks[i].pid = 0;
	/* the queue's first entry is PID 1 */
	for (head = 1; head < tail; head++) {
		struct proc_status st;

		memset(&st, 0, sizeof(st));
		if (proc_parse_status(queue[head], &st))
			goto out;
		for (i = 0; i < tree->n_tasks; i++) {
			struct rst_task *t = &tree->tasks[i];

			if (t->pid || !ns_ids_match(&st, t->pe->ns_pid,
						    t->pe->n_ns_pid))
				continue;
			pr_debug("PID %u is PID %d here\n", t->pe->pid,
				 queue[head]);
			t->pid = queue[head];
			found++;
			break;
		}
		proc_status_free(&st);
	}
	for (i = 0; i < tree->n_tasks; i++)
		if (!tree->tasks[i].pid)
			pr_err("PID %u is not in the new PID namespace\n",
			       tree->tasks[i].pe->pid);
	ret = found == tree->n_tasks ? 0 : -1;
out:
	free(queue);
	return ret;
}

int pstree_create(struct rst_tree *tree)
{
	struct rst_sync *s;
	pid_t root;
	int ph;

	if (sync_setup(tree) || create_root(tree))
		return -1;
	/* the child of ours whose death ends the tree */
	root = opts.pidns ? tree->init_pid : tree->nodes[0].pid;
	s = tree->sync;
	for (ph = PH_CREATE; ph < PH_NR; ph++) {
		__atomic_store_n(&s->phase, ph, __ATOMIC_RELEASE);
		futex_wake_all(&s->phase);
		if (sync_wait(tree, ph, ph == PH_EXIT ? tree->n_tasks :
							tree->n_nodes, root))
			return -1;
	}
	if (opts.pidns && find_host_pids(tree))
		return -1;
	return open_pidfds(tree);
}

/*
 * The tree is rebuilt: with --pidns, PID 1 now mounts the namespace's own
 * /proc, so that every task reads there what the original read in its /proc.
 */
int pstree_finish(struct rst_tree *tree)
{
	struct rst_sync *s = tree->sync;
	uint64_t deadline = now_us() + TREE_TIMEOUT_MS * 1000ULL;
	uint32_t state;
	int status;

	if (!opts.pidns)
		return 0;
	__atomic_store_n(&s->init_proc, INIT_PROC_MOUNT, __ATOMIC_RELEASE);
	futex_wake_all(&s->init_proc);
	for (;;) {
		state = __atomic_load_n(&s->init_proc, __ATOMIC_ACQUIRE);
		if (state == INIT_PROC_DONE)
			return 0;
		if (state == INIT_PROC_FAILED) {
			errno = s->init_errno;
			pr_perror("PID 1 of the new namespace can't mount its /proc");
			return -1;
		}
		if (waitpid(tree->init_pid, &status, WNOHANG | __WALL) ==
		    tree->init_pid) {
			pr_err("PID 1 of the new namespace (PID %d) died (status %#x)\n",
			       tree->init_pid, status);
			tree->init_pid = 0;
			return -1;
		}
		if (now_us() > deadline) {
			pr_err("Timed out waiting for PID 1 of the new namespace to mount /proc\n");
			return -1;
		}
		futex(&s->init_proc, FUTEX_WAIT, state, 50);
	}
}

static void node_unborn(struct rst_tree *tree, pid_t pid)
{
	size_t i;

	for (i = 0; i < tree->n_nodes; i++)
		if (tree->nodes[i].pid == pid)
			tree->sync->born[i] = 0;
}

/*
 * Kill every task that was born, and reap them all: they are our
 * descendants and we are a subreaper, so each comes to us in the end.
 */
void pstree_kill(struct rst_tree *tree)
{
	int status, tries, n = 0;
	size_t i;
	pid_t pid;

	if (!tree->sync)
		return;
	for (tries = 0; tries < 500; tries++) {
		/*
		 * --pidns: the image's PIDs are other processes here; PID 1's
		 * death kills the namespace, whose traced tasks we reap below
		 */
		if (opts.pidns && !tries && tree->init_pidfd >= 0 &&
		    !sys_pidfd_send_signal(tree->init_pidfd, SIGKILL, NULL, 0))
			n++;
		for (i = 0; !opts.pidns && i < tree->n_nodes; i++)
			if (tree->sync->born[i] &&
			    !kill(tree->nodes[i].pid, SIGKILL) && !tries)
				n++;
		while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
			node_unborn(tree, pid);
		if (pid < 0 && errno == ECHILD)
			break;
		usleep(10000);
	}
	if (n && opts.pidns)
		pr_err("Killed the half-restored tree's PID namespace\n");
	else if (n)
		pr_err("Killed the %d half-restored tasks\n", n);
}

void pstree_free(struct rst_tree *tree)
{
	size_t i;

	if (tree->sync)
		munmap(tree->sync, sizeof(*tree->sync) +
					   tree->n_nodes * sizeof(uint32_t));
	if (tree->ctl_pidfd > 0)
		close(tree->ctl_pidfd);
	if (tree->init_pidfd > 0)
		close(tree->init_pidfd);
	for (i = 0; i < tree->n_entries; i++)
		protobuf_c_message_free_unpacked(&tree->entries[i]->base, NULL);
	free(tree->entries);
	free(tree->nodes);
}
