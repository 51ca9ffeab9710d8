// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/proc.c: the /proc parsers, fed with text we construct (normal,
 * truncated, malformed) and with this process's own /proc files.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"
#include "unit.h"

/* ---------------------------------------------------------------- stat */

/*
 * A stat line with NFIELDS fields where field K (proc(5) numbering, K >= 4)
 * is 1000 + K, so that any field read from the wrong position shows.
 */
static char *stat_line(int pid, const char *comm, char state, int nfields)
{
	size_t size = 64 + strlen(comm) + 8 * 52;
	char *buf = malloc(size);
	size_t off;
	int k;

	cr_assert(buf);
	off = snprintf(buf, size, "%d (%s) %c", pid, comm, state);
	for (k = 4; k <= nfields; k++)
		off += snprintf(buf + off, size - off, " %d", 1000 + k);
	snprintf(buf + off, size - off, "\n");
	return buf;
}

/* Replaces field K (proc(5) numbering, K >= 4) of a stat_line() line. */
static char *stat_with_field(int k, const char *val)
{
	char *line = stat_line(77, "x", 'S', 52);
	char needle[16], *p, *out;

	snprintf(needle, sizeof(needle), " %d", 1000 + k);
	p = strstr(line, needle);
	cr_assert(p);
	cr_assert(asprintf(&out, "%.*s %s%s", (int)(p - line), line, val,
			   p + strlen(needle)) > 0);
	free(line);
	return out;
}

static void assert_all_positions(const struct proc_stat *st)
{
	cr_expect_eq(st->ppid, 1004);
	cr_expect_eq(st->pgid, 1005);
	cr_expect_eq(st->sid, 1006);
	cr_expect_eq(st->tty_nr, 1007);
	cr_expect_eq(st->flags, 1009);
	cr_expect_eq(st->num_threads, 1020);
	cr_expect_eq(st->start_code, 1026);
	cr_expect_eq(st->end_code, 1027);
	cr_expect_eq(st->start_stack, 1028);
	cr_expect_eq(st->exit_signal, 1038);
	cr_expect_eq(st->start_data, 1045);
	cr_expect_eq(st->end_data, 1046);
	cr_expect_eq(st->start_brk, 1047);
	cr_expect_eq(st->arg_start, 1048);
	cr_expect_eq(st->arg_end, 1049);
	cr_expect_eq(st->env_start, 1050);
	cr_expect_eq(st->env_end, 1051);
	cr_expect_eq(st->exit_code, 1052);
}

Test(proc_stat, every_field_from_its_position)
{
	char *line = stat_line(4242, "cat", 'R', 52);
	struct proc_stat st;

	cr_assert_eq(proc_parse_stat_buf(line, &st), 0);
	cr_expect_eq(st.pid, 4242);
	cr_expect_str_eq(st.comm, "cat");
	cr_expect_eq(st.state, 'R');
	assert_all_positions(&st);
	free(line);
}

Test(proc_stat, real_kernel_line)
{
	/* from a 6.x kernel, for a sleeping bash; addresses are 47-bit */
	static const char line[] =
		"31337 (bash) S 31330 31337 31337 34817 31400 4194304 6513 52817 0 12 "
		"9 4 67 21 20 0 1 0 8812345 9011200 1352 18446744073709551615 "
		"94772311097344 94772312005765 140726578935440 0 0 0 65536 3686404 "
		"1266761467 0 0 0 17 1 0 0 0 0 0 94772312247152 94772312294548 "
		"94772331565056 140726578942219 140726578942224 140726578942224 "
		"140726578945998 0\n";
	struct proc_stat st;

	cr_assert_eq(proc_parse_stat_buf(line, &st), 0);
	cr_expect_eq(st.pid, 31337);
	cr_expect_str_eq(st.comm, "bash");
	cr_expect_eq(st.state, 'S');
	cr_expect_eq(st.ppid, 31330);
	cr_expect_eq(st.pgid, 31337);
	cr_expect_eq(st.sid, 31337);
	cr_expect_eq(st.tty_nr, 34817);
	cr_expect_eq(st.flags, 4194304);
	cr_expect_eq(st.num_threads, 1);
	cr_expect_eq(st.start_code, 94772311097344ull);
	cr_expect_eq(st.end_code, 94772312005765ull);
	cr_expect_eq(st.start_stack, 140726578935440ull);
	cr_expect_eq(st.exit_signal, 17);
	cr_expect_eq(st.start_data, 94772312247152ull);
	cr_expect_eq(st.end_data, 94772312294548ull);
	cr_expect_eq(st.start_brk, 94772331565056ull);
	cr_expect_eq(st.arg_start, 140726578942219ull);
	cr_expect_eq(st.arg_end, 140726578942224ull);
	cr_expect_eq(st.env_start, 140726578942224ull);
	cr_expect_eq(st.env_end, 140726578945998ull);
	cr_expect_eq(st.exit_code, 0);
}

Test(proc_stat, comm_with_spaces_and_parentheses)
{
	static const char *const comms[] = {
		"a) (b", "x) R 5 (y", "((", "))", ") ", " ", "", "my prog",
	};
	struct proc_stat st;
	size_t i;

	for (i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		char *line = stat_line(9, comms[i], 'D', 52);

		cr_assert_eq(proc_parse_stat_buf(line, &st), 0, "comm \"%s\"",
			     comms[i]);
		cr_expect_str_eq(st.comm, comms[i]);
		cr_expect_eq(st.pid, 9);
		cr_expect_eq(st.state, 'D', "comm \"%s\"", comms[i]);
		assert_all_positions(&st);
		free(line);
	}
}

Test(proc_stat, long_comm_is_cut_and_terminated)
{
	char comm[200];
	struct proc_stat st;
	char *line;

	memset(comm, 'c', sizeof(comm) - 1);
	comm[sizeof(comm) - 1] = 0;
	line = stat_line(1, comm, 'S', 52);
	cr_assert_eq(proc_parse_stat_buf(line, &st), 0);
	cr_expect_eq(strlen(st.comm), sizeof(st.comm) - 1);
	cr_expect_eq(strspn(st.comm, "c"), sizeof(st.comm) - 1);
	cr_expect_eq(st.ppid, 1004);
	free(line);
}

Test(proc_stat, negative_numbers)
{
	char *line = stat_with_field(7, "-1");
	struct proc_stat st;

	cr_assert_eq(proc_parse_stat_buf(line, &st), 0);
	cr_expect_eq(st.tty_nr, -1);
	cr_expect_eq(st.sid, 1006);
	cr_expect_eq(st.flags, 1009);
	free(line);
}

Test(proc_stat, older_kernel_with_fewer_fields)
{
	char *line = stat_line(5, "init", 'S', 20);
	struct proc_stat st;
	struct capture c;
	char *log;

	cr_assert_eq(proc_parse_stat_buf(line, &st), 0);
	cr_expect_eq(st.ppid, 1004);
	cr_expect_eq(st.num_threads, 1020);
	/* fields the line does not have stay zero */
	cr_expect_eq(st.start_code, 0);
	cr_expect_eq(st.exit_code, 0);
	free(line);

	line = stat_line(5, "init", 'S', 19);
	capture_start(&c);
	cr_expect_eq(proc_parse_stat_buf(line, &st), -1,
		     "19 fields: no num_threads, must fail");
	log = capture_end(&c);
	cr_assert_log_has(log, "only 19 fields");
	free(log);
	free(line);
}

/*
 * Every prefix of a valid line: it parses iff it reaches into field 20
 * (num_threads), the last one the parser requires. Each prefix is an exact
 * allocation, so ASan sees any read past its end.
 */
