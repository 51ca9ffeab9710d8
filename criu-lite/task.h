/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_TASK_H
#define CRIU_LITE_TASK_H

#include <pthread.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "arena.h"
#include "crtools.h"
#include "proc.h"

/* Scratch memory used for arguments of syscalls injected into a task. */
#define SCRATCH_SIZE	(64u << 10)
#define SCRATCH_IOV_OFF	(32u << 10)	/* second half holds iovec arrays */

struct dump_stats {
	uint64_t pages_scanned, pages_skipped, pages_written, image_bytes;
	uint64_t memdump_us;
	uint64_t pages_in_prev;
};

struct track_task;

/* A process being dumped (or, if zombie, only recorded). */
struct dump_task {
	struct pidref ref;
	pid_t pid;
	int zombie;
	int subreaper;		/* PR_SET_CHILD_SUBREAPER */
	int detached;		/* let go already (pre-dump) */
	struct dump_task *parent;
	pid_t files_of;		/* shares its parent's fd table: the parent */
	struct proc_stat stat;
	struct proc_status status;
	pid_t *tids;		/* seized threads, the leader first */
	size_t n_tids;
	struct thread_wchan { char fn[48]; } *wchan;	/* where each slept */
	uint32_t *ns_tids;	/* per thread, its TID at every PID ns level */
	struct remote remote;
	uint64_t syscall_ip;	/* a syscall instruction to inject through */
	/* the scratch area: below the stack pointer, or mapped by us */
	void *scratch_saved;
	int scratch_mapped;
	TaskCoreEntry *core;
	MmEntry *mm;
	size_t n_fds;
	FdinfoEntry **fds;
	struct arena *arena;
	struct track_task *track;	/* write tracking (track.c), or NULL */
	uint64_t *pm_snap;	/* pre-dump: pagemap read while frozen */
};

/* The tree being dumped: parents before children, the root first. */
struct dump_tree {
	struct dump_task **tasks;
	size_t n, cap;
	struct arena *arena;
};

/* Thread I of a task: 0 is the leader, whose entry is core->thread. */
static inline ThreadCoreEntry *task_thread_core(TaskCoreEntry *core, size_t i)
{
	return i ? core->threads[i - 1] : core->thread;
}

/* NR pages from VADDR (in a shared memory object: from that offset). */
struct page_run {
	uint64_t vaddr;
	uint64_t nr;
	int in_parent;	/* shared copy-on-write with the parent: no data */
	int in_prev;	/* not written since the previous dump: no data */
};

/* NR pages from VADDR that were not hot at dump: TEMP is a PageTemp. */
struct cold_run {
	uint64_t vaddr;
	uint64_t nr;
	int temp;
};

struct cold_runs {
	struct cold_run *v;
	size_t n, cap;
};

/* The temperature of the pages one task's dump writes (coldmark.c). */
struct coldmark_dump {
	pid_t pid;
	int kpf_fd;		/* /proc/kpageflags, -1: swap is the only source */
	uint8_t *temp;		/* per page of the pagemap batch: PageTemp */
	uint64_t *flags;	/* ... and its kpageflags */
	struct cold_runs runs;	/* the dumped pages that were not hot */
	size_t cursor;		/* the first run not yet in a pagemap entry */
	struct cold_runs prev;	/* incremental: the previous dump's runs */
	size_t prev_cursor;
	uint64_t swapped, inactive;
};

struct shm_runs {
	struct page_run *v;
	size_t n, cap;
};

/*
 * The shared memory objects of a restore (shmem-ID.img), by ID - 1. criu-lite
 * creates and fills each one and keeps it mapped until the tree is restored;
 * the tasks map it through /proc/CTL/map_files (see shmem.c).
 */
struct rst_shm {
	ShmemEntry *e;		/* NULL: no mapping uses this ID */
	struct shm_runs runs;	/* the pages in the image, by offset */
	void *addr;		/* criu-lite's mapping of the whole object */
	size_t len;
};

struct rst_shm_table {
	struct rst_shm *objs;
	size_t n;
	pid_t ctl;		/* criu-lite, whose map_files the tasks open */
	uint64_t pages_restored;
	uint64_t memfill_us;
};

