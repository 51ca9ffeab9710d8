// SPDX-License-Identifier: GPL-2.0-only
/*
 * Terminals. Each open file description of a terminal is an entry of
 * tty.img (a pty master, a pty slave, or the shell job's own terminal),
 * referenced by id from the fd tables; each terminal is an entry of
 * tty-info.img: its termios, window size, packet mode, lock and exclusive
 * mode, and the session it controls with its foreground group. An fd
 * opened as /dev/tty is dumped as the terminal it stands for (TIOCGDEV).
 *
 * A pty pair comes back only when its master is in the tree: restore opens
 * /dev/ptmx for a new pair (its index may differ: reported), sets it up as
 * it was and reaches the slave through the master (TIOCGPTPEER), so no path
 * lookup in /dev/pts is needed. A slave whose master is held outside the
 * tree (an ssh or tmux session) is refused, unless it is the controlling
 * terminal of a shell job's outside session (--shell-job): that terminal is
 * the caller's, and restore gives the job criu-lite's own terminal instead
 * (its stdin, else /dev/tty), as a shell would. The leader of a session
 * with a pty in the tree takes it as controlling terminal again right after
 * its setsid() at restore (TIOCSCTTY on criu-lite's copy of the slave, which
 * it inherited), before it forks the members of its session, who inherit
 * it as they did; once every group exists, it puts the foreground group
 * back (an injected TIOCSPGRP). Lock and exclusive mode come last: they
 * would keep the slave's other descriptions from being opened.
 *
 * Not kept: bytes queued in a pty (written but not read yet; reading them
 * would take them from the application): dump warns about them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "files.h"
#include "images.h"
#include "log.h"
#include "task.h"

#define TTYAUX_MAJOR	5	/* /dev/tty, /dev/console, /dev/ptmx */
#define PTMX_MINOR	2
#define PTS_MAJOR_FIRST	136	/* UNIX98_PTY_SLAVE_MAJOR, 8 majors */
#define PTS_MAJOR_LAST	143
#define TTY_MAJOR	4	/* /dev/ttyN, /dev/ttySN */

/* What F_SETFL sets on a terminal's description and restore gives back. */
#define TTY_STATUS_FLAGS	(O_NONBLOCK | O_APPEND)

static int is_ptmx(dev_t rdev)
{
	return major(rdev) == TTYAUX_MAJOR && minor(rdev) == PTMX_MINOR;
}

static int is_dev_tty(dev_t rdev)
{
	return major(rdev) == TTYAUX_MAJOR && minor(rdev) == 0;
}

static int is_pts(dev_t rdev)
{
	return major(rdev) >= PTS_MAJOR_FIRST && major(rdev) <= PTS_MAJOR_LAST;
}

static unsigned int pts_index(dev_t rdev)
{
	return (major(rdev) - PTS_MAJOR_FIRST) * 256 + minor(rdev);
}

static dev_t pts_rdev(unsigned int index)
{
	return makedev(PTS_MAJOR_FIRST + index / 256, index % 256);
}

/* Dump side */

struct dump_tty {
	TtyInfoEntry e;
	TermiosEntry tio;
	WinsizeEntry ws;
	uint8_t cc[NCCS];
	int has_settings;	/* tio, ws: read (not for a terminal without fds) */
	int has_master;
	pid_t pid;		/* the first holder, for messages */
	int fd;
	int queued_in, queued_out;	/* bytes not kept */
};

static struct {
	struct cr_img *ents, *infos;
	struct dump_tty *v;
	size_t n, cap;
} dt;

static int tty_match(const struct stat *st, const char *link)
{
	dev_t rdev = st->st_rdev;

	(void)link;
	return S_ISCHR(st->st_mode) &&
	       (is_ptmx(rdev) || is_dev_tty(rdev) || is_pts(rdev) ||
		major(rdev) == TTY_MAJOR);
}

static const struct dump_task *dump_root(const struct dump_task *t)
{
	while (t->parent)
		t = t->parent;
	return t;
}

/*
 * The shell job's terminal: --shell-job, the root's session is outside the
 * tree, and RDEV is that session's controlling terminal.
 */
static int shell_job_tty(const struct dump_task *root, dev_t rdev)
{
	return opts.shell_job && root->stat.sid != root->pid &&
	       root->stat.tty_nr && (dev_t)root->stat.tty_nr == rdev;
}

