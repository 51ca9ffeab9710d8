// SPDX-License-Identifier: GPL-2.0-only
/*
 * timerfd: the clock, the interval, the time left to the next expiry, the
 * settime flags (absolute or relative) and the expirations not read yet.
 *
 * A periodic timer that expired while nobody read it sits unarmed in the
 * kernel until the next read or timerfd_gettime(), which re-arms it for the
 * next period and counts the periods missed. Dump calls timerfd_gettime()
 * on its own copy of the description (what a read would do, minus taking
 * the count), then reads the count from fdinfo; a timer expiring in between
 * shows as a changed count, and dump reads again.
 *
 * Restore arms a new timer with the time that was left: a relative or
 * CLOCK_MONOTONIC/BOOTTIME deadline is as far from restore as it was from
 * dump (monotonic time is per boot and per host); an absolute
 * CLOCK_REALTIME deadline is the same wall-clock time. The count comes back
 * with TFD_IOC_SET_TICKS (CONFIG_CHECKPOINT_RESTORE).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "files.h"
#include "log.h"

/* <linux/timerfd.h>, which clashes with <fcntl.h> */
#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#endif

#define NSEC	1000000000ull
/* More expiries than this while dump reads: a timer too fast to catch. */
#define TIMERFD_TRIES	100

static struct fd_image timerfd_image = { .kind = IMG_TIMERFD };

static uint64_t ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * NSEC + ts->tv_nsec;
}

static struct timespec ns_ts(uint64_t ns)
{
	return (struct timespec){ ns / NSEC, ns % NSEC };
}

/* The time left and the count, taken with no expiry in between. */
static int timerfd_read(const struct fd_dump_ctx *c, int fd,
			struct itimerspec *its, struct proc_timerfd *pt)
{
	struct proc_timerfd again;
	int i;

	for (i = 0; i < TIMERFD_TRIES; i++) {
		if (timerfd_gettime(fd, its)) {
			pr_perror("PID %d: timerfd fd %d: timerfd_gettime",
				  c->t->pid, c->fd);
			return -1;
		}
		if (proc_fdinfo_timerfd(getpid(), fd, pt) ||
		    timerfd_gettime(fd, its) ||
		    proc_fdinfo_timerfd(getpid(), fd, &again)) {
			pr_err("PID %d: can't read timerfd fd %d\n", c->t->pid,
			       c->fd);
			return -1;
		}
		if (again.ticks == pt->ticks)
			return 0;
	}
	pr_err("PID %d: timerfd fd %d expires faster than dump can read it\n",
	       c->t->pid, c->fd);
	return -1;
}

static int timerfd_dump(const struct fd_dump_ctx *c)
{
	TimerfdEntry e = TIMERFD_ENTRY__INIT;
	struct proc_timerfd pt;
	struct itimerspec its;
	struct timespec now;
	int fd, ret;

	fd = fd_dump_take(c);
	if (fd < 0)
		return -1;
	ret = timerfd_read(c, fd, &its, &pt);
	close(fd);
	if (ret)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	e.id = c->id;
	e.flags = c->fi->flags & ~O_CLOEXEC;
	e.clockid = pt.clockid;
	e.settime_flags = pt.settime_flags;
	e.ticks = pt.ticks;
	e.value_ns = ts_ns(&its.it_value);
	e.interval_ns = ts_ns(&its.it_interval);
	e.realtime_ns = ts_ns(&now);
	pr_debug("PID %d: fd %d: timerfd clock %d flags %#o left %" PRIu64
		 " ns interval %" PRIu64 " ns ticks %" PRIu64 "\n", c->t->pid,
		 c->fd, e.clockid, e.settime_flags, e.value_ns, e.interval_ns,
		 e.ticks);
	return fd_image_write(&timerfd_image, &e.base);
}

static int realtime_clock(int clockid)
{
	return clockid == CLOCK_REALTIME || clockid == CLOCK_REALTIME_ALARM;
}

/* When the timer expires next, as timerfd_settime() takes it. */
static int timerfd_deadline(const TimerfdEntry *e, struct timespec *ts)
{
	struct timespec now;

	if (!e->value_ns || !(e->settime_flags & TFD_TIMER_ABSTIME)) {
		*ts = ns_ts(e->value_ns);
		return 0;
	}
	if (realtime_clock(e->clockid)) {
		*ts = ns_ts(e->realtime_ns + e->value_ns);
		return 0;
	}
	if (clock_gettime(e->clockid, &now))
		return -1;
	*ts = ns_ts(ts_ns(&now) + e->value_ns);
	return 0;
}

static int timerfd_arm(const struct rst_task *t, const FdinfoEntry *fe,
		       const TimerfdEntry *e, int fd)
{
	struct itimerspec its = { .it_interval = ns_ts(e->interval_ns) };
	uint64_t ticks = e->ticks;

	if (timerfd_deadline(e, &its.it_value) ||
	    timerfd_settime(fd, e->settime_flags, &its, NULL)) {
		pr_perror("PID %d: can't arm timerfd fd %u (clock %d, flags %#o)",
			  t->pid, fe->fd, e->clockid, e->settime_flags);
		return -1;
	}
	if (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks)) {
		pr_perror("PID %d: can't give timerfd fd %u back its %" PRIu64
			  " unread expirations (TFD_IOC_SET_TICKS needs CONFIG_CHECKPOINT_RESTORE)",
			  t->pid, fe->fd, ticks);
		return -1;
	}
	return 0;
}

int timerfd_probe_set_ticks(void)
{
	uint64_t ticks = 1;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), ret;

	if (fd < 0)
		return 0;
	ret = ioctl(fd, TFD_IOC_SET_TICKS, &ticks);
	close(fd);
	return ret == 0;
}

/* Unread expirations need TFD_IOC_SET_TICKS: refused before any task is made. */
static int timerfd_validate(const struct rst_task *t, const FdinfoEntry *fe)
{
	const TimerfdEntry *e = fd_image_find(&timerfd_image, fe->id);
	static int have = -1;

	if (!e->ticks)
		return 0;
	if (have < 0)
		have = timerfd_probe_set_ticks();
	if (!have)
		pr_err("PID %d: timerfd fd %u has %" PRIu64 " unread expirations, which this kernel can't give back (no TFD_IOC_SET_TICKS: CONFIG_CHECKPOINT_RESTORE)\n",
		       t->pid, fe->fd, e->ticks);
	return have ? 0 : -1;
}

static int timerfd_open(const struct rst_task *t, const FdinfoEntry *fe)
{
	const TimerfdEntry *e = fd_image_find(&timerfd_image, fe->id);
	int fd;

	fd = timerfd_create(e->clockid, TFD_CLOEXEC | (e->flags & O_NONBLOCK));
	if (fd < 0) {
		pr_perror("PID %d: can't create a timerfd on clock %d for fd %u",
			  t->pid, e->clockid, fe->fd);
		return -1;
	}
	if (timerfd_arm(t, fe, e, fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

const struct fd_kind timerfd_kind = {
	.type = FD_TYPE__FD_TIMERFD,
	.name = "timerfd",
	.image = &timerfd_image,
	.anon = "timerfd",
	.dump = timerfd_dump,
	.validate = timerfd_validate,
	.open = timerfd_open,
};
