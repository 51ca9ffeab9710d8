// SPDX-License-Identifier: GPL-2.0-only
/*
 * dump: freeze the tree, collect every task's state, write the images, then
 * kill the tree or let it go. Until the images are complete nothing is done
 * to a task that detaching would not undo, so a failed dump leaves the tree
 * running as it was. Images are written into a fresh directory inside the
 * images directory and moved into place only once all are complete, so a
 * failed dump leaves an earlier dump there intact.
 *
 * The work is done by a child of the criu-lite process the user started:
 * killing that process (even with SIGKILL) cancels the dump, and the worker,
 * which holds the tree, puts every task back as it was before it exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "page-xfer.h"
#include "stage.h"
#include "task.h"

#define DUMP_SCRATCH	4096u

uint64_t scratch_put(struct remote *r, size_t off, const void *buf, size_t len)
{
	if (off + len > r->scratch_len) {
		pr_err("PID %d: %zu bytes don't fit the %zu-byte scratch area\n",
		       r->pid, off + len, r->scratch_len);
		return 0;
	}
	if (remote_write(r->pid, r->scratch + off, buf, len))
		return 0;
	return r->scratch + off;
}

/* A syscall instruction in the task to inject through: the vdso has some. */
static int find_syscall_insn(struct dump_task *t, uint64_t *ip)
{
	static const unsigned char insn[2] = { 0x0f, 0x05 };
	int pass;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < t->mm->n_vmas; i++) {
			const VmaEntry *v = t->mm->vmas[i];
			size_t len = v->end - v->start;
			unsigned char *buf, *hit;

			if (!(v->prot & PROT_EXEC) || !(v->prot & PROT_READ) ||
			    (pass == 0) != (v->kind == VMA_KIND__VMA_VDSO))
				continue;
			if (len > (16u << 20))
				len = 16u << 20;
			buf = malloc(len);
			if (!buf || remote_read(t->pid, v->start, buf, len)) {
				free(buf);
				continue;
			}
			hit = memmem(buf, len, insn, sizeof(insn));
			if (hit)
				*ip = v->start + (hit - buf);
			free(buf);
			if (hit)
				return 0;
		}
	}
	pr_err("PID %d: no syscall instruction found to run syscalls through\n",
	       t->pid);
	return -1;
}

/*
 * Scratch memory for injected syscalls' arguments: below the stack pointer
 * (past the red zone), which the ABI treats as garbage, so the task's
 * mappings stay as they are. If that is not mapped, map a page and unmap it
 * afterwards.
 */
static int scratch_setup(struct dump_task *t, uint64_t sp)
{
	struct remote *r = &t->remote;
	uint64_t lo = (sp - 128 - DUMP_SCRATCH - 64) & ~63ULL;
	const VmaEntry *v = mm_find_vma(t->mm, lo);

	r->scratch_len = DUMP_SCRATCH;
	if (v && v == mm_find_vma(t->mm, sp - 1) && (v->prot & PROT_WRITE) &&
	    v->kind == VMA_KIND__VMA_ANON) {
		t->scratch_saved = malloc(DUMP_SCRATCH);
		if (!t->scratch_saved ||
		    remote_read(r->pid, lo, t->scratch_saved, DUMP_SCRATCH))
			return -1;
		r->scratch = lo;
		return 0;
	}
	return scratch_map(t);
}

int scratch_map(struct dump_task *t)
{
	struct remote *r = &t->remote;
	long ret;

	if (remote_syscall(r, &ret, SYS_mmap, 0, DUMP_SCRATCH,
			   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0))
		return -1;
	if (ret < 0 && ret > -4096) {
		errno = -ret;
		pr_perror("TID %d: can't map a scratch page", r->pid);
		return -1;
	}
	r->scratch = ret;
	r->scratch_len = DUMP_SCRATCH;
	t->scratch_mapped = 1;
	return 0;
}

int scratch_release(struct dump_task *t)
{
	struct remote *r = &t->remote;
	long ret = 0;
	int err = 0;

	if (t->scratch_saved) {
		err = remote_write(r->pid, r->scratch, t->scratch_saved,
				   DUMP_SCRATCH);
		free(t->scratch_saved);
		t->scratch_saved = NULL;
	} else if (t->scratch_mapped) {
		err = remote_syscall(r, &ret, SYS_munmap, r->scratch,
				     DUMP_SCRATCH, 0, 0, 0, 0) || ret;
		t->scratch_mapped = 0;
	}
	return err ? -1 : 0;
}

/*
 * What only the thread itself can tell: altstack, clear_tid address...; and,
 * through the leader, what only the process can: handlers, brk, timers...
 * Every signal is blocked meanwhile: one that arrives while the tree is
 * frozen (a SIGCHLD from a child that exited just before the freeze) would
 * otherwise stop the injected call; it stays pending and is dumped as such.
 */
