// SPDX-License-Identifier: GPL-2.0-only
/*
 * dump: seize the task, collect its state, write the images, then kill it
 * or let it go. Until the images are complete nothing is done to the task
 * that detaching would not undo, so a failed dump leaves it running as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "task.h"

#define DUMP_SCRATCH	4096u
#define PF_KTHREAD	0x00200000

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

static int open_images_dir(const char *dir)
{
	struct stat st;
	int fd;

	fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open the images directory %s", dir);
		return -1;
	}
	if (faccessat(fd, ".", W_OK, AT_EACCESS)) {
		pr_perror("Images directory %s is not writable", dir);
		goto err;
	}
	if (fstat(fd, &st))
		goto err;
	/* images hold the task's memory; the directory is the user's to lock */
	if (st.st_mode & 077)
		pr_warn("Images directory %s is mode %04o: others may read the dumped memory, use a 0700 directory\n",
			dir, st.st_mode & 07777);
	return fd;
err:
	close(fd);
	return -1;
}

static void remove_images(int dirfd, pid_t pid)
{
	static const int per_pid[] = { IMG_CORE, IMG_MM, IMG_PAGEMAP, IMG_FDINFO };
	char name[64];
	size_t i;

	unlinkat(dirfd, "inventory.img", 0);
	unlinkat(dirfd, "pstree.img", 0);
	unlinkat(dirfd, "reg-files.img", 0);
	unlinkat(dirfd, "stats-dump.img", 0);
	for (i = 0; i < ARRAY_SIZE(per_pid); i++)
		unlinkat(dirfd, image_name(per_pid[i], pid, name, sizeof(name)), 0);
	snprintf(name, sizeof(name), PAGES_IMG_FMT, pid);
	unlinkat(dirfd, name, 0);
}

static int has_children(pid_t pid)
{
	char name[64], buf[64];
	ssize_t n;

	snprintf(name, sizeof(name), "task/%d/children", pid);
	n = proc_read_file(pid, name, buf, sizeof(buf));
	return n != 0;
}

static int check_dumpable(struct dump_task *t, int seized)
{
	pid_t pid = t->pid;

	if (pid == getpid()) {
		pr_err("PID %d is criu-lite itself\n", pid);
		return -1;
	}
	if (proc_parse_stat(pid, &t->stat) || proc_parse_status(pid, &t->status))
		return -1;
	if (t->stat.flags & PF_KTHREAD) {
		pr_err("PID %d (%s) is a kernel thread\n", pid, t->stat.comm);
		return -1;
	}
	if (t->stat.state == 'Z' || t->stat.state == 'X') {
		pr_err("PID %d (%s) is a zombie: nothing to dump\n", pid,
		       t->stat.comm);
		return -1;
	}
	if (t->status.tgid != pid) {
		pr_err("PID %d is a thread of process %d: dump the process\n",
		       pid, t->status.tgid);
		return -1;
	}
	if (t->status.threads != 1) {
		pr_err("PID %d (%s) has %d threads: multi-threaded processes are not supported yet\n",
		       pid, t->stat.comm, t->status.threads);
		return -1;
	}
	if (has_children(pid)) {
		pr_err("PID %d (%s) has child processes: process trees are not supported yet\n",
		       pid, t->stat.comm);
		return -1;
	}
	if (t->stat.sid != pid) {
		pr_err("PID %d (%s) is not a session leader (session %d): run it under setsid\n",
		       pid, t->stat.comm, t->stat.sid);
		return -1;
	}
	if (t->stat.tty_nr) {
		pr_err("PID %d (%s) has a controlling terminal, which is not supported yet\n",
		       pid, t->stat.comm);
		return -1;
	}
	if (t->status.tracer_pid != (seized ? getpid() : 0)) {
		pr_err("PID %d (%s) is already traced by PID %d\n", pid,
		       t->stat.comm, t->status.tracer_pid);
		return -1;
	}
	return 0;
}

