/* timerfd: relative and absolute one-shot timers, interval expirations
 * counted by read, timerfd_gettime, disarming, the old value returned by
 * settime, nonblocking EAGAIN, poll readiness, and argument errors. */
#define _GNU_SOURCE
// rampart:retries 2
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MS 1000000L

static int readable(int fd, int timeout)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	return poll(&pf, 1, timeout);
}

int main(void)
{
	uint64_t n = 0;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	REQUIRE("timerfd_create", fd >= 0);
	CHECK_EQ("cloexec", fcntl(fd, F_GETFD), FD_CLOEXEC);
	struct itimerspec its = {0}, old;
	CHECK_OK("gettime disarmed", timerfd_gettime(fd, &its));
	CHECK("disarmed is zero", its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0);
	CHECK_ERR("disarmed read EAGAIN", read(fd, &n, 8), EAGAIN);
	CHECK_EQ("disarmed not readable", readable(fd, 0), 0);

	/* Relative one-shot. */
	its.it_value.tv_nsec = 50 * MS;
	CHECK_OK("settime relative", timerfd_settime(fd, 0, &its, NULL));
	struct itimerspec cur;
	timerfd_gettime(fd, &cur);
	CHECK("gettime counts down", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 50 * MS);
	CHECK_ERR("not yet", read(fd, &n, 8), EAGAIN);
	CHECK_EQ("becomes readable", readable(fd, 2000), 1);
	CHECK_EQ("read", read(fd, &n, 8), 8);
	CHECK_EQ("one expiration", n, 1);
	CHECK_ERR("read again EAGAIN", read(fd, &n, 8), EAGAIN);
	timerfd_gettime(fd, &cur);
	CHECK("expired one-shot is zero", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	char small[4];
	CHECK_ERR("short read EINVAL", read(fd, small, 4), EINVAL);
	CHECK_ERR("null read EINVAL", read(fd, small, 0), EINVAL);

	/* Interval: expirations accumulate. */
	its.it_value.tv_nsec = 10 * MS;
	its.it_interval.tv_nsec = 10 * MS;
	CHECK_OK("settime interval", timerfd_settime(fd, 0, &its, NULL));
	usleep(105 * 1000);
	CHECK_EQ("read interval", read(fd, &n, 8), 8);
	CHECK("several expirations", n >= 9 && n <= 1000);
	timerfd_gettime(fd, &cur);
	CHECK_EQ("interval reported", cur.it_interval.tv_nsec, 10 * MS);
	CHECK("next within interval", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 10 * MS);

	/* settime returns the old setting and disarms with a zero value. */
	struct itimerspec zero = {0};
	CHECK_OK("disarm", timerfd_settime(fd, 0, &zero, &old));
	CHECK_EQ("old interval", old.it_interval.tv_nsec, 10 * MS);
	CHECK("old value", old.it_value.tv_sec == 0 && old.it_value.tv_nsec <= 10 * MS);
	CHECK_ERR("disarmed: nothing", read(fd, &n, 8), EAGAIN);

	/* Absolute time in the past expires at once; in the future, later. */
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	its.it_interval.tv_nsec = 0;
	its.it_value = now;
	its.it_value.tv_sec -= 1;
	CHECK_OK("absolute past", timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL));
	CHECK_EQ("past expired", read(fd, &n, 8), 8);
	CHECK_EQ("once", n, 1);
	its.it_value = now;
	its.it_value.tv_nsec += 80 * MS;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	CHECK_OK("absolute future", timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL));
	timerfd_gettime(fd, &cur);
	CHECK("gettime is relative", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 80 * MS);
	/* A blocking read waits for it. */
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	CHECK_EQ("blocking read", read(fd, &n, 8), 8);
	CHECK_EQ("blocking read count", n, 1);
	struct timespec after;
	clock_gettime(CLOCK_MONOTONIC, &after);
	CHECK("not before the time", after.tv_sec > its.it_value.tv_sec ||
					     (after.tv_sec == its.it_value.tv_sec && after.tv_nsec >= its.it_value.tv_nsec));
	fcntl(fd, F_SETFL, fl);

	/* epoll sees it. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 5};
	CHECK_OK("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 20 * MS;
	timerfd_settime(fd, 0, &its, NULL);
	CHECK_EQ("epoll_wait woken", epoll_wait(ep, &ev, 1, 2000), 1);
	CHECK_EQ("epoll data", ev.data.u64, 5);
	read(fd, &n, 8);
	CHECK_EQ("epoll quiet after read", epoll_wait(ep, &ev, 1, 0), 0);

	/* Realtime and boottime clocks work too; cancel-on-set is accepted. */
	int rt = timerfd_create(CLOCK_REALTIME, 0);
	CHECK("realtime", rt >= 0);
	clock_gettime(CLOCK_REALTIME, &now);
	its.it_value = now;
	its.it_value.tv_sec -= 5;
	CHECK_OK("realtime abs cancel-on-set", timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
	CHECK_EQ("realtime expired", read(rt, &n, 8), 8);
	close(rt);
	int bt = timerfd_create(CLOCK_BOOTTIME, 0);
	CHECK("boottime", bt >= 0);
	close(bt);

	/* Errors. */
	CHECK_ERR("bad clock", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
	CHECK_ERR("bad create flags", timerfd_create(CLOCK_MONOTONIC, 1), EINVAL);
	its.it_value.tv_nsec = 1000000000;
	CHECK_ERR("bad nsec", timerfd_settime(fd, 0, &its, NULL), EINVAL);
	its.it_value.tv_nsec = 0;
	CHECK_ERR("bad settime flags", timerfd_settime(fd, 4, &its, NULL), EINVAL);
	int p[2];
	pipe(p);
	CHECK_ERR("settime on a pipe", timerfd_settime(p[0], 0, &its, NULL), EINVAL);
	CHECK_ERR("gettime on a pipe", timerfd_gettime(p[0], &cur), EINVAL);
	CHECK_ERR("gettime EBADF", timerfd_gettime(999, &cur), EBADF);
	CHECK_ERR("settime EFAULT", timerfd_settime(fd, 0, (void *)8, NULL), EFAULT);
	return check_done();
}
