/*
 * unix_flow: how many datagrams and records AF_UNIX sockets take before a
 * send would block, as Linux counts them.
 *
 * A sender pays for what it sent and nobody has read yet (sk_wmem_alloc,
 * which SIOCOUTQ shows: more than the bytes, the kernel's buffers) and may
 * send while that is below its SO_SNDBUF; it polls writable while it is at
 * most a quarter of it. The receiver's SO_RCVBUF does not count. A
 * receiver that is not connected to the sender takes
 * net.unix.max_dgram_qlen datagrams and one more. A stream sender pays
 * for the pieces its sends make until each is read whole. Closing the
 * receiver gives the sender back what it paid.
 *
 * Nothing here depends on the kernel's buffer sizes: the checks derive
 * them from SIOCOUTQ, and the queue length from /proc/sys.
 */
#include "check.h"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stddef.h>
#include <sys/time.h>

static char buf[1 << 16];

/* fill sends n-byte datagrams without blocking until one fails; it
 * returns how many went and leaves errno. */
static int fill(int s, int n)
{
	int i = 0;
	while (i < 100000 && send(s, buf, n, MSG_DONTWAIT) == n)
		i++;
	return i;
}

static int outq(int s)
{
	int q = -1;
	ioctl(s, SIOCOUTQ, &q);
	return q;
}

static int pollout(int s)
{
	struct pollfd p = {s, POLLOUT, 0};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

static int sndbuf(int s)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l);
	return v;
}

static int bound(const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path + 1, name);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	return s;
}

static int connect_to(int s, const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path + 1, name);
	return connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

/* expected is how many datagrams of cost t a sender with send buffer b
 * sends: while what it paid is below b. */
static int expected(int b, int t) { return (b + t - 1) / t; }