static int seize_task(struct dump_task *t)
{
	if (ptrace_seize_stop(t->pid)) {
		if (errno == EPERM)
			pr_err("Not permitted to trace PID %d: dump needs root (or CAP_SYS_PTRACE and CAP_CHECKPOINT_RESTORE)\n",
			       t->pid);
		return -1;
	}
	t->seized = 1;
	/* the pidfd names the process we checked; a recycled PID would differ */
	if (!pidref_alive(&t->ref)) {
		pr_err("PID %d exited while being seized\n", t->pid);
		return -1;
	}
	/* it may have changed between the checks and the stop */
	proc_status_free(&t->status);
	return check_dumpable(t, 1);
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
static int scratch_setup(struct dump_task *t)
{
	struct remote *r = &t->remote;
	uint64_t sp = t->core->thread->regs->sp;
	uint64_t lo = (sp - 128 - DUMP_SCRATCH - 64) & ~63ULL;
	const VmaEntry *v = mm_find_vma(t->mm, lo);
	long ret;

	r->scratch_len = DUMP_SCRATCH;
	if (v && v == mm_find_vma(t->mm, sp - 1) && (v->prot & PROT_WRITE) &&
	    v->kind == VMA_KIND__VMA_ANON) {
		t->scratch_saved = malloc(DUMP_SCRATCH);
		if (!t->scratch_saved ||
		    remote_read(t->pid, lo, t->scratch_saved, DUMP_SCRATCH))
			return -1;
		r->scratch = lo;
		return 0;
	}
	if (remote_syscall(r, &ret, SYS_mmap, 0, DUMP_SCRATCH,
			   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0))
		return -1;
	if (ret < 0 && ret > -4096) {
		errno = -ret;
		pr_perror("PID %d: can't map a scratch page", t->pid);
		return -1;
	}
	r->scratch = ret;
	t->scratch_mapped = 1;
	return 0;
}

static int scratch_release(struct dump_task *t)
{
	struct remote *r = &t->remote;
	long ret = 0;
	int err = 0;

	if (t->scratch_saved) {
		err = remote_write(t->pid, r->scratch, t->scratch_saved,
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

/* What only the task can tell: handlers, altstack, brk, timers... */
static int dump_remote_state(struct dump_task *t)
{
	uint64_t ip;
	int ret;

	if (find_syscall_insn(t, &ip) ||
	    remote_start(&t->remote, t->pid, REMOTE_SYSCALL_STOPS, ip))
		return -1;
	ret = scratch_setup(t);
	if (!ret)
		ret = signals_dump(t) || creds_dump(t) || misc_dump(t) ||
		      mm_dump_fields(t);
	if (scratch_release(t))
		ret = -1;
	if (remote_finish(&t->remote))
		ret = -1;
	return ret ? -1 : 0;
}

static int alloc_core(struct dump_task *t)
{
	t->core = arena_alloc(t->arena, sizeof(*t->core));
	if (!t->core)
		return -1;
	task_core_entry__init(t->core);
	t->core->thread = arena_alloc(t->arena, sizeof(*t->core->thread));
	if (!t->core->thread)
		return -1;
	thread_core_entry__init(t->core->thread);
	t->core->pid = t->pid;
	t->core->thread->tid = t->pid;
	return 0;
}

static int write_inventory(int dirfd, struct dump_task *t)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	char *features[4];
	struct utsname u;
	struct timespec ts;
	size_t i, n = 0;

	uname(&u);
	clock_gettime(CLOCK_REALTIME, &ts);
	inv.format_version = IMG_FORMAT_VERSION;
	inv.root_pid = t->pid;
	inv.kernel = u.release;
	inv.arch = u.machine;
	inv.page_size = getpagesize();
	inv.dump_time_us = ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
	features[n++] = "ptrace-seize";
	for (i = 0; i < t->mm->n_vmas; i++)
		if (t->mm->vmas[i]->kind == VMA_KIND__VMA_VVAR_VCLOCK)
			features[n++] = "vvar_vclock";
	if (t->core->thread->rseq)
		features[n++] = "rseq";
	inv.features = features;
	inv.n_features = n;
	return write_one_msg(dirfd, IMG_INVENTORY, 0, &inv.base);
}

static int write_stats(int dirfd, const struct dump_stats *st, uint64_t t0,
		       uint64_t frozen, uint64_t seized)
{
	DumpStatsEntry ds = DUMP_STATS_ENTRY__INIT;
	uint64_t now = now_us();

	ds.freezing_time_us = seized - frozen;
	ds.frozen_time_us = now - seized;
	ds.memdump_time_us = st->memdump_us;
	ds.total_time_us = now - t0;
	ds.pages_scanned = st->pages_scanned;
	ds.pages_skipped = st->pages_skipped;
	ds.pages_written = st->pages_written;
	ds.image_bytes = st->image_bytes;
	pr_info("Dump: frozen %.3f ms (memory %.3f ms), %" PRIu64 " pages written, %" PRIu64 " scanned, %" PRIu64 " skipped, %.1f MiB of images, %.3f ms in all\n",
		ds.frozen_time_us / 1e3, ds.memdump_time_us / 1e3,
		ds.pages_written, ds.pages_scanned, ds.pages_skipped,
		ds.image_bytes / 1048576.0, ds.total_time_us / 1e3);
	return write_one_msg(dirfd, IMG_STATS_DUMP, 0, &ds.base);
}

static int write_images(int dirfd, struct dump_task *t, struct dump_stats *st)
{
	if (files_dump(dirfd, t) || pages_dump(dirfd, t, st))
		return -1;
	if (write_one_msg(dirfd, IMG_CORE, t->pid, &t->core->base) ||
	    write_one_msg(dirfd, IMG_MM, t->pid, &t->mm->base) ||
	    pstree_dump(dirfd, t))
		return -1;
	return 0;
}

/* Kill the dumped task and wait until it is really gone. */
static int kill_task(struct dump_task *t)
{
	int status;

	if (pidref_kill(&t->ref, SIGKILL)) {
		pr_perror("Can't kill PID %d after the dump", t->pid);
		return -1;
	}
	/* as its tracer we see it die, whoever its parent is */
	while (waitpid(t->pid, &status, __WALL) < 0 && errno == EINTR)
		;
	return 0;
}

int cr_dump(void)
{
	struct arena arena = {};
	struct dump_task t = { .ref = PIDREF_NONE, .arena = &arena };
	struct dump_stats st = {};
	uint64_t t0 = now_us(), frozen, seized;
	int dirfd, ret = -1;

	dirfd = open_images_dir(opts.dir);
	if (dirfd < 0)
		return 1;
	t.pid = opts.pid;
	if (opts.pid <= 0) {
		pr_err("No PID to dump: use -t PID\n");
		goto out;
	}
	if (pidref_from_pid(&t.ref, opts.pid) || check_dumpable(&t, 0))
		goto out;
	frozen = now_us();
	if (seize_task(&t))
		goto fail;
	seized = now_us();
	pr_info("Seized PID %d (%s)\n", t.pid, t.stat.comm);
	if (alloc_core(&t) || regs_dump(t.pid, t.core->thread, &arena) ||
	    mm_dump_layout(&t) || dump_remote_state(&t) ||
	    write_images(dirfd, &t, &st) ||
	    write_stats(dirfd, &st, t0, frozen, seized) ||
	    write_inventory(dirfd, &t))
		goto fail;
	if (opts.leave_running)
		ret = ptrace_detach(t.pid, 0);
	else
		ret = kill_task(&t);
	if (!ret)
		pr_info("Dumped PID %d into %s\n", t.pid, opts.dir);
	goto out;
fail:
	pr_err("Dump of PID %d failed; it keeps running\n", t.pid);
	remove_images(dirfd, t.pid);
	if (t.seized)
		ptrace_detach(t.pid, 0);
out:
	proc_status_free(&t.status);
	pidref_close(&t.ref);
	arena_free(&arena);
	close(dirfd);
	return ret ? 1 : 0;
}
