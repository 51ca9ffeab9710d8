/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_PAGE_XFER_H
#define CRIU_LITE_PAGE_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * Where dumped page data goes: the pages image in the images directory, or
 * the same image on a page server (page-server.c). The dump code writes page
 * data the same way to both.
 */
struct page_xfer;

struct page_xfer_ops {
	int (*open)(struct page_xfer *x, int dirfd);
	int (*write)(struct page_xfer *x, const struct iovec *where, int n,
		     const void *buf, size_t len);
	int (*close)(struct page_xfer *x, int complete);
};

struct page_xfer {
	const struct page_xfer_ops *ops;
	char name[64];
	int fd;			/* a local image */
	uint64_t bytes;		/* written so far */
};

/* Creates the pages image NAME: in DIRFD, or on the page server if any. */
int page_xfer_open(struct page_xfer *x, int dirfd, const char *name);
/*
 * LEN bytes from BUF: the page data at WHERE[0..N), in order, each an
 * address (or offset) and a length in whole pages.
 */
int page_xfer_write(struct page_xfer *x, const struct iovec *where, int n,
		    const void *buf, size_t len);
/* COMPLETE: every page is in; else the image is left to the failed dump. */
int page_xfer_close(struct page_xfer *x, int complete);

/*
 * page-server.c, the dump side: with --page-server, connect and shake hands
 * before anything is frozen; pages images stream there as they are read;
 * at the end every other image goes there too, and the server's word that
 * all is on disk comes back before the tree is killed.
 */
extern const struct page_xfer_ops page_server_xfer_ops;
int page_server_connect(void);
int page_server_active(void);
int page_server_send_file(int dirfd, const char *name);
int page_server_finish(void);
void page_server_disconnect(int failed);

#endif
