// SPDX-License-Identifier: GPL-2.0-only
/*
 * The whole address space comes back as it was: every line of
 * /proc/self/maps (range, protection, offset, device, inode, name: binary,
 * libraries, heap, stack, vdso, vvar, vvar_vclock) and the VmFlags of every
 * VMA (less soft-dirty), with nothing added and nothing missing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

static char smaps[1 << 20];
static char before[256 << 10], after[256 << 10];

/* One line per VMA: its maps line, then " | " and its sorted VmFlags. */
static void layout(char *out, size_t size)
{
	char *line, *save = NULL, *cur = NULL;
	size_t off = 0;

	read_file("/proc/self/smaps", smaps, sizeof(smaps));
	out[0] = '\0';
	for (line = strtok_r(smaps, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			cur = line;
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) || !cur)
			continue;
		{
			char *f, *fs = NULL, *v[64];
			size_t n = 0, i, j;

			for (f = strtok_r(line + 8, " ", &fs); f && n < 64;
			     f = strtok_r(NULL, " ", &fs))
				if (strcmp(f, "sd") && strcmp(f, "um"))
					v[n++] = f;
			for (i = 1; i < n; i++) /* insertion sort */
				for (j = i; j && strcmp(v[j - 1], v[j]) > 0;
				     j--) {
					char *t = v[j];

					v[j] = v[j - 1];
					v[j - 1] = t;
				}
			off += snprintf(out + off, size - off, "%s |", cur);
			for (i = 0; i < n && off < size; i++)
				off += snprintf(out + off, size - off, " %s",
						v[i]);
			if (off < size)
				off += snprintf(out + off, size - off, "\n");
		}
		if (off >= size)
			fail("layout does not fit");
		cur = NULL;
	}
}

static const char *nth_line(const char *s, int n, char *out, size_t size)
{
	const char *e;

	while (n-- && s)
		s = (s = strchr(s, '\n')) ? s + 1 : NULL;
	if (!s || !*s) {
		snprintf(out, size, "<none>");
		return out;
	}
	e = strchrnul(s, '\n');
	snprintf(out, size, "%.*s", (int)(e - s), s);
	return out;
}

int main(int argc, char **argv)
{
	char a[512], b[512];
	int i;

	test_init(argc, argv);

	layout(before, sizeof(before));
	if (!strstr(before, "[vdso]") || !strstr(before, "[stack]"))
		fail("no [vdso] or [stack] in the layout");
	test_msg("%zu bytes of layout", strlen(before));

	test_daemon();
	test_waitsig();

	layout(after, sizeof(after));
	if (!strcmp(before, after))
		pass();
	for (i = 0;; i++) {
		nth_line(before, i, b, sizeof(b));
		nth_line(after, i, a, sizeof(a));
		if (strcmp(a, b))
			fail("layout differs at VMA %d:\n  was: %s\n  now: %s", i,
			     b, a);
	}
}
