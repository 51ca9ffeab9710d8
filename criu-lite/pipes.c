// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pipes and FIFOs. Each open file description of one ("an end": its access
 * mode and status flags, O_NONBLOCK above all) is an entry of pipes.img,
 * referenced by id from the fd tables like any other description; each pipe
 * or FIFO is an entry of pipes-data.img: its capacity, the bytes queued in
 * it, and a FIFO's path.
 *
 * Dump reads the queued bytes without taking them: it opens a read end of
 * its own through /proc/PID/fd/N (even when the task holds only a write
 * end) and tee()s the pipe's buffers into a pipe of its own, as big, which
 * it then reads. The pipe keeps its data: --leave-running loses nothing.
 *
 * Restore creates each anonymous pipe in criu-lite (pipe2, F_SETPIPE_SZ,
 * the bytes written back in order) before any task runs; the first end of
 * each direction is the one pipe2() made, a further description of the
 * same direction is a new open of /proc/self/fd/N. A FIFO is opened by its
 * path, which must exist at restore as a FIFO; criu-lite holds it open
 * read-write while it opens the tasks' ends, so that no open blocks. If the
 * FIFO already holds data at restore, someone else has it open (the
 * original, under restore --pidns): they share that buffer, and the bytes
 * are not added a second time. The tasks then take the descriptions from
 * criu-lite like every other (files.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "images.h"
#include "log.h"
#include "task.h"

/* What F_SETFL sets on a pipe end and restore gives back. */
#define PIPE_STATUS_FLAGS	(O_NONBLOCK | O_DIRECT)

/* Dump side */

struct pipe_obj {
	dev_t dev;
	ino_t ino;
	pid_t pid;		/* the first holder, for messages */
	int fd;
	int fifo;
	int readers, writers;	/* ends of each direction in the tree */
};

struct pipes_dumper {
	struct cr_img *data;
	struct pipe_obj *v;
	size_t n, cap;
};

static struct pipes_dumper dp, *const pd = &dp;

static int pipes_match(const struct stat *st, const char *link)
{
	/* a FIFO by its path, or an anonymous pipe (pipe:[N]) */
	return S_ISFIFO(st->st_mode) &&
	       (link[0] == '/' || !strncmp(link, "pipe:", 5));
}

/* pipes.img: the ends, one per description (files.c opens it) */
static struct fd_image ends_image = { .kind = IMG_PIPES };

static int pipes_dump_start(int dirfd)
{
	pd->data = create_image(dirfd, IMG_PIPES_DATA, 0);
	return pd->data ? 0 : -1;
}

/* Everything queued in the pipe of PID's fd FD, read through a tee. */
static int pipe_peek(pid_t pid, int fd, const char *link, PipeDataEntry *pde)
{
	int src, p[2] = { -1, -1 }, queued, size, ret = -1;
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0) {
		pr_perror("PID %d: can't open fd %d (%s) to read what it holds",
			  pid, fd, link);
		return -1;
	}
	size = fcntl(src, F_GETPIPE_SZ);
	if (size < 0 || ioctl(src, FIONREAD, &queued)) {
		pr_perror("PID %d: fd %d (%s): F_GETPIPE_SZ/FIONREAD", pid, fd,
			  link);
		goto out;
	}
	pde->size = size;
	if (!queued) {
		ret = 0;
		goto out;
	}
	pde->data.data = malloc(queued);
	if (!pde->data.data) {
		pr_err("PID %d: out of memory for the %d bytes in fd %d (%s)\n",
		       pid, queued, fd, link);
		goto out;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) ||
	    fcntl(p[1], F_SETPIPE_SZ, size) < 0) {
		pr_perror("PID %d: fd %d (%s): can't make a %d-byte pipe to copy it",
			  pid, fd, link, size);
		goto out;
	}
	n = tee(src, p[1], queued, SPLICE_F_NONBLOCK);
	if (n != queued || read(p[0], pde->data.data, n) != n) {
		pr_perror("PID %d: fd %d (%s): copied %zd of its %d queued bytes",
			  pid, fd, link, n, queued);
		goto out;
	}
	pde->data.len = queued;
	ret = 0;
