// SPDX-License-Identifier: GPL-2.0-only
/*
 * Incremental dumps: which pages were written since the previous dump.
 *
 * Two trackers. Soft-dirty, where the kernel has it (CONFIG_MEM_SOFT_DIRTY):
 * writing "4" to /proc/PID/clear_refs clears every page's bit 55 in pagemap,
 * and a write sets it again; the state lives in the page tables, nothing has
 * to be held between dumps. Without it (x86 kernels built without it, all
 * arm64), PAGEMAP_SCAN (6.7+) with userfaultfd's asynchronous write-protect:
 * every anonymous private VMA of the task is registered with a userfaultfd in
 * UFFDIO_REGISTER_MODE_WP, with UFFD_FEATURE_WP_ASYNC (a write to a protected
 * page just drops the protection, in the kernel, no fault reaches anyone).
 * Not WP_UNPOPULATED: it protects holes with PTE markers, which pagemap
 * reports as swapped pages, so every hole would be dumped (and populated at
 * restore); without it a hole faulted in later has an unprotected page,
 * which reads written, as it must. PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC then returns the pages written
 * since (PAGE_IS_WRITTEN: not protected) and protects them again, in one walk
 * under the page table locks, while the tree is frozen.
 *
 * A page is left in the previous dump (pagemap entry in_prev) only when it is
 * there now (present or swapped), was not written, its VMA lies inside a VMA
 * the previous dump had, and the previous dump's pagemap for the same PID
 * holds it; anything else is dumped. A VMA newly registered has no protected
 * page, so it reads all written: new VMAs, VMAs moved by mremap (the kernel
 * drops their registration and protection) and VMAs whose registration was
 * lost are dumped in full without special cases. VMAs uffd refuses (or that
 * another userfaultfd has: EBUSY), shared memory, private file mappings and
 * memory shared copy-on-write with a parent are dumped in full. What the
 * tracker can't see: writes that fault nothing (DMA into pages pinned before
 * the protection, io_uring fixed buffers, vmsplice'd pages).
 *
 * The userfaultfd is bound to the mm that creates it, so the task creates it
 * (a syscall injected while it is frozen) and we take it with pidfd_getfd()
 * and close it in the task again. Tracking must survive from one criu-lite to
 * the next, and a userfaultfd lives as long as some file table holds it: when
 * the last reference goes, the kernel unregisters every range. The choice:
 *  - leave it open in the task, at a high fd number: nothing else runs, but
 *    the application sees an fd it did not open (in /proc, to close_range()
 *    and closefrom(), to a later dump's files code that must skip it), and
 *    any exec() or fd-closing loop silently ends tracking;
 *  - a tracker process (chosen): each pre-dump forks "criu-lite-track", a
 *    tiny session leader holding the uffds (and a pidfd per task, to exit once
 *    every tracked task has); its PID goes in inventory.img and each task's
 *    fd number in its pagemap head. The next dump takes the uffds from it
 *    with pidfd_getfd(), hands them to a fresh tracker if tracking goes on,
 *    and kills the old one once its images are committed (a failed dump
 *    leaves the old one, and the chain, as they were). The cost: one sleeping
 *    process per tracked tree, visible in ps; killing it loses tracking, which
 *    is safe (the next dump finds no protected page: a full dump) but not
 *    cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "syscalls.h"
#include "task.h"
#include "track.h"

#define TRACKER_COMM	"criu-lite-track"
#define SCAN_VEC	512

struct range {
	uint64_t start, end;
};

struct track_vma {
	int eligible;		/* pages may be left in the previous dump */
	struct range *dirty;	/* uffd-wp: written since, sorted */
	size_t n_dirty;
};

struct track_task {
	int uffd;		/* ours, -1 */
	struct track_vma *vmas;	/* per VMA of t->mm */
	MmEntry *prev_mm;	/* NULL: not in the previous dump */
	struct rst_run *prev;	/* its pagemap there */
	size_t n_prev;
};

static struct {
	enum tracker kind;
	int prev_dirfd;
	InventoryEntry *prev_inv;
	int prev_tracked;	/* the previous dump left a tracker we use */
	int old_pidfd;		/* its tracker process */
	int new_pidfd;		/* ours, for the next dump */
	pid_t new_pid;
	char prev_rel[PATH_MAX];
	char dump_id[33];
	uint64_t marker;	/* pagemap entry of a protected hole */
} trk = { .prev_dirfd = -1, .old_pidfd = -1, .new_pidfd = -1 };

const char *track_name(enum tracker k)
{
	switch (k) {
	case TRACKER_SOFT_DIRTY:
		return "soft-dirty";
	case TRACKER_UFFD_WP:
		return "uffd-wp";
	default:
		return "none";
	}
}

