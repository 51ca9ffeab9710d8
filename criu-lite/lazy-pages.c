// SPDX-License-Identifier: GPL-2.0-only
/*
 * restore --lazy-pages: private anonymous memory is registered to
 * userfaultfd (MISSING) instead of filled, and a daemon fills it: each fault
 * at once, the rest in the background, until every page is home.
 *
 * Three parties. The restorer (pages.c) has each task create a userfaultfd,
 * takes it, registers the task's private anonymous VMAs and sends it with
 * the task's runs (address, pages, offset in its pages image) to the daemon
 * over a socket pair. The daemon, forked by restore before the tree, serves
 * faults from then on (injected syscalls may touch lazy memory), and starts
 * prefetching once restore says the tree runs. The guard -- restore itself,
 * or with -d a process it leaves behind -- holds a copy of every userfaultfd
 * and the tree's pidfds until the daemon reports every page home. It takes
 * its copies back from the daemon only once every task is rebuilt and
 * stopped: before, a daemon that died would leave restore waiting forever
 * for an injected syscall blocked on a fault; with the daemon alone holding
 * them, such a fault gets zeros instead, in a task restore then kills
 * (it finds the daemon gone) before it runs a single instruction.
 *
 * Why a guard: when the last reference to a userfaultfd goes, the kernel
 * unregisters its ranges and wakes the faulting threads, which then get
 * zero-filled pages where their memory was: silent corruption. While the
 * guard holds a copy, a daemon that dies leaves the faults blocked instead,
 * and the guard, seeing the socket close without "done", kills the tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "stream.h"
#include "syscalls.h"
#include "task.h"

#define LAZY_UFFD_FEATURES (UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | \
			    UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | \
			    UFFD_FEATURE_MISSING_SHMEM)
#define FAULT_PAGES	32	/* copied on a fault: the page and those after */
#define PREFETCH_PAGES	1024	/* copied between two looks at the faults,
				   by two threads */
#define UFFD_MSG_BATCH	64

enum lazy_msg_type {
	LAZY_TASK = 1,	/* restorer -> daemon: a uffd, then N runs */
	LAZY_HOLD,	/* restorer -> daemon: the guard's copies, please */
	LAZY_UFFD,	/* daemon -> guard: a copy of one uffd */
	LAZY_HELD,	/* daemon -> guard: that was all */
	LAZY_GO,	/* restorer -> daemon: the tree runs, prefetch */
	LAZY_FORK,	/* daemon -> guard: a forked child's uffd */
	LAZY_DONE,	/* daemon -> guard: every page is home */
};

/* LAZY_TASK: N runs follow, then N_CRC checksums of CRC_BLOCK bytes each */
struct lazy_msg {
	uint32_t type;
	int32_t pid;
	uint32_t pages_id;
	uint32_t crc_block;
	uint64_t n;
	uint64_t n_crc;
};

/* The restorer's and the guard's side. */
static struct {
	int sock;		/* to the daemon */
	pid_t daemon;
	int ours;		/* forked by us, not started by the user */
	int *uffds;		/* copies: see the guard above */
	size_t n_uffds;
	uint64_t pages;		/* left lazy */
} lz = { .sock = -1 };

static uint64_t page_size(void)
{
	return getpagesize();
}

/* The userfaultfd restore --lazy-pages needs, on the fd FD if >= 0. */
int lazy_uffd_api(int fd, uint64_t *have)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = LAZY_UFFD_FEATURES };
	int own = fd < 0, ret, err;

	if (own)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	ret = ioctl(fd, UFFDIO_API, &api);
	err = errno;
	if (ret && have) {
		/* ask again for nothing: what does it have? */
		struct uffdio_api probe = { .api = UFFD_API };
		int fd2 = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

		*have = 0;
		if (fd2 >= 0 && !ioctl(fd2, UFFDIO_API, &probe))
			*have = probe.features;
		if (fd2 >= 0)
			close(fd2);
	} else if (have) {
		*have = api.features;
	}
	if (own)
		close(fd);
	errno = err;
	return ret ? -1 : 0;
}

int lazy_probe(void)
{
	uint64_t have = 0;

	if (!lazy_uffd_api(-1, &have))
		return 0;
	if (errno == EPERM || errno == EACCES)
		pr_perror("restore --lazy-pages: userfaultfd for kernel-mode faults with fork/remap/remove/unmap events is refused (needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1)");
	else
		pr_perror("restore --lazy-pages: this kernel's userfaultfd lacks what lazy pages need (features %#" PRIx64 " of %#llx)",
			  have, (unsigned long long)LAZY_UFFD_FEATURES);
	return -1;
}

static int send_msg(int sock, const struct lazy_msg *m, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != sizeof(*m))
		return -1;
	return 0;
}

/* A whole message; *FD gets its descriptor (or -1). 0 at EOF, 1, -1. */
static int recv_msg(int sock, struct lazy_msg *m, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	n = recvmsg(sock, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);
	if (n == 0)
		return 0;
	if (n != sizeof(*m))
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 1;
}

