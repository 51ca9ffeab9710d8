// SPDX-License-Identifier: GPL-2.0-only
/*
 * restore --pidfd-store=SOCKET: once the tree runs, hand a pidfd for each
 * restored process to a supervisor listening on a unix socket, one message
 * each (lib/pidfd-store.h), so it can watch them for their whole life
 * without racing PID reuse.
 *
 * A pidfd can kill, steal fds from, advise and enter its process. Where the
 * kernel has pidfd rights (kernel/'s PIDFD_DERIVE, probed through lib/kapi)
 * the supervisor gets a pidfd derived down to --pidfd-rights (default: wait
 * and info, i.e. PIDFD_RIGHT_WAIT; exit poll() and fdinfo need none).
 * Derivation can only drop rights, so the supervisor can never get back
 * what it was not given. Where the kernel lacks the feature, a pidfd is all
 * or nothing: criu-lite refuses, before anything is restored, to hand out
 * more than was asked for, unless --pidfd-rights=all, or --pidfd-allow-full
 * accepts full pidfds (with a warning).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kapi.h"
#include "log.h"
#include "pidfd-store.h"
#include "proc.h"
#include "syscalls.h"
#include "task.h"

#define SEND_TIMEOUT_S	10	/* a supervisor that stops reading */

static const struct {
	const char *name;
	uint32_t rights;
} right_names[] = {
	{ "info", 0 },	/* poll() for exit, fdinfo: every pidfd can */
	{ "wait", PIDFD_RIGHT_WAIT },
	{ "signal", PIDFD_RIGHT_SIGNAL },
	{ "getfd", PIDFD_RIGHT_GETFD },
	{ "madvise", PIDFD_RIGHT_MADVISE },
	{ "setns", PIDFD_RIGHT_SETNS },
	{ "all", PIDFD_RIGHTS_ALL },
};

static struct {
	int sk;
	int enforced;		/* the kernel has pidfd rights */
	int derive;		/* ... and we narrow each pidfd */
	uint32_t rights;	/* what each pidfd handed out holds */
	pid_t peer;		/* the supervisor, as we see it (0: unseen) */
	int same_ns;		/* ... in our PID namespace */
	int peer_level;		/* its PID namespace's depth below ours */
	struct stat peer_ns;
} store = { .sk = -1 };

int pidfd_store_parse_rights(const char *list, uint32_t *rights)
{
	const char *p = list;
	size_t i, len;

	*rights = 0;
	do {
		len = strcspn(p, ",");
		for (i = 0; i < ARRAY_SIZE(right_names); i++)
			if (strlen(right_names[i].name) == len &&
			    !strncmp(p, right_names[i].name, len))
				break;
		if (i == ARRAY_SIZE(right_names)) {
			fprintf(stderr, "Error: --pidfd-rights takes a comma-separated list of info, wait, signal, getfd, madvise, setns or all, not \"%s\"\n",
				list);
			return -1;
		}
		*rights |= right_names[i].rights;
		p += len;
	} while (*p++ == ',');
	return 0;
}

static const char *rights_str(uint32_t rights, char *buf, size_t size)
{
	size_t i, off = 0;

	if (rights == PIDFD_RIGHTS_ALL)
		return "all";
	snprintf(buf, size, "info");
	off = strlen(buf);
	for (i = 1; i < ARRAY_SIZE(right_names) - 1; i++)
		if (rights & right_names[i].rights)
			off += snprintf(buf + off, size - off, ",%s",
					right_names[i].name);
	return buf;
}

static int ns_stat(pid_t pid, struct stat *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	if (stat(path, st)) {
		pr_perror("Can't stat %s", path);
		return -1;
	}
	return 0;
}

