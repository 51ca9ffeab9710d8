// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fd table and regular files: path, open flags, offset, fd number and
 * FD_CLOEXEC. Directories and the simple character devices (/dev/null,
 * /dev/zero, /dev/full, /dev/random, /dev/urandom) are reopened by path too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "images.h"
#include "log.h"
#include "task.h"

struct files_dumper {
	struct dump_task *t;
	struct cr_img *img;
	size_t cap;
	unsigned int next_id;
	struct dumped_file {
		pid_t pid;
		int fd;
		dev_t dev;
		ino_t ino;
		unsigned int id;
	} *seen;
	size_t n_seen;
};

#define KCMP_FILE 0

/*
 * An fd sharing its open file description with one dumped before, in this
 * task or another: its id.
 */
static unsigned int shared_file_id(struct files_dumper *fdd, int fd,
				   const struct stat *st)
{
	pid_t pid = fdd->t->pid;
	size_t i;

	for (i = 0; i < fdd->n_seen; i++) {
		const struct dumped_file *df = &fdd->seen[i];

		if (df->dev == st->st_dev && df->ino == st->st_ino &&
		    syscall(SYS_kcmp, df->pid, pid, KCMP_FILE, df->fd, fd) == 0)
			return df->id;
	}
	return 0;
}

static int remember_file(struct files_dumper *fdd, int fd,
			 const struct stat *st, unsigned int id)
{
	struct dumped_file *n = realloc(fdd->seen,
					(fdd->n_seen + 1) * sizeof(*n));

	if (!n) {
		pr_err("Out of memory dumping fd %d\n", fd);
		return -1;
	}
	fdd->seen = n;
	n[fdd->n_seen++] = (struct dumped_file){ fdd->t->pid, fd, st->st_dev,
						 st->st_ino, id };
	return 0;
}

/* mem char devices (major 1) that reopen to the same thing by path */
static int simple_chrdev(dev_t rdev)
{
	if (major(rdev) != 1)
		return 0;
	switch (minor(rdev)) {
	case 3:	/* null */
	case 5:	/* zero */
	case 7:	/* full */
	case 8:	/* random */
	case 9:	/* urandom */
		return 1;
	}
	return 0;
}

static const char *fd_kind(mode_t mode, const char *link)
{
	if (!strncmp(link, "pipe:", 5))
		return "pipe";
	if (!strncmp(link, "socket:", 7))
		return "socket";
	if (!strncmp(link, "anon_inode:", 11))
		return link + 11;
	if (S_ISCHR(mode))
		return "character device";
	if (S_ISFIFO(mode))
		return "FIFO";
	if (S_ISBLK(mode))
		return "block device";
	return "file";
}

static int dump_one_fd(pid_t pid, int fd, void *arg)
{
	struct files_dumper *fdd = arg;
	struct dump_task *t = fdd->t;
	char name[64], link[4096];
	struct proc_fdinfo fi;
	RegFileEntry rf = REG_FILE_ENTRY__INIT;
	FdinfoEntry *fe;
	struct stat st;

	snprintf(name, sizeof(name), "fd/%d", fd);
	if (proc_readlink(pid, name, link, sizeof(link)))
		return -1;
	snprintf(name, sizeof(name), "/proc/%d/fd/%d", pid, fd);
	if (stat(name, &st)) {
		pr_perror("PID %d: can't stat fd %d (%s)", pid, fd, link);
		return -1;
	}
	if (link[0] != '/' ||
	    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
	      (S_ISCHR(st.st_mode) && simple_chrdev(st.st_rdev)))) {
		pr_err("PID %d: fd %d is a %s (%s), which criu-lite can't dump yet\n",
		       pid, fd, fd_kind(st.st_mode, link), link);
		return -1;
	}
	if (strstr(link, " (deleted)")) {
		pr_err("PID %d: fd %d is the deleted file %s, which criu-lite can't dump yet\n",
		       pid, fd, link);
		return -1;
	}
	if (proc_parse_fdinfo(pid, fd, &fi))
		return -1;

	rf.id = shared_file_id(fdd, fd, &st);
	if (rf.id)
		goto add_fd;
	rf.id = ++fdd->next_id;
	rf.path = link;
	rf.flags = fi.flags & ~O_CLOEXEC;
	rf.pos = fi.pos;
	rf.mode = st.st_mode;
	rf.size = st.st_size;
	if (S_ISCHR(st.st_mode)) {
		rf.has_rdev = 1;
		rf.rdev = st.st_rdev;
	}
	if (img_write_msg(fdd->img, &rf.base) ||
	    remember_file(fdd, fd, &st, rf.id))
		return -1;
