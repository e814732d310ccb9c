/* epoll_basic: epoll on pipes: level- vs edge-triggered reporting,
 * EPOLLONESHOT re-armed with EPOLL_CTL_MOD, DEL, EEXIST/ENOENT/EPERM/
 * EINVAL/ELOOP/EBADF, hangup and error events, a registration dropped when
 * its file is closed, nested epoll, and 1000 registered pipes with one
 * ready. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

static int add(int ep, int fd, unsigned ev, unsigned long long data)
{
	struct epoll_event e = {.events = ev, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int mod(int ep, int fd, unsigned ev, unsigned long long data)
{
	struct epoll_event e = {.events = ev, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

/* wait1 returns the number of events and the first one's data/events. */
static int wait1(int ep, int timeout, unsigned long long *data, unsigned *events)
{
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, timeout);
	if (n > 0) {
		if (data)
			*data = ev[0].data.u64;
		if (events)
			*events = ev[0].events;
	}
	return n;
}

int main(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	REQUIRE("epoll_create1", ep >= 0);
	CHECK_EQ("cloexec", fcntl(ep, F_GETFD), FD_CLOEXEC);
	CHECK_ERR("epoll_create1 bad flags", epoll_create1(1), EINVAL);
	CHECK_ERR("epoll_create 0", epoll_create(0), EINVAL);
	int ep0 = epoll_create(1);
	CHECK("epoll_create 1", ep0 >= 0);
	close(ep0);

	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	unsigned long long data = 0;
	unsigned events = 0;

	/* Level-triggered: reported until drained. */
	CHECK_OK("add LT", add(ep, p[0], EPOLLIN, 11));
	CHECK_ERR("add twice EEXIST", add(ep, p[0], EPOLLIN, 11), EEXIST);
	CHECK_EQ("nothing yet", wait1(ep, 0, NULL, NULL), 0);
	write(p[1], "ab", 2);
	CHECK_EQ("LT ready", wait1(ep, 0, &data, &events), 1);
	CHECK_EQ("LT data", data, 11);
	CHECK_EQ("LT events", events, EPOLLIN);
	CHECK_EQ("LT ready again", wait1(ep, 0, NULL, NULL), 1);
	char buf[8];
	read(p[0], buf, 1);
	CHECK_EQ("LT still ready with data left", wait1(ep, 0, NULL, NULL), 1);
	read(p[0], buf, 1);
	CHECK_EQ("LT not ready once drained", wait1(ep, 0, NULL, NULL), 0);

	/* Edge-triggered: once per change. */
	CHECK_OK("mod ET", mod(ep, p[0], EPOLLIN | EPOLLET, 12));
	write(p[1], "a", 1);
	CHECK_EQ("ET ready", wait1(ep, 0, &data, NULL), 1);
	CHECK_EQ("ET data", data, 12);
	CHECK_EQ("ET not again", wait1(ep, 0, NULL, NULL), 0);
	write(p[1], "b", 1);
	CHECK_EQ("ET new edge", wait1(ep, 0, NULL, NULL), 1);
	CHECK_EQ("ET quiet", wait1(ep, 0, NULL, NULL), 0);
	read(p[0], buf, 2);

	/* One-shot: disabled after one report until MOD. */
	CHECK_OK("mod ONESHOT", mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 13));
	write(p[1], "a", 1);
	CHECK_EQ("ONESHOT fires", wait1(ep, 0, &data, NULL), 1);
	CHECK_EQ("ONESHOT data", data, 13);
	CHECK_EQ("ONESHOT disabled", wait1(ep, 0, NULL, NULL), 0);
	write(p[1], "b", 1);
	CHECK_EQ("ONESHOT still disabled", wait1(ep, 0, NULL, NULL), 0);
	CHECK_OK("re-arm", mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 14));
	CHECK_EQ("re-armed fires", wait1(ep, 0, &data, NULL), 1);
	CHECK_EQ("re-armed data", data, 14);
	read(p[0], buf, 2);

	/* DEL and its errors. */
	CHECK_OK("del", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	CHECK_ERR("del again ENOENT", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);
	CHECK_ERR("mod missing ENOENT", mod(ep, p[0], EPOLLIN, 0), ENOENT);
	write(p[1], "a", 1);
	CHECK_EQ("deleted: no events", wait1(ep, 0, NULL, NULL), 0);
	read(p[0], buf, 1);

	/* Errors of epoll_ctl. */
	int f = open("/proc/self/exe", O_RDONLY);
	if (f < 0)
		f = open("/bin/sh", O_RDONLY);
	CHECK_ERR("regular file EPERM", add(ep, f, EPOLLIN, 0), EPERM);
	close(f);
	int dn = open("/dev/null", O_RDONLY);
	CHECK_ERR("/dev/null EPERM", add(ep, dn, EPOLLIN, 0), EPERM);
	close(dn);
	CHECK_ERR("epoll in itself EINVAL", add(ep, ep, EPOLLIN, 0), EINVAL);
	CHECK_ERR("not an epoll EINVAL", add(p[0], p[1], EPOLLIN, 0), EINVAL);
	CHECK_ERR("bad op EINVAL", epoll_ctl(ep, 99, p[0], &(struct epoll_event){0}), EINVAL);
	CHECK_ERR("bad epfd EBADF", add(-1, p[0], EPOLLIN, 0), EBADF);
	CHECK_ERR("bad fd EBADF", add(ep, 999, EPOLLIN, 0), EBADF);
	CHECK_ERR("EFAULT event", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], (void *)8), EFAULT);
	CHECK_ERR("exclusive with MOD", add(ep, p[0], EPOLLIN, 0) == 0 ? mod(ep, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0) : 0, EINVAL);
	epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
	CHECK_ERR("exclusive with ONESHOT", add(ep, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0), EINVAL);
	CHECK_OK("exclusive add", add(ep, p[0], EPOLLIN | EPOLLEXCLUSIVE, 15));
	CHECK_ERR("mod of exclusive", mod(ep, p[0], EPOLLIN, 0), EINVAL);
	epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
	struct epoll_event evs[4];
	CHECK_ERR("wait maxevents 0", epoll_wait(ep, evs, 0, 0), EINVAL);
	CHECK_ERR("wait not epoll", epoll_wait(p[0], evs, 4, 0), EINVAL);
	CHECK_ERR("wait EBADF", epoll_wait(999, evs, 4, 0), EBADF);

	/* Hangup and error are reported unasked. */
	int q[2];
	REQUIRE("pipe q", pipe(q) == 0);
	CHECK_OK("add read end, no events", add(ep, q[0], 0, 21));
	CHECK_OK("add write end for IN only", add(ep, q[1], EPOLLIN, 22));
	CHECK_EQ("quiet", wait1(ep, 0, NULL, NULL), 0);
	int q1 = dup(q[1]);
	close(q[1]);
	CHECK_EQ("dup keeps the write end open", wait1(ep, 0, NULL, NULL), 0);
	close(q1);
	CHECK_EQ("hangup", wait1(ep, 0, &data, &events), 1);
	CHECK_EQ("hangup data", data, 21);
	CHECK_EQ("hangup events", events, EPOLLHUP);
	CHECK_ERR("closed write end's registration is gone", epoll_ctl(ep, EPOLL_CTL_DEL, q[1], NULL), EBADF);
	close(q[0]);
	CHECK_EQ("closed read end reports nothing", wait1(ep, 0, NULL, NULL), 0);
	REQUIRE("pipe q again", pipe(q) == 0);
	CHECK_OK("add write end", add(ep, q[1], EPOLLOUT, 23));
	CHECK_EQ("writable", wait1(ep, 0, NULL, &events), 1);
	CHECK_EQ("writable events", events, EPOLLOUT);
	close(q[0]);
	CHECK_EQ("error", wait1(ep, 0, NULL, &events), 1);
	CHECK_EQ("error events", events, EPOLLOUT | EPOLLERR);
	close(q[1]);
	CHECK_EQ("nothing left", wait1(ep, 0, NULL, NULL), 0);

	/* Nested epoll: the inner one is readable while it has events. */
	int inner = epoll_create1(0);
	REQUIRE("inner", inner >= 0);
	CHECK_OK("pipe in inner", add(inner, p[0], EPOLLIN, 31));
	CHECK_OK("inner in outer", add(ep, inner, EPOLLIN, 32));
	CHECK_ERR("outer in inner ELOOP", add(inner, ep, EPOLLIN, 0), ELOOP);
	CHECK_EQ("nested quiet", wait1(ep, 0, NULL, NULL), 0);
	struct pollfd pf = {.fd = inner, .events = POLLIN};
	CHECK_EQ("poll inner quiet", poll(&pf, 1, 0), 0);
	write(p[1], "n", 1);
	CHECK_EQ("outer sees inner", wait1(ep, 0, &data, &events), 1);
	CHECK_EQ("outer data", data, 32);
	CHECK_EQ("outer events", events, EPOLLIN);
	CHECK_EQ("poll inner ready", poll(&pf, 1, 0), 1);
	CHECK_EQ("inner event", wait1(inner, 0, &data, NULL), 1);
	CHECK_EQ("inner data", data, 31);
	read(p[0], buf, 1);
	CHECK_EQ("poll inner quiet after drain", poll(&pf, 1, 0), 0);
	CHECK_EQ("outer quiet after drain", wait1(ep, 0, NULL, NULL), 0);
	close(inner);
	CHECK_EQ("outer quiet after inner closed", wait1(ep, 0, NULL, NULL), 0);

	/* A short timeout expires. */
	CHECK_EQ("timeout", wait1(ep, 30, NULL, NULL), 0);
	struct timespec ts = {0, 20000000};
	CHECK_EQ("pwait2 timeout", syscall(SYS_epoll_pwait2, ep, evs, 4, &ts, NULL, 8), 0);
	ts.tv_nsec = -1;
	CHECK_ERR("pwait2 bad timespec", syscall(SYS_epoll_pwait2, ep, evs, 4, &ts, NULL, 8), EINVAL);
	sigset_t set;
	sigemptyset(&set);
	CHECK_ERR("pwait bad sigsetsize", syscall(SYS_epoll_pwait, ep, evs, 4, 0, &set, 4), EINVAL);
	CHECK_EQ("pwait", epoll_pwait(ep, evs, 4, 0, &set), 0);

	/* 1000 descriptors registered (both ends of 500 pipes, so the test
	 * stays under the default RLIMIT_NOFILE of 1024), one ready. */
	int big = epoll_create1(0);
	static int fds[500][2];
	int ok = 1;
	for (int i = 0; i < 500; i++) {
		if (pipe(fds[i]) != 0 || add(big, fds[i][0], EPOLLIN, 1000 + i) != 0 ||
		    add(big, fds[i][1], EPOLLIN, 2000 + i) != 0) {
			ok = 0;
			break;
		}
	}
	REQUIRE("1000 descriptors registered", ok);
	CHECK_EQ("1000 quiet", wait1(big, 0, NULL, NULL), 0);
	write(fds[317][1], "!", 1);
	CHECK_EQ("one of 1000 ready", wait1(big, 0, &data, NULL), 1);
	CHECK_EQ("the right one", data, 1317);
	for (int i = 0; i < 500; i++)
		write(fds[i][1], "!", 1);
	struct epoll_event many[1000];
	CHECK_EQ("all 500 read ends ready", epoll_wait(big, many, 1000, 0), 500);
	CHECK_EQ("maxevents bounds", epoll_wait(big, many, 10, 0), 10);
	for (int i = 0; i < 500; i++)
		close(fds[i][1]);
	CHECK_EQ("writers gone: read ends still ready", epoll_wait(big, many, 1000, 0), 500);
	CHECK_EQ("with hangup", many[0].events, EPOLLIN | EPOLLHUP);
	for (int i = 0; i < 500; i++)
		close(fds[i][0]);
	CHECK_EQ("all closed: nothing", epoll_wait(big, many, 1000, 0), 0);
	return check_done();
}
