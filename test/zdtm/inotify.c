// SPDX-License-Identifier: GPL-2.0-only
/*
 * inotify: fd 20 (O_NONBLOCK) watches directory "dir" (IN_CREATE|IN_DELETE,
 * wd 1) and file "file" (IN_MODIFY, wd 2); wd 3 was added on "gone" and
 * removed again; "other" is wd 4 (IN_ATTRIB|IN_ONESHOT). After restore the
 * watches are the same (wd, mask, inode, from fdinfo), no IN_IGNORED is
 * queued, fd 20 is still O_NONBLOCK; a file made in "dir" is reported with wd 1 and its name, a write
 * to "file" with wd 2; wd 3 does not exist; and a new watch gets wd 5.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

static struct test_fds s0;

static void touch(const char *name)
{
	int fd = open(name, O_CREAT | O_WRONLY, 0600);

	if (fd < 0)
		fail("create %s: %m", name);
	close(fd);
}

static void watch(const char *name, uint32_t mask, int want)
{
	int wd = inotify_add_watch(20, name, mask);

	if (wd != want)
		fail("watch %s: wd %d, not %d: %m", name, wd, want);
}

static void watches(char *out, size_t size)
{
	static const char *const keys[] = { "inotify wd:", NULL };

	status_lines("/proc/self/fdinfo/20", keys, out, size);
}

/* An event of WD (with NAME, if given) comes, within a second. */
static void expect(int wd, uint32_t mask, const char *name)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = { .fd = 20, .events = POLLIN };
	ssize_t n, off;

	while (poll(&p, 1, 1000) == 1) {
		n = read(20, buf, sizeof(buf));
		for (off = 0; off < n;) {
			struct inotify_event *ev = (void *)(buf + off);

			if (ev->wd == wd && (ev->mask & mask) &&
			    (!name || (ev->len && !strcmp(ev->name, name))))
				return;
			off += sizeof(*ev) + ev->len;
		}
	}
	fail("no event %#x of wd %d%s%s", mask, wd, name ? " for " : "",
	     name ? name : "");
}

/*
 * Nothing restore made is queued: no IN_IGNORED of a skipped wd. (Under
 * restore --pidns the original and its copy see each other's files: other
 * events may be queued.)
 */
static void no_ignored(void)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n, off;

	while ((n = read(20, buf, sizeof(buf))) > 0)
		for (off = 0; off < n;) {
			struct inotify_event *ev = (void *)(buf + off);

			if (ev->mask & IN_IGNORED)
				fail("IN_IGNORED of wd %d queued after restore",
				     ev->wd);
			off += sizeof(*ev) + ev->len;
		}
	if (errno != EAGAIN)
		fail("fd 20 is no longer O_NONBLOCK: %m");
}

int main(int argc, char **argv)
{
	char before[1024], now[1024], name[64];
	int fd;

	test_init(argc, argv);
	if ((mkdir("dir", 0700) && errno != EEXIST))
		fail("mkdir: %m");
	touch("file");
	touch("gone");
	touch("other");
	fd = inotify_init1(IN_NONBLOCK);
	if (fd < 0 || dup2(fd, 20) != 20)
		fail("inotify: %m");
	close(fd);
	watch("dir", IN_CREATE | IN_DELETE, 1);
	watch("file", IN_MODIFY, 2);
	watch("gone", IN_OPEN, 3);
	if (inotify_rm_watch(20, 3))
		fail("rm wd 3: %m");
	watch("other", IN_ATTRIB | IN_ONESHOT, 4);
	expect(3, IN_IGNORED, NULL);
	watches(before, sizeof(before));
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	watches(now, sizeof(now));
	if (strcmp(now, before))
		fail("watches were\n%sand are\n%s", before, now);
	no_ignored();
	/* the original and its copy may run side by side: a name of our own */
	snprintf(name, sizeof(name), "new-%d-%ld", getpid(), (long)time(NULL));
	{
		char path[128];

		snprintf(path, sizeof(path), "dir/%s", name);
		touch(path);
		expect(1, IN_CREATE, name);
		unlink(path);
	}
	fd = open("file", O_WRONLY | O_APPEND);
	if (fd < 0 || write(fd, "x", 1) != 1)
		fail("write file: %m");
	close(fd);
	expect(2, IN_MODIFY, NULL);
	if (inotify_rm_watch(20, 3) != -1 || errno != EINVAL)
		fail("wd 3 exists after restore");
	watch(".", IN_CREATE, 5);
	pass();
}
