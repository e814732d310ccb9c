/*
 * udp_order: UDP over loopback as Linux does it where inetfuzz (the
 * native-against-sandbox fuzzer of TCP and UDP calls) found the sandbox
 * apart: sends bind an unbound socket even when they fail, a destination
 * port of 0 is EINVAL, a socket connected to port 0 has no peer name,
 * shutdown of an unconnected socket still shuts it (and says ENOTCONN),
 * a non-blocking read of a shut socket is EAGAIN, IP_TTL takes 1 to 255
 * or -1, and an IPv4 socket
 * refuses other levels' options with EOPNOTSUPP.
 */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t lo(struct sockaddr_in *a, int port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return sizeof(*a);
}

static int udp(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

static int port_of(int s)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	if (getsockname(s, (struct sockaddr *)&a, &l) != 0)
		return -1;
	return ntohs(a.sin_port);
}

int main(void)
{
	struct sockaddr_in a;
	socklen_t l;
	char buf[8];

	int s = udp();
	CHECK_ERR("unconnected send", send(s, "x", 1, 0), EDESTADDRREQ);
	CHECK("the failed send bound the socket", port_of(s) > 0);
	l = lo(&a, 0);
	CHECK_ERR("sendto port 0", sendto(s, "x", 1, 0, (struct sockaddr *)&a, l), EINVAL);
	CHECK_EQ("connect to port 0", connect(s, (struct sockaddr *)&a, l), 0);
	struct sockaddr_in p;
	socklen_t pl = sizeof(p);
	CHECK_ERR("no peer name at port 0", getpeername(s, (struct sockaddr *)&p, &pl), ENOTCONN);
	close(s);

	s = udp();
	CHECK_ERR("shutdown unconnected", shutdown(s, SHUT_RDWR), ENOTCONN);
	struct pollfd pf = {s, POLLIN | POLLRDHUP, 0};
	CHECK("but it is shut", poll(&pf, 1, 0) == 1 && (pf.revents & POLLRDHUP));
	CHECK_ERR("a non-blocking read of it", recv(s, buf, 1, 0), EAGAIN);
	l = lo(&a, 9);
	CHECK_ERR("a send of it", sendto(s, "x", 1, MSG_NOSIGNAL, (struct sockaddr *)&a, l), EPIPE);
	close(s);

	s = udp();
	int v = 0;
	CHECK_ERR("IP_TTL 0", setsockopt(s, IPPROTO_IP, IP_TTL, &v, sizeof(v)), EINVAL);
	v = 256;
	CHECK_ERR("IP_TTL 256", setsockopt(s, IPPROTO_IP, IP_TTL, &v, sizeof(v)), EINVAL);
	v = -1;
	CHECK_EQ("IP_TTL -1", setsockopt(s, IPPROTO_IP, IP_TTL, &v, sizeof(v)), 0);
	socklen_t vl = sizeof(v);
	CHECK("is the default", getsockopt(s, IPPROTO_IP, IP_TTL, &v, &vl) == 0 && v == 64);
	vl = sizeof(v);
	CHECK_ERR("TCP_NODELAY of a UDP socket", getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl), EOPNOTSUPP);
	close(s);
	return check_done();
}
