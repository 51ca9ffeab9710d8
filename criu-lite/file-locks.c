// SPDX-License-Identifier: GPL-2.0-only
/*
 * Advisory file locks: flock(), POSIX record locks (fcntl F_SETLK) and open
 * file description locks (F_OFD_SETLK).
 *
 * Dump reads the "lock:" lines of /proc/PID/fdinfo/N. The kernel lists there
 * the locks taken through that description and owned by it (flock, OFD) or
 * by the reader's fd table (POSIX), so each lock is matched to its
 * description and owner without guessing from /proc/locks, where an OFD
 * lock has no PID and a flock has the PID of whoever took it. A flock or
 * OFD lock is recorded with the first fd of its description; a POSIX lock
 * once per process and description (every fd of it shows it).
 *
 * Restore: a flock or OFD lock belongs to the description, so criu-lite
 * takes it on its own copy as soon as it opened it; the tasks then share
 * the description, lock included. A POSIX lock belongs to the process: the
 * task takes it by an injected fcntl(F_SETLK) once its whole fd table is in
 * place (closing any fd of the file would drop it). Locks are taken without
 * waiting: one that someone else holds now fails the restore, naming it.
 *
 * Leases (F_SETLEASE) and mandatory locks are refused at dump. A lock that a
 * process outside the tree holds is not the tree's: it stays where it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"
#include "images.h"
#include "log.h"
#include "task.h"

/* Dump side */

struct posix_seen {
	pid_t pid;
	uint32_t id;
	uint64_t start, len;
	int write;
};

static struct {
	struct cr_img *img;
	struct posix_seen *seen;
	size_t n_seen;
} fld;

struct lock_ctx {
	const struct fd_dump_ctx *c;
	int first;
};

int file_locks_dump_start(int dirfd)
{
	fld.img = create_image(dirfd, IMG_FILE_LOCKS, 0);
	return fld.img ? 0 : -1;
}

int file_locks_dump_finish(void)
{
	int ret = fld.img ? img_close_write(fld.img) : 0;

	free(fld.seen);
	fld = (typeof(fld)){};
	return ret;
}

static const char *const lock_kind_names[] = {
	[FILE_LOCK_KIND__FILE_LOCK_FLOCK] = "FLOCK",
	[FILE_LOCK_KIND__FILE_LOCK_POSIX] = "POSIX",
	[FILE_LOCK_KIND__FILE_LOCK_OFD] = "OFDLCK",
};

/* The kind of a lock line, or 0 (refused, with a message). */
static int lock_kind(const struct fd_dump_ctx *c, const struct proc_lock *lk)
{
	size_t i;

	if (!strcmp(lk->kind, "LEASE") || !strcmp(lk->kind, "DELEG")) {
		pr_err("PID %d: fd %d (%s) holds a lease (F_SETLEASE), which criu-lite can't dump\n",
		       c->t->pid, c->fd, c->link);
		return 0;
	}
	if (strcmp(lk->mode, "ADVISORY")) {
		pr_err("PID %d: fd %d (%s) holds a %s %s lock, which criu-lite can't dump\n",
		       c->t->pid, c->fd, c->link, lk->mode, lk->kind);
		return 0;
	}
	for (i = 1; i < ARRAY_SIZE(lock_kind_names); i++)
		if (!strcmp(lk->kind, lock_kind_names[i]))
			return i;
	pr_err("PID %d: fd %d (%s) holds a lock of kind %s, which criu-lite can't dump\n",
	       c->t->pid, c->fd, c->link, lk->kind);
	return 0;
}

/* A process's POSIX lock shows on each of its fds of the description. */
static int posix_seen(const FileLockEntry *e)
{
	struct posix_seen *n;
	size_t i;

	for (i = 0; i < fld.n_seen; i++) {
		const struct posix_seen *s = &fld.seen[i];

		if (s->pid == (pid_t)e->pid && s->id == e->id &&
		    s->start == e->start && s->len == e->len &&
		    s->write == e->write)
			return 1;
	}
	n = realloc(fld.seen, (fld.n_seen + 1) * sizeof(*n));
	if (!n) {
		pr_err("Out of memory for %zu POSIX locks\n", fld.n_seen + 1);
		return -1;
	}
	fld.seen = n;
	n[fld.n_seen++] = (struct posix_seen){ e->pid, e->id, e->start, e->len,
					       e->write };
	return 0;
}

