/*
 * udp_rcvbuf: how many loopback UDP datagrams a receiver queues, as Linux
 * counts them: each costs its receive buffer what the kernel's buffer for
 * it costs (far more than a small datagram's bytes, the same for all
 * small ones), and one that does not fit is dropped unless the queue is
 * empty.
 *
 * The checks compare counts with each other, not with the kernel's
 * buffer sizes, which differ between kernels.
 */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static char buf[70000];
static struct sockaddr_in ra;
static socklen_t ral = sizeof(ra);

/* burst sends k datagrams of n bytes to the receiver. */
static void burst(int s, int k, int n)
{
	for (int i = 0; i < k; i++)
		sendto(s, buf, n, 0, (struct sockaddr *)&ra, ral);
}

/* drain reads every queued datagram and returns how many there were. */
static int drain(int r)
{
	int n = 0;
	while (recv(r, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

int main(void)
{
	ra.sin_family = AF_INET;
	ra.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int r = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE("bind", bind(r, (struct sockaddr *)&ra, ral) == 0 && getsockname(r, (struct sockaddr *)&ra, &ral) == 0);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int rcvbuf = 0;
	socklen_t l = sizeof(rcvbuf);
	getsockopt(r, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &l);

	burst(s, 5000, 1);
	int n1 = drain(r);
	CHECK("one-byte datagrams: some queued", n1 > 1);
	CHECK("each costs far more than its byte", n1 < rcvbuf / 100);
	burst(s, 5000, 100);
	CHECK_EQ("100-byte ones cost the same", drain(r), n1);
	burst(s, 5000, 1000);
	int n1000 = drain(r);
	CHECK("1000-byte ones cost more", n1000 < n1 && n1000 > 1);
	CHECK("but not much more than their bytes", n1000 > rcvbuf / 4000);

	/* Read, they make room again. */
	burst(s, 5000, 1);
	CHECK_EQ("read all: room for as many", drain(r), n1);

	/* A datagram bigger than the buffer fits an empty queue. */
	int v = 4096;
	setsockopt(r, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	burst(s, 3, 20000);
	int q = -1;
	CHECK("one 20000-byte datagram is queued", ioctl(r, FIONREAD, &q) == 0 && q == 20000);
	CHECK_EQ("and only one", drain(r), 1);
	burst(s, 5000, 1);
	int small = drain(r);
	CHECK("a small buffer takes few", small >= 1 && small < n1 / 10);
	close(s);
	close(r);
	return check_done();
}
