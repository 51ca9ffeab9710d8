// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fd table and regular files: path, open flags, offset, fd number and
 * FD_CLOEXEC. Directories and the simple character devices (/dev/null,
 * /dev/zero, /dev/full, /dev/random, /dev/urandom) are reopened by path too.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <bsd/sys/tree.h>

#include "files.h"
#include "images.h"
#include "log.h"
#include "syscalls.h"
#include "task.h"

/*
 * Every description dumped so far, ordered by inode, then by kcmp(KCMP_FILE),
 * which orders the kernel's file objects: an fd finds the description it
 * shares (in this task or another) in O(log n) kcmp calls, and fds of
 * different inodes are never compared by kcmp at all.
 */
struct dumped_file {
	RB_ENTRY(dumped_file) node;
	pid_t pid;
	int fd;
	dev_t dev;
	ino_t ino;
	unsigned int id;
	const struct fd_kind *kind;
};

RB_HEAD(desc_tree, dumped_file);

struct files_dumper {
	const struct dump_tree *tree;
	struct dump_task *t;
	size_t cap;
	unsigned int next_id;
	struct desc_tree descs;
	struct arena arena;		/* the tree's nodes */
};

#define KCMP_FILE	0
#define KCMP_FILES	2

/* a failed kcmp() can't stop the tree code: noted here, checked after */
static int kcmp_failed;

static int desc_cmp(const struct dumped_file *a, const struct dumped_file *b)
{
	long r;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	r = syscall(SYS_kcmp, a->pid, b->pid, KCMP_FILE, a->fd, b->fd);
	if (r < 0 && !kcmp_failed) {
		kcmp_failed = 1;
		pr_perror("kcmp of PID %d fd %d and PID %d fd %d", a->pid,
			  a->fd, b->pid, b->fd);
	}
	return r == 0 ? 0 : r == 2 ? 1 : -1;
}

/* libbsd leaves __unused undefined, which RB_GENERATE_STATIC needs */
RB_GENERATE_INTERNAL(desc_tree, dumped_file, node, desc_cmp,
		     __attribute__((unused)) static)

/*
 * The fd's description: the one dumped before that it shares (*found set),
 * or a new node, already in the tree, that the caller dumps. NULL: failed.
 */
