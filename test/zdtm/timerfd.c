// SPDX-License-Identifier: GPL-2.0-only
/*
 * timerfds. fd 20: CLOCK_MONOTONIC, every 10 ms, O_NONBLOCK, never read:
 * it has expired many times at dump. fd 21: CLOCK_MONOTONIC, one-shot,
 * relative, 60 s. fd 22: CLOCK_REALTIME, absolute, 1000 s from the start.
 * fd 23: CLOCK_BOOTTIME, never armed. After restore: the fd table is as
 * before; each keeps its clock and settime flags (fdinfo); fd 20 reads at
 * least the expirations counted before the dump and expires again within
 * 100 ms; fd 21 has at most 60 s and more than 30 s left (the time the
 * process was gone does not count); fd 22 still expires at its wall-clock
 * time (within a second); fd 23 is disarmed.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define MS	1000000ll
#define SEC	1000000000ll

static struct test_fds s0;

static long long ns(const struct timespec *ts)
{
	return ts->tv_sec * SEC + ts->tv_nsec;
}

static void timer_at(int clock, int flags, int want, int sflags,
		     long long value, long long interval)
{
	struct itimerspec its = {
		.it_value = { value / SEC, value % SEC },
		.it_interval = { interval / SEC, interval % SEC },
	};
	int fd = timerfd_create(clock, flags);

	if (fd < 0 || dup2(fd, want) != want)
		fail("timerfd at %d: %m", want);
	close(fd);
	if (value && timerfd_settime(want, sflags, &its, NULL))
		fail("timerfd_settime %d: %m", want);
}

/* fdinfo of FD without the lines that change as time goes by */
static void setup_of(int fd, char *out, size_t size)
{
	static const char *const keys[] = { "clockid:", "settime flags:",
					    "flags:", NULL };
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	status_lines(path, keys, out, size);
}

/* Expirations counted so far, without reading them (gettime counts). */
static uint64_t ticks_of(int fd)
{
	static const char *const keys[] = { "ticks:", NULL };
	struct itimerspec its;
	char path[64], line[64];
	unsigned long long t;

	if (timerfd_gettime(fd, &its))
		fail("timerfd_gettime %d: %m", fd);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	status_lines(path, keys, line, sizeof(line));
	if (sscanf(line, "ticks: %llu", &t) != 1)
		fail("fdinfo of %d: %s", fd, line);
	return t;
}

static long long left(int fd)
{
	struct itimerspec its;

	if (timerfd_gettime(fd, &its))
		fail("timerfd_gettime %d: %m", fd);
	return ns(&its.it_value);
}

static long long now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ns(&ts);
}

int main(int argc, char **argv)
{
	char setup[4][256], cur[256];
	struct pollfd p = { .fd = 20, .events = POLLIN };
	long long deadline = now(CLOCK_REALTIME) + 1000 * SEC, l;
	uint64_t before, got = 0;
	int i;

	test_init(argc, argv);
	timer_at(CLOCK_MONOTONIC, TFD_NONBLOCK, 20, 0, 10 * MS, 10 * MS);
	timer_at(CLOCK_MONOTONIC, 0, 21, 0, 60 * SEC, 0);
	timer_at(CLOCK_REALTIME, 0, 22, TFD_TIMER_ABSTIME, deadline, 0);
	timer_at(CLOCK_BOOTTIME, 0, 23, 0, 0, 0);
	usleep(100 * 1000);
	before = ticks_of(20);
	if (before < 5)
		fail("fd 20 expired only %" PRIu64 " times in 100 ms", before);
	for (i = 0; i < 4; i++)
		setup_of(20 + i, setup[i], sizeof(setup[i]));
	test_fds_snapshot(&s0);
	test_daemon();
	test_waitsig();

	test_fds_check(&s0);
	for (i = 0; i < 4; i++) {
		setup_of(20 + i, cur, sizeof(cur));
		if (strcmp(cur, setup[i]))
			fail("fd %d was\n%sand is\n%s", 20 + i, setup[i], cur);
	}
	if (read(20, &got, sizeof(got)) != sizeof(got) || got < before)
		fail("fd 20: read %" PRIu64 " expirations, %" PRIu64 " before the dump: %m",
		     got, before);
	if (poll(&p, 1, 100) != 1)
		fail("fd 20 does not expire again after restore");
	l = left(21);
	if (l > 60 * SEC || l <= 30 * SEC)
		fail("fd 21: %lld ms left of 60 s", l / MS);
	l = now(CLOCK_REALTIME) + left(22) - deadline;
	if (l > SEC || l < -SEC)
		fail("fd 22 expires %lld ms off its deadline", l / MS);
	if (left(23))
		fail("fd 23 is armed");
	pass();
}
