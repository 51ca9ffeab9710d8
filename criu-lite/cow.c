// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private memory inherited across fork that neither side has written since
 * is one set of physical pages, shared copy-on-write. Dump records such
 * pages once, in the parent (pagemap entries in_parent in the child, see
 * pages.c). Restore keeps them shared the way they became shared: the
 * parent maps and fills those VMAs before it forks its children, which
 * inherit them; each child then writes its own pages over the inherited
 * ones and drops the pages it did not have, all before it forks in turn.
 * The rebuild leaves these VMAs alone.
 *
 * The parent does this while it still runs restorer code, in a copy of
 * criu-lite's address space: the VMAs' ranges must be free there. criu-lite
 * reserves them before it maps anything else; if its own layout is in the
 * way (address space randomization made them meet), it runs itself again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "task.h"

#define REEXEC_ENV	"CRIU_LITE_COW_REEXEC"
#define REEXEC_MAX	3

static size_t vma_index(const MmEntry *mm, const VmaEntry *v)
{
	size_t i;

	for (i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i] == v)
			return i;
	return mm->n_vmas;
}

int cow_keeps(const struct rst_task *t, const VmaEntry *v)
{
	size_t i;

	if (!t->early || !v)
		return 0;
	i = vma_index(t->mm, v);
	return i < t->mm->n_vmas && t->early[i];
}

static int task_mark(struct rst_task *t, size_t i)
{
	char name[64];

	if (!t->early) {
		t->early = calloc(t->mm->n_vmas, 1);
		if (!t->early)
			return -1;
		if (pagemap_load(t->dirfd, t->mm->pages_id, &t->runs,
				 &t->n_runs))
			return -1;
		snprintf(name, sizeof(name), PAGES_IMG_FMT, t->mm->pages_id);
		t->pages_fd = openat(t->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (t->pages_fd < 0) {
			pr_perror("Can't open image %s", name);
			return -1;
		}
	}
	t->early[i] = 1;
	return 0;
}

/* A child's VMA shared with its parent, and the parent's at the same place. */
static int plan_vma(struct rst_task *t, struct rst_task *p, size_t i)
{
	const VmaEntry *v = t->mm->vmas[i], *pv;

	pv = mm_find_vma(p->mm, v->start);
	if (!pv || pv->start != v->start || pv->end != v->end ||
	    pv->kind != VMA_KIND__VMA_ANON || (pv->flags & MAP_SHARED)) {
		pr_err("Image mm-%u.img: VMA %#" PRIx64 "-%#" PRIx64 " is shared with the parent %u, which does not have it\n",
		       t->pe->pid, v->start, v->end, p->pe->pid);
		return -1;
	}
	return task_mark(t, i) || task_mark(p, vma_index(p->mm, pv)) ? -1 : 0;
}

int cow_plan(struct rst_tree *tree)
{
	size_t i, j;

	for (i = 0; i < tree->n_nodes; i++) {
		struct rst_node *n = &tree->nodes[i];

		if (n->kind != NODE_LIVE || !n->parent)
			continue;
		for (j = 0; j < n->task->mm->n_vmas; j++)
			if (n->task->mm->vmas[j]->cow &&
			    plan_vma(n->task, n->parent->task, j))
				return -1;
	}
	return 0;
}

struct range {
	uint64_t lo, hi;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Run criu-lite again: a new random layout will not be in the way. */
static int reexec(uint64_t lo, uint64_t hi)
{
	const char *s = getenv(REEXEC_ENV);
	int n = s ? atoi(s) : 0;
	char buf[16];

	if (n >= REEXEC_MAX || !opts.argv) {
		pr_err("criu-lite's own memory is in the way of %#" PRIx64 "-%#" PRIx64 ", which the restored tree shares copy-on-write\n",
		       lo, hi);
		return -1;
	}
	pr_info("criu-lite's memory is in the way of %#" PRIx64 "-%#" PRIx64 ": running again\n",
		lo, hi);
	snprintf(buf, sizeof(buf), "%d", n + 1);
	setenv(REEXEC_ENV, buf, 1);
	execv("/proc/self/exe", opts.argv);
	pr_perror("Can't run criu-lite again");
	return -1;
}

/* Keep every early VMA's range free in criu-lite until the tree forks. */
int cow_reserve(struct rst_tree *tree)
{
	struct range *r = NULL;
	size_t i, j, n = 0;
	uint64_t lo, hi;
	void *p;

	for (i = 0; i < tree->n_tasks; i++) {
		struct rst_task *t = &tree->tasks[i];
		struct range *nr;

		for (j = 0; t->early && j < t->mm->n_vmas; j++) {
			if (!t->early[j])
				continue;
			nr = realloc(r, (n + 1) * sizeof(*r));
			if (!nr) {
				free(r);
				return -1;
			}
			r = nr;
			r[n++] = (struct range){ t->mm->vmas[j]->start,
						 t->mm->vmas[j]->end };
		}
	}
	if (!n)
		return 0;
	qsort(r, n, sizeof(*r), range_cmp);
	for (i = 0; i < n; i = j) {
		lo = r[i].lo;
		hi = r[i].hi;
		for (j = i + 1; j < n && r[j].lo <= hi; j++)
			if (r[j].hi > hi)
				hi = r[j].hi;
		p = mmap((void *)lo, hi - lo, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				 MAP_FIXED_NOREPLACE, -1, 0);
		if (p == (void *)lo)
			continue;
		if (p != MAP_FAILED)
			munmap(p, hi - lo);
		free(r);
		return reexec(lo, hi);
	}
	free(r);
	return 0;
}

/* Runs in the task, in restorer code: no logging, errno tells. */

static int zap(uint64_t lo, uint64_t hi)
{
	return lo < hi ? madvise((void *)lo, hi - lo, MADV_DONTNEED) : 0;
}

static int fill(int fd, const struct rst_run *r)
{
	uint64_t len = r->nr * getpagesize(), done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (char *)r->vaddr + done, len - done, r->off + done);
		if (n <= 0) {
			if (!n)
				errno = EIO;
			return -1;
		}
		done += n;
	}
	return 0;
}

/* Its own pages over what it inherited; what it did not have goes. */
static int premap_vma(struct rst_task *t, const VmaEntry *v)
{
	uint64_t len = v->end - v->start, at = v->start, page = getpagesize();
	size_t i;

	if (v->cow) {
		if (mprotect((void *)v->start, len, mm_vma_map_prot(v)))
			return -1;
	} else if (mmap((void *)v->start, len, mm_vma_map_prot(v),
			v->flags | MAP_FIXED, -1, 0) == MAP_FAILED) {
		return -1;
	}
	for (i = 0; i < t->n_runs; i++) {
		const struct rst_run *r = &t->runs[i];

		if (r->vaddr < v->start || r->vaddr >= v->end)
			continue;
		if ((v->cow && zap(at, r->vaddr)) ||
		    (!r->in_parent && fill(t->pages_fd, r)))
			return -1;
		at = r->vaddr + r->nr * page;
	}
	return v->cow ? zap(at, v->end) : 0;
}

int cow_premap(struct rst_task *t)
{
	size_t i;

	for (i = 0; t->early && i < t->mm->n_vmas; i++)
		if (t->early[i] && premap_vma(t, t->mm->vmas[i]))
			return -1;
	return 0;
}

void cow_free(struct rst_task *t)
{
	free(t->early);
	free(t->runs);
	if (t->early && t->pages_fd >= 0)
		close(t->pages_fd);
}
