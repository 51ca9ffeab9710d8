/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CRLITE_LOG_H
#define CRLITE_LOG_H

#include <errno.h>

enum log_level {
	LOG_ERROR = 1,
	LOG_WARN = 2,
	LOG_INFO = 3,
	LOG_DEBUG = 4,
};

void log_set_level(int level);
int log_get_level(void);
/* Open (append) a log file; messages then go there as well as errors to stderr. */
int log_set_file(const char *path);
void log_close(void);
void log_msg(int level, int with_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define pr_err(fmt, ...)	log_msg(LOG_ERROR, 0, "Error: " fmt, ##__VA_ARGS__)
#define pr_perror(fmt, ...)	log_msg(LOG_ERROR, errno, "Error: " fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	log_msg(LOG_WARN, 0, "Warn: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)	log_msg(LOG_INFO, 0, fmt, ##__VA_ARGS__)
/* The one-line summary of a run: at -v, on stderr even with a log file. */
void log_summary(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define pr_summary(fmt, ...)	log_summary(fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	log_msg(LOG_DEBUG, 0, fmt, ##__VA_ARGS__)

#endif
