// SPDX-License-Identifier: GPL-2.0-only
/*
 * The address space: VMAs (layout, protections, flags, backing files), the
 * vdso block, and the mm_struct fields set through PR_SET_MM_MAP. Page
 * contents are in pages.c.
 */
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "task.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

/* highest user address on x86-64 with 4-level page tables, plus one page */
#define TASK_SIZE_4L	0x7ffffffff000ULL
#define AUXV_MAX	128

#define VMF_MADV_MASK	(VMF_DONTCOPY | VMF_DONTDUMP | VMF_HUGEPAGE | \
			 VMF_NOHUGEPAGE | VMF_MERGEABLE | VMF_WIPEONFORK | \
			 VMF_SEQ_READ | VMF_RAND_READ | VMF_LOCKED | VMF_ACCOUNT)

struct vma_collect {
	struct dump_task *t;
	size_t cap;
};

/* "/memfd:NAME (deleted)": what memfd_create() made */
static int is_memfd(const char *p)
{
	size_t len = strlen(p), sfx = strlen(" (deleted)");

	return !strncmp(p, "/memfd:", 7) && len > 7 + sfx &&
	       !strcmp(p + len - sfx, " (deleted)");
}

static int vma_classify(const struct proc_vma *pv, VmaEntry *ve, pid_t pid)
{
	const char *p = pv->path;

	if (pv->vmflags & VMF_HUGETLB) {
		pr_err("PID %d: hugetlbfs mapping %" PRIx64 "-%" PRIx64 " is not supported yet\n",
		       pid, pv->start, pv->end);
		return -1;
	}
	if (!strcmp(p, "[vdso]")) {
		ve->kind = VMA_KIND__VMA_VDSO;
	} else if (!strcmp(p, "[vvar]")) {
		ve->kind = VMA_KIND__VMA_VVAR;
	} else if (!strcmp(p, "[vvar_vclock]")) {
		ve->kind = VMA_KIND__VMA_VVAR_VCLOCK;
	} else if (!strcmp(p, "[vsyscall]")) {
		ve->kind = VMA_KIND__VMA_VSYSCALL;
	} else if (pv->vmflags & (VMF_IO | VMF_PFNMAP)) {
		pr_err("PID %d: mapping %" PRIx64 "-%" PRIx64 " %s is device memory (VM_IO/VM_PFNMAP), which can't be dumped\n",
		       pid, pv->start, pv->end, p);
		return -1;
	} else if (pv->shared && !strcmp(p, "/dev/zero (deleted)")) {
		/* MAP_SHARED|MAP_ANONYMOUS: an object other mappings may share */
		ve->kind = VMA_KIND__VMA_ANON;
		ve->flags |= MAP_ANONYMOUS;
		ve->has_shm_id = 1;
	} else if (!*p || !strcmp(p, "[heap]") || !strcmp(p, "[stack]") ||
		   !strncmp(p, "[anon:", 6)) {
		ve->kind = VMA_KIND__VMA_ANON;
		ve->flags |= MAP_ANONYMOUS;
	} else if (is_memfd(p)) {
		/* its fd may be closed: the object is dumped from the mapping */
		ve->kind = VMA_KIND__VMA_FILE;
		ve->has_shm_id = 1;
	} else if (p[0] == '/' && strstr(p, " (deleted)")) {
		/* its contents would have to come back before the mapping */
		pr_err("PID %d: mapping %" PRIx64 "-%" PRIx64 " is of the deleted file %s, which criu-lite can't dump yet (deleted files are dumped as fds only)\n",
		       pid, pv->start, pv->end, p);
		return -1;
	} else if (p[0] == '/') {
		ve->kind = VMA_KIND__VMA_FILE;
	} else {
		pr_err("PID %d: mapping %" PRIx64 "-%" PRIx64 " of \"%s\" is not supported yet\n",
		       pid, pv->start, pv->end, p);
		return -1;
	}
	return 0;
}