static struct dumped_file *desc_lookup(struct files_dumper *fdd, int fd,
				       const struct stat *st, int *found)
{
	struct dumped_file *n, *old;

	n = arena_alloc(&fdd->arena, sizeof(*n));
	if (!n)
		return NULL;
	*n = (struct dumped_file){ .pid = fdd->t->pid, .fd = fd,
				   .dev = st->st_dev, .ino = st->st_ino };
	old = RB_INSERT(desc_tree, &fdd->descs, n);
	if (kcmp_failed)
		return NULL;
	*found = old != NULL;
	return old ? old : n;
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

/* A socket's protocol as sockfs names it (UNIX, NETLINK, TCP...). */
static const char *socket_kind(pid_t pid, int fd, char *buf, size_t size)
{
	char path[64], proto[32];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = getxattr(path, "system.sockprotoname", proto, sizeof(proto) - 1);
	if (n <= 0)
		return "socket";
	proto[n] = '\0';
	snprintf(buf, size, "%s socket", proto);
	return buf;
}

static const char *fd_kind(pid_t pid, int fd, mode_t mode, const char *link,
			   char *buf, size_t size)
{
	if (!strncmp(link, "pipe:", 5))
		return "pipe";
	if (!strncmp(link, "socket:", 7))
		return socket_kind(pid, fd, buf, size);
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

/*
 * The kinds, asked in this order whether an fd is theirs; regular files
 * (anything reopened by path) last. Indexed by type at restore.
 */
static const struct fd_kind *const fd_kinds[] = {
	&pipe_kind,
	&unix_sk_kind,
	&eventfd_kind,
	&epoll_kind,
	&signalfd_kind,
	&timerfd_kind,
	&inotify_kind,
	&tty_kind,
	&inet_sk_kind,
	&reg_file_kind,
};

static const struct fd_kind *fd_kind_of(FdType type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->type == type)
			return fd_kinds[i];
	return NULL;
}

/* Is LINK (readlink of an fd) anon_inode:[NAME] (inotify: no brackets)? */
static int fd_is_anon(const char *link, const char *name)
{
	size_t len = strlen(name);
	int br;

	if (strncmp(link, "anon_inode:", 11))
		return 0;
	link += 11;
	br = link[0] == '[';
	return !strncmp(link + br, name, len) &&
	       !strcmp(link + br + len, br ? "]" : "");
}

static int kind_match(const struct fd_kind *k, const struct stat *st,
		      const char *link)
{
	return k->anon ? fd_is_anon(link, k->anon) : k->match(st, link);
}

/* The kind that dumps this fd, or NULL: refused, naming task, fd and kind. */
static const struct fd_kind *fd_kind_match(pid_t pid, int fd,
					   const struct stat *st,
					   const char *link)
{
	char buf[48];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (kind_match(fd_kinds[i], st, link))
			return fd_kinds[i];
	pr_err("PID %d: fd %d is a %s (%s), which criu-lite can't dump yet\n",
	       pid, fd, fd_kind(pid, fd, st->st_mode, link, buf, sizeof(buf)),
	       link);
	return NULL;
}

int fd_dump_take(const struct fd_dump_ctx *c)
{
	int fd = sys_pidfd_getfd(c->t->ref.pidfd, c->fd, 0);

	if (fd < 0)
		pr_perror("PID %d: can't take fd %d (%s) to dump it (pidfd_getfd)",
			  c->t->pid, c->fd, c->link);
	return fd;
}

int files_load_msgs(int dirfd, enum img_kind_id kind,
		    const ProtobufCMessageDescriptor *desc, void ***v,
		    size_t *n)
{
	struct cr_img *img;
	ProtobufCMessage *msg;
	size_t cap = *n;
	int ret;

	img = open_image(dirfd, kind, 0);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, desc, &msg)) == 1) {
		if (*n == cap) {
			void **nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(*v, cap * sizeof(*nv));
			if (!nv) {
				pr_err("Out of memory loading %s\n", img->name);
				protobuf_c_message_free_unpacked(msg, NULL);
				ret = -1;
				break;
			}
			*v = nv;
		}
		(*v)[(*n)++] = msg;
	}
	img_close(img);
	return ret;
}

int files_image_exists(int dirfd, enum img_kind_id kind)
{
	return !(faccessat(dirfd, img_kinds[kind].fmt, F_OK, 0) &&
		 errno == ENOENT);
}

/* Regular files, directories and the simple character devices, by path. */
static struct fd_image reg_image = { .kind = IMG_REG_FILES };

static int reg_match(const struct stat *st, const char *link)
{
	return link[0] == '/' &&
	       (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ||
		(S_ISCHR(st->st_mode) && simple_chrdev(st->st_rdev)));
}

static int reg_dump_start(int dirfd)
{
	deleted_dump_start(dirfd);
	return 0;
}

static int reg_dump_finish(void)
{
	return deleted_dump_finish();
}

static int reg_dump(const struct fd_dump_ctx *c)
{
	RegFileEntry rf = REG_FILE_ENTRY__INIT;
	char path[PATH_MAX];

	rf.path = (char *)c->link;
	if (deleted_link(c->link) &&
	    deleted_dump(c, &rf, path, sizeof(path)))
		return -1;
	rf.id = c->id;
	rf.flags = c->fi->flags & ~O_CLOEXEC;
	rf.pos = c->fi->pos;
	rf.mode = c->st->st_mode;
	rf.size = c->st->st_size;
	if (S_ISCHR(c->st->st_mode)) {
		rf.has_rdev = 1;
		rf.rdev = c->st->st_rdev;
	}
	return fd_image_write(&reg_image, &rf.base);
}

static int add_fdinfo(struct files_dumper *fdd, int fd, int cloexec,
		      FdType type, uint32_t id)
{
	struct dump_task *t = fdd->t;
	FdinfoEntry *fe;

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
	fe->cloexec = cloexec;
	fe->type = type;
	fe->id = id;
	t->fds[t->n_fds++] = fe;
	return 0;
}

