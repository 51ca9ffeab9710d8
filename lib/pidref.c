// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pidref.h"
#include "syscalls.h"

int pidref_from_pid(struct pidref *ref, pid_t pid)
{
	int fd = sys_pidfd_open(pid, 0);

	if (fd < 0) {
		if (errno == ESRCH)
			pr_err("No process with PID %d\n", pid);
		else
			pr_perror("Can't open a pidfd for PID %d", pid);
		return -1;
	}
	ref->pid = pid;
	ref->pidfd = fd;
	return 0;
}

int pidref_from_pidfd(struct pidref *ref, int pidfd)
{
	char path[64], line[128];
	FILE *f;
	int pid = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("Can't open %s", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Pid:", 4))
			pid = atoi(line + 4);
	fclose(f);
	if (pid <= 0) {
		pr_err("fd %d is not a pidfd of a live process\n", pidfd);
		return -1;
	}
	ref->pid = pid;
	ref->pidfd = pidfd;
	return 0;
}

int pidref_alive(const struct pidref *ref)
{
	struct pollfd p = { .fd = ref->pidfd, .events = POLLIN };

	if (ref->pidfd < 0)
		return kill(ref->pid, 0) == 0 || errno == EPERM;
	/* a pidfd polls readable once the process has exited */
	return poll(&p, 1, 0) == 0;
}

int pidref_kill(const struct pidref *ref, int sig)
{
	if (ref->pidfd >= 0)
		return sys_pidfd_send_signal(ref->pidfd, sig, NULL, 0);
	return kill(ref->pid, sig);
}

void pidref_close(struct pidref *ref)
{
	if (ref->pidfd >= 0)
		close(ref->pidfd);
	ref->pidfd = -1;
}
