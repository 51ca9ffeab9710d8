// SPDX-License-Identifier: LGPL-2.1-or-later
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "image.h"
#include "log.h"

#define IMG_WBUF_SIZE	(64u << 10)

static struct cr_img *img_alloc(const char *name, uint32_t kind)
{
	struct cr_img *img = calloc(1, sizeof(*img));

	if (!img) {
		pr_err("Out of memory for image %s\n", name);
		return NULL;
	}
	img->fd = -1;
	img->kind = kind;
	snprintf(img->name, sizeof(img->name), "%s", name);
	return img;
}

static int img_flush(struct cr_img *img)
{
	size_t off = 0;

	while (off < img->len) {
		ssize_t n = write(img->fd, img->buf + off, img->len - off);

		if (n < 0) {
			pr_perror("Can't write image %s", img->name);
			img->failed = 1;
			return -1;
		}
		off += n;
	}
	img->len = 0;
	return 0;
}

static int img_put(struct cr_img *img, const void *data, size_t len)
{
	const unsigned char *p = data;

	img->crc = crc32(img->crc, p, len);
	while (len) {
		size_t chunk = img->cap - img->len;

		if (chunk > len)
			chunk = len;
		memcpy(img->buf + img->len, p, chunk);
		img->len += chunk;
		p += chunk;
		len -= chunk;
		if (img->len == img->cap && img_flush(img))
			return -1;
	}
	return 0;
}

static int img_put_u32(struct cr_img *img, uint32_t v)
{
	v = htole32(v);
	return img_put(img, &v, sizeof(v));
}

struct cr_img *img_create(int dirfd, const char *name, uint32_t kind)
{
	struct cr_img *img = img_alloc(name, kind);
	struct img_hdr hdr;

	if (!img)
		return NULL;
	img->writing = 1;
	img->cap = IMG_WBUF_SIZE;
	img->buf = malloc(img->cap);
	if (!img->buf) {
		pr_err("Out of memory for image %s\n", name);
		goto err;
	}
	img->fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			 0600);
	if (img->fd < 0) {
		pr_perror("Can't create image %s", name);
		goto err;
	}
	img->crc = crc32(0, NULL, 0);
	hdr.magic = htole32(IMG_MAGIC);
	hdr.version = htole32(IMG_FORMAT_VERSION);
	hdr.kind = htole32(kind);
	hdr.pad = 0;
	if (img_put(img, &hdr, sizeof(hdr)))
		goto err;
	return img;
err:
	img->failed = 1;
	img_close(img);
	return NULL;
}

int img_write_msg(struct cr_img *img, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	unsigned char stackbuf[512];
	unsigned char *p = stackbuf;
	int ret;

	if (len > IMG_MAX_RECORD) {
		pr_err("Record of %zu bytes too large for image %s\n", len,
		       img->name);
		img->failed = 1;
		return -1;
	}
	if (len > sizeof(stackbuf)) {
		p = malloc(len);
		if (!p) {
			pr_err("Out of memory packing %s\n", img->name);
			img->failed = 1;
			return -1;
		}
	}
	protobuf_c_message_pack(msg, p);
	ret = img_put_u32(img, len);
	if (!ret)
		ret = img_put(img, p, len);
	if (p != stackbuf)
		free(p);
	return ret;
}

int img_close_write(struct cr_img *img)
{
	int ret;
	uint32_t crc;

	if (!img)
		return -1;
	crc = img->crc;
	if (!img->failed && !img_put_u32(img, IMG_TRAILER_MARK)) {
		crc = htole32(crc);
		/* the checksum itself is not part of what it covers */
		if (img->len + sizeof(crc) > img->cap)
			img_flush(img);
		memcpy(img->buf + img->len, &crc, sizeof(crc));
		img->len += sizeof(crc);
		img_flush(img);
	}
	ret = img->failed ? -1 : 0;
	if (close(img->fd)) {
		pr_perror("Can't close image %s", img->name);
		ret = -1;
	}
	img->fd = -1;
	img_close(img);
	return ret;
}