static int dump_one_fd(pid_t pid, int fd, void *arg)
{
	struct files_dumper *fdd = arg;
	struct dumped_file *df;
	const struct fd_kind *kind;
	char name[64], link[4096];
	struct fd_dump_ctx c;
	struct proc_fdinfo fi;
	struct stat st;
	int found;

	snprintf(name, sizeof(name), "fd/%d", fd);
	if (proc_readlink(pid, name, link, sizeof(link)))
		return -1;
	snprintf(name, sizeof(name), "/proc/%d/fd/%d", pid, fd);
	if (stat(name, &st)) {
		pr_perror("PID %d: can't stat fd %d (%s)", pid, fd, link);
		return -1;
	}
	kind = fd_kind_match(pid, fd, &st, link);
	if (!kind || proc_parse_fdinfo(pid, fd, &fi))
		return -1;
	df = desc_lookup(fdd, fd, &st, &found);
	if (!df)
		return -1;
	c = (struct fd_dump_ctx){ fdd->tree, fdd->t, fd, link, &st, &fi,
				  found ? df->id : ++fdd->next_id };
	if (fi.n_locks && file_locks_dump_fd(&c, !found))
		return -1;
	if (found)
		return add_fdinfo(fdd, fd, !!(fi.flags & O_CLOEXEC),
				  df->kind->type, df->id);
	df->id = c.id;
	df->kind = kind;
	if (kind->dump(&c))
		return -1;
	pr_debug("PID %d: fd %d -> %s %s flags %#o pos %" PRIu64 "\n", pid,
		 fd, kind->name, link, fi.flags, fi.pos);
	return add_fdinfo(fdd, fd, !!(fi.flags & O_CLOEXEC), kind->type, c.id);
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

/* kcmp(KCMP_FILES) orders fd tables: equal ones end up side by side */
static int cmp_fd_tables(const void *a, const void *b)
{
	const struct dump_task *x = *(struct dump_task *const *)a;
	const struct dump_task *y = *(struct dump_task *const *)b;
	long r = syscall(SYS_kcmp, x->pid, y->pid, KCMP_FILES, 0, 0);

	return r == 1 ? -1 : r == 2 ? 1 : 0;
}

/* The first of the processes that share T's fd table through parents. */
static const struct dump_task *table_owner(const struct dump_task *t)
{
	while (t->files_of)
		t = t->parent;
	return t;
}

/*
 * Processes sharing one fd table (clone(CLONE_FILES) without CLONE_THREAD)
 * come back sharing it if each shares its parent's: restore clones such a
 * child with CLONE_FILES, and only the first of them has its fds dumped.
 * Any other sharing (between siblings, say) is refused.
 */
static int mark_shared_tables(struct dump_tree *tree)
{
	struct dump_task **v;
	size_t i, n = 0;
	long r;
	int ret = 0;

	for (i = 0; i < tree->n; i++) {
		struct dump_task *t = tree->tasks[i];

		t->files_of = 0;
		if (t->zombie || !t->parent || t->parent->zombie)
			continue;
		r = syscall(SYS_kcmp, t->parent->pid, t->pid, KCMP_FILES, 0, 0);
		if (r < 0) {
			pr_perror("PID %d: can't compare its fd table with its parent's",
				  t->pid);
			return -1;
		}
		if (r == 0)
			t->files_of = t->parent->pid;
	}
	v = malloc(tree->n * sizeof(*v));
	if (!v) {
		pr_err("Out of memory comparing fd tables\n");
		return -1;
	}
	for (i = 0; i < tree->n; i++)
		if (!tree->tasks[i]->zombie)
			v[n++] = tree->tasks[i];
	qsort(v, n, sizeof(*v), cmp_fd_tables);
	for (i = 1; i < n && !ret; i++) {
		if (syscall(SYS_kcmp, v[i - 1]->pid, v[i]->pid, KCMP_FILES, 0,
			    0) || table_owner(v[i - 1]) == table_owner(v[i]))
			continue;
		pr_err("PID %d shares its fd table with PID %d (clone CLONE_FILES), but not through its parent: criu-lite can't restore that\n",
		       v[i]->pid, v[i - 1]->pid);
		ret = -1;
	}
	free(v);
	return ret;
}

int fd_image_write(struct fd_image *im, const ProtobufCMessage *msg)
{
	return img_write_msg(im->img, msg);
}

static int kinds_dump_tree(const struct dump_tree *tree)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->dump_tree && fd_kinds[i]->dump_tree(tree))
			return -1;
	return 0;
}

