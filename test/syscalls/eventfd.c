/* eventfd: counter semantics (read takes all, write adds), semaphore mode,
 * EFD_NONBLOCK EAGAIN, the 2^64-2 ceiling, 8-byte buffers, flags, poll
 * and epoll readiness, and a blocked read woken by a write. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int rd(int fd, uint64_t *v) { return read(fd, v, 8); }
static int wr(int fd, uint64_t v) { return write(fd, &v, 8); }

static int revents(int fd, short ev)
{
	struct pollfd pf = {.fd = fd, .events = ev};
	return poll(&pf, 1, 0) < 0 ? -1 : pf.revents;
}

int main(void)
{
	uint64_t v = 0;
	int fd = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
	REQUIRE("eventfd", fd >= 0);
	CHECK_EQ("cloexec", fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_EQ("flags", fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
	CHECK_EQ("readable and writable", revents(fd, POLLIN | POLLOUT), POLLIN | POLLOUT);
	CHECK_EQ("read", rd(fd, &v), 8);
	CHECK_EQ("initial value", v, 5);
	CHECK_ERR("empty EAGAIN", rd(fd, &v), EAGAIN);
	CHECK_EQ("empty: writable only", revents(fd, POLLIN | POLLOUT), POLLOUT);
	CHECK_EQ("write 3", wr(fd, 3), 8);
	CHECK_EQ("write 4", wr(fd, 4), 8);
	CHECK_EQ("read sum", rd(fd, &v), 8);
	CHECK_EQ("sum", v, 7);

	/* Buffers: reads take at least 8 bytes (8 are used), writes exactly
	 * 8. */
	char small[4];
	CHECK_ERR("short read EINVAL", read(fd, small, 4), EINVAL);
	CHECK_ERR("null read EINVAL", read(fd, small, 0), EINVAL);
	CHECK_ERR("short write EINVAL", write(fd, small, 4), EINVAL);
	uint64_t big[2] = {9, 0};
	CHECK_ERR("long write EINVAL", write(fd, big, 16), EINVAL);
	CHECK_EQ("write 9", wr(fd, 9), 8);
	CHECK_EQ("long read", read(fd, big, 16), 8);
	CHECK_EQ("long read value", big[0], 9);
	CHECK_EQ("write 0 is fine", wr(fd, 0), 8);
	CHECK_ERR("still empty", rd(fd, &v), EAGAIN);

	/* The ceiling: 2^64-2; 2^64-1 is never a valid value. */
	CHECK_ERR("write UINT64_MAX", wr(fd, UINT64_MAX), EINVAL);
	CHECK_EQ("write max", wr(fd, UINT64_MAX - 1), 8);
	CHECK_EQ("full: readable only", revents(fd, POLLIN | POLLOUT), POLLIN);
	CHECK_ERR("overflow EAGAIN", wr(fd, 1), EAGAIN);
	CHECK_EQ("write 0 when full", wr(fd, 0), 8);
	CHECK_EQ("read max", rd(fd, &v), 8);
	CHECK("max value", v == UINT64_MAX - 1);

	/* Semaphore mode: each read takes one. */
	int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	REQUIRE("semaphore", s >= 0);
	CHECK_EQ("sem read 1", rd(s, &v), 8);
	CHECK_EQ("sem value 1", v, 1);
	CHECK_EQ("sem read 2", rd(s, &v), 8);
	CHECK_EQ("sem value 2", v, 1);
	CHECK_ERR("sem empty", rd(s, &v), EAGAIN);
	close(s);

	CHECK_ERR("bad flags", eventfd(0, 0x10), EINVAL);
	int old = syscall(SYS_eventfd, 1);
	CHECK("old eventfd", old >= 0);
	CHECK_EQ("old eventfd is blocking", fcntl(old, F_GETFL) & O_NONBLOCK, 0);
	close(old);

	/* epoll: edge-triggered wakeups on each write. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 7};
	CHECK_OK("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK_EQ("epoll quiet", epoll_wait(ep, &ev, 1, 0), 0);
	wr(fd, 1);
	CHECK_EQ("epoll event", epoll_wait(ep, &ev, 1, 0), 1);
	CHECK_EQ("epoll event mask", ev.events, EPOLLIN);
	CHECK_EQ("ET once", epoll_wait(ep, &ev, 1, 0), 0);
	wr(fd, 1);
	CHECK_EQ("ET again on write", epoll_wait(ep, &ev, 1, 0), 1);
	rd(fd, &v);

	/* A blocking read is woken by a child's write. */
	int b = eventfd(0, 0);
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		usleep(50000);
		wr(b, 11);
		_exit(0);
	}
	CHECK_EQ("blocking read", rd(b, &v), 8);
	CHECK_EQ("child's value", v, 11);
	waitpid(pid, NULL, 0);
	/* A blocked write is woken by a read. */
	CHECK_EQ("fill", wr(b, UINT64_MAX - 1), 8);
	pid = fork();
	REQUIRE("fork 2", pid >= 0);
	if (pid == 0) {
		usleep(50000);
		uint64_t x;
		rd(b, &x);
		_exit(0);
	}
	CHECK_EQ("blocking write", wr(b, 2), 8);
	waitpid(pid, NULL, 0);
	CHECK_EQ("read after", rd(b, &v), 8);
	CHECK_EQ("value after", v, 2);
	return check_done();
}
