// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compile-only: lib/kapi.h, the one place criu-lite spells the series' ABI
 * numbers, agrees with the uapi headers the patched kernel installs.
 * kernel/ci-fast builds it with -I<patched headers>/include -Ilib.
 */
#include "kapi.h"	/* first, so that its own definitions are the ones used */

enum {
	LIB_GET_LAYOUT_SEQ = PIDFD_GET_LAYOUT_SEQ,
	LIB_GET_RIGHTS = PIDFD_GET_RIGHTS,
	LIB_DERIVE = PIDFD_DERIVE,
	LIB_RIGHT_WAIT = PIDFD_RIGHT_WAIT,
	LIB_RIGHT_SIGNAL = PIDFD_RIGHT_SIGNAL,
	LIB_RIGHT_GETFD = PIDFD_RIGHT_GETFD,
	LIB_RIGHT_MADVISE = PIDFD_RIGHT_MADVISE,
	LIB_RIGHT_SETNS = PIDFD_RIGHT_SETNS,
	LIB_RIGHTS_ALL = PIDFD_RIGHTS_ALL,
	LIB_MADVISE_LAYOUT_SEQ = PROCESS_MADVISE_LAYOUT_SEQ,
};

#undef PIDFD_GET_LAYOUT_SEQ
#undef PIDFD_GET_RIGHTS
#undef PIDFD_DERIVE
#undef PIDFD_RIGHT_WAIT
#undef PIDFD_RIGHT_SIGNAL
#undef PIDFD_RIGHT_GETFD
#undef PIDFD_RIGHT_MADVISE
#undef PIDFD_RIGHT_SETNS
#undef PIDFD_RIGHTS_ALL
#undef PROCESS_MADVISE_LAYOUT_SEQ

#include <linux/mman.h>
#include <linux/pidfd.h>

_Static_assert(LIB_GET_LAYOUT_SEQ == PIDFD_GET_LAYOUT_SEQ, "PIDFD_GET_LAYOUT_SEQ");
_Static_assert(LIB_GET_RIGHTS == PIDFD_GET_RIGHTS, "PIDFD_GET_RIGHTS");
_Static_assert(LIB_DERIVE == PIDFD_DERIVE, "PIDFD_DERIVE");
_Static_assert(LIB_RIGHT_WAIT == PIDFD_RIGHT_WAIT &&
	       LIB_RIGHT_SIGNAL == PIDFD_RIGHT_SIGNAL &&
	       LIB_RIGHT_GETFD == PIDFD_RIGHT_GETFD &&
	       LIB_RIGHT_MADVISE == PIDFD_RIGHT_MADVISE &&
	       LIB_RIGHT_SETNS == PIDFD_RIGHT_SETNS &&
	       LIB_RIGHTS_ALL == PIDFD_RIGHTS_ALL, "PIDFD_RIGHT_*");
_Static_assert(LIB_MADVISE_LAYOUT_SEQ == PROCESS_MADVISE_LAYOUT_SEQ,
	       "PROCESS_MADVISE_LAYOUT_SEQ");

int crl_kapi_abi_check;