Test(proc_stat, truncated_at_every_length)
{
	char *line = stat_line(31337, "a) (b", 'S', 52);
	size_t len = strlen(line), l, f20;
	struct proc_stat st;
	char *p;

	p = strstr(line, " 1020 ");
	cr_assert(p);
	f20 = p + 1 - line;	/* offset of field 20's first digit */
	for (l = 0; l < len; l++) {
		char *cut = strndup(line, l);
		struct capture c;
		char *log;
		int ret;

		cr_assert(cut);
		capture_start(&c);
		ret = proc_parse_stat_buf(cut, &st);
		log = capture_end(&c);
		if (l > f20) {
			cr_assert_eq(ret, 0, "prefix of %zu bytes: \"%s\"", l, cut);
		} else {
			cr_assert_eq(ret, -1, "prefix of %zu bytes: \"%s\"", l, cut);
			cr_assert_log_has(log, "stat");
		}
		free(log);
		free(cut);
	}
	free(line);
}

Test(proc_stat, non_numeric_fields)
{
	static const struct {
		int field;
		const char *val;
	} bad[] = {
		{ 4, "x" }, { 5, "12x" }, { 10, "-" }, { 20, "0x10" },
		{ 20, "three" }, { 38, "1.5" }, { 52, "+" },
	};
	struct proc_stat st;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *line = stat_with_field(bad[i].field, bad[i].val);
		struct capture c;
		char *log;
		int ret;

		capture_start(&c);
		ret = proc_parse_stat_buf(line, &st);
		log = capture_end(&c);
		cr_expect_eq(ret, -1, "field %d = \"%s\" accepted", bad[i].field,
			     bad[i].val);
		cr_expect(strstr(log, "not a number"), "log: %s", log);
		free(log);
		free(line);
	}
}

Test(proc_stat, non_numeric_pid)
{
	static const char *const lines[] = {
		"abc (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"12a (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		" (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
	};
	struct proc_stat st;
	size_t i;

	/* the same line with a good pid parses: the pid is what fails */
	cr_assert_eq(proc_parse_stat_buf(
			     "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
			     &st), 0);
	cr_assert_eq(st.pid, 12);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct capture c;
		char *log;

		capture_start(&c);
		cr_expect_eq(proc_parse_stat_buf(lines[i], &st), -1, "%s",
			     lines[i]);
		log = capture_end(&c);
		cr_expect(strstr(log, "pid"), "log: %s", log);
		free(log);
	}
}

Test(proc_stat, no_comm)
{
	static const char *const lines[] = {
		"",
		"1234",
		"1234 cat S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"1234 (cat S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"1234 cat) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"1234 )cat( S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"1234 (cat)S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"1234 (cat)",
	};
	struct proc_stat st;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct capture c;
		char *log;

		capture_start(&c);
		cr_expect_eq(proc_parse_stat_buf(lines[i], &st), -1, "\"%s\"",
			     lines[i]);
		log = capture_end(&c);
		cr_expect(strstr(log, "stat:"), "log: %s", log);
		free(log);
	}
}

Test(proc_stat, this_process)
{
	struct proc_stat st;
	char cmdline[4096];
	ssize_t n;

	cr_assert_eq(proc_parse_stat(getpid(), &st), 0);
	cr_expect_eq(st.pid, getpid());
	cr_expect_eq(st.state, 'R');
	cr_expect_eq(st.ppid, getppid());
	cr_expect_eq(st.pgid, getpgrp());
	cr_expect_eq(st.sid, getsid(0));
	cr_expect_geq(st.num_threads, 1);
	/* this very function is in the text segment */
	cr_expect_leq(st.start_code, (uintptr_t)&stat_line);
	cr_expect_gt(st.end_code, (uintptr_t)&stat_line);
	cr_expect_eq(st.exit_signal, SIGCHLD);
	/* arg_start really points at our argv strings */
	n = proc_read_file(getpid(), "cmdline", cmdline, sizeof(cmdline));
	cr_assert_gt(n, 0);
	cr_assert_eq(st.arg_end - st.arg_start, (uint64_t)n);
	cr_expect_eq(memcmp((void *)(uintptr_t)st.arg_start, cmdline, n), 0);
	cr_expect_leq(st.env_start, st.env_end);
	cr_expect_geq(st.env_start, st.arg_end);
}

/* -------------------------------------------------------------- status */

static const char status_text[] =
	"Name:\tmy prog\n"
	"Umask:\t0027\n"
	"State:\tS (sleeping)\n"
	"Tgid:\t4242\n"
	"Ngid:\t0\n"
	"Pid:\t4242\n"
	"PPid:\t4100\n"
	"TracerPid:\t17\n"
	"Uid:\t1000\t1001\t1002\t1003\n"
	"Gid:\t100\t101\t102\t4294967294\n"
	"FDSize:\t64\n"
	"Groups:\t4 24 27 1000 65534 \n"
	"NStgid:\t4242\t17\t1\n"
	"NSpid:\t4242\t17\t1\n"
	"NSpgid:\t4100\t15\t1\n"
	"NSsid:\t4000\t12\t0\n"
	"Kthread:\t0\n"
	"VmPeak:\t    3060 kB\n"
	"VmSize:\t    3060 kB\n"
	"VmRSS:\t    1700 kB\n"
	"Threads:\t3\n"
	"SigQ:\t2/96365\n"
	"SigPnd:\t0000000000000100\n"
	"ShdPnd:\t0000000000004000\n"
	"SigBlk:\tfffffffe7ffbfeff\n"
	"SigIgn:\t0000000000001000\n"
	"SigCgt:\t0000000180014a07\n"
	"CapInh:\t0000000000000000\n"
	"CapPrm:\t00000000a80425fb\n"
	"CapEff:\t00000000a80425fa\n"
	"CapBnd:\t000001ffffffffff\n"
	"CapAmb:\t0000000000000400\n"
	"NoNewPrivs:\t1\n"
	"Seccomp:\t2\n"
	"Seccomp_filters:\t1\n"
	"Speculation_Store_Bypass:\tthread vulnerable\n"
	"Cpus_allowed_list:\t0-1\n"
	"voluntary_ctxt_switches:\t150\n"
	"nonvoluntary_ctxt_switches:\t545\n";

static int parse_status_text(const char *text, struct proc_status *st)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	cr_assert(f, "fmemopen: %m");
	ret = proc_parse_status_fp(f, st);
	fclose(f);
	return ret;
}

/* TEXT without the line that starts with PREFIX (which must be there). */
static char *without_line(const char *text, const char *prefix)
{
	const char *p = text;
	char *out;

	while (strncmp(p, prefix, strlen(prefix))) {
		p = strchr(p, '\n');
		cr_assert(p, "no %s line", prefix);
		p++;
	}
	cr_assert(asprintf(&out, "%.*s%s", (int)(p - text), text,
			   strchr(p, '\n') + 1) > 0);
	return out;
}