/* LEN bytes from the socket, all of them: 0, or -1 (short, or an error) */
static int read_full(int fd, void *buf, size_t len)
{
	return stream_read_full(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* ------------------------------------------------------------ daemon */

/* A pages image, mapped whole: the source of every copy. */
struct lazy_img {
	int refs;
	int fd;
	char name[64];
	const unsigned char *map;
	size_t len;
	struct pages_crc crc;	/* a block is checked before its first copy */
};

/* A run as the daemon keeps it: BASE is its first page's bit. */
struct dmn_run {
	uint64_t vaddr, nr, off, base;
};

/* One address space with memory to fill, and its userfaultfd. */
struct lazy_mm {
	int uffd;
	pid_t pid;		/* the image's, or the forking parent's */
	int forked;
	int dead;		/* exited or exec'd: nothing more to fill */
	struct lazy_img *img;
	struct dmn_run *runs;	/* by address */
	size_t n, cap;
	uint64_t *pending;	/* a bit per page of the runs: not home yet */
	uint64_t npages, left;
	size_t cur;		/* prefetch: the first run that may have some */
};

struct retry {
	struct lazy_mm *mm;
	uint64_t addr;
};

struct daemon {
	int sock, dirfd, go;
	struct lazy_mm **mms;
	size_t n_mms;
	struct retry *retry;
	size_t n_retry, cap_retry;
	size_t rr;		/* round robin of the prefetch */
	uint64_t faults, zero, fetched, t0;
};

static int bit_test(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static void bit_clear(uint64_t *bm, uint64_t i)
{
	bm[i / 64] &= ~(1ULL << (i % 64));
}

/* The first bit in [FROM, TO) equal to VAL, or TO. */
static uint64_t bit_find(const uint64_t *bm, uint64_t from, uint64_t to,
			 int val)
{
	while (from < to) {
		uint64_t w = bm[from / 64] ^ (val ? 0 : ~0ULL);

		w >>= from % 64;
		if (w) {
			from += __builtin_ctzll(w);
			return from < to ? from : to;
		}
		from = (from / 64 + 1) * 64;
	}
	return to;
}

/* Pages [I, I + N) of run R are home (or need not come). */
static void mark_home(struct lazy_mm *mm, const struct dmn_run *r, uint64_t i,
		      uint64_t n)
{
	for (; n; i++, n--)
		if (bit_test(mm->pending, r->base + i)) {
			bit_clear(mm->pending, r->base + i);
			mm->left--;
		}
}

/* The run holding ADDR, or NULL. */
static struct dmn_run *run_find(struct lazy_mm *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct dmn_run *r = &mm->runs[mid];

		if (addr < r->vaddr)
			hi = mid;
		else if (addr >= r->vaddr + r->nr * page_size())
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static struct lazy_img *img_map(int dirfd, unsigned int id)
{
	struct lazy_img *img = calloc(1, sizeof(*img));
	struct stat st;
	void *p;

	if (!img)
		return NULL;
	snprintf(img->name, sizeof(img->name), PAGES_IMG_FMT, id);
	img->fd = openat(dirfd, img->name, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0 || fstat(img->fd, &st)) {
		pr_perror("lazy-pages: can't open image %s", img->name);
		goto err;
	}
	p = mmap(NULL, st.st_size ? st.st_size : 1, PROT_READ, MAP_SHARED,
		 img->fd, 0);
	if (p == MAP_FAILED) {
		pr_perror("lazy-pages: can't map image %s", img->name);
		goto err;
	}
	img->map = p;
	img->len = st.st_size;
	img->refs = 1;
	return img;
err:
	if (img->fd >= 0)
		close(img->fd);
	free(img);
	return NULL;
}

static void img_put(struct lazy_img *img)
{
	if (--img->refs)
		return;
	munmap((void *)img->map, img->len ? img->len : 1);
	close(img->fd);
	pages_crc_free(&img->crc);
	free(img);
}

/* The checksums that follow the runs of a LAZY_TASK message. */
static int img_read_crcs(struct lazy_img *img, int sock,
			 const struct lazy_msg *m)
{
	PagemapHead head = PAGEMAP_HEAD__INIT;
	uint32_t *crcs = malloc((m->n_crc ? m->n_crc : 1) * sizeof(*crcs));
	int ret = -1;

	if (crcs && !read_full(sock, crcs, m->n_crc * sizeof(*crcs))) {
		head.crc_block = m->crc_block;
		head.n_crc32c = m->n_crc;
		head.crc32c = crcs;
		ret = pages_crc_init(&img->crc, &head, img->name,
				     img->len);
	}
	free(crcs);
	return ret;
}

static void mm_free(struct lazy_mm *mm)
{
	if (mm->uffd >= 0)
		close(mm->uffd);
	if (mm->img)
		img_put(mm->img);
	free(mm->runs);
	free(mm->pending);
	free(mm);
}

static int daemon_add_mm(struct daemon *d, struct lazy_mm *mm)
{
	struct lazy_mm **v = realloc(d->mms, (d->n_mms + 1) * sizeof(*v));

	if (!v) {
		pr_err("lazy-pages: out of memory for PID %d\n", mm->pid);
		return -1;
	}
	d->mms = v;
	d->mms[d->n_mms++] = mm;
	return 0;
}

static int pending_alloc(struct lazy_mm *mm)
{
	uint64_t words = mm->npages / 64 + 1;

	mm->pending = malloc(words * sizeof(uint64_t));
	if (!mm->pending)
		return -1;
	memset(mm->pending, 0xff, words * sizeof(uint64_t));
	mm->left = mm->npages;
	return 0;
}

/* LAZY_TASK: the uffd, then the runs, which must lie in the image. */
static int daemon_task(struct daemon *d, const struct lazy_msg *m, int uffd)
{
	struct lazy_mm *mm = calloc(1, sizeof(*mm));
	struct lazy_run *in = NULL;
	uint64_t page = page_size(), i;

	if (!mm || uffd < 0) {
		pr_err("lazy-pages: bad task message for PID %d\n", m->pid);
		free(mm);
		return -1;
	}
	mm->uffd = uffd;
	mm->pid = m->pid;
	mm->img = img_map(d->dirfd, m->pages_id);
	in = malloc((m->n ? m->n : 1) * sizeof(*in));
	mm->runs = malloc((m->n ? m->n : 1) * sizeof(*mm->runs));
	if (!mm->img || !in || !mm->runs ||
	    read_full(d->sock, in, m->n * sizeof(*in)) ||
	    img_read_crcs(mm->img, d->sock, m))
		goto err;
	for (i = 0; i < m->n; i++) {
		if (in[i].off + in[i].nr * page > mm->img->len) {
			pr_err("lazy-pages: PID %d: run %#" PRIx64 " is past the end of its pages image\n",
			       m->pid, in[i].vaddr);
			goto err;
		}
		mm->runs[i] = (struct dmn_run){ in[i].vaddr, in[i].nr,
						in[i].off, mm->npages };
		mm->npages += in[i].nr;
	}
	mm->n = mm->cap = m->n;
	free(in);
	in = NULL;
	if (pending_alloc(mm) || daemon_add_mm(d, mm))
		goto err;
	pr_debug("lazy-pages: PID %d: %" PRIu64 " pages in %zu runs\n", mm->pid,
		 mm->npages, mm->n);
	return 0;
err:
	free(in);
	mm_free(mm);
	return -1;
}

static void wake(struct lazy_mm *mm, uint64_t addr)
{
	struct uffdio_range r = { .start = addr, .len = page_size() };

	ioctl(mm->uffd, UFFDIO_WAKE, &r);
}

/* One UFFDIO_COPY: what it was asked, and what came of it. */
struct copy_try {
	struct lazy_mm *mm;
	struct dmn_run *r;
	uint64_t i, n;			/* pages of R */
	uint64_t copied;		/* pages */
	int err;			/* 0, an errno, or -1: corrupted */
};

/* Checksum, then copy: nothing else, so that two threads can do it. */
static void copy_try(struct copy_try *t)
{
	struct lazy_mm *mm = t->mm;
	uint64_t page = page_size();
	struct uffdio_copy c = {
		.dst = t->r->vaddr + t->i * page,
		.src = (uint64_t)(uintptr_t)(mm->img->map + t->r->off +
					     t->i * page),
		.len = t->n * page,
	};

	t->copied = 0;
	t->err = 0;
	/* corrupted: the task must not run on with it (the guard kills it) */
	if (pages_crc_check(&mm->img->crc, mm->img->fd, mm->img->map, 0,
			    mm->img->name, t->r->off + t->i * page,
			    t->n * page)) {
		t->err = -1;
		return;
	}
	if (!ioctl(mm->uffd, UFFDIO_COPY, &c)) {
		t->copied = t->n;
		return;
	}
	t->err = errno;
	if (c.copy > 0)
		t->copied = c.copy / page;
}

static int copy_pages(struct daemon *d, struct lazy_mm *mm, struct dmn_run *r,
		      uint64_t i, uint64_t n);

/* What the copy T did: 0, 1 (EAGAIN) or -1, as copy_pages() says. */
static int copy_done(struct daemon *d, struct copy_try *t)
{
	struct lazy_mm *mm = t->mm;
	struct dmn_run *r = t->r;
	uint64_t i = t->i;

	if (t->err < 0)
		return -1;
	mark_home(mm, r, i, t->copied);
	d->fetched += t->copied;
	switch (t->err) {
	case 0:
		return 0;
	case EAGAIN:
		return 1;
	case EEXIST:
		/* there already: filled by a fault or a copy before */
		i += t->copied;
		break;
	case ENOENT:
		/* across VMAs split (mprotect) since: less; one page: unmapped */
		if (t->n > 1)
			return copy_pages(d, mm, r, i, t->n / 2);
		break;
	case ESRCH:
		mm->dead = 1;
		return 0;
	default:
		errno = t->err;
		pr_perror("lazy-pages: PID %d%s: UFFDIO_COPY of %" PRIu64 " pages to %#" PRIx64,
			  mm->pid, mm->forked ? " (a child of)" : "", t->n,
			  r->vaddr + i * page_size());
		return -1;
	}
	/* page I needs nothing more: whoever waits on it may go on */
	mark_home(mm, r, i, 1);
	wake(mm, r->vaddr + i * page_size());
	return 0;
}

/*
 * UFFDIO_COPY N pages of run R from page I. 0: done or nothing to do (the
 * bits say what is home), 1: try again after the pending events (EAGAIN),
 * -1: a failure the task can't survive.
 */
static int copy_pages(struct daemon *d, struct lazy_mm *mm, struct dmn_run *r,
		      uint64_t i, uint64_t n)
{
	struct copy_try t = { mm, r, i, n, 0, 0 };

	copy_try(&t);
	return copy_done(d, &t);
}

static void *copy_thread(void *arg)
{
	copy_try(arg);
	return NULL;
}

/*
 * Prefetch: the same, two threads each copying a half (allocating the pages
 * is most of the cost, and goes as fast on two CPUs as on one each). The
 * cut is at a checksum block of the image, so the threads check no block
 * twice at once; what came of each is taken here, in order, one thread.
 */
static int copy_pages2(struct daemon *d, struct lazy_mm *mm,
		       struct dmn_run *r, uint64_t i, uint64_t n)
{
	uint64_t page = page_size(), unit = mm->img->crc.block / page, cut;
	uint64_t first = r->off / page + i;	/* in the image */
	struct copy_try a, b;
	pthread_t th;
	int ra, rb;

	if (!unit)
		unit = 1;
	cut = (first + n / 2) / unit * unit;
	cut = cut > first ? cut - first : 0;
	if (!cut || cut >= n)
		return copy_pages(d, mm, r, i, n);
	a = (struct copy_try){ mm, r, i, cut, 0, 0 };
	b = (struct copy_try){ mm, r, i + cut, n - cut, 0, 0 };
	if (pthread_create(&th, NULL, copy_thread, &b))
		return copy_pages(d, mm, r, i, n);
	copy_try(&a);
	pthread_join(th, NULL);
	ra = copy_done(d, &a);
	rb = copy_done(d, &b);
	return ra < 0 || rb < 0 ? -1 : ra > rb ? ra : rb;
}

/* A fault at ADDR: its page (and a few after) from the image, or zeros. */
static int serve_fault(struct daemon *d, struct lazy_mm *mm, uint64_t addr)
{
	struct dmn_run *r = run_find(mm, addr);
	struct uffdio_zeropage z = { .range = { .start = addr,
						.len = page_size() } };
	uint64_t i, end;

	if (r && bit_test(mm->pending, r->base + (addr - r->vaddr) / page_size())) {
		i = (addr - r->vaddr) / page_size();
		end = i + FAULT_PAGES < r->nr ? i + FAULT_PAGES : r->nr;
		end = bit_find(mm->pending, r->base + i, r->base + end, 0) - r->base;
		d->faults++;
		return copy_pages(d, mm, r, i, end - i);
	}
	/* a hole, or emptied since (MADV_DONTNEED): zeros, as it would be */
	if (!ioctl(mm->uffd, UFFDIO_ZEROPAGE, &z)) {
		d->zero++;
		return 0;
	}
	switch (errno) {
	case EAGAIN:
		return 1;
	case EEXIST:	/* a copy came first: it only needs waking */
	case ENOENT:	/* unmapped: the retry finds out */
		wake(mm, addr);
		return 0;
	case ESRCH:
		mm->dead = 1;
		return 0;
	}
	pr_perror("lazy-pages: PID %d: UFFDIO_ZEROPAGE at %#" PRIx64,
		  mm->pid, addr);
	return -1;
}

static int retry_add(struct daemon *d, struct lazy_mm *mm, uint64_t addr)
{
	if (d->n_retry == d->cap_retry) {
		size_t cap = d->cap_retry ? d->cap_retry * 2 : 64;
		struct retry *v = realloc(d->retry, cap * sizeof(*v));

		if (!v)
			return -1;
		d->retry = v;
		d->cap_retry = cap;
	}
	d->retry[d->n_retry++] = (struct retry){ mm, addr };
	return 0;
}

static int fault(struct daemon *d, struct lazy_mm *mm, uint64_t addr)
{
	int ret = serve_fault(d, mm, addr & ~(page_size() - 1));

	if (ret == 1)
		return retry_add(d, mm, addr);
	return ret;
}

/* Split the run at ADDR if ADDR falls inside one. */
static int run_split(struct lazy_mm *mm, uint64_t addr)
{
	struct dmn_run *r = run_find(mm, addr);
	uint64_t k;
	size_t at;

	if (!r || r->vaddr == addr)
		return 0;
	at = r - mm->runs;
	if (mm->n == mm->cap) {
		size_t cap = mm->cap * 2 + 4;
		struct dmn_run *v = realloc(mm->runs, cap * sizeof(*v));

		if (!v)
			return -1;
		mm->runs = v;
		mm->cap = cap;
	}
	r = mm->runs + at;
	k = (addr - r->vaddr) / page_size();
	memmove(r + 1, r, (mm->n - at) * sizeof(*r));
	mm->n++;
	r[1].vaddr = addr;
	r[1].nr = r->nr - k;
	r[1].off = r->off + k * page_size();
	r[1].base = r->base + k;
	r->nr = k;
	return 0;
}

static int run_cmp(const void *a, const void *b)
{
	const struct dmn_run *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* The task moved [FROM, FROM + LEN) to TO (mremap): so do its runs. */
static int remap(struct lazy_mm *mm, uint64_t from, uint64_t to, uint64_t len)
{
	size_t i;

	if (run_split(mm, from) || run_split(mm, from + len))
		return -1;
	for (i = 0; i < mm->n; i++)
		if (mm->runs[i].vaddr >= from && mm->runs[i].vaddr < from + len)
			mm->runs[i].vaddr += to - from;
	qsort(mm->runs, mm->n, sizeof(*mm->runs), run_cmp);
	mm->cur = 0;
	return 0;
}

/* [START, END) was unmapped or emptied: nothing of the image goes there. */
static void drop(struct lazy_mm *mm, uint64_t start, uint64_t end)
{
	uint64_t page = page_size();
	size_t i;

	for (i = 0; i < mm->n; i++) {
		struct dmn_run *r = &mm->runs[i];
		uint64_t s = r->vaddr > start ? r->vaddr : start;
		uint64_t e = r->vaddr + r->nr * page < end ?
			     r->vaddr + r->nr * page : end;

		if (s < e)
			mark_home(mm, r, (s - r->vaddr) / page, (e - s) / page);
	}
}

/* The child of a fork misses what its parent missed then. */
static int forked(struct daemon *d, struct lazy_mm *parent, int ufd)
{
	struct lazy_mm *mm = calloc(1, sizeof(*mm));
	uint64_t bytes = (parent->npages / 64 + 1) * sizeof(uint64_t);

	if (!mm)
		goto err;
	*mm = *parent;
	mm->uffd = ufd;
	mm->forked = 1;
	mm->cur = 0;
	mm->img->refs++;
	mm->runs = malloc(parent->cap * sizeof(*mm->runs));
	mm->pending = malloc(bytes);
	if (!mm->runs || !mm->pending) {
		mm_free(mm);
		goto err;
	}
	memcpy(mm->runs, parent->runs, parent->n * sizeof(*mm->runs));
	memcpy(mm->pending, parent->pending, bytes);
	/* the guard holds it too before the child can run a fault */
	if (send_msg(d->sock, &(struct lazy_msg){ .type = LAZY_FORK,
						  .pid = parent->pid }, ufd)) {
		pr_perror("lazy-pages: can't hand a child of PID %d to the guard",
			  parent->pid);
		mm_free(mm);
		return -1;
	}
	pr_debug("lazy-pages: PID %d forked, %" PRIu64 " pages still to come\n",
		 parent->pid, mm->left);
	return daemon_add_mm(d, mm);
err:
	pr_err("lazy-pages: out of memory for a child of PID %d\n", parent->pid);
	close(ufd);
	return -1;
}

static int event(struct daemon *d, struct lazy_mm *mm, const struct uffd_msg *m)
{
	if (m->event != UFFD_EVENT_PAGEFAULT)
		pr_debug("lazy-pages: PID %d%s: event %#x, %" PRIu64 " pages left\n",
			 mm->pid, mm->forked ? " (a child of)" : "", m->event,
			 mm->left);
	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		return fault(d, mm, m->arg.pagefault.address);
	case UFFD_EVENT_FORK:
		return forked(d, mm, m->arg.fork.ufd);
	case UFFD_EVENT_REMAP:
		return remap(mm, m->arg.remap.from, m->arg.remap.to,
			     m->arg.remap.len);
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		drop(mm, m->arg.remove.start, m->arg.remove.end);
		return 0;
	}
	pr_err("lazy-pages: PID %d: unknown userfaultfd event %u\n", mm->pid,
	       m->event);
	return -1;
}

/* Everything the uffd of MM has queued. */
static int drain(struct daemon *d, struct lazy_mm *mm)
{
	struct uffd_msg msgs[UFFD_MSG_BATCH];
	ssize_t n;
	int i;

	for (;;) {
		n = read(mm->uffd, msgs, sizeof(msgs));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0) {
			pr_perror("lazy-pages: PID %d: reading its userfaultfd",
				  mm->pid);
			return -1;
		}
		for (i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			if (event(d, mm, &msgs[i]))
				return -1;
		if (n < (ssize_t)sizeof(msgs))
			return 0;
	}
}

static int retry_all(struct daemon *d)
{
	size_t i, n = d->n_retry;

	d->n_retry = 0;
	for (i = 0; i < n; i++)
		if (!d->retry[i].mm->dead &&
		    fault(d, d->retry[i].mm, d->retry[i].addr))
			return -1;
	return 0;
}

/* One batch of pages not asked for yet, of the next mm that has some. */
static int prefetch(struct daemon *d)
{
	size_t k;

	for (k = 0; k < d->n_mms; k++) {
		struct lazy_mm *mm = d->mms[(d->rr + k) % d->n_mms];

		for (; !mm->dead && mm->left && mm->cur < mm->n; mm->cur++) {
			struct dmn_run *r = &mm->runs[mm->cur];
			uint64_t end = r->base + r->nr, i, j;

			i = bit_find(mm->pending, r->base, end, 1);
			if (i == end)
				continue;
			j = bit_find(mm->pending, i, i + PREFETCH_PAGES < end ?
					      i + PREFETCH_PAGES : end, 0);
			d->rr = (d->rr + k + 1) % d->n_mms;
			return copy_pages2(d, mm, r, i - r->base, j - i) < 0 ?
			       -1 : 0;
		}
		/* a remap may have put runs behind the cursor */
		if (!mm->dead && mm->left)
			mm->cur = 0;
	}
	return 0;
}

static uint64_t pages_left(const struct daemon *d)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < d->n_mms; i++)
		if (!d->mms[i]->dead)
			n += d->mms[i]->left;
	return n;
}

/* LAZY_HOLD: a copy of every uffd to the guard. */
static int send_copies(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->n_mms; i++)
		if (send_msg(d->sock, &(struct lazy_msg){ .type = LAZY_UFFD,
				.pid = d->mms[i]->pid }, d->mms[i]->uffd))
			goto err;
	if (!send_msg(d->sock, &(struct lazy_msg){ .type = LAZY_HELD }, -1))
		return 0;
err:
	pr_perror("lazy-pages: can't hand the userfaultfds to the guard");
	return -1;
}

/* The restorer's messages: 0 go on, 1 it is gone (aborted), -1. */
static int from_restorer(struct daemon *d)
{
	struct lazy_msg m;
	int fd, ret = recv_msg(d->sock, &m, &fd);

	if (ret <= 0)
		return ret ? -1 : 1;
	if (m.type == LAZY_GO) {
		d->go = 1;
		return 0;
	}
	if (m.type == LAZY_HOLD)
		return send_copies(d);
	if (m.type == LAZY_TASK)
		return daemon_task(d, &m, fd);
	pr_err("lazy-pages: unexpected message %u from restore\n", m.type);
	return -1;
}

static void reap_dead(struct daemon *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->n_retry; i++)
		if (!d->retry[i].mm->dead)
			d->retry[n++] = d->retry[i];
	d->n_retry = n;
	n = 0;
	for (i = 0; i < d->n_mms; i++) {
		if (d->mms[i]->dead) {
			mm_free(d->mms[i]);
			continue;
		}
		d->mms[n++] = d->mms[i];
	}
	d->n_mms = n;
}

