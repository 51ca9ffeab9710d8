// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signal state: handlers (read and set by injected rt_sigaction, as /proc
 * does not show them), the blocked mask and pending signals (ptrace), and the
 * alternate signal stack.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "log.h"
#include "task.h"

#define NSIG_KERNEL	64
#define SIGINFO_SIZE	128
#define MAX_PENDING	1024

/* the kernel's struct sigaction on x86-64 (not glibc's) */
struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

static int sig_skip(int sig)
{
	return sig == SIGKILL || sig == SIGSTOP;
}

static int sigactions_dump(struct dump_task *t)
{
	struct remote *r = &t->remote;
	TaskCoreEntry *core = t->core;
	struct ksigaction ka;
	int sig, n = 0;
	long ret;

	core->sigactions = arena_alloc(t->arena,
				       NSIG_KERNEL * sizeof(*core->sigactions));
	if (!core->sigactions)
		return -1;
	for (sig = 1; sig <= NSIG_KERNEL; sig++) {
		SigactionEntry *se;

		if (sig_skip(sig))
			continue;
		if (rcall(r, &ret, SYS_rt_sigaction, sig, 0, r->scratch, 8))
			return -1;
		if (ret < 0) {
			errno = -ret;
			pr_perror("PID %d: rt_sigaction(%d)", t->pid, sig);
			return -1;
		}
		if (remote_read(t->pid, r->scratch, &ka, sizeof(ka)))
			return -1;
		if (!ka.handler && !ka.flags && !ka.mask)
			continue;	/* default: nothing to record */
		se = arena_alloc(t->arena, sizeof(*se));
		if (!se)
			return -1;
		sigaction_entry__init(se);
		se->sig = sig;
		se->handler = ka.handler;
		se->flags = ka.flags;
		se->restorer = ka.restorer;
		se->mask = ka.mask;
		core->sigactions[n++] = se;
	}
	core->n_sigactions = n;
	return 0;
}

/* Appends the signals pending on TID's private (or the shared) queue. */
static int pending_dump(struct dump_task *t, pid_t tid, ThreadCoreEntry *tc,
			int shared)
{
	static unsigned char buf[MAX_PENDING * SIGINFO_SIZE];
	SiginfoEntry **all;
	int i, n;

	n = ptrace_peek_siginfo(tid, shared, buf, MAX_PENDING);
	if (n <= 0)
		return n;
	all = arena_alloc(t->arena, (tc->n_pending + n) * sizeof(*all));
	if (!all)
		return -1;
	if (tc->n_pending)
		memcpy(all, tc->pending, tc->n_pending * sizeof(*all));
	for (i = 0; i < n; i++) {
		SiginfoEntry *se = arena_alloc(t->arena, sizeof(*se));

		if (!se)
			return -1;
		siginfo_entry__init(se);
		se->shared = shared;
		se->siginfo.len = SIGINFO_SIZE;
		se->siginfo.data = arena_memdup(t->arena, buf + i * SIGINFO_SIZE,
						SIGINFO_SIZE);
		if (!se->siginfo.data)
			return -1;
		all[tc->n_pending + i] = se;
	}
	tc->pending = all;
	tc->n_pending += n;
	return 0;
}

/* Runs in TID: the remote session targets that thread. */
static int altstack_dump(struct dump_task *t, pid_t tid, ThreadCoreEntry *tc)
{
	struct remote *r = &t->remote;
	struct kstack ks;
	long ret;

	if (rcall(r, &ret, SYS_sigaltstack, 0, r->scratch))
		return -1;
	if (ret < 0) {
		errno = -ret;
		pr_perror("TID %d: sigaltstack", tid);
		return -1;
	}
	if (remote_read(tid, r->scratch, &ks, sizeof(ks)))
		return -1;
	if (ks.flags & SS_DISABLE)
		return 0;
	tc->altstack = arena_alloc(t->arena, sizeof(*tc->altstack));
	if (!tc->altstack)
		return -1;
	sigaltstack_entry__init(tc->altstack);
	tc->altstack->sp = ks.sp;
	tc->altstack->size = ks.size;
	/* SS_ONSTACK is state, not a setting: the registers carry it */
	tc->altstack->flags = ks.flags & ~SS_ONSTACK;
	return 0;
}

/* Handlers and the process-wide pending queue (kept in the leader's entry). */
int signals_dump(struct dump_task *t)
{
	if (sigactions_dump(t) || pending_dump(t, t->pid, t->core->thread, 1))
		return -1;
	pr_info("PID %d: %zu handlers\n", t->pid, t->core->n_sigactions);
	return 0;
}