static int vma_collect_one(const struct proc_vma *pv, void *arg)
{
	struct vma_collect *vc = arg;
	struct dump_task *t = vc->t;
	MmEntry *mm = t->mm;
	VmaEntry *ve;

	if (mm->n_vmas == vc->cap) {
		VmaEntry **nv;

		vc->cap = vc->cap ? vc->cap * 2 : 64;
		nv = arena_alloc(t->arena, vc->cap * sizeof(*nv));
		if (!nv)
			return -1;
		if (mm->n_vmas)
			memcpy(nv, mm->vmas, mm->n_vmas * sizeof(*nv));
		mm->vmas = nv;
	}
	ve = arena_alloc(t->arena, sizeof(*ve));
	if (!ve)
		return -1;
	vma_entry__init(ve);
	ve->start = pv->start;
	ve->end = pv->end;
	ve->pgoff = pv->pgoff;
	ve->prot = pv->prot;
	ve->flags = (pv->shared ? MAP_SHARED : MAP_PRIVATE) |
		    (pv->vmflags & VMF_GROWSDOWN ? MAP_GROWSDOWN : 0) |
		    (pv->vmflags & VMF_NORESERVE ? MAP_NORESERVE : 0);
	ve->madv = pv->vmflags & VMF_MADV_MASK;
	if (vma_classify(pv, ve, t->pid))
		return -1;
	ve->name = arena_strdup(t->arena, ve->kind == VMA_KIND__VMA_FILE ?
				"" : pv->path);
	if (!ve->name)
		return -1;
	if (ve->kind == VMA_KIND__VMA_FILE) {
		ve->path = arena_strdup(t->arena, pv->path);
		if (!ve->path)
			return -1;
	}
	if (ve->kind == VMA_KIND__VMA_FILE || ve->has_shm_id) {
		/* for shared memory, device and inode name the object */
		ve->has_dev = ve->has_ino = 1;
		ve->dev = makedev(pv->dev_major, pv->dev_minor);
		ve->ino = pv->ino;
	}
	/* remember that a shared mapping may be made writable */
	if (pv->shared && (pv->vmflags & VMF_MAYWRITE))
		ve->madv |= VMF_MAYWRITE;
	mm->vmas[mm->n_vmas++] = ve;
	return 0;
}

int mm_dump_layout(struct dump_task *t)
{
	struct vma_collect vc = { .t = t };

	t->mm = arena_alloc(t->arena, sizeof(*t->mm));
	if (!t->mm)
		return -1;
	mm_entry__init(t->mm);
	if (proc_parse_smaps(t->pid, vma_collect_one, &vc)) {
		pr_err("PID %d: can't collect its memory mappings\n", t->pid);
		return -1;
	}
	pr_info("PID %d: %zu VMAs\n", t->pid, t->mm->n_vmas);
	return 0;
}

const VmaEntry *mm_find_vma(const MmEntry *mm, uint64_t addr)
{
	size_t i;

	for (i = 0; i < mm->n_vmas; i++)
		if (addr >= mm->vmas[i]->start && addr < mm->vmas[i]->end)
			return mm->vmas[i];
	return NULL;
}

/* Needs the remote session: brk is only known to the task itself. */
int mm_dump_fields(struct dump_task *t)
{
	uint64_t auxv[AUXV_MAX];
	MmEntry *mm = t->mm;
	char exe[4096];
	ssize_t n;
	long ret;

	mm->start_code = t->stat.start_code;
	mm->end_code = t->stat.end_code;
	mm->start_data = t->stat.start_data;
	mm->end_data = t->stat.end_data;
	mm->start_brk = t->stat.start_brk;
	mm->start_stack = t->stat.start_stack;
	mm->arg_start = t->stat.arg_start;
	mm->arg_end = t->stat.arg_end;
	mm->env_start = t->stat.env_start;
	mm->env_end = t->stat.env_end;
	if (remote_syscall(&t->remote, &ret, SYS_brk, 0, 0, 0, 0, 0, 0))
		return -1;
	mm->brk = ret;

	n = proc_read_file(t->pid, "auxv", auxv, sizeof(auxv));
	if (n < 0)
		return -1;
	mm->n_auxv = n / sizeof(uint64_t);
	mm->auxv = arena_memdup(t->arena, auxv, n);
	if (proc_readlink(t->pid, "exe", exe, sizeof(exe)))
		return -1;
	if (strstr(exe, " (deleted)")) {
		pr_err("PID %d: its executable %s was deleted\n", t->pid, exe);
		return -1;
	}
	mm->exe = arena_strdup(t->arena, exe);
	mm->pages_id = t->pid;
	return mm->exe && mm->auxv ? 0 : -1;
}

