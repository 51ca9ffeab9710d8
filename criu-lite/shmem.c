// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shared memory objects: what MAP_SHARED|MAP_ANONYMOUS ("/dev/zero
 * (deleted)" in maps) and memfd_create ("/memfd:NAME (deleted)") make. One
 * object may be mapped by several tasks of the tree and several times by one
 * task; it is dumped once, into shmem-ID.img and pages-shmem-ID.img, and
 * every mapping names it by ID (vma_entry.shm_id) and offset (pgoff).
 *
 * Dump reads the object itself, through /proc/PID/map_files of its first
 * mapping, and keeps the pages SEEK_DATA finds. The tasks' pagemaps would
 * miss pages of the object that no page table maps: those in swap (the
 * kernel clears the PTEs of swapped-out shmem pages) and those written
 * through a mapping since unmapped, or only by a child's never-faulted
 * inherited mapping.
 *
 * Restore creates every object in criu-lite itself, fills it with preadv
 * into its own mapping, and each task maps it by opening
 * /proc/<criu-lite>/map_files/<range> (an injected openat; needs
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE). Rather than creating it in the
 * first task that maps it: the object then lives until the whole tree is
 * rebuilt whatever part of it each task maps, the fill is a local copy with
 * no ptrace round trip, and both kinds take the same path; the mappings
 * still show the object's own name, inode and offsets. The cost: its pages
 * are charged to criu-lite's memory cgroup, not the tasks'.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "images.h"
#include "log.h"
#include "page-xfer.h"
#include "task.h"

#define SHM_COPY_BUF	(1u << 20)
#define MEMFD_PREFIX	"/memfd:"
#define DELETED_SUFFIX	" (deleted)"

/* Dump side */

struct shm_dump_obj {
	uint64_t dev, ino;
};

struct shm_dumper {
	int dirfd;
	struct shm_dump_obj *objs;
	size_t n, cap;
	struct shm_runs runs;
	unsigned char *buf;
	struct dump_stats *st;
	long page;
	pid_t pid;		/* the object being dumped, for messages */
	uint32_t id;
	struct crc32c_stream crc;	/* of its pages image */
};

/* Room for one more of N elements of SIZE bytes in *V, of *CAP. */
static int shm_grow(void *v, size_t *cap, size_t n, size_t size,
		    const char *what)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv;

	if (n < *cap)
		return 0;
	nv = realloc(*(void **)v, ncap * size);
	if (!nv) {
		pr_err("Out of memory for %zu %s\n", ncap, what);
		return -1;
	}
	*(void **)v = nv;
	*cap = ncap;
	return 0;
}

static int shm_add_run(struct shm_runs *runs, uint64_t off, uint64_t nr)
{
	if (shm_grow(&runs->v, &runs->cap, runs->n, sizeof(*runs->v),
		     "shared memory runs"))
		return -1;
	runs->v[runs->n++] = (struct page_run){ off, nr, 0 };
	return 0;
}

/* Read up to LEN bytes at OFF into the buffer, zeroes past EOF. */
static int shm_read(struct shm_dumper *sd, int fd, uint64_t off, size_t len)
{
	size_t done = 0;
	ssize_t n = 1;

	while (done < len && n) {
		n = pread(fd, sd->buf + done, len - done, off + done);
		if (n < 0) {
			pr_perror("PID %d: can't read shared memory object %u at offset %" PRIu64,
				  sd->pid, sd->id, off + done);
			return -1;
		}
		done += n;
	}
	memset(sd->buf + done, 0, len - done);
	return 0;
}

