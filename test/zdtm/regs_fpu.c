// SPDX-License-Identifier: GPL-2.0-only
/*
 * Registers live across the dump: while the task sleeps in pause() (where
 * the dump catches it) the general registers the syscall does not clobber,
 * all 16 xmm/ymm registers, MXCSR, the x87 control word and the eight x87
 * stack registers hold patterns; after restore they must hold them still,
 * and pause() must have returned -EINTR (never a -ERESTART* value).
 * fs base and gs base (set to a value of our own) are unchanged.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef __x86_64__
#error "regs_fpu is x86_64 only"
#endif

#define NGP 11 /* rbx rdx rsi rdi r8 r9 r10 r12 r13 r14 r15 */
static const char *gp_names[NGP] = { "rbx", "rdx", "rsi", "rdi", "r8", "r9",
				     "r10", "r12", "r13", "r14", "r15" };

/* Global (not static) so the asm can name them %rip-relative. */
uint64_t gp_in[NGP], gp_out[NGP], rax_out;
uint8_t vec_in[16 * 32] __attribute__((aligned(32)));
uint8_t vec_out[16 * 32] __attribute__((aligned(32)));
uint32_t mxcsr_in, mxcsr_out, mxcsr_default = 0x1f80;
uint16_t fcw_in, fcw_out, fcw_default = 0x037f;
long double x87_in[8], x87_out[8];

#define GPLOAD                                                                 \
	"movq gp_in+0(%%rip), %%rbx\n\t"                                       \
	"movq gp_in+8(%%rip), %%rdx\n\t"                                       \
	"movq gp_in+16(%%rip), %%rsi\n\t"                                      \
	"movq gp_in+24(%%rip), %%rdi\n\t"                                      \
	"movq gp_in+32(%%rip), %%r8\n\t"                                       \
	"movq gp_in+40(%%rip), %%r9\n\t"                                       \
	"movq gp_in+48(%%rip), %%r10\n\t"                                      \
	"movq gp_in+56(%%rip), %%r12\n\t"                                      \
	"movq gp_in+64(%%rip), %%r13\n\t"                                      \
	"movq gp_in+72(%%rip), %%r14\n\t"                                      \
	"movq gp_in+80(%%rip), %%r15\n\t"
#define GPSTORE                                                                \
	"movq %%rbx, gp_out+0(%%rip)\n\t"                                      \
	"movq %%rdx, gp_out+8(%%rip)\n\t"                                      \
	"movq %%rsi, gp_out+16(%%rip)\n\t"                                     \
	"movq %%rdi, gp_out+24(%%rip)\n\t"                                     \
	"movq %%r8, gp_out+32(%%rip)\n\t"                                      \
	"movq %%r9, gp_out+40(%%rip)\n\t"                                      \
	"movq %%r10, gp_out+48(%%rip)\n\t"                                     \
	"movq %%r12, gp_out+56(%%rip)\n\t"                                     \
	"movq %%r13, gp_out+64(%%rip)\n\t"                                     \
	"movq %%r14, gp_out+72(%%rip)\n\t"                                     \
	"movq %%r15, gp_out+80(%%rip)\n\t"

#define X87LOAD                                                                \
	"fldcw fcw_in(%%rip)\n\t"                                              \
	"fldt x87_in+0(%%rip)\n\t"                                             \
	"fldt x87_in+16(%%rip)\n\t"                                            \
	"fldt x87_in+32(%%rip)\n\t"                                            \
	"fldt x87_in+48(%%rip)\n\t"                                            \
	"fldt x87_in+64(%%rip)\n\t"                                            \
	"fldt x87_in+80(%%rip)\n\t"                                            \
	"fldt x87_in+96(%%rip)\n\t"                                            \
	"fldt x87_in+112(%%rip)\n\t"                                           \
	"ldmxcsr mxcsr_in(%%rip)\n\t"
#define X87STORE                                                               \
	"fnstcw fcw_out(%%rip)\n\t"                                            \
	"fstpt x87_out+112(%%rip)\n\t"                                         \
	"fstpt x87_out+96(%%rip)\n\t"                                          \
	"fstpt x87_out+80(%%rip)\n\t"                                          \
	"fstpt x87_out+64(%%rip)\n\t"                                          \
	"fstpt x87_out+48(%%rip)\n\t"                                          \
	"fstpt x87_out+32(%%rip)\n\t"                                          \
	"fstpt x87_out+16(%%rip)\n\t"                                          \
	"fstpt x87_out+0(%%rip)\n\t"                                           \
	"stmxcsr mxcsr_out(%%rip)\n\t"                                         \
	"fldcw fcw_default(%%rip)\n\t"                                         \
	"ldmxcsr mxcsr_default(%%rip)\n\t"