/* tc->blocked is already read: it is blocked entirely while we inject. */
int signals_dump_thread(struct dump_task *t, pid_t tid, ThreadCoreEntry *tc)
{
	if (pending_dump(t, tid, tc, 0) || altstack_dump(t, tid, tc))
		return -1;
	pr_info("TID %d: blocked %#llx, %zu pending signals%s\n", tid,
		(unsigned long long)tc->blocked, tc->n_pending,
		tc->altstack ? ", altstack" : "");
	return 0;
}

static const SigactionEntry *find_sigaction(const TaskCoreEntry *core, int sig)
{
	size_t i;

	for (i = 0; i < core->n_sigactions; i++)
		if ((int)core->sigactions[i]->sig == sig)
			return core->sigactions[i];
	return NULL;
}

int signals_restore(struct rst_task *t)
{
	struct remote *r = &t->remote;
	int sig;
	long ret;

	/* every signal: the restorer's own handlers must not leak through */
	for (sig = 1; sig <= NSIG_KERNEL; sig++) {
		const SigactionEntry *se = find_sigaction(t->core, sig);
		struct ksigaction ka = {};
		uint64_t addr;

		if (sig_skip(sig))
			continue;
		if (se) {
			ka.handler = se->handler;
			ka.flags = se->flags;
			ka.restorer = se->restorer;
			ka.mask = se->mask;
		}
		addr = scratch_put(r, 0, &ka, sizeof(ka));
		if (rcall(r, &ret, SYS_rt_sigaction, sig, addr, 0, 8))
			return -1;
		if (ret < 0) {
			errno = -ret;
			pr_perror("PID %d: can't restore the handler of signal %d",
				  t->pid, sig);
			return -1;
		}
	}
	return 0;
}

static int altstack_restore(struct rst_task *t, pid_t tid,
			    const ThreadCoreEntry *tc)
{
	struct remote *r = &t->remote;
	struct kstack ks;
	uint64_t addr;
	long ret;

	/*
	 * None is set too: a fork keeps the forker's alternate stack, and an
	 * ASan build of criu-lite has one, which is not memory of the task.
	 */
	ks = tc->altstack ? (struct kstack){ .sp = tc->altstack->sp,
					     .flags = tc->altstack->flags,
					     .size = tc->altstack->size } :
			    (struct kstack){ .flags = SS_DISABLE };
	addr = scratch_put(r, 0, &ks, sizeof(ks));
	if (rcall(r, &ret, SYS_sigaltstack, addr, 0))
		return -1;
	if (ret < 0) {
		errno = -ret;
		pr_perror("TID %d: can't restore sigaltstack %#llx+%llu", tid,
			  (unsigned long long)ks.sp, (unsigned long long)ks.size);
		return -1;
	}
	return 0;
}

/*
 * Pending signals are queued by the task to itself, which the kernel allows
 * with any si_code, so the siginfo comes back exactly. All signals stay
 * blocked until the final mask is set right before the task runs.
 */
static int pending_restore(struct rst_task *t, pid_t vtid,
			   const ThreadCoreEntry *tc)
{
	struct remote *r = &t->remote;
	size_t i;
	long ret;

	for (i = 0; i < tc->n_pending; i++) {
		const SiginfoEntry *se = tc->pending[i];
		siginfo_t si;
		uint64_t addr;

		if (se->siginfo.len != SIGINFO_SIZE) {
			pr_err("TID %d: pending siginfo %zu has %zu bytes, not %d\n",
			       tc->tid, i, se->siginfo.len, SIGINFO_SIZE);
			return -1;
		}
		memcpy(&si, se->siginfo.data, sizeof(si));
		addr = scratch_put(r, 0, &si, sizeof(si));
		if (se->shared ?
			    rcall(r, &ret, SYS_rt_sigqueueinfo, t->vpid,
				  si.si_signo, addr) :
			    rcall(r, &ret, SYS_rt_tgsigqueueinfo, t->vpid, vtid,
				  si.si_signo, addr))
			return -1;
		if (ret < 0) {
			errno = -ret;
			pr_perror("TID %d: can't queue pending signal %d",
				  tc->tid, si.si_signo);
			return -1;
		}
	}
	return 0;
}

/* Runs in the thread (VTID in its own PID namespace): the remote targets it. */
int signals_restore_thread(struct rst_task *t, pid_t vtid,
			   const ThreadCoreEntry *tc)
{
	return altstack_restore(t, tc->tid, tc) ||
			       pending_restore(t, vtid, tc) ? -1 : 0;
}