/* Copy [OFF, OFF + LEN) of the object; the last page is padded past EOF. */
static int shm_copy(struct shm_dumper *sd, int fd, struct page_xfer *out,
		    uint64_t off, uint64_t len)
{
	while (len) {
		size_t chunk = len < SHM_COPY_BUF ? len : SHM_COPY_BUF;
		struct iovec where = { (void *)(uintptr_t)off, chunk };

		if (shm_read(sd, fd, off, chunk))
			return -1;
		if (crc32c_stream_add(&sd->crc, sd->buf, chunk))
			return -1;
		if (page_xfer_write(out, &where, 1, sd->buf, chunk))
			return -1;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* Every run of pages the object holds (in memory or in swap). */
static int shm_dump_data(struct shm_dumper *sd, int fd, struct page_xfer *out,
			 uint64_t size)
{
	uint64_t mask = sd->page - 1;
	off_t off = 0, end;

	sd->runs.n = 0;
	while ((uint64_t)off < size) {
		off = lseek(fd, off, SEEK_DATA);
		if (off < 0 && errno == ENXIO)
			break;
		end = off < 0 ? -1 : lseek(fd, off, SEEK_HOLE);
		if (end < 0) {
			pr_perror("PID %d: can't find the pages of shared memory object %u",
				  sd->pid, sd->id);
			return -1;
		}
		off &= ~mask;
		end = (end + mask) & ~mask;
		/* pagemap_entry counts pages in 32 bits */
		if ((uint64_t)(end - off) / sd->page > UINT32_MAX)
			end = off + (uint64_t)UINT32_MAX * sd->page;
		if (shm_add_run(&sd->runs, off, (end - off) / sd->page) ||
		    shm_copy(sd, fd, out, off, end - off))
			return -1;
		off = end;
	}
	return 0;
}

static int shm_open_dump(pid_t pid, const VmaEntry *v, struct stat *st)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 pid, v->start, v->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("PID %d: can't open shared memory object %" PRIu64 " through %s",
			  pid, v->ino, path);
		return -1;
	}
	if (fstat(fd, st)) {
		pr_perror("PID %d: can't stat %s", pid, path);
		close(fd);
		return -1;
	}
	if (st->st_ino != v->ino) {
		pr_err("PID %d: %s is inode %lu, its maps line said %" PRIu64 "\n",
		       pid, path, (unsigned long)st->st_ino, v->ino);
		close(fd);
		return -1;
	}
	return fd;
}

/* The memfd's name: "/memfd:NAME (deleted)" in maps. */
static char *memfd_name(const char *path, char *buf, size_t size)
{
	size_t len = strlen(path) - strlen(MEMFD_PREFIX) - strlen(DELETED_SUFFIX);

	snprintf(buf, size, "%.*s", (int)len, path + strlen(MEMFD_PREFIX));
	return buf;
}

/* Object ID (1, 2 ...), written by the first mapping met (PID, V). */
static int shm_dump_one(struct shm_dumper *sd, pid_t pid, const VmaEntry *v,
			uint32_t id)
{
	ShmemEntry se = SHMEM_ENTRY__INIT;
	uint64_t t0 = now_us(), pages = 0, scanned;
	char name[64], mname[256];
	struct stat st;
	struct page_xfer out;
	int fd, ret = -1;
	size_t i;

	fd = shm_open_dump(pid, v, &st);
	if (fd < 0)
		return -1;
	sd->pid = pid;
	sd->id = id;
	sd->crc.n = sd->crc.fill = sd->crc.crc = 0;
	snprintf(name, sizeof(name), SHMEM_PAGES_IMG_FMT, id);
	if (page_xfer_open(&out, sd->dirfd, name)) {
		close(fd);
		return -1;
	}
	if (shm_dump_data(sd, fd, &out, st.st_size))
		goto out;
	for (i = 0; i < sd->runs.n; i++)
		pages += sd->runs.v[i].nr;
	se.id = id;
	se.kind = v->kind == VMA_KIND__VMA_ANON ? SHMEM_KIND__SHMEM_ANON :
						  SHMEM_KIND__SHMEM_MEMFD;
	if (se.kind == SHMEM_KIND__SHMEM_MEMFD)
		se.name = memfd_name(v->path, mname, sizeof(mname));
	se.size = st.st_size;
	se.nr_pages = pages;
	se.dev = v->dev;
	se.ino = v->ino;
	if (crc32c_stream_end(&sd->crc))
		goto out;
	se.has_crc_block = 1;
	se.crc_block = sd->crc.block;
	se.n_crc32c = sd->crc.n;
	se.crc32c = sd->crc.crcs;
	ret = pagemap_write(create_image(sd->dirfd, IMG_SHMEM, id), &se.base,
			    sd->runs.v, sd->runs.n);
	scanned = (st.st_size + sd->page - 1) / sd->page;
	sd->st->pages_scanned += scanned;
	sd->st->pages_skipped += scanned - pages;
	sd->st->pages_written += pages;
	sd->st->image_bytes += pages * sd->page;
	sd->st->memdump_us += now_us() - t0;
	pr_info("PID %d: shared memory object %u (inode %" PRIu64 ", %lld bytes): %" PRIu64 " pages in %zu runs\n",
		pid, id, v->ino, (long long)st.st_size, pages, sd->runs.n);
out:
	if (page_xfer_close(&out, !ret))
		ret = -1;
	close(fd);
	return ret;
}

