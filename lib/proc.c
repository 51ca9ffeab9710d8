// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parsers for the /proc files dump relies on. Each parser has a variant that
 * takes a FILE or buffer so that unit tests can feed it truncated and
 * malformed text.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

static FILE *proc_fopen(pid_t pid, const char *name)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	f = fopen(path, "re");
	if (!f)
		pr_perror("Can't open %s", path);
	return f;
}

int proc_parse_stat_buf(const char *buf, struct proc_stat *st)
{
	const char *open = strchr(buf, '(');
	const char *close = strrchr(buf, ')');
	unsigned long long v[52];
	const char *p;
	char *end;
	size_t n;
	int i;

	memset(st, 0, sizeof(*st));
	if (!open || !close || close < open || close[1] != ' ') {
		pr_err("stat: no (comm) in \"%.64s\"\n", buf);
		return -1;
	}
	st->pid = strtol(buf, &end, 10);
	if (end == buf || end + 1 != open || *end != ' ') {
		pr_err("stat: bad pid in \"%.64s\"\n", buf);
		return -1;
	}
	n = close - open - 1;
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, n);
	p = close + 2;
	if (!*p) {
		pr_err("stat: truncated after comm\n");
		return -1;
	}
	st->state = *p++;
	/* v[3] is field 4 (ppid), numbering as in proc(5) */
	for (i = 3; i < 52; i++) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		v[i] = strtoull(p, &end, 10);
		if (end == p && *p == '-')
			v[i] = strtoll(p, &end, 10);
		if (end == p) {
			pr_err("stat: field %d is not a number\n", i + 1);
			return -1;
		}
		p = end;
	}
	if (i < 20) {
		pr_err("stat: only %d fields\n", i);
		return -1;
	}
	st->ppid = v[3];
	st->pgid = v[4];
	st->sid = v[5];
	st->tty_nr = v[6];
	st->tpgid = v[7];
	st->flags = v[8];
	st->num_threads = v[19];
	if (i >= 52) {
		st->start_code = v[25];
		st->end_code = v[26];
		st->start_stack = v[27];
		st->exit_signal = v[37];
		st->start_data = v[44];
		st->end_data = v[45];
		st->start_brk = v[46];
		st->arg_start = v[47];
		st->arg_end = v[48];
		st->env_start = v[49];
		st->env_end = v[50];
		st->exit_code = v[51];
	}
	return 0;
}

int proc_parse_stat(pid_t pid, struct proc_stat *st)
{
	char buf[2048];
	ssize_t n = proc_read_file(pid, "stat", buf, sizeof(buf) - 1);

	if (n < 0)
		return -1;
	buf[n] = 0;
	if (proc_parse_stat_buf(buf, st)) {
		pr_err("Can't parse /proc/%d/stat\n", pid);
		return -1;
	}
	return 0;
}

static int parse_int_list(const char *s, int *out, int max)
{
	int n = 0;
	char *end;

	while (n < max) {
		long v = strtol(s, &end, 10);

		if (end == s)
			break;
		out[n++] = v;
		s = end;
	}
	return n;
}

static int parse_groups(const char *s, struct proc_status *st)
{
	unsigned int *g = NULL;
	int n = 0, cap = 0;
	char *end;

	for (;;) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s)
			break;
		if (n == cap) {
			unsigned int *ng;

			cap = cap ? cap * 2 : 16;
			ng = realloc(g, cap * sizeof(*g));
			if (!ng) {
				free(g);
				return -1;
			}
			g = ng;
		}
		g[n++] = v;
		s = end;
	}
	st->groups = g;
	st->ngroups = n;
	return 0;
}

static int parse_ids(const char *s, unsigned int id[4])
{
	return sscanf(s, "%u %u %u %u", &id[0], &id[1], &id[2], &id[3]) == 4 ?
		       0 : -1;
}