Test(proc_status, full_text)
{
	static const unsigned int groups[] = { 4, 24, 27, 1000, 65534 };
	struct proc_status st;
	int i;

	cr_assert_eq(parse_status_text(status_text, &st), 0);
	cr_expect_eq(st.state, 'S');
	cr_expect_eq(st.tgid, 4242);
	cr_expect_eq(st.ppid, 4100);
	cr_expect_eq(st.tracer_pid, 17);
	for (i = 0; i < 4; i++)
		cr_expect_eq(st.uid[i], 1000u + i);
	cr_expect_eq(st.gid[0], 100);
	cr_expect_eq(st.gid[1], 101);
	cr_expect_eq(st.gid[2], 102);
	cr_expect_eq(st.gid[3], 4294967294u);
	cr_assert_eq(st.ngroups, 5);
	for (i = 0; i < 5; i++)
		cr_expect_eq(st.groups[i], groups[i]);
	cr_assert_eq(st.ns_pid_levels, 3);
	cr_expect_eq(st.ns_pid[0], 4242);
	cr_expect_eq(st.ns_pid[1], 17);
	cr_expect_eq(st.ns_pid[2], 1);
	cr_expect_eq(st.ns_pgid[0], 4100);
	cr_expect_eq(st.ns_pgid[1], 15);
	cr_expect_eq(st.ns_pgid[2], 1);
	cr_expect_eq(st.ns_sid[0], 4000);
	cr_expect_eq(st.ns_sid[1], 12);
	cr_expect_eq(st.ns_sid[2], 0);
	cr_expect_eq(st.threads, 3);
	cr_expect_eq(st.umask, 027);
	cr_expect_eq(st.sig_pnd, 0x100);
	cr_expect_eq(st.shd_pnd, 0x4000);
	cr_expect_eq(st.sig_blk, 0xfffffffe7ffbfeffull);
	cr_expect_eq(st.sig_ign, 0x1000);
	cr_expect_eq(st.sig_cgt, 0x180014a07ull);
	cr_expect_eq(st.cap_inh, 0);
	cr_expect_eq(st.cap_prm, 0xa80425fbull);
	cr_expect_eq(st.cap_eff, 0xa80425faull);
	cr_expect_eq(st.cap_bnd, 0x1ffffffffffull);
	cr_expect_eq(st.cap_amb, 0x400);
	cr_expect_eq(st.no_new_privs, 1);
	cr_expect_eq(st.seccomp, 2);
	proc_status_free(&st);
	cr_expect_null(st.groups);
	cr_expect_eq(st.ngroups, 0);
}

Test(proc_status, required_lines_missing)
{
	static const char *const required[] = { "State:", "Uid:", "Gid:", "CapBnd:" };
	struct proc_status st;
	size_t i;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		char *text = without_line(status_text, required[i]);
		char name[16];
		struct capture c;
		char *log;
		int ret;

		capture_start(&c);
		ret = parse_status_text(text, &st);
		log = capture_end(&c);
		cr_expect_eq(ret, -1, "status without %s accepted", required[i]);
		/* the message names the line that is missing */
		snprintf(name, sizeof(name), "missing %.*s",
			 (int)strlen(required[i]) - 1, required[i]);
		cr_expect(strstr(log, name), "expected \"%s\" in: %s", name, log);
		/* and nothing is left allocated (ASan's leak check) */
		cr_expect_null(st.groups);
		free(log);
		free(text);
	}
	/* the other lines are optional */
	{
		char *text = without_line(status_text, "Groups:");
		char *t2 = without_line(text, "NSpid:");

		cr_expect_eq(parse_status_text(t2, &st), 0);
		cr_expect_eq(st.ngroups, 0);
		cr_expect_eq(st.ns_pid_levels, 0);
		cr_expect_eq(st.uid[3], 1003);
		proc_status_free(&st);
		free(t2);
		free(text);
	}
}

Test(proc_status, malformed_ids)
{
	static const char *const bad[] = {
		"Uid:\t1000\t1000\t1000\n",
		"Uid:\n",
		"Gid:\tx\t1\t2\t3\n",
	};
	struct proc_status st;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text, *t;
		struct capture c;
		char *log;
		int ret;

		t = without_line(status_text, bad[i][0] == 'U' ? "Uid:" : "Gid:");
		cr_assert(asprintf(&text, "%s%s", t, bad[i]) > 0);
		capture_start(&c);
		ret = parse_status_text(text, &st);
		log = capture_end(&c);
		cr_expect_eq(ret, -1, "accepted %s", bad[i]);
		cr_expect(strstr(log, bad[i][0] == 'U' ? "malformed Uid" :
							  "malformed Gid"),
			  "log: %s", log);
		cr_expect_null(st.groups);
		free(log);
		free(text);
		free(t);
	}
}

Test(proc_status, empty_groups)
{
	static const char *const lines[] = { "Groups:\t \n", "Groups:\n", "Groups:" };
	struct proc_status st;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char *t = without_line(status_text, "Groups:"), *text;

		cr_assert(asprintf(&text, "%s%s", t, lines[i]) > 0);
		cr_assert_eq(parse_status_text(text, &st), 0);
		cr_expect_eq(st.ngroups, 0, "\"%s\"", lines[i]);
		proc_status_free(&st);
		free(text);
		free(t);
	}
}

/* A process may have up to NGROUPS_MAX (65536) groups: a line of ~700 KB. */
Test(proc_status, many_groups)
{
	const int n = 5000;
	size_t size = 64 + (size_t)n * 12, off;
	char *groups = malloc(size), *text;
	struct proc_status st;
	int i;

	cr_assert(groups);
	off = snprintf(groups, size, "Groups:\t");
	for (i = 0; i < n; i++)
		off += snprintf(groups + off, size - off, "%u ", 3000000000u + i);
	snprintf(groups + off, size - off, "\n");
	{
		char *t = without_line(status_text, "Groups:");

		/* the Groups line first, so what follows it must still parse */
		cr_assert(asprintf(&text, "%s%s", groups, t) > 0);
		free(t);
	}
	cr_assert_eq(parse_status_text(text, &st), 0);
	cr_assert_eq(st.ngroups, n);
	for (i = 0; i < n; i++)
		cr_assert_eq(st.groups[i], 3000000000u + i, "group %d", i);
	cr_expect_eq(st.umask, 027);
	cr_expect_eq(st.ns_pid_levels, 3);
	proc_status_free(&st);
	free(text);
	free(groups);
}

Test(proc_status, nspid_levels)
{
	static const struct {
		const char *line;
		int levels;
		int pids[4];
	} cases[] = {
		{ "NSpid:\t77\n", 1, { 77 } },
		{ "NSpid:\t300\t2\n", 2, { 300, 2 } },
		{ "NSpid:\t123456\t4321\t99\t1\n", 4, { 123456, 4321, 99, 1 } },
	};
	struct proc_status st;
	size_t i;
	int j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = without_line(status_text, "NSpid:"), *text;

		cr_assert(asprintf(&text, "%s%s", t, cases[i].line) > 0);
		cr_assert_eq(parse_status_text(text, &st), 0);
		cr_expect_eq(st.ns_pid_levels, cases[i].levels, "%s",
			     cases[i].line);
		for (j = 0; j < cases[i].levels; j++)
			cr_expect_eq(st.ns_pid[j], cases[i].pids[j]);
		proc_status_free(&st);
		free(text);
		free(t);
	}
}

Test(proc_status, umask_octal_and_sigblk_hex)
{
	static const struct {
		const char *umask, *sigblk;
		unsigned int um;
		uint64_t blk;
	} cases[] = {
		{ "0000", "0000000000000000", 0, 0 },
		{ "0777", "ffffffffffffffff", 0777, ~0ull },
		{ "0010", "0000000000000010", 010, 0x10 },
		{ "0022", "8000000000000001", 022, 0x8000000000000001ull },
	};
	struct proc_status st;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t1 = without_line(status_text, "Umask:");
		char *t2 = without_line(t1, "SigBlk:"), *text;

		cr_assert(asprintf(&text, "Umask:\t%s\n%sSigBlk:\t%s\n",
				   cases[i].umask, t2, cases[i].sigblk) > 0);
		cr_assert_eq(parse_status_text(text, &st), 0);
		cr_expect_eq(st.umask, cases[i].um, "Umask %s: %o", cases[i].umask,
			     st.umask);
		cr_expect_eq(st.sig_blk, cases[i].blk, "SigBlk %s: %#llx",
			     cases[i].sigblk, (unsigned long long)st.sig_blk);
		proc_status_free(&st);
		free(text);
		free(t2);
		free(t1);
	}
}