int mm_validate(const MmEntry *mm, const char *img)
{
	uint64_t prev_end = 0;
	size_t i;

	for (i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		struct stat st;

		if (v->start >= v->end || v->start < prev_end ||
		    (v->start | v->end) & (getpagesize() - 1)) {
			pr_err("Image %s: VMA %zu (%#" PRIx64 "-%#" PRIx64 ") is out of order, empty or unaligned\n",
			       img, i, v->start, v->end);
			return -1;
		}
		prev_end = v->end;
		if (v->kind == VMA_KIND__VMA_VSYSCALL)
			continue;
		if (v->end > TASK_SIZE_4L) {
			pr_err("Image %s: VMA %#" PRIx64 "-%#" PRIx64 " beyond the user address space\n",
			       img, v->start, v->end);
			return -1;
		}
		if (v->kind == VMA_KIND__VMA_FILE && !v->has_shm_id) {
			if (!v->path) {
				pr_err("Image %s: file VMA %#" PRIx64 " has no path\n",
				       img, v->start);
				return -1;
			}
			if (stat(v->path, &st)) {
				pr_perror("Mapped file %s (VMA %#" PRIx64 "-%#" PRIx64 ") is not there",
					  v->path, v->start, v->end);
				return -1;
			}
		}
	}
	if (stat(mm->exe, &(struct stat){})) {
		pr_perror("Executable %s is not there", mm->exe);
		return -1;
	}
	if (mm->n_auxv > AUXV_MAX) {
		pr_err("Image %s: %zu auxv words, at most %d\n", img, mm->n_auxv,
		       AUXV_MAX);
		return -1;
	}
	return 0;
}

/* Lowest gap of SIZE bytes at or above AFTER that no dumped VMA uses. */
uint64_t mm_free_gap(const MmEntry *mm, uint64_t size, uint64_t after)
{
	uint64_t cand = after;
	size_t i;

	for (i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];

		if (v->end <= cand)
			continue;
		if (v->start >= cand + size)
			break;
		cand = v->end;
	}
	return cand + size <= TASK_SIZE_4L ? cand : 0;
}

static long rst_call(struct rst_task *t, long nr, long a1, long a2, long a3,
		     long a4, long a5, long a6)
{
	long ret;

	if (remote_syscall(&t->remote, &ret, nr, a1, a2, a3, a4, a5, a6))
		return -EIO;
	return ret;
}

static int unmap_range(struct rst_task *t, uint64_t lo, uint64_t hi)
{
	long ret;

	if (lo >= hi)
		return 0;
	ret = rst_call(t, SYS_munmap, lo, hi - lo, 0, 0, 0, 0);
	if (!ret)
		return 0;
	errno = -ret;
	pr_perror("PID %d: can't clear %#" PRIx64 "-%#" PRIx64
		  " of the restorer's address space", t->pid, lo, hi);
	return -1;
}

/*
 * Everything goes but the trampoline and the VMAs mapped before the tree
 * forked, which hold memory shared copy-on-write with the parent (cow.c).
 * Those and the trampoline never overlap: it is placed in a common gap.
 */
