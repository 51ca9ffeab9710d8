// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page temperature: cold pages come back cold.
 *
 * Dump: every pagemap batch is classified before any of its pages is read
 * (reading a page makes it look used): swapped out (pagemap PME_SWAP),
 * inactive (its PFN's /proc/kpageflags: on an LRU, not active, not
 * referenced, not unevictable), or hot. The dumped pages that are not hot are
 * kept as runs and written into their pagemap entries as (offset, count,
 * temperature) lists. Without /proc/kpageflags (it and the PFNs in pagemap
 * need CAP_SYS_ADMIN) only swapped pages are found. With --leave-running the
 * original gets the same advice back before it runs on: reading swapped
 * pages swaps them in, and reading any page marks it accessed.
 *
 * Restore: the runs are collected while the pages are filled; once every
 * task is rebuilt, and while all are still stopped under ptrace so that no
 * layout can change between the decision and the advice, each task is told
 * process_madvise(MADV_PAGEOUT) for what was swapped and MADV_COLD for what
 * was inactive (--cold-mark=auto), at most UIO_MAXIOV ranges per call. If the
 * kernel has the VMA layout cookie of kernel/ (lib/kapi.h), the cookie is
 * read just before and passed along, so a changed layout is refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/kernel-page-flags.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kapi.h"
#include "log.h"
#include "syscalls.h"
#include "task.h"

#ifndef MADV_COLD
#define MADV_COLD	20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define IOV_BATCH	1024		/* UIO_MAXIOV */

static int run_add(struct cold_runs *r, uint64_t vaddr, uint64_t nr, int temp)
{
	struct cold_run *last = r->n ? &r->v[r->n - 1] : NULL;
	uint64_t page = getpagesize();

	if (last && last->temp == temp && last->vaddr + last->nr * page == vaddr) {
		last->nr += nr;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct cold_run *v = realloc(r->v, cap * sizeof(*v));

		if (!v) {
			pr_err("Out of memory for %zu page temperature runs\n", cap);
			return -1;
		}
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct cold_run){ vaddr, nr, temp };
	return 0;
}

static void runs_free(struct cold_runs *r)
{
	free(r->v);
	*r = (struct cold_runs){};
}

/* Dump side */

int coldmark_dump_init(struct coldmark_dump *cm, pid_t pid, size_t batch)
{
	static int said;

	*cm = (struct coldmark_dump){ .pid = pid, .kpf_fd = -1 };
	if (opts.cold_mark == COLD_MARK_OFF)
		return 0;
	cm->temp = malloc(batch);
	cm->flags = malloc(batch * sizeof(*cm->flags));
	if (!cm->temp || !cm->flags) {
		pr_err("Out of memory for the page temperature of PID %d\n", pid);
		return -1;
	}
	cm->kpf_fd = kpageflags_open();
	if (cm->kpf_fd < 0 && !said++)
		pr_warn("Can't open /proc/kpageflags (%s): only swapped pages are recorded as cold, inactive ones need CAP_SYS_ADMIN\n",
			strerror(errno));
	return 0;
}

/* On an LRU list, and the kernel saw no use of it lately. */
static int page_inactive(uint64_t kpf)
{
	return (kpf & (1ULL << KPF_LRU)) &&
	       !(kpf & ((1ULL << KPF_ACTIVE) | (1ULL << KPF_REFERENCED) |
			(1ULL << KPF_UNEVICTABLE)));
}

