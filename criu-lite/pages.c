// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page contents. Dump walks pagemap to find the pages that exist (present or
 * swapped; in private file mappings only those the task changed), copies
 * them with process_vm_readv through one bounded buffer into pages-ID.img,
 * and records the runs in pagemap-ID.img. Restore copies anonymous runs in
 * with userfaultfd, and has the task preadv() the image into the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "async-writer.h"
#include "crc32c.h"
#include "images.h"
#include "log.h"
#include "page-xfer.h"
#include "syscalls.h"
#include "task.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define COPY_BUF_SIZE	(6u << 20)
#define PM_BATCH	8192		/* pagemap entries read at once */
#define IOV_BATCH	1024		/* UIO_MAXIOV */
#define POPULATE_MIN	16		/* smaller runs just fault in */
#define PREADV_MAX	(1ULL << 30)
#define UFFD_WINDOW	(32ULL << 20)	/* of the pages image mapped by a thread */
#define CRC_WINDOW	(12ULL << 20)	/* ... mapped at dump: 4 block triples */

/*
 * An image mapped a window at a time, so our memory stays bounded; mapping
 * it copies nothing where read() into a buffer would. At restore it is the
 * copy source (each copying thread has its own window); at dump, what the
 * checksums are taken from.
 */
struct img_window {
	uint64_t size;			/* of a window: whole blocks */
	unsigned char *map;
	uint64_t off, len;
};

static void img_window_drop(struct img_window *w)
{
	if (w->map)
		munmap(w->map, w->len);
	w->map = NULL;
}

/* OFF of FD (SIZE bytes, or growing: UINT64_MAX) in W; *AVAIL from there. */
static const unsigned char *img_window_at(struct img_window *w, int fd,
					  uint64_t size, const char *name,
					  uint64_t off, uint64_t *avail)
{
	uint64_t wo = off / w->size * w->size;

	if (!w->map || wo != w->off) {
		img_window_drop(w);
		w->off = wo;
		w->len = size - wo < w->size ? size - wo : w->size;
		/* not populated here: the reader faults it in as it goes */
		w->map = mmap(NULL, w->len, PROT_READ, MAP_SHARED, fd, wo);
		if (w->map == MAP_FAILED) {
			w->map = NULL;
			pr_perror("Can't map %" PRIu64 " bytes at %" PRIu64 " of image %s",
				  w->len, wo, name);
			return NULL;
		}
	}
	*avail = w->off + w->len - off;
	return w->map + (off - wo);
}

struct pages_dumper {
	struct dump_task *t;
	struct page_xfer xfer;		/* where the pages go */
	int mem_fd;
	struct async_writer *aw;	/* checksums and writes the buffers */
	unsigned char *buf;		/* the one being filled */
	/* what each of the writer's two buffers holds, for the page server */
	struct iovec where[2][IOV_BATCH];
	int nwhere[2];
	int fill, sink;			/* the buffer filled, the next written */
	struct iovec riov[IOV_BATCH];
	uint8_t pinnable[IOV_BATCH];	/* riov[i] may be read by pinning */
	int niov;
	size_t buffered;
	struct page_run *runs;
	size_t nr_runs, cap_runs;
	uint64_t written;
	uint64_t start_us;
	long page;
	int new_vma;
	/* the parent's VMA at the same addresses, for copy-on-write sharing */
	int parent_pm_fd;
	uint64_t *parent_pme;
	struct coldmark_dump cm;
	struct crc32c_stream crc;	/* of the pages image */
	/* incremental: which pages of the batch the previous dump holds */
	uint8_t *prev_ok;
	int use_prev;
	uint64_t prev_pages;
	size_t snap_pos;		/* pre-dump: next entry of t->pm_snap */
	/* the task splices its pages to us (pages-splice.c), or not */
	struct pages_splice ps;
	int splicing;
	size_t limit;			/* bytes flushed at once */
	int img_rd;			/* the image, read back to checksum */
	uint64_t crc_off;		/* ... up to here */
	struct img_window crc_win;
};

static int add_run(struct pages_dumper *pd, uint64_t vaddr, uint64_t nr,
		   int in_parent, int in_prev)
{
	struct page_run *last = pd->nr_runs ? &pd->runs[pd->nr_runs - 1] : NULL;

	/* runs stop at VMA boundaries: restore fills one VMA at a time */
	if (last && !pd->new_vma && last->vaddr + last->nr * pd->page == vaddr &&
	    last->in_parent == in_parent && last->in_prev == in_prev &&
	    last->nr + nr <= UINT32_MAX) {
		last->nr += nr;
		return 0;
	}
	if (pd->nr_runs == pd->cap_runs) {
		size_t cap = pd->cap_runs ? pd->cap_runs * 2 : 256;
		struct page_run *nr_ = realloc(pd->runs, cap * sizeof(*nr_));

		if (!nr_) {
			pr_err("Out of memory for %zu page runs\n", cap);
			return -1;
		}
		pd->runs = nr_;
		pd->cap_runs = cap;
	}
	pd->runs[pd->nr_runs++] = (struct page_run){ vaddr, nr, in_parent,
						     in_prev };
	pd->new_vma = 0;
	return 0;
}

/*
 * Pages mapped by this task alone are read with process_vm_readv(), the
 * fastest way. It pins them, though, and pinning a page shared copy-on-write
 * with another process makes the kernel give the pinning task its own copy:
 * a dump would quietly undo the sharing in the tree it leaves running (and
 * that restore recreates). So shared and swapped pages are read through
 * /proc/PID/mem, which does not pin; it also reads PROT_NONE and write-only
 * VMAs, where process_vm_readv() stops.
 */
static int read_via_mem(struct pages_dumper *pd, const struct iovec *riov,
			unsigned char *dst)
{
	char path[64];
	ssize_t n;

	if (pd->mem_fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", pd->t->pid);
		pd->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (pd->mem_fd < 0) {
			pr_perror("Can't open %s", path);
			return -1;
		}
	}
	n = pread(pd->mem_fd, dst, riov->iov_len, (off_t)riov->iov_base);
	if (n != (ssize_t)riov->iov_len && pd->t->pm_snap) {
		/*
		 * pre-dump: the running task unmapped it since the page list
		 * was taken. Its VMA there is new or gone at the next dump,
		 * with no page write-protected: nothing will be taken from
		 * here.
		 */
		pr_debug("PID %d: %zu bytes at %p went away during the pre-dump\n",
			 pd->t->pid, riov->iov_len, riov->iov_base);
		memset(dst, 0, riov->iov_len);
		return 0;
	}
	if (n != (ssize_t)riov->iov_len) {
		pr_perror("PID %d: can't read %zu bytes at %p", pd->t->pid,
			  riov->iov_len, riov->iov_base);
		return -1;
	}
	return 0;
}

/* riov[first..first+n), all pinnable, into DST; what fails goes by mem. */
static int read_pinned(struct pages_dumper *pd, int first, int n,
		       unsigned char *dst)
{
	size_t len = 0, off = 0, done;
	struct iovec liov;
	ssize_t got;
	int i;

	for (i = first; i < first + n; i++)
		len += pd->riov[i].iov_len;
	liov = (struct iovec){ .iov_base = dst, .iov_len = len };
	got = process_vm_readv(pd->t->pid, &liov, 1, &pd->riov[first], n, 0);
	done = got > 0 ? got : 0;
	/* the kernel stops at the first iovec it could not read */
	for (i = first; i < first + n; i++) {
		size_t l = pd->riov[i].iov_len;

		if (off + l > done && read_via_mem(pd, &pd->riov[i], dst + off))
			return -1;
		off += l;
	}
	return 0;
}

static int crc_add(struct pages_dumper *pd, const void *buf, size_t len)
{
	if (!crc32c_stream_add(&pd->crc, buf, len))
		return 0;
	pr_err("Out of memory for the checksums of PID %d's pages\n",
	       pd->t->pid);
	return -1;
}

