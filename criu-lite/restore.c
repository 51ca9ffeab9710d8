// SPDX-License-Identifier: GPL-2.0-only
/*
 * restore: read and check every image first; then create the tree with
 * clone3(set_tid), every task at its PID (pstree.c), seize each one and
 * rebuild it from the outside by syscalls injected through a one-page
 * trampoline ("syscall; int3") mapped where no dumped layout has anything;
 * threads are cloned the same way. Any failure kills what was created.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "syscalls.h"
#include "task.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define TRAMP_LOW	0x10000ULL	/* above the usual mmap_min_addr */

static int load_fdinfo(struct rst_task *t)
{
	struct cr_img *img = open_image(t->dirfd, IMG_FDINFO, t->pid);
	ProtobufCMessage *msg;
	size_t cap = 0;
	int ret;

	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &fdinfo_entry__descriptor, &msg)) == 1) {
		FdinfoEntry *fe = (FdinfoEntry *)msg;

		if (t->n_fds && fe->fd <= t->fds[t->n_fds - 1]->fd) {
			pr_err("Image %s: fd %u out of order\n", img->name, fe->fd);
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = -1;
			break;
		}
		if (t->n_fds == cap) {
			FdinfoEntry **n;

			cap = cap ? cap * 2 : 64;
			n = realloc(t->fds, cap * sizeof(*n));
			if (!n) {
				protobuf_c_message_free_unpacked(msg, NULL);
				ret = -1;
				break;
			}
			t->fds = n;
		}
		t->fds[t->n_fds++] = fe;
	}
	img_close(img);
	return ret;
}

static int check_inventory(const InventoryEntry *inv)
{
	struct utsname u;

	uname(&u);
	if (inv->format_version != IMG_FORMAT_VERSION) {
		pr_err("Image inventory.img: format version %u, this criu-lite reads %u\n",
		       inv->format_version, IMG_FORMAT_VERSION);
		return -1;
	}
	if (strcmp(inv->arch, u.machine)) {
		pr_err("Image inventory.img: dumped on %s, this is %s\n",
		       inv->arch, u.machine);
		return -1;
	}
	if (inv->page_size != (uint32_t)getpagesize()) {
		pr_err("Image inventory.img: page size %u, this machine's is %d\n",
		       inv->page_size, getpagesize());
		return -1;
	}
	if (strcmp(inv->kernel, u.release))
		pr_info("Dumped on kernel %s, restoring on %s\n", inv->kernel,
			u.release);
	return 0;
}

static int check_core(const struct rst_task *t)
{
	const PstreeEntry *pe = t->pe;
	size_t i;

	if (t->core->pid != (uint32_t)t->pid || !t->core->thread ||
	    t->core->thread->tid != (uint32_t)t->pid ||
	    t->core->n_threads + 1 != pe->n_threads) {
		pr_err("Image core-%d.img is for PID %u with %zu threads, pstree.img says PID %d with %zu\n",
		       t->pid, t->core->pid, t->core->n_threads + 1, t->pid,
		       pe->n_threads);
		return -1;
	}
	for (i = 0; i < pe->n_threads; i++) {
		const ThreadCoreEntry *tc = task_thread_core(t->core, i);

		if (tc->tid != pe->threads[i] || tc->xstate.len < 576) {
			pr_err("Image core-%d.img: thread %zu is TID %u with %zu bytes of xstate, pstree.img says TID %u\n",
			       t->pid, i, tc->tid, tc->xstate.len,
			       pe->threads[i]);
			return -1;
		}
	}
	if (!t->core->creds || !t->core->cwd || !t->core->root) {
		pr_err("Image core-%d.img lacks credentials or fs state\n", t->pid);
		return -1;
	}
	return 0;
}

/* Everything a process needs is read and checked before anything is created. */
static int load_task_images(struct rst_task *t)
{
	char img[64];

	t->core = (TaskCoreEntry *)read_one_msg(t->dirfd, IMG_CORE, t->pid);
	t->mm = (MmEntry *)read_one_msg(t->dirfd, IMG_MM, t->pid);
	if (!t->core || !t->mm || check_core(t))
		return -1;
	if (mm_validate(t->mm, image_name(IMG_MM, t->pid, img, sizeof(img))) ||
	    pages_validate(t->dirfd, t->mm, 0) || load_fdinfo(t) ||
	    files_validate(t->dirfd, t))
		return -1;
	if (access(t->core->cwd, X_OK)) {
		pr_perror("PID %d: its working directory %s", t->pid,
			  t->core->cwd);
		return -1;
	}
	return 0;
}

