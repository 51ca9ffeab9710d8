// SPDX-License-Identifier: GPL-2.0-only
/*
 * signalfd: the signal mask and O_NONBLOCK. The signals it reads are the
 * task's pending ones, which come back with the task (signals.c).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"
#include "log.h"

static struct fd_image signalfd_image = { .kind = IMG_SIGNALFD };

static int signalfd_dump(const struct fd_dump_ctx *c)
{
	SignalfdEntry e = SIGNALFD_ENTRY__INIT;

	if (proc_fdinfo_signalfd(c->t->pid, c->fd, &e.sigmask)) {
		pr_err("PID %d: can't read the mask of signalfd fd %d\n",
		       c->t->pid, c->fd);
		return -1;
	}
	e.id = c->id;
	e.flags = c->fi->flags & ~O_CLOEXEC;
	pr_debug("PID %d: fd %d: signalfd mask %#" PRIx64 "\n", c->t->pid,
		 c->fd, e.sigmask);
	return fd_image_write(&signalfd_image, &e.base);
}

static int signalfd_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	const SignalfdEntry *e = fd_image_find(&signalfd_image, fe->id);
	uint64_t mask = e->sigmask;
	int fd;

	/* the kernel's sigset is 64 bits, glibc's sigset_t is bigger */
	fd = syscall(SYS_signalfd4, -1, &mask, sizeof(mask),
		     O_CLOEXEC | (e->flags & O_NONBLOCK));
	if (fd < 0)
		pr_perror("PID %d: can't create the signalfd for fd %u (mask %#" PRIx64 ")",
			  t->pid, fe->fd, mask);
	return fd;
}

const struct fd_kind signalfd_kind = {
	.type = FD_TYPE__FD_SIGNALFD,
	.name = "signalfd",
	.image = &signalfd_image,
	.anon = "signalfd",
	.dump = signalfd_dump,
	.open = signalfd_open,
};