/* PFN-contiguous stretches take one read: pages of a THP, fresh memory. */
static int classify_lru(struct coldmark_dump *cm, const uint64_t *pme,
			const uint8_t *prev, size_t nr)
{
	size_t i, j, k;

	for (i = 0; i < nr; i = j) {
		uint64_t pfn = pme[i] & PME_PFN_MASK;

		j = i + 1;
		/* PFNs read 0 without CAP_SYS_ADMIN */
		if (!(pme[i] & PME_PRESENT) || !pfn || (prev && prev[i]))
			continue;
		while (j < nr && (pme[j] & PME_PRESENT) && !(prev && prev[j]) &&
		       (pme[j] & PME_PFN_MASK) == pfn + (j - i))
			j++;
		if (kpageflags_read(cm->kpf_fd, pfn, j - i, cm->flags + i) < 0) {
			pr_warn("PID %d: inactive pages are not recorded from here on\n",
				cm->pid);
			close(cm->kpf_fd);
			cm->kpf_fd = -1;
			return 0;
		}
		for (k = i; k < j; k++)
			if (page_inactive(cm->flags[k]))
				cm->temp[k] = PAGE_TEMP__PAGE_INACTIVE;
	}
	return 0;
}

/*
 * The previous dump's temperature of pages ADDR.. (ascending calls), into
 * the batch's pages that PREV marks as held there.
 */
static void classify_from_prev(struct coldmark_dump *cm, uint64_t addr,
			       const uint8_t *prev, size_t nr)
{
	const struct cold_runs *r = &cm->prev;
	uint64_t page = getpagesize(), end = addr + nr * page;
	size_t k = cm->prev_cursor;

	while (k < r->n && r->v[k].vaddr + r->v[k].nr * page <= addr)
		k++;
	cm->prev_cursor = k;
	for (; k < r->n && r->v[k].vaddr < end; k++) {
		uint64_t s = r->v[k].vaddr > addr ? r->v[k].vaddr : addr;
		uint64_t e = r->v[k].vaddr + r->v[k].nr * page;
		size_t i;

		if (e > end)
			e = end;
		for (i = (s - addr) / page; i < (e - addr) / page; i++)
			if (prev[i])
				cm->temp[i] = r->v[k].temp;
	}
}

int coldmark_classify(struct coldmark_dump *cm, const VmaEntry *v,
		      uint64_t addr, const uint64_t *pme,
		      const uint8_t *prev, size_t nr)
{
	size_t i;

	if (!cm->temp)
		return 0;
	memset(cm->temp, PAGE_TEMP__PAGE_HOT, nr);
	/* mlocked pages are unevictable, and madvise refuses such VMAs */
	if (v->madv & VMF_LOCKED)
		return 0;
	if (prev)
		classify_from_prev(cm, addr, prev, nr);
	for (i = 0; i < nr; i++)
		if ((pme[i] & PME_SWAP) && !(prev && prev[i]))
			cm->temp[i] = PAGE_TEMP__PAGE_SWAPPED;
	return cm->kpf_fd >= 0 ? classify_lru(cm, pme, prev, nr) : 0;
}

/* Pages FIRST..FIRST+NR of the batch are dumped, from VADDR on. */
int coldmark_add(struct coldmark_dump *cm, uint64_t vaddr, size_t first,
		 size_t nr)
{
	uint64_t page = getpagesize();
	size_t i, j;

	if (!cm->temp)
		return 0;
	for (i = first; i < first + nr; i = j) {
		int temp = cm->temp[i];

		for (j = i + 1; j < first + nr && cm->temp[j] == temp; j++)
			;
		if (temp == PAGE_TEMP__PAGE_HOT)
			continue;
		if (temp == PAGE_TEMP__PAGE_SWAPPED)
			cm->swapped += j - i;
		else
			cm->inactive += j - i;
		if (run_add(&cm->runs, vaddr + (i - first) * page, j - i, temp))
			return -1;
	}
	return 0;
}

/*
 * PE's part of the runs, as offsets into it. Entries come in address order,
 * as the runs do; a run may go on into the next entry (the next VMA).
 */
