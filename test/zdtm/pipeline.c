// SPDX-License-Identifier: GPL-2.0-only
/*
 * A real shell pipeline with data in its pipes at the dump:
 *     bash -c 'seq 1 100000000 | head -c 3000000 | PACER | sha256sum >sum.out'
 * where PACER is python3 passing 16 KiB every 10 ms, so the pipeline takes
 * about 2 s and the pipes before it are full while it runs. After restore
 * the pipeline carries on and must end with the sha256 of the same bytes
 * run through without pauses (computed before the dump): nothing lost,
 * doubled or reordered in flight.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SOURCE "seq 1 100000000 | head -c 3000000"
#define PACER "python3 -c 'import sys,time\n" \
	"r, w = sys.stdin.buffer, sys.stdout.buffer\n" \
	"while True:\n" \
	"    b = r.read(16384)\n" \
	"    if not b: break\n" \
	"    w.write(b); w.flush(); time.sleep(0.01)\n'"

static void expected_sum(char *out, size_t size)
{
	FILE *f = popen(SOURCE " | sha256sum", "r");

	if (!f || !fgets(out, size, f) || pclose(f))
		fail("can't compute the expected sum: %m");
}

int main(int argc, char **argv)
{
	char want[128], got[128] = "";
	pid_t pid;
	int st;

	test_init(argc, argv);
	expected_sum(want, sizeof(want));
	unlink("sum.out");
	pid = test_fork();
	if (pid == 0) {
		execl("/bin/bash", "bash", "-c",
		      SOURCE " | " PACER " | sha256sum >sum.out", NULL);
		fail("exec bash: %m");
	}
	usleep(300000);
	test_daemon();
	test_waitsig();

	if (waitpid(pid, &st, 0) != pid || st)
		fail("the pipeline %d: status %#x", pid, st);
	read_file("sum.out", got, sizeof(got));
	if (strcmp(want, got))
		fail("the pipeline's sum is %.64s, not %.64s", got, want);
	pass();
}