int task_remote_begin(struct dump_task *t, pid_t tid, uint64_t *blocked)
{
	/*
	 * Everything blocked while injected syscalls run: a signal pending
	 * now (a child that just exited sent SIGCHLD) must stay pending, as
	 * it is dumped, and not be delivered into the middle of them.
	 */
	if (ptrace_get_sigmask(tid, blocked) || ptrace_set_sigmask(tid, ~0ULL))
		return -1;
	if (remote_start(&t->remote, tid, REMOTE_SYSCALL_STOPS, t->syscall_ip)) {
		ptrace_set_sigmask(tid, *blocked);
		return -1;
	}
	return 0;
}

int task_remote_end(struct dump_task *t, pid_t tid, uint64_t blocked)
{
	int ret = scratch_release(t);

	if (remote_finish(&t->remote) || ptrace_set_sigmask(tid, blocked))
		ret = -1;
	return ret;
}

static int dump_thread_remote(struct dump_task *t, size_t i)
{
	ThreadCoreEntry *tc = task_thread_core(t->core, i);
	pid_t tid = t->tids[i];
	int ret;

	if (task_remote_begin(t, tid, &tc->blocked))
		return -1;
	ret = scratch_setup(t, tc->regs->sp);
	if (!ret && i == 0)
		ret = signals_dump(t) || creds_dump(t) || misc_dump(t) ||
		      mm_dump_fields(t);
	if (!ret)
		ret = signals_dump_thread(t, tid, tc) ||
		      misc_dump_thread(t, tid, tc);
	if (task_remote_end(t, tid, tc->blocked))
		ret = -1;
	return ret ? -1 : 0;
}

static ThreadCoreEntry *alloc_thread_core(struct dump_task *t, pid_t tid)
{
	ThreadCoreEntry *tc = arena_alloc(t->arena, sizeof(*tc));

	if (!tc)
		return NULL;
	thread_core_entry__init(tc);
	tc->tid = tid;
	return tc;
}

static int alloc_core(struct dump_task *t)
{
	size_t i;

	t->core = arena_alloc(t->arena, sizeof(*t->core));
	if (!t->core)
		return -1;
	task_core_entry__init(t->core);
	t->core->pid = t->pid;
	t->core->thread = alloc_thread_core(t, t->pid);
	if (!t->core->thread)
		return -1;
	t->core->n_threads = t->n_tids - 1;
	t->core->threads = arena_alloc(t->arena,
				       t->n_tids * sizeof(*t->core->threads));
	if (!t->core->threads)
		return -1;
	for (i = 1; i < t->n_tids; i++) {
		t->core->threads[i - 1] = alloc_thread_core(t, t->tids[i]);
		if (!t->core->threads[i - 1])
			return -1;
	}
	return 0;
}

/* Everything but memory contents and files, for one process. */
static int dump_task_state(struct dump_task *t)
{
	size_t i;

	if (alloc_core(t))
		return -1;
	for (i = 0; i < t->n_tids; i++)
		if (regs_dump(t->tids[i], t->wchan[i].fn,
			      task_thread_core(t->core, i),
			      t->arena))
			return -1;
	if (mm_dump_layout(t) || find_syscall_insn(t, &t->syscall_ip))
		return -1;
	for (i = 0; i < t->n_tids; i++)
		if (dump_thread_remote(t, i))
			return -1;
	return 0;
}

static int write_inventory(int dirfd, const struct dump_tree *tree)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	const struct dump_task *root = tree->tasks[0];
	char *features[4];
	struct utsname u;
	struct timespec ts;
	size_t i, n = 0;

	uname(&u);
	clock_gettime(CLOCK_REALTIME, &ts);
	inv.format_version = IMG_FORMAT_VERSION;
	inv.root_pid = root->pid;
	inv.kernel = u.release;
	inv.arch = u.machine;
	inv.page_size = getpagesize();
	inv.dump_time_us = ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
	features[n++] = "ptrace-seize";
	for (i = 0; i < root->mm->n_vmas; i++)
		if (root->mm->vmas[i]->kind == VMA_KIND__VMA_VVAR_VCLOCK) {
			features[n++] = "vvar_vclock";
			break;
		}
	if (root->core && root->core->thread->rseq)
		features[n++] = "rseq";
	inv.features = features;
	inv.n_features = n;
	track_fill_inventory(&inv);
	return write_one_msg(dirfd, IMG_INVENTORY, 0, &inv.base);
}

