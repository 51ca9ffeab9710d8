/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_PIDREF_H
#define CRLITE_PIDREF_H

#include <sys/types.h>

/*
 * A process named by PID, by pidfd, or both. Entry points take one of these
 * because callers have either; a pidfd pins the process so that a recycled
 * PID is never mistaken for it.
 */
struct pidref {
	pid_t pid;
	int pidfd;	/* -1 if none */
};

#define PIDREF_NONE ((struct pidref){ .pid = 0, .pidfd = -1 })

/* Opens a pidfd for PID; fails if the process does not exist. */
int pidref_from_pid(struct pidref *ref, pid_t pid);
/* Takes ownership of PIDFD and resolves its PID (from fdinfo). */
int pidref_from_pidfd(struct pidref *ref, int pidfd);
/* 1 if the process the pidref names is still alive (not reaped). */
int pidref_alive(const struct pidref *ref);
int pidref_kill(const struct pidref *ref, int sig);
void pidref_close(struct pidref *ref);

#endif