/* Who listens, and in which PID namespace: the PIDs we send are theirs. */
static int peer_setup(const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct proc_status ps = {};
	struct stat self;

	if (getsockopt(store.sk, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		pr_perror("Can't read the credentials of the supervisor at %s",
			  path);
		return -1;
	}
	store.peer = cred.pid;
	if (!store.peer) {
		pr_warn("The supervisor at %s is in a PID namespace above criu-lite's: its messages carry PID 0 (read the pidfd's fdinfo)\n",
			path);
		return 0;
	}
	if (ns_stat(getpid(), &self) || ns_stat(store.peer, &store.peer_ns))
		return -1;
	store.same_ns = self.st_dev == store.peer_ns.st_dev &&
			self.st_ino == store.peer_ns.st_ino;
	if (store.same_ns)
		return 0;
	if (proc_parse_status(store.peer, &ps))
		return -1;
	store.peer_level = ps.ns_pid_levels - 1;
	proc_status_free(&ps);
	pr_info("The supervisor at %s (PID %d) is %d PID namespace levels below criu-lite\n",
		path, store.peer, store.peer_level);
	return 0;
}

/* PID as the supervisor sees it: 0 when it is outside its namespace. */
static pid_t peer_pid(const struct rst_task *t)
{
	struct proc_status ps = {};
	pid_t ret = 0;
	struct stat st;
	int fd, up;
	char path[64];

	if (store.same_ns)
		return t->pid;
	if (!store.peer)
		return 0;
	if (proc_parse_status(t->pid, &ps))
		return -1;
	up = ps.ns_pid_levels - 1 - store.peer_level;
	if (up < 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s", path);
		ret = -1;
		goto out;
	}
	while (up--) {
		int parent = ioctl(fd, NS_GET_PARENT);

		if (parent < 0) {
			pr_perror("PID %d: can't find its PID namespace's parent",
				  t->pid);
			close(fd);
			ret = -1;
			goto out;
		}
		close(fd);
		fd = parent;
	}
	if (fstat(fd, &st)) {
		pr_perror("PID %d: can't stat its PID namespace", t->pid);
		ret = -1;
	} else if (st.st_dev == store.peer_ns.st_dev &&
		   st.st_ino == store.peer_ns.st_ino) {
		ret = ps.ns_pid[store.peer_level];
	}
	close(fd);
out:
	proc_status_free(&ps);
	return ret;
}

/*
 * restore may run criu-lite again when its own memory is in the way of the
 * tree's (cow.c): the connection is kept open across that exec, its number
 * in the environment, so the supervisor sees one connection. Every process
 * restore creates closes what it inherits (close_range) before it runs.
 */
#define STORE_FD_ENV	"CRIU_LITE_PIDFD_STORE_FD"
#define COW_REEXEC_ENV	"CRIU_LITE_COW_REEXEC"

static int store_inherit(const char *path)
{
	const char *s = getenv(STORE_FD_ENV);
	int fd, domain;
	socklen_t len = sizeof(domain);
	char *end;

	if (!s)
		return 0;
	unsetenv(STORE_FD_ENV);
	if (!getenv(COW_REEXEC_ENV))
		return 0;
	fd = strtol(s, &end, 10);
	if (*end || fd < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) ||
	    domain != AF_UNIX) {
		pr_err("Run again, criu-lite lost its connection to the supervisor at %s (fd %s)\n",
		       path, s);
		return -1;
	}
	store.sk = fd;
	return 1;
}

static int store_keep(void)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", store.sk);
	if (setenv(STORE_FD_ENV, buf, 1)) {
		pr_perror("Can't set %s", STORE_FD_ENV);
		return -1;
	}
	return 0;
}

static int store_connect(const char *path)
{
	static const int types[] = { SOCK_SEQPACKET, SOCK_STREAM };
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(path), i;
	socklen_t alen;
	int ret;

	if (!len || len >= sizeof(addr.sun_path)) {
		pr_err("--pidfd-store: \"%s\" is not a unix socket path (1 to %zu bytes)\n",
		       path, sizeof(addr.sun_path) - 1);
		return -1;
	}
	ret = store_inherit(path);
	if (ret)
		return ret < 0 ? -1 : peer_setup(path);
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')	/* abstract */
		addr.sun_path[0] = '\0';
	alen = offsetof(struct sockaddr_un, sun_path) + len;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		/* no CLOEXEC: see store_inherit() */
		store.sk = socket(AF_UNIX, types[i], 0);
		if (store.sk < 0) {
			pr_perror("Can't create a unix socket for --pidfd-store");
			return -1;
		}
		if (!connect(store.sk, (struct sockaddr *)&addr, alen))
			break;
		close(store.sk);
		store.sk = -1;
		/* a stream listener refuses a seqpacket connection */
		if (errno != EPROTOTYPE) {
			pr_perror("Can't connect to the supervisor at %s", path);
			return -1;
		}
	}
	if (store.sk < 0) {
		pr_perror("Can't connect to the supervisor at %s", path);
		return -1;
	}
	if (setsockopt(store.sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		pr_perror("Can't set a send timeout on --pidfd-store %s", path);
		return -1;
	}
	return store_keep() ?: peer_setup(path);
}