/* The kinds' images, I of them opened: closed again. */
static int kinds_dump_finish(size_t n)
{
	const struct fd_kind *k;
	int ret = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		k = fd_kinds[i];
		if (k->dump_finish && k->dump_finish())
			ret = -1;
		if (k->image && img_close_write(k->image->img))
			ret = -1;
		if (k->image)
			k->image->img = NULL;
	}
	return ret;
}

static int kind_dump_start(const struct fd_kind *k, int dirfd)
{
	if (k->image) {
		k->image->img = create_image(dirfd, k->image->kind, 0);
		if (!k->image->img)
			return -1;
	}
	if (k->dump_start && k->dump_start(dirfd)) {
		if (k->image)
			img_close_write(k->image->img);
		return -1;
	}
	return 0;
}

static int kinds_dump_start(int dirfd)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (kind_dump_start(fd_kinds[i], dirfd)) {
			kinds_dump_finish(i);
			return -1;
		}
	return 0;
}

void files_dump_release(int kill)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->dump_release)
			fd_kinds[i]->dump_release(kill);
}

void files_dump_unlock(int kill)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->dump_unlock)
			fd_kinds[i]->dump_unlock(kill);
}

/* One image (or two) per kind for the tree, one fdinfo image per process. */
int files_dump(int dirfd, struct dump_tree *tree)
{
	struct files_dumper fdd = { .descs = RB_INITIALIZER(&fdd.descs) };
	size_t i;
	int ret = 0;

	kcmp_failed = 0;
	if (mark_shared_tables(tree) || kinds_dump_start(dirfd))
		return -1;
	fdd.tree = tree;
	if (file_locks_dump_start(dirfd)) {
		kinds_dump_finish(ARRAY_SIZE(fd_kinds));
		return -1;
	}
	for (i = 0; i < tree->n && !ret; i++) {
		if (tree->tasks[i]->zombie)
			continue;
		fdd.t = tree->tasks[i];
		fdd.cap = 0;
		/* a table shared with the parent is the parent's: dumped there */
		if (!fdd.t->files_of)
			ret = proc_for_each_fd(fdd.t->pid, dump_one_fd, &fdd);
		if (!ret)
			ret = fdinfo_write(dirfd, fdd.t);
	}
	arena_free(&fdd.arena);
	if (!ret)
		ret = kinds_dump_tree(tree);
	if (file_locks_dump_finish() | kinds_dump_finish(ARRAY_SIZE(fd_kinds)) ||
	    ret)
		return -1;
	return 0;
}

/*
 * Restore side.
 *
 * criu-lite itself opens every open file description of the tree once
 * (files_create), while all tasks are stopped, and each task takes the ones
 * its fds name with an injected pidfd_getfd() on criu-lite's pidfd, which
 * every task inherited from the restorer at the same fd number (sync_setup
 * opens it before the tree is forked). pidfd_getfd() duplicates the
 * description itself, so fds of several tasks come back as one description
 * again: one offset, one set of status flags.
 *
 * The other ways: the first task to restore a description opens it and the
 * later ones pidfd_getfd() it from that task; but with --pidns, or across
 * nested PID namespaces, a later task may not see the first one's PID to
 * pidfd_open() it. SCM_RIGHTS over a unix socket costs a socket per task and
 * more injected calls; opening /proc/CTL/fd/N makes a new description. The
 * cost of this way: criu-lite holds every description open until the tree is
 * rebuilt (its RLIMIT_NOFILE is raised to the hard limit), and the tasks must
 * be allowed to ptrace criu-lite (they are root until creds_restore()).
 * Measured on one process: restore takes about 20 us more per description
 * of a regular file (open and lseek here, pidfd_getfd there) and 5 us per
 * pipe fd (README.md, "Pipes and FIFOs").
 */

