// SPDX-License-Identifier: GPL-2.0
/*
 * Compile-only check that the installed uapi headers carry the criu-lite
 * additions with the values the selftests (crl_kapi.h) fall back to.
 * Uses only kernel headers, so it does not clash with glibc.
 */
#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/mman.h>
#include <linux/pidfd.h>

_Static_assert(PROCESS_MADVISE_LAYOUT_SEQ == 0x1, "process_madvise flag");
_Static_assert(PIDFD_GET_LAYOUT_SEQ == _IOR(0xFF, 0x40, __u64), "ioctl nr");
_Static_assert(PIDFD_GET_RIGHTS == _IO(0xFF, 0x41), "ioctl nr");
_Static_assert(PIDFD_DERIVE == _IO(0xFF, 0x42), "ioctl nr");
_Static_assert(PIDFD_RIGHT_WAIT == 1 && PIDFD_RIGHT_SIGNAL == 2 &&
	       PIDFD_RIGHT_GETFD == 4 && PIDFD_RIGHT_MADVISE == 8 &&
	       PIDFD_RIGHT_SETNS == 16, "rights bits");
_Static_assert(PIDFD_RIGHTS_ALL == 0x1f, "all rights");

int crl_uapi_check;