static const char *tty_name(const struct dump_tty *d, char *buf, size_t size)
{
	if (d->e.inherited)
		snprintf(buf, size, "the shell job's terminal %u:%u",
			 major(d->e.rdev), minor(d->e.rdev));
	else
		snprintf(buf, size, "/dev/pts/%u", d->e.index);
	return buf;
}

static struct dump_tty *dtty_find(int inherited, dev_t rdev)
{
	size_t i;

	for (i = 0; i < dt.n; i++)
		if (dt.v[i].e.inherited == inherited && dt.v[i].e.rdev == rdev)
			return &dt.v[i];
	return NULL;
}

static struct dump_tty *dtty_add(int inherited, dev_t rdev, pid_t pid, int fd)
{
	struct dump_tty *d;

	if (dt.n == dt.cap) {
		size_t cap = dt.cap ? dt.cap * 2 : 8;

		d = realloc(dt.v, cap * sizeof(*d));
		if (!d) {
			pr_err("Out of memory for %zu terminals\n", cap);
			return NULL;
		}
		dt.v = d;
		dt.cap = cap;
	}
	d = &dt.v[dt.n++];
	memset(d, 0, sizeof(*d));
	tty_info_entry__init(&d->e);
	termios_entry__init(&d->tio);
	winsize_entry__init(&d->ws);
	d->e.id = dt.n;
	d->e.inherited = inherited;
	d->e.rdev = rdev;
	d->e.index = is_pts(rdev) ? pts_index(rdev) : 0;
	d->pid = pid;
	d->fd = fd;
	return d;
}

/* termios and window size, through any fd of the terminal */
static int dtty_settings(struct dump_tty *d, int fd, const struct fd_dump_ctx *c)
{
	struct termios tio;
	struct winsize ws;
	if (tcgetattr(fd, &tio) || ioctl(fd, TIOCGWINSZ, &ws)) {
		pr_perror("PID %d: fd %d (%s): can't read its terminal settings",
			  c->t->pid, c->fd, c->link);
		return -1;
	}
	d->tio.iflag = tio.c_iflag;
	d->tio.oflag = tio.c_oflag;
	d->tio.cflag = tio.c_cflag;
	d->tio.lflag = tio.c_lflag;
	d->tio.line = tio.c_line;
	memcpy(d->cc, tio.c_cc, NCCS);
	d->tio.ispeed = cfgetispeed(&tio);
	d->tio.ospeed = cfgetospeed(&tio);
	d->ws.rows = ws.ws_row;
	d->ws.cols = ws.ws_col;
	d->ws.xpixel = ws.ws_xpixel;
	d->ws.ypixel = ws.ws_ypixel;
	d->has_settings = 1;
	return 0;
}

/* What only the master tells: packet mode, lock, output not read yet. */
static int dtty_master(struct dump_tty *d, int fd, const struct fd_dump_ctx *c)
{
	int pkt, lck;

	if (ioctl(fd, TIOCGPKT, &pkt) || ioctl(fd, TIOCGPTLCK, &lck)) {
		pr_perror("PID %d: fd %d (%s, pts/%u): TIOCGPKT/TIOCGPTLCK",
			  c->t->pid, c->fd, c->link, d->e.index);
		return -1;
	}
	d->has_master = 1;
	d->e.has_packet_mode = d->e.has_locked = 1;
	d->e.packet_mode = !!pkt;
	d->e.locked = !!lck;
	if (ioctl(fd, FIONREAD, &d->queued_out))
		d->queued_out = 0;
	return 0;
}

/* What only the slave tells: exclusive mode, input not read yet. */
static int dtty_slave(struct dump_tty *d, int fd, const struct fd_dump_ctx *c)
{
	int excl;

	if (ioctl(fd, TIOCGEXCL, &excl)) {
		pr_perror("PID %d: fd %d (%s): TIOCGEXCL", c->t->pid, c->fd,
			  c->link);
		return -1;
	}
	d->e.has_exclusive = 1;
	d->e.exclusive = !!excl;
	if (ioctl(fd, FIONREAD, &d->queued_in))
		d->queued_in = 0;
	return 0;
}

/*
 * The type of the description on FD (criu-lite's copy), its terminal's
 * rdev; /dev/tty stands for the terminal it was opened on (TIOCGDEV).
 */