Test(proc_status, this_process)
{
	gid_t groups[256];
	uid_t r, e, s;
	gid_t gr, ge, gs;
	struct proc_status st;
	sigset_t set;
	int n, i;

	umask(0057);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 3);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);

	cr_assert_eq(proc_parse_status(getpid(), &st), 0);
	cr_expect_eq(st.state, 'R');
	cr_expect_eq(st.tgid, getpid());
	cr_expect_eq(st.ppid, getppid());
	cr_expect_eq(st.umask, 0057);
	cr_expect(st.sig_blk & (1ull << (SIGUSR2 - 1)));
	cr_expect(st.sig_blk & (1ull << (SIGRTMIN + 3 - 1)));
	cr_expect_not(st.sig_blk & (1ull << (SIGUSR1 - 1)));
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	cr_expect_eq(st.uid[0], r);
	cr_expect_eq(st.uid[1], e);
	cr_expect_eq(st.uid[2], s);
	cr_expect_eq(st.gid[0], gr);
	cr_expect_eq(st.gid[1], ge);
	cr_expect_eq(st.gid[2], gs);
	n = getgroups(256, groups);
	cr_assert_eq(st.ngroups, n);
	for (i = 0; i < n; i++)
		cr_expect_eq(st.groups[i], groups[i]);
	cr_assert_geq(st.ns_pid_levels, 1);
	cr_expect_eq(st.ns_pid[0], getpid());
	cr_expect_neq(st.cap_bnd, 0);
	proc_status_free(&st);
}

/* --------------------------------------------------------------- smaps */

#define MAX_VMAS 32

struct vmas {
	struct proc_vma v[MAX_VMAS];
	int n;
	int stop_at;	/* return 7 from the callback for VMA number stop_at */
};

static int collect_vma(const struct proc_vma *vma, void *arg)
{
	struct vmas *vs = arg;

	cr_assert_lt(vs->n, MAX_VMAS);
	vs->v[vs->n++] = *vma;
	return vs->n == vs->stop_at ? 7 : 0;
}

static int parse_smaps_text(const char *text, struct vmas *vs)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	cr_assert(f, "fmemopen: %m");
	vs->n = 0;
	ret = proc_parse_smaps_fp(f, collect_vma, vs);
	fclose(f);
	return ret;
}

#define SMAPS_FIELDS(rss, swap)				\
	"Size:                  8 kB\n"			\
	"KernelPageSize:        4 kB\n"			\
	"MMUPageSize:           4 kB\n"			\
	"Rss:                 " #rss " kB\n"		\
	"Pss:                   8 kB\n"			\
	"Pss_Dirty:             0 kB\n"			\
	"Shared_Clean:          0 kB\n"			\
	"Private_Dirty:         0 kB\n"			\
	"Anonymous:             0 kB\n"			\
	"Swap:                " #swap " kB\n"		\
	"SwapPss:             999 kB\n"			\
	"Locked:                0 kB\n"			\
	"THPeligible:           0\n"			\
	"ProtectionKey:         0\n"

static const char smaps_text[] =
	"55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1311                       /usr/bin/prog\n"
	SMAPS_FIELDS(8, 0)
	"VmFlags: rd mr mw me sd \n"
	"55d0c0a02000-55d0c0a09000 r-xp 00002000 fd:01 1311                       /usr/bin/prog\n"
	SMAPS_FIELDS(28, 0)
	"VmFlags: rd ex mr mw me sd \n"
	"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]\n"
	SMAPS_FIELDS(132, 12)
	"VmFlags: rd wr mr mw me ac sd \n"
	"7f0000000000-7f0000010000 rw-s 00001000 00:05 4294967299                 /tmp/dir with spaces/file  name \n"
	SMAPS_FIELDS(64, 0)
	"VmFlags: rd wr sh mr mw me ms sd \n"
	"7f0000010000-7f0000011000 r--p 0000a000 08:12 99                         /tmp/gone (deleted)\n"
	SMAPS_FIELDS(4, 0)
	"VmFlags: rd mr mw me dd sd \n"
	"7f0000020000-7f0000030000 rw-p 00000000 00:00 0 \n"
	SMAPS_FIELDS(0, 64)
	"VmFlags: rd wr mr mw me nr dc wf sd \n"
	"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
	SMAPS_FIELDS(16, 0)
	"VmFlags: rd wr mr mw me gd ac \n"
	"7ffc00100000-7ffc00104000 r--p 00000000 00:00 0                          [vvar]\n"
	SMAPS_FIELDS(0, 0)
	"VmFlags: rd mr pf io de dd sd \n"
	"7ffc00104000-7ffc00106000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
	SMAPS_FIELDS(0, 0)
	"VmFlags: rd mr pf io de dd sd \n"
	"7ffc00106000-7ffc00108000 r-xp 00000000 00:00 0                          [vdso]\n"
	SMAPS_FIELDS(8, 0)
	"VmFlags: rd ex mr mw me de sd \n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
	SMAPS_FIELDS(0, 0)
	"VmFlags: ex \n";

static const struct proc_vma smaps_expected[] = {
	{ 0x55d0c0a00000, 0x55d0c0a02000, 0, PROT_READ, 0, 0xfd, 1, 1311,
	  "/usr/bin/prog", VMF_READ | VMF_MAYWRITE, 8, 0 },
	{ 0x55d0c0a02000, 0x55d0c0a09000, 0x2000, PROT_READ | PROT_EXEC, 0, 0xfd, 1,
	  1311, "/usr/bin/prog", VMF_READ | VMF_EXEC | VMF_MAYWRITE, 28, 0 },
	{ 0x55d0c1000000, 0x55d0c1021000, 0, PROT_READ | PROT_WRITE, 0, 0, 0, 0,
	  "[heap]", VMF_READ | VMF_WRITE | VMF_MAYWRITE | VMF_ACCOUNT, 132, 12 },
	{ 0x7f0000000000, 0x7f0000010000, 0x1000, PROT_READ | PROT_WRITE, 1, 0, 5,
	  4294967299ull, "/tmp/dir with spaces/file  name ",
	  VMF_READ | VMF_WRITE | VMF_SHARED | VMF_MAYWRITE, 64, 0 },
	{ 0x7f0000010000, 0x7f0000011000, 0xa000, PROT_READ, 0, 8, 0x12, 99,
	  "/tmp/gone (deleted)", VMF_READ | VMF_MAYWRITE | VMF_DONTDUMP, 4, 0 },
	{ 0x7f0000020000, 0x7f0000030000, 0, PROT_READ | PROT_WRITE, 0, 0, 0, 0, "",
	  VMF_READ | VMF_WRITE | VMF_MAYWRITE | VMF_NORESERVE | VMF_DONTCOPY |
		  VMF_WIPEONFORK, 0, 64 },
	{ 0x7ffc00000000, 0x7ffc00021000, 0, PROT_READ | PROT_WRITE, 0, 0, 0, 0,
	  "[stack]", VMF_READ | VMF_WRITE | VMF_MAYWRITE | VMF_GROWSDOWN | VMF_ACCOUNT,
	  16, 0 },
	{ 0x7ffc00100000, 0x7ffc00104000, 0, PROT_READ, 0, 0, 0, 0, "[vvar]",
	  VMF_READ | VMF_PFNMAP | VMF_IO | VMF_DONTDUMP, 0, 0 },
	{ 0x7ffc00104000, 0x7ffc00106000, 0, PROT_READ, 0, 0, 0, 0, "[vvar_vclock]",
	  VMF_READ | VMF_PFNMAP | VMF_IO | VMF_DONTDUMP, 0, 0 },
	{ 0x7ffc00106000, 0x7ffc00108000, 0, PROT_READ | PROT_EXEC, 0, 0, 0, 0,
	  "[vdso]", VMF_READ | VMF_EXEC | VMF_MAYWRITE, 8, 0 },
	{ 0xffffffffff600000, 0xffffffffff601000, 0, PROT_EXEC, 0, 0, 0, 0,
	  "[vsyscall]", VMF_EXEC, 0, 0 },
};

