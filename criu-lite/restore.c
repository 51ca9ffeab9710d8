// SPDX-License-Identifier: GPL-2.0-only
/*
 * restore: read and check every image first; then create the task with
 * clone3(set_tid) at its PID, and rebuild it from the outside by syscalls
 * injected through a one-page trampoline ("syscall; int3") mapped where the
 * dumped layout has nothing. Any failure kills what was created.
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

struct restore_images {
	InventoryEntry *inv;
	PstreeEntry *pstree;
};

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
	const ThreadCoreEntry *tc = t->core->thread;

	if (t->core->pid != (uint32_t)t->pid || !tc || tc->tid != (uint32_t)t->pid) {
		pr_err("Image core-%d.img is for PID %u, not %d\n", t->pid,
		       t->core->pid, t->pid);
		return -1;
	}
	if (tc->xstate.len < 576) {
		pr_err("Image core-%d.img: xstate of %zu bytes is too short for XSAVE\n",
		       t->pid, tc->xstate.len);
		return -1;
	}
	if (!t->core->creds || !t->core->cwd || !t->core->root) {
		pr_err("Image core-%d.img lacks credentials or fs state\n", t->pid);
		return -1;
	}
	return 0;
}

/* Everything is read and checked before anything is created. */
static int load_images(struct rst_task *t, struct restore_images *ri)
{
	char img[64];

	ri->inv = (InventoryEntry *)read_one_msg(t->dirfd, IMG_INVENTORY, 0);
	if (!ri->inv) {
		pr_err("%s holds no complete dump (no valid inventory.img)\n",
		       t->dir);
		return -1;
	}
	if (check_inventory(ri->inv))
		return -1;
	ri->pstree = (PstreeEntry *)read_one_msg(t->dirfd, IMG_PSTREE, 0);
	if (!ri->pstree)
		return -1;
	t->pid = ri->pstree->pid;
	if (t->pid <= 0 || ri->pstree->n_threads != 1 ||
	    ri->pstree->sid != ri->pstree->pid ||
	    ri->pstree->pgid != ri->pstree->pid) {
		pr_err("Image pstree.img: PID %d with %zu threads, session %u, group %u: only single-threaded session leaders are supported yet\n",
		       t->pid, ri->pstree->n_threads, ri->pstree->sid,
		       ri->pstree->pgid);
		return -1;
	}
	t->core = (TaskCoreEntry *)read_one_msg(t->dirfd, IMG_CORE, t->pid);
	t->mm = (MmEntry *)read_one_msg(t->dirfd, IMG_MM, t->pid);
	if (!t->core || !t->mm || check_core(t))
		return -1;
	if (mm_validate(t->mm, image_name(IMG_MM, t->pid, img, sizeof(img))) ||
	    pages_validate(t->dirfd, t->mm) || load_fdinfo(t) ||
	    files_validate(t->dirfd, t))
		return -1;
	if (access(t->core->cwd, X_OK)) {
		pr_perror("PID %d: its working directory %s", t->pid,
			  t->core->cwd);
		return -1;
	}
	return 0;
}

static void free_images(struct rst_task *t, struct restore_images *ri)
{
	size_t i;

	if (ri->inv)
		protobuf_c_message_free_unpacked(&ri->inv->base, NULL);
	if (ri->pstree)
		protobuf_c_message_free_unpacked(&ri->pstree->base, NULL);
	if (t->core)
		protobuf_c_message_free_unpacked(&t->core->base, NULL);
	if (t->mm)
		protobuf_c_message_free_unpacked(&t->mm->base, NULL);
	for (i = 0; i < t->n_fds; i++)
		protobuf_c_message_free_unpacked(&t->fds[i]->base, NULL);
	free(t->fds);
}

/*
 * The trampoline page and the scratch area after it, mapped in the restorer
 * so the child inherits them, at an address free in both layouts.
 */
static int tramp_setup(struct rst_task *t)
{
	static const unsigned char code[] = { 0x0f, 0x05, 0xcc }; /* syscall; int3 */
	size_t page = getpagesize(), len = page + SCRATCH_SIZE;
	uint64_t cand = TRAMP_LOW;
	void *p;

	for (;;) {
		cand = mm_free_gap(t->mm, len, cand);
		if (!cand) {
			pr_err("No room for the restore trampoline in PID %d's layout\n",
			       t->pid);
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
	t->tramp = cand;
	t->remote.scratch = cand + page;
	t->remote.scratch_len = SCRATCH_SIZE;
	pr_debug("Trampoline at %#" PRIx64 "\n", cand);
	return 0;
}

static void tramp_release(struct rst_task *t)
{
	if (t->tramp)
		munmap((void *)t->tramp, getpagesize() + SCRATCH_SIZE);
	t->tramp = 0;
}

/* The child: become a session leader, and wait to be rebuilt. */
static __attribute__((noreturn)) void child_start(pid_t parent)
{
	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		syscall(SYS_exit_group, 1);
	setsid();
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		syscall(SYS_exit_group, 2);
	syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
	syscall(SYS_exit_group, 3);
	__builtin_unreachable();
}

static int create_task(struct rst_task *t)
{
	pid_t tid = t->pid, parent = getpid();
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&t->pidfd,
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&tid,
		.set_tid_size = 1,
	};
	int status;
	long pid;

	pid = sys_clone3(&args, sizeof(args));
	if (pid == 0)
		child_start(parent);
	if (pid < 0) {
		if (errno == EEXIST)
			pid_report_taken(t->pid);
		else if (errno == EPERM)
			pr_err("Not permitted to create PID %d: restore needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN\n",
			       t->pid);
		else
			pr_perror("clone3 with set_tid %d failed", t->pid);
		return -1;
	}
	if (pid != t->pid) {
		pr_err("clone3 gave PID %ld instead of %d\n", pid, t->pid);
		t->pid = pid;
		return -1;
	}
	t->traced = 1;
	if (ptrace_wait_stop(t->pid, &status))
		return -1;
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
		pr_err("PID %d: unexpected first stop %#x\n", t->pid, status);
		return -1;
	}
	if (ptrace(PTRACE_SETOPTIONS, t->pid, NULL, (void *)PTRACE_O_EXITKILL)) {
		pr_perror("PID %d: can't set ptrace options", t->pid);
		return -1;
	}
	return 0;
}