static struct {
	int *fd;		/* by id - 1: criu-lite's copy, -1: not yet */
	size_t n;
	int ctl;		/* criu-lite's pidfd, as every task inherited it */
} descs = { .ctl = -1 };

/* reg-files.img is loaded (by id) before: the deleted files' contents */
static int reg_load(int dirfd)
{
	return deleted_load(dirfd, (RegFileEntry *const *)reg_image.v,
			    reg_image.n);
}

static const RegFileEntry *reg_file_find(uint32_t id)
{
	return fd_image_find(&reg_image, id);
}

static int validate_reg(const struct rst_task *t, const FdinfoEntry *fe)
{
	const RegFileEntry *rf = reg_file_find(fe->id);
	struct stat st;

	/* the entry is there: kind_validate() checked */
	if (rf->has_contents_id)
		return deleted_validate(t, fe, rf);
	if (stat(rf->path, &st)) {
		pr_perror("PID %d: fd %u: can't find %s (it was there at dump)",
			  t->pid, fe->fd, rf->path);
		return -1;
	}
	if ((st.st_mode & S_IFMT) != (rf->mode & S_IFMT)) {
		pr_err("PID %d: fd %u: %s is no longer the same kind of file\n",
		       t->pid, fe->fd, rf->path);
		return -1;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size != rf->size)
		pr_warn("PID %d: fd %u: %s is now %lld bytes, it was %llu at dump (offset %llu)\n",
			t->pid, fe->fd, rf->path, (long long)st.st_size,
			(unsigned long long)rf->size,
			(unsigned long long)rf->pos);
	return 0;
}

/* The id of an entry of an fd_image: its field "id". */
static uint32_t entry_id(const ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor,
								"id");

	return *(const uint32_t *)((const char *)m + f->offset);
}

static int cmp_entry_id(const void *a, const void *b)
{
	uint32_t x = entry_id(*(ProtobufCMessage *const *)a);
	uint32_t y = entry_id(*(ProtobufCMessage *const *)b);

	return x < y ? -1 : x > y;
}

