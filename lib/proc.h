/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_PROC_H
#define CRLITE_PROC_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sys/types.h>

#define PROC_MAX_NS_LEVELS	32
#define PROC_MAX_GROUPS		65536

/* /proc/PID/stat, the fields we use */
struct proc_stat {
	int pid;
	char comm[64];
	char state;
	int ppid;
	int pgid;
	int sid;
	int tty_nr;
	int tpgid;		/* foreground group of its terminal, -1: none */
	unsigned long flags;
	long num_threads;
	uint64_t start_code, end_code, start_stack;
	int exit_signal;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int exit_code;
};

/* /proc/PID/status, the fields we use */
struct proc_status {
	char state;
	int tgid;
	int ppid;
	int tracer_pid;
	unsigned int uid[4];	/* real, effective, saved, fs */
	unsigned int gid[4];
	unsigned int *groups;	/* malloc'ed */
	int ngroups;
	int ns_pid[PROC_MAX_NS_LEVELS];
	int ns_pid_levels;
	int ns_pgid[PROC_MAX_NS_LEVELS];
	int ns_sid[PROC_MAX_NS_LEVELS];
	int threads;
	unsigned int umask;
	uint64_t sig_blk, sig_ign, sig_cgt, sig_pnd, shd_pnd;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs;
	int seccomp;
};

/* VmFlags of /proc/PID/smaps that matter to dump and restore */
enum {
	VMF_READ	= 1u << 0,
	VMF_WRITE	= 1u << 1,
	VMF_EXEC	= 1u << 2,
	VMF_SHARED	= 1u << 3,
	VMF_MAYWRITE	= 1u << 4,
	VMF_GROWSDOWN	= 1u << 5,
	VMF_IO		= 1u << 6,
	VMF_PFNMAP	= 1u << 7,
	VMF_DONTCOPY	= 1u << 8,	/* MADV_DONTFORK */
	VMF_DONTDUMP	= 1u << 9,
	VMF_HUGEPAGE	= 1u << 10,
	VMF_NOHUGEPAGE	= 1u << 11,
	VMF_MERGEABLE	= 1u << 12,
	VMF_WIPEONFORK	= 1u << 13,
	VMF_SEQ_READ	= 1u << 14,
	VMF_RAND_READ	= 1u << 15,
	VMF_LOCKED	= 1u << 16,
	VMF_NORESERVE	= 1u << 17,
	VMF_HUGETLB	= 1u << 18,
	VMF_UFFD	= 1u << 19,
	VMF_ACCOUNT	= 1u << 20,
};

struct proc_vma {
	uint64_t start, end, pgoff;
	int prot;		/* PROT_* from the maps line */
	int shared;		/* 's' in the maps line */
	unsigned int dev_major, dev_minor;
	uint64_t ino;
	char path[4096];	/* path or [name], "" for anonymous */
	unsigned int vmflags;	/* VMF_* from VmFlags, 0 if absent */
	uint64_t rss_kb, swap_kb;
};

int proc_parse_stat_buf(const char *buf, struct proc_stat *st);
int proc_parse_stat(pid_t pid, struct proc_stat *st);

int proc_parse_status_fp(FILE *f, struct proc_status *st);
int proc_parse_status(pid_t pid, struct proc_status *st);
void proc_status_free(struct proc_status *st);

/*
 * Parse /proc/PID/smaps (or maps): CB is called once per VMA, after its
 * VmFlags line when there is one. A non-zero return from CB stops the walk and
 * is returned.
 */
typedef int (*proc_vma_cb)(const struct proc_vma *vma, void *arg);
int proc_parse_smaps_fp(FILE *f, proc_vma_cb cb, void *arg);
int proc_parse_smaps(pid_t pid, proc_vma_cb cb, void *arg);
unsigned int proc_parse_vmflags(const char *s);

/* /proc/PID/fdinfo/FD */
struct proc_fdinfo {
	uint64_t pos;
	unsigned int flags;	/* octal in the file */
	int mnt_id;
	int n_locks;		/* "lock:" lines: read them with proc_parse_fd_locks */
};
int proc_parse_fdinfo_fp(FILE *f, struct proc_fdinfo *fi);
int proc_parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi);

/*
 * The lines fdinfo adds for the fds on anonymous inodes. Each parser fails,
 * naming the field, when one it needs is missing or malformed.
 */

struct proc_eventfd {
	uint64_t count;
	int semaphore;		/* -1: the kernel does not say (before 6.7) */
};
int proc_parse_eventfd_fp(FILE *f, struct proc_eventfd *e);

/* One target an epoll fd watches ("tfd:" line). */
struct proc_epoll_tfd {
	int tfd;		/* the fd number it was added as */
	uint32_t events;
	uint64_t data;
	uint64_t ino;
	unsigned int sdev;
};
/* Returns how many targets, *v malloc'ed (NULL when none), or -1. */
int proc_parse_epoll_fp(FILE *f, struct proc_epoll_tfd **v);

int proc_parse_signalfd_fp(FILE *f, uint64_t *sigmask);

struct proc_timerfd {
	int clockid;
	uint64_t ticks;		/* counted so far, not read yet */
	unsigned int settime_flags;
	struct timespec value, interval;
};
int proc_parse_timerfd_fp(FILE *f, struct proc_timerfd *t);