int coldmark_entry(struct coldmark_dump *cm, PagemapEntry *pe)
{
	uint64_t page = getpagesize(), end = pe->vaddr + pe->nr_pages * page;
	PageTempRun *block;
	size_t i, n = 0;

	for (i = cm->cursor; i < cm->runs.n && cm->runs.v[i].vaddr < end; i++)
		n++;
	if (!n)
		return 0;
	block = calloc(n, sizeof(*block));
	pe->cold = calloc(n, sizeof(*pe->cold));
	if (!block || !pe->cold) {
		free(block);
		free(pe->cold);
		pe->cold = NULL;
		pr_err("Out of memory for %zu temperature runs\n", n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct cold_run *r = &cm->runs.v[cm->cursor + i];
		uint64_t s = r->vaddr > pe->vaddr ? r->vaddr : pe->vaddr;
		uint64_t e = r->vaddr + r->nr * page;

		if (e > end)
			e = end;
		page_temp_run__init(&block[i]);
		block[i].off = (s - pe->vaddr) / page;
		block[i].nr = (e - s) / page;
		block[i].temp = r->temp;
		pe->cold[pe->n_cold++] = &block[i];
	}
	/* the last run is done unless it goes on past this entry */
	cm->cursor += n;
	if (cm->runs.v[cm->cursor - 1].vaddr + cm->runs.v[cm->cursor - 1].nr * page > end)
		cm->cursor--;
	return 0;
}

void coldmark_entry_free(PagemapEntry *pe)
{
	if (pe->n_cold)
		free(pe->cold[0]);
	free(pe->cold);
	pe->cold = NULL;
	pe->n_cold = 0;
}

struct advisor {
	pid_t pid;
	int pidfd;
	const uint64_t *seq;	/* the layout cookie, if the kernel has it */
	int strict;		/* fail on any refusal: --cold-mark=cold|pageout */
	unsigned int calls;
	uint64_t advised;	/* bytes */
};

static const char *advice_name(int advice)
{
	return advice == MADV_PAGEOUT ? "MADV_PAGEOUT" : "MADV_COLD";
}

/* Skips LEN bytes of the N iovecs at *IOV (partly advised ones too). */
static void iov_skip(struct iovec **iov, size_t *n, size_t len)
{
	while (*n && len >= (*iov)->iov_len) {
		len -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n && len) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + len;
		(*iov)->iov_len -= len;
	}
}

/*
 * Advise N ranges, IOV_BATCH per call. The kernel stops at the first range it
 * refuses and returns what it did before: that range is reported and skipped.
 * Errors that say no range can ever succeed end the task's marking.
 */
static int advise(struct advisor *a, struct iovec *iov, size_t n, int advice)
{
	unsigned int refused = 0;

	while (n) {
		size_t chunk = n < IOV_BATCH ? n : IOV_BATCH, total = 0, i;
		ssize_t ret;

		for (i = 0; i < chunk; i++)
			total += iov[i].iov_len;
		ret = process_madvise_seq(a->pidfd, iov, chunk, advice, a->seq);
		a->calls++;
		/* short: the next call starts at the refused range, says why */
		if (ret >= 0) {
			a->advised += ret;
			iov_skip(&iov, &n, ret ? (size_t)ret : total);
			continue;
		}
		if (errno != EINVAL && errno != ENOMEM && errno != EFAULT) {
			if (errno == ESTALE)
				pr_err("PID %d: its layout changed while it was stopped: %s refused (ESTALE)\n",
				       a->pid, advice_name(advice));
			else
				pr_perror("PID %d: process_madvise(%s)", a->pid,
					  advice_name(advice));
			return -1;
		}
		if (!refused++)
			pr_warn("PID %d: process_madvise(%s) refuses %#lx+%#zx: %s\n",
				a->pid, advice_name(advice),
				(unsigned long)iov->iov_base, iov->iov_len,
				strerror(errno));
		iov++;
		n--;
	}
	if (refused > 1)
		pr_warn("PID %d: %u ranges refused %s in all\n", a->pid, refused,
			advice_name(advice));
	return refused && a->strict ? -1 : 0;
}