/* The ID of the object a mapping shows; a new one is dumped at once. */
static int shm_dump_vma(struct shm_dumper *sd, pid_t pid, VmaEntry *v)
{
	size_t i;

	for (i = 0; i < sd->n; i++) {
		if (sd->objs[i].dev == v->dev && sd->objs[i].ino == v->ino) {
			v->shm_id = i + 1;
			return 0;
		}
	}
	if (shm_grow(&sd->objs, &sd->cap, sd->n, sizeof(*sd->objs),
		     "shared memory objects"))
		return -1;
	sd->objs[sd->n] = (struct shm_dump_obj){ v->dev, v->ino };
	v->shm_id = ++sd->n;
	return shm_dump_one(sd, pid, v, v->shm_id);
}

int shmem_dump(int dirfd, struct dump_tree *tree, struct dump_stats *st)
{
	struct shm_dumper sd = { .dirfd = dirfd, .st = st,
				 .page = getpagesize(),
				 .crc = { .block = PAGES_CRC_BLOCK } };
	int ret = 0;
	size_t i, j;

	sd.buf = malloc(SHM_COPY_BUF);
	if (!sd.buf) {
		pr_err("Out of memory for the shared memory dump\n");
		return -1;
	}
	for (i = 0; i < tree->n && !ret; i++) {
		struct dump_task *t = tree->tasks[i];

		for (j = 0; !t->zombie && j < t->mm->n_vmas && !ret; j++)
			if (t->mm->vmas[j]->has_shm_id)
				ret = shm_dump_vma(&sd, t->pid, t->mm->vmas[j]);
	}
	free(sd.buf);
	free(sd.objs);
	free(sd.runs.v);
	free(sd.crc.crcs);
	return ret;
}

/* Restore side */

static int shm_load_runs(struct cr_img *img, struct rst_shm *o)
{
	uint64_t page = getpagesize(), end = 0, total = 0;
	uint64_t limit = (o->e->size + page - 1) & ~(page - 1);
	ProtobufCMessage *msg;
	int ret;

	while ((ret = img_read_msg(img, &pagemap_entry__descriptor, &msg)) == 1) {
		PagemapEntry *pe = (PagemapEntry *)msg;
		uint64_t off = pe->vaddr, nr = pe->nr_pages;

		protobuf_c_message_free_unpacked(msg, NULL);
		if (!nr || off % page || off < end || off > limit ||
		    nr > (limit - off) / page) {
			pr_err("Image %s: run at %#" PRIx64 "+%" PRIu64 " pages is out of order or outside the %" PRIu64 "-byte object\n",
			       img->name, off, nr, o->e->size);
			return -1;
		}
		if (shm_add_run(&o->runs, off, nr))
			return -1;
		end = off + nr * page;
		total += nr;
	}
	if (!ret && total != o->e->nr_pages) {
		pr_err("Image %s: runs hold %" PRIu64 " pages, its head says %" PRIu64 "\n",
		       img->name, total, o->e->nr_pages);
		return -1;
	}
	return ret;
}