add_fd:
	if (t->n_fds == fdd->cap) {
		FdinfoEntry **nf;

		fdd->cap = fdd->cap ? fdd->cap * 2 : 64;
		nf = arena_alloc(t->arena, fdd->cap * sizeof(*nf));
		if (!nf)
			return -1;
		if (t->n_fds)
			memcpy(nf, t->fds, t->n_fds * sizeof(*nf));
		t->fds = nf;
	}
	fe = arena_alloc(t->arena, sizeof(*fe));
	if (!fe)
		return -1;
	fdinfo_entry__init(fe);
	fe->fd = fd;
	fe->cloexec = !!(fi.flags & O_CLOEXEC);
	fe->type = FD_TYPE__FD_REG;
	fe->id = rf.id;
	t->fds[t->n_fds++] = fe;
	pr_debug("PID %d: fd %d -> %s flags %#o pos %" PRIu64 "\n", pid, fd,
		 link, fi.flags, fi.pos);
	return 0;
}

static int fdinfo_write(int dirfd, struct dump_task *t)
{
	struct cr_img *img;
	size_t i;

	img = create_image(dirfd, IMG_FDINFO, t->pid);
	if (!img)
		return -1;
	for (i = 0; i < t->n_fds; i++)
		if (img_write_msg(img, &t->fds[i]->base))
			break;
	return img_close_write(img) || i < t->n_fds ? -1 : 0;
}

/* One reg-files.img for the tree, one fdinfo image per process. */
int files_dump(int dirfd, struct dump_tree *tree)
{
	struct files_dumper fdd = {};
	size_t i;
	int ret = 0;

	fdd.img = create_image(dirfd, IMG_REG_FILES, 0);
	if (!fdd.img)
		return -1;
	for (i = 0; i < tree->n && !ret; i++) {
		if (tree->tasks[i]->zombie)
			continue;
		fdd.t = tree->tasks[i];
		fdd.cap = 0;
		ret = proc_for_each_fd(fdd.t->pid, dump_one_fd, &fdd);
		if (!ret)
			ret = fdinfo_write(dirfd, fdd.t);
	}
	free(fdd.seen);
	if (img_close_write(fdd.img) || ret)
		return -1;
	return 0;
}

/* Restore side */

static RegFileEntry **reg_files;
static size_t n_reg_files;

static int reg_files_load(int dirfd)
{
	struct cr_img *img;
	ProtobufCMessage *msg;
	size_t cap = 0;
	int ret;

	if (reg_files)
		return 0;
	img = open_image(dirfd, IMG_REG_FILES, 0);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &reg_file_entry__descriptor, &msg)) == 1) {
		if (n_reg_files == cap) {
			RegFileEntry **n;

			cap = cap ? cap * 2 : 64;
			n = realloc(reg_files, cap * sizeof(*n));
			if (!n) {
				pr_err("Out of memory loading %s\n", img->name);
				ret = -1;
				break;
			}
			reg_files = n;
		}
		reg_files[n_reg_files++] = (RegFileEntry *)msg;
	}
	img_close(img);
	return ret;
}

static const RegFileEntry *reg_file_find(uint32_t id)
{
	size_t i;

	for (i = 0; i < n_reg_files; i++)
		if (reg_files[i]->id == id)
			return reg_files[i];
	return NULL;
}