/* A page written after clear_refs=4 has bit 55 set only with soft-dirty. */
int track_probe_soft_dirty(void)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), cr, ok = 0;
	long page = getpagesize();
	uint64_t pme = 0;
	char *p;

	cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (pm >= 0 && cr >= 0 && p != MAP_FAILED && write(cr, "4", 1) == 1) {
		*(volatile char *)p = 1;
		if (pread(pm, &pme, 8, ((uintptr_t)p / page) * 8) == 8)
			ok = !!(pme & PME_SOFT_DIRTY);
	}
	if (p != MAP_FAILED)
		munmap(p, page);
	if (pm >= 0)
		close(pm);
	if (cr >= 0)
		close(cr);
	return ok;
}

static int uffd_api(int uffd)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC,
	};

	return ioctl(uffd, UFFDIO_API, &api);
}

/*
 * Written pages of [START, END) into *OUT (appended), protecting them again.
 * 0, or -1 with errno (EPERM: not registered for async uffd-wp).
 */
static int scan_written(int pm_fd, uint64_t start, uint64_t end,
			struct range **out, size_t *n)
{
	struct page_region_compat vec[SCAN_VEC];
	struct pm_scan_arg_compat arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_WP_MATCHING_C | PM_SCAN_CHECK_WPASYNC_C,
		.vec = (uintptr_t)vec, .vec_len = SCAN_VEC,
		.category_mask = PAGE_IS_WRITTEN_C,
		.return_mask = PAGE_IS_WRITTEN_C,
	};
	long got, i;

	while (start < end) {
		arg.start = start;
		arg.end = end;
		arg.walk_end = 0;
		got = ioctl(pm_fd, PAGEMAP_SCAN_COMPAT, &arg);
		if (got < 0)
			return -1;
		for (i = 0; i < got; i++) {
			struct range *r = realloc(*out, (*n + 1) * sizeof(*r));

			if (!r) {
				errno = ENOMEM;
				return -1;
			}
			*out = r;
			r[*n].start = vec[i].start;
			r[(*n)++].end = vec[i].end;
		}
		if (arg.walk_end <= start)
			break;
		start = arg.walk_end;
	}
	return 0;
}

/* The whole mechanism on one page of our own, as a dump would use it. */
int track_probe_uffd_wp(void)
{
	int uffd, pm, ok = 0;
	long page = getpagesize();
	struct range *r = NULL;
	size_t n = 0;
	char *p;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (uffd >= 0 && pm >= 0 && p != MAP_FAILED && !uffd_api(uffd)) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)p, 2 * page },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		p[0] = p[page] = 1;
		if (!ioctl(uffd, UFFDIO_REGISTER, &reg) &&
		    !scan_written(pm, (uintptr_t)p, (uintptr_t)p + 2 * page,
				  &r, &n)) {
			free(r);
			r = NULL;
			n = 0;
			p[page] = 2;
			ok = !scan_written(pm, (uintptr_t)p,
					   (uintptr_t)p + 2 * page, &r, &n) &&
			     n == 1 && r[0].start == (uintptr_t)p + page &&
			     r[0].end == (uintptr_t)p + 2 * page;
		}
	}
	free(r);
	if (p != MAP_FAILED)
		munmap(p, 2 * page);
	if (pm >= 0)
		close(pm);
	if (uffd >= 0)
		close(uffd);
	return ok;
}

/*
 * PAGEMAP_SCAN protects holes too, with uffd-wp PTE markers, and pagemap
 * reports a marker as a swapped page (type and offset of the marker entry):
 * left as it is, every hole of a tracked VMA would be dumped and populated
 * at restore. Learn its pagemap entry on a hole of our own.
 */
static int probe_marker(void)
{
	long page = getpagesize();
	struct range *r = NULL;
	int uffd, pm, ret = -1;
	uint64_t pme = 0;
	size_t n = 0;
	char *p;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (uffd >= 0 && pm >= 0 && p != MAP_FAILED && !uffd_api(uffd)) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)p, page },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		if (!ioctl(uffd, UFFDIO_REGISTER, &reg) &&
		    !scan_written(pm, (uintptr_t)p, (uintptr_t)p + page, &r, &n) &&
		    pread(pm, &pme, sizeof(pme), (uintptr_t)p / page * 8) == 8)
			ret = 0;
	}
	if (ret)
		pr_perror("Can't learn how pagemap shows a write-protected hole");
	else if (!(pme & PME_SWAP))
		trk.marker = 0;
	else if (!(pme & PME_PFN_MASK)) {
		pr_err("pagemap shows write-protected holes as swapped pages, and without CAP_SYS_ADMIN they look like any swapped page: run as root\n");
		ret = -1;
	} else {
		trk.marker = pme & (PME_SWAP | PME_PFN_MASK);
	}
	free(r);
	if (p != MAP_FAILED)
		munmap(p, page);
	if (pm >= 0)
		close(pm);
	if (uffd >= 0)
		close(uffd);
	return ret;
}