/* RELEASED: when a pre-dump let the tree run again (0: it is still frozen) */
static int write_stats(int dirfd, const struct dump_stats *st, uint64_t t0,
		       uint64_t frozen, uint64_t seized, uint64_t released)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	uint64_t now = now_us();

	ds.freezing_time_us = seized - frozen;
	ds.frozen_time_us = (released ? released : now) - seized;
	ds.memdump_time_us = st->memdump_us;
	ds.total_time_us = now - t0;
	ds.pages_scanned = st->pages_scanned;
	ds.pages_skipped = st->pages_skipped;
	ds.pages_written = st->pages_written;
	ds.image_bytes = st->image_bytes;
	if (opts.prev_dir) {
		ds.has_pages_in_prev = 1;
		ds.pages_in_prev = st->pages_in_prev;
	}
	pr_summary("%s: frozen %.3f ms (memory %.3f ms), %" PRIu64 " pages written, %" PRIu64 " in the previous dump, %" PRIu64 " scanned, %" PRIu64 " skipped, %.1f MiB of images, %.3f ms in all\n",
		opts.pre_dump ? "Pre-dump" : "Dump",
		ds.frozen_time_us / 1e3, ds.memdump_time_us / 1e3,
		ds.pages_written, st->pages_in_prev, ds.pages_scanned,
		ds.pages_skipped, ds.image_bytes / 1048576.0,
		ds.total_time_us / 1e3);
	return write_one_msg(dirfd, IMG_STATS_DUMP, 0, &ds.base);
}

static void stats_add(struct dump_stats *st, const struct dump_stats *ts)
{
	st->pages_scanned += ts->pages_scanned;
	st->pages_skipped += ts->pages_skipped;
	st->pages_written += ts->pages_written;
	st->pages_in_prev += ts->pages_in_prev;
	st->image_bytes += ts->image_bytes;
	st->memdump_us += ts->memdump_us;
}

static int write_images(int dirfd, struct dump_tree *tree,
			struct dump_stats *st)
{
	size_t i;

	if (files_dump(dirfd, tree) || shmem_dump(dirfd, tree, st))
		return -1;
	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];
		struct dump_stats ts = {};

		if (t->zombie)
			continue;
		if (pages_dump(dirfd, t, &ts))
			return -1;
		stats_add(st, &ts);
		if (write_one_msg(dirfd, IMG_CORE, t->pid, &t->core->base) ||
		    write_one_msg(dirfd, IMG_MM, t->pid, &t->mm->base))
			return -1;
		if (dump_cancelled())
			return -1;
	}
	return pstree_dump(dirfd, tree);
}

/* Set by the signal that says the user's criu-lite process is gone. */
static volatile sig_atomic_t cancelled;

static void cancel_handler(int sig)
{
	(void)sig;
	cancelled = 1;
}

int dump_cancelled(void)
{
	static int said;

	if (cancelled && !said++)
		pr_err("The dump was cancelled: criu-lite was killed or interrupted\n");
	return cancelled;
}

/* Seize the tree: when it started, when all was frozen. */
static int freeze(struct dump_tree *tree, uint64_t *frozen, uint64_t *seized)
{
	*frozen = now_us();
	if (tree_seize(tree, opts.pid) || pstree_check(tree))
		return -1;
	*seized = now_us();
	return 0;
}

static int dump_tree(struct image_stage *s, struct dump_tree *tree)
{
	struct dump_stats st = {};
	uint64_t t0 = now_us(), frozen, seized;
	size_t i, nr_live = 0;
	int dirfd = s->fd;

	if (freeze(tree, &frozen, &seized))
		return -1;
	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];

		if (t->zombie)
			continue;
		nr_live++;
		if (dump_task_state(t) || dump_cancelled())
			return -1;
	}
	pr_info("Seized %zu processes (%zu zombies) under PID %d\n", nr_live,
		tree->n - nr_live, opts.pid);
	if (track_dump_start(tree, s->dirfd) || write_images(dirfd, tree, &st) ||
	    track_dump_rearm(tree) || track_handover(tree) ||
	    write_stats(dirfd, &st, t0, frozen, seized, 0) ||
	    write_inventory(dirfd, tree))
		return -1;
	return 0;
}

/*
 * The tree runs while a pre-dump copies its memory: a task that exited
 * meanwhile has nothing more to give. Its pages so far are dropped; with no
 * mm image of it here, the next dump takes it in full if it is still there.
 */
static int pre_dump_gone(struct image_stage *s, struct dump_task *t)
{
	char name[64];

	if (pidref_alive(&t->ref))
		return 0;
	pr_info("PID %d exited during the pre-dump: left out of it\n", t->pid);
	snprintf(name, sizeof(name), PAGES_IMG_FMT, t->mm->pages_id);
	unlinkat(s->fd, name, 0);
	image_name(IMG_PAGEMAP, t->mm->pages_id, name, sizeof(name));
	unlinkat(s->fd, name, 0);
	return 1;
}

/*
 * pre-dump: frozen only to take each task's layout, start (or go on with)
 * write tracking and read its pagemap; the pages are copied while the tree
 * runs. The images hold memory only and are no restore point of their own:
 * the next dump takes from them what was not written since.
 */
