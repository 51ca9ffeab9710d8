/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_IMAGES_H
#define CRIU_LITE_IMAGES_H

#include "crtools.h"
#include "image.h"

/*
 * Every image kind: its magic, how its file is named, and what it holds (a
 * head message, then entry messages). The one table serves dump, restore and
 * show, so a new kind is added in one place.
 */
enum img_kind_id {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_CORE,
	IMG_MM,
	IMG_PAGEMAP,
	IMG_FDINFO,
	IMG_REG_FILES,
	IMG_STATS_DUMP,
	IMG_STATS_RESTORE,
	IMG_SHMEM,
	IMG_PIPES,
	IMG_PIPES_DATA,
	IMG_EVENTFD,
	IMG_EPOLL,
	IMG_SIGNALFD,
	IMG_TIMERFD,
	IMG_INOTIFY,
	IMG_TTY,
	IMG_TTY_INFO,
	IMG_DELETED_FILES,
	IMG_FILE_LOCKS,
	IMG_INET_SK,
	IMG_TCP_STREAM,
	IMG_NR_KINDS,
};

struct img_kind {
	uint32_t magic;
	const char *fmt;	/* printf format of the name, %u = pid/id */
	const ProtobufCMessageDescriptor *head;	/* NULL: entries only */
	const ProtobufCMessageDescriptor *entry;
};

extern const struct img_kind img_kinds[IMG_NR_KINDS];

#define PAGES_IMG_FMT "pages-%u.img"
#define SHMEM_PAGES_IMG_FMT "pages-shmem-%u.img"

struct cr_img *open_image(int dirfd, enum img_kind_id kind, unsigned int id);
struct cr_img *create_image(int dirfd, enum img_kind_id kind, unsigned int id);
/* Name of an image, for messages. */
const char *image_name(enum img_kind_id kind, unsigned int id, char *buf,
		       size_t size);
/* Read an image holding exactly one message. */
ProtobufCMessage *read_one_msg(int dirfd, enum img_kind_id kind,
			       unsigned int id);
/* Write an image holding exactly one message. */
int write_one_msg(int dirfd, enum img_kind_id kind, unsigned int id,
		  const ProtobufCMessage *msg);

#endif