int main(void)
{
	int qlen = -1;
	FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
	REQUIRE("net.unix.max_dgram_qlen", f && fscanf(f, "%d", &qlen) == 1 && qlen >= 0);
	fclose(f);

	/* What one datagram costs its sender. */
	int sv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	CHECK_EQ("nothing in flight at first", outq(sv[0]), 0);
	CHECK_EQ("send a byte", send(sv[0], "x", 1, 0), 1);
	int t1 = outq(sv[0]);
	CHECK("it costs more than the byte", t1 > 1);
	send(sv[0], "y", 1, 0);
	CHECK_EQ("two cost twice as much", outq(sv[0]), 2 * t1);
	CHECK_EQ("the receiver's SIOCOUTQ", outq(sv[1]), 0);
	recv(sv[1], buf, 1, 0);
	CHECK_EQ("a read gives one back", outq(sv[0]), t1);
	recv(sv[1], buf, 1, 0);
	CHECK_EQ("all read: nothing in flight", outq(sv[0]), 0);

	/* A connected pair: only the sender's buffer limits it. */
	int i, n = fill(sv[0], 1), err = errno;
	CHECK_EQ("a pair takes what the send buffer pays for", n, expected(sndbuf(sv[0]), t1));
	CHECK("more than the queue length", n > qlen + 1);
	CHECK_EQ("then EAGAIN", err, EAGAIN);
	CHECK_EQ("what it paid", outq(sv[0]), n * t1);
	CHECK("and it does not poll writable", !pollout(sv[0]));
	close(sv[1]);
	CHECK_EQ("the receiver's close gives it all back", outq(sv[0]), 0);
	CHECK("so it polls writable", pollout(sv[0]));
	close(sv[0]);

	/* The receiver's buffer does not count. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	int v = 4096;
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	send(sv[0], buf, 1000, 0);
	int t1000 = outq(sv[0]);
	recv(sv[1], buf, sizeof(buf), 0);
	CHECK_EQ("a small SO_RCVBUF takes as many", fill(sv[0], 1000), expected(sndbuf(sv[0]), t1000));
	close(sv[0]);
	close(sv[1]);

	/* Writable while at most a quarter of the send buffer is paid. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	v = 20000;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	int b = sndbuf(sv[0]), bad = 0, sent = 0;
	while (send(sv[0], buf, 1000, MSG_DONTWAIT) == 1000) {
		sent++;
		if (pollout(sv[0]) != (outq(sv[0]) * 4 <= b))
			bad++;
	}
	CHECK_EQ("the small send buffer's count", sent, expected(b, t1000));
	while (sent-- > 0) {
		recv(sv[1], buf, sizeof(buf), 0);
		if (pollout(sv[0]) != (outq(sv[0]) * 4 <= b))
			bad++;
	}
	CHECK_EQ("POLLOUT follows a quarter of SO_SNDBUF", bad, 0);
	struct timeval tv = {0, 50000};
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fill(sv[0], 1000);
	CHECK_ERR("a blocking send times out when full", send(sv[0], buf, 1000, 0), EAGAIN);
	close(sv[0]);
	close(sv[1]);

	/* seqpacket records pay the same way. */
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	CHECK_EQ("seqpacket: records", fill(sv[0], 1), expected(sndbuf(sv[0]), t1));
	CHECK_EQ("seqpacket: what they cost", outq(sv[0]), expected(sndbuf(sv[0]), t1) * t1);
	close(sv[0]);
	close(sv[1]);

	/* A stream pays the same way for each piece a send makes, until the
	 * piece is read whole. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	send(sv[0], "x", 1, 0);
	int s1 = outq(sv[0]);
	CHECK("stream: a byte costs more than a byte", s1 > 1);
	recv(sv[1], buf, 1, 0);
	CHECK_EQ("stream: read, it costs nothing", outq(sv[0]), 0);
	n = fill(sv[0], 1);
	CHECK_EQ("stream: one-byte writes", n, expected(sndbuf(sv[0]), s1));
	CHECK_EQ("stream: what they cost", outq(sv[0]), n * s1);
	CHECK("stream: not writable", !pollout(sv[0]));
	for (i = 0; i < n && outq(sv[0]) * 4 > sndbuf(sv[0]); i++)
		recv(sv[1], buf, 1, 0);
	CHECK("stream: writable at a quarter", pollout(sv[0]) && outq(sv[0]) * 4 <= sndbuf(sv[0]));
	close(sv[1]);
	CHECK_EQ("stream: the peer's close gives it back", outq(sv[0]), 0);
	close(sv[0]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	send(sv[0], buf, 1000, 0);
	int s1000 = outq(sv[0]);
	recv(sv[1], buf, 500, 0);
	CHECK_EQ("stream: half read, it still costs it all", outq(sv[0]), s1000);
	recv(sv[1], buf, 500, 0);
	CHECK_EQ("stream: read whole, nothing", outq(sv[0]), 0);
	long big = 0, w;
	while ((w = send(sv[0], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		big += w;
	CHECK("stream: big writes take about the send buffer", big > sndbuf(sv[0]) / 2 && big < 2L * sndbuf(sv[0]));
	close(sv[0]);
	close(sv[1]);

	/* A receiver takes max_dgram_qlen + 1 datagrams from a sender it is
	 * not connected to, connected to it or not. */
	int r = bound("unix_flow_r");
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path + 1, "unix_flow_r");
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + strlen("unix_flow_r");
	i = 0;
	while (i < 100000 && sendto(s, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&a, al) == 1)
		i++;
	err = errno;
	CHECK_EQ("sendto: the queue length and one", i, qlen + 1);
	CHECK_EQ("then EAGAIN", err, EAGAIN);
	CHECK("an unconnected sender still polls writable", pollout(s));
	int c = socket(AF_UNIX, SOCK_DGRAM, 0);
	connect_to(c, "unix_flow_r");
	CHECK("a sender connected to the full receiver does not", !pollout(c));
	CHECK_ERR("nor may it send", send(c, "x", 1, MSG_DONTWAIT), EAGAIN);
	recv(r, buf, 1, 0);
	CHECK("one read makes room", pollout(c));
	CHECK_EQ("for one", fill(c, 1), 1);
	close(c);
	close(s);
	close(r);

	/* Connected both ways: no queue length. */
	r = bound("unix_flow_a");
	s = bound("unix_flow_b");
	connect_to(s, "unix_flow_a");
	connect_to(r, "unix_flow_b");
	n = fill(s, 1);
	CHECK_EQ("connected both ways: the send buffer only", n, expected(sndbuf(s), t1));
	c = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_ERR("a third may not send to it", connect_to(c, "unix_flow_a") == 0 ? send(c, "x", 1, MSG_DONTWAIT) : -1, EPERM);
	close(c);
	close(s);
	close(r);
	return check_done();
}
