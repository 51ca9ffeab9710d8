// SPDX-License-Identifier: GPL-2.0-only
/*
 * inotify: every watch with its number (wd), mask and the path of what it
 * watches. fdinfo gives a watch's inode as a file handle; dump opens it
 * with open_by_handle_at() on a mount of its device and reads the path
 * back, so a watch comes back on what has that path at restore (checked
 * against the inode it had). Events queued at dump are not dumped: reading
 * them would take them from the running task.
 *
 * Restore adds the watches in increasing wd order to a new instance.
 * inotify hands out wds in increasing order, never reusing one, so a wd
 * that was removed before the dump is skipped by adding a watch and
 * removing it again; the IN_IGNORED events that leaves queued are read
 * away before any task holds the instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "log.h"

static struct fd_image inotify_image = { .kind = IMG_INOTIFY };

/* The path of what watch W watches, through its file handle. */
static int wd_path(const struct fd_dump_ctx *c,
		   const struct proc_inotify_wd *w, char *path, size_t size)
{
	struct file_handle *fh = NULL;
	char mnt[PATH_MAX], link[64];
	int mfd = -1, fd = -1, ret = -1;
	ssize_t n;

	if (!w->handle_bytes) {
		pr_err("PID %d: inotify fd %d: watch %d (inode %#" PRIx64 ") has no file handle to find its path by\n",
		       c->t->pid, c->fd, w->wd, w->ino);
		return -1;
	}
	if (proc_mount_of_dev(getpid(), w->sdev >> 20, w->sdev & 0xfffff,
			      mnt, sizeof(mnt)))
		goto out;
	/* open_by_handle_at() takes no O_PATH fd for the mount */
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fh = malloc(sizeof(*fh) + w->handle_bytes);
	if (mfd < 0 || !fh) {
		pr_perror("PID %d: inotify fd %d: can't open %s, the mount of watch %d",
			  c->t->pid, c->fd, mnt, w->wd);
		goto out;
	}
	fh->handle_bytes = w->handle_bytes;
	fh->handle_type = w->handle_type;
	memcpy(fh->f_handle, w->handle, w->handle_bytes);
	fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("PID %d: inotify fd %d: can't open what watch %d watches (inode %#" PRIx64 " on %s)",
			  c->t->pid, c->fd, w->wd, w->ino, mnt);
		goto out;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, size - 1);
	if (n < 0) {
		pr_perror("PID %d: inotify fd %d: can't read the path of watch %d",
			  c->t->pid, c->fd, w->wd);
		goto out;
	}
	path[n] = 0;
	if (strstr(path, " (deleted)") || path[0] != '/') {
		pr_err("PID %d: inotify fd %d: watch %d watches %s, which has no path to restore it by\n",
		       c->t->pid, c->fd, w->wd, path);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (mfd >= 0)
		close(mfd);
	free(fh);
	return ret;
}

static void warn_queued(const struct fd_dump_ctx *c)
{
	int fd = fd_dump_take(c), queued = 0;

	if (fd < 0)
		return;
	if (!ioctl(fd, FIONREAD, &queued) && queued)
		pr_warn("PID %d: inotify fd %d: the %d bytes of events queued are not dumped\n",
			c->t->pid, c->fd, queued);
	close(fd);
}

static int cmp_wd(const void *a, const void *b)
{
	return ((const struct proc_inotify_wd *)a)->wd -
	       ((const struct proc_inotify_wd *)b)->wd;
}

static int wds_fill(const struct fd_dump_ctx *c, struct proc_inotify_wd *v,
		    int n, InotifyWdEntry *we, char (*paths)[PATH_MAX])
{
	int i;

	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_wd);
	for (i = 0; i < n; i++) {
		if (wd_path(c, &v[i], paths[i], PATH_MAX))
			return -1;
		inotify_wd_entry__init(&we[i]);
		we[i].wd = v[i].wd;
		we[i].mask = v[i].mask;
		we[i].ignored_mask = v[i].ignored_mask;
		we[i].path = paths[i];
		we[i].ino = v[i].ino;
		we[i].sdev = v[i].sdev;
		pr_debug("PID %d: inotify fd %d: wd %d mask %#x %s\n",
			 c->t->pid, c->fd, v[i].wd, v[i].mask, paths[i]);
	}
	return 0;
}