ssize_t fd_image_pos(const struct fd_image *im, uint32_t id)
{
	size_t lo = 0, hi = im->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t got = entry_id(im->v[mid]);

		if (got == id)
			return mid;
		if (got < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const void *fd_image_find(const struct fd_image *im, uint32_t id)
{
	ssize_t pos = fd_image_pos(im, id);

	return pos < 0 ? NULL : im->v[pos];
}

/* An image of entries by id; absent in a dump made before the kind was. */
static int fd_image_load(struct fd_image *im, int dirfd)
{
	const struct img_kind *ik = &img_kinds[im->kind];
	size_t i;

	if (!files_image_exists(dirfd, im->kind))
		return 0;
	if (files_load_msgs(dirfd, im->kind, ik->entry, (void ***)&im->v,
			    &im->n))
		return -1;
	if (im->n > 1)
		qsort(im->v, im->n, sizeof(*im->v), cmp_entry_id);
	for (i = 1; i < im->n; i++)
		if (entry_id(im->v[i - 1]) == entry_id(im->v[i])) {
			pr_err("Image %s: description %u appears twice\n",
			       ik->fmt, entry_id(im->v[i]));
			return -1;
		}
	return 0;
}

/* Every kind's images, once; a kind whose images are absent has no fds. */
static int kinds_load(int dirfd)
{
	static int loaded;
	const struct fd_kind *k;
	size_t i;

	if (loaded)
		return 0;
	loaded = 1;
	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++) {
		k = fd_kinds[i];
		if (k->image && fd_image_load(k->image, dirfd))
			return -1;
		if (k->load && k->load(dirfd))
			return -1;
	}
	return file_locks_load(dirfd);
}

static int kind_validate(const struct fd_kind *k, const struct rst_task *t,
			 const FdinfoEntry *fe)
{
	if (k->image && !fd_image_find(k->image, fe->id)) {
		pr_err("PID %d: fd %u refers to %s %u, which %s does not have\n",
		       t->pid, fe->fd, k->name, fe->id,
		       img_kinds[k->image->kind].fmt);
		return -1;
	}
	return k->validate ? k->validate(t, fe) : 0;
}

int files_validate(int dirfd, struct rst_task *t)
{
	size_t i;

	if (kinds_load(dirfd))
		return -1;
	if (t->pe->files_of && t->n_fds) {
		pr_err("PID %d shares the fd table of PID %u, yet has fds of its own in fdinfo-%d.img\n",
		       t->pid, t->pe->files_of, t->pid);
		return -1;
	}
	for (i = 0; i < t->n_fds; i++) {
		const FdinfoEntry *fe = t->fds[i];
		const struct fd_kind *kind = fd_kind_of(fe->type);

		if (!kind) {
			pr_err("PID %d: fd %u is of unknown type %d\n", t->pid,
			       fe->fd, fe->type);
			return -1;
		}
		if (kind_validate(kind, t, fe))
			return -1;
	}
	return 0;
}

/* criu-lite's own copy of a regular file's description */
static int reg_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	const RegFileEntry *rf = reg_file_find(fe->id);
	int flags = rf->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY);
	int fd;

	if (rf->has_contents_id) {
		fd = deleted_open(t, fe, rf, flags);
		if (fd < 0)
			return -1;
	} else {
		fd = open(rf->path, flags | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("PID %d: can't reopen %s for fd %u", t->pid,
				  rf->path, fe->fd);
			return -1;
		}
	}
	if (!S_ISCHR(rf->mode) && rf->pos &&
	    lseek(fd, rf->pos, SEEK_SET) != (off_t)rf->pos) {
		pr_perror("PID %d: can't seek %s (fd %u) to %llu", t->pid,
			  rf->path, fe->fd, (unsigned long long)rf->pos);
		close(fd);
		return -1;
	}
	return fd;
}

static int descs_alloc(struct rst_tree *tree)
{
	uint32_t max = 0;
	size_t i, j;

	for (i = 0; i < tree->n_tasks; i++)
		for (j = 0; j < tree->tasks[i].n_fds; j++)
			if (tree->tasks[i].fds[j]->id > max)
				max = tree->tasks[i].fds[j]->id;
	descs.fd = malloc((max + 1) * sizeof(int));
	if (!descs.fd) {
		pr_err("Out of memory for %u file descriptions\n", max);
		return -1;
	}
	for (i = 0; i <= max; i++)
		descs.fd[i] = -1;
	descs.n = max + 1;
	return 0;
}

/* Room for N more fds in criu-lite, which holds every description. */
static int raise_nofile(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur >= n + 64)
		return 0;
	if (rl.rlim_max < n + 64) {
		pr_err("The tree holds %zu open file descriptions; criu-lite may only open %llu files (RLIMIT_NOFILE)\n",
		       n, (unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		pr_perror("Can't raise criu-lite's RLIMIT_NOFILE to %llu",
			  (unsigned long long)rl.rlim_max);
		return -1;
	}
	return 0;
}

/* criu-lite's pidfd, as every task inherits it: once the tree exists. */
void files_set_ctl(int ctl)
{
	descs.ctl = ctl;
}

/*
 * Open every description of the tree in criu-lite, the first time a task's
 * fd names it (so a failure names that task and fd).
 */
int files_create(struct rst_tree *tree)
{
	size_t i, j;
	int fd;

	if (descs_alloc(tree) || raise_nofile(2 * descs.n))
		return -1;
	for (i = 0; i < tree->n_tasks; i++) {
		const struct rst_task *t = &tree->tasks[i];

		for (j = 0; j < t->n_fds; j++) {
			const FdinfoEntry *fe = t->fds[j];

			if (descs.fd[fe->id] >= 0)
				continue;
			fd = fd_kind_of(fe->type)->open(t, fe);
			if (fd < 0)
				return -1;
			descs.fd[fe->id] = fd;
			if (file_locks_restore_desc(fe->id, fd))
				return -1;
		}
	}
	return 0;
}

/* Once every task holds its copies: criu-lite's go (a pipe's EOF needs it). */
void files_release(void)
{
	size_t i;

	for (i = 0; i < descs.n; i++)
		if (descs.fd[i] >= 0)
			close(descs.fd[i]);
	free(descs.fd);
	descs.fd = NULL;
	descs.n = 0;
	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->release)
			fd_kinds[i]->release();
	file_locks_release();
}