static int dump_one_lock(const struct proc_lock *lk, void *arg)
{
	const struct lock_ctx *lc = arg;
	const struct fd_dump_ctx *c = lc->c;
	FileLockEntry e = FILE_LOCK_ENTRY__INIT;
	int seen;

	e.kind = lock_kind(c, lk);
	if (!e.kind)
		return -1;
	if (strcmp(lk->type, "READ") && strcmp(lk->type, "WRITE")) {
		pr_err("PID %d: fd %d (%s) holds a %s lock of type %s, which criu-lite can't dump\n",
		       c->t->pid, c->fd, c->link, lk->kind, lk->type);
		return -1;
	}
	/* the description's own locks: once, with its first fd */
	if (e.kind != FILE_LOCK_KIND__FILE_LOCK_POSIX && !lc->first)
		return 0;
	e.write = !strcmp(lk->type, "WRITE");
	e.id = c->id;
	e.pid = c->t->pid;
	e.fd = c->fd;
	e.start = lk->start;
	e.len = lk->end == PROC_LOCK_EOF ? 0 : lk->end - lk->start + 1;
	if (e.kind == FILE_LOCK_KIND__FILE_LOCK_POSIX) {
		seen = posix_seen(&e);
		if (seen)
			return seen < 0 ? -1 : 0;
	}
	pr_debug("PID %d: fd %d (%s): %s %s lock %llu+%llu\n", c->t->pid,
		 c->fd, c->link, lk->kind, lk->type,
		 (unsigned long long)e.start, (unsigned long long)e.len);
	return img_write_msg(fld.img, &e.base);
}

int file_locks_dump_fd(const struct fd_dump_ctx *c, int first)
{
	struct lock_ctx lc = { c, first };

	return proc_parse_fd_locks(c->t->pid, c->fd, dump_one_lock, &lc);
}

/* Restore side */

static struct {
	FileLockEntry **v;
	size_t n;
} flr;

int file_locks_load(int dirfd)
{
	size_t i;

	if (!files_image_exists(dirfd, IMG_FILE_LOCKS))
		return 0;
	if (files_load_msgs(dirfd, IMG_FILE_LOCKS, &file_lock_entry__descriptor,
			    (void ***)&flr.v, &flr.n))
		return -1;
	for (i = 0; i < flr.n; i++)
		if (flr.v[i]->kind >= ARRAY_SIZE(lock_kind_names) ||
		    !lock_kind_names[flr.v[i]->kind]) {
			pr_err("Image file-locks.img: lock %zu is of unknown kind %d\n",
			       i, flr.v[i]->kind);
			return -1;
		}
	return 0;
}

static struct flock lock_flock(const FileLockEntry *e)
{
	return (struct flock){ .l_type = e->write ? F_WRLCK : F_RDLCK,
			       .l_whence = SEEK_SET, .l_start = e->start,
			       .l_len = e->len };
}

static void lock_failed(const FileLockEntry *e, pid_t holder, int fd, int err)
{
	char name[64], path[4096];
	ssize_t n;

	snprintf(name, sizeof(name), "/proc/%d/fd/%d", holder, fd);
	n = readlink(name, path, sizeof(path) - 1);
	path[n < 0 ? 0 : n] = '\0';
	errno = err;
	pr_perror("PID %u: fd %u: can't take its %s %s lock on %s (bytes %llu+%llu) back%s",
		  e->pid, e->fd, e->write ? "write" : "read",
		  lock_kind_names[e->kind], path,
		  (unsigned long long)e->start, (unsigned long long)e->len,
		  err == EAGAIN || err == EACCES ? ": someone else holds it now" : "");
}

int file_locks_restore_desc(uint32_t id, int fd)
{
	size_t i;

	for (i = 0; i < flr.n; i++) {
		const FileLockEntry *e = flr.v[i];
		struct flock f = lock_flock(e);
		int r;

		if (e->id != id || e->kind == FILE_LOCK_KIND__FILE_LOCK_POSIX)
			continue;
		if (e->kind == FILE_LOCK_KIND__FILE_LOCK_FLOCK)
			r = flock(fd, (e->write ? LOCK_EX : LOCK_SH) | LOCK_NB);
		else
			r = fcntl(fd, F_OFD_SETLK, &f);
		if (r) {
			lock_failed(e, getpid(), fd, errno);
			return -1;
		}
	}
	return 0;
}

int file_locks_restore_task(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < flr.n; i++) {
		const FileLockEntry *e = flr.v[i];
		struct flock f = lock_flock(e);
		uint64_t addr;
		long ret;

		if (e->pid != t->pe->pid ||
		    e->kind != FILE_LOCK_KIND__FILE_LOCK_POSIX)
			continue;
		addr = scratch_put(&t->remote, 0, &f, sizeof(f));
		if (!addr || remote_syscall(&t->remote, &ret, SYS_fcntl, e->fd,
					    F_SETLK, addr, 0, 0, 0))
			return -1;
		if (ret) {
			lock_failed(e, t->pid, e->fd, -ret);
			return -1;
		}
	}
	return 0;
}

void file_locks_release(void)
{
	size_t i;

	for (i = 0; i < flr.n; i++)
		protobuf_c_message_free_unpacked(&flr.v[i]->base, NULL);
	free(flr.v);
	flr.v = NULL;
	flr.n = 0;
}