/* The batch is on its way to the image: start the next. */
static void batch_sent(struct pages_dumper *pd)
{
	pd->written += pd->buffered;
	pd->niov = 0;
	pd->buffered = 0;
	progress("Dumping memory", pd->written, 0, pd->start_us);
}

/* LEN bytes at ADDR of the task, read by us, into pipe B. */
static int copy_into_pipe(struct pages_dumper *pd, int b, uint64_t addr,
			  size_t len)
{
	while (len) {
		struct iovec v = { (void *)addr, len < pd->limit ? len : pd->limit };

		if (read_via_mem(pd, &v, pd->buf) ||
		    pages_splice_ours(&pd->ps, b, pd->buf, v.iov_len))
			return -1;
		addr += v.iov_len;
		len -= v.iov_len;
	}
	return 0;
}

/*
 * The batch into pipe B: pages the task alone maps by its own vmsplice()
 * (into shared ones a reference would not do: see read_via_mem), and
 * whatever it would not give by us.
 */
static int splice_batch(struct pages_dumper *pd, int b)
{
	ssize_t got = 0;
	int i, j;

	for (i = 0; i < pd->niov; i = j) {
		for (j = i + 1; j < pd->niov && pd->pinnable[j] == pd->pinnable[i];
		     j++)
			;
		got = 0;
		if (pd->pinnable[i]) {
			got = pages_splice_task(&pd->ps, b, &pd->riov[i], j - i);
			if (got < 0)
				return -1;
		}
		for (int k = i; k < j; k++) {
			size_t l = pd->riov[k].iov_len;
			size_t skip = (size_t)got < l ? (size_t)got : l;

			got -= skip;
			if (skip < l &&
			    copy_into_pipe(pd, b,
					   (uint64_t)pd->riov[k].iov_base + skip,
					   l - skip))
				return -1;
		}
	}
	return 0;
}

/*
 * The image up to END is written: checksum it from the page cache. Short of
 * the FINAL call, only whole block triples, which go three at a time.
 */
static int crc_image_to(struct pages_dumper *pd, uint64_t end, int final)
{
	uint64_t triple = 3ULL * pd->crc.block, n, avail;
	const unsigned char *p;

	if (!final)
		end = pd->crc_off + (end - pd->crc_off) / triple * triple;
	while (pd->crc_off < end) {
		p = img_window_at(&pd->crc_win, pd->img_rd, UINT64_MAX,
				  pd->xfer.name, pd->crc_off, &avail);
		if (!p)
			return -1;
		n = end - pd->crc_off < avail ? end - pd->crc_off : avail;
		if (crc_add(pd, p, n))
			return -1;
		pd->crc_off += n;
	}
	return 0;
}

static int flush_spliced(struct pages_dumper *pd)
{
	int b;

	if (!pd->buffered)
		return 0;
	b = pages_splice_next(&pd->ps);
	if (b < 0 || splice_batch(pd, b))
		return -1;
	pages_splice_submit(&pd->ps, b, pd->buffered);
	batch_sent(pd);
	return crc_image_to(pd, pages_splice_done(&pd->ps), 0);
}

static int flush_pages(struct pages_dumper *pd)
{
	size_t off = 0;
	int i, j;

	if (pd->splicing)
		return flush_spliced(pd);
	for (i = 0; i < pd->niov; i = j) {
		size_t len = pd->riov[i].iov_len;

		j = i + 1;
		if (!pd->pinnable[i]) {
			if (read_via_mem(pd, &pd->riov[i], pd->buf + off))
				return -1;
			off += len;
			continue;
		}
		for (; j < pd->niov && pd->pinnable[j]; j++)
			len += pd->riov[j].iov_len;
		if (read_pinned(pd, i, j - i, pd->buf + off))
			return -1;
		off += len;
	}
	/* here, not in the writer: it has the page cache to fill */
	if (crc_add(pd, pd->buf, pd->buffered))
		return -1;
	if (pd->buffered) {
		memcpy(pd->where[pd->fill], pd->riov,
		       pd->niov * sizeof(*pd->riov));
		pd->nwhere[pd->fill] = pd->niov;
		pd->fill ^= 1;
	}
	aw_submit(pd->aw, pd->buffered);
	batch_sent(pd);
	pd->buf = aw_buffer(pd->aw);
	return pd->buf ? 0 : -1;
}

/* In the writer thread, while the next buffer is read from the task. */
static int pages_sink(void *arg, const void *buf, size_t len)
{
	struct pages_dumper *pd = arg;
	int b = pd->sink;

	/* the buffers go in turn, in the order they were filled */
	pd->sink ^= 1;
	return page_xfer_write(&pd->xfer, pd->where[b], pd->nwhere[b], buf,
			       len);
}

static int queue_copy(struct pages_dumper *pd, uint64_t vaddr, uint64_t nr,
		      int pinnable)
{
	uint64_t len = nr * pd->page;

	while (len) {
		size_t chunk = pd->limit - pd->buffered;

		if (chunk > len)
			chunk = len;
		pd->riov[pd->niov].iov_base = (void *)vaddr;
		pd->riov[pd->niov].iov_len = chunk;
		pd->pinnable[pd->niov] = pinnable;
		pd->niov++;
		pd->buffered += chunk;
		vaddr += chunk;
		len -= chunk;
		if ((pd->buffered == pd->limit || pd->niov == IOV_BATCH) &&
		    flush_pages(pd))
			return -1;
	}
	return 0;
}

static int page_wanted(const VmaEntry *v, uint64_t pme)
{
	if (pme & PME_SWAP)
		return !track_hole(pme);
	if (!(pme & PME_PRESENT))
		return 0;
	/* private file mappings: only pages the task wrote (now anonymous) */
	if (v->kind == VMA_KIND__VMA_FILE)
		return !(pme & PME_FILE);
	return 1;
}

static int vma_has_contents(const VmaEntry *v)
{
	/* shared anonymous memory lives in its object (shmem.c) */
	if (v->kind == VMA_KIND__VMA_ANON)
		return !(v->flags & MAP_SHARED);
	/* shared file mappings live in the file itself */
	return v->kind == VMA_KIND__VMA_FILE && !(v->flags & MAP_SHARED);
}

/*
 * PAGE_OWN: present and mapped by this task alone, safe to pin; PAGE_PREV:
 * not written since the previous dump, which holds it.
 */
enum page_class { PAGE_NONE, PAGE_DATA, PAGE_OWN, PAGE_PARENT, PAGE_PREV };

/*
 * The same physical page (or swap slot) at the same address in the parent:
 * inherited across fork and written by neither since. Needs PFNs, which
 * only CAP_SYS_ADMIN sees; without them every page is dumped.
 */
static int page_in_parent(uint64_t pme, uint64_t parent_pme)
{
	uint64_t mask = PME_PRESENT | PME_SWAP | PME_PFN_MASK;

	if (!(pme & (PME_PRESENT | PME_SWAP)) || !(pme & PME_PFN_MASK))
		return 0;
	return (pme & mask) == (parent_pme & mask);
}

static enum page_class page_classify(const struct pages_dumper *pd,
				     const VmaEntry *v, const uint64_t *pme,
				     uint64_t i)
{
	if (!page_wanted(v, pme[i]))
		return PAGE_NONE;
	if (v->cow && page_in_parent(pme[i], pd->parent_pme[i]))
		return PAGE_PARENT;
	if (pd->use_prev && pd->prev_ok[i])
		return PAGE_PREV;
	if ((pme[i] & (PME_PRESENT | PME_EXCLUSIVE)) ==
	    (PME_PRESENT | PME_EXCLUSIVE))
		return PAGE_OWN;
	return PAGE_DATA;
}