/* A process being restored, and the trampoline that drives it. */
struct rst_task {
	pid_t pid;		/* as criu-lite sees it (--pidns: not the image's) */
	pid_t vpid;		/* in its own PID namespace */
	pid_t *tids;		/* its threads' TIDs as criu-lite sees them */
	int pidfd;
	int traced;
	const PstreeEntry *pe;
	TaskCoreEntry *core;
	MmEntry *mm;
	size_t n_fds;
	FdinfoEntry **fds;
	struct remote remote;
	uint64_t tramp;		/* code page: syscall; int3 */
	int dirfd;
	const char *dir;	/* absolute image directory */
	const struct rst_shm_table *shm;
	uint64_t pages_restored;
	uint64_t memfill_us;
	/* copy-on-write sharing (cow.c): VMAs mapped before children fork */
	uint8_t *early;			/* per VMA */
	struct rst_run *runs;		/* the pagemap, with file offsets */
	size_t n_runs;
	int pages_fd;
	struct cold_runs cold;	/* from the pagemap, for coldmark_restore() */
	/* pagemap entries in_prev, resolved through the chain (track.c) */
	const struct img_chain *chain;
	struct prev_seg *psegs;
	size_t n_psegs;
};

/*
 * The previous dumps an incremental dump stands on: level 0 is the images
 * directory itself, level I + 1 the prev_dir of level I.
 */
#define CHAIN_MAX	64
struct img_chain {
	int n;				/* levels, 0 included */
	int dirfd[CHAIN_MAX];
	char *name[CHAIN_MAX];		/* as the user would find it */
};

/* NR pages at VADDR are in the pages image of chain LEVEL, at OFF. */
struct prev_seg {
	uint64_t vaddr, nr, off;
	int level;
	unsigned int pages_id;
};

/* A pagemap entry as restore uses it. */
struct rst_run {
	uint64_t vaddr, nr, off;	/* off: in the pages image */
	int in_parent;
	int in_prev;
};

/*
 * The tree being restored. Every pstree entry is a node; helper nodes hold
 * the ID of a session or group whose leader is gone, only while the tree is
 * created. Nodes are created by their parent, or by a helper they must be
 * orphaned from (the parent is then a child subreaper).
 */
enum rst_node_kind {
	NODE_LIVE,
	NODE_ZOMBIE,
	NODE_HELPER,
};

struct rst_node {
	pid_t pid, pgid, sid;	/* at level 0, the dumper's PID namespace */
	int level;		/* of its own PID namespace */
	const uint32_t *nspid;	/* its PID at levels 0..level */
	enum rst_node_kind kind;
	int setsid;		/* calls setsid() */
	int before_setsid;	/* forked before its creator's setsid() */
	int subreaper;
	int exit_signal;
	uint32_t exit_status;	/* NODE_ZOMBIE */
	const char *comm;	/* NODE_ZOMBIE */
	pid_t init_sid;		/* the session it is born into */
	struct rst_node *parent, *creator, *first_child, *next_sibling;
	struct rst_task *task;	/* NODE_LIVE */
	const PstreeEntry *pe;	/* NULL for helpers */
	uint32_t helper_nspid[PROC_MAX_NS_LEVELS];
};

struct rst_sync;

struct rst_tree {
	PstreeEntry **entries;
	size_t n_entries;
	struct rst_node *nodes;	/* the entries' nodes, then helpers */
	size_t n_nodes;
	struct rst_task *tasks;	/* one per live process, in entry order */
	size_t n_tasks;
	struct rst_sync *sync;	/* shared with the tasks while they are born */
	int ctl_pidfd;
	pid_t init_pid;		/* --pidns: the new namespace's PID 1 */
	int init_pidfd;
	struct rst_shm_table shm;
	uint64_t pages_cold, pages_pageout;	/* advised by coldmark_restore() */
};

/* remote syscall with fewer than six arguments */
#define REMOTE_ARGS6(a, b, c, d, e, f, ...) (long)(a), (long)(b), (long)(c), \
	(long)(d), (long)(e), (long)(f)
#define rcall(r, ret, nr, ...) \
	remote_syscall(r, ret, nr, REMOTE_ARGS6(__VA_ARGS__, 0, 0, 0, 0, 0, 0))