static int serve_once(struct daemon *d, struct pollfd *pfd)
{
	size_t i, n = d->n_mms;	/* what PFD has room for: more may come */
	int timeout = -1, ret;

	if (d->n_retry)
		timeout = 1;
	if (d->go && pages_left(d) && !d->n_retry)
		timeout = 0;
	pfd[0] = (struct pollfd){ .fd = d->go ? -1 : d->sock, .events = POLLIN };
	for (i = 0; i < n; i++)
		pfd[i + 1] = (struct pollfd){ .fd = d->mms[i]->uffd,
					      .events = POLLIN };
	if (poll(pfd, n + 1, timeout) < 0 && errno != EINTR) {
		pr_perror("lazy-pages: poll");
		return -1;
	}
	if (pfd[0].revents) {
		ret = from_restorer(d);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++)
		if ((pfd[i + 1].revents & POLLIN) && drain(d, d->mms[i]))
			return -1;
	if (retry_all(d) || (d->go && prefetch(d)))
		return -1;
	reap_dead(d);
	return 0;
}

static int serve(struct daemon *d)
{
	struct pollfd *pfd = NULL;
	int ret = 0;

	while (!ret && (!d->go || pages_left(d) || d->n_retry)) {
		struct pollfd *p = realloc(pfd, (d->n_mms + 1) * sizeof(*p));

		if (!p) {
			ret = -1;
			break;
		}
		pfd = p;
		ret = serve_once(d, pfd);
	}
	free(pfd);
	return ret;
}