/* NR pages from page IDX of the batch at ADDR, all of one class. */
static int dump_page_run(struct pages_dumper *pd, VmaEntry *v, uint64_t addr,
			 uint64_t idx, uint64_t nr, enum page_class class)
{
	uint64_t start = addr + idx * pd->page;

	if (class == PAGE_NONE)
		return 0;
	if (add_run(pd, start, nr, class == PAGE_PARENT, class == PAGE_PREV))
		return -1;
	if (class == PAGE_PARENT)
		return 0;
	/* filled at restore all the same: the VMA is mapped writable */
	v->dumped_pages += nr;
	if (coldmark_add(&pd->cm, start, idx, nr))
		return -1;
	if (class == PAGE_PREV) {
		pd->prev_pages += nr;
		return 0;
	}
	return queue_copy(pd, start, nr, class == PAGE_OWN);
}

/* One batch of pagemap: runs of pages of one class. */
static int dump_batch(struct pages_dumper *pd, VmaEntry *v, uint64_t addr,
		      const uint64_t *pme, uint64_t nr)
{
	enum page_class run_class = PAGE_NONE, c;
	uint64_t i, run = 0;

	for (i = 0; i <= nr; i++) {
		c = i < nr ? page_classify(pd, v, pme, i) : PAGE_NONE;
		if (run && c == run_class) {
			run++;
			continue;
		}
		if (dump_page_run(pd, v, addr, i - run, run, run_class))
			return -1;
		run_class = c;
		run = c != PAGE_NONE;
	}
	return 0;
}

static int dump_vma_pages(struct pages_dumper *pd, int pm_fd, VmaEntry *v,
			  uint64_t *pme, struct dump_stats *st)
{
	uint64_t addr = v->start, in_parent = 0, i, prev0 = pd->prev_pages;

	pd->new_vma = 1;
	while (addr < v->end) {
		uint64_t nr = (v->end - addr) / pd->page;

		if (nr > PM_BATCH)
			nr = PM_BATCH;
		/* a cancelled dump stops within one batch (32 MiB) */
		if (pd->t->pm_snap) {
			memcpy(pme, pd->t->pm_snap + pd->snap_pos,
			       nr * sizeof(*pme));
			pd->snap_pos += nr;
		} else if (pagemap_read_entries(pm_fd, addr, nr, pme) < 0) {
			return -1;
		}
		pd->use_prev = pd->t->track &&
			       track_batch_mask(pd->t, v, addr, nr, pme,
						pd->prev_ok);
		/* what the previous dump holds keeps the temperature it had */
		if (dump_cancelled() ||
		    coldmark_classify(&pd->cm, v, addr, pme,
				      pd->use_prev ? pd->prev_ok : NULL, nr))
			return -1;
		if (v->cow && pagemap_read_entries(pd->parent_pm_fd, addr, nr,
						   pd->parent_pme) < 0)
			return -1;
		st->pages_scanned += nr;
		if (v->cow)
			for (i = 0; i < nr; i++)
				in_parent += page_in_parent(pme[i],
							    pd->parent_pme[i]);
		if (dump_batch(pd, v, addr, pme, nr))
			return -1;
		addr += nr * pd->page;
	}
	if (v->cow)
		pr_debug("PID %d: VMA %#" PRIx64 ": %" PRIu64 " pages shared with the parent\n",
			 pd->t->pid, v->start, in_parent);
	/* nothing shared after all: a VMA like any other */
	if (v->cow && !in_parent)
		v->cow = v->has_cow = 0;
	st->pages_written += v->dumped_pages - (pd->prev_pages - prev0);
	st->pages_in_prev += pd->prev_pages - prev0;
	return 0;
}

/*
 * Private anonymous memory the parent has at the very same addresses may
 * still be shared with it copy-on-write: compare page by page.
 */
static void vma_mark_cow(const struct dump_task *t, VmaEntry *v)
{
	const VmaEntry *pv;

	if (!t->parent || t->parent->zombie || v->kind != VMA_KIND__VMA_ANON ||
	    (v->flags & MAP_SHARED) || v->has_shm_id || v->name[0])
		return;
	pv = mm_find_vma(t->parent->mm, v->start);
	if (!pv || pv->start != v->start || pv->end != v->end ||
	    pv->kind != VMA_KIND__VMA_ANON || (pv->flags & MAP_SHARED) ||
	    pv->has_shm_id || pv->name[0])
		return;
	v->has_cow = v->cow = 1;
}

static int parent_pagemap_open(struct pages_dumper *pd, struct dump_task *t)
{
	size_t i;

	/* pre-dump: the tree runs, a comparison would mean nothing */
	if (t->pm_snap)
		return 0;
	for (i = 0; i < t->mm->n_vmas; i++)
		vma_mark_cow(t, t->mm->vmas[i]);
	for (i = 0; i < t->mm->n_vmas; i++)
		if (t->mm->vmas[i]->cow)
			break;
	if (i == t->mm->n_vmas)
		return 0;
	pd->parent_pm_fd = pagemap_open(t->parent->pid);
	pd->parent_pme = malloc(PM_BATCH * sizeof(*pd->parent_pme));
	if (pd->parent_pm_fd < 0 || !pd->parent_pme) {
		pr_err("PID %d: can't read the pagemap of its parent %d\n",
		       t->pid, t->parent->pid);
		return -1;
	}
	return 0;
}

/* A head, then the runs (with their temperature if CM). */
static int pagemap_write_cm(struct cr_img *img, const ProtobufCMessage *head,
			    const struct page_run *runs, size_t n,
			    struct coldmark_dump *cm)
{
	size_t i;
	int ret;

	if (!img)
		return -1;
	if (img_write_msg(img, head))
		goto err;
	for (i = 0; i < n; i++) {
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;

		pe.vaddr = runs[i].vaddr;
		pe.nr_pages = runs[i].nr;
		if (runs[i].in_parent)
			pe.has_in_parent = pe.in_parent = 1;
		if (runs[i].in_prev)
			pe.has_in_prev = pe.in_prev = 1;
		if (cm && coldmark_entry(cm, &pe))
			goto err;
		ret = img_write_msg(img, &pe.base);
		coldmark_entry_free(&pe);
		if (ret)
			goto err;
	}
	return img_close_write(img);
err:
	img_close_write(img);
	return -1;
}

/* pagemap-ID.img, and shmem-ID.img too. */
int pagemap_write(struct cr_img *img, const ProtobufCMessage *head,
		  const struct page_run *runs, size_t n)
{
	return pagemap_write_cm(img, head, runs, n, NULL);
}

static int write_pagemap(int dirfd, struct pages_dumper *pd, unsigned int id,
			 uint64_t nr_pages)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;

	head.pages_id = id;
	head.nr_pages = nr_pages;
	if (crc32c_stream_end(&pd->crc))
		return -1;
	head.has_crc_block = 1;
	head.crc_block = pd->crc.block;
	head.n_crc32c = pd->crc.n;
	head.crc32c = pd->crc.crcs;
	if (track_tracker_fd(pd->t) >= 0) {
		head.has_tracker_fd = 1;
		head.tracker_fd = track_tracker_fd(pd->t);
	}
	return pagemap_write_cm(create_image(dirfd, IMG_PAGEMAP, id),
				&head.base, pd->runs, pd->nr_runs, &pd->cm);
}

/* The task splices its pages to us if it can (pages-splice.c). */
static int splice_setup(struct pages_dumper *pd)
{
	char path[64];
	int ret;

	pd->limit = COPY_BUF_SIZE;
	if (page_server_active())
		return 0;
	ret = pages_splice_start(&pd->ps, pd->t, pd->xfer.fd);
	if (ret)
		return ret < 0 ? -1 : 0;
	pd->splicing = 1;
	if (pd->ps.cap < pd->limit)
		pd->limit = pd->ps.cap;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pd->xfer.fd);
	pd->img_rd = open(path, O_RDONLY | O_CLOEXEC);
	if (pd->img_rd < 0) {
		pr_perror("Can't open image %s to read it back", pd->xfer.name);
		return -1;
	}
	pd->buf = malloc(pd->limit);
	if (!pd->buf) {
		pr_err("Out of memory for the memory dump of PID %d\n",
		       pd->t->pid);
		return -1;
	}
	return 0;
}