int proc_parse_status_fp(FILE *f, struct proc_status *st)
{
	/* not a fixed buffer: Groups can list NGROUPS_MAX ids, ~700 KB */
	char *line = NULL;
	size_t cap = 0;
	int seen = 0;

	memset(st, 0, sizeof(*st));
	while (getline(&line, &cap, f) > 0) {
		char *val = strchr(line, ':');

		if (!val)
			continue;
		*val++ = 0;
		while (*val == ' ' || *val == '\t')
			val++;
		if (!strcmp(line, "State")) {
			st->state = val[0];
			seen |= 1;
		} else if (!strcmp(line, "Tgid")) {
			st->tgid = atoi(val);
		} else if (!strcmp(line, "PPid")) {
			st->ppid = atoi(val);
		} else if (!strcmp(line, "TracerPid")) {
			st->tracer_pid = atoi(val);
		} else if (!strcmp(line, "Uid")) {
			if (parse_ids(val, st->uid))
				goto bad;
			seen |= 2;
		} else if (!strcmp(line, "Gid")) {
			if (parse_ids(val, st->gid))
				goto bad;
			seen |= 4;
		} else if (!strcmp(line, "Groups")) {
			if (parse_groups(val, st))
				goto bad;
		} else if (!strcmp(line, "NSpid")) {
			st->ns_pid_levels = parse_int_list(val, st->ns_pid,
							   PROC_MAX_NS_LEVELS);
		} else if (!strcmp(line, "NSpgid")) {
			parse_int_list(val, st->ns_pgid, PROC_MAX_NS_LEVELS);
		} else if (!strcmp(line, "NSsid")) {
			parse_int_list(val, st->ns_sid, PROC_MAX_NS_LEVELS);
		} else if (!strcmp(line, "Threads")) {
			st->threads = atoi(val);
		} else if (!strcmp(line, "Umask")) {
			st->umask = strtoul(val, NULL, 8);
		} else if (!strcmp(line, "SigBlk")) {
			st->sig_blk = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "SigIgn")) {
			st->sig_ign = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "SigCgt")) {
			st->sig_cgt = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "SigPnd")) {
			st->sig_pnd = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "ShdPnd")) {
			st->shd_pnd = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "CapInh")) {
			st->cap_inh = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "CapPrm")) {
			st->cap_prm = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "CapEff")) {
			st->cap_eff = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "CapBnd")) {
			st->cap_bnd = strtoull(val, NULL, 16);
			seen |= 8;
		} else if (!strcmp(line, "CapAmb")) {
			st->cap_amb = strtoull(val, NULL, 16);
		} else if (!strcmp(line, "NoNewPrivs")) {
			st->no_new_privs = atoi(val);
		} else if (!strcmp(line, "Seccomp")) {
			st->seccomp = atoi(val);
		}
	}
	free(line);
	if (seen != 15) {
		pr_err("status: missing %s\n", !(seen & 1) ? "State" :
			!(seen & 2) ? "Uid" : !(seen & 4) ? "Gid" : "CapBnd");
		proc_status_free(st);
		return -1;
	}
	return 0;
bad:
	pr_err("status: malformed %s line\n", line);
	free(line);
	proc_status_free(st);
	return -1;
}

int proc_parse_status(pid_t pid, struct proc_status *st)
{
	FILE *f = proc_fopen(pid, "status");
	int ret;

	if (!f)
		return -1;
	ret = proc_parse_status_fp(f, st);
	fclose(f);
	if (ret)
		pr_err("Can't parse /proc/%d/status\n", pid);
	return ret;
}

void proc_status_free(struct proc_status *st)
{
	free(st->groups);
	st->groups = NULL;
	st->ngroups = 0;
}

static const struct {
	char name[3];
	unsigned int flag;
} vmflag_names[] = {
	{ "rd", VMF_READ },	  { "wr", VMF_WRITE },	    { "ex", VMF_EXEC },
	{ "sh", VMF_SHARED },	  { "mw", VMF_MAYWRITE },   { "gd", VMF_GROWSDOWN },
	{ "io", VMF_IO },	  { "pf", VMF_PFNMAP },	    { "dc", VMF_DONTCOPY },
	{ "dd", VMF_DONTDUMP },	  { "hg", VMF_HUGEPAGE },   { "nh", VMF_NOHUGEPAGE },
	{ "mg", VMF_MERGEABLE },  { "wf", VMF_WIPEONFORK }, { "sr", VMF_SEQ_READ },
	{ "rr", VMF_RAND_READ },  { "lo", VMF_LOCKED },	    { "nr", VMF_NORESERVE },
	{ "ht", VMF_HUGETLB },	  { "um", VMF_UFFD },	    { "uw", VMF_UFFD },
	{ "ac", VMF_ACCOUNT },
};

unsigned int proc_parse_vmflags(const char *s)
{
	unsigned int flags = 0;
	size_t i;

	while (*s) {
		while (*s == ' ' || *s == '\n')
			s++;
		if (!s[0] || !s[1])
			break;
		for (i = 0; i < sizeof(vmflag_names) / sizeof(vmflag_names[0]); i++)
			if (s[0] == vmflag_names[i].name[0] &&
			    s[1] == vmflag_names[i].name[1])
				flags |= vmflag_names[i].flag;
		s += 2;
	}
	return flags;
}

