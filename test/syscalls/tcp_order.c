/*
 * tcp_order: loopback TCP as Linux does it where inetfuzz found the
 * sandbox apart: a non-blocking connect to a closed port answers
 * EINPROGRESS and is refused just after (the socket is then closed, shut
 * both ways, with ECONNREFUSED pending, which a read reports once before
 * end of file, and gives back the port connect bound, unless the
 * application chose it); a closed socket polls writable.
 */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* closed_port returns a loopback TCP port nobody listens on. */
static int closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	bind(s, (struct sockaddr *)&a, l);
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

static short events(int s)
{
	struct pollfd p = {s, POLLIN | POLLOUT | POLLRDHUP, 0};
	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

int main(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK_EQ("a fresh socket polls writable and hung up", events(s), POLLOUT | POLLHUP);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(closed_port()), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_ERR("non-blocking connect to a closed port", connect(s, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	short want = POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP;
	short got = 0;
	for (int i = 0; i < 100 && got != want; i++) {
		got = events(s);
		if (got != want)
			usleep(1000);
	}
	CHECK_EQ("then refused", got, want);
	char b[4];
	CHECK_ERR("a read reports the refusal", recv(s, b, sizeof(b), 0), ECONNREFUSED);
	CHECK_EQ("then end of file", recv(s, b, sizeof(b), 0), 0);
	struct sockaddr_in n;
	socklen_t nl = sizeof(n);
	CHECK("getsockname keeps the source address and port",
	      getsockname(s, (struct sockaddr *)&n, &nl) == 0 && n.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && n.sin_port != 0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_EQ("the port went back: the socket binds again", bind(s, (struct sockaddr *)&any, sizeof(any)), 0);
	close(s);

	/* A port the application chose stays bound. */
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in mine = {.sin_family = AF_INET, .sin_port = htons(closed_port()), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_EQ("bind a chosen port", bind(s, (struct sockaddr *)&mine, sizeof(mine)), 0);
	CHECK_ERR("connect to a closed port", connect(s, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	for (int i = 0; i < 100 && !(events(s) & POLLERR); i++)
		usleep(1000);
	CHECK_ERR("the chosen port stays bound", bind(s, (struct sockaddr *)&any, sizeof(any)), EINVAL);
	close(s);
	return check_done();
}
