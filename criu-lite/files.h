/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_FILES_H
#define CRIU_LITE_FILES_H

#include <stdint.h>
#include <sys/stat.h>

#include "images.h"
#include "proc.h"
#include "task.h"

/*
 * One kind of open file description (a regular file, a pipe end, a
 * socket...), dump and restore side by side in one file per kind. files.c
 * walks every fd table, hands each description to its kind once (the first
 * fd naming it; later fds sharing it only refer to its id), and at restore
 * asks the kind for criu-lite's own copy, which the tasks then take with
 * pidfd_getfd().
 */

/* The first fd of a description being dumped. */
struct fd_dump_ctx {
	struct dump_task *t;
	int fd;
	const char *link;		/* readlink(/proc/PID/fd/N) */
	const struct stat *st;		/* stat(/proc/PID/fd/N) */
	const struct proc_fdinfo *fi;	/* /proc/PID/fdinfo/N */
	uint32_t id;			/* the description's id in the images */
};

struct fd_kind {
	FdType type;
	const char *name;
	/* Dump. Is this fd of the kind? (files.c asks the kinds in order.) */
	int (*match)(const struct stat *st, const char *link);
	int (*dump_start)(int dirfd);			/* optional */
	int (*dump)(const struct fd_dump_ctx *c);
	int (*dump_finish)(void);			/* optional; also after a failure */
	/* Restore. The kind's images, read once before any task is made. */
	int (*load)(int dirfd);				/* optional */
	int (*validate)(const struct rst_task *t, const FdinfoEntry *fe);
	/* criu-lite's own copy of the description (O_CLOEXEC) */
	int (*open)(const struct rst_task *t, const FdinfoEntry *fe);
	/* The description's name, for messages. */
	const char *(*describe)(uint32_t id, char *buf, size_t size);
	/* Once the task holds its whole fd table (epoll targets...). */
	int (*restore_task)(struct rst_task *t);	/* optional */
	/* Once every task holds its fds: drop criu-lite's extra state. */
	void (*release)(void);				/* optional */
};

extern const struct fd_kind reg_file_kind;
extern const struct fd_kind pipe_kind;
extern const struct fd_kind unix_sk_kind;

/* criu-lite's own copy of the dumped task's fd (pidfd_getfd), or -1. */
int fd_dump_take(const struct fd_dump_ctx *c);

/* Every entry of an image of entries only, into a growing array. */
int files_load_msgs(int dirfd, enum img_kind_id kind,
		    const ProtobufCMessageDescriptor *desc, void ***v,
		    size_t *n);

/* Does the images directory hold this image? (older dumps lack some) */
int files_image_exists(int dirfd, enum img_kind_id kind);

#endif
