/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef CRIU_LITE_STAGE_H
#define CRIU_LITE_STAGE_H

/* stage.c: images staged in a directory of their own, moved in when complete */
struct image_stage {
	const char *dir;
	int dirfd;	/* the images directory */
	int fd;		/* the staging directory inside it */
	char name[64];
};

/* DIR/.criu-lite-WHO.PID, created 0700. */
int stage_open(struct image_stage *s, const char *dir, const char *who);
/* Calls FN on every file of the stage but inventory.img; -1 if one fails. */
int stage_for_each(struct image_stage *s,
		   int (*fn)(struct image_stage *s, const char *name));
/* Everything into the images directory, inventory.img last. */
int stage_commit(struct image_stage *s);
/* Remove the stage and all in it. */
void stage_abort(struct image_stage *s);

#endif