int track_hole(uint64_t pme)
{
	return trk.marker && (pme & (PME_SWAP | PME_PFN_MASK)) == trk.marker;
}

enum tracker track_probe(void)
{
	static int probed = -1;

	if (probed < 0)
		probed = track_probe_soft_dirty() ? TRACKER_SOFT_DIRTY :
			 track_probe_uffd_wp() ? TRACKER_UFFD_WP : TRACKER_NONE;
	return probed;
}

/* Dump side */

static int tracking_goes_on(void)
{
	return opts.pre_dump || (opts.track_mem && opts.leave_running);
}

/* TO relative to the directory FROM, both existing: "../pre-1" and such. */
static int relative_path(const char *from, const char *to, char *out,
			 size_t size)
{
	char a[PATH_MAX], b[PATH_MAX];
	size_t i, common = 0, len = 0;
	const char *p;

	if (!realpath(from, a) || !realpath(to, b)) {
		pr_perror("Can't resolve %s or %s", from, to);
		return -1;
	}
	for (i = 0; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			common = i;
	if (!a[i] && (b[i] == '/' || !b[i]))
		common = i;
	else if (!b[i] && a[i] == '/')
		common = i;
	out[0] = 0;
	for (p = a + common; *p; p++)
		if (*p == '/')
			len += snprintf(out + len, size - len, "../");
	p = b + common;
	if (*p == '/')
		p++;
	len += snprintf(out + len, size - len, "%s", *p ? p : ".");
	if (len >= size) {
		pr_err("The path from %s to %s is too long\n", a, b);
		return -1;
	}
	return 0;
}

static int prev_open(int images_dirfd)
{
	InventoryEntry *inv;

	if (opts.prev_dir[0] == '/') {
		if (relative_path(opts.dir, opts.prev_dir, trk.prev_rel,
				  sizeof(trk.prev_rel)))
			return -1;
	} else {
		snprintf(trk.prev_rel, sizeof(trk.prev_rel), "%s", opts.prev_dir);
	}
	trk.prev_dirfd = openat(images_dirfd, trk.prev_rel,
				O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (trk.prev_dirfd < 0) {
		pr_perror("Can't open the previous images directory %s", opts.prev_dir);
		return -1;
	}
	inv = (InventoryEntry *)read_one_msg(trk.prev_dirfd, IMG_INVENTORY, 0);
	if (!inv) {
		pr_err("The previous images directory %s holds no complete dump\n",
		       opts.prev_dir);
		return -1;
	}
	trk.prev_inv = inv;
	if (inv->root_pid != (uint32_t)opts.pid) {
		pr_err("The previous images %s are of the tree of PID %u, not %d\n",
		       opts.prev_dir, inv->root_pid, opts.pid);
		return -1;
	}
	if (!inv->dump_id) {
		pr_err("The previous images %s were not made for incremental dumps (no dump id): make them with pre-dump or dump --track-mem\n",
		       opts.prev_dir);
		return -1;
	}
	if (!inv->tracker || strcmp(inv->tracker, track_name(trk.kind))) {
		pr_warn("The previous images %s left no %s tracking behind: all memory is dumped\n",
			opts.prev_dir, track_name(trk.kind));
		return 0;
	}
	if (trk.kind == TRACKER_SOFT_DIRTY) {
		trk.prev_tracked = 1;
		return 0;
	}
	trk.old_pidfd = sys_pidfd_open(inv->tracker_pid, 0);
	{
		struct proc_stat st;

		if (trk.old_pidfd < 0 ||
		    proc_parse_stat(inv->tracker_pid, &st) ||
		    strcmp(st.comm, TRACKER_COMM)) {
			pr_warn("The tracker of %s (PID %u) is gone: all memory is dumped\n",
				opts.prev_dir, inv->tracker_pid);
			if (trk.old_pidfd >= 0)
				close(trk.old_pidfd);
			trk.old_pidfd = -1;
			return 0;
		}
	}
	trk.prev_tracked = 1;
	return 0;
}

/* The task's uffd from the previous dump's tracker; -1 if there is none. */
static int uffd_inherit(struct dump_task *t)
{
	struct cr_img *img;
	PagemapHead *head;
	char link[64];
	int fd;

	if (!trk.prev_tracked || trk.old_pidfd < 0 || !t->track->prev_mm)
		return -1;
	img = open_image(trk.prev_dirfd, IMG_PAGEMAP, t->track->prev_mm->pages_id);
	if (!img)
		return -1;
	if (img_read_msg(img, &pagemap_head__descriptor,
			 (ProtobufCMessage **)&head) != 1) {
		img_close(img);
		return -1;
	}
	fd = head->has_tracker_fd ? head->tracker_fd : -1;
	protobuf_c_message_free_unpacked(&head->base, NULL);
	img_close(img);
	if (fd < 0)
		return -1;
	fd = sys_pidfd_getfd(trk.old_pidfd, fd, 0);
	if (fd < 0) {
		pr_warn("PID %d: can't take its userfaultfd from the tracker: %s: its memory is dumped in full\n",
			t->pid, strerror(errno));
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	{
		char target[64] = "";
		ssize_t n = readlink(link, target, sizeof(target) - 1);

		if (n < 0 || strcmp(target, "anon_inode:[userfaultfd]")) {
			pr_warn("PID %d: the tracker's fd is not a userfaultfd: its memory is dumped in full\n",
				t->pid);
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* A fresh userfaultfd, created by the task for its own mm. */
static int uffd_create(struct dump_task *t)
{
	long fd;
	int ours, err;

	if (remote_start(&t->remote, t->pid, REMOTE_SYSCALL_STOPS, t->syscall_ip))
		return -1;
	if (remote_syscall(&t->remote, &fd, SYS_userfaultfd,
			   O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0, 0,
			   0, 0)) {
		remote_finish(&t->remote);
		return -1;
	}
	if (fd < 0) {
		remote_finish(&t->remote);
		errno = -fd;
		pr_perror("PID %d: userfaultfd() in the task", t->pid);
		return -1;
	}
	ours = remote_take_fd(&t->remote, t->ref.pidfd, fd);
	err = errno;
	if (remote_finish(&t->remote) || ours == -2) {
		if (ours >= 0)
			close(ours);
		return -1;
	}
	if (ours < 0) {
		errno = err;
		pr_perror("PID %d: pidfd_getfd of its userfaultfd", t->pid);
		return -1;
	}
	if (uffd_api(ours)) {
		pr_perror("PID %d: UFFDIO_API with asynchronous write-protect",
			  t->pid);
		close(ours);
		return -1;
	}
	return ours;
}

static int vma_trackable(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON && !(v->flags & MAP_SHARED) &&
	       !v->has_shm_id;
}

/* The previous dump had a private anonymous VMA around all of V. */
static int vma_in_prev(const MmEntry *prev, const VmaEntry *v)
{
	const VmaEntry *pv = prev ? mm_find_vma(prev, v->start) : NULL;

	return pv && vma_trackable(pv) && pv->start <= v->start &&
	       pv->end >= v->end;
}

static uint64_t ranges_pages(const struct track_vma *tv)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < tv->n_dirty; i++)
		n += (tv->dirty[i].end - tv->dirty[i].start) / getpagesize();
	return n;
}

static int task_uffd_track(struct dump_task *t, int pm_fd)
{
	struct track_task *tt = t->track;
	size_t i;

	tt->uffd = uffd_inherit(t);
	if (tt->uffd < 0)
		tt->uffd = uffd_create(t);
	if (tt->uffd < 0)
		return -1;
	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		struct track_vma *tv = &tt->vmas[i];
		struct uffdio_register reg = {
			.range = { v->start, v->end - v->start },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		if (!vma_trackable(v))
			continue;
		/* ours already: no change; new: nothing protected, all written */
		if (ioctl(tt->uffd, UFFDIO_REGISTER, &reg)) {
			pr_debug("PID %d: VMA %#" PRIx64 "-%#" PRIx64 " can't be write-tracked (%s): dumped in full\n",
				 t->pid, v->start, v->end, strerror(errno));
			continue;
		}
		if (scan_written(pm_fd, v->start, v->end, &tv->dirty,
				 &tv->n_dirty)) {
			pr_perror("PID %d: PAGEMAP_SCAN of VMA %#" PRIx64 "-%#" PRIx64,
				  t->pid, v->start, v->end);
			return -1;
		}
		tv->eligible = trk.prev_tracked && vma_in_prev(tt->prev_mm, v);
		pr_debug("PID %d: VMA %#" PRIx64 "-%#" PRIx64 ": %" PRIu64 " pages written since%s\n",
			 t->pid, v->start, v->end, ranges_pages(tv),
			 tv->eligible ? "" : ", not in the previous dump");
	}
	return 0;
}

static int task_prev_load(struct dump_task *t)
{
	struct track_task *tt = t->track;
	char name[64];

	if (trk.prev_dirfd < 0)
		return 0;
	image_name(IMG_MM, t->pid, name, sizeof(name));
	if (faccessat(trk.prev_dirfd, name, F_OK, 0)) {
		pr_info("PID %d is not in the previous dump: dumped in full\n",
			t->pid);
		return 0;
	}
	tt->prev_mm = (MmEntry *)read_one_msg(trk.prev_dirfd, IMG_MM, t->pid);
	if (!tt->prev_mm ||
	    pagemap_load(trk.prev_dirfd, tt->prev_mm->pages_id, &tt->prev,
			 &tt->n_prev)) {
		pr_err("Can't read PID %d's images in the previous dump %s\n",
		       t->pid, opts.prev_dir);
		return -1;
	}
	return 0;
}

/*
 * Incremental dump: the temperature the previous dump recorded, for the
 * pages it holds that were not written since. Reading their page flags
 * again would cost most of the frozen time of a dump that writes little;
 * what is lost is a page that was only read since.
 */
int track_prev_temps(const struct dump_task *t, struct coldmark_dump *cm)
{
	const struct track_task *tt = t->track;

	if (!tt || !tt->prev_mm || !cm->temp)
		return 0;
	if (pagemap_load_temps(trk.prev_dirfd, tt->prev_mm->pages_id,
			       &cm->prev)) {
		pr_err("Can't read PID %d's page temperature in the previous dump %s\n",
		       t->pid, opts.prev_dir);
		return -1;
	}
	return 0;
}

/*
 * A VMA a child has at the same place may be shared with it copy-on-write
 * (pages.c decides page by page, once the child is dumped): restore maps
 * and fills the parent's before the fork from its own pages image only
 * (cow.c), so none of its pages may be left in the previous dump.
 */
static void unshare_cow(struct dump_tree *tree)
{
	size_t i, j;

	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i], *p = t->parent;

		if (t->zombie || !p || p->zombie || !p->track)
			continue;
		for (j = 0; j < p->mm->n_vmas; j++) {
			const VmaEntry *pv = p->mm->vmas[j];
			const VmaEntry *v = mm_find_vma(t->mm, pv->start);

			if (v && v->start == pv->start && v->end == pv->end &&
			    vma_trackable(v) && vma_trackable(pv))
				p->track->vmas[j].eligible = 0;
		}
	}
}

int track_dump_start(struct dump_tree *tree, int images_dirfd)
{
	unsigned char id[16];
	size_t i, j;

	if (getrandom(id, sizeof(id), 0) != sizeof(id)) {
		pr_perror("Can't make a dump id");
		return -1;
	}
	for (i = 0; i < sizeof(id); i++)
		snprintf(trk.dump_id + 2 * i, 3, "%02x", id[i]);
	if (!opts.pre_dump && !opts.track_mem && !opts.prev_dir)
		return 0;
	trk.kind = track_probe();
	if (trk.kind == TRACKER_NONE) {
		pr_err("This kernel can track writes neither by soft-dirty nor by PAGEMAP_SCAN with async uffd-wp (6.7+): no incremental dumps (see criu-lite check)\n");
		return -1;
	}
	if (trk.kind == TRACKER_UFFD_WP && probe_marker())
		return -1;
	if (opts.prev_dir && prev_open(images_dirfd))
		return -1;
	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];
		int pm_fd, ret = 0;

		if (t->zombie)
			continue;
		t->track = arena_alloc(t->arena, sizeof(*t->track));
		if (!t->track)
			return -1;
		memset(t->track, 0, sizeof(*t->track));
		t->track->uffd = -1;
		t->track->vmas = calloc(t->mm->n_vmas, sizeof(*t->track->vmas));
		if (!t->track->vmas || task_prev_load(t))
			return -1;
		if (trk.kind == TRACKER_SOFT_DIRTY) {
			for (j = 0; j < t->mm->n_vmas; j++)
				t->track->vmas[j].eligible = trk.prev_tracked &&
					vma_trackable(t->mm->vmas[j]) &&
					vma_in_prev(t->track->prev_mm,
						    t->mm->vmas[j]);
			continue;
		}
		pm_fd = pagemap_open(t->pid);
		if (pm_fd < 0)
			return -1;
		ret = task_uffd_track(t, pm_fd);
		close(pm_fd);
		if (ret)
			return -1;
	}
	unshare_cow(tree);
	return 0;
}