static int tty_classify(const struct fd_dump_ctx *c, int fd, TtyType *type,
			dev_t *rdev)
{
	unsigned int index, real;

	*rdev = c->st->st_rdev;
	if (is_dev_tty(*rdev)) {
		if (ioctl(fd, TIOCGDEV, &real)) {
			pr_perror("PID %d: fd %d (%s): which terminal is it (TIOCGDEV)",
				  c->t->pid, c->fd, c->link);
			return -1;
		}
		*rdev = real;
	}
	if (is_ptmx(*rdev)) {
		if (ioctl(fd, TIOCGPTN, &index)) {
			pr_perror("PID %d: fd %d (%s): TIOCGPTN", c->t->pid,
				  c->fd, c->link);
			return -1;
		}
		*type = TTY_TYPE__TTY_PTY_MASTER;
		*rdev = pts_rdev(index);
		return 0;
	}
	if (shell_job_tty(dump_root(c->t), *rdev)) {
		*type = TTY_TYPE__TTY_INHERITED;
		return 0;
	}
	if (is_pts(*rdev)) {
		*type = TTY_TYPE__TTY_PTY_SLAVE;
		return 0;
	}
	pr_err("PID %d: fd %d is the terminal %s, which criu-lite can't dump: only pty pairs, and with --shell-job the job's own terminal\n",
	       c->t->pid, c->fd, c->link);
	return -1;
}

static int tty_dump_fd(const struct fd_dump_ctx *c, int fd)
{
	TtyEntry te = TTY_ENTRY__INIT;
	struct dump_tty *d;
	TtyType type;
	dev_t rdev;
	int inh;

	if (tty_classify(c, fd, &type, &rdev))
		return -1;
	inh = type == TTY_TYPE__TTY_INHERITED;
	d = dtty_find(inh, rdev);
	if (!d) {
		d = dtty_add(inh, rdev, c->t->pid, c->fd);
		if (!d || dtty_settings(d, fd, c))
			return -1;
	}
	if (type == TTY_TYPE__TTY_PTY_MASTER && dtty_master(d, fd, c))
		return -1;
	if (type == TTY_TYPE__TTY_PTY_SLAVE && dtty_slave(d, fd, c))
		return -1;
	te.id = c->id;
	te.type = type;
	te.info_id = d->e.id;
	te.flags = c->fi->flags & ~O_CLOEXEC;
	if (is_dev_tty(c->st->st_rdev))
		te.has_dev_tty = te.dev_tty = 1;
	return img_write_msg(dt.ents, &te.base);
}

static int tty_dump(const struct fd_dump_ctx *c)
{
	int fd = fd_dump_take(c), ret;

	if (fd < 0)
		return -1;
	ret = tty_dump_fd(c, fd);
	close(fd);
	return ret;
}

static int tty_dump_start(int dirfd)
{
	dt.ents = create_image(dirfd, IMG_TTY, 0);
	dt.infos = dt.ents ? create_image(dirfd, IMG_TTY_INFO, 0) : NULL;
	if (!dt.infos) {
		if (dt.ents)
			img_close_write(dt.ents);
		dt.ents = NULL;
		return -1;
	}
	return 0;
}

/* A task of the tree in group PGID, or NULL. */
static const struct dump_task *dtree_group(const struct dump_tree *tree,
					   pid_t pgid)
{
	size_t i;

	for (i = 0; i < tree->n; i++)
		if (!tree->tasks[i]->zombie && tree->tasks[i]->stat.pgid == pgid)
			return tree->tasks[i];
	return NULL;
}

/* The shell job's terminal controls the job: its group may be in front. */
static int ctty_shell_job(const struct dump_task *root)
{
	dev_t rdev = root->stat.tty_nr;
	struct dump_tty *d = dtty_find(1, rdev);

	if (!d && !(d = dtty_add(1, rdev, root->pid, -1)))
		return -1;
	if (root->stat.tpgid <= 0)
		return 0;
	if (root->stat.tpgid != root->pid || root->stat.pgid != root->pid) {
		pr_info("PID %d: the job is not in the foreground of its terminal\n",
			root->pid);
		return 0;
	}
	d->e.has_fg_pgrp = d->e.has_fg_pgrp_ns = 1;
	d->e.fg_pgrp = d->e.fg_pgrp_ns = root->pid;
	return 0;
}

