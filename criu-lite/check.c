// SPDX-License-Identifier: GPL-2.0-only
/*
 * check: probe each kernel feature once, by using it, never by the kernel
 * version, and say what its absence costs.
 */
#include <asm/prctl.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kernel-page-flags.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crtools.h"
#include "files.h"
#include "kapi.h"
#include "log.h"
#include "proc.h"
#include "syscalls.h"
#include "task.h"
#include "track.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

/*
 * clone3 with set_tid = our own PID: EEXIST once set_tid is understood and we
 * may set PIDs; 0 then, else the errno (ENOSYS: no clone3; E2BIG or EINVAL:
 * clone3 without set_tid; EPERM: no CAP_CHECKPOINT_RESTORE over our PID ns).
 */
static int clone3_set_tid_errno(void)
{
	pid_t self = getpid();
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&self,
		.set_tid_size = 1,
	};
	long pid = sys_clone3(&args, sizeof(args));

	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		/* set_tid was ignored: as good as absent */
		waitpid(pid, NULL, 0);
		return EINVAL;
	}
	return errno == EEXIST ? 0 : errno;
}

static int probe_clone3_set_tid(void)
{
	return clone3_set_tid_errno() == 0;
}

static int probe_pidfd_open(void)
{
	int fd = sys_pidfd_open(getpid(), 0);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int probe_pidfd_getfd(void)
{
	int pfd = sys_pidfd_open(getpid(), 0), fd;

	if (pfd < 0)
		return 0;
	fd = sys_pidfd_getfd(pfd, pfd, 0);
	close(pfd);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int probe_pidfd_send_signal(void)
{
	int pfd = sys_pidfd_open(getpid(), 0), ret;

	if (pfd < 0)
		return 0;
	ret = sys_pidfd_send_signal(pfd, 0, NULL, 0);
	close(pfd);
	return ret == 0;
}

static int probe_waitid_pidfd(void)
{
	int pfd = sys_pidfd_open(getpid(), 0), ret;
	siginfo_t si;

	if (pfd < 0)
		return 0;
	ret = waitid(P_PIDFD, pfd, &si, WEXITED | WNOHANG);
	close(pfd);
	/* we are not our own child: ECHILD, once P_PIDFD is understood */
	return ret < 0 && errno == ECHILD;
}

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* process_madvise(ADVICE) on a written page of our own */
static int probe_madvise_advice(int advice)
{
	int pfd = sys_pidfd_open(getpid(), 0);
	struct iovec iov;
	ssize_t ret;

	if (pfd < 0)
		return 0;
	iov.iov_len = getpagesize();
	iov.iov_base = mmap(NULL, iov.iov_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (iov.iov_base == MAP_FAILED) {
		close(pfd);
		return 0;
	}
	*(volatile char *)iov.iov_base = 1;
	ret = sys_process_madvise(pfd, &iov, 1, advice, 0);
	munmap(iov.iov_base, iov.iov_len);
	close(pfd);
	return ret == (ssize_t)iov.iov_len;
}

static int probe_process_madvise(void) { return probe_madvise_advice(MADV_COLD); }
static int probe_madv_pageout(void) { return probe_madvise_advice(MADV_PAGEOUT); }

#define PROBE_PAGES	64	/* more than a per-CPU LRU batch holds back */

/*
 * Page temperature sources, on PROBE_PAGES written pages of our own: WHAT
 * 0: a page paged out reads PME_SWAP in pagemap (needs swap on); 1: pagemap
 * gives PFNs; 2: their /proc/kpageflags say LRU (and so ACTIVE and
 * REFERENCED mean something).
 */
static int probe_temperature(int what)
{
	size_t page = getpagesize(), len = PROBE_PAGES * page, i;
	uint64_t pme[PROBE_PAGES], kpf;
	int pm, kfd = -1, ok = 0;
	char *p;

	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (pm < 0 || p == MAP_FAILED)
		goto out;
	for (i = 0; i < PROBE_PAGES; i++)
		p[i * page] = 1;
	if (what == 0 && madvise(p, page, MADV_PAGEOUT))
		goto out;
	if (pagemap_read_entries(pm, (uintptr_t)p, PROBE_PAGES, pme) < 0)
		goto out;
	if (what == 0) {
		ok = !!(pme[0] & PME_SWAP);
		goto out;
	}
	for (i = 0; i < PROBE_PAGES && !ok; i++) {
		uint64_t pfn = pme[i] & PME_PFN_MASK;

		if (!(pme[i] & PME_PRESENT) || !pfn)
			continue;
		if (what == 1) {
			ok = 1;
			break;
		}
		if (kfd < 0 && (kfd = kpageflags_open()) < 0)
			break;
		if (kpageflags_read(kfd, pfn, 1, &kpf) == 1)
			ok = !!(kpf & (1ULL << KPF_LRU));
	}
out:
	if (kfd >= 0)
		close(kfd);
	if (p != MAP_FAILED)
		munmap(p, len);
	if (pm >= 0)
		close(pm);
	return ok;
}

static int probe_pagemap_swap(void) { return probe_temperature(0); }
static int probe_pagemap_pfn(void) { return probe_temperature(1); }
static int probe_kpageflags_lru(void) { return probe_temperature(2); }

static int probe_prctl_mm_map(void)
{
	unsigned int size = 0;

	return prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) == 0 &&
	       size == sizeof(struct prctl_mm_map);
}

static int probe_map_vdso(void)
{
	/* the vdso is mapped already: EEXIST means the call exists */
	return syscall(SYS_arch_prctl, ARCH_MAP_VDSO_64, 0x10000UL) < 0 &&
	       errno == EEXIST;
}

static int probe_vvar_vclock(void)
{
	char buf[65536];
	ssize_t n = proc_read_file(getpid(), "maps", buf, sizeof(buf) - 1);

	if (n < 0)
		return 0;
	buf[n] = 0;
	return strstr(buf, "[vvar_vclock]") != NULL;
}

/* ptrace requests on a stopped child of ours */
static int probe_ptrace(int what)
{
	uint64_t mask, cfg[3], xs[512];
	struct iovec iov = { .iov_base = xs, .iov_len = sizeof(xs) };
	int status, ok = 0;
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		pause();
		_exit(0);
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0 &&
	    ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) == 0 &&
	    waitpid(pid, &status, __WALL) == pid) {
		if (what == 0)
			ok = 1;
		else if (what == 1)
			ok = ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask), &mask) == 0;
		else if (what == 2)
			ok = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid,
				    sizeof(cfg), cfg) >= 0;
		else	/* ENODEV on a CPU without XSAVE */
			ok = ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE,
				    &iov) == 0;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
	return ok;
}

