// SPDX-License-Identifier: GPL-2.0-only
/*
 * [vdso], [vvar] and [vvar_vclock] are where they were, the vdso code is the
 * same, and calling its functions directly still gives the right time: not
 * behind what it said before the dump, and in step with the real syscall
 * (a stale copy of vvar would give a frozen clock).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <string.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

typedef int (*clock_gettime_t)(clockid_t, struct timespec *);
typedef int (*gettimeofday_t)(struct timeval *, void *);
typedef int (*getcpu_t)(unsigned *, unsigned *, void *);

static unsigned long vdso_base;

static void *vdso_sym(const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)vdso_base;
	Elf64_Shdr *sh = (Elf64_Shdr *)(vdso_base + eh->e_shoff);
	Elf64_Phdr *ph = (Elf64_Phdr *)(vdso_base + eh->e_phoff);
	unsigned long load = 0;
	int i;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		fail("AT_SYSINFO_EHDR %#lx is not an ELF header", vdso_base);
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			load = vdso_base - ph[i].p_vaddr;
			break;
		}
	for (i = 0; i < eh->e_shnum; i++) {
		Elf64_Sym *sym;
		const char *str;
		size_t j, n;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		sym = (Elf64_Sym *)(vdso_base + sh[i].sh_offset);
		str = (const char *)(vdso_base + sh[sh[i].sh_link].sh_offset);
		n = sh[i].sh_size / sizeof(*sym);
		for (j = 0; j < n; j++)
			if (!strcmp(str + sym[j].st_name, name) &&
			    sym[j].st_shndx != SHN_UNDEF)
				return (void *)(load + sym[j].st_value);
	}
	fail("no %s in the vdso", name);
}

static void special_lines(char *out, size_t size)
{
	static char maps[1 << 16];
	char *line, *save = NULL;
	size_t off = 0;

	maps_all(maps, sizeof(maps));
	out[0] = '\0';
	for (line = strtok_r(maps, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "[vdso]") || strstr(line, "[vvar]") ||
		    strstr(line, "[vvar_vclock]"))
			off += snprintf(out + off, size - off, "%s\n", line);
}

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static clock_gettime_t vdso_cgt;
static gettimeofday_t vdso_gtod;
static getcpu_t vdso_getcpu;

/* vdso and syscall agree on clock c; returns the vdso reading. */
static long long check_clock(clockid_t c, const char *name)
{
	struct timespec v, s, v2;

	if (vdso_cgt(c, &v))
		fail("vdso clock_gettime(%s) failed", name);
	if (syscall(SYS_clock_gettime, c, &s))
		fail("clock_gettime(%s): %m", name);
	if (vdso_cgt(c, &v2))
		fail("vdso clock_gettime(%s) failed", name);
	if (ns(&s) < ns(&v) || ns(&v2) < ns(&s))
		fail("%s: vdso and syscall disagree: vdso %lld, syscall %lld, "
		     "vdso %lld", name, ns(&v), ns(&s), ns(&v2));
	return ns(&v);
}

static void check_all(long long *mono, long long *real)
{
	struct timeval tv, tv2;
	unsigned cpu = ~0u, node = ~0u;
	long long a, b;

	*mono = check_clock(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	*real = check_clock(CLOCK_REALTIME, "CLOCK_REALTIME");
	check_clock(CLOCK_BOOTTIME, "CLOCK_BOOTTIME");

	/* The clock moves. */
	a = check_clock(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	usleep(20000);
	b = check_clock(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	if (b - a < 20000000LL)
		fail("vdso CLOCK_MONOTONIC moved %lld ns over a 20 ms sleep",
		     b - a);

	if (vdso_gtod(&tv, NULL))
		fail("vdso gettimeofday failed");
	if (syscall(SYS_gettimeofday, &tv2, NULL))
		fail("gettimeofday: %m");
	if (tv2.tv_sec - tv.tv_sec > 1 || tv2.tv_sec < tv.tv_sec)
		fail("vdso gettimeofday %ld vs syscall %ld", (long)tv.tv_sec,
		     (long)tv2.tv_sec);
	if (vdso_getcpu(&cpu, &node, NULL) ||
	    cpu >= (unsigned)sysconf(_SC_NPROCESSORS_CONF))
		fail("vdso getcpu: cpu %u", cpu);
}

int main(int argc, char **argv)
{
	static char lines_before[4096], lines_after[4096];
	static char code_before[1 << 16];
	long long mono0, real0, mono1, real1;
	char vdso_line[512];
	unsigned long s, e;

	test_init(argc, argv);

	vdso_base = getauxval(AT_SYSINFO_EHDR);
	if (!vdso_base)
		fail("no AT_SYSINFO_EHDR");
	vdso_cgt = vdso_sym("__vdso_clock_gettime");
	vdso_gtod = vdso_sym("__vdso_gettimeofday");
	vdso_getcpu = vdso_sym("__vdso_getcpu");

	special_lines(lines_before, sizeof(lines_before));
	if (!strstr(lines_before, "[vdso]") || !strstr(lines_before, "[vvar]"))
		fail("no [vdso]/[vvar] in maps:\n%s", lines_before);
	if (!strstr(lines_before, "[vvar_vclock]"))
		test_msg("note: this kernel has no [vvar_vclock]");
	maps_line((void *)vdso_base, vdso_line, sizeof(vdso_line));
	if (sscanf(vdso_line, "%lx-%lx", &s, &e) != 2 || s != vdso_base ||
	    !strstr(vdso_line, "[vdso]"))
		fail("AT_SYSINFO_EHDR is not the start of [vdso]: %s",
		     vdso_line);
	if (e - s > sizeof(code_before))
		fail("vdso too big");
	memcpy(code_before, (void *)s, e - s);
	check_all(&mono0, &real0);

	test_daemon();
	test_waitsig();

	special_lines(lines_after, sizeof(lines_after));
	if (strcmp(lines_before, lines_after))
		fail("vdso/vvar mappings changed:\n%s-- now --\n%s",
		     lines_before, lines_after);
	if (memcmp(code_before, (void *)s, e - s))
		fail("vdso code differs");
	check_all(&mono1, &real1);
	if (mono1 < mono0)
		fail("CLOCK_MONOTONIC went back: %lld -> %lld", mono0, mono1);
	if (real1 < real0)
		fail("CLOCK_REALTIME went back: %lld -> %lld", real0, real1);
	test_msg("monotonic advanced %lld ms", (mono1 - mono0) / 1000000);
	pass();
}