#define V(op, n, arr) op " " arr "+" #n "*32(%%rip), %%ymm" #n "\n\t"
#define VS(op, n, arr) op " %%ymm" #n ", " arr "+" #n "*32(%%rip)\n\t"
#define X(op, n, arr) op " " arr "+" #n "*32(%%rip), %%xmm" #n "\n\t"
#define XS(op, n, arr) op " %%xmm" #n ", " arr "+" #n "*32(%%rip)\n\t"
#define ALL16(M, op, arr)                                                      \
	M(op, 0, arr) M(op, 1, arr) M(op, 2, arr) M(op, 3, arr)                \
	M(op, 4, arr) M(op, 5, arr) M(op, 6, arr) M(op, 7, arr)                \
	M(op, 8, arr) M(op, 9, arr) M(op, 10, arr) M(op, 11, arr)              \
	M(op, 12, arr) M(op, 13, arr) M(op, 14, arr) M(op, 15, arr)

#define PAUSE_SYSCALL                                                          \
	"movl $" __stringify(SYS_pause) ", %%eax\n\t"                          \
	"syscall\n\t"                                                          \
	"movq %%rax, rax_out(%%rip)\n\t"
#define __stringify_1(x) #x
#define __stringify(x) __stringify_1(x)

#define CLOBBERS                                                               \
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",    \
	"r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",    \
	"xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",     \
	"xmm13", "xmm14", "xmm15", "st", "st(1)", "st(2)", "st(3)", "st(4)",   \
	"st(5)", "st(6)", "st(7)", "memory", "cc"

static int have_avx;

static void pause_with_regs(void)
{
	if (have_avx)
		asm volatile(ALL16(V, "vmovdqu", "vec_in") X87LOAD GPLOAD
			     PAUSE_SYSCALL GPSTORE X87STORE
			     ALL16(VS, "vmovdqu", "vec_out") "vzeroupper\n\t"
			     ::: CLOBBERS);
	else
		asm volatile(ALL16(X, "movdqu", "vec_in") X87LOAD GPLOAD
			     PAUSE_SYSCALL GPSTORE X87STORE
			     ALL16(XS, "movdqu", "vec_out")
			     ::: CLOBBERS);
}

static void check_regs(void)
{
	int i, vlen = have_avx ? 32 : 16;

	if ((int64_t)rax_out != -EINTR)
		fail("pause() returned %ld, expected -EINTR", (long)rax_out);
	for (i = 0; i < NGP; i++)
		if (gp_in[i] != gp_out[i])
			fail("%s: %#lx, expected %#lx", gp_names[i],
			     (unsigned long)gp_out[i], (unsigned long)gp_in[i]);
	for (i = 0; i < 16; i++)
		if (memcmp(vec_in + i * 32, vec_out + i * 32, vlen))
			fail("%smm%d differs", have_avx ? "y" : "x", i);
	if (mxcsr_in != mxcsr_out)
		fail("MXCSR %#x, expected %#x", mxcsr_out, mxcsr_in);
	if (fcw_in != fcw_out)
		fail("x87 control word %#x, expected %#x", fcw_out, fcw_in);
	for (i = 0; i < 8; i++)
		if (memcmp(&x87_in[i], &x87_out[i], 10))
			fail("x87 register (load order %d) differs", i);
}

static uint64_t rdgsbase(void)
{
	uint64_t v;

	asm volatile("rdgsbase %0" : "=r"(v));
	return v;
}

int main(int argc, char **argv)
{
	unsigned long fs0, gs0, fs1, gs1;
	static char gs_area[64];
	int i, fsgsbase;

	test_init(argc, argv);
	have_avx = !!__builtin_cpu_supports("avx");
	fsgsbase = !!(getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */);

	for (i = 0; i < NGP; i++)
		gp_in[i] = 0x1111111111111111ull * (i + 1) ^ 0x0123456789abcdefull;
	fill_pattern(vec_in, sizeof(vec_in), 4242);
	for (i = 0; i < 8; i++)
		x87_in[i] = (long double)(i + 1) * 3.14159265358979323846L;
	mxcsr_in = 0x1f80 | (3 << 13) | (1 << 15); /* round to zero, FTZ */
	fcw_in = 0x037f & ~(3 << 10);
	fcw_in |= 1 << 10; /* round down */

	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)gs_area))
		fail("ARCH_SET_GS: %m");
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs0) ||
	    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs0))
		fail("arch_prctl GET: %m");
	if (gs0 != (unsigned long)gs_area)
		fail("gs base %#lx after ARCH_SET_GS %p", gs0, gs_area);

	test_msg("avx %d fsgsbase %d", have_avx, fsgsbase);
	test_daemon();

	while (!test_sig_received()) {
		memset(vec_out, 0, sizeof(vec_out));
		memset(gp_out, 0, sizeof(gp_out));
		pause_with_regs();
		check_regs();
	}

	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs1) ||
	    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs1))
		fail("arch_prctl GET: %m");
	if (fs1 != fs0)
		fail("fs base %#lx, was %#lx", fs1, fs0);
	if (gs1 != gs0)
		fail("gs base %#lx, was %#lx", gs1, gs0);
	if (fsgsbase && rdgsbase() != gs0)
		fail("rdgsbase %#lx, was %#lx", (unsigned long)rdgsbase(), gs0);
	pass();
}