#define NR_SMAPS_EXPECTED ((int)(sizeof(smaps_expected) / sizeof(smaps_expected[0])))

static void assert_vma_eq(const struct proc_vma *got, const struct proc_vma *want,
			  int i, int fields)
{
	cr_expect_eq(got->start, want->start, "vma %d start %#llx", i,
		     (unsigned long long)got->start);
	cr_expect_eq(got->end, want->end, "vma %d end", i);
	cr_expect_eq(got->pgoff, want->pgoff, "vma %d pgoff", i);
	cr_expect_eq(got->prot, want->prot, "vma %d prot %d", i, got->prot);
	cr_expect_eq(got->shared, want->shared, "vma %d shared", i);
	cr_expect_eq(got->dev_major, want->dev_major, "vma %d major", i);
	cr_expect_eq(got->dev_minor, want->dev_minor, "vma %d minor", i);
	cr_expect_eq(got->ino, want->ino, "vma %d ino", i);
	cr_expect_str_eq(got->path, want->path, "vma %d path", i);
	cr_expect_eq(got->vmflags, fields ? want->vmflags : 0,
		     "vma %d vmflags %#x", i, got->vmflags);
	cr_expect_eq(got->rss_kb, fields ? want->rss_kb : 0, "vma %d rss", i);
	cr_expect_eq(got->swap_kb, fields ? want->swap_kb : 0, "vma %d swap", i);
}

Test(proc_smaps, several_vmas)
{
	static struct vmas vs;
	int i;

	cr_assert_eq(parse_smaps_text(smaps_text, &vs), 0);
	cr_assert_eq(vs.n, NR_SMAPS_EXPECTED);
	for (i = 0; i < vs.n; i++)
		assert_vma_eq(&vs.v[i], &smaps_expected[i], i, 1);
}

/* The same lines as /proc/PID/maps shows them: no fields, no flags. */
Test(proc_smaps, maps_without_fields)
{
	static struct vmas vs;
	char *maps = calloc(1, sizeof(smaps_text));
	const char *p;
	int i;

	cr_assert(maps);
	for (p = smaps_text; *p; p = strchr(p, '\n') + 1)
		if (strchr("0123456789abcdef", *p))
			strncat(maps, p, strchr(p, '\n') + 1 - p);
	cr_assert_eq(parse_smaps_text(maps, &vs), 0);
	cr_assert_eq(vs.n, NR_SMAPS_EXPECTED);
	for (i = 0; i < vs.n; i++)
		assert_vma_eq(&vs.v[i], &smaps_expected[i], i, 0);
	free(maps);
}

Test(proc_smaps, last_line_without_newline)
{
	static struct vmas vs;

	cr_assert_eq(parse_smaps_text("00400000-00401000 r-xp 00000000 08:01 5 /bin/x", &vs), 0);
	cr_assert_eq(vs.n, 1);
	cr_expect_str_eq(vs.v[0].path, "/bin/x");
	cr_assert_eq(parse_smaps_text("00400000-00401000 rw-p 00000000 00:00 0", &vs), 0);
	cr_assert_eq(vs.n, 1);
	cr_expect_str_eq(vs.v[0].path, "");
	cr_expect_eq(vs.v[0].end, 0x401000);
	cr_assert_eq(parse_smaps_text("00400000-00401000 rw-p 00000000 00:00 0\n"
				      "VmFlags: rd wr", &vs), 0);
	cr_assert_eq(vs.n, 1);
	cr_expect_eq(vs.v[0].vmflags, VMF_READ | VMF_WRITE);
}

Test(proc_smaps, empty_input)
{
	static struct vmas vs;

	cr_expect_eq(parse_smaps_text("", &vs), 0);
	cr_expect_eq(vs.n, 0);
}

Test(proc_smaps, malformed_header_fails)
{
	static const char *const bad[] = {
		"55d0c0a00000-55d0c0a0200g r--p 00000000 fd:01 1 /x\n",
		"5zd0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1 /x\n",
		"55D0C0A00000-55D0C0A02000 r--p 00000000 fd:01 1 /x\n",
		"55d0c0a00000+55d0c0a02000 r--p 00000000 fd:01 1 /x\n",
		"55d0c0a02000-55d0c0a00000 r--p 00000000 fd:01 1 /x\n",
		"55d0c0a02000-55d0c0a02000 r--p 00000000 fd:01 1 /x\n",
		"55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01\n",
		"55d0c0a00000-55d0c0a02000 r--p 00000000\n",
		"55d0c0a00000-55d0c0a02000\n",
		"55d0c0a00000-55d0c0a02000 r--pp 00000000 fd:01 1 /x\n",
		"55d0c0a00000-55d0c0a02000 r-p 00000000 fd:01 1 /x\n",
		"55d0c0a00000-55d0c0a02000 r--p zz fd:01 1 /x\n",
		"55d0c0a00000-55d0c0a02000 r--p 00000000 fd01 1 /x\n",
		"55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 ino /x\n",
		"-55d0c0a02000 r--p 00000000 fd:01 1 /x\n",
		"55d0c0a00000- r--p 00000000 fd:01 1 /x\n",
		"Size 8 kB\n",
		"\n",
	};
	static const char good[] =
		"00400000-00401000 r-xp 00000000 08:01 5 /bin/x\n"
		"Rss:                   4 kB\n";
	static struct vmas vs;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text;
		struct capture c;
		char *log;
		int ret;

		/* after a good mapping, so it cannot pass for a field line */
		cr_assert(asprintf(&text, "%s%s%s", good, bad[i], good) > 0);
		capture_start(&c);
		ret = parse_smaps_text(text, &vs);
		log = capture_end(&c);
		cr_expect_eq(ret, -1, "accepted \"%s\"", bad[i]);
		cr_expect(strstr(log, "maps:"), "log: %s", log);
		free(log);
		free(text);

		/* and as the first line */
		capture_start(&c);
		ret = parse_smaps_text(bad[i], &vs);
		log = capture_end(&c);
		cr_expect_eq(ret, -1, "accepted \"%s\" first", bad[i]);
		cr_expect_eq(vs.n, 0);
		free(log);
	}
}

Test(proc_smaps, field_before_mapping_fails)
{
	static const char *const texts[] = {
		"Rss:                   4 kB\n"
		"00400000-00401000 r-xp 00000000 08:01 5 /bin/x\n",
		"VmFlags: rd ex\n"
		"00400000-00401000 r-xp 00000000 08:01 5 /bin/x\n",
	};
	static struct vmas vs;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct capture c;
		char *log;
		int ret;

		capture_start(&c);
		ret = parse_smaps_text(texts[i], &vs);
		log = capture_end(&c);
		cr_expect_eq(ret, -1);
		cr_expect_eq(vs.n, 0, "callback called before the error");
		cr_expect(strstr(log, "before any mapping"), "log: %s", log);
		free(log);
	}
}

Test(proc_smaps, callback_return_stops_the_walk)
{
	static struct vmas vs;

	vs.stop_at = 3;
	cr_expect_eq(parse_smaps_text(smaps_text, &vs), 7);
	cr_expect_eq(vs.n, 3);
	vs.stop_at = NR_SMAPS_EXPECTED;
	cr_expect_eq(parse_smaps_text(smaps_text, &vs), 7);
	cr_expect_eq(vs.n, NR_SMAPS_EXPECTED);
}


struct wanted {
	uintptr_t addr[2];
	struct proc_vma v[2];
	int found[2];
	int total;
};