/* "start-end perms offset maj:min inode   path" */
static int parse_maps_line(const char *line, struct proc_vma *vma)
{
	char perms[5];
	int n = 0;

	memset(vma, 0, sizeof(*vma));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
		   &vma->start, &vma->end, perms, &vma->pgoff, &vma->dev_major,
		   &vma->dev_minor, &vma->ino, &n) < 7 || !n)
		return -1;
	if (strlen(perms) != 4 || vma->end <= vma->start)
		return -1;
	vma->prot = (perms[0] == 'r' ? PROT_READ : 0) |
		    (perms[1] == 'w' ? PROT_WRITE : 0) |
		    (perms[2] == 'x' ? PROT_EXEC : 0);
	vma->shared = perms[3] == 's';
	snprintf(vma->path, sizeof(vma->path), "%s", line + n);
	vma->path[strcspn(vma->path, "\n")] = 0;
	return 0;
}

/* An smaps field line: "Name:" then the value. */
static int is_field_line(const char *line)
{
	size_t n = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789_");

	return n && line[n] == ':';
}

/* A VMA header line starts with a hex range; smaps field lines do not. */
static int is_vma_line(const char *line)
{
	const char *dash = strchr(line, '-');
	const char *sp = strchr(line, ' ');

	return dash && sp && dash < sp && strspn(line, "0123456789abcdef") ==
		(size_t)(dash - line);
}

int proc_parse_smaps_fp(FILE *f, proc_vma_cb cb, void *arg)
{
	char *line = NULL;
	size_t cap = 0;
	struct proc_vma *vma;
	int have = 0, ret = 0;

	vma = malloc(sizeof(*vma));
	if (!vma)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		if (is_vma_line(line)) {
			if (have && (ret = cb(vma, arg)))
				goto out;
			if (parse_maps_line(line, vma)) {
				pr_err("maps: malformed line \"%.80s\"\n", line);
				ret = -1;
				goto out;
			}
			have = 1;
		} else if (!have) {
			pr_err("maps: field before any mapping: \"%.80s\"\n", line);
			ret = -1;
			goto out;
		} else if (!is_field_line(line)) {
			pr_err("maps: malformed line \"%.80s\"\n", line);
			ret = -1;
			goto out;
		} else if (!strncmp(line, "VmFlags:", 8)) {
			vma->vmflags = proc_parse_vmflags(line + 8);
		} else if (!strncmp(line, "Rss:", 4)) {
			vma->rss_kb = strtoull(line + 4, NULL, 10);
		} else if (!strncmp(line, "Swap:", 5)) {
			vma->swap_kb = strtoull(line + 5, NULL, 10);
		}
	}
	if (have)
		ret = cb(vma, arg);
out:
	free(line);
	free(vma);
	return ret;
}

int proc_parse_smaps(pid_t pid, proc_vma_cb cb, void *arg)
{
	FILE *f = proc_fopen(pid, "smaps");
	int ret;

	if (!f)
		return -1;
	ret = proc_parse_smaps_fp(f, cb, arg);
	fclose(f);
	return ret;
}

int proc_parse_fdinfo_fp(FILE *f, struct proc_fdinfo *fi)
{
	char line[512];
	int seen = 0;

	memset(fi, 0, sizeof(*fi));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "pos:", 4)) {
			fi->pos = strtoull(line + 4, NULL, 10);
			seen |= 1;
		} else if (!strncmp(line, "flags:", 6)) {
			fi->flags = strtoul(line + 6, NULL, 8);
			seen |= 2;
		} else if (!strncmp(line, "mnt_id:", 7)) {
			fi->mnt_id = atoi(line + 7);
		} else if (!strncmp(line, "lock:", 5)) {
			fi->n_locks++;
		}
	}
	if (seen != 3) {
		pr_err("fdinfo: missing %s\n", seen & 1 ? "flags" : "pos");
		return -1;
	}
	return 0;
}

int proc_parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi)
{
	char name[64];
	FILE *f;
	int ret;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	f = proc_fopen(pid, name);
	if (!f)
		return -1;
	ret = proc_parse_fdinfo_fp(f, fi);
	fclose(f);
	if (ret)
		pr_err("Can't parse /proc/%d/fdinfo/%d\n", pid, fd);
	return ret;
}