static void daemon_main(int sock, int dirfd)
{
	struct daemon d = { .sock = sock, .dirfd = dirfd, .t0 = now_us() };
	int nul = open("/dev/null", O_RDWR), ret;
	size_t i;

	/* no terminal's ^C: a dead daemon kills the tree */
	setsid();
	prctl(PR_SET_NAME, "criu-lite-lazy");
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		close(nul);
	}
	ret = serve(&d);
	if (ret == 1)
		_exit(0);	/* restore failed: it kills the tree */
	if (!ret) {
		pr_info("lazy-pages: every page is home after %.3f ms: %" PRIu64 " faults served from the images, %" PRIu64 " with zeros, %" PRIu64 " pages copied\n",
			(now_us() - d.t0) / 1e3, d.faults, d.zero, d.fetched);
		ret = send_msg(sock, &(struct lazy_msg){ .type = LAZY_DONE }, -1);
	}
	for (i = 0; i < d.n_mms; i++)
		mm_free(d.mms[i]);
	_exit(ret ? 1 : 0);
}

/* ----------------------------------------------------- restorer, guard */

/* PATH (@NAME: abstract) as a unix socket address. */
static int lazy_addr(const char *path, struct sockaddr_un *a, socklen_t *len)
{
	size_t n = strlen(path);

	*a = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (!n || n >= sizeof(a->sun_path)) {
		pr_err("--lazy-socket: \"%s\" is not a unix socket path (1 to %zu bytes)\n",
		       path, sizeof(a->sun_path) - 1);
		return -1;
	}
	memcpy(a->sun_path, path, n);
	if (path[0] == '@')
		a->sun_path[0] = '\0';
	*len = offsetof(struct sockaddr_un, sun_path) + n;
	return 0;
}