#define PROC_FHANDLE_MAX 128	/* MAX_HANDLE_SZ */
/* One inotify watch ("inotify wd:" line). */
struct proc_inotify_wd {
	int wd;
	uint64_t ino;
	unsigned int sdev;
	uint32_t mask, ignored_mask;
	unsigned int handle_bytes;	/* 0: the kernel gave no file handle */
	int handle_type;
	unsigned char handle[PROC_FHANDLE_MAX];
};
int proc_parse_inotify_fp(FILE *f, struct proc_inotify_wd **v);

/*
 * The mount point of the first mount of device MAJOR:MINOR in PID's
 * /proc/PID/mountinfo (octal escapes undone); -1 if none.
 */
int proc_mount_of_dev_fp(FILE *f, unsigned int major, unsigned int minor,
			 char *path, size_t size);
int proc_mount_of_dev(pid_t pid, unsigned int major, unsigned int minor,
		      char *path, size_t size);

/* The same on /proc/PID/fdinfo/FD. */
int proc_fdinfo_eventfd(pid_t pid, int fd, struct proc_eventfd *e);
int proc_fdinfo_epoll(pid_t pid, int fd, struct proc_epoll_tfd **v);
int proc_fdinfo_signalfd(pid_t pid, int fd, uint64_t *sigmask);
int proc_fdinfo_timerfd(pid_t pid, int fd, struct proc_timerfd *t);
int proc_fdinfo_inotify(pid_t pid, int fd, struct proc_inotify_wd **v);

/*
 * A "lock:" line of fdinfo (the format of /proc/locks): a lock whose file is
 * this open file description and whose owner is the description (FLOCK,
 * OFDLCK) or the reader's fd table (POSIX), or a lease.
 */
#define PROC_LOCK_EOF	UINT64_MAX
struct proc_lock {
	char kind[8];		/* POSIX, FLOCK, OFDLCK, LEASE, DELEG... */
	char mode[12];		/* ADVISORY, MANDATORY; a lease: ACTIVE... */
	char type[8];		/* READ, WRITE, UNLCK */
	int pid;		/* -1 for OFD locks */
	unsigned int major, minor;
	uint64_t ino;
	uint64_t start, end;	/* inclusive; end PROC_LOCK_EOF: to EOF */
};
/* Parse one lock line (without "lock:"); 0, or -1 if it is not one. */
int proc_parse_lock_line(const char *line, struct proc_lock *lk);
/* Calls CB for every lock line of /proc/PID/fdinfo/FD. */
int proc_parse_fd_locks(pid_t pid, int fd,
			int (*cb)(const struct proc_lock *lk, void *arg),
			void *arg);

/* Calls CB for every open fd of PID, in increasing order. */
int proc_for_each_fd(pid_t pid, int (*cb)(pid_t pid, int fd, void *arg),
		     void *arg);

/* Reads a whole /proc file (auxv, cmdline, personality...). */
ssize_t proc_read_file(pid_t pid, const char *name, void *buf, size_t size);
/* The same, silent when the file is not there (for scans racing with exit). */
ssize_t proc_read_file_quiet(pid_t pid, const char *name, void *buf, size_t size);
/* Writes TEXT to /proc/PID/NAME (uid_map, clear_refs...), errors logged. */
int proc_write_file(pid_t pid, const char *name, const char *text);
/* readlink of /proc/PID/NAME into buf, NUL-terminated. */
int proc_readlink(pid_t pid, const char *name, char *buf, size_t size);
/* TIDs of PID's threads, from /proc/PID/task, sorted; *tids is malloc'ed. */
int proc_list_tids(pid_t pid, pid_t **tids);
/* Children of thread TID of PID (task/TID/children); *out is malloc'ed. */
int proc_list_children(pid_t pid, pid_t tid, pid_t **out);
/* A space-separated list of PIDs, as in task/TID/children. */
int proc_parse_pid_list(const char *buf, pid_t **out);

/* /proc/PID/pagemap entries */
#define PME_PRESENT	(1ULL << 63)
#define PME_SWAP	(1ULL << 62)
#define PME_FILE	(1ULL << 61)	/* file page or shared anon */
#define PME_EXCLUSIVE	(1ULL << 56)
#define PME_SOFT_DIRTY	(1ULL << 55)
#define PME_PFN_MASK	((1ULL << 55) - 1)

int pagemap_open(pid_t pid);
/* Reads NR entries for pages starting at VADDR into OUT; returns NR or -1. */
ssize_t pagemap_read_entries(int fd, uint64_t vaddr, size_t nr, uint64_t *out);

/*
 * /proc/kpageflags: one uint64_t of KPF_* bits (<linux/kernel-page-flags.h>)
 * per PFN. Needs CAP_SYS_ADMIN, as do the PFNs in pagemap entries (without
 * it they read 0). kpageflags_open() is silent: -1 with errno when it can't
 * be opened, for callers that go on without it.
 */
int kpageflags_open(void);
/* Reads the flags of NR PFNs from PFN into OUT; returns NR or -1. */
ssize_t kpageflags_read(int fd, uint64_t pfn, size_t nr, uint64_t *out);

#endif