int proc_parse_lock_line(const char *line, struct proc_lock *lk)
{
	char end[24];
	unsigned long long ino, start;
	int n;

	memset(lk, 0, sizeof(*lk));
	n = sscanf(line, " %*d: %7s %11s %7s %d %x:%x:%llu %llu %23s", lk->kind,
		   lk->mode, lk->type, &lk->pid, &lk->major, &lk->minor, &ino,
		   &start, end);
	if (n != 9)
		return -1;
	lk->ino = ino;
	lk->start = start;
	if (!strcmp(end, "EOF")) {
		lk->end = PROC_LOCK_EOF;
	} else {
		char *e;

		errno = 0;
		lk->end = strtoull(end, &e, 10);
		if (errno || *e)
			return -1;
	}
	return 0;
}

int proc_parse_fd_locks(pid_t pid, int fd,
			int (*cb)(const struct proc_lock *lk, void *arg),
			void *arg)
{
	char name[64], line[512];
	struct proc_lock lk;
	int ret = 0;
	FILE *f;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	f = proc_fopen(pid, name);
	if (!f)
		return -1;
	while (!ret && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "lock:", 5))
			continue;
		if (proc_parse_lock_line(line + 5, &lk)) {
			pr_err("Can't parse /proc/%d/fdinfo/%d: %s", pid, fd,
			       line);
			ret = -1;
			break;
		}
		ret = cb(&lk, arg);
	}
	fclose(f);
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int proc_list_dir_ints(pid_t pid, const char *name, int **out)
{
	char path[64];
	struct dirent *de;
	int *v = NULL, n = 0, cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	d = opendir(path);
	if (!d) {
		pr_perror("Can't open %s", path);
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (n == cap) {
			int *nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				pr_err("Out of memory listing %s\n", path);
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		v[n++] = atoi(de->d_name);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_int);
	*out = v;
	return n;
}

int proc_for_each_fd(pid_t pid, int (*cb)(pid_t pid, int fd, void *arg),
		     void *arg)
{
	int *fds, n, i, ret = 0;

	n = proc_list_dir_ints(pid, "fd", &fds);
	if (n < 0)
		return -1;
	for (i = 0; i < n && !ret; i++)
		ret = cb(pid, fds[i], arg);
	free(fds);
	return ret;
}

int proc_list_tids(pid_t pid, pid_t **tids)
{
	return proc_list_dir_ints(pid, "task", tids);
}

int proc_parse_pid_list(const char *buf, pid_t **out)
{
	const char *p = buf;
	pid_t *v = NULL;
	int n = 0, cap = 0;

	while (*p) {
		char *end;
		long x;

		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		errno = 0;
		x = strtol(p, &end, 10);
		if (end == p || errno || x <= 0 || x > INT32_MAX ||
		    (*end && *end != ' ' && *end != '\n')) {
			pr_err("Malformed PID list: \"%.32s\"\n", p);
			free(v);
			return -1;
		}
		if (n == cap) {
			pid_t *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -1;
			}
			v = nv;
		}
		v[n++] = x;
		p = end;
	}
	*out = v;
	return n;
}

int proc_list_children(pid_t pid, pid_t tid, pid_t **out)
{
	char name[64], *buf;
	size_t size = 4096;
	ssize_t n;
	int ret;

	snprintf(name, sizeof(name), "task/%d/children", tid);
	for (;;) {
		buf = malloc(size);
		if (!buf)
			return -1;
		n = proc_read_file(pid, name, buf, size - 1);
		if (n < 0 || (size_t)n < size - 1)
			break;
		free(buf);
		size *= 4;
	}
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = 0;
	ret = proc_parse_pid_list(buf, out);
	free(buf);
	return ret;
}

static ssize_t read_proc_file(pid_t pid, const char *name, void *buf,
			      size_t size, int quiet)
{
	char path[64];
	size_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!quiet)
			pr_perror("Can't open %s", path);
		return -1;
	}
	while (off < size) {
		ssize_t n = read(fd, (char *)buf + off, size - off);

		if (n < 0) {
			pr_perror("Can't read %s", path);
			close(fd);
			return -1;
		}
		if (!n)
			break;
		off += n;
	}
	close(fd);
	return off;
}

ssize_t proc_read_file(pid_t pid, const char *name, void *buf, size_t size)
{
	return read_proc_file(pid, name, buf, size, 0);
}

