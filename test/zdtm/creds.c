// SPDX-License-Identifier: GPL-2.0-only
/*
 * Credentials (run as root): supplementary groups, distinct real/effective/
 * saved uids and gids, fsuid/fsgid (kept at 0, distinct from the rest: that
 * is also what lets the test write its pidfile into the runner's dir), and
 * the capability sets changed to non-default subsets: permitted, effective,
 * inheritable, ambient and bounding; keep-caps, securebits and dumpable.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PERM "cap_chown,cap_dac_override,cap_fowner,cap_setgid,cap_setuid," \
	     "cap_setpcap,cap_audit_write"
#define INH "cap_kill,cap_net_bind_service,cap_sys_chroot"

static const gid_t groups[] = { 1001, 1002, 4242, 65534 };
static const int bnd_drop[] = { CAP_SYS_BOOT, CAP_MKNOD, CAP_SYS_MODULE,
				CAP_SYS_RAWIO };

struct creds {
	uid_t r, e, s, fs;
	gid_t rg, eg, sg, fsg;
	gid_t groups[64];
	int ngroups;
	char caps[1024];
	char status[2048];
	unsigned long bnd, amb;
	int keepcaps, securebits, dumpable;
};

static void set_caps(const char *text)
{
	cap_t c = cap_from_text(text);

	if (!c)
		fail("cap_from_text(%s): %m", text);
	if (cap_set_proc(c))
		fail("cap_set_proc(%s): %m", text);
	cap_free(c);
}

static void measure(struct creds *c)
{
	static const char *keys[] = { "Uid:", "Gid:", "Groups:", "CapInh:",
				      "CapPrm:", "CapEff:", "CapBnd:",
				      "CapAmb:" };
	char buf[8192], *line, *save = NULL, *t;
	size_t off = 0, i;
	cap_t cap;
	int n;

	memset(c, 0, sizeof(*c));
	getresuid(&c->r, &c->e, &c->s);
	getresgid(&c->rg, &c->eg, &c->sg);
	c->fs = setfsuid(-1);
	c->fsg = setfsgid(-1);
	c->ngroups = getgroups(ARRAY_SIZE(c->groups), c->groups);
	if (c->ngroups < 0)
		fail("getgroups: %m");
	cap = cap_get_proc();
	t = cap ? cap_to_text(cap, NULL) : NULL;
	if (!t)
		fail("cap_get_proc: %m");
	snprintf(c->caps, sizeof(c->caps), "%s", t);
	cap_free(t);
	cap_free(cap);
	for (n = 0; n <= CAP_LAST_CAP; n++) {
		if (prctl(PR_CAPBSET_READ, n, 0, 0, 0) == 1)
			c->bnd |= 1ul << n;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, n, 0, 0) == 1)
			c->amb |= 1ul << n;
	}
	c->keepcaps = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
	c->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	c->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

	read_file("/proc/self/status", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		for (i = 0; i < ARRAY_SIZE(keys); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				off += snprintf(c->status + off,
						sizeof(c->status) - off, "%s\n",
						line);
}

int main(int argc, char **argv)
{
	static struct creds c0, c1;
	size_t i;

	test_init(argc, argv);
	if (geteuid() != 0)
		fail("creds must run as root (euid %d)", geteuid());

	if (setgroups(ARRAY_SIZE(groups), groups))
		fail("setgroups: %m");
	for (i = 0; i < ARRAY_SIZE(bnd_drop); i++)
		if (prctl(PR_CAPBSET_DROP, bnd_drop[i], 0, 0, 0))
			fail("PR_CAPBSET_DROP %d: %m", bnd_drop[i]);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		fail("PR_SET_KEEPCAPS: %m");
	set_caps(PERM "=ep " INH "=eip");
	if (setresgid(1001, 1002, 1003))
		fail("setresgid: %m");
	if (setresuid(2001, 2002, 2003))
		fail("setresuid: %m");
	set_caps(PERM "=ep " INH "=eip"); /* effective was cleared */
	setfsuid(0);
	setfsgid(0);
	if (setfsuid(-1) != 0 || setfsgid(-1) != 0)
		fail("setfsuid/setfsgid(0) did not take");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE,
		  0, 0))
		fail("PR_CAP_AMBIENT_RAISE: %m");
	set_caps(PERM "=p cap_chown+e " INH "=eip cap_sys_chroot-e");

	measure(&c0);
	test_msg("caps: %s", c0.caps);

	test_daemon();
	test_waitsig();

	measure(&c1);
	if (c0.r != c1.r || c0.e != c1.e || c0.s != c1.s || c0.fs != c1.fs)
		fail("uids changed: %d/%d/%d/%d -> %d/%d/%d/%d", c0.r, c0.e,
		     c0.s, c0.fs, c1.r, c1.e, c1.s, c1.fs);
	if (c0.rg != c1.rg || c0.eg != c1.eg || c0.sg != c1.sg ||
	    c0.fsg != c1.fsg)
		fail("gids changed: %d/%d/%d/%d -> %d/%d/%d/%d", c0.rg, c0.eg,
		     c0.sg, c0.fsg, c1.rg, c1.eg, c1.sg, c1.fsg);
	if (c0.ngroups != c1.ngroups ||
	    memcmp(c0.groups, c1.groups, c0.ngroups * sizeof(gid_t)))
		fail("supplementary groups changed");
	if (strcmp(c0.caps, c1.caps))
		fail("capabilities changed: %s -> %s", c0.caps, c1.caps);
	if (c0.bnd != c1.bnd)
		fail("bounding set changed: %#lx -> %#lx", c0.bnd, c1.bnd);
	if (c0.amb != c1.amb)
		fail("ambient set changed: %#lx -> %#lx", c0.amb, c1.amb);
	if (c0.keepcaps != c1.keepcaps || c0.securebits != c1.securebits)
		fail("keepcaps/securebits changed: %d/%#x -> %d/%#x",
		     c0.keepcaps, c0.securebits, c1.keepcaps, c1.securebits);
	if (c0.dumpable != c1.dumpable)
		fail("dumpable changed: %d -> %d", c0.dumpable, c1.dumpable);
	if (strcmp(c0.status, c1.status))
		fail("/proc/self/status creds changed:\n%s-- now --\n%s",
		     c0.status, c1.status);
	pass();
}
