// SPDX-License-Identifier: GPL-2.0-only
/*
 * Eight threads, each dumped while blocked in a futex wait that it entered
 * from inline assembly holding known values in xmm0-15 and r12-r15. After
 * restore each checks its own state: TID, TLS (fs base, a __thread value),
 * blocked mask, sigaltstack, name, MXCSR and x87 control word, robust futex
 * list, clear_child_tid address, rseq registration, and the registers it
 * held across the wait. Then it exits holding a robust mutex: main's
 * pthread_join (clear_child_tid) and the mutex's EOWNERDEAD (robust list)
 * show those addresses still work in the kernel, not just read back right.
 * x86-64 only.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dirent.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NR_THREADS 8
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31) /* linux/signal.h; glibc 2.36 lacks it */
#endif
#define ALT_SIZE (64 << 10)

struct tstate {
	pid_t tid;
	unsigned long fs;
	void *tls_addr;
	int tls_val;
	uint64_t blocked;
	stack_t ss;
	char comm[32];
	void *robust_head;
	size_t robust_len;
	void *tid_addr;
	uint32_t mxcsr;
	uint16_t fpucw;
	int rseq;
};

struct regs {
	uint64_t xmm[16][2];
	uint64_t gp[4]; /* r12-r15 */
};

struct worker {
	int idx;
	pthread_t th;
	pthread_mutex_t robust;
	struct tstate before;
	char err[512];
};

static struct worker workers[NR_THREADS];
static char altstacks[NR_THREADS][ALT_SIZE] __attribute__((aligned(4096)));
static __thread int tls_val;
static int nready;
static int go;

/*
 * 1 if this thread's rseq area is registered with the kernel: registering
 * it again with the same arguments says EBUSY (and changes nothing). 0 if
 * not, -1 if glibc did not register one (tunable off).
 */
static int rseq_registered(unsigned long tp)
{
	static const uint32_t lens[] = { 32, 0 };
	void *area = (char *)tp + __rseq_offset;
	size_t i;

	if (!__rseq_size)
		return -1;
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		uint32_t len = lens[i] ? lens[i] : __rseq_size;

		if (syscall(SYS_rseq, area, len, 0, RSEQ_SIG) == 0)
			return 0; /* it was not registered: now it is */
		if (errno == EBUSY)
			return 1;
	}
	return 0;
}

static void snap(struct tstate *s)
{
	char path[64];
	sigset_t set;
	size_t n;

	memset(s, 0, sizeof(*s));
	s->tid = syscall(SYS_gettid);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &s->fs);
	s->tls_addr = &tls_val;
	s->tls_val = tls_val;
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	memcpy(&s->blocked, &set, sizeof(s->blocked));
	sigaltstack(NULL, &s->ss);
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", s->tid);
	n = read_file(path, s->comm, sizeof(s->comm));
	if (n && s->comm[n - 1] == '\n')
		s->comm[n - 1] = '\0';
	syscall(SYS_get_robust_list, 0, &s->robust_head, &s->robust_len);
	prctl(PR_GET_TID_ADDRESS, &s->tid_addr, 0, 0, 0);
	asm volatile("stmxcsr %0" : "=m"(s->mxcsr));
	asm volatile("fnstcw %0" : "=m"(s->fpucw));
	s->rseq = rseq_registered(s->fs);
}

#define DIFF(field, fmt)                                                     \
	do {                                                                 \
		if (a->field != b->field)                                    \
			return snprintf(err, size, #field " was " fmt        \
					", now " fmt, a->field, b->field);   \
	} while (0)

static int diff(const struct tstate *a, const struct tstate *b, char *err,
		size_t size)
{
	DIFF(tid, "%d");
	DIFF(fs, "%#lx");
	DIFF(tls_addr, "%p");
	DIFF(tls_val, "%d");
	DIFF(blocked, "%#lx");
	DIFF(ss.ss_sp, "%p");
	DIFF(ss.ss_size, "%zu");
	DIFF(ss.ss_flags, "%#x");
	DIFF(robust_head, "%p");
	DIFF(robust_len, "%zu");
	DIFF(tid_addr, "%p");
	DIFF(mxcsr, "%#x");
	DIFF(fpucw, "%#x");
	DIFF(rseq, "%d");
	if (strcmp(a->comm, b->comm))
		return snprintf(err, size, "comm was \"%s\", now \"%s\"",
				a->comm, b->comm);
	return 0;
}