/* Put LEN bytes at OFF in the task's scratch area; returns their address. */
uint64_t scratch_put(struct remote *r, size_t off, const void *buf, size_t len);
/* A page mapped in the task for injected syscalls' arguments, and gone. */
int scratch_map(struct dump_task *t);
int scratch_release(struct dump_task *t);
/*
 * A session of injected syscalls in thread TID of T, every signal blocked
 * meanwhile (*BLOCKED: its mask, put back at the end, with the scratch area
 * released).
 */
int task_remote_begin(struct dump_task *t, pid_t tid, uint64_t *blocked);
int task_remote_end(struct dump_task *t, pid_t tid, uint64_t blocked);

/* seize.c: freezing the tree */
int tree_seize(struct dump_tree *tree, pid_t root);
void tree_release(struct dump_tree *tree, int kill_them);
void tree_detach(struct dump_tree *tree);

/* dump.c */
int dump_cancelled(void);

/* pstree.c */
/* The task of the tree at PID, or NULL. */
const struct dump_task *tree_find(const struct dump_tree *tree, pid_t pid);
int pstree_check(const struct dump_tree *tree);
int pstree_dump(int dirfd, const struct dump_tree *tree);
int pid_wait_free(pid_t pid);
void pid_report_taken(pid_t pid);
int pstree_load(int dirfd, struct rst_tree *tree);
int pstree_plan(struct rst_tree *tree);
int pstree_pids_free(const struct rst_tree *tree);
int pstree_create(struct rst_tree *tree);
int pstree_finish(struct rst_tree *tree);
void pstree_kill(struct rst_tree *tree);
int pstree_ns_tid_check(pid_t tid, const uint32_t *ids, size_t levels);
void pstree_free(struct rst_tree *tree);

/* regs.c */
/* WCHAN: where the thread slept before it was seized ("" if unknown) */
int regs_dump(pid_t tid, const char *wchan, ThreadCoreEntry *tc,
	      struct arena *a);
int regs_restore(pid_t tid, const ThreadCoreEntry *tc);
int regs_restart_in_place(pid_t tid);

/* signals.c: the per-process part, then the per-thread part */
int signals_dump(struct dump_task *t);
int signals_dump_thread(struct dump_task *t, pid_t tid, ThreadCoreEntry *tc);
int signals_restore(struct rst_task *t);
int signals_restore_thread(struct rst_task *t, pid_t vtid,
			   const ThreadCoreEntry *tc);

/* creds.c */
int creds_dump(struct dump_task *t);
int creds_restore(struct rst_task *t);

/* task-misc.c: rlimits, fs state, names, futex/rseq registration, timers */
int misc_dump(struct dump_task *t);
int misc_dump_thread(struct dump_task *t, pid_t tid, ThreadCoreEntry *tc);
int misc_restore(struct rst_task *t);
int misc_restore_late(struct rst_task *t);
int misc_restore_thread(struct rst_task *t, const ThreadCoreEntry *tc);
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
int mm_vma_map_prot(const VmaEntry *v);
uint64_t mm_free_gap(const MmEntry *mm, uint64_t size, uint64_t after);

/* pages.c */
int pages_dump(int dirfd, struct dump_task *t, struct dump_stats *st);
int pages_restore(struct rst_task *t);
int pages_validate(int dirfd, const MmEntry *mm, int verify);
struct cr_img;
int pagemap_write(struct cr_img *img, const ProtobufCMessage *head,
		  const struct page_run *runs, size_t n);

/* pages.c */
#define PAGES_CRC_BLOCK	(1u << 20)
/* Check the pages image NAME against its CRCs (none: nothing to check). */
int pages_file_verify(int dirfd, const char *name, uint32_t block,
		      const uint32_t *crcs, size_t n);
int pagemap_load(int dirfd, unsigned int id, struct rst_run **runs, size_t *n);
/* Checking a pages image a block at a time, each once: lazy restores. */
struct pages_crc {
	uint32_t block;
	uint32_t *crcs;
	size_t n;
	uint64_t size;		/* of the image */
	uint8_t *ok;		/* per block: checked */
	unsigned char *buf;
};
int pages_crc_init(struct pages_crc *c, const PagemapHead *head,
		   const char *name, uint64_t size);
