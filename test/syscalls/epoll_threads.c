/* epoll_threads: a thread blocked in epoll_wait (and one in poll, and one
 * in a pipe read) is woken by a write from another thread; several
 * waiters on one epoll each get the event of a level-triggered pipe. */
#define _GNU_SOURCE
// rampart:retries 2
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "check.h"

static int ep, p[2];

static void *epoll_waiter(void *arg)
{
	struct epoll_event ev;
	long n = epoll_wait(ep, &ev, 1, 10000);
	if (n == 1 && ev.data.u64 != 42)
		n = -2;
	return (void *)n;
}

static void *poll_waiter(void *arg)
{
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	long n = poll(&pf, 1, 10000);
	if (n == 1 && pf.revents != POLLIN)
		n = -2;
	return (void *)n;
}

static void *reader(void *arg)
{
	char c;
	return (void *)(long)read(p[0], &c, 1);
}

int main(void)
{
	REQUIRE("pipe", pipe(p) == 0);
	ep = epoll_create1(0);
	REQUIRE("epoll", ep >= 0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
	REQUIRE("add", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);

	pthread_t th[3];
	void *ret;
	CHECK_EQ("start epoll waiter", pthread_create(&th[0], NULL, epoll_waiter, NULL), 0);
	usleep(50000);
	CHECK_EQ("write", write(p[1], "a", 1), 1);
	pthread_join(th[0], &ret);
	CHECK_EQ("epoll waiter woken", (long)ret, 1);
	char c;
	read(p[0], &c, 1);

	/* Two epoll waiters and a poll waiter, one write: all see it
	 * (level-triggered, nobody reads). */
	CHECK_EQ("start waiter 1", pthread_create(&th[0], NULL, epoll_waiter, NULL), 0);
	CHECK_EQ("start waiter 2", pthread_create(&th[1], NULL, epoll_waiter, NULL), 0);
	CHECK_EQ("start poll waiter", pthread_create(&th[2], NULL, poll_waiter, NULL), 0);
	usleep(50000);
	CHECK_EQ("write 2", write(p[1], "b", 1), 1);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], &ret);
		CHECK_EQ("waiter saw it", (long)ret, 1);
	}
	read(p[0], &c, 1);

	/* A blocked pipe read is woken by a write from another thread. */
	CHECK_EQ("start reader", pthread_create(&th[0], NULL, reader, NULL), 0);
	usleep(50000);
	CHECK_EQ("write 3", write(p[1], "c", 1), 1);
	pthread_join(th[0], &ret);
	CHECK_EQ("reader got it", (long)ret, 1);

	/* A waiter is woken by the last writer closing (EPOLLHUP). */
	CHECK_EQ("start waiter 3", pthread_create(&th[0], NULL, epoll_waiter, NULL), 0);
	usleep(50000);
	close(p[1]);
	pthread_join(th[0], &ret);
	CHECK_EQ("woken by hangup", (long)ret, 1);
	return check_done();
}
