/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_PTRACE_H
#define CRLITE_PTRACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/*
 * Seize PID and stop it with PTRACE_INTERRUPT; 0 when it sits in a stop.
 * Fails silently with ESRCH when PID is gone, and EPERM when it may not be
 * traced or is exiting (the caller tells which).
 */
int ptrace_seize_stop(pid_t pid, unsigned int options);
/* Wait for PID's next stop; returns the wait status, or -1. */
int ptrace_wait_stop(pid_t pid, int *status);
int ptrace_detach(pid_t pid, int sig);

int ptrace_get_regs(pid_t pid, struct user_regs_struct *regs);
int ptrace_set_regs(pid_t pid, const struct user_regs_struct *regs);
/* xstate: *len in = buffer size, out = bytes the kernel filled */
int ptrace_get_xstate(pid_t pid, void *buf, size_t *len);
int ptrace_set_xstate(pid_t pid, const void *buf, size_t len);
int ptrace_get_sigmask(pid_t pid, uint64_t *mask);
int ptrace_set_sigmask(pid_t pid, uint64_t mask);
/* Pending siginfos of PID; SHARED selects the process-wide queue. */
int ptrace_peek_siginfo(pid_t pid, int shared, void *buf, int max);

/*
 * Remote syscalls: run syscall NR with ARGS inside stopped task PID.
 *
 * Two ways to get the task back under control after the syscall:
 *  - REMOTE_BREAKPOINT: IP points at "syscall; int3" that we mapped; the int3
 *    gives a signal-delivery-stop (used on restore, where the trampoline is
 *    ours);
 *  - REMOTE_SYSCALL_STOPS: IP points at any syscall instruction in the task
 *    (the vdso has some), and syscall-enter/exit stops catch it (used on dump,
 *    where we must not change the task's mappings).
 * The task's registers are saved on remote_start() and put back by
 * remote_finish().
 */
enum remote_mode {
	REMOTE_BREAKPOINT,
	REMOTE_SYSCALL_STOPS,
};

struct remote {
	pid_t pid;
	enum remote_mode mode;
	uint64_t syscall_ip;
	/* scratch memory inside the task for syscall arguments */
	uint64_t scratch;
	size_t scratch_len;
	struct user_regs_struct saved;
	int started;
};

int remote_start(struct remote *r, pid_t pid, enum remote_mode mode,
		 uint64_t syscall_ip);
/* Returns the syscall's return value (-errno on failure) in *ret. */
int remote_syscall(struct remote *r, long *ret, long nr, long a1, long a2,
		   long a3, long a4, long a5, long a6);
int remote_finish(struct remote *r);
/*
 * FD is the task's, made in this session (a userfaultfd, bound to the mm
 * that creates it): take it through PIDFD with pidfd_getfd() and close the
 * task's. Returns ours; -1 with errno if pidfd_getfd() failed; -2 if the
 * task's could not be closed (logged).
 */
int remote_take_fd(struct remote *r, int pidfd, long fd);
/*
 * clone3 with the clone_args at ARGS (in the task) in a REMOTE_BREAKPOINT
 * session whose tracee has PTRACE_O_TRACECLONE: *child is the new thread or
 * process, left in its first ptrace stop.
 */
int remote_clone(struct remote *r, uint64_t args, size_t size, pid_t *child);
/*
 * Last call of a REMOTE_BREAKPOINT session: unmap the trampoline itself. The
 * task is left in a SIGSEGV stop, which detaching with signal 0 discards.
 */
int remote_unmap_trampoline(struct remote *r, uint64_t addr, size_t len);

/* Copy to and from the task's memory (process_vm_*, /proc/PID/mem fallback). */
int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);

#endif
