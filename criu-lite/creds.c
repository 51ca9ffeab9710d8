// SPDX-License-Identifier: GPL-2.0-only
/*
 * Credentials: uids, gids, supplementary groups, the five capability sets,
 * securebits and no_new_privs. Restored last, because dropping privileges
 * ends what the injected syscalls may do.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "log.h"
#include "task.h"

int creds_dump(struct dump_task *t)
{
	struct proc_status *st = &t->status;
	CredsEntry *ce;
	long ret;
	int i;

	ce = arena_alloc(t->arena, sizeof(*ce));
	if (!ce)
		return -1;
	creds_entry__init(ce);
	ce->uid = st->uid[0];
	ce->euid = st->uid[1];
	ce->suid = st->uid[2];
	ce->fsuid = st->uid[3];
	ce->gid = st->gid[0];
	ce->egid = st->gid[1];
	ce->sgid = st->gid[2];
	ce->fsgid = st->gid[3];
	ce->groups = arena_alloc(t->arena, (st->ngroups + 1) * sizeof(uint32_t));
	if (!ce->groups)
		return -1;
	for (i = 0; i < st->ngroups; i++)
		ce->groups[i] = st->groups[i];
	ce->n_groups = st->ngroups;
	ce->cap_inh = st->cap_inh;
	ce->cap_prm = st->cap_prm;
	ce->cap_eff = st->cap_eff;
	ce->cap_bnd = st->cap_bnd;
	ce->cap_amb = st->cap_amb;
	ce->no_new_privs = st->no_new_privs;
	if (rcall(&t->remote, &ret, SYS_prctl, PR_GET_SECUREBITS))
		return -1;
	if (ret < 0) {
		errno = -ret;
		pr_perror("PID %d: prctl(PR_GET_SECUREBITS)", t->pid);
		return -1;
	}
	ce->securebits = ret;
	if (st->seccomp) {
		pr_err("PID %d runs under seccomp mode %d, which criu-lite can't restore yet\n",
		       t->pid, st->seccomp);
		return -1;
	}
	t->core->creds = ce;
	return 0;
}

static int rcall_ok(struct rst_task *t, const char *what, long nr, long a1,
		    long a2, long a3, long a4)
{
	long ret;

	if (remote_syscall(&t->remote, &ret, nr, a1, a2, a3, a4, 0, 0))
		return -1;
	if (ret < 0) {
		errno = -ret;
		pr_perror("PID %d: can't restore credentials: %s", t->pid, what);
		return -1;
	}
	return 0;
}

/* setfs[ug]id() never fails, it returns the old id: check by asking again */
static int set_fsid(struct rst_task *t, const char *what, long nr, uint32_t id)
{
	long ret;

	if (remote_syscall(&t->remote, &ret, nr, id, 0, 0, 0, 0, 0) ||
	    remote_syscall(&t->remote, &ret, nr, -1, 0, 0, 0, 0, 0))
		return -1;
	if ((uint32_t)ret != id) {
		pr_err("PID %d: can't restore credentials: %s(%u) left %ld\n",
		       t->pid, what, id, ret);
		return -1;
	}
	return 0;
}

static int caps_set(struct rst_task *t, uint64_t eff, uint64_t prm,
		    uint64_t inh)
{
	struct {
		struct __user_cap_header_struct hdr;
		struct __user_cap_data_struct data[2];
	} c = {
		.hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 },
		.data = {
			{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
			{ eff >> 32, prm >> 32, inh >> 32 },
		},
	};
	uint64_t addr = scratch_put(&t->remote, 0, &c, sizeof(c));

	return rcall_ok(t, "capset", SYS_capset, addr, addr + sizeof(c.hdr),
			0, 0);
}

int creds_restore(struct rst_task *t)
{
	const CredsEntry *ce = t->core->creds;
	uint64_t addr, full = ~0ULL;
	unsigned int cap;

	addr = scratch_put(&t->remote, 0, ce->groups,
			   ce->n_groups * sizeof(uint32_t));
	/* an unprivileged user namespace denies setgroups(): they stay ours */
	if (!opts.userns &&
	    rcall_ok(t, "setgroups", SYS_setgroups, ce->n_groups, addr, 0, 0))
		return -1;
	for (cap = 0; cap < 64; cap++) {
		if (ce->cap_bnd & (1ULL << cap))
			continue;
		/* bits past the kernel's last capability are EINVAL: stop */
		if (cap > CAP_LAST_CAP)
			break;
		if (rcall_ok(t, "PR_CAPBSET_DROP", SYS_prctl, PR_CAPBSET_DROP,
			     cap, 0, 0))
			return -1;
	}
	/* keep capabilities across the uid change; securebits fix it after */
	if (rcall_ok(t, "PR_SET_KEEPCAPS", SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0) ||
	    rcall_ok(t, "setresgid", SYS_setresgid, ce->gid, ce->egid, ce->sgid, 0) ||
	    rcall_ok(t, "setresuid", SYS_setresuid, ce->uid, ce->euid, ce->suid, 0))
		return -1;
	/* what we kept in the permitted set, effective for the last steps */
	if (caps_set(t, full & ((1ULL << (CAP_LAST_CAP + 1)) - 1) & ce->cap_bnd,
		     full & ((1ULL << (CAP_LAST_CAP + 1)) - 1) & ce->cap_bnd,
		     ce->cap_inh))
		return -1;
	/* fs ids may differ from all of r/e/s: needs CAP_SETUID/SETGID back */
	if (set_fsid(t, "setfsgid", SYS_setfsgid, ce->fsgid) ||
	    set_fsid(t, "setfsuid", SYS_setfsuid, ce->fsuid))
		return -1;
	if (rcall_ok(t, "PR_SET_SECUREBITS", SYS_prctl, PR_SET_SECUREBITS,
		     ce->securebits, 0, 0))
		return -1;
	if (caps_set(t, ce->cap_eff, ce->cap_prm, ce->cap_inh))
		return -1;
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if ((ce->cap_amb & (1ULL << cap)) &&
		    rcall_ok(t, "PR_CAP_AMBIENT_RAISE", SYS_prctl, PR_CAP_AMBIENT,
			     PR_CAP_AMBIENT_RAISE, cap, 0))
			return -1;
	if (ce->no_new_privs &&
	    rcall_ok(t, "PR_SET_NO_NEW_PRIVS", SYS_prctl, PR_SET_NO_NEW_PRIVS, 1,
		     0, 0))
		return -1;
	return 0;
}