out:
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	close(src);
	return ret;
}

static int pipe_dump_data(pid_t pid, int fd,
			  const char *link, const struct stat *st)
{
	PipeDataEntry pde = PIPE_DATA_ENTRY__INIT;
	int ret;

	pde.pipe_id = pd->n;
	pde.ino = st->st_ino;
	if (link[0] == '/')
		pde.fifo = (char *)link;
	if (pipe_peek(pid, fd, link, &pde))
		ret = -1;
	else
		ret = img_write_msg(pd->data, &pde.base);
	free(pde.data.data);
	pr_debug("PID %d: fd %d: %s holds %zu bytes, capacity %u\n", pid, fd,
		 link, pde.data.len, pde.size);
	return ret;
}

/* The pipe of an fd: its index + 1, dumped with its data on first sight. */
static int pipe_find(pid_t pid, int fd,
		     const char *link, const struct stat *st)
{
	struct pipe_obj *o;
	size_t i;

	for (i = 0; i < pd->n; i++)
		if (pd->v[i].dev == st->st_dev && pd->v[i].ino == st->st_ino)
			return i + 1;
	if (pd->n == pd->cap) {
		size_t cap = pd->cap ? pd->cap * 2 : 16;

		o = realloc(pd->v, cap * sizeof(*o));
		if (!o) {
			pr_err("Out of memory for %zu pipes\n", cap);
			return -1;
		}
		pd->v = o;
		pd->cap = cap;
	}
	pd->n++;
	if (pipe_dump_data(pid, fd, link, st))
		return -1;
	pd->v[pd->n - 1] = (struct pipe_obj){ st->st_dev, st->st_ino, pid, fd,
					      link[0] == '/', 0, 0 };
	return pd->n;
}

/* A new description of a pipe or FIFO. */
static int pipes_dump_end(const struct fd_dump_ctx *c)
{
	unsigned int flags = c->fi->flags & ~O_CLOEXEC;
	PipeEntry pe = PIPE_ENTRY__INIT;
	struct pipe_obj *o;
	int idx;

	idx = pipe_find(c->t->pid, c->fd, c->link, c->st);
	if (idx < 0)
		return -1;
	o = &pd->v[idx - 1];
	pe.id = c->id;
	pe.pipe_id = idx;
	pe.flags = flags;
	if ((flags & O_ACCMODE) != O_WRONLY)
		o->readers++;
	if ((flags & O_ACCMODE) != O_RDONLY)
		o->writers++;
	return fd_image_write(&ends_image, &pe.base);
}

/* A pipe with one direction outside the tree comes back without it. */
static void warn_half_pipes(void)
{
	size_t i;

	for (i = 0; i < pd->n; i++) {
		const struct pipe_obj *o = &pd->v[i];

		if (o->fifo || (o->readers && o->writers))
			continue;
		pr_warn("PID %d: fd %d: pipe:[%lu] has no %s end in the tree: after restore its %s\n",
			o->pid, o->fd, (unsigned long)o->ino,
			o->readers ? "write" : "read",
			o->readers ? "readers see end of file once its data is read" :
				     "writers get EPIPE");
	}
}

static int pipes_dump_finish(void)
{
	int ret;

	warn_half_pipes();
	ret = img_close_write(pd->data);
	free(pd->v);
	*pd = (struct pipes_dumper){};
	return ret ? -1 : 0;
}

/* Restore side */

struct rst_pipe {
	PipeDataEntry *e;
	int created;
	int r, w;		/* anonymous: pipe2()'s ends; FIFO: -1 */
	int anchor;		/* FIFO: criu-lite's read-write open */
	int used_r, used_w;	/* pipe2()'s end went to a description */
};