/*
 * From MAP, the image mapped from MAP_OFF on (covering every block that
 * [OFF, OFF + LEN) touches), if not NULL; else read from FD.
 */
int pages_crc_check(struct pages_crc *c, int fd, const unsigned char *map,
		    uint64_t map_off, const char *name, uint64_t off,
		    uint64_t len);
void pages_crc_free(struct pages_crc *c);
int pagemap_load_temps(int dirfd, unsigned int id, struct cold_runs *runs);
int pages_snapshot(struct dump_task *t);

/* cow.c: private memory still shared copy-on-write across fork */
int cow_plan(struct rst_tree *tree);
int cow_reserve(struct rst_tree *tree);
int cow_premap(struct rst_task *t);
int cow_keeps(const struct rst_task *t, const VmaEntry *v);
void cow_free(struct rst_task *t);

/*
 * coldmark.c: page temperature. Dump: classify each pagemap batch before its
 * pages are read, note the dumped ones, put them in the pagemap entries.
 * Restore: collect them while the pages are filled, then advise the kernel
 * while every task is still stopped.
 */
int coldmark_dump_init(struct coldmark_dump *cm, pid_t pid, size_t batch);
int coldmark_classify(struct coldmark_dump *cm, const VmaEntry *v,
		      uint64_t addr, const uint64_t *pme,
		      const uint8_t *prev, size_t nr);
int coldmark_runs_add_entry(struct cold_runs *runs, const PagemapEntry *pe);
int coldmark_add(struct coldmark_dump *cm, uint64_t vaddr, size_t first,
		 size_t nr);
int coldmark_entry(struct coldmark_dump *cm, PagemapEntry *pe);
void coldmark_entry_free(PagemapEntry *pe);
int coldmark_dump_finish(struct coldmark_dump *cm, const struct dump_task *t);
void coldmark_dump_free(struct coldmark_dump *cm);
int coldmark_validate_entry(const PagemapEntry *pe, const char *img);
int coldmark_collect(struct rst_task *t, const PagemapEntry *pe);
int coldmark_restore(struct rst_tree *tree);

/* shmem.c: shared anonymous and memfd memory, one object for the tree */
int shmem_dump(int dirfd, struct dump_tree *tree, struct dump_stats *st);
int shmem_load(struct rst_tree *tree, int dirfd);
int shmem_create(struct rst_tree *tree, int dirfd);
int shmem_map_path(const struct rst_shm_table *shm, uint32_t id, char *buf,
		   size_t size);
void shmem_release(struct rst_shm_table *shm);

/* files.c */
int files_dump(int dirfd, struct dump_tree *tree);
int files_validate(int dirfd, struct rst_task *t);
int files_create(struct rst_tree *tree);
void files_set_ctl(int ctl);
int files_close_inherited(struct rst_task *t);
int files_restore(struct rst_task *t, int dirfd);
/* Syscall NR in restored task T: its result, or -errno. */
long fcall(struct rst_task *t, long nr, long a1, long a2, long a3);
void files_release(void);
/* The restored tree runs. */
void files_restored(void);
/* The end of a dump, before and after the tree is killed or let go. */
void files_dump_release(int kill);
void files_dump_unlock(int kill);
/* sockets-inet.c, for check: TCP_REPAIR works; nft adds and deletes tables. */
int inet_probe_repair(void);
int inet_probe_nft(void);
/* sockets-inet.c: the dump worker died before it could clean up. */
void inet_dump_abandoned(pid_t root);

/* tty.c: in a new session leader, before it forks: its terminal again */
int tty_session_start(pid_t pid);

/*
 * track.c: incremental dumps. Dump: find which pages were written since the
 * previous dump (soft-dirty, or PAGEMAP_SCAN + userfaultfd write-protect),
 * while the tree is frozen; hand the tracking on to the next dump. Restore:
 * open the chain of previous dumps and resolve pagemap entries in_prev.
 */
enum tracker {
	TRACKER_NONE,
	TRACKER_SOFT_DIRTY,
	TRACKER_UFFD_WP,
};
enum tracker track_probe(void);
const char *track_name(enum tracker k);
int track_dump_start(struct dump_tree *tree, int images_dirfd);
int track_prev_temps(const struct dump_task *t, struct coldmark_dump *cm);
int track_batch_mask(const struct dump_task *t, const VmaEntry *v,
		     uint64_t addr, size_t nr, const uint64_t *pme,
		     uint8_t *prev_ok);
