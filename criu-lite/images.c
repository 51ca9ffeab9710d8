// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>

#include "images.h"
#include "log.h"

#define KIND(n) (0x58310000u + (n))

const struct img_kind img_kinds[IMG_NR_KINDS] = {
	[IMG_INVENTORY] = { KIND(1), "inventory.img", NULL,
			    &inventory_entry__descriptor },
	[IMG_PSTREE] = { KIND(2), "pstree.img", NULL, &pstree_entry__descriptor },
	[IMG_CORE] = { KIND(3), "core-%u.img", NULL,
		       &task_core_entry__descriptor },
	[IMG_MM] = { KIND(4), "mm-%u.img", NULL, &mm_entry__descriptor },
	[IMG_PAGEMAP] = { KIND(5), "pagemap-%u.img", &pagemap_head__descriptor,
			  &pagemap_entry__descriptor },
	[IMG_FDINFO] = { KIND(6), "fdinfo-%u.img", NULL,
			 &fdinfo_entry__descriptor },
	[IMG_REG_FILES] = { KIND(7), "reg-files.img", NULL,
			    &reg_file_entry__descriptor },
	[IMG_STATS_DUMP] = { KIND(8), "stats-dump.img", NULL,
			     &dump_stats_entry__descriptor },
	[IMG_STATS_RESTORE] = { KIND(9), "stats-restore.img", NULL,
				&restore_stats_entry__descriptor },
	[IMG_SHMEM] = { KIND(10), "shmem-%u.img", &shmem_entry__descriptor,
			&pagemap_entry__descriptor },
	[IMG_PIPES] = { KIND(11), "pipes.img", NULL, &pipe_entry__descriptor },
	[IMG_PIPES_DATA] = { KIND(12), "pipes-data.img", NULL,
			     &pipe_data_entry__descriptor },
	[IMG_EVENTFD] = { KIND(17), "eventfd.img", NULL,
			  &eventfd_entry__descriptor },
	[IMG_EPOLL] = { KIND(18), "epoll.img", NULL, &epoll_entry__descriptor },
	[IMG_SIGNALFD] = { KIND(19), "signalfd.img", NULL,
			   &signalfd_entry__descriptor },
	[IMG_TIMERFD] = { KIND(20), "timerfd.img", NULL,
			  &timerfd_entry__descriptor },
	[IMG_INOTIFY] = { KIND(21), "inotify.img", NULL,
			  &inotify_entry__descriptor },
	[IMG_TTY] = { KIND(22), "tty.img", NULL, &tty_entry__descriptor },
	[IMG_TTY_INFO] = { KIND(23), "tty-info.img", NULL,
			   &tty_info_entry__descriptor },
	[IMG_DELETED_FILES] = { KIND(24), "deleted-files.img", NULL,
				&deleted_file_chunk__descriptor },
	[IMG_FILE_LOCKS] = { KIND(25), "file-locks.img", NULL,
			     &file_lock_entry__descriptor },
	[IMG_INET_SK] = { KIND(15), "inet-sk.img", NULL,
			  &inet_sk_entry__descriptor },
	[IMG_TCP_STREAM] = { KIND(16), "tcp-stream.img", NULL,
			     &tcp_stream_entry__descriptor },
};

const char *image_name(enum img_kind_id kind, unsigned int id, char *buf,
		       size_t size)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(buf, size, img_kinds[kind].fmt, id);
#pragma GCC diagnostic pop
	return buf;
}

struct cr_img *open_image(int dirfd, enum img_kind_id kind, unsigned int id)
{
	char name[64];

	return img_open(dirfd, image_name(kind, id, name, sizeof(name)),
			img_kinds[kind].magic);
}

struct cr_img *create_image(int dirfd, enum img_kind_id kind, unsigned int id)
{
	char name[64];

	return img_create(dirfd, image_name(kind, id, name, sizeof(name)),
			  img_kinds[kind].magic);
}

ProtobufCMessage *read_one_msg(int dirfd, enum img_kind_id kind,
			       unsigned int id)
{
	struct cr_img *img = open_image(dirfd, kind, id);
	ProtobufCMessage *msg = NULL;
	int ret;

	if (!img)
		return NULL;
	ret = img_read_msg(img, img_kinds[kind].entry, &msg);
	if (ret == 0)
		pr_err("Image %s is empty\n", img->name);
	img_close(img);
	return ret == 1 ? msg : NULL;
}

int write_one_msg(int dirfd, enum img_kind_id kind, unsigned int id,
		  const ProtobufCMessage *msg)
{
	struct cr_img *img = create_image(dirfd, kind, id);

	if (!img)
		return -1;
	if (img_write_msg(img, msg)) {
		img_close_write(img);
		return -1;
	}
	return img_close_write(img);
}
