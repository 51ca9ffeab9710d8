// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumping pages with one copy instead of two. process_vm_readv() copies the
 * task's pages into our buffer and write() copies them again into the image.
 * Here the frozen task itself vmsplice()s its pages into a pipe (an injected
 * syscall: the pipe takes references to the pages, it copies nothing) and we
 * splice() the pipe into the image, the only copy, charged to us as the
 * write would have been. A ring of pipes goes round: the task fills the
 * next free ones while a thread of ours drains the full ones, in order,
 * into the image.
 *
 * Only for a frozen task whose pages go to a local image: a pre-dump reads
 * a running task, and a page server takes a stream. Anything that fails in
 * setting it up leaves the dump to the copying path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "stream.h"
#include "task.h"

static int task_pipe(struct pages_splice *ps, int b)
{
	struct dump_task *t = ps->t;
	int tfds[2];
	long ret;

	if (rcall(&t->remote, &ret, SYS_pipe2, t->remote.scratch, O_CLOEXEC))
		return -1;
	if (ret) {
		errno = -ret;
		pr_debug("PID %d: pipe2() in the task: %m\n", t->pid);
		return 1;
	}
	if (remote_read(t->pid, t->remote.scratch, tfds, sizeof(tfds)))
		return -1;
	ps->task_w[b] = tfds[1];
	/* its read end is ours alone; its write end, the task's and ours */
	ps->rd[b] = remote_take_fd(&t->remote, t->ref.pidfd, tfds[0]);
	if (ps->rd[b] == -2)
		return -1;
	ps->wr[b] = syscall(SYS_pidfd_getfd, t->ref.pidfd, tfds[1], 0);
	if (ps->rd[b] < 0 || ps->wr[b] < 0) {
		pr_debug("PID %d: pidfd_getfd of its pipe: %m\n", t->pid);
		return 1;
	}
	/* above pipe-max-size needs CAP_SYS_RESOURCE: take what there is */
	ret = fcntl(ps->rd[b], F_SETPIPE_SZ, PAGES_SPLICE_MAX);
	if (ret < 0)
		ret = fcntl(ps->rd[b], F_GETPIPE_SZ);
	if (ret < (long)PAGES_SPLICE_MIN) {
		pr_debug("PID %d: pipes of %ld bytes: too many injected calls\n",
			 t->pid, ret);
		return 1;
	}
	if (!ps->cap || (size_t)ret < ps->cap)
		ps->cap = ret;
	return 0;
}

static int pages_splice_out(struct pages_splice *ps, int b, int fd,
			    size_t len)
{
	while (len) {
		ssize_t n = splice(ps->rd[b], NULL, fd, NULL, len, SPLICE_F_MOVE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_perror("PID %d: can't splice %zu bytes into the pages image",
				  ps->t->pid, len);
			return -1;
		}
		len -= n;
	}
	return 0;
}

/* The thread: each full pipe, in turn, into the image. */
static void *splice_thread(void *arg)
{
	struct pages_splice *ps = arg;
	size_t len;
	int b, ret;

	pthread_mutex_lock(&ps->lock);
	for (;;) {
		while (ps->done == ps->queued && !ps->stop)
			pthread_cond_wait(&ps->cond, &ps->lock);
		if (ps->done == ps->queued)
			break;
		b = ps->done % PAGES_SPLICE_PIPES;
		len = ps->len[b];
		pthread_mutex_unlock(&ps->lock);
		ret = pages_splice_out(ps, b, ps->out_fd, len);
		pthread_mutex_lock(&ps->lock);
		if (ret) {
			ps->failed = 1;
			pthread_cond_broadcast(&ps->cond);
			break;
		}
		ps->done++;
		ps->bytes_done += len;
		pthread_cond_broadcast(&ps->cond);
	}
	pthread_mutex_unlock(&ps->lock);
	return NULL;
}

int pages_splice_start(struct pages_splice *ps, struct dump_task *t,
		       int out_fd)
{
	int b, ret;

	*ps = (struct pages_splice){ .t = t, .out_fd = out_fd };
	for (b = 0; b < PAGES_SPLICE_PIPES; b++)
		ps->rd[b] = ps->wr[b] = ps->task_w[b] = -1;
	if (t->pm_snap || !t->n_tids)
		return 1;
	if (task_remote_begin(t, t->tids[0], &ps->blocked))
		return -1;
	ps->started = 1;
	if (scratch_map(t))
		goto err;
	for (b = 0; b < PAGES_SPLICE_PIPES; b++) {
		ret = task_pipe(ps, b);
		if (ret < 0)
			goto err;
		if (ret)
			return pages_splice_stop(ps) ? -1 : 1;
	}
	pthread_mutex_init(&ps->lock, NULL);
	pthread_cond_init(&ps->cond, NULL);
	if (pthread_create(&ps->thread, NULL, splice_thread, ps)) {
		pr_err("Can't start the thread that writes PID %d's pages\n",
		       t->pid);
		goto err_cond;
	}
	ps->thread_on = 1;
	pr_debug("PID %d: pages go by vmsplice in the task, %zu bytes at a time\n",
		 t->pid, ps->cap);
	return 0;
err_cond:
	pthread_cond_destroy(&ps->cond);
	pthread_mutex_destroy(&ps->lock);
err:
	pages_splice_stop(ps);
	return -1;
}