int pages_dump(int dirfd, struct dump_task *t, struct dump_stats *st)
{
	struct pages_dumper pd = { .t = t, .mem_fd = -1, .page = getpagesize(),
				   .parent_pm_fd = -1, .img_rd = -1,
				   .crc_win = { .size = CRC_WINDOW },
				   .crc = { .block = PAGES_CRC_BLOCK } };
	unsigned int id = t->mm->pages_id;
	uint64_t *pme = NULL, t0 = now_us();
	char name[64];
	int pm_fd, ret = -1;
	size_t i;

	pd.start_us = t0;
	snprintf(name, sizeof(name), PAGES_IMG_FMT, id);
	if (page_xfer_open(&pd.xfer, dirfd, name))
		return -1;
	pm_fd = pagemap_open(t->pid);
	if (splice_setup(&pd))
		goto out;
	if (!pd.splicing) {
		pd.aw = aw_start(COPY_BUF_SIZE, pages_sink, &pd);
		pd.buf = pd.aw ? aw_buffer(pd.aw) : NULL;
	}
	pme = malloc(PM_BATCH * sizeof(*pme));
	pd.prev_ok = malloc(PM_BATCH);
	if (coldmark_dump_init(&pd.cm, t->pid, PM_BATCH) ||
	    track_prev_temps(t, &pd.cm) || pm_fd < 0 ||
	    !pd.buf || !pme || !pd.prev_ok) {
		pr_err("Can't set up the memory dump of PID %d\n", t->pid);
		goto out;
	}
	if (parent_pagemap_open(&pd, t))
		goto out;
	for (i = 0; i < t->mm->n_vmas; i++) {
		VmaEntry *v = t->mm->vmas[i];

		if (vma_has_contents(v) && dump_vma_pages(&pd, pm_fd, v, pme, st))
			goto out;
	}
	if (flush_pages(&pd))
		goto out;
	ret = pd.splicing ? pages_splice_finish(&pd.ps) : aw_finish(pd.aw);
	pd.aw = NULL;
	if (!ret && pd.splicing) {
		pd.xfer.bytes = pd.written;
		ret = crc_image_to(&pd, pd.written, 1);
	}
	if (ret)
		goto out;
	progress_done();
	st->pages_skipped = st->pages_scanned - st->pages_written -
			    st->pages_in_prev;
	st->image_bytes += pd.written;
	ret = write_pagemap(dirfd, &pd, id, st->pages_written);
	pr_info("PID %d: %" PRIu64 " pages in %zu runs written, %" PRIu64 " left in the previous dump, %" PRIu64 " scanned\n",
		t->pid, st->pages_written, pd.nr_runs, st->pages_in_prev,
		st->pages_scanned);
	if (!ret)
		ret = coldmark_dump_finish(&pd.cm, t);
out:
	/* the thread may still write: stop it before the buffers go */
	aw_finish(pd.aw);
	if (pd.splicing) {
		if (pages_splice_stop(&pd.ps))
			ret = -1;
		free(pd.buf);
	}
	img_window_drop(&pd.crc_win);
	if (pd.img_rd >= 0)
		close(pd.img_rd);
	st->memdump_us += now_us() - t0;
	if (pm_fd >= 0)
		close(pm_fd);
	if (pd.mem_fd >= 0)
		close(pd.mem_fd);
	if (pd.parent_pm_fd >= 0)
		close(pd.parent_pm_fd);
	free(pd.parent_pme);
	free(pd.crc.crcs);
	if (page_xfer_close(&pd.xfer, !ret))
		ret = -1;
	free(pme);
	free(pd.prev_ok);
	free(pd.runs);
	coldmark_dump_free(&pd.cm);
	return ret;
}

/*
 * pre-dump: the pagemap of every VMA pages_dump() reads, taken while the
 * tree is frozen; the pages are then copied while it runs.
 */
int pages_snapshot(struct dump_task *t)
{
	uint64_t total = 0, pos = 0, page = getpagesize();
	size_t i;
	int fd;

	for (i = 0; i < t->mm->n_vmas; i++)
		if (vma_has_contents(t->mm->vmas[i]))
			total += (t->mm->vmas[i]->end - t->mm->vmas[i]->start) / page;
	t->pm_snap = malloc((total ? total : 1) * sizeof(*t->pm_snap));
	if (!t->pm_snap) {
		pr_err("Out of memory for the pagemap of PID %d (%" PRIu64 " pages)\n",
		       t->pid, total);
		return -1;
	}
	fd = pagemap_open(t->pid);
	if (fd < 0)
		return -1;
	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		uint64_t nr = (v->end - v->start) / page;

		if (!vma_has_contents(v))
			continue;
		if (pagemap_read_entries(fd, v->start, nr, t->pm_snap + pos) < 0) {
			close(fd);
			return -1;
		}
		pos += nr;
	}
	close(fd);
	return 0;
}

/* Restore side */

struct pages_reader {
	struct cr_img *img;
	PagemapHead *head;
};

static int pagemap_open_read(int dirfd, unsigned int id, struct pages_reader *pr)
{
	ProtobufCMessage *msg;

	pr->img = open_image(dirfd, IMG_PAGEMAP, id);
	if (!pr->img)
		return -1;
	if (img_read_msg(pr->img, &pagemap_head__descriptor, &msg) != 1) {
		pr_err("Image %s has no head\n", pr->img->name);
		img_close(pr->img);
		return -1;
	}
	pr->head = (PagemapHead *)msg;
	return 0;
}

static void pagemap_close_read(struct pages_reader *pr)
{
	protobuf_c_message_free_unpacked(&pr->head->base, NULL);
	img_close(pr->img);
}

static int pagemap_next(struct pages_reader *pr, PagemapEntry **pe)
{
	return img_read_msg(pr->img, &pagemap_entry__descriptor,
			    (ProtobufCMessage **)pe);
}

/* The whole pagemap, each data run with its offset in the pages image. */
int pagemap_load(int dirfd, unsigned int id, struct rst_run **runs, size_t *n)
{
	uint64_t off = 0, page = getpagesize();
	struct pages_reader pr;
	struct rst_run *v = NULL;
	size_t cap = 0;
	PagemapEntry *pe;
	int ret;

	*n = 0;
	if (pagemap_open_read(dirfd, id, &pr))
		return -1;
	while ((ret = pagemap_next(&pr, &pe)) == 1) {
		if (*n == cap) {
			struct rst_run *nv;

			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				protobuf_c_message_free_unpacked(&pe->base, NULL);
				ret = -1;
				break;
			}
			v = nv;
		}
		v[(*n)++] = (struct rst_run){ pe->vaddr, pe->nr_pages, off,
					      pe->in_parent, pe->in_prev };
		if (!pe->in_parent && !pe->in_prev)
			off += pe->nr_pages * page;
		protobuf_c_message_free_unpacked(&pe->base, NULL);
	}
	pagemap_close_read(&pr);
	if (ret) {
		free(v);
		return -1;
	}
	*runs = v;
	return 0;
}

/* The temperature runs of a pagemap, at their addresses. */
int pagemap_load_temps(int dirfd, unsigned int id, struct cold_runs *runs)
{
	struct pages_reader pr;
	PagemapEntry *pe;
	int ret;

	if (pagemap_open_read(dirfd, id, &pr))
		return -1;
	while ((ret = pagemap_next(&pr, &pe)) == 1) {
		ret = coldmark_runs_add_entry(runs, pe);
		protobuf_c_message_free_unpacked(&pe->base, NULL);
		if (ret)
			break;
	}
	pagemap_close_read(&pr);
	return ret;
}