static int load_images(struct rst_tree *tree, int dirfd, const char *dir)
{
	/* the previous dumps: open until criu-lite exits */
	static struct img_chain chain;
	InventoryEntry *inv;
	size_t i, n = 0;
	int ret;

	inv = (InventoryEntry *)read_one_msg(dirfd, IMG_INVENTORY, 0);
	if (!inv) {
		pr_err("%s holds no complete dump (no valid inventory.img)\n",
		       dir);
		return -1;
	}
	ret = check_inventory(inv);
	if (!ret && inv->pre_dump) {
		pr_err("%s holds a pre-dump, memory copied while the tree ran: restore the dump made on it with --prev-images-dir\n",
		       dir);
		ret = -1;
	}
	if (!ret)
		ret = track_chain_open(dirfd, dir, inv, &chain);
	protobuf_c_message_free_unpacked(&inv->base, NULL);
	if (ret || pstree_load(dirfd, tree))
		return -1;
	tree->tasks = calloc(tree->n_entries, sizeof(*tree->tasks));
	if (!tree->tasks)
		return -1;
	for (i = 0; i < tree->n_entries; i++) {
		struct rst_task *t = &tree->tasks[n];

		if (tree->entries[i]->zombie)
			continue;
		t->pe = tree->entries[i];
		t->pid = t->pe->pid;
		t->vpid = t->pe->ns_pid[t->pe->n_ns_pid - 1];
		t->pidfd = -1;
		t->tids = calloc(t->pe->n_threads, sizeof(*t->tids));
		if (!t->tids)
			return -1;
		/* as the image has them; --pidns finds them once they exist */
		memcpy(t->tids, t->pe->threads, t->pe->n_threads * sizeof(pid_t));
		t->dirfd = dirfd;
		t->dir = dir;
		t->shm = &tree->shm;
		t->chain = &chain;
		tree->n_tasks = ++n;
		if (load_task_images(t) || track_task_resolve(t))
			return -1;
	}
	return shmem_load(tree, dirfd);
}

/* Live nodes point at their task. */
static void link_tasks(struct rst_tree *tree)
{
	size_t i, n = 0;

	for (i = 0; i < tree->n_entries; i++)
		if (tree->nodes[i].kind == NODE_LIVE)
			tree->nodes[i].task = &tree->tasks[n++];
}

static void free_task_images(struct rst_task *t)
{
	size_t i;

	if (t->core)
		protobuf_c_message_free_unpacked(&t->core->base, NULL);
	if (t->mm)
		protobuf_c_message_free_unpacked(&t->mm->base, NULL);
	for (i = 0; i < t->n_fds; i++)
		protobuf_c_message_free_unpacked(&t->fds[i]->base, NULL);
	free(t->fds);
	free(t->tids);
	/* cold marking frees them; a restore that failed before did not */
	free(t->cold.v);
	track_task_free(t);
	if (t->pidfd >= 0)
		close(t->pidfd);
}

/* The lowest address at or above CAND where LEN is free in every layout. */
static uint64_t tree_free_gap(struct rst_tree *tree, uint64_t len,
			      uint64_t cand)
{
	uint64_t prev;
	size_t i;

	do {
		prev = cand;
		for (i = 0; i < tree->n_tasks && cand; i++)
			cand = mm_free_gap(tree->tasks[i].mm, len, cand);
	} while (cand && cand != prev);
	return cand;
}

/*
 * The trampoline page and the scratch area after it, mapped in the restorer
 * so every task inherits them, at an address free in every layout.
 */
static int tramp_setup(struct rst_tree *tree)
{
	static const unsigned char code[] = { 0x0f, 0x05, 0xcc }; /* syscall; int3 */
	size_t page = getpagesize(), len = page + SCRATCH_SIZE, i;
	uint64_t cand = TRAMP_LOW;
	void *p;

	for (;;) {
		cand = tree_free_gap(tree, len, cand);
		if (!cand) {
			pr_err("No room for the restore trampoline in the dumped layouts\n");
			return -1;
		}
		p = mmap((void *)cand, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == (void *)cand)
			break;
		if (p != MAP_FAILED)
			munmap(p, len);
		cand += 1ULL << 20;
	}
	memcpy(p, code, sizeof(code));
	if (mprotect(p, page, PROT_READ | PROT_EXEC)) {
		pr_perror("Can't make the trampoline executable");
		munmap(p, len);
		return -1;
	}
	for (i = 0; i < tree->n_tasks; i++) {
		struct rst_task *t = &tree->tasks[i];

		t->tramp = cand;
		t->remote.scratch = cand + page;
		t->remote.scratch_len = SCRATCH_SIZE;
	}
	pr_debug("Trampoline at %#" PRIx64 "\n", cand);
	return 0;
}