/* restore --lazy-socket: a daemon the user started (lazy-pages command). */
static int lazy_connect(const char *path)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred), alen;
	struct sockaddr_un a;

	if (lazy_addr(path, &a, &alen))
		return -1;
	lz.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lz.sock < 0 || connect(lz.sock, (struct sockaddr *)&a, alen) ||
	    getsockopt(lz.sock, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
		pr_perror("Can't reach a lazy-pages daemon at %s", path);
		return -1;
	}
	lz.daemon = cred.pid;
	pr_info("lazy-pages: daemon PID %d at %s\n", lz.daemon, path);
	return 0;
}

/* The lazy-pages command: serve the one restore that connects. */
int cr_lazy_pages(void)
{
	struct sockaddr_un a;
	socklen_t alen;
	int dirfd, lsk, sk;

	if (!opts.lazy_socket) {
		pr_err("lazy-pages needs the socket restore connects to: --lazy-socket SOCKET\n");
		return 1;
	}
	if (lazy_addr(opts.lazy_socket, &a, &alen))
		return 1;
	dirfd = open(opts.dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dirfd < 0) {
		pr_perror("Can't open the images directory %s", opts.dir);
		return 1;
	}
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&a, alen) || listen(lsk, 1)) {
		pr_perror("Can't listen on %s", opts.lazy_socket);
		return 1;
	}
	pr_info("lazy-pages: waiting for restore at %s\n", opts.lazy_socket);
	sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	if (sk < 0) {
		pr_perror("Can't accept restore at %s", opts.lazy_socket);
		return 1;
	}
	close(lsk);
	if (opts.lazy_socket[0] != '@')
		unlink(opts.lazy_socket);
	daemon_main(sk, dirfd);
	return 1;
}