/* The pages of [LO, HI) that are in the batch [ADDR, END): VAL. */
static void mask_set(uint8_t *mask, uint64_t addr, uint64_t end, uint64_t lo,
		     uint64_t hi, int val)
{
	uint64_t page = getpagesize();

	if (hi <= addr || lo >= end)
		return;
	if (lo < addr)
		lo = addr;
	if (hi > end)
		hi = end;
	memset(mask + (lo - addr) / page, val, (hi - lo) / page);
}

/*
 * Which pages of the batch at ADDR may be left in the previous dump: not
 * written, and in its pagemap for the PID (not as the parent's there).
 * Returns 1 with PREV_OK filled, 0 if none may.
 */
int track_batch_mask(const struct dump_task *t, const VmaEntry *v,
		     uint64_t addr, size_t nr, const uint64_t *pme,
		     uint8_t *prev_ok)
{
	const struct track_task *tt = t->track;
	uint64_t page = getpagesize(), end = addr + nr * page;
	const struct track_vma *tv = NULL;
	size_t i, k;

	if (!tt || v->cow || !tt->n_prev)
		return 0;
	for (i = 0; i < t->mm->n_vmas; i++)
		if (t->mm->vmas[i] == v)
			tv = &tt->vmas[i];
	if (!tv || !tv->eligible)
		return 0;
	memset(prev_ok, 0, nr);
	for (k = 0; k < tt->n_prev; k++)
		if (!tt->prev[k].in_parent)
			mask_set(prev_ok, addr, end, tt->prev[k].vaddr,
				 tt->prev[k].vaddr + tt->prev[k].nr * page, 1);
	if (trk.kind == TRACKER_SOFT_DIRTY) {
		for (i = 0; i < nr; i++)
			if (pme[i] & PME_SOFT_DIRTY)
				prev_ok[i] = 0;
		return 1;
	}
	for (k = 0; k < tv->n_dirty; k++)
		mask_set(prev_ok, addr, end, tv->dirty[k].start,
			 tv->dirty[k].end, 0);
	return 1;
}

