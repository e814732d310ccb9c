/*
 * cork: holding back what a socket sends, as Linux does on loopback.
 *
 * TCP: TCP_CORK holds back less than a segment until the cork comes out,
 * TCP_NODELAY (which pushes once, the cork staying), or the socket's FIN;
 * a send of a segment or more goes at once. What TCP_CORK or MSG_MORE
 * holds back goes anyway when the zero-window probe timer fires, about
 * 200 ms (TCP_RTO_MIN) later: an application that corks and then waits
 * for an answer is not stuck.
 *
 * UDP: UDP_CORK makes every send add to one datagram, as MSG_MORE does
 * for one send, until the cork comes out; it is a UDP option only.
 */
#include "check.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* waitin waits up to ms milliseconds for s to be readable. */
static int waitin(int s, int ms)
{
	struct pollfd p = {s, POLLIN, 0};
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static int setopt(int s, int level, int name, int v)
{
	return setsockopt(s, level, name, &v, sizeof(v));
}

static int getopt_int(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(s, level, name, &v, &l) != 0)
		return -errno;
	return v;
}

/* held reports whether nothing has reached c 20 ms after a send. */
static int held(int c)
{
	char b;
	usleep(20000);
	return recv(c, &b, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
}

/* drain reads n bytes from c, waiting for each up to a second. */
static long drain(int c, long n)
{
	static char b[1 << 17];
	long got = 0;
	while (got < n && waitin(c, 1000)) {
		long r = recv(c, b, sizeof(b), MSG_DONTWAIT);
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

/* tcp_pair makes a connected loopback TCP pair: *s sends, *c receives. */
static void tcp_pair(int *s, int *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE("listen", bind(l, (struct sockaddr *)&a, al) == 0 && listen(l, 1) == 0 &&
				  getsockname(l, (struct sockaddr *)&a, &al) == 0);
	*s = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE("connect", connect(*s, (struct sockaddr *)&a, al) == 0);
	*c = accept(l, NULL, NULL);
	REQUIRE("accept", *c >= 0);
	close(l);
}

static void tcp_cork(void)
{
	int s, c, q = -1;
	char b[16];
	tcp_pair(&s, &c);

	CHECK_EQ("TCP_CORK is off at first", getopt_int(s, IPPROTO_TCP, TCP_CORK), 0);
	CHECK_EQ("TCP_CORK on", setopt(s, IPPROTO_TCP, TCP_CORK, 1), 0);
	CHECK_EQ("reads back 1", getopt_int(s, IPPROTO_TCP, TCP_CORK), 1);
	CHECK_EQ("a corked send", send(s, "abc", 3, 0), 3);
	CHECK("is held back", held(c));
	CHECK_EQ("a second one", send(s, "de", 2, 0), 2);
	CHECK("is held back too", held(c));
	CHECK("both are outstanding", ioctl(s, SIOCOUTQ, &q) == 0 && q == 5);
	CHECK_EQ("the cork out", setopt(s, IPPROTO_TCP, TCP_CORK, 0), 0);
	CHECK("pushes them", waitin(c, 1000));
	CHECK_EQ("in one read", recv(c, b, sizeof(b), MSG_DONTWAIT), 5);
	CHECK_EQ("a send without the cork", send(s, "f", 1, 0), 1);
	CHECK("goes at once", waitin(c, 1000) && recv(c, b, sizeof(b), 0) == 1);

	/* A segment or more goes at once, corked or not. */
	static char big[70000];
	setopt(s, IPPROTO_TCP, TCP_CORK, 1);
	CHECK_EQ("a corked send of more than a segment", send(s, big, sizeof(big), 0), (long)sizeof(big));
	CHECK("goes at once", waitin(c, 1000));
	setopt(s, IPPROTO_TCP, TCP_CORK, 0);
	CHECK_EQ("all of it after the cork", drain(c, sizeof(big)), (long)sizeof(big));

	/* TCP_NODELAY pushes once; the cork stays. */
	setopt(s, IPPROTO_TCP, TCP_CORK, 1);
	send(s, "g", 1, 0);
	CHECK("held", held(c));
	CHECK_EQ("TCP_NODELAY while corked", setopt(s, IPPROTO_TCP, TCP_NODELAY, 1), 0);
	CHECK("pushes it", waitin(c, 1000) && recv(c, b, sizeof(b), 0) == 1);
	CHECK_EQ("the cork stays", getopt_int(s, IPPROTO_TCP, TCP_CORK), 1);
	send(s, "h", 1, 0);
	CHECK("and holds the next send", held(c));
	setopt(s, IPPROTO_TCP, TCP_CORK, 0);
	CHECK("until it comes out", waitin(c, 1000) && recv(c, b, sizeof(b), 0) == 1);
	setopt(s, IPPROTO_TCP, TCP_NODELAY, 0);

	/* The probe timer sends what is held, about 200 ms on. */
	setopt(s, IPPROTO_TCP, TCP_CORK, 1);
	send(s, "i", 1, 0);
	usleep(50000);
	CHECK_ERR("corked, 50 ms on: not yet", recv(c, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	CHECK("then the probe timer sends it", waitin(c, 3000) && recv(c, b, sizeof(b), 0) == 1);
	CHECK_EQ("still corked", getopt_int(s, IPPROTO_TCP, TCP_CORK), 1);
	send(s, "j", 1, 0);
	CHECK("the next send is held again", held(c));
	CHECK("and goes the same way", waitin(c, 3000) && recv(c, b, sizeof(b), 0) == 1);
	setopt(s, IPPROTO_TCP, TCP_CORK, 0);
	send(s, "k", 1, MSG_MORE);
	usleep(50000);
	CHECK_ERR("MSG_MORE, 50 ms on: not yet", recv(c, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	CHECK("then the probe timer sends it", waitin(c, 3000) && recv(c, b, sizeof(b), 0) == 1);

	/* The FIN pushes what the cork holds. */
	setopt(s, IPPROTO_TCP, TCP_CORK, 1);
	send(s, "lmn", 3, 0);
	CHECK("held", held(c));
	close(s);
	CHECK("close sends it", waitin(c, 1000) && recv(c, b, sizeof(b), 0) == 3);
	CHECK_EQ("then the FIN", recv(c, b, sizeof(b), 0), 0);
	close(c);
}

static void udp_cork(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int r = socket(AF_INET, SOCK_DGRAM, 0);
	bind(r, (struct sockaddr *)&a, al);
	getsockname(r, (struct sockaddr *)&a, &al);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	char b[64];

	CHECK_EQ("UDP_CORK is off at first", getopt_int(s, IPPROTO_UDP, UDP_CORK), 0);
	CHECK_EQ("UDP_CORK on", setopt(s, IPPROTO_UDP, UDP_CORK, 1), 0);
	CHECK_EQ("reads back 1", getopt_int(s, IPPROTO_UDP, UDP_CORK), 1);
	CHECK_EQ("a corked sendto", sendto(s, "ab", 2, 0, (struct sockaddr *)&a, al), 2);
	CHECK_EQ("another", sendto(s, "cd", 2, 0, (struct sockaddr *)&a, al), 2);
	CHECK_EQ("one with MSG_MORE", sendto(s, "e", 1, MSG_MORE, (struct sockaddr *)&a, al), 1);
	usleep(20000);
	CHECK_ERR("nothing sent yet", recv(r, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("the cork out", setopt(s, IPPROTO_UDP, UDP_CORK, 0), 0);
	CHECK("sends them", waitin(r, 1000));
	CHECK_EQ("as one datagram", recv(r, b, sizeof(b), MSG_DONTWAIT), 5);
	CHECK("in order", memcmp(b, "abcde", 5) == 0);
	CHECK_ERR("and only one", recv(r, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("the cork out again", setopt(s, IPPROTO_UDP, UDP_CORK, 0), 0);
	CHECK_ERR("sends nothing more", recv(r, b, sizeof(b), MSG_DONTWAIT), EAGAIN);

	/* A connected socket: the cork's datagram goes to the peer. */
	connect(s, (struct sockaddr *)&a, al);
	setopt(s, IPPROTO_UDP, UDP_CORK, 1);
	CHECK_EQ("corked send", send(s, "xy", 2, 0), 2);
	CHECK_EQ("corked send", send(s, "z", 1, 0), 1);
	close(s);
	CHECK_ERR("close drops the corked datagram", recv(r, b, sizeof(b), MSG_DONTWAIT), EAGAIN);

	/* Too big a corked datagram is dropped. */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	setopt(s, IPPROTO_UDP, UDP_CORK, 1);
	static char big[40000];
	CHECK_EQ("a corked 40000 bytes", sendto(s, big, sizeof(big), 0, (struct sockaddr *)&a, al), (long)sizeof(big));
	CHECK_ERR("40000 more is too big", sendto(s, big, sizeof(big), 0, (struct sockaddr *)&a, al), EMSGSIZE);
	setopt(s, IPPROTO_UDP, UDP_CORK, 0);
	CHECK_ERR("and dropped what was corked", recv(r, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	close(s);

	int t = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_ERR("UDP_CORK on TCP", setopt(t, IPPROTO_UDP, UDP_CORK, 1), ENOPROTOOPT);
	CHECK_ERR("TCP_CORK on UDP", setopt(r, IPPROTO_TCP, TCP_CORK, 1), ENOPROTOOPT);
	close(t);
	close(r);
}

int main(void)
{
	tcp_cork();
	udp_cork();
	return check_done();
}
