// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPU state: general registers (with fs/gs base) and the xsave area, which
 * holds FPU, SSE, AVX and the rest of what XSAVE covers on this CPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * A sleep stopped once before (SIGSTOP, a debugger, a pre-dump) goes on in
 * restart_syscall, whose state -- which call, when it ends -- stays in the
 * kernel. Name the call it restarts, from where the thread sleeps and the
 * arguments the registers still hold, so restore can issue it again; what
 * can't be named returns EINTR, as an interrupted sleep may.
 */
static void regs_name_restart(pid_t tid, const char *wchan,
			      struct user_regs_struct *regs)
{
	if (regs->orig_rax != SYS_restart_syscall ||
	    (long)regs->rax != -ERESTART_RESTARTBLOCK)
		return;
	if (strstr(wchan, "poll"))
		regs->orig_rax = SYS_poll;
	else if (strstr(wchan, "futex"))
		regs->orig_rax = SYS_futex;
	else if (regs->rdi < 64 && !(regs->rsi & ~(uint64_t)TIMER_ABSTIME) &&
		 regs->rdx)
		regs->orig_rax = SYS_clock_nanosleep;
	else if (regs->rdi >= 4096)
		regs->orig_rax = SYS_nanosleep;
	else {
		regs->rax = -EINTR;
		regs->orig_rax = -1;
	}
	pr_info("TID %d was in restart_syscall (in %s): dumped as syscall %lld\n",
		tid, wchan[0] ? wchan : "?", (long long)regs->orig_rax);
}

int regs_dump(pid_t tid, const char *wchan, ThreadCoreEntry *tc,
	      struct arena *a)
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
	regs_name_restart(tid, wchan, &regs);
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
 * Absolute sleeps restart as they are. Returns 1 if the sleep goes on
 * exactly as the kernel's own restart would have it.
 */
static int regs_remaining_sleep(struct user_regs_struct *regs)
{
	if (regs->orig_rax == SYS_nanosleep && regs->rsi) {
		regs->rdi = regs->rsi;
		return 1;
	}
	if (regs->orig_rax != SYS_clock_nanosleep)
		return 0;
	if (regs->rsi & TIMER_ABSTIME)
		return 1;
	if (!regs->r10)
		return 0;
	regs->rdx = regs->r10;
	return 1;
}

static int in_restartblock(const struct user_regs_struct *regs)
{
	return (long)regs->orig_rax >= 0 &&
	       (long)regs->rax == -ERESTART_RESTARTBLOCK;
}

static void regs_reissue(struct user_regs_struct *regs)
{
	regs->rax = regs->orig_rax;
	regs->rip -= 2;
	regs->orig_rax = -1;
}

static void regs_fixup_restart(struct user_regs_struct *regs, pid_t tid)
{
	if (!in_restartblock(regs))
		return;
	pr_debug("TID %d: re-issuing syscall %lld\n", tid,
		 (long long)regs->orig_rax);
	regs_remaining_sleep(regs);
	regs_reissue(regs);
}

/*
 * Before a dumped task is let go: the kernel would turn a sleep we
 * interrupted into restart_syscall, whose state is the kernel's alone, so
 * the next dump could not say what the task was doing. Where the sleep can
 * be re-issued exactly, re-issue it ourselves.
 */
int regs_restart_in_place(pid_t tid)
{
	struct user_regs_struct regs;

	if (ptrace_get_regs(tid, &regs))
		return -1;
	if (!in_restartblock(&regs) || !regs_remaining_sleep(&regs))
		return 0;
	regs_reissue(&regs);
	return ptrace_set_regs(tid, &regs);
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
