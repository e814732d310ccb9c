/*
 * udp_order: UDP over loopback as Linux does it where inetfuzz (the
 * native-against-sandbox fuzzer of TCP and UDP calls) found the sandbox
 * apart: sends bind an unbound socket even when they fail, a destination
 * port of 0 is EINVAL, a socket connected to port 0 has no peer name,
 * shutdown of an unconnected socket still shuts it (and says ENOTCONN),
 * a non-blocking read of a shut socket is EAGAIN (and datagrams still
 * reach it), MSG_MORE corks a datagram until a send without it (whose
 * address does not count), the port unreachable of a send is the error
 * of a socket connected to that port or to port 0 (which takes datagrams
 * from any port), IP_TTL takes 1 to 255 or -1, an IPv4 socket refuses
 * other levels' options with EOPNOTSUPP, disconnecting gives back a port
 * the kernel chose, and a corked datagram shares its flow with the
 * connected sends (a connect redirects it; it redirects them).
 */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
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
	CHECK("but it is shut", poll(&pf, 1, 0) == 1 && (pf.revents & POLLRDHUP) && (pf.revents & POLLHUP));
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

	/* MSG_MORE corks: one datagram, where the first piece went. */
	s = udp();
	int r = udp(), r2 = udp();
	l = lo(&a, 0);
	bind(r, (struct sockaddr *)&a, l);
	bind(r2, (struct sockaddr *)&a, l);
	struct sockaddr_in ra, r2a;
	socklen_t ral = lo(&ra, port_of(r)), r2al = lo(&r2a, port_of(r2));
	CHECK_EQ("corked piece", sendto(s, "ab", 2, MSG_MORE, (struct sockaddr *)&ra, ral), 2);
	CHECK_ERR("nothing sent yet", recv(r, buf, sizeof(buf), 0), EAGAIN);
	CHECK_EQ("last piece, another address", sendto(s, "c", 1, 0, (struct sockaddr *)&r2a, r2al), 1);
	CHECK_EQ("one datagram of both", recv(r, buf, sizeof(buf), 0), 3);
	CHECK_ERR("none at the other address", recv(r2, buf, sizeof(buf), 0), EAGAIN);

	/* A receiver shut for reading still gets datagrams. */
	CHECK_ERR("shut r for reading (unconnected)", shutdown(r, SHUT_RD), ENOTCONN);
	CHECK_EQ("send to it", sendto(s, "xyz", 3, 0, (struct sockaddr *)&ra, ral), 3);
	int n = -1;
	CHECK("it is queued", ioctl(r, FIONREAD, &n) == 0 && n == 3);
	CHECK_EQ("and read", recv(r, buf, sizeof(buf), 0), 3);
	close(s);

	/* Connected to port 0: any port's unreachable is its error. */
	s = udp();
	l = lo(&a, 0);
	CHECK_EQ("connect to port 0", connect(s, (struct sockaddr *)&a, l), 0);
	int closed_port = port_of(r2);
	close(r2);
	l = lo(&a, closed_port);
	CHECK_EQ("send to a closed port", sendto(s, "x", 1, 0, (struct sockaddr *)&a, l), 1);
	CHECK_ERR("its unreachable", recv(s, buf, 1, 0), ECONNREFUSED);
	/* and it receives from any port. */
	int w = udp();
	l = lo(&a, port_of(s));
	CHECK_EQ("send to it from elsewhere", sendto(w, "hi", 2, 0, (struct sockaddr *)&a, l), 2);
	CHECK_EQ("it takes the datagram", recv(s, buf, sizeof(buf), 0), 2);
	close(w);
	close(s);
	close(r);

	/* Disconnecting gives back a port the kernel chose, not one the
	 * application bound. */
	int p1 = udp(), p2 = udp();
	l = lo(&a, 0);
	bind(p1, (struct sockaddr *)&a, l);
	bind(p2, (struct sockaddr *)&a, l);
	struct sockaddr_in a1, a2, un;
	socklen_t l1 = lo(&a1, port_of(p1)), l2 = lo(&a2, port_of(p2));
	memset(&un, 0, sizeof(un));
	un.sin_family = AF_UNSPEC;
	s = udp();
	CHECK_EQ("connect (autobinds)", connect(s, (struct sockaddr *)&a1, l1), 0);
	CHECK("it has a port", port_of(s) > 0);
	CHECK_EQ("disconnect", connect(s, (struct sockaddr *)&un, sizeof(un)), 0);
	CHECK_EQ("the port went back", port_of(s), 0);
	close(s);
	s = udp();
	int chosen = port_of(p2);
	close(p2);
	l = lo(&a, chosen);
	CHECK_EQ("bind a chosen port", bind(s, (struct sockaddr *)&a, l), 0);
	CHECK_EQ("connect", connect(s, (struct sockaddr *)&a1, l1), 0);
	CHECK_EQ("disconnect", connect(s, (struct sockaddr *)&un, sizeof(un)), 0);
	CHECK_EQ("the chosen port stays", port_of(s), chosen);
	close(s);
	p2 = udp();
	l = lo(&a, 0);
	bind(p2, (struct sockaddr *)&a, l);
	l2 = lo(&a2, port_of(p2));

	/* Linux's corked datagram and a connected socket's sends share one
	 * flow: a connect while corked sends the datagram to the new peer,
	 * and after a corked sendto elsewhere, sends without an address go
	 * there too (the peer's name stays). */
	s = udp();
	CHECK_EQ("corked piece to p1", sendto(s, "ab", 2, MSG_MORE, (struct sockaddr *)&a1, l1), 2);
	CHECK_EQ("connect to p2", connect(s, (struct sockaddr *)&a2, l2), 0);
	CHECK_EQ("last piece", send(s, "c", 1, 0), 1);
	CHECK_EQ("p2 has the datagram", recv(p2, buf, sizeof(buf), MSG_DONTWAIT), 3);
	CHECK_ERR("p1 has none", recv(p1, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("corked sendto p1", sendto(s, "d", 1, MSG_MORE, (struct sockaddr *)&a1, l1), 1);
	CHECK_EQ("ended", sendto(s, "e", 1, 0, (struct sockaddr *)&a1, l1), 1);
	CHECK_EQ("p1 has it", recv(p1, buf, sizeof(buf), MSG_DONTWAIT), 2);
	CHECK_EQ("a send without an address", send(s, "f", 1, 0), 1);
	CHECK_EQ("goes to p1 too", recv(p1, buf, sizeof(buf), MSG_DONTWAIT), 1);
	CHECK_ERR("not to p2", recv(p2, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	pl = sizeof(p);
	CHECK("the peer is still p2", getpeername(s, (struct sockaddr *)&p, &pl) == 0 && p.sin_port == a2.sin_port);
	CHECK_EQ("connect again to p2", connect(s, (struct sockaddr *)&a2, l2), 0);
	CHECK_EQ("a send", send(s, "g", 1, 0), 1);
	CHECK_EQ("goes to p2", recv(p2, buf, sizeof(buf), MSG_DONTWAIT), 1);

	/* A corked send that fails on a pending error has set the flow. */
	close(p1);
	CHECK_EQ("connect to the closed port", connect(s, (struct sockaddr *)&a1, l1), 0);
	CHECK_EQ("send there", send(s, "h", 1, 0), 1);
	CHECK_ERR("a corked sendto p2 reports the unreachable", sendto(s, "i", 1, MSG_MORE, (struct sockaddr *)&a2, l2), ECONNREFUSED);
	CHECK_EQ("a send without an address", send(s, "j", 1, 0), 1);
	CHECK_EQ("goes to p2", recv(p2, buf, sizeof(buf), MSG_DONTWAIT), 1);
	CHECK_ERR("with no error", recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	close(s);
	close(p2);
	return check_done();
}