/* Frozen, after the pagemap was read: start the next interval. */
int track_dump_rearm(struct dump_tree *tree)
{
	size_t i;

	if (trk.kind != TRACKER_SOFT_DIRTY || !tracking_goes_on())
		return 0;
	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];

		if (t->zombie)
			continue;
		/* 4: clear the soft-dirty bits */
		if (proc_write_file(t->pid, "clear_refs", "4"))
			return -1;
	}
	return 0;
}

int track_tracker_fd(const struct dump_task *t)
{
	if (trk.kind != TRACKER_UFFD_WP || !tracking_goes_on() || !t->track)
		return -1;
	return t->track->uffd;
}

static int int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The tracker: holds FDS, exits once every task of PIDFDS has. */
static void __attribute__((noreturn)) tracker_main(int *fds, size_t n,
						   struct pollfd *pfd,
						   size_t npfd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE };
	size_t i, live = npfd;
	int lo = 0;

	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_DFL);
	setsid();
	prctl(PR_SET_NAME, TRACKER_COMM);
	if (chdir("/"))
		_exit(1);
	qsort(fds, n, sizeof(*fds), int_cmp);
	for (i = 0; i < n; i++) {
		if (fds[i] > lo)
			syscall(SYS_close_range, lo, fds[i] - 1, 0);
		lo = fds[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
	while (live) {
		if (poll(pfd, npfd, -1) < 0)
			continue;
		for (i = 0; i < npfd; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents) {
				pfd[i].fd = -1;
				live--;
			}
	}
	_exit(0);
}

int track_handover(struct dump_tree *tree)
{
	struct pollfd *pfd;
	size_t i, n = 0, np = 0;
	int *fds;
	pid_t pid;

	if (trk.kind != TRACKER_UFFD_WP || !tracking_goes_on())
		return 0;
	fds = calloc(2 * tree->n, sizeof(*fds));
	pfd = calloc(tree->n, sizeof(*pfd));
	if (!fds || !pfd) {
		free(fds);
		free(pfd);
		return -1;
	}
	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];

		if (t->zombie || !t->track || t->track->uffd < 0)
			continue;
		fds[n++] = t->track->uffd;
		fds[n++] = t->ref.pidfd;
		pfd[np].fd = t->ref.pidfd;
		pfd[np++].events = POLLIN;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("Can't start the tracker process");
		free(fds);
		free(pfd);
		return -1;
	}
	if (!pid)
		tracker_main(fds, n, pfd, np);
	free(fds);
	free(pfd);
	trk.new_pid = pid;
	trk.new_pidfd = sys_pidfd_open(pid, 0);
	if (trk.new_pidfd < 0) {
		pr_perror("Can't open a pidfd for the tracker %d", pid);
		kill(pid, SIGKILL);
		return -1;
	}
	pr_info("Tracker process %d holds the userfaultfds of %zu tasks\n", pid, np);
	return 0;
}