static int close_all_fds(struct rst_task *t)
{
	long ret;

	if (remote_syscall(&t->remote, &ret, SYS_close_range, 0, ~0U, 0, 0, 0, 0))
		return -1;
	if (ret) {
		errno = -ret;
		pr_perror("PID %d: close_range", t->pid);
		return -1;
	}
	return 0;
}

/* Rebuild the stopped child into the dumped task. */
static int rebuild_task(struct rst_task *t)
{
	struct remote *r = &t->remote;

	if (remote_start(r, t->pid, REMOTE_BREAKPOINT, t->tramp))
		return -1;
	/* the restorer's stack is about to go: syscalls run on the scratch top */
	r->saved.rsp = r->scratch + r->scratch_len - 64;
	if (ptrace_set_sigmask(t->pid, ~0ULL))
		return -1;
	if (misc_restore(t) || close_all_fds(t) || mm_restore_layout(t) ||
	    pages_restore(t) || mm_restore_finish(t) || mm_restore_fields(t) ||
	    rlimits_restore(t) || files_restore(t, t->dirfd) ||
	    misc_restore_late(t) || signals_restore(t) ||
	    signals_restore_pending(t) || creds_restore(t) ||
	    misc_restore_final(t))
		return -1;
	if (remote_unmap_trampoline(r, t->tramp, getpagesize() + SCRATCH_SIZE))
		return -1;
	if (regs_restore(t->pid, t->core->thread))
		return -1;
	r->started = 0;
	return ptrace_set_sigmask(t->pid, t->core->thread->blocked);
}

static void kill_task(struct rst_task *t)
{
	int status;

	if (t->pidfd >= 0)
		sys_pidfd_send_signal(t->pidfd, SIGKILL, NULL, 0);
	else
		kill(t->pid, SIGKILL);
	while (waitpid(t->pid, &status, __WALL) < 0 && errno == EINTR)
		;
	pr_err("Killed the half-restored PID %d\n", t->pid);
}

static int write_restore_stats(struct rst_task *t, uint64_t t0,
			       uint64_t fork_us)
{
	RestoreStatsEntry rs = RESTORE_STATS_ENTRY__INIT;

	rs.fork_time_us = fork_us;
	rs.memfill_time_us = t->memfill_us;
	rs.total_time_us = now_us() - t0;
	rs.pages_restored = t->pages_restored;
	pr_info("Restore: fork %.3f ms, memory %.3f ms (%" PRIu64 " pages), %.3f ms in all\n",
		rs.fork_time_us / 1e3, rs.memfill_time_us / 1e3,
		rs.pages_restored, rs.total_time_us / 1e3);
	/* a read-only image directory must not fail a good restore */
	if (write_one_msg(t->dirfd, IMG_STATS_RESTORE, 0, &rs.base))
		pr_warn("Could not record restore statistics in %s\n", t->dir);
	return 0;
}

static int wait_task(struct rst_task *t)
{
	siginfo_t si = {};

	while (waitid(P_PIDFD, t->pidfd, &si, WEXITED) < 0) {
		if (errno == EINTR)
			continue;
		pr_perror("Can't wait for PID %d", t->pid);
		return 1;
	}
	if (si.si_code == CLD_EXITED) {
		pr_info("PID %d exited with %d\n", t->pid, si.si_status);
		return si.si_status;
	}
	pr_info("PID %d was killed by signal %d\n", t->pid, si.si_status);
	return 128 + si.si_status;
}

int cr_restore(void)
{
	struct rst_task t = { .pidfd = -1, .dirfd = -1 };
	struct restore_images ri = {};
	char dir[PATH_MAX];
	uint64_t t0 = now_us(), t_fork;
	int ret = 1;

	if (!realpath(opts.dir, dir)) {
		pr_perror("Can't find the images directory %s", opts.dir);
		return 1;
	}
	t.dir = dir;
	t.dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (t.dirfd < 0) {
		pr_perror("Can't open the images directory %s", dir);
		return 1;
	}
	if (load_images(&t, &ri) || pid_wait_free(t.pid) || tramp_setup(&t))
		goto out;
	t_fork = now_us();
	if (create_task(&t))
		goto fail;
	t_fork = now_us() - t_fork;
	if (rebuild_task(&t))
		goto fail;
	if (ptrace_detach(t.pid, 0))
		goto fail;
	t.traced = 0;
	tramp_release(&t);
	write_restore_stats(&t, t0, t_fork);
	pr_info("Restored PID %d\n", t.pid);
	ret = opts.detach ? 0 : wait_task(&t);
	goto out;
fail:
	pr_err("Restore of PID %d failed\n", t.pid);
	if (t.traced)
		kill_task(&t);
out:
	tramp_release(&t);
	if (t.pidfd >= 0)
		close(t.pidfd);
	free_images(&t, &ri);
	close(t.dirfd);
	return ret;
}