int track_dump_rearm(struct dump_tree *tree);
int track_hole(uint64_t pme);
int track_tracker_fd(const struct dump_task *t);
int track_handover(struct dump_tree *tree);
void track_fill_inventory(InventoryEntry *inv);
void track_dump_done(struct dump_tree *tree, int committed);
int track_chain_open(int dirfd, const char *dir, const InventoryEntry *inv,
		     struct img_chain *chain);
int track_task_resolve(struct rst_task *t);
void track_task_free(struct rst_task *t);
void track_chain_close(struct img_chain *chain);

/*
 * lazy-pages.c: restore --lazy-pages. The restorer starts the daemon, hands
 * it each task's userfaultfd and lazy runs, says go once the tree runs; the
 * guard then holds the uffds until every page is home, and kills the tree
 * if the daemon dies first.
 */
#define LAZY_LOST_STATUS	3	/* restore's exit status then */

/* NR pages at VADDR come from offset OFF of the task's pages image. */
struct lazy_run {
	uint64_t vaddr, nr, off;
};

struct lazy_set {
	struct lazy_run *v;
	size_t n, cap;
};

int lazy_uffd_api(int fd, uint64_t *features);
int lazy_probe(void);
int lazy_start(int dirfd);
int lazy_set_add(struct lazy_set *s, uint64_t vaddr, uint64_t len,
		 uint64_t off);
struct pages_crc;
int lazy_task_send(struct rst_task *t, int uffd, struct lazy_set *s,
		   const struct pages_crc *crc);
int lazy_hold(void);
int lazy_go(void);
void lazy_abort(void);
int lazy_guard_detached(struct rst_tree *tree);
int lazy_guard_wait(struct rst_tree *tree);

/*
 * pages-splice.c: the frozen task vmsplice()s its pages into a pipe and we
 * splice() that into the pages image: one copy where reading and writing
 * make two.
 */
#define PAGES_SPLICE_MAX	(1u << 20)	/* bytes per pipe, if we may */
#define PAGES_SPLICE_MIN	(256u << 10)	/* ... below, not worth it */
#define PAGES_SPLICE_PIPES	8		/* in the ring */
struct pages_splice {
	struct dump_task *t;
	int rd[PAGES_SPLICE_PIPES];	/* the pipes' ends, ours */
	int wr[PAGES_SPLICE_PIPES];
	long task_w[PAGES_SPLICE_PIPES];	/* ... the task's write ends */
	size_t cap;			/* bytes a pipe holds */
	uint64_t blocked;		/* the leader's signal mask, put back */
	int started;
	/* the thread that splices full pipes into OUT_FD, in turn */
	int out_fd;
	pthread_t thread;
	int thread_on;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t len[PAGES_SPLICE_PIPES];
	uint64_t queued, done;		/* pipes filled, and drained */
	uint64_t bytes_done;		/* ... into the image */
	int failed, stop;
};
/* 0: on; 1: not for this task (the copying path it is); -1: failed. */
int pages_splice_start(struct pages_splice *ps, struct dump_task *t,
		       int out_fd);
/* The next pipe to fill, once it is free; -1: the thread failed. */
int pages_splice_next(struct pages_splice *ps);
/* Task pages into pipe B: the bytes taken (short at a page it won't give). */
ssize_t pages_splice_task(struct pages_splice *ps, int b,
			  const struct iovec *iov, int n);
/* Our bytes into pipe B. */
int pages_splice_ours(struct pages_splice *ps, int b, const void *buf,
		      size_t len);
/* Pipe B, LEN bytes full, goes to the image. */
void pages_splice_submit(struct pages_splice *ps, int b, size_t len);
/* The bytes in the image so far. */
uint64_t pages_splice_done(struct pages_splice *ps);
/* Every pipe in the image, the thread gone: 0, or -1 (it failed). */
int pages_splice_finish(struct pages_splice *ps);
int pages_splice_stop(struct pages_splice *ps);

/* stats.c */
void progress(const char *what, uint64_t done, uint64_t total, uint64_t start_us);
void progress_done(void);

#endif
