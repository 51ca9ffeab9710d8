// SPDX-License-Identifier: GPL-2.0-only
/* Where dumped page data goes: a local image file, or the page server. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "page-xfer.h"
#include "stream.h"

static int local_open(struct page_xfer *x, int dirfd)
{
	x->fd = openat(dirfd, x->name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		       0600);
	if (x->fd < 0) {
		pr_perror("Can't create image %s", x->name);
		return -1;
	}
	return 0;
}

static int local_write(struct page_xfer *x, const struct iovec *where, int n,
		       const void *buf, size_t len)
{
	(void)where;
	(void)n;
	if (!stream_write_full(x->fd, buf, len))
		return 0;
	pr_perror("Can't write %zu bytes to image %s", len, x->name);
	return -1;
}

static int local_close(struct page_xfer *x, int complete)
{
	if (!close(x->fd) || !complete)
		return 0;
	pr_perror("Can't close image %s", x->name);
	return -1;
}

static const struct page_xfer_ops local_xfer_ops = {
	.open = local_open,
	.write = local_write,
	.close = local_close,
};

int page_xfer_open(struct page_xfer *x, int dirfd, const char *name)
{
	x->ops = page_server_active() ? &page_server_xfer_ops :
					&local_xfer_ops;
	x->fd = -1;
	x->bytes = 0;
	snprintf(x->name, sizeof(x->name), "%s", name);
	return x->ops->open(x, dirfd);
}

int page_xfer_write(struct page_xfer *x, const struct iovec *where, int n,
		    const void *buf, size_t len)
{
	if (!len)
		return 0;
	if (x->ops->write(x, where, n, buf, len))
		return -1;
	x->bytes += len;
	return 0;
}

int page_xfer_close(struct page_xfer *x, int complete)
{
	return x->ops->close(x, complete);
}
