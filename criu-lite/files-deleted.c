// SPDX-License-Identifier: GPL-2.0-only
/*
 * Regular files unlinked while open ("/path (deleted)" in /proc/PID/fd).
 *
 * Dump: the contents go into deleted-files.img once per inode, whatever
 * number of descriptions, fds and tasks name it: the data runs between
 * holes (SEEK_DATA/SEEK_HOLE), streamed in chunks of CHUNK bytes read from a
 * read-only open of /proc/PID/fd/N (the task's own description may be
 * write-only, and must keep its offset). The reg-files.img entry keeps the
 * path the file had, its size, mode and owner, and the contents_id.
 *
 * Restore: each file is created again at its path (or, if someone took the
 * path since, at a temporary name in the same directory), unlinked at once,
 * then filled in one pass over the image and truncated to its size. So the
 * file is never on disk for longer than create-unlink, and a failed restore
 * leaves nothing. criu-lite holds it until the tree holds its descriptions,
 * each a new open of /proc/self/fd/N with the dumped flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "images.h"
#include "log.h"

#define DELETED_SUFFIX	" (deleted)"
#define CHUNK		(1u << 20)

int deleted_link(const char *link)
{
	size_t len = strlen(link), sfx = strlen(DELETED_SUFFIX);

	return len > sfx && !strcmp(link + len - sfx, DELETED_SUFFIX);
}

/* Dump side */

struct deleted_inode {
	dev_t dev;
	ino_t ino;
};

static struct {
	int dirfd;
	struct cr_img *img;		/* made at the first deleted file */
	struct deleted_inode *v;	/* by contents_id - 1 */
	size_t n;
	uint8_t *buf;
} dd = { .dirfd = -1 };

void deleted_dump_start(int dirfd)
{
	dd.dirfd = dirfd;
}

int deleted_dump_finish(void)
{
	int ret = dd.img ? img_close_write(dd.img) : 0;

	free(dd.v);
	free(dd.buf);
	dd = (typeof(dd)){ .dirfd = -1 };
	return ret;
}