static int shm_check_pages(int dirfd, const struct rst_shm *o)
{
	uint64_t bytes = o->e->nr_pages * getpagesize();
	struct stat st;
	char name[64];

	snprintf(name, sizeof(name), SHMEM_PAGES_IMG_FMT, o->e->id);
	if (fstatat(dirfd, name, &st, 0)) {
		pr_perror("Can't find image %s", name);
		return -1;
	}
	if ((uint64_t)st.st_size != bytes) {
		pr_err("Image %s has %lld bytes, %" PRIu64 " were dumped: truncated or wrong\n",
		       name, (long long)st.st_size, bytes);
		return -1;
	}
	return pages_file_verify(dirfd, name, o->e->crc_block, o->e->crc32c,
				 o->e->n_crc32c);
}

static int shm_load_one(int dirfd, uint32_t id, struct rst_shm *o)
{
	struct cr_img *img = open_image(dirfd, IMG_SHMEM, id);
	ProtobufCMessage *msg;
	int ret = -1;

	if (!img)
		return -1;
	if (img_read_msg(img, &shmem_entry__descriptor, &msg) != 1) {
		pr_err("Image %s has no head\n", img->name);
		goto out;
	}
	o->e = (ShmemEntry *)msg;
	if (o->e->id != id || !o->e->size ||
	    (o->e->kind == SHMEM_KIND__SHMEM_MEMFD) != !!o->e->name) {
		pr_err("Image %s: object %u of %" PRIu64 " bytes, %s name, is not object %u\n",
		       img->name, o->e->id, o->e->size,
		       o->e->name ? "with a" : "without", id);
		goto out;
	}
	ret = shm_load_runs(img, o);
	if (!ret)
		ret = shm_check_pages(dirfd, o);
out:
	img_close(img);
	return ret;
}

/* The object of V: loaded, checked, and of the mapping's kind. */
static int shm_load_vma(struct rst_shm_table *shm, int dirfd, pid_t pid,
			const VmaEntry *v, size_t max_id)
{
	int want = v->kind == VMA_KIND__VMA_ANON ? SHMEM_KIND__SHMEM_ANON :
						   SHMEM_KIND__SHMEM_MEMFD;
	struct rst_shm *o;

	if (!v->shm_id || v->shm_id > max_id) {
		pr_err("PID %d: VMA %#" PRIx64 " names shared memory object %u, there are at most %zu\n",
		       pid, v->start, v->shm_id, max_id);
		return -1;
	}
	if (!shm->objs) {
		shm->objs = calloc(max_id, sizeof(*shm->objs));
		if (!shm->objs)
			return -1;
		shm->n = max_id;
	}
	o = &shm->objs[v->shm_id - 1];
	if (!o->e && shm_load_one(dirfd, v->shm_id, o))
		return -1;
	if ((int)o->e->kind != want) {
		pr_err("PID %d: VMA %#" PRIx64 " maps shared memory object %u of another kind\n",
		       pid, v->start, v->shm_id);
		return -1;
	}
	return 0;
}

