/*
 * tcp_linger: closing a TCP socket with SO_LINGER on and a zero linger
 * time aborts the connection (tcp(7), socket(7) SO_LINGER; Linux's
 * tcp_close disconnects): the peer gets a reset instead of a FIN. The
 * peer still reads what was sent before, then ECONNRESET; getpeername is
 * ENOTCONN from the reset on. A plain close, or SO_LINGER with a time, ends
 * with a FIN: the peer reads the data, then end of file.
 */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static int listener;

static void pair(int *c, int *s)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	getsockname(listener, (struct sockaddr *)&a, &len);
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*c, (struct sockaddr *)&a, sizeof(a)))
		check_fail("connect", "%s", check_errname(errno));
	*s = accept(listener, NULL, NULL);
}

/* closed sends "data" from a new client, sets SO_LINGER to l (if on),
 * closes it, and waits for the server's side to hear of it. */
static int closed(int on, int secs)
{
	int c, s;
	pair(&c, &s);
	if (on) {
		struct linger l = {1, secs};
		setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (send(c, "data", 4, 0) != 4)
		check_fail("send", "%s", check_errname(errno));
	close(c);
	struct pollfd p = {s, POLLRDHUP, 0};
	poll(&p, 1, 5000);
	return s;
}

int main(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE("listen", bind(listener, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(listener, 4) == 0);
	char b[16];
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);

	int s = closed(1, 0);
	CHECK_ERR("zero linger: no peer name", getpeername(s, (struct sockaddr *)&peer, &len), ENOTCONN);
	CHECK_EQ("zero linger: data still read", recv(s, b, sizeof(b), MSG_DONTWAIT), 4);
	CHECK_ERR("zero linger: then the reset", recv(s, b, sizeof(b), MSG_DONTWAIT), ECONNRESET);
	CHECK_EQ("zero linger: then end of file", recv(s, b, sizeof(b), MSG_DONTWAIT), 0);
	close(s);

	s = closed(0, 0);
	len = sizeof(peer);
	CHECK_OK("plain close: peer name kept", getpeername(s, (struct sockaddr *)&peer, &len));
	CHECK_EQ("plain close: data", recv(s, b, sizeof(b), MSG_DONTWAIT), 4);
	CHECK_EQ("plain close: end of file", recv(s, b, sizeof(b), MSG_DONTWAIT), 0);
	close(s);

	s = closed(1, 5);
	CHECK_EQ("linger with a time: data", recv(s, b, sizeof(b), MSG_DONTWAIT), 4);
	CHECK_EQ("linger with a time: end of file", recv(s, b, sizeof(b), MSG_DONTWAIT), 0);
	close(s);
	return check_done();
}
