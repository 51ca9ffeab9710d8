// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm fields: /proc/self/cmdline, environ, exe and auxv read as before, the
 * code/data/brk/stack/arg/env bounds in /proc/self/stat are unchanged, the
 * auxiliary vector glibc saw agrees with the kernel's, and the tid address
 * and dumpable flag are kept.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef PR_GET_TID_ADDRESS
#define PR_GET_TID_ADDRESS 40
#endif

struct mmf {
	char cmdline[4096];
	size_t cmdline_len;
	char environ[65536];
	size_t environ_len;
	char auxv[4096];
	size_t auxv_len;
	char exe[PATH_MAX];
	unsigned long stat[52];
	unsigned long tid_addr;
	int dumpable;
};

/* Fields of /proc/self/stat after the comm, numbered as in proc(5). */
static void stat_fields(unsigned long *f)
{
	char buf[4096], *p, *save = NULL;
	int i = 3;

	read_file("/proc/self/stat", buf, sizeof(buf));
	p = strrchr(buf, ')');
	if (!p)
		fail("bad /proc/self/stat");
	for (p = strtok_r(p + 2, " ", &save); p && i < 52;
	     p = strtok_r(NULL, " ", &save), i++)
		f[i] = strtoul(p, NULL, 10);
}

static const int bound_fields[] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };
static const char *bound_names[] = { "start_code", "end_code", "start_stack",
				     "start_data", "end_data", "start_brk",
				     "arg_start", "arg_end", "env_start",
				     "env_end" };

static void measure(struct mmf *m)
{
	ssize_t n;

	m->cmdline_len = read_file("/proc/self/cmdline", m->cmdline,
				   sizeof(m->cmdline));
	m->environ_len = read_file("/proc/self/environ", m->environ,
				   sizeof(m->environ));
	m->auxv_len = read_file("/proc/self/auxv", m->auxv, sizeof(m->auxv));
	n = readlink("/proc/self/exe", m->exe, sizeof(m->exe) - 1);
	if (n < 0)
		fail("readlink /proc/self/exe: %m");
	m->exe[n] = '\0';
	stat_fields(m->stat);
	if (prctl(PR_GET_TID_ADDRESS, &m->tid_addr, 0, 0, 0))
		fail("PR_GET_TID_ADDRESS: %m");
	m->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

/* glibc's copy of auxv (getauxval) agrees with the kernel's. */
static void check_auxv(const struct mmf *m)
{
	static const unsigned long types[] = {
		AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_ENTRY,
		AT_UID, AT_EUID, AT_GID, AT_EGID, AT_CLKTCK,
		AT_SECURE, AT_RANDOM, AT_EXECFN, AT_SYSINFO_EHDR, AT_PLATFORM,
	};
	const Elf64_auxv_t *a = (const void *)m->auxv;
	size_t i, n = m->auxv_len / sizeof(*a);
	int found;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		size_t j;

		found = 0;
		for (j = 0; j < n && a[j].a_type != AT_NULL; j++)
			if (a[j].a_type == types[i]) {
				found = 1;
				if (a[j].a_un.a_val != getauxval(types[i]))
					fail("auxv %lu: kernel %#lx, getauxval %#lx",
					     types[i], a[j].a_un.a_val,
					     getauxval(types[i]));
			}
		if (!found && types[i] != AT_BASE)
			fail("auxv %lu missing in /proc/self/auxv", types[i]);
	}
	if (strcmp((const char *)getauxval(AT_EXECFN), m->cmdline) &&
	    !strstr(m->exe, strrchr((const char *)getauxval(AT_EXECFN), '/') ?:
				    ""))
		fail("AT_EXECFN %s does not name the program",
		     (const char *)getauxval(AT_EXECFN));
}

static void diff_bytes(const char *what, const char *a, size_t alen,
		       const char *b, size_t blen)
{
	size_t i;

	if (alen == blen && !memcmp(a, b, alen))
		return;
	for (i = 0; i < alen && i < blen && a[i] == b[i]; i++)
		;
	fail("%s changed: %zu -> %zu bytes, first difference at %zu", what,
	     alen, blen, i);
}

int main(int argc, char **argv)
{
	static struct mmf m0, m1;
	size_t i;

	test_init(argc, argv);
	measure(&m0);
	check_auxv(&m0);
	if (m0.tid_addr == 0)
		fail("no tid address");

	test_daemon();
	test_waitsig();

	measure(&m1);
	diff_bytes("/proc/self/cmdline", m0.cmdline, m0.cmdline_len,
		   m1.cmdline, m1.cmdline_len);
	diff_bytes("/proc/self/environ", m0.environ, m0.environ_len,
		   m1.environ, m1.environ_len);
	diff_bytes("/proc/self/auxv", m0.auxv, m0.auxv_len, m1.auxv,
		   m1.auxv_len);
	if (strcmp(m0.exe, m1.exe))
		fail("exe changed: %s -> %s", m0.exe, m1.exe);
	for (i = 0; i < ARRAY_SIZE(bound_fields); i++)
		if (m0.stat[bound_fields[i]] != m1.stat[bound_fields[i]])
			fail("%s changed: %#lx -> %#lx", bound_names[i],
			     m0.stat[bound_fields[i]],
			     m1.stat[bound_fields[i]]);
	if (m0.tid_addr != m1.tid_addr)
		fail("tid address changed: %#lx -> %#lx", m0.tid_addr,
		     m1.tid_addr);
	if (m0.dumpable != m1.dumpable)
		fail("dumpable changed: %d -> %d", m0.dumpable, m1.dumpable);
	check_auxv(&m1);
	/* argv and environ as seen from inside still read right. */
	if (strcmp(argv[0], m1.cmdline))
		fail("argv[0] %s, cmdline %s", argv[0], m1.cmdline);
	pass();
}