/* Every run lies in one VMA that has contents; counts match the pages file. */
int pages_validate(int dirfd, const MmEntry *mm, int verify)
{
	uint64_t total = 0, page = getpagesize();
	struct pages_reader pr;
	PagemapEntry *pe;
	struct stat st;
	char name[64];
	int ret;

	if (pagemap_open_read(dirfd, mm->pages_id, &pr))
		return -1;
	while ((ret = pagemap_next(&pr, &pe)) == 1) {
		const VmaEntry *v = mm_find_vma(mm, pe->vaddr);
		uint64_t end = pe->vaddr + pe->nr_pages * page;

		if (!v || end > v->end || !vma_has_contents(v) || !pe->nr_pages) {
			pr_err("Image %s: run %#" PRIx64 "+%u pages is outside any dumped VMA\n",
			       pr.img->name, pe->vaddr, pe->nr_pages);
			protobuf_c_message_free_unpacked(&pe->base, NULL);
			ret = -1;
			break;
		}
		if (pe->in_parent && !v->cow) {
			pr_err("Image %s: run %#" PRIx64 "+%u pages is the parent's, in a VMA not shared with it\n",
			       pr.img->name, pe->vaddr, pe->nr_pages);
			protobuf_c_message_free_unpacked(&pe->base, NULL);
			ret = -1;
			break;
		}
		if (pe->in_prev && (pe->in_parent || v->cow ||
				    v->kind != VMA_KIND__VMA_ANON)) {
			pr_err("Image %s: run %#" PRIx64 "+%u pages is in the previous dump, which only private anonymous memory can be\n",
			       pr.img->name, pe->vaddr, pe->nr_pages);
			protobuf_c_message_free_unpacked(&pe->base, NULL);
			ret = -1;
			break;
		}
		if (coldmark_validate_entry(pe, pr.img->name)) {
			protobuf_c_message_free_unpacked(&pe->base, NULL);
			ret = -1;
			break;
		}
		if (!pe->in_parent && !pe->in_prev)
			total += pe->nr_pages;
		protobuf_c_message_free_unpacked(&pe->base, NULL);
	}
	if (!ret && total != pr.head->nr_pages) {
		pr_err("Image %s: runs hold %" PRIu64 " pages, its head says %" PRIu64 "\n",
		       pr.img->name, total, pr.head->nr_pages);
		ret = -1;
	}
	snprintf(name, sizeof(name), PAGES_IMG_FMT, mm->pages_id);
	if (ret)
		goto out;
	ret = -1;
	if (fstatat(dirfd, name, &st, 0)) {
		pr_perror("Can't find image %s", name);
		goto out;
	}
	if ((uint64_t)st.st_size != total * page) {
		pr_err("Image %s has %lld bytes, %" PRIu64 " pages (%" PRIu64 " bytes) were dumped: truncated or wrong\n",
		       name, (long long)st.st_size, total, total * page);
		goto out;
	}
	/*
	 * A restore checks each block of its own image before its first copy
	 * from it (pages_crc_check), on the mapping the copy is made from:
	 * reading the image once more up front cost a third of a restore.
	 */
	if (!verify)
		ret = 0;
	else
		ret = pages_file_verify(dirfd, name, pr.head->crc_block,
					pr.head->crc32c, pr.head->n_crc32c);
out:
	pagemap_close_read(&pr);
	return ret ? -1 : 0;
}

#define VERIFY_CHUNK	3	/* blocks read at once: crc32c_blocks' stride */

static int verify_chunk(const char *name, const unsigned char *buf, size_t len,
			uint32_t block, const uint32_t *want, uint64_t off)
{
	uint32_t got[VERIFY_CHUNK];
	size_t i;

	crc32c_blocks(buf, len, block, got);
	for (i = 0; i * block < len; i++) {
		if (got[i] == want[i])
			continue;
		pr_err("Image %s: checksum mismatch in bytes %" PRIu64 "-%" PRIu64 ": the pages are corrupted\n",
		       name, off + i * block, off + (i + 1) * block - 1);
		return -1;
	}
	return 0;
}

int pages_crc_init(struct pages_crc *c, const PagemapHead *head,
		   const char *name, uint64_t size)
{
	uint64_t block = head->crc_block;

	*c = (struct pages_crc){ .block = head->crc_block, .n = head->n_crc32c,
				 .size = size };
	if (!c->n)
		return 0;
	/* blocks tile the mapped windows of the image: none straddles two */
	if (block < (uint64_t)getpagesize() || block > UFFD_WINDOW || (block & (block - 1)) ||
	    (size + block - 1) / block != c->n) {
		pr_err("Image %s: %zu checksums of %" PRIu64 "-byte blocks don't fit its %" PRIu64 " bytes\n",
		       name, c->n, block, size);
		return -1;
	}
	c->crcs = malloc(c->n * sizeof(*c->crcs));
	c->ok = calloc(c->n, 1);
	c->buf = malloc(c->block);
	if (!c->crcs || !c->ok || !c->buf) {
		pages_crc_free(c);
		pr_err("Out of memory for the checksums of a pages image\n");
		return -1;
	}
	memcpy(c->crcs, head->crc32c, c->n * sizeof(*c->crcs));
	return 0;
}

int pages_crc_check(struct pages_crc *c, int fd, const unsigned char *map,
		    uint64_t map_off, const char *name, uint64_t off,
		    uint64_t len)
{
	uint64_t b, last, nb;

	if (!c->n || !len)
		return 0;
	last = (off + len - 1) / c->block;
	if (last >= c->n)
		last = c->n - 1;
	for (b = off / c->block; b <= last; b += nb) {
		uint64_t at = b * c->block;
		size_t blen;

		/* unchecked neighbours go together: three run at once */
		for (nb = 0; b + nb <= last && !c->ok[b + nb] &&
			     nb < (map ? VERIFY_CHUNK : 1); nb++)
			;
		if (!nb) {
			nb = 1;
			continue;
		}
		blen = c->size - at < nb * c->block ? c->size - at :
						      nb * c->block;
		if (!map && pread(fd, c->buf, blen, at) != (ssize_t)blen) {
			pr_perror("Image %s: can't read %zu bytes at %" PRIu64,
				  name, blen, at);
			return -1;
		}
		if (verify_chunk(name, map ? map + (at - map_off) : c->buf,
				 blen, c->block,
				 c->crcs + b, at))
			return -1;
		memset(c->ok + b, 1, nb);
	}
	return 0;
}

void pages_crc_free(struct pages_crc *c)
{
	free(c->crcs);
	free(c->ok);
	free(c->buf);
	c->crcs = NULL;
	c->ok = NULL;
	c->buf = NULL;
}
/*
 * The image is mapped a window at a time, not read: its pages are in the
 * page cache already (tmpfs, or the dump just wrote them), and a read()
 * would copy every byte once more before the restore copies it again.
 */
#define VERIFY_WINDOW	(64ULL << 20)

int pages_file_verify(int dirfd, const char *name, uint32_t block,
		      const uint32_t *crcs, size_t n)
{
	uint64_t off, size, win;
	struct stat st;
	int fd, ret = -1;
	size_t i = 0;

	if (!n)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		pr_perror("Can't open image %s", name);
		goto out_fd;
	}
	size = st.st_size;
	if (!block || (size + block - 1) / block != n) {
		pr_err("Image %s: %zu checksums of %u-byte blocks don't cover its %" PRIu64 " bytes\n",
		       name, n, block, size);
		goto out_fd;
	}
	/* whole groups of VERIFY_CHUNK blocks in each window */
	win = VERIFY_WINDOW - VERIFY_WINDOW % ((uint64_t)block * VERIFY_CHUNK);
	if (!win)
		win = (uint64_t)block * VERIFY_CHUNK;
	for (off = 0; off < size; off += win) {
		uint64_t len = size - off < win ? size - off : win, o;
		unsigned char *m = mmap(NULL, len, PROT_READ,
					MAP_PRIVATE | MAP_POPULATE, fd, off);

		if (m == MAP_FAILED) {
			pr_perror("Image %s: can't map %" PRIu64 " bytes at %" PRIu64,
				  name, len, off);
			goto out_fd;
		}
		for (o = 0; o < len; o += (uint64_t)block * VERIFY_CHUNK) {
			size_t l = len - o < (uint64_t)block * VERIFY_CHUNK ?
					   len - o : (size_t)block * VERIFY_CHUNK;

			if (verify_chunk(name, m + o, l, block, crcs + i,
					 off + o))
				break;
			i += VERIFY_CHUNK;
		}
		munmap(m, len);
		if (o < len)
			goto out_fd;
	}
	ret = 0;