static int unmap_all_but_trampoline(struct rst_task *t)
{
	uint64_t tlo = t->tramp, thi = t->tramp + getpagesize() + SCRATCH_SIZE;
	uint64_t lo = 0;
	size_t i;

	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if (!cow_keeps(t, v))
			continue;
		if (lo < tlo && v->start > tlo) {
			if (unmap_range(t, lo, tlo))
				return -1;
			lo = thi;
		}
		if (unmap_range(t, lo, v->start))
			return -1;
		lo = v->end;
	}
	if (lo < tlo) {
		if (unmap_range(t, lo, tlo))
			return -1;
		lo = thi;
	}
	return unmap_range(t, lo, TASK_SIZE_4L);
}

struct vdso_block {
	uint64_t vvar, vclock, vdso;	/* starts, 0 if absent */
	uint64_t start, end;
};

static void vdso_block_add(struct vdso_block *b, int kind, uint64_t start,
			   uint64_t end)
{
	if (kind == VMA_KIND__VMA_VVAR)
		b->vvar = start;
	else if (kind == VMA_KIND__VMA_VVAR_VCLOCK)
		b->vclock = start;
	else
		b->vdso = start;
	if (!b->start || start < b->start)
		b->start = start;
	if (end > b->end)
		b->end = end;
}

static int vdso_block_self(struct vdso_block *b)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];

	if (!f) {
		pr_perror("Can't open /proc/self/maps");
		return -1;
	}
	memset(b, 0, sizeof(*b));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		int kind = 0;

		if (strstr(line, "[vvar]"))
			kind = VMA_KIND__VMA_VVAR;
		else if (strstr(line, "[vvar_vclock]"))
			kind = VMA_KIND__VMA_VVAR_VCLOCK;
		else if (strstr(line, "[vdso]"))
			kind = VMA_KIND__VMA_VDSO;
		if (kind && sscanf(line, "%llx-%llx", &s, &e) == 2)
			vdso_block_add(b, kind, s, e);
	}
	fclose(f);
	return 0;
}

/*
 * The kernel maps vvar, vvar_vclock and vdso as one block with a fixed
 * internal layout; ARCH_MAP_VDSO_64 puts that block where the dump had it.
 * A dump from a kernel whose block looks different can't be restored here.
 */
static int vdso_restore(struct rst_task *t)
{
	struct vdso_block want = {}, have;
	size_t i;
	long ret;

	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if (v->kind == VMA_KIND__VMA_VDSO ||
		    v->kind == VMA_KIND__VMA_VVAR ||
		    v->kind == VMA_KIND__VMA_VVAR_VCLOCK)
			vdso_block_add(&want, v->kind, v->start, v->end);
	}
	if (!want.vdso) {
		pr_info("PID %d had no vdso\n", t->pid);
		return 0;
	}
	if (vdso_block_self(&have))
		return -1;
	if (want.end - want.start != have.end - have.start ||
	    want.vdso - want.start != have.vdso - have.start ||
	    !want.vvar != !have.vvar || !want.vclock != !have.vclock ||
	    (want.vclock && want.vclock - want.start != have.vclock - have.start)) {
		pr_err("PID %d: the dumped vdso/vvar block (%#" PRIx64 "-%#" PRIx64 ", vdso at +%#" PRIx64 "%s) differs from this kernel's (+%#" PRIx64 " of %#" PRIx64 " bytes%s)\n",
		       t->pid, want.start, want.end, want.vdso - want.start,
		       want.vclock ? ", with vvar_vclock" : "",
		       have.vdso - have.start, have.end - have.start,
		       have.vclock ? ", with vvar_vclock" : "");
		return -1;
	}
	ret = rst_call(t, SYS_arch_prctl, ARCH_MAP_VDSO_64, want.start, 0, 0, 0, 0);
	if (ret < 0) {
		errno = -ret;
		pr_perror("PID %d: can't map the vdso at %#" PRIx64, t->pid,
			  want.start);
		return -1;
	}
	return 0;
}