static void tramp_release(struct rst_tree *tree)
{
	if (tree->n_tasks && tree->tasks[0].tramp)
		munmap((void *)tree->tasks[0].tramp,
		       getpagesize() + SCRATCH_SIZE);
}

/* The new task waits for us in the tree's last step: stop it there. */
static int seize_task(struct rst_task *t)
{
	t->tids[0] = t->pid;
	if (ptrace_seize_stop(t->pid, PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE)) {
		if (errno == ESRCH)
			pr_err("The new PID %d is gone\n", t->pid);
		else if (errno == EPERM)
			pr_perror("Can't seize the new PID %d", t->pid);
		return -1;
	}
	t->traced = 1;
	return 0;
}

/*
 * A thread is cloned by the leader through the trampoline (its registers
 * are set after: it never runs the code after the syscall) and rebuilt the
 * same way. It shares the leader's scratch area; they take turns.
 */
/* Thread I's TID in its own PID namespace, and set_tid (innermost first). */
static pid_t thread_ns_tids(const struct rst_task *t, size_t i, pid_t *set_tid)
{
	size_t levels = t->pe->n_ns_pid, l;
	const uint32_t *row = t->pe->ns_tids + i * levels;

	for (l = 0; l < levels; l++)
		set_tid[l] = row[levels - 1 - l];
	return row[levels - 1];
}

static int create_thread(struct rst_task *t, size_t i,
			 const ThreadCoreEntry *tc)
{
	pid_t tid = tc->tid, got, set_tid[PROC_MAX_NS_LEVELS];
	struct clone_args args = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			 CLONE_THREAD | CLONE_SYSVSEM,
		.set_tid_size = t->pe->n_ns_pid,
	};
	uint64_t addr;

	thread_ns_tids(t, i, set_tid);
	addr = scratch_put(&t->remote, 0, set_tid,
			   args.set_tid_size * sizeof(pid_t));
	args.set_tid = addr;
	addr = scratch_put(&t->remote, 64, &args, sizeof(args));
	if (!addr || remote_clone(&t->remote, addr, sizeof(args), &got)) {
		/* taken since the check before the tree was created */
		if (addr && errno == EEXIST)
			pid_report_taken(tid);
		return -1;
	}
	t->tids[i] = got;
	if (!opts.pidns) {
		if (got == tid)
			return 0;
		pr_err("PID %d: clone3 gave TID %d instead of %d\n", t->pid, got,
		       tid);
		return -1;
	}
	/* --pidns: GOT is the TID here; its NSpid must be the image's */
	switch (pstree_ns_tid_check(got, t->pe->ns_tids + i * t->pe->n_ns_pid,
				    t->pe->n_ns_pid)) {
	case 1:
		return 0;
	case 0:
		pr_err("PID %d: clone3 gave TID %d, which is not TID %d in the new PID namespace\n",
		       t->pid, got, tid);
	}
	return -1;
}

static int rebuild_thread(struct rst_task *t, size_t i)
{
	const ThreadCoreEntry *tc = task_thread_core(t->core, i);
	pid_t tid, vtid, set_tid[PROC_MAX_NS_LEVELS];
	struct remote leader = t->remote;
	int ret;

	vtid = thread_ns_tids(t, i, set_tid);
	if (create_thread(t, i, tc))
		return -1;
	tid = t->tids[i];	/* as we see it */
	ret = remote_start(&t->remote, tid, REMOTE_BREAKPOINT, t->tramp) ||
	      ptrace_set_sigmask(tid, ~0ULL) || misc_restore_thread(t, tc) ||
	      signals_restore_thread(t, vtid, tc) || creds_restore(t) ||
	      regs_restore(tid, tc) || ptrace_set_sigmask(tid, tc->blocked);
	t->remote = leader;
	if (ret)
		pr_err("PID %d: can't restore thread %u\n", t->pid, tc->tid);
	return ret ? -1 : 0;
}