int shmem_load(struct rst_tree *tree, int dirfd)
{
	size_t i, j, max_id = 0;

	/* IDs are 1, 2 ...: never more than the mappings */
	for (i = 0; i < tree->n_tasks; i++)
		max_id += tree->tasks[i].mm->n_vmas;
	for (i = 0; i < tree->n_tasks; i++) {
		const struct rst_task *t = &tree->tasks[i];

		for (j = 0; j < t->mm->n_vmas; j++) {
			const VmaEntry *v = t->mm->vmas[j];

			if (v->kind == VMA_KIND__VMA_ANON &&
			    !!(v->flags & MAP_SHARED) != !!v->has_shm_id) {
				pr_err("PID %d: VMA %#" PRIx64 ": shared anonymous memory needs a shared memory object, and only it\n",
				       t->pid, v->start);
				return -1;
			}
			if (v->has_shm_id &&
			    shm_load_vma(&tree->shm, dirfd, t->pid, v, max_id))
				return -1;
		}
	}
	return 0;
}

static int shm_map(struct rst_shm *o)
{
	const ShmemEntry *e = o->e;
	int fd = -1;

	o->len = (e->size + getpagesize() - 1) & ~((uint64_t)getpagesize() - 1);
	if (e->kind == SHMEM_KIND__SHMEM_MEMFD) {
		fd = memfd_create(e->name, MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, e->size)) {
			pr_perror("Can't create memfd %s of %" PRIu64 " bytes (object %u)",
				  e->name, e->size, e->id);
			goto err;
		}
	}
	o->addr = mmap(NULL, o->len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (o->addr == MAP_FAILED) {
		o->addr = NULL;
		pr_perror("Can't map shared memory object %u (%" PRIu64 " bytes)",
			  e->id, e->size);
		goto err;
	}
	if (fd >= 0)
		close(fd);
	return 0;
err:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int shm_fill(struct rst_shm_table *shm, struct rst_shm *o, int dirfd)
{
	uint64_t page = getpagesize(), img_off = 0;
	char name[64];
	size_t i;
	int fd;

	if (!o->runs.n)
		return 0;
	snprintf(name, sizeof(name), SHMEM_PAGES_IMG_FMT, o->e->id);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open image %s", name);
		return -1;
	}
	for (i = 0; i < o->runs.n; i++) {
		uint64_t done = 0, len = o->runs.v[i].nr * page;

		while (done < len) {
			ssize_t n = pread(fd, (char *)o->addr + o->runs.v[i].vaddr + done,
					  len - done, img_off + done);

			if (n <= 0) {
				pr_perror("Image %s: short read at %" PRIu64,
					  name, img_off + done);
				close(fd);
				return -1;
			}
			done += n;
		}
		img_off += len;
	}
	close(fd);
	shm->pages_restored += img_off / page;
	return 0;
}

int shmem_create(struct rst_tree *tree, int dirfd)
{
	struct rst_shm_table *shm = &tree->shm;
	uint64_t t0 = now_us();
	size_t i;

	shm->ctl = getpid();
	for (i = 0; i < shm->n; i++) {
		struct rst_shm *o = &shm->objs[i];

		if (o->e && (shm_map(o) || shm_fill(shm, o, dirfd)))
			return -1;
	}
	shm->memfill_us = now_us() - t0;
	return 0;
}

/* What a task opens to map object ID. */
int shmem_map_path(const struct rst_shm_table *shm, uint32_t id, char *buf,
		   size_t size)
{
	const struct rst_shm *o = id && id <= shm->n ? &shm->objs[id - 1] : NULL;

	if (!o || !o->addr) {
		pr_err("Shared memory object %u was not created\n", id);
		return -1;
	}
	snprintf(buf, size, "/proc/%d/map_files/%lx-%lx", shm->ctl,
		 (unsigned long)o->addr, (unsigned long)o->addr + o->len);
	return 0;
}

void shmem_release(struct rst_shm_table *shm)
{
	size_t i;

	for (i = 0; i < shm->n; i++) {
		struct rst_shm *o = &shm->objs[i];

		if (o->addr)
			munmap(o->addr, o->len);
		if (o->e)
			protobuf_c_message_free_unpacked(&o->e->base, NULL);
		free(o->runs.v);
	}
	free(shm->objs);
	shm->objs = NULL;
	shm->n = 0;
}
