// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the unit-test binary needs to link with the criu-lite objects but
 * without criu-lite/main.o: the options main.c defines.
 *
 * The Makefile also puts build/libcrlite.a before those objects on the link
 * line, so an archive member only they use would stay unresolved. Taking the
 * address of one function of each member pulls it in, whoever uses it.
 */
#include "arena.h"
#include "crtools.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "unix-diag.h"

/* weak: should opts move out of main.c, that definition wins */
__attribute__((weak)) struct opts opts;

__attribute__((used)) static const void *const unit_link_lib[] = {
	(const void *)arena_alloc,
	(const void *)img_open,
	(const void *)log_msg,
	(const void *)pidref_from_pid,
	(const void *)proc_parse_stat,
	(const void *)ptrace_seize_stop,
	(const void *)remote_syscall,
	(const void *)unix_diag_collect,
};