/* LEN bytes from OFF, in chunks. */
static int stream_run(const struct fd_dump_ctx *c, int fd, uint32_t id,
		      off_t off, off_t len)
{
	DeletedFileChunk ch = DELETED_FILE_CHUNK__INIT;
	ssize_t n;

	ch.contents_id = id;
	while (len > 0) {
		n = pread(fd, dd.buf, len < CHUNK ? len : CHUNK, off);
		if (n <= 0) {
			/* shorter than st_size: truncated under us */
			if (n < 0)
				pr_perror("PID %d: fd %d: can't read %s at %lld",
					  c->t->pid, c->fd, c->link,
					  (long long)off);
			return n < 0 ? -1 : 0;
		}
		ch.offset = off;
		ch.data.data = dd.buf;
		ch.data.len = n;
		if (img_write_msg(dd.img, &ch.base))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* The data runs of the file up to SIZE; holes stay holes. */
static int stream_contents(const struct fd_dump_ctx *c, int fd, uint32_t id,
			   off_t size)
{
	off_t data, hole = 0;

	while (hole < size) {
		data = lseek(fd, hole, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return 0;
		if (data < 0) {
			pr_perror("PID %d: fd %d: SEEK_DATA in %s", c->t->pid,
				  c->fd, c->link);
			return -1;
		}
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			pr_perror("PID %d: fd %d: SEEK_HOLE in %s", c->t->pid,
				  c->fd, c->link);
			return -1;
		}
		if (hole > size)
			hole = size;
		if (stream_run(c, fd, id, data, hole - data))
			return -1;
	}
	return 0;
}

static int dump_contents(const struct fd_dump_ctx *c, uint32_t id)
{
	struct deleted_inode *nv;
	char name[64];
	int fd, ret;

	if (!dd.img) {
		dd.img = create_image(dd.dirfd, IMG_DELETED_FILES, 0);
		dd.buf = malloc(CHUNK);
		if (!dd.img || !dd.buf) {
			pr_err("Can't start deleted-files.img\n");
			return -1;
		}
	}
	nv = realloc(dd.v, id * sizeof(*nv));
	if (!nv) {
		pr_err("Out of memory for %u deleted files\n", id);
		return -1;
	}
	dd.v = nv;
	dd.v[id - 1] = (struct deleted_inode){ c->st->st_dev, c->st->st_ino };
	dd.n = id;
	snprintf(name, sizeof(name), "/proc/%d/fd/%d", c->t->pid, c->fd);
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("PID %d: fd %d: can't open the deleted file %s to save it",
			  c->t->pid, c->fd, c->link);
		return -1;
	}
	ret = stream_contents(c, fd, id, c->st->st_size);
	close(fd);
	pr_debug("PID %d: fd %d: saved the deleted file %s (%lld bytes) as contents %u\n",
		 c->t->pid, c->fd, c->link, (long long)c->st->st_size, id);
	return ret;
}

/* Its contents_id: the inode's, saved once. PATH gets the path it had. */
int deleted_dump(const struct fd_dump_ctx *c, RegFileEntry *rf, char *path,
		 size_t size)
{
	size_t i;

	/* never linked anywhere: its "path" is no place to make it again */
	if (!strncmp(c->link, "/memfd:", 7)) {
		pr_err("PID %d: fd %d is a memfd (%s), which criu-lite can't dump yet\n",
		       c->t->pid, c->fd, c->link);
		return -1;
	}
	if (!S_ISREG(c->st->st_mode)) {
		pr_err("PID %d: fd %d is the deleted %s %s, which criu-lite can't dump\n",
		       c->t->pid, c->fd,
		       S_ISDIR(c->st->st_mode) ? "directory" : "device",
		       c->link);
		return -1;
	}
	snprintf(path, size, "%.*s",
		 (int)(strlen(c->link) - strlen(DELETED_SUFFIX)), c->link);
	rf->path = path;
	rf->has_contents_id = rf->has_uid = rf->has_gid = 1;
	rf->uid = c->st->st_uid;
	rf->gid = c->st->st_gid;
	for (i = 0; i < dd.n; i++)
		if (dd.v[i].dev == c->st->st_dev && dd.v[i].ino == c->st->st_ino) {
			rf->contents_id = i + 1;
			return 0;
		}
	rf->contents_id = dd.n + 1;
	return dump_contents(c, rf->contents_id);
}

/* Restore side */

struct rst_deleted {
	const RegFileEntry *rf;	/* the first description of the inode */
	pid_t pid;		/* ... and who holds it, for messages */
	uint32_t fd;
	int file;		/* criu-lite's recreated file, or -1 */
};

static struct {
	int dirfd;
	struct rst_deleted *v;	/* by contents_id - 1 */
	size_t n;
	int created;
} rd = { .dirfd = -1 };

int deleted_load(int dirfd, RegFileEntry *const *rf, size_t n)
{
	uint32_t max = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (rf[i]->has_contents_id && rf[i]->contents_id > max)
			max = rf[i]->contents_id;
	if (!max)
		return 0;
	if (!files_image_exists(dirfd, IMG_DELETED_FILES)) {
		pr_err("Image deleted-files.img is missing: the dump holds deleted files\n");
		return -1;
	}
	rd.v = calloc(max, sizeof(*rd.v));
	if (!rd.v) {
		pr_err("Out of memory for %u deleted files\n", max);
		return -1;
	}
	for (i = 0; i < max; i++)
		rd.v[i].file = -1;
	rd.n = max;
	rd.dirfd = dirfd;
	return 0;
}

int deleted_validate(const struct rst_task *t, const FdinfoEntry *fe,
		     const RegFileEntry *rf)
{
	char dir[PATH_MAX];
	struct rst_deleted *d;
	struct stat st;

	if (!rf->contents_id || rf->contents_id > rd.n || !S_ISREG(rf->mode)) {
		pr_err("PID %d: fd %u: the deleted file %s has no contents in the images\n",
		       t->pid, fe->fd, rf->path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", rf->path);
	dirname(dir);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("PID %d: fd %u: the deleted file %s can't be made again: no directory %s\n",
		       t->pid, fe->fd, rf->path, dir);
		return -1;
	}
	d = &rd.v[rf->contents_id - 1];
	if (!d->rf)
		*d = (struct rst_deleted){ rf, t->pid, fe->fd, -1 };
	return 0;
}

/* At its path, or at a free name next to it; unlinked at once. */
static int recreate(const struct rst_deleted *d)
{
	const RegFileEntry *rf = d->rf;
	char tmp[PATH_MAX];
	int fd;

	fd = open(rf->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		char dir[PATH_MAX], base[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", rf->path);
		snprintf(base, sizeof(base), "%s", rf->path);
		snprintf(tmp, sizeof(tmp), "%s/.%s.crlite-XXXXXX", dirname(dir),
			 basename(base));
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd >= 0)
			pr_warn("PID %d: fd %u: %s is taken: the deleted file comes back as %s (deleted)\n",
				d->pid, d->fd, rf->path, tmp);
	} else {
		snprintf(tmp, sizeof(tmp), "%s", rf->path);
	}
	if (fd < 0) {
		pr_perror("PID %d: fd %u: can't make the deleted file %s again",
			  d->pid, d->fd, rf->path);
		return -1;
	}
	if (unlink(tmp) || fchmod(fd, rf->mode & 07777) ||
	    (rf->has_uid && fchown(fd, rf->uid, rf->gid)) ||
	    ftruncate(fd, rf->size)) {
		pr_perror("PID %d: fd %u: can't set up the deleted file %s",
			  d->pid, d->fd, rf->path);
		unlink(tmp);
		close(fd);
		return -1;
	}
	return fd;
}

/* One pass over deleted-files.img, each chunk into its file. */
static int fill(void)
{
	struct cr_img *img = open_image(rd.dirfd, IMG_DELETED_FILES, 0);
	DeletedFileChunk *ch;
	int ret;

	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &deleted_file_chunk__descriptor,
				   (ProtobufCMessage **)&ch)) == 1) {
		const struct rst_deleted *d =
			ch->contents_id && ch->contents_id <= rd.n ?
			&rd.v[ch->contents_id - 1] : NULL;

		/* contents no fd of the tree refers to (say, --pidns of a part) */
		if (d && d->file >= 0 &&
		    pwrite(d->file, ch->data.data, ch->data.len, ch->offset) !=
		    (ssize_t)ch->data.len) {
			pr_perror("PID %d: fd %u: can't write the deleted file %s back",
				  d->pid, d->fd, d->rf->path);
			ret = -1;
		}
		protobuf_c_message_free_unpacked(&ch->base, NULL);
		if (ret < 0)
			break;
	}
	img_close(img);
	return ret;
}

static int recreate_all(void)
{
	size_t i;

	rd.created = 1;
	for (i = 0; i < rd.n; i++) {
		if (!rd.v[i].rf)
			continue;
		rd.v[i].file = recreate(&rd.v[i]);
		if (rd.v[i].file < 0)
			return -1;
	}
	return fill();
}

int deleted_open(const struct rst_task *t, const FdinfoEntry *fe,
		 const RegFileEntry *rf, int flags)
{
	char name[64];
	int fd;

	if (!rd.created && recreate_all())
		return -1;
	snprintf(name, sizeof(name), "/proc/self/fd/%d",
		 rd.v[rf->contents_id - 1].file);
	fd = open(name, flags | O_CLOEXEC);
	if (fd < 0)
		pr_perror("PID %d: can't reopen the deleted file %s for fd %u",
			  t->pid, rf->path, fe->fd);
	return fd;
}

void deleted_release(void)
{
	size_t i;

	for (i = 0; i < rd.n; i++)
		if (rd.v[i].file >= 0)
			close(rd.v[i].file);
	free(rd.v);
	rd = (typeof(rd)){ .dirfd = -1 };
}