static int pre_dump_tree(struct image_stage *s, struct dump_tree *tree)
{
	struct dump_stats st = {};
	uint64_t t0 = now_us(), frozen, seized, released;
	size_t i;

	if (freeze(tree, &frozen, &seized))
		return -1;
	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];

		if (t->zombie)
			continue;
		if (mm_dump_layout(t) || find_syscall_insn(t, &t->syscall_ip))
			return -1;
		t->mm->pages_id = t->pid;
	}
	if (track_dump_start(tree, s->dirfd))
		return -1;
	for (i = 0; i < tree->n; i++)
		if (!tree->tasks[i]->zombie && pages_snapshot(tree->tasks[i]))
			return -1;
	if (track_dump_rearm(tree))
		return -1;
	tree_detach(tree);
	released = now_us();
	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];
		struct dump_stats ts = {};

		if (t->zombie || pre_dump_gone(s, t))
			continue;
		if (pages_dump(s->fd, t, &ts)) {
			if (pre_dump_gone(s, t))
				continue;
			return -1;
		}
		if (write_one_msg(s->fd, IMG_MM, t->pid, &t->mm->base) ||
		    dump_cancelled())
			return -1;
		stats_add(&st, &ts);
	}
	if (track_handover(tree) ||
	    write_stats(s->fd, &st, t0, frozen, seized, released) ||
	    write_inventory(s->fd, tree))
		return -1;
	return 0;
}

static int stage_send(struct image_stage *s, const char *name)
{
	return page_server_send_file(s->fd, name);
}

/*
 * With a page server: the pages images are there already; every other image
 * goes there too, inventory.img last, and the server's word that all is on
 * disk comes back before the tree is killed.
 */
static int page_server_commit(struct image_stage *s)
{
	if (!page_server_active())
		return 0;
	if (stage_for_each(s, stage_send) ||
	    page_server_send_file(s->fd, "inventory.img"))
		return -1;
	return page_server_finish();
}

/* The worker: returns the exit status of the dump. */
static int dump_run(const char *dir)
{
	struct arena arena = {};
	struct dump_tree tree = { .arena = &arena };
	struct image_stage stage;
	int ret = -1, kill;

	if (stage_open(&stage, dir, "dump"))
		return 1;
	/* a wrong address or port fails before anything is frozen */
	if (page_server_connect()) {
		pr_err("%s of PID %d not started: it runs on untouched\n",
		       opts.pre_dump ? "Pre-dump" : "Dump", opts.pid);
		stage_abort(&stage);
		return 1;
	}
	if ((opts.pre_dump ? pre_dump_tree(&stage, &tree) :
			     dump_tree(&stage, &tree)) || dump_cancelled() ||
	    page_server_commit(&stage) || stage_commit(&stage)) {
		pr_err("%s of PID %d failed; it keeps running\n",
		       opts.pre_dump ? "Pre-dump" : "Dump", opts.pid);
		/* cleaned up first: once the tree runs, the dump is over */
		stage_abort(&stage);
		track_dump_done(&tree, 0);
		files_dump_release(0);
		tree_release(&tree, 0);
		files_dump_unlock(0);
		goto out;
	}
	track_dump_done(&tree, 1);
	kill = !opts.leave_running && !opts.pre_dump;
	files_dump_release(kill);
	tree_release(&tree, kill);
	files_dump_unlock(kill);
	pr_info("%s the tree of PID %d into %s\n",
		opts.pre_dump ? "Pre-dumped" : "Dumped", opts.pid, dir);
	ret = 0;
out:
	page_server_disconnect(ret);
	arena_free(&arena);
	return ret ? 1 : 0;
}

static int worker_setup(pid_t parent)
{
	struct sigaction sa = { .sa_handler = cancel_handler };
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM)) {
		pr_perror("Can't set the dump worker's parent-death signal");
		return -1;
	}
	if (getppid() != parent)
		cancelled = 1;
	return 0;
}

int cr_pre_dump(void)
{
	opts.pre_dump = 1;
	return cr_dump();
}

int cr_dump(void)
{
	pid_t parent = getpid(), worker;
	int status;

	if (opts.pid <= 0) {
		pr_err("No PID to dump: use -t PID\n");
		return 1;
	}
	worker = fork();
	if (worker < 0) {
		pr_perror("Can't start the dump worker");
		return 1;
	}
	if (!worker)
		_exit(worker_setup(parent) ? 1 : dump_run(opts.dir));
	/* the user's Ctrl-C reaches the worker too: it cancels, we report */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(worker, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("Can't wait for the dump worker %d", worker);
			return 1;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	pr_err("The dump worker died of signal %d\n", WTERMSIG(status));
	inet_dump_abandoned(opts.pid);
	return 1;
}