static int open_in_task(struct rst_task *t, const char *path, int flags)
{
	uint64_t addr = scratch_put(&t->remote, 0, path, strlen(path) + 1);
	long fd;

	if (!addr)
		return -1;
	fd = rst_call(t, SYS_openat, AT_FDCWD, addr, flags | O_CLOEXEC, 0, 0, 0);
	if (fd < 0) {
		errno = -fd;
		pr_perror("PID %d: can't open %s", t->pid, path);
		return -1;
	}
	return fd;
}

/* The protection a VMA is mapped with, before pages are filled. */
int mm_vma_map_prot(const VmaEntry *v)
{
	if (v->dumped_pages)
		return v->prot | PROT_WRITE;
	/* a private mapping made read-only keeps its commit charge (VM_ACCOUNT) */
	if ((v->madv & VMF_ACCOUNT) && !(v->flags & MAP_SHARED))
		return v->prot | PROT_WRITE;
	return v->prot;
}

/* The file a VMA maps: its path, or the shared memory object criu-lite holds. */
static int vma_open(struct rst_task *t, const VmaEntry *v)
{
	int oflags = (v->madv & VMF_MAYWRITE) ? O_RDWR : O_RDONLY;
	char path[96];

	if (!v->has_shm_id)
		return open_in_task(t, v->path, oflags);
	if (shmem_map_path(t->shm, v->shm_id, path, sizeof(path)))
		return -1;
	return open_in_task(t, path, oflags);
}

static int vma_restore(struct rst_task *t, const VmaEntry *v)
{
	int flags = v->flags | MAP_FIXED;
	long ret, fd = -1;

	if (v->kind == VMA_KIND__VMA_FILE || v->has_shm_id) {
		fd = vma_open(t, v);
		if (fd < 0)
			return -1;
		flags &= ~MAP_ANONYMOUS;
	}
	ret = rst_call(t, SYS_mmap, v->start, v->end - v->start,
		       mm_vma_map_prot(v), flags, fd, fd < 0 ? 0 : v->pgoff);
	if (fd >= 0)
		rst_call(t, SYS_close, fd, 0, 0, 0, 0, 0);
	if (ret != (long)v->start) {
		errno = ret < 0 ? -ret : EFAULT;
		pr_perror("PID %d: can't map VMA %#" PRIx64 "-%#" PRIx64 " %s",
			  t->pid, v->start, v->end, v->path ? v->path : v->name);
		return -1;
	}
	if ((v->madv & VMF_HUGEPAGE) &&
	    rst_call(t, SYS_madvise, v->start, v->end - v->start, MADV_HUGEPAGE,
		     0, 0, 0))
		pr_warn("PID %d: MADV_HUGEPAGE on %#" PRIx64 " failed\n", t->pid,
			v->start);
	return 0;
}

int mm_restore_layout(struct rst_task *t)
{
	size_t i;

	if (unmap_all_but_trampoline(t) || vdso_restore(t))
		return -1;
	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if (v->kind != VMA_KIND__VMA_ANON && v->kind != VMA_KIND__VMA_FILE)
			continue;
		if (!cow_keeps(t, v) && vma_restore(t, v))
			return -1;
	}
	return 0;
}

static const struct {
	unsigned int vmf;
	int advice;
} vma_advice[] = {
	{ VMF_DONTCOPY, MADV_DONTFORK },   { VMF_DONTDUMP, MADV_DONTDUMP },
	{ VMF_NOHUGEPAGE, MADV_NOHUGEPAGE }, { VMF_MERGEABLE, MADV_MERGEABLE },
	{ VMF_WIPEONFORK, MADV_WIPEONFORK }, { VMF_SEQ_READ, MADV_SEQUENTIAL },
	{ VMF_RAND_READ, MADV_RANDOM },
};

