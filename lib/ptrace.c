// SPDX-License-Identifier: LGPL-2.1-or-later
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "ptrace.h"

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK 0x420a
#define PTRACE_SETSIGMASK 0x420b
#endif
#ifndef PTRACE_PEEKSIGINFO
#define PTRACE_PEEKSIGINFO 0x4209
#endif
#ifndef PTRACE_PEEKSIGINFO_SHARED
#define PTRACE_PEEKSIGINFO_SHARED 1
#endif

struct peeksiginfo_args_compat {
	uint64_t off;
	uint32_t flags;
	int32_t nr;
};

/* The next stop, or -1 with errno ESRCH, silently, if PID ended instead. */
static int wait_stop_quiet(pid_t pid, int *status)
{
	for (;;) {
		pid_t ret = waitpid(pid, status, __WALL);

		if (ret == pid)
			break;
		if (ret < 0 && errno == EINTR)
			continue;
		pr_perror("waitpid(%d) failed", pid);
		return -1;
	}
	if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

int ptrace_wait_stop(pid_t pid, int *status)
{
	if (!wait_stop_quiet(pid, status))
		return 0;
	if (errno != ESRCH)
		return -1;
	if (WIFEXITED(*status))
		pr_err("Task %d exited with %d while being traced\n", pid,
		       WEXITSTATUS(*status));
	else
		pr_err("Task %d was killed by signal %d while being traced\n",
		       pid, WTERMSIG(*status));
	return -1;
}

int ptrace_seize_stop(pid_t pid, unsigned int options)
{
	int status;

	if (ptrace(PTRACE_SEIZE, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | options))) {
		/* gone, or exiting (EPERM): the caller decides if it matters */
		if (errno != ESRCH && errno != EPERM)
			pr_perror("Can't seize PID %d", pid);
		return -1;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
		pr_perror("Can't interrupt PID %d", pid);
		goto err;
	}
	/*
	 * The first stop may be a signal that was already on its way: deliver
	 * it as it would have been, and wait for the interrupt.
	 */
	for (;;) {
		/* a thread on its way out ends here: the caller decides */
		if (wait_stop_quiet(pid, &status))
			return -1;
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		if (!WIFSTOPPED(status))
			break;
		pr_debug("PID %d stopped by signal %d before the interrupt\n",
			 pid, WSTOPSIG(status));
		/*
		 * Our interrupt is still pending and stops it next: another
		 * one would stop it again later, in the middle of our work.
		 */
		if (ptrace(PTRACE_CONT, pid, NULL,
			   (void *)(long)WSTOPSIG(status))) {
			pr_perror("Can't resume PID %d", pid);
			goto err;
		}
	}
	pr_err("Unexpected wait status %#x from PID %d\n", status, pid);
err:
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	return -1;
}

int ptrace_detach(pid_t pid, int sig)
{
	if (ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)sig)) {
		pr_perror("Can't detach from PID %d", pid);
		return -1;
	}
	return 0;
}

static int regset(pid_t pid, int set, int type, void *buf, size_t *len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = *len };

	if (ptrace(set ? PTRACE_SETREGSET : PTRACE_GETREGSET, pid,
		   (void *)(long)type, &iov)) {
		pr_perror("Can't %s regset %d of PID %d", set ? "set" : "get",
			  type, pid);
		return -1;
	}
	*len = iov.iov_len;
	return 0;
}

int ptrace_get_regs(pid_t pid, struct user_regs_struct *regs)
{
	size_t len = sizeof(*regs);

	return regset(pid, 0, NT_PRSTATUS, regs, &len);
}

int ptrace_set_regs(pid_t pid, const struct user_regs_struct *regs)
{
	size_t len = sizeof(*regs);

	return regset(pid, 1, NT_PRSTATUS, (void *)regs, &len);
}

int ptrace_get_xstate(pid_t pid, void *buf, size_t *len)
{
	return regset(pid, 0, NT_X86_XSTATE, buf, len);
}

int ptrace_set_xstate(pid_t pid, const void *buf, size_t len)
{
	return regset(pid, 1, NT_X86_XSTATE, (void *)buf, &len);
}

