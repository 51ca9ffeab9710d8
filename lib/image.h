/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_IMAGE_H
#define CRLITE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/*
 * Image file framing:
 *   header  { u32 magic "CRLI", u32 format version, u32 kind magic, u32 0 }
 *   records { u32 length, length bytes of a packed protobuf message } ...
 *   trailer { u32 IMG_TRAILER_MARK, u32 crc32 of every byte before it }
 * All integers little endian (the images are not portable across
 * architectures anyway: they hold registers and memory).
 */
#define IMG_MAGIC		0x494c5243u	/* "CRLI" */
#define IMG_FORMAT_VERSION	2u
#define IMG_TRAILER_MARK	0xffffffffu
#define IMG_HDR_SIZE		16u
#define IMG_TRAILER_SIZE	8u
#define IMG_MAX_RECORD		(64u << 20)

struct img_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t kind;
	uint32_t pad;
};

struct cr_img {
	int fd;
	int writing;
	int failed;
	uint32_t kind;
	uint32_t crc;
	char name[256];
	/* writing: a small buffer; reading: the whole verified file */
	unsigned char *buf;
	size_t len;
	size_t pos;
	size_t cap;
};

/* Write side: creates NAME in DIRFD with mode 0600, truncating. */
struct cr_img *img_create(int dirfd, const char *name, uint32_t kind);
int img_write_msg(struct cr_img *img, const ProtobufCMessage *msg);
/* Writes the trailer and closes; returns -1 if any write failed. */
int img_close_write(struct cr_img *img);

/*
 * Read side: reads the whole file and checks header, kind and checksum up
 * front, so a truncated or corrupted image is refused before anything uses
 * it. KIND 0 accepts any kind (for `show`).
 */
struct cr_img *img_open(int dirfd, const char *name, uint32_t kind);
struct cr_img *img_open_buf(const char *name, const void *data, size_t len,
			    uint32_t kind);
/* 1: a message in *out, 0: end of image, -1: malformed (logged). */
int img_read_msg(struct cr_img *img, const ProtobufCMessageDescriptor *desc,
		 ProtobufCMessage **out);
void img_close(struct cr_img *img);

/* Open a file that must exist, with a clear message naming it if not. */
int img_exists(int dirfd, const char *name);

#endif