void track_fill_inventory(InventoryEntry *inv)
{
	inv->dump_id = trk.dump_id;
	if (opts.pre_dump)
		inv->has_pre_dump = inv->pre_dump = 1;
	if (opts.prev_dir) {
		inv->prev_dir = trk.prev_rel;
		inv->prev_dump_id = trk.prev_inv ? trk.prev_inv->dump_id : NULL;
	}
	if (trk.kind == TRACKER_NONE || !tracking_goes_on())
		return;
	inv->tracker = (char *)track_name(trk.kind);
	if (trk.kind == TRACKER_UFFD_WP) {
		inv->has_tracker_pid = 1;
		inv->tracker_pid = trk.new_pid;
	}
}

static void tracker_kill(int *pidfd)
{
	if (*pidfd < 0)
		return;
	if (sys_pidfd_send_signal(*pidfd, SIGKILL, NULL, 0) && errno != ESRCH)
		pr_perror("Can't end a tracker process");
	close(*pidfd);
	*pidfd = -1;
}

/* Once the images are in place the old tracker goes, else the new one. */
void track_dump_done(struct dump_tree *tree, int committed)
{
	size_t i, j;

	for (i = 0; i < tree->n; i++) {
		struct track_task *tt = tree->tasks[i]->track;

		free(tree->tasks[i]->pm_snap);
		tree->tasks[i]->pm_snap = NULL;
		if (!tt)
			continue;
		for (j = 0; tt->vmas && j < tree->tasks[i]->mm->n_vmas; j++)
			free(tt->vmas[j].dirty);
		free(tt->vmas);
		free(tt->prev);
		if (tt->prev_mm)
			protobuf_c_message_free_unpacked(&tt->prev_mm->base, NULL);
		if (tt->uffd >= 0)
			close(tt->uffd);
		tree->tasks[i]->track = NULL;
	}
	tracker_kill(committed ? &trk.old_pidfd : &trk.new_pidfd);
	if (trk.new_pidfd >= 0)
		close(trk.new_pidfd);
	trk.new_pidfd = -1;
	if (trk.prev_inv)
		protobuf_c_message_free_unpacked(&trk.prev_inv->base, NULL);
	trk.prev_inv = NULL;
	if (trk.prev_dirfd >= 0)
		close(trk.prev_dirfd);
	trk.prev_dirfd = -1;
}

