// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * One logging module for the library and the tool. Errors always reach
 * stderr; with a log file everything up to the current level goes there too,
 * so a failed run leaves a complete trace behind.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_level = LOG_WARN;
static int log_fd = -1;
static struct timespec log_start;

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_set_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

static void log_write(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void log_vmsg(int level, int with_errno, int to_stderr,
		     const char *fmt, va_list ap)
{
	char buf[2048];
	struct timespec now;
	int saved_errno = errno;
	size_t off;
	int n;

	if (level > log_level)
		return;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!log_start.tv_sec && !log_start.tv_nsec)
		log_start = now;

	n = snprintf(buf, sizeof(buf), "(%02ld.%06ld) ",
		     (long)(now.tv_sec - log_start.tv_sec) -
			     (now.tv_nsec < log_start.tv_nsec),
		     ((now.tv_nsec - log_start.tv_nsec + 1000000000L) %
		      1000000000L) / 1000);
	off = n;
	n = vsnprintf(buf + off, sizeof(buf) - off, fmt, ap);
	off += n;
	if (off >= sizeof(buf) - 64)
		off = sizeof(buf) - 64;
	if (with_errno) {
		/* strip a trailing newline so ": strerror" lands on the same line */
		if (off && buf[off - 1] == '\n')
			off--;
		off += snprintf(buf + off, sizeof(buf) - off, ": %s\n",
				strerror(with_errno));
	} else if (off && buf[off - 1] != '\n') {
		buf[off++] = '\n';
	}

	if (log_fd >= 0)
		log_write(log_fd, buf, off);
	/* stderr gets errors always, and everything else only without a file */
	if (level == LOG_ERROR || to_stderr || log_fd < 0) {
		char *msg = strchr(buf, ' ') + 1;

		log_write(STDERR_FILENO, msg, off - (msg - buf));
	}
	errno = saved_errno;
}

void log_msg(int level, int with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, with_errno, 0, fmt, ap);
	va_end(ap);
}

void log_summary(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, 0, 1, fmt, ap);
	va_end(ap);
}