static int collect_wanted(const struct proc_vma *vma, void *arg)
{
	struct wanted *w = arg;
	int i;

	w->total++;
	for (i = 0; i < 2; i++) {
		if (vma->start <= w->addr[i] && w->addr[i] < vma->end) {
			w->v[i] = *vma;
			w->found[i]++;
		}
	}
	return 0;
}

/* Our own smaps, with two mappings whose properties we chose. */
Test(proc_smaps, this_process)
{
	long psz = sysconf(_SC_PAGESIZE);
	int fd = memfd_create("crlite unit (x)", MFD_CLOEXEC);
	static struct wanted w;
	char *anon, *shm;
	struct stat st;

	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, 4 * psz), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	shm = mmap(NULL, 2 * psz, PROT_READ, MAP_SHARED, fd, psz);
	cr_assert_neq(shm, MAP_FAILED);
	close(fd);
	/* populated writable, so the pages are ours and not the zero page */
	anon = mmap(NULL, 3 * psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(anon, MAP_FAILED);
	cr_assert_eq(mprotect(anon, 3 * psz, PROT_READ | PROT_EXEC), 0);
	cr_assert_eq(madvise(anon, 3 * psz, MADV_DONTDUMP), 0);

	w.addr[0] = (uintptr_t)shm;
	w.addr[1] = (uintptr_t)anon + psz;
	cr_assert_eq(proc_parse_smaps(getpid(), collect_wanted, &w), 0);
	cr_assert_gt(w.total, 5);
	cr_assert_eq(w.found[0], 1);
	cr_assert_eq(w.found[1], 1);

	cr_expect_eq(w.v[0].start, (uintptr_t)shm);
	cr_expect_eq(w.v[0].end, (uintptr_t)shm + 2 * psz);
	cr_expect_eq(w.v[0].pgoff, (uint64_t)psz);
	cr_expect_eq(w.v[0].prot, PROT_READ);
	cr_expect_eq(w.v[0].shared, 1);
	cr_expect_eq(w.v[0].ino, st.st_ino);
	cr_expect_eq(w.v[0].dev_major, major(st.st_dev));
	cr_expect_eq(w.v[0].dev_minor, minor(st.st_dev));
	cr_expect_str_eq(w.v[0].path, "/memfd:crlite unit (x) (deleted)");
	cr_expect_eq(w.v[0].vmflags & (VMF_READ | VMF_WRITE | VMF_SHARED |
				       VMF_MAYWRITE | VMF_DONTDUMP),
		     VMF_READ | VMF_SHARED | VMF_MAYWRITE, "%#x", w.v[0].vmflags);

	cr_expect_leq(w.v[1].start, (uintptr_t)anon);
	cr_expect_geq(w.v[1].end, (uintptr_t)anon + 3 * psz);
	cr_expect_eq(w.v[1].prot, PROT_READ | PROT_EXEC);
	cr_expect_eq(w.v[1].shared, 0);
	cr_expect_str_eq(w.v[1].path, "");
	cr_expect_eq(w.v[1].ino, 0);
	cr_expect_eq(w.v[1].vmflags & (VMF_READ | VMF_WRITE | VMF_EXEC |
				       VMF_SHARED | VMF_DONTDUMP),
		     VMF_READ | VMF_EXEC | VMF_DONTDUMP, "%#x", w.v[1].vmflags);
	/* populated: at least our three pages are resident */
	cr_expect_geq(w.v[1].rss_kb, 3 * psz / 1024);

	munmap(anon, 3 * psz);
	munmap(shm, 2 * psz);
}

/* ------------------------------------------------------------- vmflags */

Test(proc_vmflags, every_name)
{
	static const struct {
		const char *name;
		unsigned int flag;
	} names[] = {
		{ "rd", VMF_READ },	    { "wr", VMF_WRITE },
		{ "ex", VMF_EXEC },	    { "sh", VMF_SHARED },
		{ "mw", VMF_MAYWRITE },	    { "gd", VMF_GROWSDOWN },
		{ "io", VMF_IO },	    { "pf", VMF_PFNMAP },
		{ "dc", VMF_DONTCOPY },	    { "dd", VMF_DONTDUMP },
		{ "hg", VMF_HUGEPAGE },	    { "nh", VMF_NOHUGEPAGE },
		{ "mg", VMF_MERGEABLE },    { "wf", VMF_WIPEONFORK },
		{ "sr", VMF_SEQ_READ },	    { "rr", VMF_RAND_READ },
		{ "lo", VMF_LOCKED },	    { "nr", VMF_NORESERVE },
		{ "ht", VMF_HUGETLB },	    { "um", VMF_UFFD },
		{ "uw", VMF_UFFD },	    { "ac", VMF_ACCOUNT },
	};
	unsigned int all = 0;
	char line[256] = "";
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char one[8];

		snprintf(one, sizeof(one), " %s \n", names[i].name);
		cr_expect_eq(proc_parse_vmflags(one), names[i].flag, "%s -> %#x",
			     names[i].name, proc_parse_vmflags(one));
		all |= names[i].flag;
		strcat(line, names[i].name);
		strcat(line, " ");
	}
	cr_expect_eq(proc_parse_vmflags(line), all);
	cr_expect_eq(all, (1u << 21) - 1, "a VMF_ flag has no name");
}

Test(proc_vmflags, combinations_and_noise)
{
	cr_expect_eq(proc_parse_vmflags(""), 0);
	cr_expect_eq(proc_parse_vmflags("\n"), 0);
	cr_expect_eq(proc_parse_vmflags(" mr me sd de bt ms ar \n"), 0,
		     "names criu-lite does not track must not set flags");
	cr_expect_eq(proc_parse_vmflags(" rd wr mr mw me ac sd \n"),
		     VMF_READ | VMF_WRITE | VMF_MAYWRITE | VMF_ACCOUNT);
	cr_expect_eq(proc_parse_vmflags("rd   ex\n"), VMF_READ | VMF_EXEC);
	cr_expect_eq(proc_parse_vmflags("sh gd"), VMF_SHARED | VMF_GROWSDOWN);
	/* a dangling letter is ignored, not read past */
	cr_expect_eq(proc_parse_vmflags(" dd w"), VMF_DONTDUMP);
}

/* -------------------------------------------------------------- fdinfo */

static int parse_fdinfo_text(const char *text, struct proc_fdinfo *fi)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	cr_assert(f, "fmemopen: %m");
	ret = proc_parse_fdinfo_fp(f, fi);
	fclose(f);
	return ret;
}

Test(proc_fdinfo, fields)
{
	struct proc_fdinfo fi;

	cr_assert_eq(parse_fdinfo_text("pos:\t12345\nflags:\t02100002\n"
				       "mnt_id:\t29\nino:\t1234\n", &fi), 0);
	cr_expect_eq(fi.pos, 12345);
	cr_expect_eq(fi.flags, 02100002);
	cr_expect_eq(fi.mnt_id, 29);

	/* order does not matter; big offsets; extra kind-specific lines */
	cr_assert_eq(parse_fdinfo_text("flags:\t0104001\nmnt_id:\t3\n"
				       "pos:\t9223372036854775807\n"
				       "eventfd-count:\t5\n", &fi), 0);
	cr_expect_eq(fi.pos, 9223372036854775807ull);
	cr_expect_eq(fi.flags, 0104001);
	cr_expect_eq(fi.mnt_id, 3);

	/* mnt_id is optional */
	cr_assert_eq(parse_fdinfo_text("pos:\t0\nflags:\t00\n", &fi), 0);
	cr_expect_eq(fi.pos, 0);
	cr_expect_eq(fi.flags, 0);
	cr_expect_eq(fi.mnt_id, 0);
}