/* A session leader of the tree with a controlling terminal. */
static int ctty_leader(const struct dump_tree *tree, const struct dump_task *t)
{
	struct dump_tty *d = dtty_find(0, t->stat.tty_nr);
	const struct dump_task *g;
	int lv = t->status.ns_pid_levels - 1;

	if (!d) {
		pr_err("PID %d (%s) leads a session whose controlling terminal %u:%u is not open in the dumped tree: criu-lite can't recreate it\n",
		       t->pid, t->stat.comm, major(t->stat.tty_nr),
		       minor(t->stat.tty_nr));
		return -1;
	}
	d->e.has_sid = 1;
	d->e.sid = t->pid;
	if (t->stat.tpgid <= 0)
		return 0;
	g = dtree_group(tree, t->stat.tpgid);
	if (!g || g->status.ns_pid_levels <= lv) {
		pr_warn("PID %d: the foreground group %d of /dev/pts/%u is not in the tree: it comes back with the leader's in front\n",
			t->pid, t->stat.tpgid, d->e.index);
		return 0;
	}
	d->e.has_fg_pgrp = d->e.has_fg_pgrp_ns = 1;
	d->e.fg_pgrp = t->stat.tpgid;
	d->e.fg_pgrp_ns = g->status.ns_pgid[lv];
	return 0;
}

static int ctty_check(const struct dump_tree *tree, const struct dump_task *t)
{
	const struct dump_task *root = tree->tasks[0];

	if (t->zombie || !t->stat.tty_nr)
		return 0;
	/* one session, one terminal: the root speaks for the job */
	if (shell_job_tty(root, t->stat.tty_nr) &&
	    t->stat.sid == root->stat.sid)
		return t == root ? ctty_shell_job(root) : 0;
	if (t->stat.sid == t->pid)
		return ctty_leader(tree, t);
	if (tree_find(tree, t->stat.sid))
		return 0;	/* its leader restores it */
	pr_err("PID %d (%s) has the controlling terminal %u:%u of session %d, whose leader is not in the dumped tree (a shell job? --shell-job)\n",
	       t->pid, t->stat.comm, major(t->stat.tty_nr),
	       minor(t->stat.tty_nr), t->stat.sid);
	return -1;
}

/*
 * A pty comes back only with its master; every session with a terminal
 * comes back with it through its leader.
 */
static int tty_dump_tree(const struct dump_tree *tree)
{
	char name[64];
	size_t i;

	for (i = 0; i < dt.n; i++) {
		const struct dump_tty *d = &dt.v[i];

		if (d->e.inherited || d->has_master)
			continue;
		pr_err("PID %d: fd %d is %s, whose master (/dev/ptmx) is outside the dumped tree: criu-lite can't recreate the pair (%s)\n",
		       d->pid, d->fd, tty_name(d, name, sizeof(name)),
		       opts.shell_job ?
		       "--shell-job takes only the terminal of the job's outside session" :
		       "if it is the terminal the job runs on, dump it with --shell-job");
		return -1;
	}
	for (i = 0; i < tree->n; i++)
		if (ctty_check(tree, tree->tasks[i]))
			return -1;
	return 0;
}

static int tty_dump_finish(void)
{
	char name[64];
	int ret = 0;
	size_t i;

	for (i = 0; i < dt.n && !ret; i++) {
		struct dump_tty *d = &dt.v[i];

		if (d->queued_in || d->queued_out)
			pr_warn("%s: %d bytes written to the slave and %d to the master, not read yet, are not kept\n",
				tty_name(d, name, sizeof(name)),
				d->queued_out, d->queued_in);
		if (d->has_settings) {
			d->tio.cc.data = d->cc;
			d->tio.cc.len = NCCS;
			d->e.termios = &d->tio;
			d->e.winsize = &d->ws;
		}
		ret = img_write_msg(dt.infos, &d->e.base);
	}
	if (img_close_write(dt.ents) | img_close_write(dt.infos))
		ret = -1;
	free(dt.v);
	memset(&dt, 0, sizeof(dt));
	return ret;
}

/* Restore side */

struct rst_tty {
	TtyInfoEntry *e;
	int master, slave;	/* criu-lite's: the pair, made on first use */
	unsigned int index;	/* its new N of /dev/pts/N */
};

