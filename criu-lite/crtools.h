/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_CRTOOLS_H
#define CRIU_LITE_CRTOOLS_H

#include <stdint.h>
#include <sys/types.h>

#include "anon-fds.pb-c.h"
#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "file-lock.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pidref.h"
#include "pipe.pb-c.h"
#include "ptrace.h"
#include "pstree.pb-c.h"
#include "regfile.pb-c.h"
#include "shmem.pb-c.h"
#include "sk-inet.pb-c.h"
#include "sk-unix.pb-c.h"
#include "stats.pb-c.h"
#include "tty.pb-c.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --cold-mark: what restore tells the kernel about pages cold at dump */
enum cold_mark_mode {
	COLD_MARK_AUTO,		/* swapped: MADV_PAGEOUT, inactive: MADV_COLD */
	COLD_MARK_OFF,
	COLD_MARK_COLD,		/* both MADV_COLD */
	COLD_MARK_PAGEOUT,	/* both MADV_PAGEOUT */
};

struct opts {
	char **argv;		/* to run criu-lite again */
	const char *dir;
	pid_t pid;
	int leave_running;
	int detach;
	int pidns;		/* restore into a fresh PID namespace */
	int shell_job;		/* the root's session and group are the caller's */
	int userns;		/* ... owned by a new user namespace: unprivileged */
	int json;
	int check_all;
	const char *feature;
	const char *log_file;
	int verbosity;
	enum cold_mark_mode cold_mark;
	int pre_dump;		/* pre-dump: memory only, copied while running */
	const char *prev_dir;	/* --prev-images-dir: relative to dir */
	int track_mem;		/* --track-mem */
	const char *pidfd_store;	/* restore: the supervisor's socket */
	uint32_t pidfd_rights;		/* PIDFD_RIGHT_* it gets */
	int pidfd_rights_set;
	int pidfd_allow_full;		/* ... or full pidfds, if need be */
	int page_server;		/* dump: images go to a page server */
	const char *ps_addr;		/* --address: its, or where it listens */
	int ps_port;			/* --port, -1 if not given */
	int lazy_pages;			/* restore: memory filled on demand */
	const char *lazy_socket;	/* ... by the daemon listening there */
};
extern struct opts opts;

int cr_dump(void);
int cr_pre_dump(void);
int cr_restore(void);
int cr_check(void);
int check_restore_kernel(void);
int cr_show(const char *path);
int cr_page_server(void);
int cr_lazy_pages(void);

/* pidfd-store.c: restore --pidfd-store, pidfds for a supervisor */
struct rst_tree;
int pidfd_store_parse_rights(const char *list, uint32_t *rights);
int pidfd_store_open(void);
int pidfd_store_send(const struct rst_tree *tree);
void pidfd_store_close(void);

/* microseconds on CLOCK_MONOTONIC, for the statistics */
uint64_t now_us(void);

#endif