static struct {
	struct rst_pipe *pipes;	/* by pipe_id - 1 */
	size_t n_pipes;
} rp;

static int pipes_check_ids(void)
{
	size_t i;

	for (i = 0; i < rp.n_pipes; i++)
		if (rp.pipes[i].e->pipe_id != i + 1) {
			pr_err("Image pipes-data.img: entry %zu is pipe %u\n", i,
			       rp.pipes[i].e->pipe_id);
			return -1;
		}
	for (i = 0; i < ends_image.n; i++) {
		const PipeEntry *pe = (const PipeEntry *)ends_image.v[i];

		if (!pe->pipe_id || pe->pipe_id > rp.n_pipes) {
			pr_err("Image pipes.img: end %u is of pipe %u, which pipes-data.img does not have\n",
			       pe->id, pe->pipe_id);
			return -1;
		}
	}
	return 0;
}

/*
 * pipes-data.img, pipes.img being loaded (by id) before; a dump made before
 * pipes were dumped has neither.
 */
static int pipes_load(int dirfd)
{
	PipeDataEntry **data = NULL;
	size_t i;

	if (!files_image_exists(dirfd, IMG_PIPES))
		return 0;
	if (files_load_msgs(dirfd, IMG_PIPES_DATA, &pipe_data_entry__descriptor,
			    (void ***)&data, &rp.n_pipes))
		return -1;
	rp.pipes = calloc(rp.n_pipes + 1, sizeof(*rp.pipes));
	if (!rp.pipes) {
		pr_err("Out of memory for %zu pipes\n", rp.n_pipes);
		return -1;
	}
	for (i = 0; i < rp.n_pipes; i++)
		rp.pipes[i] = (struct rst_pipe){ data[i], 0, -1, -1, -1, 0, 0 };
	free(data);
	return pipes_check_ids();
}

static const PipeEntry *end_find(uint32_t id)
{
	return fd_image_find(&ends_image, id);
}

static const char *pipes_name(uint32_t id, char *buf, size_t size)
{
	const PipeEntry *pe = end_find(id);
	const PipeDataEntry *e;

	if (!pe)
		return "pipe:[?]";
	e = rp.pipes[pe->pipe_id - 1].e;
	if (e->fifo)
		return e->fifo;
	snprintf(buf, size, "pipe:[%llu]", (unsigned long long)e->ino);
	return buf;
}

static int pipes_validate(const struct rst_task *t, const FdinfoEntry *fe)
{
	const PipeEntry *pe = end_find(fe->id);	/* kind_validate() found it */
	const PipeDataEntry *e;
	struct stat st;

	e = rp.pipes[pe->pipe_id - 1].e;
	if (e->data.len > e->size) {
		pr_err("Image pipes-data.img: pipe %u holds %zu bytes, more than its capacity %u\n",
		       e->pipe_id, e->data.len, e->size);
		return -1;
	}
	if (!e->fifo)
		return 0;
	if (stat(e->fifo, &st)) {
		pr_perror("PID %d: fd %u: the FIFO %s must exist at restore",
			  t->pid, fe->fd, e->fifo);
		return -1;
	}
	if (!S_ISFIFO(st.st_mode)) {
		pr_err("PID %d: fd %u: %s is no longer a FIFO\n", t->pid, fe->fd,
		       e->fifo);
		return -1;
	}
	return 0;
}

static int pipe_fill(const struct rst_task *t, struct rst_pipe *p, int wfd,
		     const char *name)
{
	const PipeDataEntry *e = p->e;
	int cur = fcntl(wfd, F_GETPIPE_SZ);
	ssize_t n;

	if (cur != (int)e->size && fcntl(wfd, F_SETPIPE_SZ, e->size) < 0) {
		pr_perror("PID %d: can't make %s %u bytes big (F_SETPIPE_SZ)",
			  t->pid, name, e->size);
		return -1;
	}
	if (!e->data.len)
		return 0;
	n = write(wfd, e->data.data, e->data.len);
	if (n != (ssize_t)e->data.len) {
		pr_perror("PID %d: can't put back the %zu bytes %s held (%zd written)",
			  t->pid, e->data.len, name, n);
		return -1;
	}
	return 0;
}