static struct {
	TtyEntry **ents;
	size_t n_ents;
	struct rst_tty *v;	/* by info id - 1 */
	size_t n;
	int term;		/* criu-lite's terminal, for the shell job's */
} rt = { .term = -1 };

static int tty_check_images(void)
{
	size_t i;

	for (i = 0; i < rt.n; i++) {
		const TtyInfoEntry *e = rt.v[i].e;

		if (e->id != i + 1) {
			pr_err("Image tty-info.img: entry %zu is terminal %u\n",
			       i, e->id);
			return -1;
		}
		if (e->termios && e->termios->cc.len != NCCS) {
			pr_err("Image tty-info.img: terminal %u has %zu control characters, not %d\n",
			       e->id, e->termios->cc.len, NCCS);
			return -1;
		}
	}
	for (i = 0; i < rt.n_ents; i++)
		if (!rt.ents[i]->info_id || rt.ents[i]->info_id > rt.n) {
			pr_err("Image tty.img: description %u is of terminal %u, which tty-info.img does not have\n",
			       rt.ents[i]->id, rt.ents[i]->info_id);
			return -1;
		}
	return 0;
}

/* Both images; a dump made before terminals were dumped has neither. */
static int tty_load(int dirfd)
{
	TtyInfoEntry **infos = NULL;
	size_t i;

	if (!files_image_exists(dirfd, IMG_TTY))
		return 0;
	if (files_load_msgs(dirfd, IMG_TTY, &tty_entry__descriptor,
			    (void ***)&rt.ents, &rt.n_ents) ||
	    files_load_msgs(dirfd, IMG_TTY_INFO, &tty_info_entry__descriptor,
			    (void ***)&infos, &rt.n))
		return -1;
	rt.v = calloc(rt.n + 1, sizeof(*rt.v));
	if (!rt.v) {
		pr_err("Out of memory for %zu terminals\n", rt.n);
		return -1;
	}
	for (i = 0; i < rt.n; i++)
		rt.v[i] = (struct rst_tty){ infos[i], -1, -1, 0 };
	free(infos);
	return tty_check_images();
}

static const TtyEntry *tty_ent_find(uint32_t id)
{
	size_t i;

	for (i = 0; i < rt.n_ents; i++)
		if (rt.ents[i]->id == id)
			return rt.ents[i];
	return NULL;
}

static const char *tty_describe(uint32_t id, char *buf, size_t size)
{
	const TtyEntry *te = tty_ent_find(id);
	const TtyInfoEntry *e;

	if (!te)
		return "tty:[?]";
	e = rt.v[te->info_id - 1].e;
	if (e->inherited)
		return "the shell job's terminal";
	snprintf(buf, size, "%s/dev/pts/%u",
		 te->type == TTY_TYPE__TTY_PTY_MASTER ? "the master of " : "",
		 e->index);
	return buf;
}