int lazy_start(int dirfd)
{
	int sv[2];

	if (opts.lazy_socket)
		return lazy_connect(opts.lazy_socket);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("Can't create the lazy-pages socket pair");
		return -1;
	}
	lz.daemon = fork();
	if (lz.daemon < 0) {
		pr_perror("Can't fork the lazy-pages daemon");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (!lz.daemon) {
		close(sv[0]);
		daemon_main(sv[1], dirfd);
	}
	close(sv[1]);
	lz.sock = sv[0];
	lz.ours = 1;
	pr_info("lazy-pages: daemon PID %d\n", lz.daemon);
	return 0;
}

int lazy_set_add(struct lazy_set *s, uint64_t vaddr, uint64_t len,
		 uint64_t off)
{
	uint64_t page = page_size();
	struct lazy_run *last = s->n ? &s->v[s->n - 1] : NULL;

	if (last && last->vaddr + last->nr * page == vaddr &&
	    last->off + last->nr * page == off) {
		last->nr += len / page;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct lazy_run *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			pr_err("Out of memory for %zu lazy runs\n", cap);
			return -1;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct lazy_run){ vaddr, len / page, off };
	return 0;
}

static int keep_uffd(int uffd)
{
	int *v = realloc(lz.uffds, (lz.n_uffds + 1) * sizeof(*v));

	if (!v) {
		pr_err("Out of memory for the guard's userfaultfds\n");
		return -1;
	}
	lz.uffds = v;
	lz.uffds[lz.n_uffds++] = uffd;
	return 0;
}