void files_restored(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->restored)
			fd_kinds[i]->restored();
}

/* Close every fd the task inherited from the restorer, but criu-lite's pidfd. */
int files_close_inherited(struct rst_task *t)
{
	long ret = 0;

	/* the parent's table, in place already: the parent closed them */
	if (t->pe->files_of)
		return 0;
	if (descs.ctl > 0 &&
	    remote_syscall(&t->remote, &ret, SYS_close_range, 0, descs.ctl - 1,
			   0, 0, 0, 0))
		return -1;
	if (!ret && remote_syscall(&t->remote, &ret, SYS_close_range,
				   descs.ctl + 1, ~0U, 0, 0, 0, 0))
		return -1;
	if (ret) {
		errno = -ret;
		pr_perror("PID %d: close_range", t->pid);
		return -1;
	}
	return 0;
}

long fcall(struct rst_task *t, long nr, long a1, long a2, long a3)
{
	long ret;

	if (remote_syscall(&t->remote, &ret, nr, a1, a2, a3, 0, 0, 0))
		return -EIO;
	return ret;
}

static const char *desc_name(const FdinfoEntry *fe, char *buf, size_t size)
{
	const struct fd_kind *k = fd_kind_of(fe->type);

	return k->describe ? k->describe(fe->id, buf, size) : k->name;
}

static const char *reg_describe(uint32_t id, char *buf, size_t size)
{
	const RegFileEntry *rf = reg_file_find(id);

	(void)buf;
	(void)size;
	return rf ? rf->path : "?";
}

const struct fd_kind reg_file_kind = {
	.type = FD_TYPE__FD_REG,
	.name = "file",
	.image = &reg_image,
	.match = reg_match,
	.dump_start = reg_dump_start,
	.dump = reg_dump,
	.dump_finish = reg_dump_finish,
	.load = reg_load,
	.validate = validate_reg,
	.open = reg_open,
	.describe = reg_describe,
	.release = deleted_release,
};

/* Each kind's work once the task holds its whole table. */
static int kinds_restore_task(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->restore_task && fd_kinds[i]->restore_task(t))
			return -1;
	return 0;
}

/*
 * An fd sharing its file description with an earlier fd of the task is a
 * dup of that one. FIRST: by id, the task's first fd of it, or -1.
 */
static int restore_one_fd(struct rst_task *t, const FdinfoEntry *fe,
			  int *first, int ctl)
{
	char name[64];
	long fd, ret;

	if (first[fe->id] >= 0) {
		ret = fcall(t, SYS_dup3, first[fe->id], fe->fd,
			    fe->cloexec ? O_CLOEXEC : 0);
		if (ret < 0) {
			errno = -ret;
			pr_perror("PID %d: can't dup fd %d to %u", t->pid,
				  first[fe->id], fe->fd);
			return -1;
		}
		return 0;
	}
	first[fe->id] = fe->fd;
	fd = fcall(t, __NR_pidfd_getfd, ctl, descs.fd[fe->id], 0);
	if (fd < 0) {
		errno = -fd;
		pr_perror("PID %d: can't take %s for fd %u from criu-lite (pidfd_getfd)",
			  t->pid, desc_name(fe, name, sizeof(name)), fe->fd);
		return -1;
	}
	/* pidfd_getfd() sets FD_CLOEXEC */
	if (fd == (long)fe->fd)
		ret = fe->cloexec ? 0 : fcall(t, SYS_fcntl, fd, F_SETFD, 0);
	else
		ret = fcall(t, SYS_dup3, fd, fe->fd,
			    fe->cloexec ? O_CLOEXEC : 0);
	if (fd != (long)fe->fd)
		fcall(t, SYS_close, fd, 0, 0);
	if (ret < 0) {
		errno = -ret;
		pr_perror("PID %d: can't move %s to fd %u", t->pid,
			  desc_name(fe, name, sizeof(name)), fe->fd);
		return -1;
	}
	return 0;
}