int files_validate(int dirfd, struct rst_task *t)
{
	size_t i;

	if (reg_files_load(dirfd))
		return -1;
	for (i = 0; i < t->n_fds; i++) {
		const FdinfoEntry *fe = t->fds[i];
		const RegFileEntry *rf = reg_file_find(fe->id);
		struct stat st;

		if (!rf) {
			pr_err("PID %d: fd %u refers to file id %u, which reg-files.img does not have\n",
			       t->pid, fe->fd, fe->id);
			return -1;
		}
		if (stat(rf->path, &st)) {
			pr_perror("PID %d: fd %u: can't find %s", t->pid, fe->fd,
				  rf->path);
			return -1;
		}
		if ((st.st_mode & S_IFMT) != (rf->mode & S_IFMT)) {
			pr_err("PID %d: fd %u: %s is no longer the same kind of file\n",
			       t->pid, fe->fd, rf->path);
			return -1;
		}
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < rf->pos)
			pr_warn("PID %d: fd %u: %s is now %lld bytes, the offset was %llu\n",
				t->pid, fe->fd, rf->path, (long long)st.st_size,
				(unsigned long long)rf->pos);
	}
	return 0;
}

static long fcall(struct rst_task *t, long nr, long a1, long a2, long a3)
{
	long ret;

	if (remote_syscall(&t->remote, &ret, nr, a1, a2, a3, 0, 0, 0))
		return -EIO;
	return ret;
}

/* An fd sharing its file description with an earlier one is a dup of it. */
static int restore_dup_fd(struct rst_task *t, const FdinfoEntry *fe, size_t idx)
{
	size_t i;
	long ret;

	for (i = 0; i < idx; i++) {
		if (t->fds[i]->id != fe->id)
			continue;
		ret = fcall(t, SYS_dup3, t->fds[i]->fd, fe->fd,
			    fe->cloexec ? O_CLOEXEC : 0);
		if (ret < 0) {
			errno = -ret;
			pr_perror("PID %d: can't dup fd %u to %u", t->pid,
				  t->fds[i]->fd, fe->fd);
			return -1;
		}
		return 1;
	}
	return 0;
}

static int restore_one_fd(struct rst_task *t, const FdinfoEntry *fe, size_t idx)
{
	const RegFileEntry *rf = reg_file_find(fe->id);
	int flags = rf->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY);
	uint64_t addr;
	long fd, ret;

	ret = restore_dup_fd(t, fe, idx);
	if (ret)
		return ret < 0 ? -1 : 0;

	addr = scratch_put(&t->remote, 0, rf->path, strlen(rf->path) + 1);
	fd = fcall(t, SYS_openat, AT_FDCWD, addr,
		   flags | (fe->cloexec ? O_CLOEXEC : 0));
	if (fd < 0) {
		errno = -fd;
		pr_perror("PID %d: can't reopen %s as fd %u", t->pid, rf->path,
			  fe->fd);
		return -1;
	}
	if (fd != (long)fe->fd) {
		ret = fcall(t, SYS_dup3, fd, fe->fd, fe->cloexec ? O_CLOEXEC : 0);
		fcall(t, SYS_close, fd, 0, 0);
		if (ret < 0) {
			errno = -ret;
			pr_perror("PID %d: can't move %s to fd %u", t->pid,
				  rf->path, fe->fd);
			return -1;
		}
	}
	if (!S_ISCHR(rf->mode) && rf->pos) {
		ret = fcall(t, SYS_lseek, fe->fd, rf->pos, SEEK_SET);
		if (ret != (long)rf->pos) {
			errno = ret < 0 ? -ret : EIO;
			pr_perror("PID %d: can't seek fd %u (%s) to %llu", t->pid,
				  fe->fd, rf->path, (unsigned long long)rf->pos);
			return -1;
		}
	}
	return 0;
}

/* fds are restored in increasing order, so a temporary fd never lands on one still to come */
int files_restore(struct rst_task *t, int dirfd)
{
	size_t i;

	if (reg_files_load(dirfd))
		return -1;
	for (i = 0; i < t->n_fds; i++)
		if (restore_one_fd(t, t->fds[i], i))
			return -1;
	return 0;
}