/* T's runs and UFFD (ours: closed) to the daemon. */
int lazy_task_send(struct rst_task *t, int uffd, struct lazy_set *s,
		   const struct pages_crc *crc)
{
	struct lazy_msg m = { .type = LAZY_TASK, .pid = t->pid,
			      .pages_id = t->mm->pages_id, .n = s->n,
			      .crc_block = crc->block, .n_crc = crc->n };
	size_t i;
	int ret;

	for (i = 0; i < s->n; i++)
		lz.pages += s->v[i].nr;
	ret = send_msg(lz.sock, &m, uffd) ||
	      stream_write_full(lz.sock, s->v, s->n * sizeof(*s->v)) ||
	      stream_write_full(lz.sock, crc->crcs, crc->n * sizeof(*crc->crcs));
	if (ret)
		pr_perror("PID %d: can't hand its memory to the lazy-pages daemon",
			  t->pid);
	free(s->v);
	*s = (struct lazy_set){};
	close(uffd);
	pr_debug("PID %d: %zu runs left to the lazy-pages daemon\n", t->pid, i);
	return ret ? -1 : 0;
}

static void close_uffds(void)
{
	size_t i;

	for (i = 0; i < lz.n_uffds; i++)
		close(lz.uffds[i]);
	free(lz.uffds);
	lz.uffds = NULL;
	lz.n_uffds = 0;
}