Test(proc_fdinfo, missing_pos_or_flags)
{
	static const struct {
		const char *text, *missing;
	} cases[] = {
		{ "flags:\t02\nmnt_id:\t1\n", "missing pos" },
		{ "pos:\t10\nmnt_id:\t1\n", "missing flags" },
		{ "", "missing pos" },
		{ "position:\t10\nflags:\t02\n", "missing pos" },
		{ "pos:\t10\nflag:\t02\n", "missing flags" },
	};
	struct proc_fdinfo fi;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture c;
		char *log;
		int ret;

		capture_start(&c);
		ret = parse_fdinfo_text(cases[i].text, &fi);
		log = capture_end(&c);
		cr_expect_eq(ret, -1, "accepted \"%s\"", cases[i].text);
		cr_expect(strstr(log, cases[i].missing), "\"%s\": %s",
			  cases[i].text, log);
		free(log);
	}
}

Test(proc_fdinfo, lock_lines)
{
	struct proc_lock lk;
	struct proc_fdinfo fi;

	cr_assert_eq(proc_parse_lock_line("\t1: FLOCK  ADVISORY  WRITE 758 fe:00:10952984 0 EOF\n",
					  &lk), 0);
	cr_expect_str_eq(lk.kind, "FLOCK");
	cr_expect_str_eq(lk.mode, "ADVISORY");
	cr_expect_str_eq(lk.type, "WRITE");
	cr_expect_eq(lk.pid, 758);
	cr_expect_eq(lk.major, 0xfe);
	cr_expect_eq(lk.minor, 0);
	cr_expect_eq(lk.ino, 10952984);
	cr_expect_eq(lk.start, 0);
	cr_expect_eq(lk.end, PROC_LOCK_EOF);

	cr_assert_eq(proc_parse_lock_line("\t2: POSIX  ADVISORY  READ 758 08:1f:12 10 19\n",
					  &lk), 0);
	cr_expect_str_eq(lk.kind, "POSIX");
	cr_expect_str_eq(lk.type, "READ");
	cr_expect_eq(lk.major, 8);
	cr_expect_eq(lk.minor, 0x1f);
	cr_expect_eq(lk.start, 10);
	cr_expect_eq(lk.end, 19);

	/* an OFD lock has no owner PID */
	cr_assert_eq(proc_parse_lock_line("\t1: OFDLCK ADVISORY  WRITE -1 fe:00:7 5 5\n",
					  &lk), 0);
	cr_expect_str_eq(lk.kind, "OFDLCK");
	cr_expect_eq(lk.pid, -1);

	cr_expect_eq(proc_parse_lock_line("\t1: LEASE  ACTIVE    READ 1 fe:00:7 0 EOF\n",
					  &lk), 0);
	cr_expect_str_eq(lk.kind, "LEASE");
	cr_expect_str_eq(lk.mode, "ACTIVE");

	/* truncated, a bad end, a waiter line */
	cr_expect_eq(proc_parse_lock_line("\t1: POSIX  ADVISORY  WRITE 758 fe:00:7 10\n",
					  &lk), -1);
	cr_expect_eq(proc_parse_lock_line("\t1: POSIX  ADVISORY  WRITE 758 fe:00:7 10 1x\n",
					  &lk), -1);
	cr_expect_eq(proc_parse_lock_line("\t1: -> POSIX  ADVISORY  WRITE 9 fe:00:7 0 EOF\n",
					  &lk), -1);

	/* fdinfo counts them */
	cr_assert_eq(parse_fdinfo_text("pos:\t0\nflags:\t02\nmnt_id:\t1\n"
				       "lock:\t1: POSIX  ADVISORY  WRITE 1 00:01:2 0 EOF\n"
				       "lock:\t2: POSIX  ADVISORY  READ 1 00:01:2 9 EOF\n",
				       &fi), 0);
	cr_expect_eq(fi.n_locks, 2);
}

Test(proc_fdinfo, this_process)
{
	int fd = memfd_create("fdinfo", MFD_CLOEXEC);
	struct proc_fdinfo fi;
	struct statx stx;
	struct capture c;
	char buf[5000] = { 0 };
	char *log;

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	cr_assert_eq(lseek(fd, 777, SEEK_SET), 777);
	cr_assert_eq(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK), 0);
	cr_assert_eq(statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx), 0);

	cr_assert_eq(proc_parse_fdinfo(getpid(), fd, &fi), 0);
	cr_expect_eq(fi.pos, 777);
	cr_expect_eq(fi.flags & O_ACCMODE, O_RDWR);
	cr_expect(fi.flags & O_APPEND);
	cr_expect(fi.flags & O_NONBLOCK);
	cr_expect(fi.flags & O_CLOEXEC);
	if (stx.stx_mask & STATX_MNT_ID)
		cr_expect_eq((uint64_t)fi.mnt_id, stx.stx_mnt_id);
	close(fd);

	/* a closed fd: fails, and says which file it could not open */
	fd = 1000;
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "fd %d is open", fd);
	capture_start(&c);
	cr_expect_eq(proc_parse_fdinfo(getpid(), fd, &fi), -1);
	log = capture_end(&c);
	cr_assert_log_has(log, "fdinfo/1000");
	free(log);
}

/* ------------------------------------------------------------- pagemap */

