/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_TRACK_H
#define CRIU_LITE_TRACK_H

/* What write tracking needs from headers newer than Debian 12's. */
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* PAGEMAP_SCAN (6.7) is newer than these headers */
struct pm_scan_arg_compat {
	uint64_t size, flags, start, end, walk_end, vec, vec_len;
	uint64_t max_pages, category_inverted, category_mask;
	uint64_t category_anyof_mask, return_mask;
};
struct page_region_compat {
	uint64_t start, end, categories;
};
#define PAGEMAP_SCAN_COMPAT _IOWR('f', 16, struct pm_scan_arg_compat)
#define PM_SCAN_WP_MATCHING_C	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC_C	(1 << 1)
#define PAGE_IS_WRITTEN_C	(1 << 1)

int track_probe_soft_dirty(void);
int track_probe_uffd_wp(void);

#endif