/* Restore side */

int track_chain_open(int dirfd, const char *dir, const InventoryEntry *inv,
		     struct img_chain *chain)
{
	const InventoryEntry *cur = inv;
	InventoryEntry *prev = NULL, *held = NULL;
	int ret = -1;

	chain->n = 1;
	chain->dirfd[0] = dirfd;
	chain->name[0] = strdup(dir);
	if (!chain->name[0])
		return -1;
	while (cur->prev_dir) {
		int l = chain->n, fd;
		const char *name;
		size_t len;

		if (l == CHAIN_MAX) {
			pr_err("The chain of previous images from %s is longer than %d\n",
			       dir, CHAIN_MAX);
			goto out;
		}
		len = strlen(chain->name[l - 1]) + strlen(cur->prev_dir) + 2;
		chain->name[l] = malloc(len);
		if (!chain->name[l])
			goto out;
		snprintf(chain->name[l], len, "%s/%s", chain->name[l - 1],
			 cur->prev_dir);
		name = chain->name[l];
		fd = openat(chain->dirfd[l - 1], cur->prev_dir,
			    O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("Image %s/inventory.img stands on the previous images %s, which can't be opened",
				  chain->name[l - 1], name);
			free(chain->name[l]);
			goto out;
		}
		chain->dirfd[l] = fd;
		chain->n++;
		held = prev;	/* CUR, until PREV is checked against it */
		prev = (InventoryEntry *)read_one_msg(fd, IMG_INVENTORY, 0);
		if (!prev) {
			pr_err("The previous images %s hold no complete dump (no valid inventory.img)\n",
			       name);
			goto out;
		}
		if (prev->root_pid != cur->root_pid) {
			pr_err("The previous images %s are of the tree of PID %u, %s of PID %u: not its previous dump\n",
			       name, prev->root_pid, chain->name[l - 1],
			       cur->root_pid);
			goto out;
		}
		if (!prev->dump_id || !cur->prev_dump_id ||
		    strcmp(prev->dump_id, cur->prev_dump_id)) {
			pr_err("The previous images %s are dump %s, %s was made on dump %s: mismatched previous image\n",
			       name, prev->dump_id ? prev->dump_id : "(none)",
			       chain->name[l - 1],
			       cur->prev_dump_id ? cur->prev_dump_id : "(none)");
			goto out;
		}
		if (prev->page_size != inv->page_size) {
			pr_err("The previous images %s have %u-byte pages, not %u\n",
			       name, prev->page_size, inv->page_size);
			goto out;
		}
		cur = prev;
		if (held)
			protobuf_c_message_free_unpacked(&held->base, NULL);
		held = NULL;
	}
	ret = 0;
out:
	if (held)
		protobuf_c_message_free_unpacked(&held->base, NULL);
	if (prev)
		protobuf_c_message_free_unpacked(&prev->base, NULL);
	return ret;
}

void track_chain_close(struct img_chain *chain)
{
	int i;

	for (i = 0; i < chain->n; i++) {
		if (i)
			close(chain->dirfd[i]);
		free(chain->name[i]);
	}
	chain->n = 0;
}

struct want {
	struct range *v;
	size_t n;
};

static int want_add(struct want *w, uint64_t start, uint64_t end)
{
	struct range *r;

	if (w->n && w->v[w->n - 1].end == start) {
		w->v[w->n - 1].end = end;
		return 0;
	}
	r = realloc(w->v, (w->n + 1) * sizeof(*r));
	if (!r)
		return -1;
	w->v = r;
	w->v[w->n].start = start;
	w->v[w->n++].end = end;
	return 0;
}