/* The advice for a temperature under --cold-mark; 0 for none. */
static int advice_for(int temp, int swap_on)
{
	if (temp == PAGE_TEMP__PAGE_HOT || opts.cold_mark == COLD_MARK_OFF)
		return 0;
	if (opts.cold_mark == COLD_MARK_COLD)
		return MADV_COLD;
	if (opts.cold_mark == COLD_MARK_PAGEOUT)
		return MADV_PAGEOUT;
	/* auto: with no swap, paging anonymous memory out can't happen */
	return temp == PAGE_TEMP__PAGE_SWAPPED && swap_on ? MADV_PAGEOUT :
							    MADV_COLD;
}

static int swap_on(void)
{
	struct sysinfo si;

	if (sysinfo(&si)) {
		pr_perror("sysinfo");
		return 0;
	}
	return si.totalswap != 0;
}

/* Apply RUNS to the task A names, one pass per advice; pages per advice. */
static int advise_runs(struct advisor *a, const struct cold_runs *runs,
		       uint64_t *cold, uint64_t *pageout)
{
	static const int advices[] = { MADV_COLD, MADV_PAGEOUT };
	uint64_t page = getpagesize(), before;
	int swap = swap_on(), ret = 0;
	struct iovec *iov;
	size_t i, k, n;

	if (!runs->n)
		return 0;
	iov = malloc(runs->n * sizeof(*iov));
	if (!iov) {
		pr_err("Out of memory for %zu ranges of PID %d\n", runs->n, a->pid);
		return -1;
	}
	for (k = 0; k < ARRAY_SIZE(advices) && !ret; k++) {
		for (i = n = 0; i < runs->n; i++) {
			const struct cold_run *r = &runs->v[i];
			uint64_t len = r->nr * page;

			if (advice_for(r->temp, swap) != advices[k])
				continue;
			if (n && (char *)iov[n - 1].iov_base + iov[n - 1].iov_len ==
				 (char *)(uintptr_t)r->vaddr)
				iov[n - 1].iov_len += len;
			else
				iov[n++] = (struct iovec){
					(void *)(uintptr_t)r->vaddr, len };
		}
		before = a->advised;
		ret = advise(a, iov, n, advices[k]);
		*(advices[k] == MADV_COLD ? cold : pageout) +=
			(a->advised - before) / page;
	}
	free(iov);
	return ret;
}

/* --leave-running: the original runs on as cold as it was before the copy. */
int coldmark_dump_finish(struct coldmark_dump *cm, const struct dump_task *t)
{
	struct advisor a = { .pid = t->pid, .pidfd = t->ref.pidfd };
	uint64_t cold = 0, pageout = 0;

	if (cm->temp)
		pr_info("PID %d: %" PRIu64 " dumped pages were swapped out, %" PRIu64 " inactive (%zu runs)%s\n",
			t->pid, cm->swapped, cm->inactive, cm->runs.n,
			cm->kpf_fd < 0 ? "; inactive pages not looked for" : "");
	/* a pre-dump read them all while the tree ran: warm now too */
	if (!(opts.leave_running || opts.pre_dump) || !cm->runs.n)
		return 0;
	if (a.pidfd < 0) {
		pr_warn("PID %d: no pidfd: the dump leaves its cold pages warm\n",
			t->pid);
		return 0;
	}
	/* the advice is a hint: the dump is good without it */
	if (advise_runs(&a, &cm->runs, &cold, &pageout))
		pr_warn("PID %d: the dump leaves some of its cold pages warm\n",
			t->pid);
	pr_info("PID %d runs on with %" PRIu64 " pages advised MADV_COLD, %" PRIu64 " MADV_PAGEOUT\n",
		t->pid, cold, pageout);
	return 0;
}

void coldmark_dump_free(struct coldmark_dump *cm)
{
	if (cm->kpf_fd >= 0)
		close(cm->kpf_fd);
	free(cm->temp);
	free(cm->flags);
	runs_free(&cm->runs);
	runs_free(&cm->prev);
}

/* Restore side */

