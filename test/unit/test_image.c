// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib/image.c: the image codec. Round trips through real files, then every
 * way an image can be damaged: cut at every length, every bit flipped, wrong
 * kind, version or magic, and records that lie (with a checksum that is
 * right, so that the record checks are what must catch them).
 */
#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <criterion/criterion.h>

#include "image.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "pagemap.pb-c.h"
#include "unit.h"

#define KIND		0x50474d50u	/* what the tests write */
#define OTHER_KIND	0x45524f43u
#define NAME		"pagemap-7.img"
#define NR_ENTRIES	20

static char tmpdir[64];
static int dir_fd = -1;

static void dir_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/crlite-unit-XXXXXX");
	cr_assert(mkdtemp(tmpdir), "mkdtemp: %m");
	dir_fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert(dir_fd >= 0);
}

static void dir_teardown(void)
{
	char cmd[128];

	close(dir_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(image, .init = dir_setup, .fini = dir_teardown);

static const char *features[] = { "clone3_set_tid", "pidfd", "pagemap_scan" };

static void fill_inventory(InventoryEntry *inv, char *kernel)
{
	inventory_entry__init(inv);
	inv->format_version = 1;
	inv->root_pid = 4242;
	inv->kernel = kernel;
	inv->arch = "x86_64";
	inv->n_features = 3;
	inv->features = (char **)features;
	inv->dump_time_us = 1700000000123456ull;
	inv->page_size = 4096;
}

static uint64_t entry_vaddr(unsigned int i)
{
	return 0x7f0000000000ull + (uint64_t)i * 3 * 4096;
}

/* An inventory, then NR pagemap entries: entry I maps I + 1 pages. */
static void write_sample(const char *name, unsigned int nr, char *kernel)
{
	struct cr_img *img = img_create(dir_fd, name, KIND);
	InventoryEntry inv;
	unsigned int i;

	cr_assert(img);
	fill_inventory(&inv, kernel);
	cr_assert_eq(img_write_msg(img, &inv.base), 0);
	for (i = 0; i < nr; i++) {
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;

		pe.vaddr = entry_vaddr(i);
		pe.nr_pages = i + 1;
		cr_assert_eq(img_write_msg(img, &pe.base), 0);
	}
	cr_assert_eq(img_close_write(img), 0);
}

static void check_sample(struct cr_img *img, unsigned int nr, const char *kernel)
{
	ProtobufCMessage *msg;
	InventoryEntry *inv;
	unsigned int i;

	cr_assert_eq(img_read_msg(img, &inventory_entry__descriptor, &msg), 1);
	inv = (InventoryEntry *)msg;
	cr_expect_eq(inv->format_version, 1);
	cr_expect_eq(inv->root_pid, 4242);
	cr_expect_str_eq(inv->kernel, kernel);
	cr_expect_str_eq(inv->arch, "x86_64");
	cr_assert_eq(inv->n_features, 3);
	for (i = 0; i < 3; i++)
		cr_expect_str_eq(inv->features[i], features[i]);
	cr_expect_eq(inv->dump_time_us, 1700000000123456ull);
	cr_expect_eq(inv->page_size, 4096);
	protobuf_c_message_free_unpacked(msg, NULL);

	for (i = 0; i < nr; i++) {
		PagemapEntry *pe;

		cr_assert_eq(img_read_msg(img, &pagemap_entry__descriptor, &msg), 1,
			     "entry %u", i);
		pe = (PagemapEntry *)msg;
		cr_assert_eq(pe->vaddr, entry_vaddr(i), "entry %u", i);
		cr_assert_eq(pe->nr_pages, i + 1, "entry %u", i);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	/* then the end, and it stays the end */
	cr_assert_eq(img_read_msg(img, &pagemap_entry__descriptor, &msg), 0);
	cr_assert_null(msg);
	cr_assert_eq(img_read_msg(img, &pagemap_entry__descriptor, &msg), 0);
}

static unsigned char *slurp(const char *name, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);

	cr_assert(fd >= 0, "open %s: %m", name);
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc(st.st_size);
	cr_assert(buf);
	cr_assert_eq(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static uint32_t le32_at(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/*
 * An image built by hand: header with MAGIC, VERSION and KIND, then BODY,
 * then a trailer whose checksum is right.
 */
static unsigned char *build_image(uint32_t magic, uint32_t version, uint32_t kind,
				  const void *body, size_t body_len, size_t *len)
{
	unsigned char *buf;

	*len = IMG_HDR_SIZE + body_len + IMG_TRAILER_SIZE;
	buf = malloc(*len);
	cr_assert(buf);
	put_le32(buf, magic);
	put_le32(buf + 4, version);
	put_le32(buf + 8, kind);
	put_le32(buf + 12, 0);
	if (body_len)
		memcpy(buf + IMG_HDR_SIZE, body, body_len);
	put_le32(buf + IMG_HDR_SIZE + body_len, IMG_TRAILER_MARK);
	put_le32(buf + IMG_HDR_SIZE + body_len + 4,
		 crc32(crc32(0, NULL, 0), buf, IMG_HDR_SIZE + body_len));
	return buf;
}

/* Opens DATA[0..LEN) from an allocation of exactly LEN bytes, for ASan. */
static struct cr_img *open_exact(const unsigned char *data, size_t len,
				 uint32_t kind, char **log)
{
	unsigned char *copy = malloc(len ? len : 1);
	struct cr_img *img;
	struct capture c;

	cr_assert(copy);
	memcpy(copy, data, len);
	capture_start(&c);
	img = img_open_buf(NAME, copy, len, kind);
	*log = capture_end(&c);
	free(copy);
	return img;
}

/* -------------------------------------------------------------- writes */

Test(image, round_trip)
{
	struct cr_img *img;
	struct stat st;

	umask(0);
	write_sample(NAME, 1000, "6.8.0-crlite");
	cr_assert_eq(fstatat(dir_fd, NAME, &st, 0), 0);
	cr_expect_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	cr_expect(img_exists(dir_fd, NAME));
	cr_expect_not(img_exists(dir_fd, "nothing.img"));

	img = img_open(dir_fd, NAME, KIND);
	cr_assert(img);
	cr_expect_eq(img->kind, KIND);
	check_sample(img, 1000, "6.8.0-crlite");
	img_close(img);

	/* kind 0 takes any kind, and says which it was */
	img = img_open(dir_fd, NAME, 0);
	cr_assert(img);
	cr_expect_eq(img->kind, KIND);
	check_sample(img, 1000, "6.8.0-crlite");
	img_close(img);
}

/* The bytes on disk are what image.h documents. */
Test(image, layout)
{
	InventoryEntry inv;
	size_t len, off, packed;
	unsigned char *buf, *want;
	unsigned int i;

	write_sample(NAME, 3, "k");
	buf = slurp(NAME, &len);
	cr_assert_geq(len, IMG_HDR_SIZE + IMG_TRAILER_SIZE);
	cr_expect_eq(memcmp(buf, "CRLI", 4), 0);
	cr_expect_eq(le32_at(buf + 4), IMG_FORMAT_VERSION);
	cr_expect_eq(le32_at(buf + 8), KIND);
	cr_expect_eq(le32_at(buf + 12), 0);

	off = IMG_HDR_SIZE;
	fill_inventory(&inv, "k");
	packed = inventory_entry__get_packed_size(&inv);
	want = malloc(packed);
	cr_assert(want);
	inventory_entry__pack(&inv, want);
	cr_assert_eq(le32_at(buf + off), packed);
	cr_expect_eq(memcmp(buf + off + 4, want, packed), 0);
	free(want);
	off += 4 + packed;
	for (i = 0; i < 3; i++) {
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;
		unsigned char pbuf[32];

		pe.vaddr = entry_vaddr(i);
		pe.nr_pages = i + 1;
		packed = pagemap_entry__pack(&pe, pbuf);
		cr_assert_eq(le32_at(buf + off), packed, "record %u", i);
		cr_expect_eq(memcmp(buf + off + 4, pbuf, packed), 0);
		off += 4 + packed;
	}
	cr_assert_eq(len, off + IMG_TRAILER_SIZE);
	cr_expect_eq(le32_at(buf + off), IMG_TRAILER_MARK);
	cr_expect_eq(le32_at(buf + off + 4), crc32(crc32(0, NULL, 0), buf, off),
		     "checksum of everything before the trailer");
	free(buf);
}

Test(image, empty_image)
{
	struct cr_img *img = img_create(dir_fd, NAME, KIND);
	ProtobufCMessage *msg;
	unsigned char *buf;
	size_t len;

	cr_assert(img);
	cr_assert_eq(img_close_write(img), 0);
	buf = slurp(NAME, &len);
	cr_expect_eq(len, IMG_HDR_SIZE + IMG_TRAILER_SIZE);
	free(buf);
	img = img_open(dir_fd, NAME, KIND);
	cr_assert(img);
	cr_expect_eq(img_read_msg(img, &pagemap_entry__descriptor, &msg), 0);
	img_close(img);
}

/* Records far larger than the write buffer, and many of them. */
Test(image, big_records)
{
	size_t klen = 200000;
	char *kernel = malloc(klen + 1);
	struct cr_img *img;
	size_t i;

	cr_assert(kernel);
	for (i = 0; i < klen; i++)
		kernel[i] = 'a' + i % 26;
	kernel[klen] = 0;
	write_sample(NAME, 30000, kernel);
	img = img_open(dir_fd, NAME, KIND);
	cr_assert(img);
	check_sample(img, 30000, kernel);
	img_close(img);
	free(kernel);
}

/*
 * The writer buffers 64 KiB: make the trailer land on every position around
 * a buffer boundary, and check that the image still reads back.
 */
Test(image, trailer_at_buffer_boundaries)
{
	const size_t wbuf = 64 << 10, max = 2 * wbuf + 64;
	char *kernel = malloc(max + 1);
	size_t overhead;
	InventoryEntry inv;
	int delta;

	cr_assert(kernel);
	memset(kernel, 'k', max);
	kernel[max] = 0;
	/* what the record costs beyond the string, at this string length */
	fill_inventory(&inv, kernel + 64);
	overhead = inventory_entry__get_packed_size(&inv) - (max - 64);

	for (delta = -12; delta <= 12; delta++) {
		size_t target = 2 * wbuf + delta, len;
		size_t klen = target - IMG_HDR_SIZE - 4 - overhead;
		char *k = kernel + max - klen;
		struct cr_img *img;
		unsigned char *buf;

		fill_inventory(&inv, k);
		cr_assert_eq(IMG_HDR_SIZE + 4 + inventory_entry__get_packed_size(&inv),
			     target);
		img = img_create(dir_fd, NAME, KIND);
		cr_assert(img);
		cr_assert_eq(img_write_msg(img, &inv.base), 0);
		cr_assert_eq(img_close_write(img), 0);
		buf = slurp(NAME, &len);
		cr_assert_eq(len, target + IMG_TRAILER_SIZE, "delta %d", delta);
		cr_expect_eq(le32_at(buf + target), IMG_TRAILER_MARK, "delta %d", delta);
		free(buf);
		img = img_open(dir_fd, NAME, KIND);
		cr_assert(img, "delta %d", delta);
		check_sample(img, 0, k);
		img_close(img);
	}
	free(kernel);
}

Test(image, create_and_open_failures_name_the_file)
{
	struct capture c;
	char *log;

	capture_start(&c);
	cr_expect_null(img_open(dir_fd, "core-99.img", KIND));
	log = capture_end(&c);
	cr_assert_log_has(log, "core-99.img", "No such file");
	free(log);

	capture_start(&c);
	cr_expect_null(img_create(dir_fd, "no/such/dir/mm-5.img", KIND));
	log = capture_end(&c);
	cr_assert_log_has(log, "mm-5.img");
	free(log);
}

/* --------------------------------------------------------------- reads */

/*
 * Every prefix of a good image is refused by img_open_buf, from an exact
 * allocation (ASan sees any read past it), and by img_open from a file.
 */
Test(image, truncated_at_every_length)
{
	unsigned char *full;
	size_t len, l;
	int fd;

	write_sample(NAME, NR_ENTRIES, "6.1.0");
	full = slurp(NAME, &len);
	for (l = 0; l < len; l++) {
		struct cr_img *img;
		struct capture c;
		char *log;

		img = open_exact(full, l, KIND, &log);
		cr_assert_null(img, "image cut at %zu of %zu accepted", l, len);
		cr_assert_log_has(log, NAME);
		free(log);

		fd = openat(dir_fd, "cut.img", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		cr_assert(fd >= 0);
		cr_assert_eq(write(fd, full, l), (ssize_t)l);
		close(fd);
		capture_start(&c);
		img = img_open(dir_fd, "cut.img", KIND);
		log = capture_end(&c);
		cr_assert_null(img, "file cut at %zu of %zu accepted", l, len);
		cr_assert_log_has(log, "cut.img");
		free(log);
	}
	/* and the whole of it is fine */
	{
		char *log;
		struct cr_img *img = open_exact(full, len, KIND, &log);

		cr_assert(img, "%s", log);
		check_sample(img, NR_ENTRIES, "6.1.0");
		img_close(img);
		free(log);
	}
	free(full);
}

/* Nothing at all, as a caller with an empty buffer would pass it. */
Test(image, open_buf_null_empty)
{
	struct capture c;
	char *log;

	capture_start(&c);
	cr_expect_null(img_open_buf(NAME, NULL, 0, KIND));
	log = capture_end(&c);
	cr_assert_log_has(log, NAME, "truncated");
	free(log);
}

Test(image, every_bit_flipped)
{
	unsigned char *full;
	size_t len, bit;

	write_sample(NAME, NR_ENTRIES, "6.1.0");
	full = slurp(NAME, &len);
	for (bit = 0; bit < len * 8; bit++) {
		uint32_t kinds[] = { KIND, 0 };
		int k;

		full[bit / 8] ^= 1u << (bit % 8);
		for (k = 0; k < 2; k++) {
			struct cr_img *img;
			char *log;

			img = open_exact(full, len, kinds[k], &log);
			cr_assert_null(img, "bit %zu flipped (byte %zu), kind %#x: accepted",
				       bit, bit / 8, kinds[k]);
			cr_assert_log_has(log, NAME);
			free(log);
		}
		full[bit / 8] ^= 1u << (bit % 8);
	}
	free(full);
}

/* Flips in the body are caught by the checksum, and the message says so. */
Test(image, corruption_is_reported_as_checksum)
{
	unsigned char *full;
	struct cr_img *img;
	size_t len;
	char *log;

	write_sample(NAME, NR_ENTRIES, "6.1.0");
	full = slurp(NAME, &len);
	full[IMG_HDR_SIZE + 6] ^= 0x10;
	img = open_exact(full, len, KIND, &log);
	cr_assert_null(img);
	cr_assert_log_has(log, NAME, "checksum");
	free(log);
	full[IMG_HDR_SIZE + 6] ^= 0x10;
	full[len - 1] ^= 0x80;	/* the checksum itself */
	img = open_exact(full, len, KIND, &log);
	cr_assert_null(img);
	cr_assert_log_has(log, NAME, "checksum");
	free(log);
	free(full);
}

Test(image, wrong_kind)
{
	unsigned char *full;
	struct cr_img *img;
	size_t len;
	char *log;

	write_sample(NAME, NR_ENTRIES, "6.1.0");
	full = slurp(NAME, &len);
	img = open_exact(full, len, OTHER_KIND, &log);
	cr_assert_null(img);
	cr_assert_log_has(log, NAME, "kind 0x50474d50", "0x45524f43 was expected");
	free(log);

	img = open_exact(full, len, 0, &log);
	cr_assert(img, "kind 0 must take any kind: %s", log);
	cr_expect_eq(img->kind, KIND);
	img_close(img);
	free(log);
	free(full);
}

Test(image, wrong_version)
{
	uint32_t versions[] = { 0, IMG_FORMAT_VERSION + 1, 0x01000000 };
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		size_t len;
		unsigned char *buf = build_image(IMG_MAGIC, versions[i], KIND,
						 NULL, 0, &len);
		struct cr_img *img;
		char want[64], *log;

		img = open_exact(buf, len, KIND, &log);
		cr_assert_null(img, "version %u accepted", versions[i]);
		snprintf(want, sizeof(want), "format version %u", versions[i]);
		cr_assert_log_has(log, NAME, want);
		free(log);
		free(buf);
	}
	/* the same image with the right version is fine: the version failed */
	{
		size_t len;
		unsigned char *buf = build_image(IMG_MAGIC, IMG_FORMAT_VERSION,
						 KIND, NULL, 0, &len);
		struct cr_img *img;
		char *log;

		img = open_exact(buf, len, KIND, &log);
		cr_assert(img, "%s", log);
		img_close(img);
		free(log);
		free(buf);
	}
}

Test(image, bad_magic)
{
	uint32_t magics[] = { 0, 0x494c5244, 0x43524c49 /* byte-swapped */, ~IMG_MAGIC };
	size_t i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		size_t len;
		unsigned char *buf = build_image(magics[i], IMG_FORMAT_VERSION,
						 KIND, NULL, 0, &len);
		struct cr_img *img;
		char *log;

		img = open_exact(buf, len, 0, &log);
		cr_assert_null(img, "magic %#x accepted", magics[i]);
		cr_assert_log_has(log, NAME, "bad magic");
		free(log);
		free(buf);
	}
}

static void append_record(unsigned char **body, size_t *len, uint32_t rlen,
			  const void *data, size_t dlen)
{
	*body = realloc(*body, *len + 4 + dlen);
	cr_assert(*body);
	put_le32(*body + *len, rlen);
	if (dlen)
		memcpy(*body + *len + 4, data, dlen);
	*len += 4 + dlen;
}

static void append_entry(unsigned char **body, size_t *len, uint64_t vaddr,
			 uint32_t nr)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	unsigned char pbuf[32];
	size_t n;

	pe.vaddr = vaddr;
	pe.nr_pages = nr;
	n = pagemap_entry__pack(&pe, pbuf);
	append_record(body, len, n, pbuf, n);
}

/*
 * BODY wrapped with a good header and checksum opens; its first GOOD records
 * read back; the next read fails with a message holding WANT.
 */
static void check_bad_record(unsigned char *body, size_t body_len, int good,
			     const char *want)
{
	ProtobufCMessage *msg;
	struct cr_img *img;
	struct capture c;
	unsigned char *buf;
	size_t len;
	char *log;
	int i, ret;

	buf = build_image(IMG_MAGIC, IMG_FORMAT_VERSION, KIND, body, body_len, &len);
	img = open_exact(buf, len, KIND, &log);
	cr_assert(img, "the framing is right, open must work: %s", log);
	free(log);
	for (i = 0; i < good; i++) {
		cr_assert_eq(img_read_msg(img, &pagemap_entry__descriptor, &msg), 1);
		cr_expect_eq(((PagemapEntry *)msg)->vaddr, 0x1000u * (i + 1));
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	capture_start(&c);
	ret = img_read_msg(img, &pagemap_entry__descriptor, &msg);
	log = capture_end(&c);
	cr_assert_eq(ret, -1, "bad record read as good");
	cr_assert_null(msg);
	cr_assert_log_has(log, NAME, want);
	free(log);
	img_close(img);
	free(buf);
}

Test(image, record_past_the_end)
{
	static const uint32_t lens[] = { 11, 100, IMG_MAX_RECORD, 0x7fffffff,
					 0xfffffffc, 0xffffffff };
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned char *body = NULL;
		size_t len = 0;
		char want[64];

		append_entry(&body, &len, 0x1000, 1);
		append_entry(&body, &len, 0x2000, 2);
		append_record(&body, &len, lens[i], "0123456789", 10);
		snprintf(want, sizeof(want), "claims %u bytes, only 10 left", lens[i]);
		check_bad_record(body, len, 2, want);
		free(body);
	}
}

Test(image, record_header_cut)
{
	static const unsigned char stub[3] = { 1, 0, 0 };
	size_t cut;

	for (cut = 1; cut < 4; cut++) {
		unsigned char *body = NULL;
		size_t len = 0;

		append_entry(&body, &len, 0x1000, 1);
		body = realloc(body, len + cut);
		memcpy(body + len, stub, cut);
		check_bad_record(body, len + cut, 1, "record header cut");
		free(body);
	}
}

Test(image, record_not_protobuf)
{
	static const unsigned char garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	/* field 1 as a varint that never ends */
	static const unsigned char endless[] = { 0x08, 0x80, 0x80, 0x80 };
	/* only vaddr: nr_pages is required */
	static const unsigned char partial[] = { 0x08, 0x80, 0x20 };
	/* field 1 claims a length-delimited 100 bytes */
	static const unsigned char overlong[] = { 0x0a, 0x64, 0x00 };
	static const struct {
		const unsigned char *data;
		size_t len;
	} cases[] = {
		{ garbage, sizeof(garbage) },
		{ endless, sizeof(endless) },
		{ partial, sizeof(partial) },
		{ overlong, sizeof(overlong) },
		{ garbage, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char *body = NULL;
		size_t len = 0;

		append_entry(&body, &len, 0x1000, 1);
		append_record(&body, &len, cases[i].len, cases[i].data, cases[i].len);
		append_entry(&body, &len, 0x3000, 3);
		check_bad_record(body, len, 1, "is not a valid pagemap_entry");
		free(body);
	}
}

/* With a log file, the error is there too, naming the file. */
Test(image, error_in_log_file)
{
	char path[128], text[1024] = "";
	unsigned char *buf;
	struct capture c;
	size_t len;
	char *log;
	int fd;

	buf = build_image(IMG_MAGIC, 7, KIND, NULL, 0, &len);
	snprintf(path, sizeof(path), "%s/unit.log", tmpdir);
	cr_assert_eq(log_set_file(path), 0);
	capture_start(&c);
	cr_expect_null(img_open_buf("stats-dump.img", buf, len, KIND));
	log = capture_end(&c);
	log_close();
	cr_assert_log_has(log, "stats-dump.img");
	free(log);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert_gt(read(fd, text, sizeof(text) - 1), 0);
	close(fd);
	cr_assert_log_has(text, "stats-dump.img", "format version 7");
	free(buf);
}