static int seg_add(struct rst_task *t, uint64_t vaddr, uint64_t nr,
		   uint64_t off, int level, unsigned int id)
{
	struct prev_seg *s = realloc(t->psegs, (t->n_psegs + 1) * sizeof(*s));

	if (!s)
		return -1;
	t->psegs = s;
	t->psegs[t->n_psegs++] = (struct prev_seg){ vaddr, nr, off, level, id };
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct prev_seg *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Each wanted range of level L - 1 against level L's VMAs and pagemap. */
static int resolve_level(struct rst_task *t, int l, const MmEntry *cur_mm,
			 const MmEntry *mm, struct want *w, struct want *next)
{
	const char *name = t->chain->name[l];
	uint64_t page = getpagesize();
	struct rst_run *runs = NULL;
	size_t n = 0, i, k = 0;
	int ret = -1;

	for (i = 0; i < w->n; i++) {
		const VmaEntry *v = mm_find_vma(cur_mm, w->v[i].start);

		if (!v || !vma_in_prev(mm, v)) {
			pr_err("PID %d: VMA %#" PRIx64 "-%#" PRIx64 " claims pages in the previous image %s, whose mm-%d.img has no private anonymous VMA around it: mismatched previous image\n",
			       t->pid, v ? v->start : w->v[i].start,
			       v ? v->end : w->v[i].end, name, t->pid);
			return -1;
		}
	}
	if (pagemap_load(t->chain->dirfd[l], mm->pages_id, &runs, &n))
		goto out;
	for (i = 0; i < w->n; i++) {
		uint64_t a = w->v[i].start;

		while (k < n && runs[k].vaddr + runs[k].nr * page <= a)
			k++;
		while (a < w->v[i].end) {
			const struct rst_run *r = k < n ? &runs[k] : NULL;
			uint64_t hi;

			if (!r || r->vaddr > a || r->in_parent) {
				pr_err("PID %d: page %#" PRIx64 " is claimed in the previous image %s, whose pagemap-%u.img does not hold it: mismatched previous image\n",
				       t->pid, a, name, mm->pages_id);
				goto out;
			}
			hi = r->vaddr + r->nr * page;
			if (hi > w->v[i].end)
				hi = w->v[i].end;
			if (r->in_prev ? want_add(next, a, hi) :
			    seg_add(t, a, (hi - a) / page,
				    r->off + (a - r->vaddr), l, mm->pages_id))
				goto out;
			a = hi;
			if (a == r->vaddr + r->nr * page)
				k++;
		}
	}
	ret = 0;
out:
	free(runs);
	return ret;
}

/*
 * The pagemap entries in_prev of T, page by page to the dump down the chain
 * that has their data; every level's images are checked on the way.
 */
int track_task_resolve(struct rst_task *t)
{
	struct want w = {}, next = {};
	const MmEntry *cur_mm = t->mm;
	MmEntry *mm = NULL, *held = NULL;
	struct rst_run *runs = NULL;
	size_t n = 0, i;
	int l, ret = -1;

	if (pagemap_load(t->dirfd, t->mm->pages_id, &runs, &n))
		return -1;
	for (i = 0; i < n; i++)
		if (runs[i].in_prev &&
		    want_add(&w, runs[i].vaddr,
			     runs[i].vaddr + runs[i].nr * getpagesize()))
			goto out;
	free(runs);
	runs = NULL;
	for (l = 1; w.n; l++) {
		if (l >= t->chain->n) {
			pr_err("PID %d: pages at %#" PRIx64 " are claimed in a previous image, and %s/inventory.img names none%s\n",
			       t->pid, w.v[0].start, t->chain->name[l - 1],
			       l > 1 ? " further" : "");
			goto out;
		}
		mm = (MmEntry *)read_one_msg(t->chain->dirfd[l], IMG_MM, t->pid);
		if (!mm) {
			pr_err("PID %d has pages in the previous image %s, which has no mm-%d.img: mismatched previous image\n",
			       t->pid, t->chain->name[l], t->pid);
			goto out;
		}
		if (resolve_level(t, l, cur_mm, mm, &w, &next) ||
		    pages_validate(t->chain->dirfd[l], mm, 1)) {
			pr_err("PID %d: its previous image %s can't be used\n",
			       t->pid, t->chain->name[l]);
			goto out;
		}
		if (held)
			protobuf_c_message_free_unpacked(&held->base, NULL);
		held = mm;
		mm = NULL;
		cur_mm = held;
		free(w.v);
		w = next;
		next = (struct want){};
	}
	if (t->n_psegs)
		qsort(t->psegs, t->n_psegs, sizeof(*t->psegs), seg_cmp);
	ret = 0;
out:
	if (mm)
		protobuf_c_message_free_unpacked(&mm->base, NULL);
	if (held)
		protobuf_c_message_free_unpacked(&held->base, NULL);
	free(runs);
	free(w.v);
	free(next.v);
	return ret;
}

void track_task_free(struct rst_task *t)
{
	free(t->psegs);
	t->psegs = NULL;
	t->n_psegs = 0;
}