static int fifo_create(const struct rst_task *t, struct rst_pipe *p)
{
	const char *path = p->e->fifo;
	int queued = 0;

	p->anchor = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (p->anchor < 0) {
		pr_perror("PID %d: can't open the FIFO %s", t->pid, path);
		return -1;
	}
	if (ioctl(p->anchor, FIONREAD, &queued) == 0 && queued) {
		pr_warn("PID %d: the FIFO %s already holds %d bytes: someone else has it open; its %zu dumped bytes are not added\n",
			t->pid, path, queued, p->e->data.len);
		return 0;
	}
	return pipe_fill(t, p, p->anchor, path);
}

static int pipe_create(const struct rst_task *t, struct rst_pipe *p)
{
	int fds[2];
	char name[64];

	snprintf(name, sizeof(name), "pipe:[%llu]",
		 (unsigned long long)p->e->ino);
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK)) {
		pr_perror("PID %d: can't create %s", t->pid, name);
		return -1;
	}
	p->r = fds[0];
	p->w = fds[1];
	return pipe_fill(t, p, p->w, name);
}

/* A new description of anonymous pipe P with access mode ACC. */
static int pipe_end_open(const struct rst_task *t, struct rst_pipe *p, int acc)
{
	char path[64];
	int fd;

	if (acc == O_RDONLY && !p->used_r++)
		return fcntl(p->r, F_DUPFD_CLOEXEC, 0);
	if (acc == O_WRONLY && !p->used_w++)
		return fcntl(p->w, F_DUPFD_CLOEXEC, 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->r);
	fd = open(path, acc | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		pr_perror("PID %d: can't open another end of pipe:[%llu]",
			  t->pid, (unsigned long long)p->e->ino);
	return fd;
}

/* criu-lite's copy of FE's description, the pipe made on first use. */
static int pipes_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	const PipeEntry *pe = end_find(fe->id);
	struct rst_pipe *p = &rp.pipes[pe->pipe_id - 1];
	int acc = pe->flags & O_ACCMODE, fd;

	if (!p->created) {
		p->created = 1;
		if (p->e->fifo ? fifo_create(t, p) : pipe_create(t, p))
			return -1;
	}
	if (p->e->fifo) {
		fd = open(p->e->fifo, acc | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			pr_perror("PID %d: can't reopen the FIFO %s for fd %u",
				  t->pid, p->e->fifo, fe->fd);
	} else {
		fd = pipe_end_open(t, p, acc);
	}
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFL, pe->flags & PIPE_STATUS_FLAGS)) {
		pr_perror("PID %d: can't set the flags %#o of fd %u", t->pid,
			  pe->flags, fe->fd);
		close(fd);
		return -1;
	}
	return fd;
}

static void pipes_release(void)
{
	size_t i;

	for (i = 0; i < rp.n_pipes; i++) {
		struct rst_pipe *p = &rp.pipes[i];

		if (p->r >= 0)
			close(p->r);
		if (p->w >= 0)
			close(p->w);
		if (p->anchor >= 0)
			close(p->anchor);
		p->r = p->w = p->anchor = -1;
	}
}

const struct fd_kind pipe_kind = {
	.type = FD_TYPE__FD_PIPE,
	.name = "pipe",
	.image = &ends_image,
	.match = pipes_match,
	.dump_start = pipes_dump_start,
	.dump = pipes_dump_end,
	.dump_finish = pipes_dump_finish,
	.load = pipes_load,
	.validate = pipes_validate,
	.open = pipes_open,
	.describe = pipes_name,
	.release = pipes_release,
};
