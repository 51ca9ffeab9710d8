// SPDX-License-Identifier: GPL-2.0-only
/*
 * show: decode images for people (text) and scripts (--json). One printer
 * walks any message by its protobuf descriptor, so new image kinds need no
 * code here.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images.h"
#include "log.h"

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void indent(int depth)
{
	printf("%*s", depth * 2, "");
}

static void print_msg(const ProtobufCMessage *m, int depth);

static void print_value(const ProtobufCFieldDescriptor *f, const void *p,
			int depth)
{
	uint64_t u;
	size_t i;

	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		printf("%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		printf("%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		printf("%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		u = *(const uint64_t *)p;
		/* addresses read better in hex; JSON keeps plain numbers */
		if (!opts.json && u >= 0x10000)
			printf("%#" PRIx64, u);
		else
			printf("%" PRIu64, u);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		printf("%s", *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
			f->descriptor, *(const int *)p);

		if (opts.json)
			json_str(ev ? ev->name : "?");
		else
			printf("%s", ev ? ev->name : "?");
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		if (opts.json)
			json_str(*(char *const *)p ? *(char *const *)p : "");
		else
			printf("\"%s\"", *(char *const *)p ? *(char *const *)p : "");
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		size_t n = opts.json ? b->len : (b->len < 16 ? b->len : 16);

		printf(opts.json ? "\"" : "%zu bytes: ", b->len);
		for (i = 0; i < n; i++)
			printf("%02x", b->data[i]);
		printf(opts.json ? "\"" : (n < b->len ? "..." : ""));
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		print_msg(*(ProtobufCMessage *const *)p, depth);
		break;
	default:
		printf("null");
	}
}

static size_t type_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

static int field_present(const ProtobufCMessage *m,
			 const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;

	if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
		if (f->type == PROTOBUF_C_TYPE_MESSAGE ||
		    f->type == PROTOBUF_C_TYPE_STRING)
			return *(void *const *)(base + f->offset) != NULL;
		return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
	}
	return 1;
}

static void print_msg(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	int first = 1;
	unsigned int i;
	size_t j;

	printf(opts.json ? "{" : "\n");
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = base + f->offset;

		if (!field_present(m, f))
			continue;
		if (opts.json) {
			printf("%s\"%s\": ", first ? "" : ", ", f->name);
		} else {
			indent(depth);
			printf("%s: ", f->name);
		}
		first = 0;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(char *const *)p;

			printf("[");
			for (j = 0; j < n; j++) {
				if (j)
					printf(", ");
				print_value(f, arr + j * type_size(f), depth + 1);
			}
			printf("]");
		} else {
			print_value(f, p, depth + 1);
		}
		if (!opts.json)
			printf("\n");
	}
	if (opts.json)
		printf("}");
	else if (depth)
		indent(depth - 1);
}

static const struct img_kind *kind_by_magic(uint32_t magic)
{
	size_t i;

	for (i = 0; i < IMG_NR_KINDS; i++)
		if (img_kinds[i].magic == magic)
			return &img_kinds[i];
	return NULL;
}

static int show_pages(int dirfd, const char *name, int *first)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, 0)) {
		pr_perror("Can't stat %s", name);
		return -1;
	}
	if (opts.json)
		printf("%s{\"file\": \"%s\", \"bytes\": %lld, \"pages\": %lld}",
		       *first ? "" : ",\n", name, (long long)st.st_size,
		       (long long)st.st_size / getpagesize());
	else
		printf("%s: raw page data, %lld bytes (%lld pages)\n", name,
		       (long long)st.st_size, (long long)st.st_size / getpagesize());
	*first = 0;
	return 0;
}

static int show_image(int dirfd, const char *name, int *first)
{
	const struct img_kind *k;
	ProtobufCMessage *msg;
	struct cr_img *img;
	int n = 0, ret;

	if (!strncmp(name, "pages-", 6))
		return show_pages(dirfd, name, first);
	img = img_open(dirfd, name, 0);
	if (!img)
		return -1;
	k = kind_by_magic(img->kind);
	if (!k) {
		pr_err("Image %s: unknown kind %#x\n", name, img->kind);
		img_close(img);
		return -1;
	}
	if (opts.json)
		printf("%s{\"file\": \"%s\", \"entries\": [", *first ? "" : ",\n",
		       name);
	else
		printf("%s:\n", name);
	*first = 0;
	for (;;) {
		const ProtobufCMessageDescriptor *d =
			(n == 0 && k->head) ? k->head : k->entry;

		ret = img_read_msg(img, d, &msg);
		if (ret <= 0)
			break;
		if (opts.json)
			printf("%s", n ? ", " : "");
		else
			printf("  %s", d->short_name);
		print_msg(msg, 2);
		protobuf_c_message_free_unpacked(msg, NULL);
		n++;
	}
	if (opts.json)
		printf("]}");
	img_close(img);
	return ret < 0 ? -1 : 0;
}

static int img_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int show_dir(const char *path)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int first = 1, ret = 0;
	DIR *d = opendir(path);

	if (!d) {
		pr_perror("Can't open %s", path);
		return 1;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 4, ".img"))
			continue;
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 32;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				goto oom;
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto oom;
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), img_name_cmp);
	if (opts.json)
		printf("{\"dir\": \"%s\", \"images\": [\n", path);
	for (i = 0; i < n; i++) {
		if (show_image(dirfd(d), names[i], &first))
			ret = 1;
		free(names[i]);
	}
	if (opts.json)
		printf("\n]}\n");
	free(names);
	closedir(d);
	if (!n) {
		pr_err("%s holds no images\n", path);
		ret = 1;
	}
	return ret;
oom:
	pr_err("Out of memory listing %s\n", path);
	while (n--)
		free(names[n]);
	free(names);
	closedir(d);
	return 1;
}

int cr_show(const char *path)
{
	struct stat st;
	int first = 1, ret;
	char *dup, *slash;

	if (stat(path, &st)) {
		pr_perror("Can't find %s", path);
		return 1;
	}
	if (S_ISDIR(st.st_mode))
		return show_dir(path);
	dup = strdup(path);
	slash = strrchr(dup, '/');
	if (slash) {
		int dfd;

		*slash = 0;
		dfd = open(*dup ? dup : "/", O_DIRECTORY | O_RDONLY);
		ret = dfd < 0 ? -1 : show_image(dfd, slash + 1, &first);
		if (dfd >= 0)
			close(dfd);
	} else {
		ret = show_image(AT_FDCWD, path, &first);
	}
	if (opts.json)
		printf("\n");
	free(dup);
	return ret ? 1 : 0;
}