/* criu-lite's terminal (its stdin, else its controlling one), once. */
static int term_open(void)
{
	if (rt.term >= 0)
		return 0;
	if (isatty(STDIN_FILENO))
		rt.term = open("/proc/self/fd/0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	else
		rt.term = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (rt.term < 0) {
		pr_perror("restore --shell-job: criu-lite has no terminal to give the job (stdin is none, nor /dev/tty)");
		return -1;
	}
	return 0;
}

static int tty_validate(const struct rst_task *t, const FdinfoEntry *fe)
{
	const TtyEntry *te = tty_ent_find(fe->id);

	if (!te) {
		pr_err("PID %d: fd %u refers to terminal description %u, which tty.img does not have\n",
		       t->pid, fe->fd, fe->id);
		return -1;
	}
	if (te->type != TTY_TYPE__TTY_INHERITED)
		return 0;
	if (!opts.shell_job) {
		pr_err("PID %d: fd %u was the shell job's terminal: restore it with --shell-job\n",
		       t->pid, fe->fd);
		return -1;
	}
	return term_open();
}

static int pty_setup(const struct rst_task *t, struct rst_tty *p)
{
	const TtyInfoEntry *e = p->e;
	struct termios tio = {};
	struct winsize ws = {};
	int pkt = e->packet_mode;

	if (e->termios) {
		tio.c_iflag = e->termios->iflag;
		tio.c_oflag = e->termios->oflag;
		tio.c_cflag = e->termios->cflag;
		tio.c_lflag = e->termios->lflag;
		tio.c_line = e->termios->line;
		memcpy(tio.c_cc, e->termios->cc.data, NCCS);
		if (cfsetispeed(&tio, e->termios->ispeed) ||
		    cfsetospeed(&tio, e->termios->ospeed) ||
		    tcsetattr(p->slave, TCSANOW, &tio))
			goto err;
	}
	if (e->winsize) {
		ws.ws_row = e->winsize->rows;
		ws.ws_col = e->winsize->cols;
		ws.ws_xpixel = e->winsize->xpixel;
		ws.ws_ypixel = e->winsize->ypixel;
		if (ioctl(p->slave, TIOCSWINSZ, &ws))
			goto err;
	}
	if (ioctl(p->master, TIOCPKT, &pkt))
		goto err;
	return 0;
err:
	pr_perror("PID %d: can't set up /dev/pts/%u (was /dev/pts/%u) as it was",
		  t->pid, p->index, e->index);
	return -1;
}

/* A new pair for pty P: criu-lite holds both ends until release. */
static int pty_create(const struct rst_task *t, struct rst_tty *p)
{
	int unlock = 0;

	p->master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->master < 0) {
		pr_perror("PID %d: can't open /dev/ptmx for /dev/pts/%u", t->pid,
			  p->e->index);
		return -1;
	}
	if (ioctl(p->master, TIOCSPTLCK, &unlock) ||
	    ioctl(p->master, TIOCGPTN, &p->index)) {
		pr_perror("PID %d: can't unlock a new pty for /dev/pts/%u",
			  t->pid, p->e->index);
		return -1;
	}
	p->slave = ioctl(p->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->slave < 0) {
		pr_perror("PID %d: can't open the slave of /dev/pts/%u (TIOCGPTPEER)",
			  t->pid, p->index);
		return -1;
	}
	if (p->index != p->e->index)
		pr_info("/dev/pts/%u comes back as /dev/pts/%u\n", p->e->index,
			p->index);
	return pty_setup(t, p);
}

/* criu-lite's copy of one description of a terminal. */
static int tty_open_desc(const struct rst_task *t, const TtyEntry *te,
			 struct rst_tty *p)
{
	int acc = te->flags & O_ACCMODE;
	char path[64];

	if (te->type == TTY_TYPE__TTY_INHERITED) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", rt.term);
		return open(path, acc | O_NOCTTY | O_CLOEXEC);
	}
	if (p->master < 0 && pty_create(t, p))
		return -1;
	if (te->type == TTY_TYPE__TTY_PTY_MASTER)
		return fcntl(p->master, F_DUPFD_CLOEXEC, 0);
	return ioctl(p->master, TIOCGPTPEER, acc | O_NOCTTY | O_CLOEXEC);
}

static int tty_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	const TtyEntry *te = tty_ent_find(fe->id);
	struct rst_tty *p = &rt.v[te->info_id - 1];
	char name[64];
	int fd;

	fd = tty_open_desc(t, te, p);
	if (fd < 0) {
		pr_perror("PID %d: can't open %s for fd %u", t->pid,
			  tty_describe(fe->id, name, sizeof(name)), fe->fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, te->flags & TTY_STATUS_FLAGS)) {
		pr_perror("PID %d: can't set the flags %#o of fd %u", t->pid,
			  te->flags, fe->fd);
		close(fd);
		return -1;
	}
	return fd;
}

/* The task's fd on the slave of terminal P, or -1. */
static int task_slave_fd(const struct rst_task *t, const struct rst_tty *p)
{
	size_t i;

	for (i = 0; i < t->n_fds; i++) {
		const TtyEntry *te;

		if (t->fds[i]->type != FD_TYPE__FD_TTY)
			continue;
		te = tty_ent_find(t->fds[i]->id);
		if (te->type == TTY_TYPE__TTY_PTY_SLAVE &&
		    te->info_id == p->e->id)
			return t->fds[i]->fd;
	}
	return -1;
}

/*
 * Run by a session leader of the tree right after its setsid(), before it
 * forks the members of its session (who inherit the terminal then): it
 * takes its terminal through criu-lite's copy of the slave, inherited.
 */
int tty_session_start(pid_t pid)
{
	size_t i;

	for (i = 0; i < rt.n; i++) {
		const struct rst_tty *p = &rt.v[i];

		if (!p->e->inherited && p->e->has_sid && p->e->sid == (uint32_t)pid &&
		    ioctl(p->slave, TIOCSCTTY, 0))
			return -1;
	}
	return 0;
}