out_fd:
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Filling: anonymous runs (private, and shared ones through their shmem
 * object) go in with UFFDIO_COPY, which allocates each page and copies into
 * it without zeroing it first or taking a fault per page. The uffd is bound
 * to the mm that creates it, so the task creates it and we take it with
 * pidfd_getfd(). Private file mappings (uffd MISSING mode does not handle
 * them) and anything the kernel refuses go the old way: MADV_POPULATE_WRITE,
 * then preadv() of the image inside the task. With --lazy-pages, the runs of
 * private anonymous VMAs are not copied: the VMA stays registered and the
 * runs go with the uffd to the lazy-pages daemon (lazy-pages.c).
 */
struct pages_filler {
	struct rst_task *t;
	long fd;			/* the pages image, in the task */
	struct iovec iov[IOV_BATCH];
	int niov;
	uint64_t bytes;
	uint64_t file_off;		/* where iov[0] starts in the image */
	int uffd;			/* ours; -1 without the uffd path */
	int img_fd;			/* the pages image, ours */
	char img_name[64];
	uint64_t img_size;
	const VmaEntry *vma;		/* the VMA runs are going into */
	int registered;			/* ... and it is registered with uffd */
	int vma_lazy;			/* ... and stays so: its runs are lazy */
	struct lazy_set lazy;		/* --lazy-pages: runs left to the daemon */
	struct pages_crc crc;		/* ... and the image checked as used */
	/* pages in the previous dumps: their pages images, a bounce buffer */
	int *prev_fd;
	unsigned char *prev_buf;
	size_t pseg;			/* the first of t->psegs not yet done */
};

static long fill_call(struct pages_filler *pf, long nr, long a1, long a2,
		      long a3, long a4)
{
	long ret;

	if (remote_syscall(&pf->t->remote, &ret, nr, a1, a2, a3, a4, 0, 0))
		return -EIO;
	return ret;
}

static int fill_open(struct pages_filler *pf)
{
	uint64_t addr;
	char path[4200];

	snprintf(path, sizeof(path), "%s/" PAGES_IMG_FMT, pf->t->dir,
		 pf->t->mm->pages_id);
	addr = scratch_put(&pf->t->remote, 0, path, strlen(path) + 1);
	if (!addr)
		return -1;
	pf->fd = fill_call(pf, SYS_openat, AT_FDCWD, addr, O_RDONLY | O_CLOEXEC, 0);
	if (pf->fd < 0) {
		errno = -pf->fd;
		pr_perror("PID %d: can't open %s", pf->t->pid, path);
		return -1;
	}
	return 0;
}

static int fill_flush(struct pages_filler *pf)
{
	uint64_t addr;
	long ret;
	int i;

	if (!pf->niov)
		return 0;
	if (pf->fd < 0 && fill_open(pf))
		return -1;
	/* fault everything in with one call per run: far cheaper than per page */
	for (i = 0; i < pf->niov; i++)
		if (pf->iov[i].iov_len >= POPULATE_MIN * (size_t)getpagesize())
			fill_call(pf, SYS_madvise, (long)pf->iov[i].iov_base,
				  pf->iov[i].iov_len, MADV_POPULATE_WRITE, 0);
	addr = scratch_put(&pf->t->remote, SCRATCH_IOV_OFF, pf->iov,
			   pf->niov * sizeof(struct iovec));
	if (!addr)
		return -1;
	ret = fill_call(pf, SYS_preadv, pf->fd, addr, pf->niov, pf->file_off);
	if (ret != (long)pf->bytes) {
		errno = ret < 0 ? -ret : EIO;
		pr_perror("PID %d: reading %" PRIu64 " bytes of pages at offset %" PRIu64 " gave %ld",
			  pf->t->pid, pf->bytes, pf->file_off, ret);
		return -1;
	}
	pf->t->pages_restored += pf->bytes / getpagesize();
	pf->niov = 0;
	pf->bytes = 0;
	return 0;
}

/* Queue LEN bytes at VADDR, image offset OFF, for preadv in the task. */
static int fill_queue(struct pages_filler *pf, uint64_t vaddr, uint64_t len,
		      uint64_t off)
{
	if (pf->niov && pf->file_off + pf->bytes != off && fill_flush(pf))
		return -1;
	while (len) {
		uint64_t chunk = len < PREADV_MAX ? len : PREADV_MAX;

		if ((pf->niov == IOV_BATCH || pf->bytes + chunk > PREADV_MAX) &&
		    fill_flush(pf))
			return -1;
		if (!pf->niov)
			pf->file_off = off;
		pf->iov[pf->niov].iov_base = (void *)vaddr;
		pf->iov[pf->niov].iov_len = chunk;
		pf->niov++;
		pf->bytes += chunk;
		vaddr += chunk;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* No uffd for T (WHY, ERR): fill by preadv, or refuse --lazy-pages. */
static int uffd_refused(const struct rst_task *t, const char *why, int err)
{
	if (opts.lazy_pages) {
		pr_err("PID %d: %s (%s): no lazy pages without a userfaultfd\n",
		       t->pid, why, strerror(err));
		return -1;
	}
	pr_debug("PID %d: %s (%s), pages are filled by preadv\n", t->pid, why,
		 strerror(err));
	return 0;
}

static int uffd_api(struct pages_filler *pf)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_MISSING_SHMEM };

	if (opts.lazy_pages)
		return lazy_uffd_api(pf->uffd, NULL);
	return ioctl(pf->uffd, UFFDIO_API, &api);
}

/* Create the uffd in the task and take it; on any refusal, fill by preadv. */
static int uffd_open(struct pages_filler *pf)
{
	struct rst_task *t = pf->t;
	long fd;

	/* pidfd comes from CLONE_PIDFD; without it we can't take the uffd */
	if (t->pidfd < 0)
		return uffd_refused(t, "no pidfd", EBADF);
	/*
	 * user-mode-only: we never take faults, and it needs no privilege;
	 * lazy pages take the kernel's faults too (read() into lazy memory)
	 */
	fd = fill_call(pf, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK |
		       (opts.lazy_pages ? 0 : UFFD_USER_MODE_ONLY), 0, 0, 0);
	if (fd == -EIO)
		return -1;
	if (fd < 0)
		return uffd_refused(t, "no userfaultfd", -fd);
	pf->uffd = remote_take_fd(&t->remote, t->pidfd, fd);
	if (pf->uffd == -2) {
		pf->uffd = -1;
		return -1;
	}
	if (pf->uffd < 0)
		return uffd_refused(t, "pidfd_getfd of its userfaultfd", errno);
	if (uffd_api(pf)) {
		int err = errno;

		close(pf->uffd);
		pf->uffd = -1;
		return uffd_refused(t, "UFFDIO_API", err);
	}
	return 0;
}

static int uffd_unregister(struct pages_filler *pf)
{
	const VmaEntry *v = pf->vma;
	struct uffdio_range r = { .start = v->start, .len = v->end - v->start };

	pf->registered = 0;
	if (ioctl(pf->uffd, UFFDIO_UNREGISTER, &r)) {
		pr_perror("PID %d: can't unregister %#" PRIx64 "-%#" PRIx64 " from userfaultfd",
			  pf->t->pid, v->start, v->end);
		return -1;
	}
	return 0;
}

/*
 * Only private anonymous runs come here (shared ones: shmem.c). Filled now
 * all the same: a read-only VMA (made read-only with no page in it, the
 * kernel would drop its VM_ACCOUNT; it is small anyway), and the one holding
 * the command line and environment, which others read through /proc: a
 * remote read of a missing page fails (EFAULT) instead of waiting.
 */