/* Rebuild the stopped child into the dumped task. */
static int rebuild_task(struct rst_task *t)
{
	struct remote *r = &t->remote;
	size_t i;

	if (remote_start(r, t->pid, REMOTE_BREAKPOINT, t->tramp))
		return -1;
	/* the restorer's stack is about to go: syscalls run on the scratch top */
	r->saved.rsp = r->scratch + r->scratch_len - 64;
	if (ptrace_set_sigmask(t->pid, ~0ULL))
		return -1;
	if (misc_restore(t) || files_close_inherited(t) || mm_restore_layout(t) ||
	    pages_restore(t) || mm_restore_finish(t) || mm_restore_fields(t) ||
	    rlimits_restore(t) || files_restore(t, t->dirfd) ||
	    misc_restore_late(t) || signals_restore(t) ||
	    misc_restore_thread(t, t->core->thread) ||
	    signals_restore_thread(t, t->vpid, t->core->thread))
		return -1;
	for (i = 1; i < t->pe->n_threads; i++)
		if (rebuild_thread(t, i))
			return -1;
	if (creds_restore(t) || misc_restore_final(t))
		return -1;
	if (remote_unmap_trampoline(r, t->tramp, getpagesize() + SCRATCH_SIZE))
		return -1;
	if (regs_restore(t->pid, t->core->thread))
		return -1;
	r->started = 0;
	return ptrace_set_sigmask(t->pid, t->core->thread->blocked);
}

/* Every thread of every task goes at once, once all are rebuilt. */
static int detach_all(struct rst_tree *tree)
{
	int ret = 0;
	size_t i, j;

	for (i = 0; i < tree->n_tasks; i++) {
		struct rst_task *t = &tree->tasks[i];

		for (j = 0; j < t->pe->n_threads; j++)
			if (ptrace_detach(t->tids[j], 0))
				ret = -1;
		t->traced = 0;
	}
	return ret;
}

static int write_restore_stats(struct rst_tree *tree, uint64_t t0,
			       uint64_t fork_us)
{
	RestoreStatsEntry rs = RESTORE_STATS_ENTRY__INIT;
	size_t i;

	rs.fork_time_us = fork_us;
	rs.memfill_time_us = tree->shm.memfill_us;
	rs.pages_restored = tree->shm.pages_restored;
	for (i = 0; i < tree->n_tasks; i++) {
		rs.memfill_time_us += tree->tasks[i].memfill_us;
		rs.pages_restored += tree->tasks[i].pages_restored;
	}
	rs.total_time_us = now_us() - t0;
	rs.has_pages_marked_cold = rs.has_pages_paged_out = 1;
	rs.pages_marked_cold = tree->pages_cold;
	rs.pages_paged_out = tree->pages_pageout;
	pr_summary("Restore: %zu processes, fork %.3f ms, memory %.3f ms (%" PRIu64 " pages, %" PRIu64 " marked cold, %" PRIu64 " paged out), %.3f ms in all\n",
		tree->n_tasks, rs.fork_time_us / 1e3, rs.memfill_time_us / 1e3,
		rs.pages_restored, rs.pages_marked_cold, rs.pages_paged_out,
		rs.total_time_us / 1e3);
	/* a read-only image directory must not fail a good restore */
	if (write_one_msg(tree->tasks[0].dirfd, IMG_STATS_RESTORE, 0, &rs.base))
		pr_warn("Could not record restore statistics in %s\n",
			tree->tasks[0].dir);
	return 0;
}

/* The exit status to pass on: the root's, or --pidns's PID 1's (the same). */
static int wait_child(int pidfd, pid_t pid)
{
	siginfo_t si = {};

	while (waitid(P_PIDFD, pidfd, &si, WEXITED) < 0) {
		if (errno == EINTR)
			continue;
		pr_perror("Can't wait for PID %d", pid);
		return 1;
	}
	if (si.si_code == CLD_EXITED) {
		pr_info("PID %d exited with %d\n", pid, si.si_status);
		return si.si_status;
	}
	pr_info("PID %d was killed by signal %d\n", pid, si.si_status);
	return 128 + si.si_status;
}

