// SPDX-License-Identifier: GPL-2.0-only
/*
 * The root directory: the test chroots into a directory of its work dir;
 * after restore "/" is still that directory (same inode and device, the
 * marker file is there, "/.." is "/"), and cwd inside it is kept.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

struct where {
	struct stat root, dotdot, cwd, marker;
};

static void measure(struct where *w)
{
	if (stat("/", &w->root) || stat("/..", &w->dotdot) ||
	    stat(".", &w->cwd) || stat("/marker", &w->marker))
		fail("stat: %m");
}

static int same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev;
}

int main(int argc, char **argv)
{
	struct where w0, w1;
	int fd;

	test_init(argc, argv);
	if (mkdir("root", 0755) || mkdir("root/sub", 0755))
		fail("mkdir: %m");
	fd = open("root/marker", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail("create marker: %m");
	close(fd);
	test_keep_pidfile_dir();
	if (chroot("root"))
		fail("chroot: %m");
	if (chdir("/sub"))
		fail("chdir: %m");

	measure(&w0);
	if (!same(&w0.root, &w0.dotdot))
		fail("chroot did not take");

	test_daemon();
	test_waitsig();

	measure(&w1);
	if (!same(&w0.root, &w1.root))
		fail("/ is another directory now");
	if (!same(&w1.root, &w1.dotdot))
		fail("/.. escapes the root now");
	if (!same(&w0.cwd, &w1.cwd))
		fail("cwd is another directory now");
	if (!same(&w0.marker, &w1.marker))
		fail("/marker is another file now");
	pass();
}
