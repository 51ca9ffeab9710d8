// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPU state: general registers (with fs/gs base) and the xsave area, which
 * holds FPU, SSE, AVX and the rest of what XSAVE covers on this CPU.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <time.h>

#include "log.h"
#include "task.h"

/* kernel-internal restart codes a task interrupted in a syscall may carry */
#define ERESTART_RESTARTBLOCK	516

#define XSTATE_MAX	(64u << 10)

#define REGS_FIELDS(X) \
	X(r15, r15) X(r14, r14) X(r13, r13) X(r12, r12) X(bp, rbp) \
	X(bx, rbx) X(r11, r11) X(r10, r10) X(r9, r9) X(r8, r8) \
	X(ax, rax) X(cx, rcx) X(dx, rdx) X(si, rsi) X(di, rdi) \
	X(orig_ax, orig_rax) X(ip, rip) X(cs, cs) X(flags, eflags) \
	X(sp, rsp) X(ss, ss) X(fs_base, fs_base) X(gs_base, gs_base) \
	X(ds, ds) X(es, es) X(fs, fs) X(gs, gs)

int regs_dump(pid_t tid, ThreadCoreEntry *tc, struct arena *a)
{
	struct user_regs_struct regs;
	UserRegsEntry *re;
	size_t len = XSTATE_MAX;
	void *xs;

	re = arena_alloc(a, sizeof(*re));
	xs = malloc(XSTATE_MAX);
	if (!re || !xs) {
		free(xs);
		return -1;
	}
	user_regs_entry__init(re);
	if (ptrace_get_regs(tid, &regs) || ptrace_get_xstate(tid, xs, &len)) {
		free(xs);
		return -1;
	}
#define X(p, k) re->p = regs.k;
	REGS_FIELDS(X)
#undef X
	tc->regs = re;
	tc->xstate.data = arena_memdup(a, xs, len);
	tc->xstate.len = len;
	free(xs);
	if (!tc->xstate.data)
		return -1;
	pr_debug("TID %d: ip %#llx sp %#llx orig_ax %lld ax %lld, xstate %zu bytes\n",
		 tid, regs.rip, regs.rsp, (long long)regs.orig_rax,
		 (long long)regs.rax, len);
	return 0;
}

/*
 * A task stopped inside a syscall carries a restart code in ax. The task is
 * detached from a signal stop, so the kernel's own restart logic runs on
 * these registers: it restarts the syscall, or turns it into EINTR if a
 * signal with a handler arrives first, exactly as without the dump. Only a
 * RESTARTBLOCK syscall (nanosleep, poll...) is re-issued by hand with its
 * original arguments, as its restart block did not survive the dump.
 */
/*
 * An interrupted relative sleep wrote what was left of it to its rem
 * argument, if it had one: sleep that long, not the whole time again.
 * Absolute sleeps restart as they are.
 */
static void regs_remaining_sleep(struct user_regs_struct *regs)
{
	if (regs->orig_rax == SYS_nanosleep && regs->rsi)
		regs->rdi = regs->rsi;
	else if (regs->orig_rax == SYS_clock_nanosleep && regs->r10 &&
		 !(regs->rsi & TIMER_ABSTIME))
		regs->rdx = regs->r10;
}

static void regs_fixup_restart(struct user_regs_struct *regs, pid_t tid)
{
	if ((long)regs->orig_rax >= 0 &&
	    (long)regs->rax == -ERESTART_RESTARTBLOCK) {
		pr_debug("TID %d: re-issuing syscall %lld\n", tid,
			 (long long)regs->orig_rax);
		regs_remaining_sleep(regs);
		regs->rax = regs->orig_rax;
		regs->rip -= 2;
		regs->orig_rax = -1;
	}
}

int regs_restore(pid_t tid, const ThreadCoreEntry *tc)
{
	struct user_regs_struct regs = {};

	if (ptrace_set_xstate(tid, tc->xstate.data, tc->xstate.len)) {
		pr_err("TID %d: can't restore the FPU/xstate (%zu bytes)\n",
		       tid, tc->xstate.len);
		return -1;
	}
#define X(p, k) regs.k = tc->regs->p;
	REGS_FIELDS(X)
#undef X
	regs_fixup_restart(&regs, tid);
	if (ptrace_set_regs(tid, &regs)) {
		pr_err("TID %d: can't restore general registers\n", tid);
		return -1;
	}
	return 0;
}
