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
	const struct dump_tree *tree;
	struct dump_task *t;
	int fd;
	const char *link;		/* readlink(/proc/PID/fd/N) */
	const struct stat *st;		/* stat(/proc/PID/fd/N) */
	const struct proc_fdinfo *fi;	/* /proc/PID/fdinfo/N */
	uint32_t id;			/* the description's id in the images */
};

/*
 * The image of a kind whose descriptions are one entry each, keyed by their
 * id (the fds on anonymous inodes): files.c creates and closes it at dump
 * and loads it at restore for the kind, whose validate then runs only for
 * descriptions the image has.
 */
struct fd_image {
	enum img_kind_id kind;
	struct cr_img *img;		/* dump */
	ProtobufCMessage **v;		/* restore: the entries, by id */
	size_t n;
};

/* The entry of description ID, or NULL; or its index in im->v, or -1. */
const void *fd_image_find(const struct fd_image *im, uint32_t id);
ssize_t fd_image_pos(const struct fd_image *im, uint32_t id);
/* Write the entry of a description being dumped. */
int fd_image_write(struct fd_image *im, const ProtobufCMessage *msg);

struct fd_kind {
	FdType type;
	const char *name;
	struct fd_image *image;				/* optional */
	/* Dump. Is this fd of the kind? (files.c asks the kinds in order.) */
	int (*match)(const struct stat *st, const char *link);
	const char *anon;	/* or: its link is anon_inode:[ANON] */
	int (*dump_start)(int dirfd);			/* optional */
	int (*dump)(const struct fd_dump_ctx *c);
	/* Every fd of the tree seen: what only the whole tree tells. */
	int (*dump_tree)(const struct dump_tree *tree);	/* optional */
	int (*dump_finish)(void);			/* optional; also after a failure */
	/*
	 * The dump is over (done or failed): the tree is about to be killed
	 * (KILL) or to run on. Undo what the tree must not see (TCP repair).
	 */
	void (*dump_release)(int kill);			/* optional */
	/* ... and now it is dead or running (lift the traffic block). */
	void (*dump_unlock)(int kill);			/* optional */
	/* Restore. The kind's images, read once before any task is made. */
	int (*load)(int dirfd);				/* optional */
	int (*validate)(const struct rst_task *t, const FdinfoEntry *fe);
							/* optional with image */
	/* criu-lite's own copy of the description (O_CLOEXEC) */
	int (*open)(const struct rst_task *t, const FdinfoEntry *fe);
	/* The description's name, for messages (optional: the kind's). */
	const char *(*describe)(uint32_t id, char *buf, size_t size);
	/* Once the task holds its whole fd table (epoll targets...). */
	int (*restore_task)(struct rst_task *t);	/* optional */
	/* Once every task holds its fds: drop criu-lite's extra state. */
	void (*release)(void);				/* optional */
	/* Once the restored tree runs. */
	void (*restored)(void);				/* optional */
};

extern const struct fd_kind reg_file_kind;
extern const struct fd_kind pipe_kind;
extern const struct fd_kind eventfd_kind;
extern const struct fd_kind epoll_kind;
extern const struct fd_kind signalfd_kind;
extern const struct fd_kind timerfd_kind;
extern const struct fd_kind inotify_kind;

/* For check: TFD_IOC_SET_TICKS, kcmp(KCMP_EPOLL_TFD) work here. */
int timerfd_probe_set_ticks(void);
int epoll_probe_kcmp_tfd(void);
extern const struct fd_kind tty_kind;
extern const struct fd_kind inet_sk_kind;

/* criu-lite's own copy of the dumped task's fd (pidfd_getfd), or -1. */
int fd_dump_take(const struct fd_dump_ctx *c);

/* Every entry of an image of entries only, into a growing array. */
int files_load_msgs(int dirfd, enum img_kind_id kind,
		    const ProtobufCMessageDescriptor *desc, void ***v,
		    size_t *n);

/* Does the images directory hold this image? (older dumps lack some) */
int files_image_exists(int dirfd, enum img_kind_id kind);

/* files-deleted.c: regular files unlinked while open, for the reg kind */
int deleted_link(const char *link);
void deleted_dump_start(int dirfd);
int deleted_dump(const struct fd_dump_ctx *c, RegFileEntry *rf, char *path,
		 size_t size);
int deleted_dump_finish(void);
int deleted_load(int dirfd, RegFileEntry *const *rf, size_t n);
int deleted_validate(const struct rst_task *t, const FdinfoEntry *fe,
		     const RegFileEntry *rf);
int deleted_open(const struct rst_task *t, const FdinfoEntry *fe,
		 const RegFileEntry *rf, int flags);
void deleted_release(void);

/*
 * file-locks.c: flock, POSIX and OFD locks. Dump: every fd whose fdinfo
 * shows locks (FIRST: the first fd of its description). Restore: a
 * description's locks once criu-lite opened it, a process's POSIX locks
 * once it holds its fd table.
 */
int file_locks_dump_start(int dirfd);
int file_locks_dump_fd(const struct fd_dump_ctx *c, int first);
int file_locks_dump_finish(void);
int file_locks_load(int dirfd);
int file_locks_restore_desc(uint32_t id, int fd);
int file_locks_restore_task(struct rst_task *t);
void file_locks_release(void);

#endif
