// SPDX-License-Identifier: GPL-2.0-only
/*
 * Image staging: images are written into a fresh directory inside the images
 * directory and renamed into place only once all are complete, inventory.img
 * (which marks a complete dump) first out and last in. A failed dump, or a
 * page server whose dumper went away, leaves an earlier dump there intact.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "stage.h"

static int open_images_dir(const char *dir)
{
	struct stat st;
	int fd;

	fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open the images directory %s", dir);
		return -1;
	}
	if (faccessat(fd, ".", W_OK, AT_EACCESS)) {
		pr_perror("Images directory %s is not writable", dir);
		goto err;
	}
	if (fstat(fd, &st))
		goto err;
	/* images hold the task's memory; the directory is the user's to lock */
	if (st.st_mode & 077)
		pr_warn("Images directory %s is mode %04o: others may read the dumped memory, use a 0700 directory\n",
			dir, st.st_mode & 07777);
	return fd;
err:
	close(fd);
	return -1;
}

int stage_open(struct image_stage *s, const char *dir, const char *who)
{
	s->dir = dir;
	s->fd = -1;
	s->dirfd = open_images_dir(dir);
	if (s->dirfd < 0)
		return -1;
	snprintf(s->name, sizeof(s->name), ".criu-lite-%s.%d", who, getpid());
	if (mkdirat(s->dirfd, s->name, 0700)) {
		pr_perror("Can't create %s/%s", dir, s->name);
		goto err;
	}
	s->fd = openat(s->dirfd, s->name, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (s->fd >= 0)
		return 0;
	pr_perror("Can't open %s/%s", dir, s->name);
	unlinkat(s->dirfd, s->name, AT_REMOVEDIR);
err:
	close(s->dirfd);
	return -1;
}

int stage_for_each(struct image_stage *s,
		   int (*fn)(struct image_stage *s, const char *name))
{
	struct dirent *de;
	int ret = 0, fd = dup(s->fd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		pr_perror("Can't list %s/%s", s->dir, s->name);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* the dup shares the offset a walk before left at the end */
	rewinddir(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "inventory.img") &&
		    fn(s, de->d_name))
			ret = -1;
	closedir(d);
	return ret;
}

static int stage_unlink(struct image_stage *s, const char *name)
{
	return unlinkat(s->fd, name, 0);
}

static int stage_move(struct image_stage *s, const char *name)
{
	if (!renameat(s->fd, name, s->dirfd, name))
		return 0;
	pr_perror("Can't move image %s into %s", name, s->dir);
	return -1;
}

static void stage_close(struct image_stage *s)
{
	if (unlinkat(s->dirfd, s->name, AT_REMOVEDIR))
		pr_perror("Can't remove %s/%s", s->dir, s->name);
	close(s->fd);
	close(s->dirfd);
}

void stage_abort(struct image_stage *s)
{
	unlinkat(s->fd, "inventory.img", 0);
	stage_for_each(s, stage_unlink);
	stage_close(s);
}

int stage_commit(struct image_stage *s)
{
	if (unlinkat(s->dirfd, "inventory.img", 0) && errno != ENOENT) {
		pr_perror("Can't replace %s/inventory.img", s->dir);
		return -1;
	}
	if (stage_for_each(s, stage_move) || stage_move(s, "inventory.img"))
		return -1;
	stage_close(s);
	return 0;
}
