// tcp_backlog: a non-blocking TCP connect that finds the listener's accept
// queue full (backlog+1 connections waiting) is EINPROGRESS and not writable
// (Linux drops its SYN) until accept makes room, then completes; a waiting
// connect whose listener closes fails with ECONNREFUSED.
#include "check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static struct sockaddr_in addr;

static int listener(int backlog)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	bind(l, (struct sockaddr *)&addr, sizeof(addr));
	listen(l, backlog);
	getsockname(l, (struct sockaddr *)&addr, &len);
	return l;
}

static int nb_connect(int *err)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	*err = connect(c, (struct sockaddr *)&addr, sizeof(addr)) ? errno : 0;
	return c;
}

static int revents(int fd, int events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

static int so_error(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &l);
	return v;
}

int main(void)
{
	int l = listener(1), err;
	int c1 = nb_connect(&err);
	CHECK_EQ("first EINPROGRESS", err, EINPROGRESS);
	int c2 = nb_connect(&err);
	CHECK_EQ("second EINPROGRESS", err, EINPROGRESS);
	CHECK("first writable", revents(c1, POLLOUT, 2000) & POLLOUT);
	CHECK("second writable", revents(c2, POLLOUT, 2000) & POLLOUT);
	int c3 = nb_connect(&err);
	CHECK_EQ("third EINPROGRESS", err, EINPROGRESS);
	CHECK_EQ("third waits", revents(c3, POLLOUT, 300), 0);
	CHECK_ERR("connect again: EALREADY", connect(c3, (struct sockaddr *)&addr, sizeof(addr)), EALREADY);
	CHECK_ERR("send while waiting", send(c3, "x", 1, 0), EAGAIN);
	int a1 = accept(l, NULL, NULL);
	CHECK("accept", a1 >= 0);
	CHECK("third completes", revents(c3, POLLOUT, 5000) & POLLOUT);
	CHECK_EQ("SO_ERROR 0", so_error(c3), 0);
	CHECK_EQ("connect reports success", connect(c3, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK_ERR("then EISCONN", connect(c3, (struct sockaddr *)&addr, sizeof(addr)), EISCONN);
	CHECK_EQ("send", send(c3, "abc", 3, 0), 3);
	int a2 = accept(l, NULL, NULL), a3 = accept(l, NULL, NULL);
	char buf[8];
	CHECK_EQ("third's data arrives", recv(a3, buf, sizeof(buf), 0), 3);
	close(a1), close(a2), close(a3), close(c1), close(c2), close(c3), close(l);

	/* A waiting connect whose listener goes away is refused. */
	l = listener(0);
	int c4 = nb_connect(&err);
	revents(c4, POLLOUT, 2000);
	int c5 = nb_connect(&err);
	CHECK_EQ("waiting EINPROGRESS", err, EINPROGRESS);
	CHECK_EQ("waiting", revents(c5, POLLOUT, 300), 0);
	close(l);
	CHECK("refused: error and hangup", (revents(c5, POLLOUT, 5000) & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
	CHECK_EQ("SO_ERROR ECONNREFUSED", so_error(c5), ECONNREFUSED);
	close(c4), close(c5);
	return check_done();
}