int pages_splice_next(struct pages_splice *ps)
{
	int b;

	pthread_mutex_lock(&ps->lock);
	while (ps->queued - ps->done >= PAGES_SPLICE_PIPES && !ps->failed)
		pthread_cond_wait(&ps->cond, &ps->lock);
	b = ps->failed ? -1 : (int)(ps->queued % PAGES_SPLICE_PIPES);
	pthread_mutex_unlock(&ps->lock);
	return b;
}

void pages_splice_submit(struct pages_splice *ps, int b, size_t len)
{
	pthread_mutex_lock(&ps->lock);
	ps->len[b] = len;
	ps->queued++;
	pthread_cond_broadcast(&ps->cond);
	pthread_mutex_unlock(&ps->lock);
}

uint64_t pages_splice_done(struct pages_splice *ps)
{
	uint64_t n;

	pthread_mutex_lock(&ps->lock);
	n = ps->bytes_done;
	pthread_mutex_unlock(&ps->lock);
	return n;
}

int pages_splice_finish(struct pages_splice *ps)
{
	int failed;

	if (!ps->thread_on)
		return 0;
	pthread_mutex_lock(&ps->lock);
	ps->stop = 1;
	pthread_cond_broadcast(&ps->cond);
	pthread_mutex_unlock(&ps->lock);
	pthread_join(ps->thread, NULL);
	failed = ps->failed;
	pthread_cond_destroy(&ps->cond);
	pthread_mutex_destroy(&ps->lock);
	ps->thread_on = 0;
	return failed ? -1 : 0;
}

/*
 * vmsplice N iovecs of the task (as many as the scratch area holds) into
 * pipe B.
 * Returns the bytes spliced, which stop short at the first page the kernel
 * would not take (a PROT_NONE VMA, say), or -1.
 */
static ssize_t splice_some(struct pages_splice *ps, int b,
			   const struct iovec *iov, int n)
{
	struct remote *r = &ps->t->remote;
	long ret;

	if (!scratch_put(r, 0, iov, n * sizeof(*iov)) ||
	    rcall(r, &ret, SYS_vmsplice, ps->task_w[b], r->scratch, n, 0))
		return -1;
	/* nothing taken at all: the copying path reads it instead */
	if (ret == -EFAULT || ret == -ENOMEM)
		return 0;
	if (ret < 0) {
		errno = -ret;
		pr_perror("PID %d: vmsplice() of its pages", ps->t->pid);
		return -1;
	}
	return ret;
}

ssize_t pages_splice_task(struct pages_splice *ps, int b,
			  const struct iovec *iov, int n)
{
	int max = ps->t->remote.scratch_len / sizeof(*iov), i, k;
	size_t total = 0, want;
	ssize_t got;

	for (i = 0; i < n; i += k) {
		k = n - i < max ? n - i : max;
		want = 0;
		for (int j = i; j < i + k; j++)
			want += iov[j].iov_len;
		got = splice_some(ps, b, iov + i, k);
		if (got < 0)
			return -1;
		total += got;
		if ((size_t)got < want)
			break;
	}
	return total;
}

int pages_splice_ours(struct pages_splice *ps, int b, const void *buf,
		      size_t len)
{
	if (!stream_write_full(ps->wr[b], buf, len))
		return 0;
	pr_perror("PID %d: can't write %zu bytes to the pipe", ps->t->pid, len);
	return -1;
}

int pages_splice_stop(struct pages_splice *ps)
{
	struct dump_task *t = ps->t;
	int b, ret = pages_splice_finish(ps);
	long r;

	for (b = 0; b < PAGES_SPLICE_PIPES; b++) {
		if (ps->rd[b] >= 0)
			close(ps->rd[b]);
		if (ps->wr[b] >= 0)
			close(ps->wr[b]);
		if (ps->task_w[b] >= 0 &&
		    (rcall(&t->remote, &r, SYS_close, ps->task_w[b]) || r)) {
			pr_err("PID %d: can't close its fd %ld again\n", t->pid,
			       ps->task_w[b]);
			ret = -1;
		}
		ps->rd[b] = ps->wr[b] = ps->task_w[b] = -1;
	}
	if (ps->started && task_remote_end(t, t->tids[0], ps->blocked))
		ret = -1;
	ps->started = 0;
	return ret;
}