int pidfd_store_open(void)
{
	char buf[64];
	int ret;

	if (!opts.pidfd_rights_set)
		opts.pidfd_rights = PIDFD_RIGHT_WAIT;
	ret = kapi_probe_pidfd_rights();
	if (ret < 0) {
		pr_perror("Probing pidfd rights for --pidfd-store failed");
		return -1;
	}
	store.enforced = ret == 1;
	store.derive = ret == 1 && opts.pidfd_rights != PIDFD_RIGHTS_ALL;
	store.rights = opts.pidfd_rights;
	if (!ret && opts.pidfd_rights != PIDFD_RIGHTS_ALL) {
		rights_str(opts.pidfd_rights, buf, sizeof(buf));
		if (!opts.pidfd_allow_full) {
			pr_err("--pidfd-store: pidfds with rights %s%s were asked for, but this kernel can't narrow a pidfd (check --feature pidfd_rights: absent): the supervisor would get full pidfds, which can also signal, getfd, madvise and setns. Pass --pidfd-rights=all to hand those out, or --pidfd-allow-full to fall back to them with a warning\n",
			       buf, opts.pidfd_rights_set ? "" : " (the default)");
			return -1;
		}
		pr_warn("This kernel can't narrow a pidfd: the supervisor gets full pidfds, not %s (--pidfd-allow-full)\n",
			buf);
		store.rights = PIDFD_RIGHTS_ALL;
	}
	return store_connect(opts.pidfd_store);
}

static int send_one(const struct rst_tree *tree, size_t i, int fd)
{
	const struct rst_task *t = &tree->tasks[i];
	struct crl_pidfd_msg m = {
		.magic = CRL_PIDFD_MSG_MAGIC,
		.version = CRL_PIDFD_MSG_VERSION,
		.size = sizeof(m),
		.image_pid = t->pe->pid,
		.rights = store.rights,
		.flags = (i ? 0 : CRL_PIDFD_ROOT) |
			 (store.enforced ? CRL_PIDFD_ENFORCED : 0),
		.index = i,
		.count = tree->n_tasks,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = {};
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t ret;

	m.pid = peer_pid(t);
	if (m.pid < 0)
		return -1;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		ret = sendmsg(store.sk, &mh, MSG_NOSIGNAL);
	while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		pr_perror("Can't hand the pidfd of PID %d to the supervisor at %s",
			  t->pid, opts.pidfd_store);
		return -1;
	}
	if (ret != sizeof(m)) {
		pr_err("Handed only %zd of %zu bytes about PID %d to the supervisor at %s\n",
		       ret, sizeof(m), t->pid, opts.pidfd_store);
		return -1;
	}
	pr_debug("PID %d (%d in the image, %d for the supervisor): pidfd handed out\n",
		 t->pid, m.image_pid, m.pid);
	return 0;
}

int pidfd_store_send(const struct rst_tree *tree)
{
	char buf[64];
	size_t i;

	for (i = 0; i < tree->n_tasks; i++) {
		const struct rst_task *t = &tree->tasks[i];
		int fd = t->pidfd, ret, got;

		if (fd < 0) {
			pr_err("PID %d: no pidfd to hand to the supervisor\n",
			       t->pid);
			return -1;
		}
		if (store.derive) {
			fd = pidfd_derive(t->pidfd, store.rights);
			if (fd < 0) {
				pr_perror("PID %d: can't derive a pidfd with rights 0x%x",
					  t->pid, store.rights);
				return -1;
			}
			got = pidfd_get_rights(fd);
			if (got < 0)
				pr_perror("PID %d: can't read the rights of its derived pidfd",
					  t->pid);
			else if (got != (int)store.rights)
				pr_err("PID %d: the derived pidfd holds rights 0x%x, not 0x%x\n",
				       t->pid, got, store.rights);
			if (got != (int)store.rights) {
				close(fd);
				return -1;
			}
		}
		ret = send_one(tree, i, fd);
		if (fd != t->pidfd)
			close(fd);
		if (ret)
			return -1;
	}
	if (shutdown(store.sk, SHUT_WR))
		pr_perror("Can't shut down --pidfd-store %s", opts.pidfd_store);
	pr_info("Handed %zu pidfds (rights %s%s) to the supervisor at %s (PID %d)\n",
		tree->n_tasks, rights_str(store.rights, buf, sizeof(buf)),
		store.derive ? ", derived" : "", opts.pidfd_store, store.peer);
	return 0;
}

void pidfd_store_close(void)
{
	if (store.sk >= 0)
		close(store.sk);
	store.sk = -1;
}