/* The lowest fd number the task's table does not use (fds are sorted). */
static int free_slot(const struct rst_task *t)
{
	uint32_t want = 0;
	size_t i;

	for (i = 0; i < t->n_fds && t->fds[i]->fd == want; i++)
		want++;
	return want;
}

static int in_table(const struct rst_task *t, int fd)
{
	size_t i;

	for (i = 0; i < t->n_fds; i++)
		if (t->fds[i]->fd == (uint32_t)fd)
			return 1;
	return 0;
}

/*
 * Whose fds the task takes: criu-lite's, through the pidfd in slot CTL. In a
 * user namespace of ours, ptrace rules forbid that (criu-lite is outside
 * it), so the task takes them from its PID 1, a fork of criu-lite made after
 * the descriptions were opened, which holds them at the same numbers until
 * the tree is rebuilt.
 */
static int files_source(struct rst_task *t, int ctl)
{
	long fd;

	if (!opts.userns)
		return ctl;
	fd = fcall(t, __NR_pidfd_open, 1, 0, 0);
	if (fd < 0) {
		errno = -fd;
		pr_perror("PID %d: can't open a pidfd for its PID 1", t->pid);
		return -1;
	}
	/* above every fd the table will hold, and above the slot CTL */
	if (in_table(t, fd)) {
		long above = t->fds[t->n_fds - 1]->fd + 1, moved;

		if (above <= ctl)
			above = ctl + 1;
		moved = fcall(t, SYS_fcntl, fd, F_DUPFD_CLOEXEC, above);

		fcall(t, SYS_close, fd, 0, 0);
		if (moved < 0) {
			errno = -moved;
			pr_perror("PID %d: no room for a pidfd of its PID 1",
				  t->pid);
			return -1;
		}
		fd = moved;
	}
	return fd;
}

/*
 * fds are restored in increasing order, so the lowest free fd that
 * pidfd_getfd() returns never lands on one still to come; criu-lite's pidfd
 * first moves out of the way if the table uses its number.
 */
int files_restore(struct rst_task *t, int dirfd)
{
	int ctl = descs.ctl, src, ret = 0, *first;
	size_t i;
	long r;

	(void)dirfd;
	/* the parent's table: restored with the parent's */
	if (t->pe->files_of)
		return 0;
	first = malloc(descs.n * sizeof(*first));
	if (!first) {
		pr_err("PID %d: out of memory for %zu descriptions\n", t->pid,
		       descs.n);
		return -1;
	}
	for (i = 0; i < descs.n; i++)
		first[i] = -1;
	if (in_table(t, ctl)) {
		ctl = free_slot(t);
		r = fcall(t, SYS_dup3, descs.ctl, ctl, O_CLOEXEC);
		if (r < 0) {
			errno = -r;
			pr_perror("PID %d: no room for criu-lite's pidfd at fd %d",
				  t->pid, ctl);
			return -1;
		}
		fcall(t, SYS_close, descs.ctl, 0, 0);
	}
	src = files_source(t, ctl);
	for (i = 0; src >= 0 && i < t->n_fds && !ret; i++)
		ret = restore_one_fd(t, t->fds[i], first, src);
	free(first);
	if (src < 0)
		return -1;
	if (src != ctl)
		fcall(t, SYS_close, src, 0, 0);
	fcall(t, SYS_close, ctl, 0, 0);
	/* POSIX locks last: closing any fd of a file would drop them */
	return ret || kinds_restore_task(t) ? -1 : file_locks_restore_task(t);
}
