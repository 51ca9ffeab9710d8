// SPDX-License-Identifier: LGPL-2.1-or-later
#include <pthread.h>
#include <stdlib.h>

#include "async-writer.h"

struct async_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	aw_sink_fn sink;
	void *arg;
	void *buf[2];
	size_t len[2];		/* submitted and not yet written; 0: free */
	int fill;		/* the buffer the caller fills */
	int stop, failed;
};

static void *aw_thread(void *p)
{
	struct async_writer *aw = p;
	int b = 0, ret;

	pthread_mutex_lock(&aw->lock);
	for (;;) {
		while (!aw->len[b] && !aw->stop)
			pthread_cond_wait(&aw->cond, &aw->lock);
		if (!aw->len[b])
			break;
		pthread_mutex_unlock(&aw->lock);
		ret = aw->failed ? -1 : aw->sink(aw->arg, aw->buf[b], aw->len[b]);
		pthread_mutex_lock(&aw->lock);
		if (ret)
			aw->failed = 1;
		aw->len[b] = 0;
		b ^= 1;
		pthread_cond_broadcast(&aw->cond);
	}
	pthread_mutex_unlock(&aw->lock);
	return NULL;
}

struct async_writer *aw_start(size_t buf_size, aw_sink_fn sink, void *arg)
{
	struct async_writer *aw = calloc(1, sizeof(*aw));

	if (!aw)
		return NULL;
	aw->sink = sink;
	aw->arg = arg;
	aw->buf[0] = aligned_alloc(4096, buf_size);
	aw->buf[1] = aligned_alloc(4096, buf_size);
	if (!aw->buf[0] || !aw->buf[1])
		goto err;
	pthread_mutex_init(&aw->lock, NULL);
	pthread_cond_init(&aw->cond, NULL);
	if (pthread_create(&aw->thread, NULL, aw_thread, aw)) {
		pthread_cond_destroy(&aw->cond);
		pthread_mutex_destroy(&aw->lock);
		goto err;
	}
	return aw;
err:
	free(aw->buf[0]);
	free(aw->buf[1]);
	free(aw);
	return NULL;
}

void *aw_buffer(struct async_writer *aw)
{
	void *buf;

	pthread_mutex_lock(&aw->lock);
	while (aw->len[aw->fill] && !aw->failed)
		pthread_cond_wait(&aw->cond, &aw->lock);
	buf = aw->failed ? NULL : aw->buf[aw->fill];
	pthread_mutex_unlock(&aw->lock);
	return buf;
}

void aw_submit(struct async_writer *aw, size_t len)
{
	if (!len)
		return;
	pthread_mutex_lock(&aw->lock);
	aw->len[aw->fill] = len;
	aw->fill ^= 1;
	pthread_cond_broadcast(&aw->cond);
	pthread_mutex_unlock(&aw->lock);
}

int aw_finish(struct async_writer *aw)
{
	int failed;

	if (!aw)
		return 0;
	pthread_mutex_lock(&aw->lock);
	aw->stop = 1;
	pthread_cond_broadcast(&aw->cond);
	pthread_mutex_unlock(&aw->lock);
	pthread_join(aw->thread, NULL);
	failed = aw->failed;
	pthread_cond_destroy(&aw->cond);
	pthread_mutex_destroy(&aw->lock);
	free(aw->buf[0]);
	free(aw->buf[1]);
	free(aw);
	return failed ? -1 : 0;
}