int coldmark_validate_entry(const PagemapEntry *pe, const char *img)
{
	uint64_t next = 0;
	size_t i;

	for (i = 0; i < pe->n_cold; i++) {
		const PageTempRun *r = pe->cold[i];

		if (r->off < next || !r->nr ||
		    (uint64_t)r->off + r->nr > pe->nr_pages ||
		    (r->temp != PAGE_TEMP__PAGE_INACTIVE &&
		     r->temp != PAGE_TEMP__PAGE_SWAPPED)) {
			pr_err("Image %s: run %#" PRIx64 "+%u pages: temperature run %u+%u (%d) is out of order, outside it or unknown\n",
			       img, pe->vaddr, pe->nr_pages, r->off, r->nr,
			       r->temp);
			return -1;
		}
		next = (uint64_t)r->off + r->nr;
	}
	return 0;
}

int coldmark_runs_add_entry(struct cold_runs *runs, const PagemapEntry *pe)
{
	uint64_t page = getpagesize();
	size_t i;

	for (i = 0; i < pe->n_cold; i++) {
		const PageTempRun *r = pe->cold[i];

		if (run_add(runs, pe->vaddr + r->off * page, r->nr, r->temp))
			return -1;
	}
	return 0;
}

int coldmark_collect(struct rst_task *t, const PagemapEntry *pe)
{
	if (opts.cold_mark == COLD_MARK_OFF)
		return 0;
	return coldmark_runs_add_entry(&t->cold, pe);
}

static int coldmark_task(struct rst_task *t, int use_seq, struct rst_tree *tree)
{
	struct advisor a = { .pid = t->pid, .pidfd = t->pidfd,
			     .strict = opts.cold_mark != COLD_MARK_AUTO };
	uint64_t seq, cold = 0, pageout = 0;
	int fd = -1, ret;

	if (a.pidfd < 0) {
		/* our stopped child: its PID can't be reused meanwhile */
		fd = a.pidfd = sys_pidfd_open(t->pid, 0);
		if (fd < 0) {
			pr_perror("PID %d: pidfd_open for cold marking", t->pid);
			return a.strict ? -1 : 0;
		}
	}
	if (use_seq) {
		if (pidfd_layout_seq(a.pidfd, &seq)) {
			pr_perror("PID %d: can't read its layout cookie", t->pid);
			ret = -1;
			goto out;
		}
		a.seq = &seq;
	}
	ret = advise_runs(&a, &t->cold, &cold, &pageout);
	pr_debug("PID %d: %" PRIu64 " pages advised MADV_COLD, %" PRIu64 " MADV_PAGEOUT in %u calls\n",
		 t->pid, cold, pageout, a.calls);
	tree->pages_cold += cold;
	tree->pages_pageout += pageout;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int coldmark_restore(struct rst_tree *tree)
{
	uint64_t t0 = now_us();
	int use_seq = 0, ret = 0;
	size_t i, runs = 0;

	for (i = 0; i < tree->n_tasks; i++)
		runs += tree->tasks[i].cold.n;
	if (!runs)
		return 0;
	/* probed on ourselves; the cookie itself is read per task, just before */
	if (kapi_probe_layout_seq() == 1)
		use_seq = 1;
	for (i = 0; i < tree->n_tasks; i++) {
		struct rst_task *t = &tree->tasks[i];

		if (coldmark_task(t, use_seq, tree)) {
			if (opts.cold_mark != COLD_MARK_AUTO)
				ret = -1;
			else
				pr_warn("PID %d: cold pages left warm\n", t->pid);
		}
		runs_free(&t->cold);
		if (ret)
			break;
	}
	pr_info("Cold marking: %" PRIu64 " pages MADV_COLD, %" PRIu64 " MADV_PAGEOUT, %.3f ms (%s)\n",
		tree->pages_cold, tree->pages_pageout, (now_us() - t0) / 1e3,
		use_seq ? "layout cookie checked" :
			  "tasks stopped: no layout cookie in this kernel");
	return ret;
}