static int vma_may_be_lazy(const MmEntry *mm, const VmaEntry *v)
{
	if (!(v->prot & PROT_WRITE))
		return 0;
	return !(mm->arg_start < v->end && mm->arg_end > v->start) &&
	       !(mm->env_start < v->end && mm->env_end > v->start);
}

/* Runs come in address order: register each anonymous VMA while it fills. */
static int uffd_switch_vma(struct pages_filler *pf, const VmaEntry *v)
{
	struct uffdio_register reg = {
		.range = { .start = v->start, .len = v->end - v->start },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	/* a lazy VMA stays registered: the daemon fills it */
	if (pf->registered && !pf->vma_lazy && uffd_unregister(pf))
		return -1;
	pf->registered = pf->vma_lazy = 0;
	pf->vma = v;
	if (pf->uffd < 0)
		return 0;
	if (v->kind != VMA_KIND__VMA_ANON) {
		pr_debug("PID %d: VMA %#" PRIx64 "-%#" PRIx64 " is a private file mapping, which uffd MISSING mode can't fill: preadv\n",
			 pf->t->pid, v->start, v->end);
		return 0;
	}
	/* a fault in a registered range would wait for us forever */
	if (fill_flush(pf))
		return -1;
	if (ioctl(pf->uffd, UFFDIO_REGISTER, &reg)) {
		if (errno != EINVAL) {
			pr_perror("PID %d: can't register %#" PRIx64 "-%#" PRIx64 " with userfaultfd",
				  pf->t->pid, v->start, v->end);
			return -1;
		}
		pr_debug("PID %d: userfaultfd refuses VMA %#" PRIx64 "-%#" PRIx64 " (EINVAL), it is filled by preadv\n",
			 pf->t->pid, v->start, v->end);
		return 0;
	}
	pf->registered = 1;
	pf->vma_lazy = opts.lazy_pages && vma_may_be_lazy(pf->t->mm, v);
	return 0;
}

/*
 * UFFDIO_COPY LEN bytes from SRC to DST. A page that is already there was
 * filled through another alias of the same shmem object: same bytes, skip it.
 * Returns the bytes done before an EINVAL (the caller falls back), or -1
 * with errno set.
 */
static int64_t uffd_copy_range(int uffd, uint64_t dst, const unsigned char *src,
			       uint64_t len)
{
	uint64_t done = 0, page = getpagesize();

	while (done < len) {
		struct uffdio_copy c = {
			.dst = dst + done,
			.src = (uint64_t)(uintptr_t)(src + done),
			.len = len - done,
			.mode = UFFDIO_COPY_MODE_DONTWAKE,
		};

		if (!ioctl(uffd, UFFDIO_COPY, &c))
			return len;
		if (errno == EAGAIN && c.copy > 0)
			done += c.copy;
		else if (errno == EEXIST)
			done += page;
		else if (errno == EINVAL)
			return done;
		else
			return -1;
	}
	return done;
}

/* The source is no part of this task's pages image: nothing to check. */
#define NO_IMAGE	UINT64_MAX

/*
 * A part of a run: from the image at OFF (through the part's own window),
 * or from the buffer SRC when OFF is NO_IMAGE.
 */
struct uffd_copy_part {
	struct pages_filler *pf;
	uint64_t dst, off, len;
	const unsigned char *src;
	int64_t done;			/* -1: failed, said why */
};

static void uffd_copy_part(struct uffd_copy_part *p)
{
	struct pages_filler *pf = p->pf;
	uint64_t step = p->len, done = 0, n, avail;
	struct img_window w = { .size = UFFD_WINDOW };
	const unsigned char *src;
	int64_t got;

	if (p->off != NO_IMAGE && pf->crc.n)
		step = (uint64_t)pf->crc.block * VERIFY_CHUNK;
	/*
	 * Check a few blocks, then copy them while they are still in the
	 * cache: the copy does not read them from memory again.
	 */
	p->done = -1;
	while (done < p->len) {
		n = p->len - done < step ? p->len - done : step;
		src = p->src + done;
		if (p->off != NO_IMAGE) {
			src = img_window_at(&w, pf->img_fd, pf->img_size,
					    pf->img_name, p->off + done, &avail);
			if (!src)
				goto out;
			if (n > avail)
				n = avail;
			if (pages_crc_check(&pf->crc, pf->img_fd, w.map, w.off,
					    pf->img_name, p->off + done, n))
				goto out;
		}
		got = uffd_copy_range(pf->uffd, p->dst + done, src, n);
		if (got < 0) {
			pr_perror("PID %d: UFFDIO_COPY of %" PRIu64 " bytes to %#" PRIx64,
				  pf->t->pid, n, p->dst + done);
			goto out;
		}
		done += got;
		if ((uint64_t)got < n)
			break;
	}
	p->done = done;
out:
	img_window_drop(&w);
}

static void *uffd_copy_thread(void *arg)
{
	uffd_copy_part(arg);
	return NULL;
}

/* Below this, a second thread costs more than it saves. */
#define UFFD_SPLIT_MIN	(4ULL << 20)

/*
 * Copy LEN bytes to DST from image offset OFF (or from SRC, see above), each
 * checksum block checked first, once. Allocating the pages is most of the
 * cost, and it goes as fast on two CPUs as on one each: a second thread
 * checks and copies the second half, cut at a block boundary so no block is
 * the two threads'. Returns the bytes done before the kernel refused
 * (EINVAL: the caller falls back), or -1.
 */
static int64_t uffd_copy(struct pages_filler *pf, uint64_t dst,
			 const unsigned char *src, uint64_t off, uint64_t len)
{
	uint64_t block = pf->crc.block ? pf->crc.block : PAGES_CRC_BLOCK, cut;
	struct uffd_copy_part a = { pf, dst, off, len, src, 0 }, b;
	pthread_t th;

	if (off == NO_IMAGE) {
		cut = len / 2 & ~((uint64_t)getpagesize() - 1);
	} else {
		cut = (off + len / 2) / block * block;
		cut = cut > off ? cut - off : 0;
	}
	if (len < UFFD_SPLIT_MIN || !cut)
		cut = len;
	a.len = cut;
	b = (struct uffd_copy_part){ pf, dst + cut,
				     off == NO_IMAGE ? NO_IMAGE : off + cut,
				     len - cut, src ? src + cut : NULL, 0 };
	if (b.len && pthread_create(&th, NULL, uffd_copy_thread, &b))
		a.len = len;
	uffd_copy_part(&a);
	if (a.len == len)
		return a.done;
	pthread_join(th, NULL);
	/* what is done is the part before the first refusal */
	if (a.done < 0 || b.done < 0)
		return -1;
	if ((uint64_t)a.done < a.len)
		return a.done;
	return a.len + b.done;
}

/* Fill a run by uffd; returns the bytes done (the rest goes by preadv), or -1. */
static int64_t uffd_fill(struct pages_filler *pf, uint64_t vaddr, uint64_t len,
			 uint64_t off)
{
	int64_t n;

	if (!pf->registered)
		return 0;
	n = uffd_copy(pf, vaddr, NULL, off, len);
	if (n < 0)
		return -1;
	pf->t->pages_restored += n / getpagesize();
	if ((uint64_t)n == len)
		return n;
	pr_debug("PID %d: UFFDIO_COPY to %#" PRIx64 ": EINVAL, the rest of VMA %#" PRIx64 " is filled by preadv\n",
		 pf->t->pid, vaddr + n, pf->vma->start);
	if (uffd_unregister(pf))
		return -1;
	return n;
}


static int fill_run(struct pages_filler *pf, uint64_t vaddr, uint64_t len,
		    uint64_t off)
{
	const VmaEntry *v = mm_find_vma(pf->t->mm, vaddr);
	int64_t done;

	if (v != pf->vma && uffd_switch_vma(pf, v))
		return -1;
	if (pf->vma_lazy)
		return lazy_set_add(&pf->lazy, vaddr, len, off);
	done = uffd_fill(pf, vaddr, len, off);
	if (done < 0)
		return -1;
	/* what the task reads from the image itself: checked here first */
	if ((uint64_t)done < len &&
	    pages_crc_check(&pf->crc, pf->img_fd, NULL, 0, pf->img_name,
			    off + done, len - done))
		return -1;
	return fill_queue(pf, vaddr + done, len - done, off + done);
}

static int prev_open(struct pages_filler *pf, const struct prev_seg *s)
{
	const struct img_chain *c = pf->t->chain;
	char name[64];
	int i;

	if (!pf->prev_fd) {
		pf->prev_fd = malloc(c->n * sizeof(*pf->prev_fd));
		pf->prev_buf = malloc(COPY_BUF_SIZE);
		if (!pf->prev_fd || !pf->prev_buf) {
			pr_err("Out of memory to fill PID %d from its previous dumps\n",
			       pf->t->pid);
			return -1;
		}
		for (i = 0; i < c->n; i++)
			pf->prev_fd[i] = -1;
	}
	if (pf->prev_fd[s->level] >= 0)
		return pf->prev_fd[s->level];
	snprintf(name, sizeof(name), PAGES_IMG_FMT, s->pages_id);
	pf->prev_fd[s->level] = openat(c->dirfd[s->level], name,
				       O_RDONLY | O_CLOEXEC);
	if (pf->prev_fd[s->level] < 0)
		pr_perror("Can't open image %s/%s", c->name[s->level], name);
	return pf->prev_fd[s->level];
}

/* LEN bytes from BUF to VADDR: by uffd where the VMA is registered. */
static int fill_from_buf(struct pages_filler *pf, uint64_t vaddr,
			 const unsigned char *buf, uint64_t len)
{
	const VmaEntry *v = mm_find_vma(pf->t->mm, vaddr);
	int64_t done = 0;

	if (v != pf->vma && uffd_switch_vma(pf, v))
		return -1;
	if (pf->registered) {
		done = uffd_copy(pf, vaddr, buf, NO_IMAGE, len);
		if (done < 0)
			return -1;
		if ((uint64_t)done < len && pf->vma_lazy) {
			pr_err("PID %d: UFFDIO_COPY to %#" PRIx64 " in a lazy VMA failed (EINVAL)\n",
			       pf->t->pid, vaddr + done);
			return -1;
		}
		if ((uint64_t)done < len && uffd_unregister(pf))
			return -1;
	}
	pf->t->pages_restored += len / getpagesize();
	if ((uint64_t)done == len)
		return 0;
	return remote_write(pf->t->pid, vaddr + done, buf + done, len - done);
}

/* A run in_prev: from the pages images down the chain (track.c). */
static int fill_prev(struct pages_filler *pf, uint64_t vaddr, uint64_t len)
{
	uint64_t page = getpagesize(), end = vaddr + len;
	struct rst_task *t = pf->t;

	while (vaddr < end) {
		const struct prev_seg *s;
		uint64_t off, n;
		ssize_t got;
		int fd;

		while (pf->pseg < t->n_psegs &&
		       t->psegs[pf->pseg].vaddr + t->psegs[pf->pseg].nr * page <= vaddr)
			pf->pseg++;
		s = pf->pseg < t->n_psegs ? &t->psegs[pf->pseg] : NULL;
		if (!s || s->vaddr > vaddr) {
			pr_err("PID %d: page %#" PRIx64 " is in no previous dump\n",
			       t->pid, vaddr);
			return -1;
		}
		fd = prev_open(pf, s);
		if (fd < 0)
			return -1;
		off = s->off + (vaddr - s->vaddr);
		n = s->vaddr + s->nr * page - vaddr;
		if (n > end - vaddr)
			n = end - vaddr;
		if (n > COPY_BUF_SIZE)
			n = COPY_BUF_SIZE;
		got = pread(fd, pf->prev_buf, n, off);
		if (got != (ssize_t)n) {
			pr_perror("Can't read %" PRIu64 " bytes at %" PRIu64 " of %s/" PAGES_IMG_FMT,
				  n, off, t->chain->name[s->level], s->pages_id);
			return -1;
		}
		if (fill_from_buf(pf, vaddr, pf->prev_buf, n))
			return -1;
		vaddr += n;
	}
	return 0;
}

static int uffd_setup(struct pages_filler *pf)
{
	const char *name = pf->img_name;
	struct stat st;

	snprintf(pf->img_name, sizeof(pf->img_name), PAGES_IMG_FMT,
		 pf->t->mm->pages_id);
	pf->img_fd = openat(pf->t->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (pf->img_fd < 0) {
		pr_perror("Can't open image %s", name);
		return -1;
	}
	if (fstat(pf->img_fd, &st)) {
		pr_perror("Can't stat image %s", name);
		return -1;
	}
	pf->img_size = st.st_size;
	return uffd_open(pf);
}

static int fill_finish(struct pages_filler *pf, int ok)
{
	int ret = 0, i;

	if (pf->registered && !pf->vma_lazy && uffd_unregister(pf))
		ret = -1;
	/* the daemon takes it (and the guard keeps it) */
	if (ok && !ret && pf->lazy.n) {
		ret = lazy_task_send(pf->t, pf->uffd, &pf->lazy, &pf->crc);
		pf->uffd = -1;
	}
	free(pf->lazy.v);
	pages_crc_free(&pf->crc);
	if (pf->uffd >= 0)
		close(pf->uffd);
	if (pf->img_fd >= 0)
		close(pf->img_fd);
	if (pf->fd >= 0)
		fill_call(pf, SYS_close, pf->fd, 0, 0, 0);
	for (i = 0; pf->prev_fd && i < pf->t->chain->n; i++)
		if (pf->prev_fd[i] >= 0)
			close(pf->prev_fd[i]);
	free(pf->prev_fd);
	free(pf->prev_buf);
	return ret;
}

static uint64_t count_prev(const struct rst_task *t)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < t->n_psegs; i++)
		n += t->psegs[i].nr;
	return n;
}