static int probe_ptrace_seize(void) { return probe_ptrace(0); }
static int probe_ptrace_sigmask(void) { return probe_ptrace(1); }
static int probe_ptrace_rseq(void) { return probe_ptrace(2); }
static int probe_ptrace_xstate(void) { return probe_ptrace(3); }

static int probe_pagemap_scan(void)
{
	struct pm_scan_arg_compat arg = { .size = sizeof(arg) };
	int fd = open("/proc/self/pagemap", O_RDONLY), ret;

	if (fd < 0)
		return 0;
	arg.start = arg.end = 0x10000;
	ret = ioctl(fd, PAGEMAP_SCAN_COMPAT, &arg);
	close(fd);
	return ret == 0;
}

static int uffd_features(uint64_t want)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY), ok;

	if (fd < 0)
		return 0;
	ok = ioctl(fd, UFFDIO_API, &api) == 0 &&
	     (api.features & want) == want;
	close(fd);
	return ok;
}

static int probe_uffd(void) { return uffd_features(0); }
static int probe_uffd_wp_async(void)
{
	return uffd_features(UFFD_FEATURE_WP_ASYNC |
			     UFFD_FEATURE_WP_UNPOPULATED);
}

static int probe_lazy_pages(void) { return !lazy_uffd_api(-1, NULL); }

/* What restore --lazy-pages asks of userfaultfd, each present or not ("-"). */
static void print_lazy_pages(void)
{
	static const struct { uint64_t bit; const char *name; } f[] = {
		{ UFFD_FEATURE_EVENT_FORK, "event_fork" },
		{ UFFD_FEATURE_EVENT_REMAP, "event_remap" },
		{ UFFD_FEATURE_EVENT_REMOVE, "event_remove" },
		{ UFFD_FEATURE_EVENT_UNMAP, "event_unmap" },
		{ UFFD_FEATURE_MISSING_SHMEM, "missing_shmem" },
	};
	uint64_t have = 0;
	int ok = !lazy_uffd_api(-1, &have);
	size_t i;

	printf("%-24s %s, userfaultfd features %#" PRIx64 ":", "lazy_pages",
	       ok ? "yes" : "NO: restore --lazy-pages is refused", have);
	for (i = 0; i < ARRAY_SIZE(f); i++)
		printf(" %s%s", have & f[i].bit ? "" : "-", f[i].name);
	printf("\n");
}

static int probe_soft_dirty(void) { return track_probe_soft_dirty(); }
static int probe_track_uffd_wp(void) { return track_probe_uffd_wp(); }