ssize_t proc_read_file_quiet(pid_t pid, const char *name, void *buf, size_t size)
{
	return read_proc_file(pid, name, buf, size, 1);
}

int proc_write_file(pid_t pid, const char *name, const char *text)
{
	size_t len = strlen(text);
	char path[64];
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s", path);
		return -1;
	}
	ok = write(fd, text, len) == (ssize_t)len;
	if (!ok)
		pr_perror("Can't write \"%s\" to %s", text, path);
	close(fd);
	return ok ? 0 : -1;
}

int proc_readlink(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	n = readlink(path, buf, size - 1);
	if (n < 0) {
		pr_perror("Can't readlink %s", path);
		return -1;
	}
	buf[n] = 0;
	return 0;
}

int pagemap_open(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("Can't open %s", path);
	return fd;
}

/* NR uint64_t entries from index IDX of a /proc table; AT names the place. */
static ssize_t read_table(int fd, const char *what, uint64_t idx, uint64_t at,
			  size_t nr, uint64_t *out)
{
	size_t want = nr * sizeof(*out), got = 0;
	off_t off = idx * sizeof(*out);

	while (got < want) {
		ssize_t n = pread(fd, (char *)out + got, want - got, off + got);

		if (n < 0) {
			pr_perror("Can't read %s at %#" PRIx64, what, at);
			return -1;
		}
		if (!n)
			break;
		got += n;
	}
	if (got != want) {
		pr_err("Short %s read at %#" PRIx64 ": %zu of %zu bytes\n",
		       what, at, got, want);
		return -1;
	}
	return nr;
}

ssize_t pagemap_read_entries(int fd, uint64_t vaddr, size_t nr, uint64_t *out)
{
	return read_table(fd, "pagemap", vaddr / (uint64_t)sysconf(_SC_PAGESIZE),
			  vaddr, nr, out);
}

int kpageflags_open(void)
{
	return open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
}

ssize_t kpageflags_read(int fd, uint64_t pfn, size_t nr, uint64_t *out)
{
	return read_table(fd, "/proc/kpageflags for PFN", pfn, pfn, nr, out);
}

int proc_parse_eventfd_fp(FILE *f, struct proc_eventfd *e)
{
	char line[512];
	int seen = 0;

	e->semaphore = -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "eventfd-count: %" SCNx64, &e->count) == 1)
			seen = 1;
		else
			sscanf(line, "eventfd-semaphore: %d", &e->semaphore);
	}
	if (!seen)
		pr_err("fdinfo: no eventfd-count\n");
	return seen ? 0 : -1;
}

/* Grows *V (N entries, room for *CAP) by one, or NULL. */
static void *grow(void **v, size_t n, size_t *cap, size_t size)
{
	void *nv;

	if (n < *cap)
		return (char *)*v + n * size;
	nv = realloc(*v, (*cap ? *cap * 2 : 8) * size);
	if (!nv) {
		pr_err("Out of memory parsing fdinfo\n");
		return NULL;
	}
	*cap = *cap ? *cap * 2 : 8;
	*v = nv;
	return (char *)nv + n * size;
}

int proc_parse_epoll_fp(FILE *f, struct proc_epoll_tfd **v)
{
	struct proc_epoll_tfd *e;
	size_t n = 0, cap = 0;
	char line[512];

	*v = NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "tfd:", 4))
			continue;
		e = grow((void **)v, n, &cap, sizeof(*e));
		if (!e)
			goto err;
		if (sscanf(line, "tfd: %d events: %" SCNx32 " data: %" SCNx64
			   " pos:%*d ino:%" SCNx64 " sdev:%x", &e->tfd,
			   &e->events, &e->data, &e->ino, &e->sdev) != 5) {
			pr_err("fdinfo: malformed epoll target: %s", line);
			goto err;
		}
		n++;
	}
	return n;
err:
	free(*v);
	*v = NULL;
	return -1;
}

int proc_parse_signalfd_fp(FILE *f, uint64_t *sigmask)
{
	char line[512];

	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "sigmask: %" SCNx64, sigmask) == 1)
			return 0;
	pr_err("fdinfo: no sigmask\n");
	return -1;
}

