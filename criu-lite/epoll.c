// SPDX-License-Identifier: GPL-2.0-only
/*
 * epoll: every watched target with its events (EPOLLET, EPOLLONESHOT,
 * EPOLLEXCLUSIVE included) and data, from the "tfd:" lines of fdinfo.
 *
 * epoll files a watch under the target file and the fd number it was added
 * as, and EPOLL_CTL_MOD/DEL find it by that number in the caller's table.
 * So a watch comes back by an EPOLL_CTL_ADD of that fd number injected into
 * a task whose fd of that number is the target file, once the task holds
 * its whole table. Dump finds such a task (the owner) with
 * kcmp(KCMP_EPOLL_TFD): the task dumped first, or else another of the tree
 * that holds the epoll too. A target no task holds at its number any more
 * (closed or replaced by dup2 since it was added, but still open elsewhere)
 * can't be added back that way: the dump is refused, naming it.
 *
 * A pending readiness needs nothing: EPOLL_CTL_ADD polls the target and
 * queues it if it is ready. An edge-triggered watch whose edge was already
 * reported is reported once more after restore if still ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"
#include "log.h"

static struct fd_image epoll_image = { .kind = IMG_EPOLL };

/* Is task OWNER's fd TFD the target TOFF-th filed under TFD in C's epoll? */
static int tfd_is(const struct fd_dump_ctx *c, pid_t owner, int tfd,
		  unsigned int toff)
{
	struct kcmp_epoll_slot slot = { c->fd, tfd, toff };

	return syscall(SYS_kcmp, owner, c->t->pid, KCMP_EPOLL_TFD, tfd,
		       &slot) == 0;
}

struct holds_arg {
	const struct fd_dump_ctx *c;
	int found;
};

static int holds_epoll_fd(pid_t pid, int fd, void *arg)
{
	struct holds_arg *h = arg;

	if (!syscall(SYS_kcmp, pid, h->c->t->pid, KCMP_FILE, fd, h->c->fd))
		h->found = 1;
	return h->found;
}

/* Does task PID hold the epoll of C too? (only the holder can add to it) */
static int holds_epoll(const struct fd_dump_ctx *c, pid_t pid)
{
	struct holds_arg h = { c, 0 };

	if (proc_for_each_fd(pid, holds_epoll_fd, &h) < 0)
		return 0;
	return h.found;
}

int epoll_probe_kcmp_tfd(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), fd, ret = 0;
	struct kcmp_epoll_slot slot;

	fd = eventfd(0, EFD_CLOEXEC);
	if (ep >= 0 && fd >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		slot = (struct kcmp_epoll_slot){ ep, fd, 0 };
		ret = syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, fd,
			      &slot) == 0;
	}
	if (fd >= 0)
		close(fd);
	if (ep >= 0)
		close(ep);
	return ret;
}

/* A task whose fd TFD is the target, and that holds the epoll: 0 if none. */
static pid_t tfd_owner(const struct fd_dump_ctx *c, int tfd, unsigned int toff)
{
	size_t i;

	if (tfd_is(c, c->t->pid, tfd, toff))
		return c->t->pid;
	for (i = 0; i < c->tree->n; i++) {
		const struct dump_task *o = c->tree->tasks[i];

		if (o == c->t || o->zombie || !tfd_is(c, o->pid, tfd, toff))
			continue;
		if (holds_epoll(c, o->pid))
			return o->pid;
	}
	return 0;
}

/* How many targets before I were added as the same fd number. */
static unsigned int tfd_rank(const struct proc_epoll_tfd *v, int i)
{
	unsigned int n = 0;
	int j;

	for (j = 0; j < i; j++)
		n += v[j].tfd == v[i].tfd;
	return n;
}

static int epoll_fill(const struct fd_dump_ctx *c,
		      const struct proc_epoll_tfd *v, int n, EpollTfdEntry *te)
{
	int i;

	for (i = 0; i < n; i++) {
		epoll_tfd_entry__init(&te[i]);
		te[i].tfd = v[i].tfd;
		te[i].events = v[i].events;
		te[i].data = v[i].data;
		te[i].owner = tfd_owner(c, v[i].tfd, tfd_rank(v, i));
		if (!te[i].owner && (errno == ENOSYS || errno == EOPNOTSUPP)) {
			pr_perror("PID %d: epoll fd %d: this kernel can't tell what fd %d is (kcmp KCMP_EPOLL_TFD)",
				  c->t->pid, c->fd, v[i].tfd);
			return -1;
		}
		if (!te[i].owner) {
			pr_err("PID %d: epoll fd %d watches fd %d (inode %#" PRIx64
			       "), which no task of the tree holds at that number any more (closed or replaced since it was added): criu-lite can't add it back\n",
			       c->t->pid, c->fd, v[i].tfd, v[i].ino);
			return -1;
		}
		pr_debug("PID %d: epoll fd %d: fd %d of PID %u events %#x data %#" PRIx64 "\n",
			 c->t->pid, c->fd, v[i].tfd, te[i].owner, v[i].events,
			 v[i].data);
	}
	return 0;
}

