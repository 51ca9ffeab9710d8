// SPDX-License-Identifier: GPL-2.0-only
/*
 * eventfd: the counter, EFD_SEMAPHORE and O_NONBLOCK, from fdinfo. Restore
 * makes a new eventfd and writes the counter into it (a write adds to the
 * counter; eventfd()'s initial value is only 32 bits wide).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "files.h"
#include "log.h"

static struct fd_image eventfd_image = { .kind = IMG_EVENTFD };

static int eventfd_dump(const struct fd_dump_ctx *c)
{
	EventfdEntry e = EVENTFD_ENTRY__INIT;
	struct proc_eventfd pe;

	if (proc_fdinfo_eventfd(c->t->pid, c->fd, &pe)) {
		pr_err("PID %d: can't read the counter of eventfd fd %d\n",
		       c->t->pid, c->fd);
		return -1;
	}
	/* before 6.7 fdinfo does not say; EFD_SEMAPHORE would be lost */
	if (pe.semaphore < 0)
		pr_warn("PID %d: eventfd fd %d: the kernel does not tell EFD_SEMAPHORE; restored without\n",
			c->t->pid, c->fd);
	e.id = c->id;
	e.flags = c->fi->flags & ~O_CLOEXEC;
	e.count = pe.count;
	e.semaphore = pe.semaphore > 0;
	pr_debug("PID %d: fd %d: eventfd count %" PRIu64 "%s\n", c->t->pid,
		 c->fd, pe.count, e.semaphore ? " semaphore" : "");
	return fd_image_write(&eventfd_image, &e.base);
}

static int eventfd_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	const EventfdEntry *e = fd_image_find(&eventfd_image, fe->id);
	int fd;

	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK |
			(e->semaphore ? EFD_SEMAPHORE : 0));
	if (fd < 0) {
		pr_perror("PID %d: can't create the eventfd for fd %u", t->pid,
			  fe->fd);
		return -1;
	}
	if (e->count && write(fd, &e->count, sizeof(e->count)) !=
			sizeof(e->count)) {
		pr_perror("PID %d: can't set the counter of eventfd fd %u to %" PRIu64,
			  t->pid, fe->fd, e->count);
		goto err;
	}
	if (fcntl(fd, F_SETFL, e->flags & O_NONBLOCK)) {
		pr_perror("PID %d: can't set the flags %#x of eventfd fd %u",
			  t->pid, e->flags, fe->fd);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

const struct fd_kind eventfd_kind = {
	.type = FD_TYPE__FD_EVENTFD,
	.name = "eventfd",
	.image = &eventfd_image,
	.anon = "eventfd",
	.dump = eventfd_dump,
	.open = eventfd_open,
};