static int probe_kpageflags(void)
{
	uint64_t v;
	int fd = open("/proc/kpageflags", O_RDONLY), ok;

	if (fd < 0)
		return 0;
	ok = pread(fd, &v, sizeof(v), 0) == sizeof(v);
	close(fd);
	return ok;
}

static int probe_page_idle(void)
{
	return access("/sys/kernel/mm/page_idle/bitmap", R_OK) == 0;
}

/* The kernel series in kernel/: kapi.h says how absence is told apart. */
static int probe_layout_seq(void)
{
	int ret = kapi_probe_layout_seq();

	if (ret < 0)
		pr_perror("Probing the layout cookie failed");
	return ret == 1;
}

static int probe_pidfd_rights(void)
{
	int ret = kapi_probe_pidfd_rights();

	if (ret < 0)
		pr_perror("Probing pidfd rights failed");
	return ret == 1;
}

/* CAP is in our effective set */
static int have_cap(cap_value_t cap)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (!caps) {
		pr_perror("Can't read criu-lite's capabilities");
		return 0;
	}
	if (cap_get_flag(caps, cap, CAP_EFFECTIVE, &v))
		v = CAP_CLEAR;
	cap_free(caps);
	return v == CAP_SET;
}

static int probe_cap_checkpoint_restore(void)
{
	return have_cap(CAP_CHECKPOINT_RESTORE) || have_cap(CAP_SYS_ADMIN);
}

struct feature {
	const char *name;
	int required;	/* dump or restore refuses without it */
	int (*probe)(void);
	const char *cost;
};

static const struct feature features[] = {
	{ "clone3_set_tid", 1, probe_clone3_set_tid,
	  "restore can't choose PIDs: nothing can be restored" },
	{ "cap_checkpoint_restore", 1, probe_cap_checkpoint_restore,
	  "clone3(set_tid) and PR_SET_MM_MAP are refused: run as root" },
	{ "pidfd_open", 1, probe_pidfd_open,
	  "dump can't pin tasks: a recycled PID could be mistaken for one" },
	{ "pidfd_send_signal", 1, probe_pidfd_send_signal,
	  "signals go by PID, racing with PID reuse" },
	{ "waitid_pidfd", 1, probe_waitid_pidfd,
	  "restore can't wait for the restored task by pidfd" },
	{ "ptrace_seize", 1, probe_ptrace_seize,
	  "tasks can't be frozen: nothing can be dumped" },
	{ "ptrace_sigmask", 1, probe_ptrace_sigmask,
	  "blocked signal masks can't be read or set" },
	{ "ptrace_rseq", 1, probe_ptrace_rseq,
	  "rseq registrations (glibc >= 2.35 makes one) can't be dumped" },
	{ "ptrace_xstate", 1, probe_ptrace_xstate,
	  "FPU/SSE/AVX state can't be read (no XSAVE): nothing can be dumped" },
	{ "prctl_mm_map", 1, probe_prctl_mm_map,
	  "brk, stack, arg/env bounds, auxv and exe can't be restored" },
	{ "arch_map_vdso", 1, probe_map_vdso,
	  "the vdso can't be moved to its dumped address" },
	{ "vvar_vclock", 0, probe_vvar_vclock,
	  "none: an older vdso layout (vvar + vdso), which restore follows" },
	{ "pidfd_getfd", 0, probe_pidfd_getfd,
	  "descriptors must be reopened by path instead of taken over" },
	{ "timerfd_set_ticks", 0, timerfd_probe_set_ticks,
	  "a timerfd's unread expirations can't be given back: restore refuses one that has some" },
	{ "kcmp_epoll_tfd", 0, epoll_probe_kcmp_tfd,
	  "epoll watches can't be matched to fds: dump refuses epoll fds that watch any" },
	{ "process_madvise", 0, probe_process_madvise,
	  "restored memory stays hot: cold pages can't be re-marked" },
	{ "madv_pageout", 0, probe_madv_pageout,
	  "pages swapped out at dump come back resident (MADV_COLD at most)" },
	{ "pagemap_swap", 0, probe_pagemap_swap,
	  "no swap on (or no swap bit in pagemap): no page is found swapped out at dump, none paged out at restore" },
	{ "pagemap_pfn", 0, probe_pagemap_pfn,
	  "no PFNs in pagemap (needs CAP_SYS_ADMIN): inactive pages can't be found, only swapped ones" },
	{ "layout_seq", 0, probe_layout_seq,
	  "cold marking falls back to the stopped-task guarantee (no layout cookie)" },
	{ "pidfd_rights", 0, probe_pidfd_rights,
	  "no reduced-rights pidfds: a supervisor gets a full pidfd or none" },
	{ "pagemap_scan", 0, probe_pagemap_scan,
	  "dirty tracking without soft-dirty is impossible: no incremental dumps" },
	{ "userfaultfd", 0, probe_uffd,
	  "no lazy (post-copy) restore" },
	{ "lazy_pages", 0, probe_lazy_pages,
	  "no restore --lazy-pages: userfaultfd for kernel faults with fork/remap/remove/unmap events is missing or refused (CAP_SYS_PTRACE)" },
	{ "uffd_wp_async", 0, probe_uffd_wp_async,
	  "no write tracking through userfaultfd for incremental dumps" },
	{ "soft_dirty", 0, probe_soft_dirty,
	  "incremental dumps must track writes with PAGEMAP_SCAN + uffd-wp" },
	{ "pagemap_scan_wp", 0, probe_track_uffd_wp,
	  "PAGEMAP_SCAN can't collect writes through async uffd-wp: no incremental dumps without soft-dirty" },
	{ "kpageflags", 0, probe_kpageflags,
	  "page temperature (active/inactive LRU) can't be read at dump" },
	{ "kpageflags_lru", 0, probe_kpageflags_lru,
	  "no LRU/ACTIVE/REFERENCED flags for our pages: only swapped pages are recorded cold" },
	{ "page_idle", 0, probe_page_idle,
	  "no idle-page tracking: temperature comes from LRU flags only" },
	{ "tcp_repair", 0, inet_probe_repair,
	  "ESTABLISHED TCP connections can't be dumped or restored (needs CAP_NET_ADMIN)" },
	{ "nft", 0, inet_probe_nft,
	  "no nftables (nft): ESTABLISHED TCP connections can't be dumped" },
};