static int vma_finish(struct rst_task *t, const VmaEntry *v)
{
	uint64_t len = v->end - v->start;
	size_t i;
	long ret;

	if ((v->madv & VMF_ACCOUNT) && !(v->prot & PROT_WRITE) &&
	    v->kind == VMA_KIND__VMA_ANON && !v->dumped_pages) {
		/*
		 * mprotect drops VM_ACCOUNT from an anonymous VMA that never
		 * had a page (no anon_vma yet): fault one in and drop it.
		 */
		rst_call(t, SYS_madvise, v->start, getpagesize(),
			 MADV_POPULATE_WRITE, 0, 0, 0);
		rst_call(t, SYS_madvise, v->start, getpagesize(), MADV_DONTNEED,
			 0, 0, 0);
	}
	if (mm_vma_map_prot(v) != (int)v->prot) {
		ret = rst_call(t, SYS_mprotect, v->start, len, v->prot, 0, 0, 0);
		if (ret) {
			errno = -ret;
			pr_perror("PID %d: can't mprotect %#" PRIx64 " to %#x",
				  t->pid, v->start, v->prot);
			return -1;
		}
	}
	for (i = 0; i < ARRAY_SIZE(vma_advice); i++) {
		if (!(v->madv & vma_advice[i].vmf))
			continue;
		ret = rst_call(t, SYS_madvise, v->start, len, vma_advice[i].advice,
			       0, 0, 0);
		if (ret)
			pr_warn("PID %d: madvise(%#" PRIx64 ", %d) failed: %ld\n",
				t->pid, v->start, vma_advice[i].advice, ret);
	}
	if ((v->madv & VMF_LOCKED) &&
	    (ret = rst_call(t, SYS_mlock, v->start, len, 0, 0, 0, 0)))
		pr_warn("PID %d: mlock(%#" PRIx64 ") failed: %ld\n", t->pid,
			v->start, ret);
	if (!strncmp(v->name, "[anon:", 6)) {
		char name[256];
		uint64_t addr;

		snprintf(name, sizeof(name), "%.*s", (int)strlen(v->name) - 7,
			 v->name + 6);
		addr = scratch_put(&t->remote, 0, name, strlen(name) + 1);
		ret = rst_call(t, SYS_prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME,
			       v->start, len, addr, 0);
		if (ret) {
			errno = -ret;
			pr_perror("PID %d: can't name VMA %#" PRIx64 " %s",
				  t->pid, v->start, v->name);
			return -1;
		}
	}
	return 0;
}

int mm_restore_finish(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];

		if ((v->kind == VMA_KIND__VMA_ANON ||
		     v->kind == VMA_KIND__VMA_FILE) && vma_finish(t, v))
			return -1;
	}
	return 0;
}

int mm_restore_fields(struct rst_task *t)
{
	const MmEntry *mm = t->mm;
	struct prctl_mm_map map = {
		.start_code = mm->start_code,
		.end_code = mm->end_code,
		.start_data = mm->start_data,
		.end_data = mm->end_data,
		.start_brk = mm->start_brk,
		.brk = mm->brk,
		.start_stack = mm->start_stack,
		.arg_start = mm->arg_start,
		.arg_end = mm->arg_end,
		.env_start = mm->env_start,
		.env_end = mm->env_end,
		.auxv_size = mm->n_auxv * sizeof(uint64_t),
	};
	uint64_t auxv_addr, addr;
	int fd;
	long ret;

	fd = open_in_task(t, mm->exe, O_RDONLY);
	if (fd < 0)
		return -1;
	map.exe_fd = fd;
	/* auxv after the struct, both in scratch */
	auxv_addr = scratch_put(&t->remote, 1024, mm->auxv, map.auxv_size);
	map.auxv = (__u64 *)auxv_addr;
	addr = scratch_put(&t->remote, 0, &map, sizeof(map));
	ret = rst_call(t, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, addr, sizeof(map),
		       0, 0);
	rst_call(t, SYS_close, fd, 0, 0, 0, 0, 0);
	if (ret) {
		errno = -ret;
		pr_perror("PID %d: PR_SET_MM_MAP (brk %#llx, stack %#llx, exe %s)",
			  t->pid, (unsigned long long)mm->brk,
			  (unsigned long long)mm->start_stack, mm->exe);
		return -1;
	}
	return 0;
}