static uint32_t get_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static int img_verify(struct cr_img *img, uint32_t kind)
{
	size_t body;
	uint32_t crc;

	if (img->len < IMG_HDR_SIZE + IMG_TRAILER_SIZE) {
		pr_err("Image %s is truncated: %zu bytes, smaller than header and trailer\n",
		       img->name, img->len);
		return -1;
	}
	if (get_le32(img->buf) != IMG_MAGIC) {
		pr_err("Image %s: bad magic %#x, not a criu-lite image\n",
		       img->name, get_le32(img->buf));
		return -1;
	}
	if (get_le32(img->buf + 4) != IMG_FORMAT_VERSION) {
		pr_err("Image %s: format version %u, this criu-lite reads %u\n",
		       img->name, get_le32(img->buf + 4), IMG_FORMAT_VERSION);
		return -1;
	}
	if (kind && get_le32(img->buf + 8) != kind) {
		pr_err("Image %s: kind %#x where %#x was expected\n", img->name,
		       get_le32(img->buf + 8), kind);
		return -1;
	}
	body = img->len - IMG_TRAILER_SIZE;
	if (get_le32(img->buf + body) != IMG_TRAILER_MARK) {
		pr_err("Image %s is truncated or corrupted: no trailer at its end\n",
		       img->name);
		return -1;
	}
	crc = crc32(crc32(0, NULL, 0), img->buf, body);
	if (crc != get_le32(img->buf + body + 4)) {
		pr_err("Image %s is corrupted: checksum %#x, recorded %#x\n",
		       img->name, crc, get_le32(img->buf + body + 4));
		return -1;
	}
	img->kind = get_le32(img->buf + 8);
	img->pos = IMG_HDR_SIZE;
	img->len = body;
	return 0;
}

struct cr_img *img_open_buf(const char *name, const void *data, size_t len,
			    uint32_t kind)
{
	struct cr_img *img = img_alloc(name, kind);

	if (!img)
		return NULL;
	img->buf = malloc(len ? len : 1);
	if (!img->buf) {
		pr_err("Out of memory reading image %s\n", name);
		goto err;
	}
	if (len)	/* DATA may be NULL then */
		memcpy(img->buf, data, len);
	img->len = len;
	if (img_verify(img, kind))
		goto err;
	return img;
err:
	img_close(img);
	return NULL;
}

struct cr_img *img_open(int dirfd, const char *name, uint32_t kind)
{
	struct cr_img *img = NULL;
	unsigned char *data = NULL;
	struct stat st;
	size_t off = 0;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("Can't open image %s", name);
		return NULL;
	}
	if (fstat(fd, &st)) {
		pr_perror("Can't stat image %s", name);
		goto out;
	}
	data = malloc(st.st_size ? st.st_size : 1);
	if (!data) {
		pr_err("Out of memory reading image %s (%lld bytes)\n", name,
		       (long long)st.st_size);
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, data + off, st.st_size - off);

		if (n < 0) {
			pr_perror("Can't read image %s", name);
			goto out;
		}
		if (n == 0)
			break;
		off += n;
	}
	img = img_open_buf(name, data, off, kind);
out:
	free(data);
	close(fd);
	return img;
}

int img_read_msg(struct cr_img *img, const ProtobufCMessageDescriptor *desc,
		 ProtobufCMessage **out)
{
	uint32_t len;

	*out = NULL;
	if (img->pos == img->len)
		return 0;
	if (img->len - img->pos < 4) {
		pr_err("Image %s: record header cut at offset %zu\n", img->name,
		       img->pos);
		return -1;
	}
	len = get_le32(img->buf + img->pos);
	if (len > img->len - img->pos - 4) {
		pr_err("Image %s: record at offset %zu claims %u bytes, only %zu left\n",
		       img->name, img->pos, len, img->len - img->pos - 4);
		return -1;
	}
	*out = protobuf_c_message_unpack(desc, NULL, len,
					 img->buf + img->pos + 4);
	if (!*out) {
		pr_err("Image %s: record at offset %zu is not a valid %s\n",
		       img->name, img->pos, desc->name);
		return -1;
	}
	img->pos += 4 + len;
	return 1;
}

void img_close(struct cr_img *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	free(img->buf);
	free(img);
}

int img_exists(int dirfd, const char *name)
{
	return faccessat(dirfd, name, F_OK, 0) == 0;
}