int ptrace_get_sigmask(pid_t pid, uint64_t *mask)
{
	if (ptrace(PTRACE_GETSIGMASK, pid, (void *)sizeof(*mask), mask)) {
		pr_perror("Can't get the signal mask of PID %d", pid);
		return -1;
	}
	return 0;
}

int ptrace_set_sigmask(pid_t pid, uint64_t mask)
{
	if (ptrace(PTRACE_SETSIGMASK, pid, (void *)sizeof(mask), &mask)) {
		pr_perror("Can't set the signal mask of PID %d", pid);
		return -1;
	}
	return 0;
}

int ptrace_peek_siginfo(pid_t pid, int shared, void *buf, int max)
{
	struct peeksiginfo_args_compat args = {
		.off = 0,
		.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
		.nr = max,
	};
	long n = ptrace(PTRACE_PEEKSIGINFO, pid, &args, buf);

	if (n < 0)
		pr_perror("Can't peek %s pending signals of PID %d",
			  shared ? "shared" : "private", pid);
	return n;
}

int remote_start(struct remote *r, pid_t pid, enum remote_mode mode,
		 uint64_t syscall_ip)
{
	r->pid = pid;
	r->mode = mode;
	r->syscall_ip = syscall_ip;
	if (ptrace_get_regs(pid, &r->saved))
		return -1;
	r->started = 1;
	return 0;
}

/* Resume until the injected syscall completed; regs then hold the result. */
static int remote_run(struct remote *r, struct user_regs_struct *regs, int want)
{
	int status, stops = r->mode == REMOTE_SYSCALL_STOPS ? 2 : 1;
	int req = r->mode == REMOTE_SYSCALL_STOPS ? PTRACE_SYSCALL : PTRACE_CONT;

	while (stops--) {
		if (ptrace(req, r->pid, NULL, NULL)) {
			pr_perror("Can't resume PID %d for a remote syscall",
				  r->pid);
			return -1;
		}
		if (ptrace_wait_stop(r->pid, &status))
			return -1;
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != want) {
			pr_err("PID %d: unexpected stop %#x during a remote syscall\n",
			       r->pid, status);
			return -1;
		}
	}
	return ptrace_get_regs(r->pid, regs);
}

static int remote_call(struct remote *r, int want, long *ret, long nr, long a1,
		       long a2, long a3, long a4, long a5, long a6)
{
	struct user_regs_struct regs = r->saved;

	regs.rax = nr;
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = a3;
	regs.r10 = a4;
	regs.r8 = a5;
	regs.r9 = a6;
	regs.rip = r->syscall_ip;
	/* not in a syscall: keeps the kernel's restart logic off our regs */
	regs.orig_rax = -1;
	if (ptrace_set_regs(r->pid, &regs) || remote_run(r, &regs, want))
		return -1;
	*ret = regs.rax;
	pr_debug("PID %d: remote syscall %ld(%#lx, %#lx, %#lx, ...) = %ld\n",
		 r->pid, nr, a1, a2, a3, *ret);
	return 0;
}

int remote_syscall(struct remote *r, long *ret, long nr, long a1, long a2,
		   long a3, long a4, long a5, long a6)
{
	int want = r->mode == REMOTE_SYSCALL_STOPS ? (SIGTRAP | 0x80) : SIGTRAP;

	return remote_call(r, want, ret, nr, a1, a2, a3, a4, a5, a6);
}