static int restore_tree(struct rst_tree *tree)
{
	uint64_t t0 = now_us(), t_fork;
	size_t i;

	if (pstree_plan(tree) || pstree_pids_free(tree))
		return -1;
	link_tasks(tree);
	/* first: nothing else of ours may take the addresses they need */
	if (cow_plan(tree) || cow_reserve(tree) || tramp_setup(tree))
		return -1;
	/*
	 * Before the fork: in a user namespace of ours, the tasks may not
	 * take fds from criu-lite, but from their PID 1, which inherits them.
	 */
	if (files_create(tree))
		return -1;
	t_fork = now_us();
	if (pstree_create(tree))
		return -1;
	t_fork = now_us() - t_fork;
	files_set_ctl(tree->ctl_pidfd);
	for (i = 0; i < tree->n_tasks; i++)
		if (seize_task(&tree->tasks[i]))
			return -1;
	/* after the fork: the tasks need not inherit criu-lite's copies */
	if (shmem_create(tree, tree->tasks[0].dirfd))
		return -1;
	/*
	 * Processes sharing their parent's fd table first: mapping their files
	 * opens and closes them in that table, which would drop the POSIX
	 * locks the parent takes back with the table.
	 */
	for (i = 0; i < tree->n_tasks; i++)
		if (tree->tasks[i].pe->files_of && rebuild_task(&tree->tasks[i]))
			return -1;
	for (i = 0; i < tree->n_tasks; i++)
		if (!tree->tasks[i].pe->files_of &&
		    rebuild_task(&tree->tasks[i]))
			return -1;
	/* every task holds its fds: a pipe's other end is theirs alone now */
	files_release();
	/* while every task is stopped: no layout can change under the advice */
	if (coldmark_restore(tree) || pstree_finish(tree) ||
	    (opts.lazy_pages && lazy_hold()) || detach_all(tree))
		return -1;
	/* the tree runs: the daemon may prefetch */
	if (opts.lazy_pages && lazy_go())
		return -1;
	files_restored();
	/* every task maps what it uses now: criu-lite's mappings can go */
	shmem_release(&tree->shm);
	write_restore_stats(tree, t0, t_fork);
	return 0;
}

int cr_restore(void)
{
	struct rst_tree tree = { .ctl_pidfd = -1, .init_pidfd = -1 };
	char dir[PATH_MAX];
	int dirfd, ret = 1;
	size_t i;

	if (check_restore_kernel() || (opts.lazy_pages && lazy_probe()))
		return 1;
	if (!realpath(opts.dir, dir)) {
		pr_perror("Can't find the images directory %s", opts.dir);
		return 1;
	}
	dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dirfd < 0) {
		pr_perror("Can't open the images directory %s", dir);
		return 1;
	}
	if (load_images(&tree, dirfd, dir))
		goto out;
	/* before the tree: it serves faults of syscalls injected into it */
	if (opts.lazy_pages && lazy_start(dirfd))
		goto out;
	if (restore_tree(&tree)) {
		pr_err("Restore of PID %d failed\n", tree.entries[0]->pid);
		lazy_abort();
		pstree_kill(&tree);
		goto out;
	}
	/* from now on the tree's orphans go where they would have gone */
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	if (opts.pidns)
		pr_info("Restored the tree of PID %u in a new PID namespace, under its PID 1 (PID %d here); the root is PID %d here\n",
			tree.entries[0]->pid, tree.init_pid, tree.tasks[0].pid);
	else
		pr_info("Restored the tree of PID %d\n", tree.tasks[0].pid);
	/* a tree its supervisor doesn't hold is not the restore asked for */
	if (opts.pidfd_store && pidfd_store_send(&tree)) {
		pr_err("Restore of PID %d: the supervisor did not get every pidfd: killing the tree\n",
		       tree.entries[0]->pid);
		pstree_kill(&tree);
		goto out;
	}
	if (opts.lazy_pages && (opts.detach ? lazy_guard_detached(&tree) :
				lazy_guard_wait(&tree))) {
		if (opts.detach)
			pstree_kill(&tree);
		ret = opts.detach ? 1 : LAZY_LOST_STATUS;
		/* reap what was killed */
		if (!opts.detach)
			wait_child(opts.pidns ? tree.init_pidfd : tree.tasks[0].pidfd,
				   opts.pidns ? tree.init_pid : tree.tasks[0].pid);
		goto out;
	}
	if (opts.detach)
		ret = 0;
	else if (opts.pidns)
		ret = wait_child(tree.init_pidfd, tree.init_pid);
	else
		ret = wait_child(tree.tasks[0].pidfd, tree.tasks[0].pid);
out:
	tramp_release(&tree);
	shmem_release(&tree.shm);
	for (i = 0; i < tree.n_tasks; i++) {
		cow_free(&tree.tasks[i]);
		free_task_images(&tree.tasks[i]);
	}
	free(tree.tasks);
	pstree_free(&tree);
	close(dirfd);
	return ret;
}