int cr_check(void)
{
	int missing = 0, json_first = 1;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(features); i++) {
		const struct feature *f = &features[i];
		int present;

		if (opts.feature && strcmp(opts.feature, f->name))
			continue;
		if (!opts.feature && !opts.check_all && !f->required)
			continue;
		present = f->probe();
		if (!present && f->required)
			missing++;
		if (opts.json) {
			printf("%s{\"feature\": \"%s\", \"present\": %s, \"required\": %s}",
			       json_first ? "[" : ", ", f->name,
			       present ? "true" : "false",
			       f->required ? "true" : "false");
			json_first = 0;
		} else if (present) {
			printf("%-24s present\n", f->name);
		} else {
			printf("%-24s ABSENT%s: %s\n", f->name,
			       f->required ? " (required)" : "", f->cost);
		}
		if (opts.feature) {
			if (opts.json)
				printf("]\n");
			return present ? 0 : 1;
		}
	}
	if (opts.json)
		printf("%s]\n", json_first ? "[" : "");
	if (opts.feature) {
		pr_err("Unknown feature \"%s\"\n", opts.feature);
		return 2;
	}
	if (!opts.json) {
		enum tracker k = track_probe();

		printf("%-24s %s\n", "mem_tracker", k == TRACKER_NONE ?
		       "NONE: pre-dump and dump --track-mem are refused" :
		       track_name(k));
		print_lazy_pages();
		printf(missing ? "%d required feature(s) missing\n" :
				 "Looks good.\n", missing);
	}
	return missing ? 1 : 0;
}

/*
 * What restore can't do without, checked before it creates anything: the
 * capability to choose PIDs, clone3 with set_tid, and for --pidns the right
 * to create a PID namespace.
 */
int check_restore_kernel(void)
{
	int err;

	if (!probe_cap_checkpoint_restore() && opts.pidns) {
		/* the user namespace we create gives us those, over its own */
		pr_info("Unprivileged: the new PID namespace goes in a user namespace of ours\n");
		opts.userns = 1;
		return 0;
	}
	if (!probe_cap_checkpoint_restore()) {
		pr_err("restore needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN to choose PIDs (clone3 set_tid) and set mm fields: run it as root, or unprivileged with --pidns (a user namespace of your own)\n");
		return -1;
	}
	if (opts.pidns && !have_cap(CAP_SYS_ADMIN)) {
		pr_err("restore --pidns needs CAP_SYS_ADMIN to create a PID namespace\n");
		return -1;
	}
	err = clone3_set_tid_errno();
	if (!err)
		return 0;
	errno = err;
	if (err == EPERM)
		pr_perror("clone3 with set_tid is refused in criu-lite's PID namespace: restore needs CAP_CHECKPOINT_RESTORE in the user namespace that owns it");
	else
		pr_perror("This kernel has no clone3 with set_tid (Linux 5.5+): restore can't choose PIDs");
	return -1;
}