/* Every task rebuilt and stopped: the guard takes its copies. */
int lazy_hold(void)
{
	struct lazy_msg m;
	int fd;

	if (send_msg(lz.sock, &(struct lazy_msg){ .type = LAZY_HOLD }, -1))
		goto gone;
	while (recv_msg(lz.sock, &m, &fd) == 1) {
		if (m.type == LAZY_HELD)
			return 0;
		if (m.type != LAZY_UFFD || fd < 0 || keep_uffd(fd)) {
			if (fd >= 0)
				close(fd);
			break;
		}
	}
gone:
	pr_err("The lazy-pages daemon (PID %d) is gone during the restore\n",
	       lz.daemon);
	return -1;
}

int lazy_go(void)
{
	pr_info("lazy-pages: %" PRIu64 " pages left to the daemon\n", lz.pages);
	if (send_msg(lz.sock, &(struct lazy_msg){ .type = LAZY_GO }, -1)) {
		pr_perror("Can't reach the lazy-pages daemon (PID %d)", lz.daemon);
		return -1;
	}
	return 0;
}

/* A failed restore: the daemon goes first, without a word. */
void lazy_abort(void)
{
	int status;

	if (lz.sock < 0)
		return;
	/* one the user started sees us go, and exits */
	if (lz.ours) {
		kill(lz.daemon, SIGKILL);
		waitpid(lz.daemon, &status, 0);
	}
	close(lz.sock);
	lz.sock = -1;
	close_uffds();
}

static void kill_below(pid_t pid, int depth)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d || depth > 64)
		goto out;
	while ((de = readdir(d))) {
		char name[300], buf[4096];
		pid_t *kids = NULL;
		ssize_t n;
		int i, nk;

		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "task/%s/children", de->d_name);
		n = proc_read_file_quiet(pid, name, buf, sizeof(buf) - 1);
		if (n <= 0)
			continue;
		buf[n] = 0;
		nk = proc_parse_pid_list(buf, &kids);
		for (i = 0; i < nk; i++) {
			kill_below(kids[i], depth + 1);
			kill(kids[i], SIGKILL);
		}
		free(kids);
	}
out:
	if (d)
		closedir(d);
}

/*
 * The daemon is gone before every page came: what is missing would read as
 * zeros once the last uffd closes. Kill the tree (and what it forked) while
 * the guard's copies still hold every fault.
 */
static void kill_tree(struct rst_tree *tree, const char *why)
{
	size_t i;

	pr_err("lazy-pages: the daemon (PID %d) %s before every page of the restored tree was home: killing the tree of PID %d (%zu processes) rather than let it read zeros where its memory was\n",
	       lz.daemon, why, tree->entries[0]->pid, tree->n_tasks);
	if (opts.pidns && tree->init_pidfd >= 0)
		sys_pidfd_send_signal(tree->init_pidfd, SIGKILL, NULL, 0);
	for (i = 0; i < tree->n_tasks; i++) {
		kill_below(tree->tasks[i].pid, 0);
		if (tree->tasks[i].pidfd >= 0)
			sys_pidfd_send_signal(tree->tasks[i].pidfd, SIGKILL,
					      NULL, 0);
	}
}

/*
 * Hold the uffds until the daemon says every page is home: 0. If it dies
 * first, kill the tree: LAZY_LOST_STATUS.
 */
int lazy_guard(struct rst_tree *tree)
{
	const char *why = "died";
	struct lazy_msg m;
	int fd, ret;

	for (;;) {
		ret = recv_msg(lz.sock, &m, &fd);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			break;
		if (m.type == LAZY_DONE) {
			pr_info("lazy-pages: every page is home\n");
			close_uffds();
			return 0;
		}
		if (m.type != LAZY_FORK || fd < 0 || keep_uffd(fd)) {
			why = "sent nonsense";
			break;
		}
	}
	if (ret < 0)
		why = "could not be heard";
	kill_tree(tree, why);
	/* they are dead or dying: nothing waits on a fault any more */
	close_uffds();
	return LAZY_LOST_STATUS;
}

/* restore -d: a guard of its own outlives restore. */
int lazy_guard_detached(struct rst_tree *tree)
{
	pid_t pid = fork();
	int nul;

	if (pid < 0) {
		pr_perror("Can't fork the lazy-pages guard");
		return -1;
	}
	if (pid) {
		pr_info("lazy-pages: guard PID %d\n", pid);
		close_uffds();
		close(lz.sock);
		lz.sock = -1;
		return 0;
	}
	setsid();
	prctl(PR_SET_NAME, "criu-lite-guard");
	nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		close(nul);
	}
	_exit(lazy_guard(tree) ? 1 : 0);
}

/* restore --lazy-pages without -d: wait for the daemon, reap it. */
int lazy_guard_wait(struct rst_tree *tree)
{
	int ret = lazy_guard(tree), status;

	if (lz.ours && waitpid(lz.daemon, &status, 0) == lz.daemon && ret &&
	    WIFSIGNALED(status))
		pr_err("lazy-pages: the daemon was killed by signal %d\n",
		       WTERMSIG(status));
	close(lz.sock);
	lz.sock = -1;
	return ret;
}
