// tcp_loopback: TCP over 127.0.0.1 and ::1 between processes: listen and
// accept on an ephemeral port, getsockname/getpeername, half-close, reset
// on close with unread data, ECONNREFUSED without a listener,
// SO_REUSEADDR, IPv4-mapped IPv6, options read back, EADDRNOTAVAIL off
// loopback.
#include "check.h"
#include "tcp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_in sa, got;
	socklen_t gl;
	char buf[64];
	int l = listener4(&sa);
	REQUIRE("listener", l >= 0);
	CHECK("ephemeral port", ntohs(sa.sin_port) != 0);
	int v;
	socklen_t vl = sizeof(v);
	CHECK_OK("SO_ACCEPTCONN", getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
	CHECK_EQ("SO_ACCEPTCONN value", v, 1);

	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(2);
		if (write(c, "hello", 5) != 5)
			_exit(3);
		char b[16];
		int n = read(c, b, sizeof(b));
		if (n != 6 || memcmp(b, "world!", 6))
			_exit(4);
		shutdown(c, SHUT_WR);
		n = read(c, b, sizeof(b));
		if (n != 0)
			_exit(5);
		_exit(0);
	}
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	int a = accept(l, (struct sockaddr *)&peer, &pl);
	CHECK("accept", a >= 0);
	CHECK_EQ("peer len", pl, sizeof(peer));
	CHECK_EQ("peer addr", ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
	gl = sizeof(got);
	CHECK_OK("accepted getsockname", getsockname(a, (struct sockaddr *)&got, &gl));
	CHECK("accepted local port", got.sin_port == sa.sin_port);
	gl = sizeof(got);
	CHECK_OK("accepted getpeername", getpeername(a, (struct sockaddr *)&got, &gl));
	CHECK("accepted peer port", got.sin_port == peer.sin_port);
	CHECK_EQ("recv", recv(a, buf, 5, MSG_WAITALL), 5);
	CHECK("data", memcmp(buf, "hello", 5) == 0);
	CHECK_EQ("send", send(a, "world!", 6, 0), 6);
	CHECK_EQ("eof after peer shutdown", read(a, buf, sizeof(buf)), 0);
	close(a);
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("child status", WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status), 0);

	/* Reset: the peer closes with unread data. */
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_OK("connect", connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	a = accept(l, NULL, NULL);
	CHECK_EQ("send unread", send(c, "unread", 6, 0), 6);
	/* Wait until the data has arrived, then close without reading it. */
	struct pollfd pa = {.fd = a, .events = POLLIN};
	poll(&pa, 1, 10000);
	close(a);
	CHECK_ERR("ECONNRESET", recv(c, buf, sizeof(buf), 0), ECONNRESET);
	close(c);

	/* Options accepted and read back. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	v = 1;
	CHECK_OK("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)));
	vl = sizeof(v);
	v = 0;
	CHECK_OK("TCP_NODELAY get", getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl));
	CHECK_EQ("TCP_NODELAY value", v, 1);
	v = 1;
	CHECK_OK("SO_KEEPALIVE", setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)));
	vl = sizeof(v);
	CHECK_OK("SO_KEEPALIVE get", getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, &vl));
	CHECK_EQ("SO_KEEPALIVE value", v, 1);
	vl = sizeof(v);
	CHECK_OK("SO_PROTOCOL", getsockopt(c, SOL_SOCKET, SO_PROTOCOL, &v, &vl));
	CHECK_EQ("SO_PROTOCOL value", v, IPPROTO_TCP);
	vl = sizeof(v);
	CHECK_OK("IP_TTL", getsockopt(c, IPPROTO_IP, IP_TTL, &v, &vl));
	CHECK_EQ("IP_TTL value", v, 64);
	CHECK_ERR("send unconnected", send(c, "x", 1, 0), EPIPE);
	CHECK_ERR("recv unconnected", recv(c, buf, 1, 0), ENOTCONN);
	gl = sizeof(got);
	CHECK_ERR("getpeername unconnected", getpeername(c, (struct sockaddr *)&got, &gl), ENOTCONN);

	/* Non-blocking connect and accept. */
	fcntl(c, F_SETFL, O_NONBLOCK);
	fcntl(l, F_SETFL, O_NONBLOCK);
	int r = connect(c, (struct sockaddr *)&sa, sizeof(sa));
	int inprogress = r == -1 && errno == EINPROGRESS;
	CHECK("nonblocking connect", r == 0 || inprogress);
	struct pollfd p = {.fd = c, .events = POLLOUT};
	CHECK_EQ("connect completes", poll(&p, 1, 5000), 1);
	vl = sizeof(v);
	CHECK_OK("SO_ERROR", getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
	CHECK_EQ("SO_ERROR value", v, 0);
	if (inprogress)
		CHECK_OK("connect again completes", connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	else
		printf("ok connect again completes\n");
	CHECK_ERR("connect when connected", connect(c, (struct sockaddr *)&sa, sizeof(sa)), EISCONN);
	p.fd = l;
	p.events = POLLIN;
	CHECK_EQ("listener readable", poll(&p, 1, 5000), 1);
	a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	CHECK("accept4", a >= 0);
	CHECK_ERR("accept EAGAIN", accept(l, NULL, NULL), EAGAIN);
	CHECK_ERR("recv EAGAIN", recv(a, buf, 1, 0), EAGAIN);
	close(a);
	close(c);

	/* No listener: ECONNREFUSED; SO_REUSEADDR lets a port be rebound. */
	close(l);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_ERR("ECONNREFUSED", connect(c, (struct sockaddr *)&sa, sizeof(sa)), ECONNREFUSED);
	close(c);
	l = socket(AF_INET, SOCK_STREAM, 0);
	v = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
	CHECK_OK("rebind with SO_REUSEADDR", bind(l, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK_OK("listen again", listen(l, 1));
	int l2 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_ERR("EADDRINUSE", bind(l2, (struct sockaddr *)&sa, sizeof(sa)), EADDRINUSE);
	close(l2);

	/* IPv6 socket on :: reaches the IPv4 listener's port? No: it takes
	 * its own port, and a v6 client reaches it over ::1 and via an
	 * IPv4-mapped address. */
	int l6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	socklen_t s6l = sizeof(s6);
	CHECK_OK("bind ::", bind(l6, (struct sockaddr *)&s6, sizeof(s6)));
	CHECK_OK("listen ::", listen(l6, 4));
	getsockname(l6, (struct sockaddr *)&s6, &s6l);
	int c6 = socket(AF_INET6, SOCK_STREAM, 0);
	s6.sin6_addr = in6addr_loopback;
	CHECK_OK("connect ::1", connect(c6, (struct sockaddr *)&s6, sizeof(s6)));
	struct sockaddr_in6 p6;
	socklen_t p6l = sizeof(p6);
	a = accept(l6, (struct sockaddr *)&p6, &p6l);
	CHECK("accept ::1", a >= 0);
	CHECK("peer is ::1", p6l == sizeof(p6) && IN6_IS_ADDR_LOOPBACK(&p6.sin6_addr));
	close(a);
	close(c6);
	int c4 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to4 = {.sin_family = AF_INET, .sin_port = s6.sin6_port,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_OK("v4 client to dual-stack listener", connect(c4, (struct sockaddr *)&to4, sizeof(to4)));
	p6l = sizeof(p6);
	a = accept(l6, (struct sockaddr *)&p6, &p6l);
	CHECK("accept v4-mapped", a >= 0);
	CHECK("peer is v4-mapped", IN6_IS_ADDR_V4MAPPED(&p6.sin6_addr));
	close(a);
	close(c4);
	close(l6);

	/* Off loopback. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(80)};
	inet_pton(AF_INET, "192.0.2.1", &far.sin_addr);
	struct sockaddr_in bad = far;
	CHECK_ERR("EADDRNOTAVAIL", bind(c, (struct sockaddr *)&bad, sizeof(bad)), EADDRNOTAVAIL);
	CHECK_ERR("short sockaddr", connect(c, (struct sockaddr *)&sa, 8), EINVAL);
	close(c);
	close(l);
	return check_done();
}