int remote_clone(struct remote *r, uint64_t args, size_t size, pid_t *child)
{
	struct user_regs_struct regs = r->saved;
	unsigned long msg;
	int status;

	if (r->mode != REMOTE_BREAKPOINT)
		return -1;
	regs.rax = SYS_clone3;
	regs.rdi = args;
	regs.rsi = size;
	regs.rip = r->syscall_ip;
	regs.orig_rax = -1;
	if (ptrace_set_regs(r->pid, &regs))
		return -1;
	if (ptrace(PTRACE_CONT, r->pid, NULL, NULL) ||
	    ptrace_wait_stop(r->pid, &status))
		return -1;
	if (status >> 8 != (SIGTRAP | (PTRACE_EVENT_CLONE << 8))) {
		/* no event: clone3 failed, and the int3 stop has its errno */
		if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP &&
		    !ptrace_get_regs(r->pid, &regs)) {
			errno = -(long)regs.rax;
			pr_perror("PID %d: injected clone3 failed", r->pid);
		} else {
			pr_err("PID %d: unexpected stop %#x in clone3\n", r->pid,
			       status);
		}
		return -1;
	}
	if (ptrace(PTRACE_GETEVENTMSG, r->pid, NULL, &msg)) {
		pr_perror("PID %d: can't get the new thread's TID", r->pid);
		return -1;
	}
	*child = msg;
	if (remote_run(r, &regs, SIGTRAP))
		return -1;
	/* the new thread starts in a ptrace stop, auto-attached */
	if (ptrace_wait_stop(*child, &status))
		return -1;
	if (status >> 16 != PTRACE_EVENT_STOP) {
		pr_err("TID %d: unexpected first stop %#x\n", *child, status);
		return -1;
	}
	pr_debug("PID %d: cloned thread %d\n", r->pid, *child);
	return 0;
}

int remote_take_fd(struct remote *r, int pidfd, long fd)
{
	long ret;
	int ours, err;

	ours = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = errno;
	if (remote_syscall(r, &ret, SYS_close, fd, 0, 0, 0, 0, 0) || ret) {
		pr_err("PID %d: can't close its fd %ld again\n", r->pid, fd);
		if (ours >= 0)
			close(ours);
		return -2;
	}
	errno = err;
	return ours;
}

int remote_unmap_trampoline(struct remote *r, uint64_t addr, size_t len)
{
	long ret;

	/* the int3 after the syscall is gone with it: the task faults there */
	if (r->mode != REMOTE_BREAKPOINT ||
	    remote_call(r, SIGSEGV, &ret, SYS_munmap, addr, len, 0, 0, 0, 0))
		return -1;
	if (ret) {
		errno = -ret;
		pr_perror("PID %d: can't unmap the trampoline", r->pid);
		return -1;
	}
	return 0;
}

int remote_finish(struct remote *r)
{
	int status;

	if (!r->started)
		return 0;
	r->started = 0;
	if (ptrace_set_regs(r->pid, &r->saved))
		return -1;
	if (r->mode != REMOTE_SYSCALL_STOPS)
		return 0;
	/*
	 * We sit in a syscall-exit-stop. Go back to a PTRACE_EVENT_STOP so
	 * that on detach the task passes through signal handling, where the
	 * kernel restarts the syscall it was interrupted in.
	 */
	if (ptrace(PTRACE_INTERRUPT, r->pid, NULL, NULL) ||
	    ptrace(PTRACE_CONT, r->pid, NULL, NULL)) {
		pr_perror("Can't re-stop PID %d", r->pid);
		return -1;
	}
	if (ptrace_wait_stop(r->pid, &status))
		return -1;
	if ((status >> 16) != PTRACE_EVENT_STOP) {
		pr_err("PID %d: unexpected stop %#x re-stopping\n", r->pid,
		       status);
		return -1;
	}
	return 0;
}

static int mem_rw(pid_t pid, uint64_t addr, void *buf, size_t len, int write)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open %s", path);
		return -1;
	}
	n = write ? pwrite(fd, buf, len, addr) : pread(fd, buf, len, addr);
	close(fd);
	if (n != (ssize_t)len) {
		pr_perror("Can't %s %zu bytes at %#" PRIx64 " of PID %d",
			  write ? "write" : "read", len, addr, pid);
		return -1;
	}
	return 0;
}

int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { .iov_base = (void *)buf, .iov_len = len };
	struct iovec rem = { .iov_base = (void *)addr, .iov_len = len };

	if (process_vm_writev(pid, &local, 1, &rem, 1, 0) == (ssize_t)len)
		return 0;
	return mem_rw(pid, addr, (void *)buf, len, 1);
}

int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec rem = { .iov_base = (void *)addr, .iov_len = len };

	if (process_vm_readv(pid, &local, 1, &rem, 1, 0) == (ssize_t)len)
		return 0;
	return mem_rw(pid, addr, buf, len, 0);
}