int pages_restore(struct rst_task *t)
{
	struct pages_filler pf = { .t = t, .fd = -1, .uffd = -1, .img_fd = -1 };
	uint64_t page = getpagesize(), t0 = now_us(), total, off = 0;
	struct pages_reader pr;
	PagemapEntry *pe;
	int ret;

	if (pagemap_open_read(t->dirfd, t->mm->pages_id, &pr))
		return -1;
	total = pr.head->nr_pages + count_prev(t);
	ret = total ? uffd_setup(&pf) : 0;
	/* the image is checked as it is used, not read once more before */
	if (!ret && total)
		ret = pages_crc_init(&pf.crc, pr.head, pf.img_name,
				     pf.img_size);
	while (!ret && (ret = pagemap_next(&pr, &pe)) == 1) {
		uint64_t len = pe->nr_pages * page, vaddr = pe->vaddr;
		int in_parent = pe->in_parent, in_prev = pe->in_prev;

		ret = coldmark_collect(t, pe);
		protobuf_c_message_free_unpacked(&pe->base, NULL);
		if (ret || in_parent)
			continue;
		if (in_prev) {
			ret = fill_prev(&pf, vaddr, len);
			continue;
		}
		/* VMAs mapped before the fork were filled then (cow.c) */
		if (!cow_keeps(t, mm_find_vma(t->mm, vaddr)))
			ret = fill_run(&pf, vaddr, len, off) ? -1 : 0;
		off += len;
		progress("Restoring memory", t->pages_restored * page,
			 total * page, t0);
	}
	if (!ret)
		ret = fill_flush(&pf);
	progress_done();
	if (fill_finish(&pf, !ret))
		ret = -1;
	pagemap_close_read(&pr);
	t->memfill_us += now_us() - t0;
	return ret ? -1 : 0;
}