int proc_parse_timerfd_fp(FILE *f, struct proc_timerfd *t)
{
	long long vs, vn, is, in;
	char line[512];
	int seen = 0;

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "clockid: %d", &t->clockid) == 1)
			seen |= 1;
		else if (sscanf(line, "ticks: %" SCNu64, &t->ticks) == 1)
			seen |= 2;
		else if (sscanf(line, "settime flags: %o",
				&t->settime_flags) == 1)
			seen |= 4;
		else if (sscanf(line, "it_value: (%lld, %lld)", &vs, &vn) == 2)
			seen |= 8;
		else if (sscanf(line, "it_interval: (%lld, %lld)", &is,
				&in) == 2)
			seen |= 16;
	}
	if (seen != 31) {
		pr_err("fdinfo: timerfd fields missing (have %#x of 0x1f)\n",
		       seen);
		return -1;
	}
	t->value = (struct timespec){ vs, vn };
	t->interval = (struct timespec){ is, in };
	return 0;
}

/* "f_handle:" and its hex bytes */
static int parse_fhandle(const char *p, struct proc_inotify_wd *w)
{
	unsigned int i, byte;

	if (w->handle_bytes > PROC_FHANDLE_MAX)
		return -1;
	for (i = 0; i < w->handle_bytes; i++, p += 2)
		if (sscanf(p, "%2x", &byte) != 1)
			return -1;
		else
			w->handle[i] = byte;
	return 0;
}

int proc_parse_inotify_fp(FILE *f, struct proc_inotify_wd **v)
{
	struct proc_inotify_wd *w;
	size_t n = 0, cap = 0;
	char line[1024];
	int pos, hpos;

	*v = NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "inotify wd:", 11))
			continue;
		w = grow((void **)v, n, &cap, sizeof(*w));
		if (!w)
			goto err;
		memset(w, 0, sizeof(*w));
		if (sscanf(line, "inotify wd:%x ino:%" SCNx64 " sdev:%x mask:%"
			   SCNx32 " ignored_mask:%" SCNx32 "%n", &w->wd, &w->ino,
			   &w->sdev, &w->mask, &w->ignored_mask, &pos) != 5)
			goto bad;
		if (sscanf(line + pos, " fhandle-bytes:%x fhandle-type:%x f_handle:%n",
			   &w->handle_bytes, &w->handle_type, &hpos) == 2 &&
		    parse_fhandle(line + pos + hpos, w))
			goto bad;
		n++;
	}
	return n;
bad:
	pr_err("fdinfo: malformed inotify watch: %s", line);
err:
	free(*v);
	*v = NULL;
	return -1;
}

/* mountinfo writes space, tab, newline and backslash as \NNN */
static void unescape_octal(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0');
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = 0;
}

int proc_mount_of_dev_fp(FILE *f, unsigned int major, unsigned int minor,
			 char *path, size_t size)
{
	char line[4096], mnt[4096];
	unsigned int ma, mi;

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &ma, &mi, mnt) != 3 ||
		    ma != major || mi != minor)
			continue;
		unescape_octal(mnt);
		if (strlen(mnt) >= size)
			continue;
		strcpy(path, mnt);
		return 0;
	}
	return -1;
}

int proc_mount_of_dev(pid_t pid, unsigned int major, unsigned int minor,
		      char *path, size_t size)
{
	FILE *f = proc_fopen(pid, "mountinfo");
	int ret;

	if (!f)
		return -1;
	ret = proc_mount_of_dev_fp(f, major, minor, path, size);
	fclose(f);
	if (ret)
		pr_err("PID %d: no mount of device %u:%u\n", pid, major, minor);
	return ret;
}

/* proc_fdinfo_NAME(): parser proc_parse_NAME_fp on /proc/PID/fdinfo/FD */
#define FDINFO_PARSER(NAME, TYPE)					\
int proc_fdinfo_##NAME(pid_t pid, int fd, TYPE arg)			\
{									\
	char name[64];							\
	FILE *f;							\
	int ret;							\
									\
	snprintf(name, sizeof(name), "fdinfo/%d", fd);			\
	f = proc_fopen(pid, name);					\
	if (!f)								\
		return -1;						\
	ret = proc_parse_##NAME##_fp(f, arg);				\
	fclose(f);							\
	if (ret < 0)							\
		pr_err("Can't parse /proc/%d/fdinfo/%d\n", pid, fd);	\
	return ret;							\
}

FDINFO_PARSER(eventfd, struct proc_eventfd *)
FDINFO_PARSER(epoll, struct proc_epoll_tfd **)
FDINFO_PARSER(signalfd, uint64_t *)
FDINFO_PARSER(timerfd, struct proc_timerfd *)
FDINFO_PARSER(inotify, struct proc_inotify_wd **)