/* In session leader T: TIOCSPGRP through FD on the slave. */
static int fg_set(struct rst_task *t, struct rst_tty *p, int fd)
{
	int32_t pgrp = p->e->fg_pgrp_ns;
	long ret;

	ret = fcall(t, SYS_ioctl, fd, TIOCSPGRP,
			scratch_put(&t->remote, 0, &pgrp, sizeof(pgrp)));
	if (ret) {
		errno = -ret;
		pr_perror("PID %d: can't put group %d in front of /dev/pts/%u (TIOCSPGRP)",
			  t->pid, pgrp, p->index);
		return -1;
	}
	return 0;
}

/* Once every group exists: the leader puts the foreground group back. */
static int fg_restore(struct rst_task *t, struct rst_tty *p)
{
	int fd = task_slave_fd(t, p), ret;
	char path[64];
	long tmp;

	if (fd >= 0)
		return fg_set(t, p, fd);
	/* none of its fds is on the slave: open one for the while */
	snprintf(path, sizeof(path), "/dev/pts/%u", p->index);
	tmp = fcall(t, SYS_openat, AT_FDCWD,
			scratch_put(&t->remote, 0, path, strlen(path) + 1),
			O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tmp < 0) {
		errno = -tmp;
		pr_perror("PID %d: can't open %s to set its foreground group",
			  t->pid, path);
		return -1;
	}
	ret = fg_set(t, p, tmp);
	fcall(t, SYS_close, tmp, 0, 0);
	return ret;
}

/* The shell job's group goes in front of criu-lite's terminal again. */
static void shell_job_fg(const struct rst_task *t, const TtyInfoEntry *e)
{
	sigset_t ttou, old;

	if (!e->has_fg_pgrp || e->fg_pgrp != t->pe->pid ||
	    t->pe->pgid != t->pe->pid || term_open())
		return;
	/* criu-lite may be in the background itself */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	if (tcsetpgrp(rt.term, t->pid))
		pr_warn("PID %d: can't put the job in front of criu-lite's terminal: %s\n",
			t->pid, strerror(errno));
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static int tty_restore_task(struct rst_task *t)
{
	size_t i;

	for (i = 0; i < rt.n; i++) {
		struct rst_tty *p = &rt.v[i];

		if (p->e->inherited) {
			if (!t->pe->ppid)
				shell_job_fg(t, p->e);
			continue;
		}
		if (p->e->has_sid && p->e->sid == t->pe->pid &&
		    p->e->has_fg_pgrp_ns && fg_restore(t, p))
			return -1;
	}
	return 0;
}

/*
 * Lock and exclusive mode, once every description is open: a locked pty's
 * slave can't be opened, an exclusive one only by root.
 */
static void pty_close_door(const struct rst_tty *p)
{
	int lck = 1;

	if (p->e->locked && ioctl(p->master, TIOCSPTLCK, &lck))
		pr_warn("/dev/pts/%u: can't lock it again (TIOCSPTLCK): %s\n",
			p->index, strerror(errno));
	if (p->e->exclusive && ioctl(p->slave, TIOCEXCL))
		pr_warn("/dev/pts/%u: can't make it exclusive again (TIOCEXCL): %s\n",
			p->index, strerror(errno));
}

static void tty_release(void)
{
	size_t i;

	for (i = 0; i < rt.n; i++) {
		if (rt.v[i].master >= 0)
			pty_close_door(&rt.v[i]);
		if (rt.v[i].master >= 0)
			close(rt.v[i].master);
		if (rt.v[i].slave >= 0)
			close(rt.v[i].slave);
		rt.v[i].master = rt.v[i].slave = -1;
	}
	if (rt.term >= 0)
		close(rt.term);
	rt.term = -1;
}

const struct fd_kind tty_kind = {
	.type = FD_TYPE__FD_TTY,
	.name = "tty",
	.match = tty_match,
	.dump_start = tty_dump_start,
	.dump = tty_dump,
	.dump_tree = tty_dump_tree,
	.dump_finish = tty_dump_finish,
	.load = tty_load,
	.validate = tty_validate,
	.open = tty_open,
	.describe = tty_describe,
	.restore_task = tty_restore_task,
	.release = tty_release,
};