Test(pagemap, written_page_is_present)
{
	long psz = sysconf(_SC_PAGESIZE);
	int fd = pagemap_open(getpid());
	uint64_t pme[4];
	char *p;
	int i;

	cr_assert(fd >= 0);
	p = mmap(NULL, 4 * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	p[psz] = 1;
	p[3 * psz + 100] = 2;

	cr_assert_eq(pagemap_read_entries(fd, (uintptr_t)p, 4, pme), 4);
	for (i = 0; i < 4; i++) {
		if (i == 1 || i == 3) {
			cr_expect(pme[i] & PME_PRESENT, "page %d: %#llx", i,
				  (unsigned long long)pme[i]);
			cr_expect(pme[i] & PME_EXCLUSIVE, "page %d", i);
			cr_expect_not(pme[i] & PME_FILE, "page %d", i);
		} else {
			cr_expect_not(pme[i] & (PME_PRESENT | PME_SWAP),
				      "untouched page %d: %#llx", i,
				      (unsigned long long)pme[i]);
		}
	}

	/* an entry for one page, not aligned: the page it is in */
	cr_assert_eq(pagemap_read_entries(fd, (uintptr_t)p + 3 * psz + 100, 1,
					  pme), 1);
	cr_expect(pme[0] & PME_PRESENT);

	/* dropped again: gone */
	cr_assert_eq(madvise(p + psz, psz, MADV_DONTNEED), 0);
	cr_assert_eq(pagemap_read_entries(fd, (uintptr_t)p + psz, 1, pme), 1);
	cr_expect_not(pme[0] & PME_PRESENT);

	munmap(p, 4 * psz);
	close(fd);
}

Test(pagemap, shared_page_is_file)
{
	long psz = sysconf(_SC_PAGESIZE);
	int fd = pagemap_open(getpid());
	uint64_t pme[2];
	char *p;

	cr_assert(fd >= 0);
	p = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	p[0] = 1;
	cr_assert_eq(pagemap_read_entries(fd, (uintptr_t)p, 2, pme), 2);
	cr_expect_eq(pme[0] & (PME_PRESENT | PME_FILE), PME_PRESENT | PME_FILE,
		     "%#llx", (unsigned long long)pme[0]);
	cr_expect_not(pme[1] & PME_PRESENT);
	munmap(p, 2 * psz);
	close(fd);
}

Test(pagemap, short_and_failed_reads)
{
	int fd = pagemap_open(getpid());
	uint64_t pme[2] = { 1, 1 };
	struct capture c;
	char *log;

	cr_assert(fd >= 0);
	cr_expect_eq(pagemap_read_entries(fd, 0x1000, 0, pme), 0);

	/* past the end of the user address space the file ends */
	capture_start(&c);
	cr_expect_eq(pagemap_read_entries(fd, 0xffff800000000000ull, 2, pme), -1);
	log = capture_end(&c);
	cr_assert_log_has(log, "Short pagemap read", "0xffff800000000000");
	free(log);
	close(fd);

	capture_start(&c);
	cr_expect_eq(pagemap_read_entries(-1, 0x1000, 1, pme), -1);
	log = capture_end(&c);
	cr_assert_log_has(log, "Can't read pagemap");
	free(log);
}

/* ------------------------------------------------- fdinfo of anon inodes */

static FILE *text_file(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	cr_assert(f, "fmemopen: %m");
	return f;
}

/* PARSE on TEXT must fail, logging something with WANT in it. */
#define expect_refused(PARSE, TEXT, ARG, WANT)				\
	do {								\
		struct capture c;					\
		FILE *f = text_file(TEXT);				\
		char *log;						\
									\
		capture_start(&c);					\
		cr_expect_lt(PARSE(f, ARG), 0, "accepted \"%s\"", TEXT);\
		log = capture_end(&c);					\
		cr_expect(strstr(log, WANT), "\"%s\": %s", TEXT, log);	\
		free(log);						\
		fclose(f);						\
	} while (0)

Test(proc_fdinfo_anon, eventfd)
{
	struct proc_eventfd e;
	FILE *f;

	/* the counter is hex, padded */
	f = text_file("pos:\t0\nflags:\t04002\neventfd-count:          2dfdc1c35\n"
		      "eventfd-id: 7\neventfd-semaphore: 1\n");
	cr_assert_eq(proc_parse_eventfd_fp(f, &e), 0);
	cr_expect_eq(e.count, 12345678901ull);
	cr_expect_eq(e.semaphore, 1);
	fclose(f);
	/* before 6.7: no semaphore line */
	f = text_file("eventfd-count:                0\n");
	cr_assert_eq(proc_parse_eventfd_fp(f, &e), 0);
	cr_expect_eq(e.count, 0);
	cr_expect_eq(e.semaphore, -1);
	fclose(f);
	expect_refused(proc_parse_eventfd_fp, "pos:\t0\neventfd-id: 1\n", &e,
		       "eventfd-count");
}

Test(proc_fdinfo_anon, epoll)
{
	struct proc_epoll_tfd *v;
	FILE *f;

	f = text_file("pos:\t0\nflags:\t02\n"
		      "tfd:        3 events: 80000019 data:       1234567890  pos:0 ino:11 sdev:10\n"
		      "tfd:       12 events:       1c data: ffffffffffffffff  pos:0 ino:eface sdev:f\n");
	cr_assert_eq(proc_parse_epoll_fp(f, &v), 2);
	cr_expect_eq(v[0].tfd, 3);
	cr_expect_eq(v[0].events, 0x80000019);
	cr_expect_eq(v[0].data, 0x1234567890ull);
	cr_expect_eq(v[0].ino, 0x11);
	cr_expect_eq(v[0].sdev, 0x10);
	cr_expect_eq(v[1].tfd, 12);
	cr_expect_eq(v[1].data, ~0ull);
	cr_expect_eq(v[1].ino, 0xeface);
	free(v);
	fclose(f);
	/* nothing watched */
	f = text_file("pos:\t0\nflags:\t02\n");
	cr_assert_eq(proc_parse_epoll_fp(f, &v), 0);
	cr_expect_null(v);
	fclose(f);
	expect_refused(proc_parse_epoll_fp,
		       "tfd:        3 events: 19 data:\n", &v, "malformed epoll");
}

Test(proc_fdinfo_anon, signalfd)
{
	uint64_t m;
	FILE *f = text_file("pos:\t0\nflags:\t02000002\nsigmask:\t0000000000004200\n");

	cr_assert_eq(proc_parse_signalfd_fp(f, &m), 0);
	cr_expect_eq(m, 0x4200);
	fclose(f);
	expect_refused(proc_parse_signalfd_fp, "pos:\t0\n", &m, "sigmask");
}

Test(proc_fdinfo_anon, timerfd)
{
	struct proc_timerfd t;
	FILE *f = text_file("clockid: 1\nticks: 42\nsettime flags: 03\n"
			    "it_value: (99, 551321937)\nit_interval: (0, 10000000)\n");

	cr_assert_eq(proc_parse_timerfd_fp(f, &t), 0);
	cr_expect_eq(t.clockid, 1);
	cr_expect_eq(t.ticks, 42);
	cr_expect_eq(t.settime_flags, 3);
	cr_expect_eq(t.value.tv_sec, 99);
	cr_expect_eq(t.value.tv_nsec, 551321937);
	cr_expect_eq(t.interval.tv_nsec, 10000000);
	fclose(f);
	expect_refused(proc_parse_timerfd_fp,
		       "clockid: 1\nticks: 42\nsettime flags: 03\n"
		       "it_value: (99, 551321937)\n", &t, "timerfd fields missing");
}

Test(proc_fdinfo_anon, inotify)
{
	struct proc_inotify_wd *v;
	FILE *f;

	f = text_file("pos:\t0\nflags:\t00\n"
		      "inotify wd:1 ino:3c51a sdev:fe00000 mask:300 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:1ac5030000000000\n"
		      "inotify wd:1f ino:2 sdev:10 mask:fff ignored_mask:0\n");
	cr_assert_eq(proc_parse_inotify_fp(f, &v), 2);
	cr_expect_eq(v[0].wd, 1);
	cr_expect_eq(v[0].ino, 0x3c51a);
	cr_expect_eq(v[0].sdev, 0xfe00000);
	cr_expect_eq(v[0].mask, 0x300);
	cr_expect_eq(v[0].handle_bytes, 8);
	cr_expect_eq(v[0].handle_type, 1);
	cr_expect_eq(v[0].handle[0], 0x1a);
	cr_expect_eq(v[0].handle[1], 0xc5);
	cr_expect_eq(v[0].handle[2], 0x03);
	/* a watch without a file handle (no exportfs) */
	cr_expect_eq(v[1].wd, 0x1f);
	cr_expect_eq(v[1].handle_bytes, 0);
	free(v);
	fclose(f);
	expect_refused(proc_parse_inotify_fp,
		       "inotify wd:1 ino:3 sdev:4 mask:300 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:1ac5\n",
		       &v, "malformed inotify");
}

Test(proc_mountinfo, mount_of_dev)
{
	char path[64];
	FILE *f = text_file(
		"22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
		"23 22 0:21 / /proc rw - proc proc rw\n"
		"40 22 254:3 /sub /mnt/a\\040b rw - ext4 /dev/vda3 rw\n"
		"41 22 254:3 / /mnt/c rw - ext4 /dev/vda3 rw\n");

	cr_assert_eq(proc_mount_of_dev_fp(f, 254, 1, path, sizeof(path)), 0);
	cr_expect_str_eq(path, "/");
	rewind(f);
	/* the first mount of the device, its octal escapes undone */
	cr_assert_eq(proc_mount_of_dev_fp(f, 254, 3, path, sizeof(path)), 0);
	cr_expect_str_eq(path, "/mnt/a b");
	rewind(f);
	cr_expect_eq(proc_mount_of_dev_fp(f, 8, 0, path, sizeof(path)), -1);
	rewind(f);
	/* a mount point too long for the buffer is skipped */
	cr_assert_eq(proc_mount_of_dev_fp(f, 254, 3, path, 7), 0);
	cr_expect_str_eq(path, "/mnt/c");
	fclose(f);
}