/*
 * Load the registers, sleep on go (FUTEX_WAIT until it is non-zero: a dump
 * interrupts and the restored task restarts the call), store them. The
 * compiler may use none of them across the block.
 */
static void wait_holding(const struct regs *in, struct regs *out)
{
	asm volatile(
		"movdqu 0x00(%[in]), %%xmm0\n\tmovdqu 0x10(%[in]), %%xmm1\n\t"
		"movdqu 0x20(%[in]), %%xmm2\n\tmovdqu 0x30(%[in]), %%xmm3\n\t"
		"movdqu 0x40(%[in]), %%xmm4\n\tmovdqu 0x50(%[in]), %%xmm5\n\t"
		"movdqu 0x60(%[in]), %%xmm6\n\tmovdqu 0x70(%[in]), %%xmm7\n\t"
		"movdqu 0x80(%[in]), %%xmm8\n\tmovdqu 0x90(%[in]), %%xmm9\n\t"
		"movdqu 0xa0(%[in]), %%xmm10\n\tmovdqu 0xb0(%[in]), %%xmm11\n\t"
		"movdqu 0xc0(%[in]), %%xmm12\n\tmovdqu 0xd0(%[in]), %%xmm13\n\t"
		"movdqu 0xe0(%[in]), %%xmm14\n\tmovdqu 0xf0(%[in]), %%xmm15\n\t"
		"mov 0x100(%[in]), %%r12\n\tmov 0x108(%[in]), %%r13\n\t"
		"mov 0x110(%[in]), %%r14\n\tmov 0x118(%[in]), %%r15\n"
		"1:\n\t"
		"movl (%[word]), %%eax\n\t"
		"testl %%eax, %%eax\n\t"
		"jnz 2f\n\t"
		"mov %[nr], %%eax\n\t"
		"mov %[word], %%rdi\n\t"
		"mov %[op], %%esi\n\t"
		"xor %%edx, %%edx\n\t"
		"xor %%r10d, %%r10d\n\t"
		"syscall\n\t"
		"jmp 1b\n"
		"2:\n\t"
		"movdqu %%xmm0, 0x00(%[out])\n\tmovdqu %%xmm1, 0x10(%[out])\n\t"
		"movdqu %%xmm2, 0x20(%[out])\n\tmovdqu %%xmm3, 0x30(%[out])\n\t"
		"movdqu %%xmm4, 0x40(%[out])\n\tmovdqu %%xmm5, 0x50(%[out])\n\t"
		"movdqu %%xmm6, 0x60(%[out])\n\tmovdqu %%xmm7, 0x70(%[out])\n\t"
		"movdqu %%xmm8, 0x80(%[out])\n\tmovdqu %%xmm9, 0x90(%[out])\n\t"
		"movdqu %%xmm10, 0xa0(%[out])\n\tmovdqu %%xmm11, 0xb0(%[out])\n\t"
		"movdqu %%xmm12, 0xc0(%[out])\n\tmovdqu %%xmm13, 0xd0(%[out])\n\t"
		"movdqu %%xmm14, 0xe0(%[out])\n\tmovdqu %%xmm15, 0xf0(%[out])\n\t"
		"mov %%r12, 0x100(%[out])\n\tmov %%r13, 0x108(%[out])\n\t"
		"mov %%r14, 0x110(%[out])\n\tmov %%r15, 0x118(%[out])\n\t"
		:
		: [in] "r"(in), [out] "r"(out), [word] "r"(&go),
		  [nr] "i"(SYS_futex), [op] "i"(FUTEX_WAIT_PRIVATE)
		: "rax", "rdi", "rsi", "rdx", "r10", "rcx", "r11", "r12",
		  "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		  "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
		  "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}

static void fill_regs(struct regs *r, int idx)
{
	uint64_t *w = &r->xmm[0][0];
	size_t i;

	for (i = 0; i < sizeof(*r) / sizeof(*w); i++)
		w[i] = 0x9e3779b97f4a7c15ull * (i + 1) ^ (uint64_t)idx << 56;
}

/* Everything that makes this thread unlike its siblings. */
static void set_up(struct worker *w)
{
	char name[16];
	sigset_t set;
	stack_t ss = {
		.ss_sp = altstacks[w->idx],
		.ss_size = ALT_SIZE,
		.ss_flags = w->idx & 1 ? (int)SS_AUTODISARM : 0,
	};
	uint32_t mxcsr;
	uint16_t cw;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM); /* the runner's SIGTERM is main's */
	sigaddset(&set, SIGRTMIN + 2 + w->idx);
	sigaddset(&set, w->idx & 1 ? SIGUSR1 : SIGUSR2);
	if (pthread_sigmask(SIG_SETMASK, &set, NULL))
		fail("pthread_sigmask");
	if (sigaltstack(&ss, NULL))
		fail("sigaltstack: %m");
	snprintf(name, sizeof(name), "zdtm-worker-%d", w->idx);
	if (pthread_setname_np(pthread_self(), name))
		fail("pthread_setname_np");
	tls_val = 1000 + w->idx;
	/* Rounding mode (MXCSR.RC) and x87 precision differ per thread. */
	asm volatile("stmxcsr %0" : "=m"(mxcsr));
	mxcsr = (mxcsr & ~0x6000u) | (uint32_t)(w->idx & 3) << 13;
	asm volatile("ldmxcsr %0" : : "m"(mxcsr));
	asm volatile("fnstcw %0" : "=m"(cw));
	cw = (cw & ~0x300u) | (uint16_t)((w->idx >> 1) & 3) << 8;
	asm volatile("fldcw %0" : : "m"(cw));
	if (pthread_mutex_lock(&w->robust))
		fail("lock robust mutex");
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct regs in, out;
	struct tstate after;
	int n;

	set_up(w);
	snap(&w->before);
	fill_regs(&in, w->idx);
	test_count_add(&nready, 1);

	wait_holding(&in, &out);

	snap(&after);
	n = diff(&w->before, &after, w->err, sizeof(w->err));
	if (!n && memcmp(&in, &out, sizeof(in)))
		snprintf(w->err, sizeof(w->err), "xmm0-15/r12-r15 changed "
			 "across the wait");
	if (!w->err[0] && w->before.rseq == 0)
		snprintf(w->err, sizeof(w->err), "rseq was not registered");
	/* Exit holding w->robust: the kernel must mark it owner-dead. */
	return NULL;
}

static void start_workers(void)
{
	pthread_mutexattr_t ma;
	int i;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	for (i = 0; i < NR_THREADS; i++) {
		workers[i].idx = i;
		pthread_mutex_init(&workers[i].robust, &ma);
		if (pthread_create(&workers[i].th, NULL, worker, &workers[i]))
			fail("pthread_create");
	}
	test_count_wait(&nready, NR_THREADS);
}

/* /proc/self/task lists main and exactly the workers' TIDs. */
static void check_task_dir(void)
{
	char path[64], buf[512];
	struct dirent *de;
	int i, n = 0;
	DIR *d;

	for (i = 0; i < NR_THREADS; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat",
			 workers[i].before.tid);
		read_file(path, buf, sizeof(buf));
	}
	d = opendir("/proc/self/task");
	if (!d)
		fail("opendir /proc/self/task: %m");
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	if (n != NR_THREADS + 1)
		fail("%d threads in /proc/self/task, expected %d", n,
		     NR_THREADS + 1);
}

static void finish_worker(struct worker *w)
{
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	r = pthread_timedjoin_np(w->th, NULL, &ts);
	if (r)
		fail("thread %d (tid %d): join: %s (clear_child_tid lost?)",
		     w->idx, w->before.tid, strerror(r));
	if (w->err[0])
		fail("thread %d (tid %d): %s", w->idx, w->before.tid, w->err);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	r = pthread_mutex_timedlock(&w->robust, &ts);
	if (r != EOWNERDEAD)
		fail("thread %d (tid %d) died holding a robust mutex: lock "
		     "says %s, not EOWNERDEAD (robust list lost?)", w->idx,
		     w->before.tid, strerror(r));
}

int main(int argc, char **argv)
{
	int i;

	test_init(argc, argv);
	start_workers();
	for (i = 0; i < NR_THREADS; i++)
		if (workers[i].before.rseq == 0)
			fail("thread %d: rseq not registered before the dump",
			     i);
	test_daemon();
	test_waitsig();

	check_task_dir();
	test_count_add(&go, 1);
	for (i = 0; i < NR_THREADS; i++)
		finish_worker(&workers[i]);
	pass();
}
