/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_TASK_H
#define CRIU_LITE_TASK_H

#include "arena.h"
#include "crtools.h"
#include "proc.h"

/* Scratch memory used for arguments of syscalls injected into a task. */
#define SCRATCH_SIZE	(64u << 10)
#define SCRATCH_IOV_OFF	(32u << 10)	/* second half holds iovec arrays */

struct dump_stats {
	uint64_t pages_scanned, pages_skipped, pages_written, image_bytes;
	uint64_t memdump_us;
};

/* A task being dumped. */
struct dump_task {
	struct pidref ref;
	pid_t pid;
	int seized;
	struct proc_stat stat;
	struct proc_status status;
	struct remote remote;
	/* the scratch area: below the stack pointer, or mapped by us */
	void *scratch_saved;
	int scratch_mapped;
	TaskCoreEntry *core;
	MmEntry *mm;
	size_t n_fds;
	FdinfoEntry **fds;
	struct arena *arena;
};

/* A task being restored, and the trampoline that drives it. */
struct rst_task {
	pid_t pid;
	int pidfd;
	int traced;
	TaskCoreEntry *core;
	MmEntry *mm;
	size_t n_fds;
	FdinfoEntry **fds;
	struct remote remote;
	uint64_t tramp;		/* code page: syscall; int3 */
	int dirfd;
	const char *dir;	/* absolute image directory */
	uint64_t pages_restored;
	uint64_t memfill_us;
};

/* remote syscall with fewer than six arguments */
#define REMOTE_ARGS6(a, b, c, d, e, f, ...) (long)(a), (long)(b), (long)(c), \
	(long)(d), (long)(e), (long)(f)
#define rcall(r, ret, nr, ...) \
	remote_syscall(r, ret, nr, REMOTE_ARGS6(__VA_ARGS__, 0, 0, 0, 0, 0, 0))

/* Put LEN bytes at OFF in the task's scratch area; returns their address. */
uint64_t scratch_put(struct remote *r, size_t off, const void *buf, size_t len);

/* pstree.c */
int pstree_dump(int dirfd, struct dump_task *t);
int pid_wait_free(pid_t pid);
void pid_report_taken(pid_t pid);

/* regs.c */
int regs_dump(pid_t tid, ThreadCoreEntry *tc, struct arena *a);
int regs_restore(pid_t tid, const ThreadCoreEntry *tc);

/* signals.c */
int signals_dump(struct dump_task *t);
int signals_restore(struct rst_task *t);
int signals_restore_pending(struct rst_task *t);

/* creds.c */
int creds_dump(struct dump_task *t);
int creds_restore(struct rst_task *t);

/* task-misc.c: rlimits, fs state, names, futex/rseq registration, timers */
int misc_dump(struct dump_task *t);
int misc_restore(struct rst_task *t);
int misc_restore_late(struct rst_task *t);
int misc_restore_final(struct rst_task *t);
int rlimits_restore(struct rst_task *t);

/* mm.c */
int mm_dump_layout(struct dump_task *t);
int mm_dump_fields(struct dump_task *t);
const VmaEntry *mm_find_vma(const MmEntry *mm, uint64_t addr);
int mm_restore_layout(struct rst_task *t);
int mm_restore_finish(struct rst_task *t);
int mm_restore_fields(struct rst_task *t);
int mm_validate(const MmEntry *mm, const char *img);
uint64_t mm_free_gap(const MmEntry *mm, uint64_t size, uint64_t after);

/* pages.c */
int pages_dump(int dirfd, struct dump_task *t, struct dump_stats *st);
int pages_restore(struct rst_task *t);
int pages_validate(int dirfd, const MmEntry *mm);

/* files.c */
int files_dump(int dirfd, struct dump_task *t);
int files_restore(struct rst_task *t, int dirfd);
int files_validate(int dirfd, struct rst_task *t);

/* stats.c */
void progress(const char *what, uint64_t done, uint64_t total, uint64_t start_us);
void progress_done(void);

#endif