static int epoll_dump(const struct fd_dump_ctx *c)
{
	EpollEntry e = EPOLL_ENTRY__INIT;
	struct proc_epoll_tfd *v;
	EpollTfdEntry *te = NULL, **tp = NULL;
	int n, i, ret = -1;

	n = proc_fdinfo_epoll(c->t->pid, c->fd, &v);
	if (n < 0) {
		pr_err("PID %d: can't read what epoll fd %d watches\n",
		       c->t->pid, c->fd);
		return -1;
	}
	te = calloc(n + 1, sizeof(*te));
	tp = calloc(n + 1, sizeof(*tp));
	if (!te || !tp) {
		pr_err("PID %d: out of memory for the %d targets of epoll fd %d\n",
		       c->t->pid, n, c->fd);
		goto out;
	}
	if (epoll_fill(c, v, n, te))
		goto out;
	for (i = 0; i < n; i++)
		tp[i] = &te[i];
	e.id = c->id;
	e.flags = c->fi->flags & ~O_CLOEXEC;
	e.n_tfds = n;
	e.tfds = tp;
	ret = fd_image_write(&epoll_image, &e.base);
out:
	free(tp);
	free(te);
	free(v);
	return ret;
}

/* Task T's fd of description ID, or -1. */
static int task_fd_of(const struct rst_task *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->n_fds; i++)
		if (t->fds[i]->id == id)
			return t->fds[i]->fd;
	return -1;
}

static int task_has_fd(const struct rst_task *t, uint32_t fd)
{
	size_t i;

	for (i = 0; i < t->n_fds; i++)
		if (t->fds[i]->fd == fd)
			return 1;
	return 0;
}

/* Per epoll entry (by index): its watches whose owner can add them. */
static size_t *addable;

/*
 * Each watch needs an owner in the tree holding the epoll and the watched
 * fd number; counted as each owner's first fd of the epoll is validated,
 * and checked when the epoll is made, before any task is.
 */
static int epoll_validate(const struct rst_task *t, const FdinfoEntry *fe)
{
	ssize_t pos = fd_image_pos(&epoll_image, fe->id);
	const EpollEntry *e = (const EpollEntry *)epoll_image.v[pos];
	size_t i;

	if (task_fd_of(t, fe->id) != (int)fe->fd)
		return 0;
	if (!addable) {
		addable = calloc(epoll_image.n, sizeof(*addable));
		if (!addable) {
			pr_err("Out of memory for %zu epolls\n", epoll_image.n);
			return -1;
		}
	}
	for (i = 0; i < e->n_tfds; i++) {
		if (e->tfds[i]->owner != t->pe->pid)
			continue;
		if (!task_has_fd(t, e->tfds[i]->tfd)) {
			pr_err("PID %d: epoll fd %u watches its fd %u, which fdinfo-%u.img does not have\n",
			       t->pid, fe->fd, e->tfds[i]->tfd, t->pe->pid);
			return -1;
		}
		addable[pos]++;
	}
	return 0;
}

static int epoll_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	ssize_t pos = fd_image_pos(&epoll_image, fe->id);
	const EpollEntry *e = (const EpollEntry *)epoll_image.v[pos];
	int fd;

	if (addable[pos] != e->n_tfds) {
		pr_err("PID %d: epoll fd %u: %zu of its %zu watches belong to no process of the tree that holds the epoll\n",
		       t->pid, fe->fd, e->n_tfds - addable[pos], e->n_tfds);
		return -1;
	}

	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0) {
		pr_perror("PID %d: can't create the epoll for fd %u", t->pid,
			  fe->fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, e->flags & O_NONBLOCK)) {
		pr_perror("PID %d: can't set the flags %#x of epoll fd %u",
			  t->pid, e->flags, fe->fd);
		close(fd);
		return -1;
	}
	return fd;
}

static int epoll_add(struct rst_task *t, int epfd, const EpollTfdEntry *te)
{
	struct epoll_event ev = { .events = te->events, .data.u64 = te->data };
	uint64_t addr;
	long ret;

	addr = scratch_put(&t->remote, 0, &ev, sizeof(ev));
	if (!addr || remote_syscall(&t->remote, &ret, SYS_epoll_ctl, epfd,
				    EPOLL_CTL_ADD, te->tfd, addr, 0, 0))
		return -1;
	if (ret < 0) {
		errno = -ret;
		pr_perror("PID %d: can't add fd %u back to epoll fd %d (events %#x)",
			  t->pid, te->tfd, epfd, te->events);
		return -1;
	}
	return 0;
}

/* The watches this task owns, added with its own fd numbers. */
static int epoll_restore_task(struct rst_task *t)
{
	size_t i, j;
	int epfd;

	for (i = 0; i < epoll_image.n; i++) {
		const EpollEntry *e = (const EpollEntry *)epoll_image.v[i];

		for (j = 0; j < e->n_tfds; j++) {
			if (e->tfds[j]->owner != t->pe->pid)
				continue;
			epfd = task_fd_of(t, e->id);
			if (epfd < 0) {
				pr_err("PID %d: owns the watch of fd %u of epoll %u, but holds no fd of that epoll\n",
				       t->pid, e->tfds[j]->tfd, e->id);
				return -1;
			}
			if (epoll_add(t, epfd, e->tfds[j]))
				return -1;
		}
	}
	return 0;
}

const struct fd_kind epoll_kind = {
	.type = FD_TYPE__FD_EPOLL,
	.name = "epoll",
	.image = &epoll_image,
	.anon = "eventpoll",
	.dump = epoll_dump,
	.validate = epoll_validate,
	.open = epoll_open,
	.restore_task = epoll_restore_task,
};