static int inotify_dump(const struct fd_dump_ctx *c)
{
	InotifyEntry e = INOTIFY_ENTRY__INIT;
	struct proc_inotify_wd *v;
	InotifyWdEntry *we = NULL, **wp = NULL;
	char (*paths)[PATH_MAX] = NULL;
	int n, i, ret = -1;

	n = proc_fdinfo_inotify(c->t->pid, c->fd, &v);
	if (n < 0) {
		pr_err("PID %d: can't read the watches of inotify fd %d\n",
		       c->t->pid, c->fd);
		return -1;
	}
	we = calloc(n + 1, sizeof(*we));
	wp = calloc(n + 1, sizeof(*wp));
	paths = calloc(n + 1, sizeof(*paths));
	if (!we || !wp || !paths) {
		pr_err("PID %d: out of memory for the %d watches of inotify fd %d\n",
		       c->t->pid, n, c->fd);
		goto out;
	}
	if (wds_fill(c, v, n, we, paths))
		goto out;
	warn_queued(c);
	for (i = 0; i < n; i++)
		wp[i] = &we[i];
	e.id = c->id;
	e.flags = c->fi->flags & ~O_CLOEXEC;
	e.n_wds = n;
	e.wds = wp;
	ret = fd_image_write(&inotify_image, &e.base);
out:
	free(paths);
	free(wp);
	free(we);
	free(v);
	return ret;
}

static int inotify_validate(const struct rst_task *t, const FdinfoEntry *fe)
{
	const InotifyEntry *e = fd_image_find(&inotify_image, fe->id);
	struct stat st;
	size_t i;

	for (i = 0; i < e->n_wds; i++) {
		const InotifyWdEntry *w = e->wds[i];

		if (stat(w->path, &st)) {
			pr_perror("PID %d: fd %u: can't find %s, which inotify watch %u watched",
				  t->pid, fe->fd, w->path, w->wd);
			return -1;
		}
		if (st.st_ino != w->ino)
			pr_warn("PID %d: fd %u: %s, which inotify watch %u watched, is another file now\n",
				t->pid, fe->fd, w->path, w->wd);
	}
	return 0;
}

/* Watch W added to FD as its own wd, skipping the numbers below it. */
static int wd_add(const struct rst_task *t, int fd, const InotifyWdEntry *w,
		  int *skipped)
{
	uint32_t mask = w->mask & ~(IN_MASK_ADD | IN_MASK_CREATE);
	int got;

	for (;;) {
		got = inotify_add_watch(fd, w->path, mask);
		if (got < 0) {
			pr_perror("PID %d: can't add inotify watch %u on %s (mask %#x)",
				  t->pid, w->wd, w->path, mask);
			return -1;
		}
		if ((uint32_t)got == w->wd)
			return 0;
		if ((uint32_t)got > w->wd) {
			pr_err("PID %d: inotify watch %u on %s came back as %d\n",
			       t->pid, w->wd, w->path, got);
			return -1;
		}
		inotify_rm_watch(fd, got);
		*skipped = 1;
	}
}

/* The IN_IGNORED events of the watches added and removed again. */
static int drain(const struct rst_task *t, const FdinfoEntry *fe, int fd)
{
	char buf[4096];
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		pr_perror("PID %d: inotify fd %u: F_SETFL", t->pid, fe->fd);
		return -1;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (errno != EAGAIN || fcntl(fd, F_SETFL, fl)) {
		pr_perror("PID %d: inotify fd %u: can't read the events of skipped watches",
			  t->pid, fe->fd);
		return -1;
	}
	return 0;
}

static int inotify_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	const InotifyEntry *e = fd_image_find(&inotify_image, fe->id);
	int fd, skipped = 0;
	size_t i;

	fd = inotify_init1(IN_CLOEXEC | (e->flags & O_NONBLOCK));
	if (fd < 0) {
		pr_perror("PID %d: can't create the inotify instance for fd %u",
			  t->pid, fe->fd);
		return -1;
	}
	for (i = 0; i < e->n_wds; i++)
		if (wd_add(t, fd, e->wds[i], &skipped))
			goto err;
	if (skipped && drain(t, fe, fd))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

const struct fd_kind inotify_kind = {
	.type = FD_TYPE__FD_INOTIFY,
	.name = "inotify",
	.image = &inotify_image,
	.anon = "inotify",
	.dump = inotify_dump,
	.validate = inotify_validate,
	.open = inotify_open,
};
