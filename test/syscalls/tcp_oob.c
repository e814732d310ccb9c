/*
 * tcp_oob: TCP urgent data over loopback, as Linux keeps it (tcp(7)
 * "Sockets API", socket(7) SO_OOBINLINE and SIGURG).
 *
 * send(MSG_OOB) makes the last byte it sends urgent. The receiver keeps one
 * urgent mark: unless SO_OOBINLINE is set, the urgent byte leaves the
 * stream, and recv(MSG_OOB) takes it (MSG_PEEK leaves it; then it is
 * EINVAL); a read stops at the mark, SIOCATMARK says whether the reading
 * is at it, and the socket polls POLLPRI (select: exceptfds) until the byte
 * is taken. At a mark whose byte is out of the stream POLLIN wants one more
 * byte, and an ordinary read passes the byte over, taken or not. A newer
 * urgent byte moves the mark: an older one that the reading is not at stays
 * in the stream as an ordinary byte (even one already taken with MSG_OOB).
 * With SO_OOBINLINE the byte is read in the stream. The socket's owner
 * (F_SETOWN) gets SIGURG, with or without O_ASYNC, and with O_ASYNC and
 * F_SETSIG also that signal with POLL_PRI. UDP refuses MSG_OOB sends
 * (EOPNOTSUPP) and has no SIOCATMARK (ENOTTY).
 */
#include "sigio.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listener;
static struct sockaddr_in laddr;

/* pair connects a new client to the listener: *c sends, *s receives. */
static void pair(int *c, int *s)
{
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*c, (struct sockaddr *)&laddr, sizeof(laddr)))
		check_fail("connect", "%s", check_errname(errno));
	*s = accept(listener, NULL, NULL);
}

/* settle waits, up to 2 s, until the peer has everything that the sender
 * fd sent: none of it is unacknowledged (SIOCOUTQ). */
static void settle(int fd)
{
	for (int i = 0; i < 2000; i++) {
		int q = -1;
		if (ioctl(fd, SIOCOUTQ, &q) == 0 && q == 0)
			return;
		usleep(1000);
	}
}

/* inq is SIOCINQ: Linux counts the bytes up to an urgent byte that is out
 * of the stream (tcp_inq). */
static int inq(int fd)
{
	int q = -1;
	if (ioctl(fd, SIOCINQ, &q))
		return -1;
	return q;
}

/* rx receives up to n bytes with flags, never blocking, and describes the
 * outcome: the bytes, then " oob" and " trunc" for those msg_flags; or the
 * errno's name. */
static const char *rx(int fd, int flags, int n)
{
	static char out[128];
	char b[64];
	struct iovec io = {b, n};
	struct msghdr m = {0};
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	int r = recvmsg(fd, &m, flags | MSG_DONTWAIT);
	if (r < 0)
		return check_errname(errno);
	if (flags & MSG_TRUNC)
		r = 0; /* the bytes were not copied */
	snprintf(out, sizeof(out), "%.*s%s%s", r, b, (m.msg_flags & MSG_OOB) ? " oob" : "",
		 (m.msg_flags & MSG_TRUNC) ? " trunc" : "");
	return out;
}

/* ev is fd's POLLIN and POLLPRI readiness: "in", "pri", "in|pri" or "-". */
static const char *ev(int fd)
{
	struct pollfd p = {fd, POLLIN | POLLPRI, 0};
	if (poll(&p, 1, 0) < 0)
		return "error";
	switch (p.revents & (POLLIN | POLLPRI)) {
	case POLLIN:
		return "in";
	case POLLPRI:
		return "pri";
	case POLLIN | POLLPRI:
		return "in|pri";
	}
	return "-";
}

static int atmark(int fd)
{
	int v = -1;
	if (ioctl(fd, SIOCATMARK, &v))
		return -1;
	return v;
}

static void basic(void)
{
	int a, b;
	pair(&a, &b);
	CHECK_EQ("basic: atmark before", atmark(b), 0);
	CHECK_STR("basic: oob before", rx(b, MSG_OOB, 8), "EINVAL");
	CHECK_EQ("basic: send", send(a, "abc", 3, MSG_OOB), 3);
	settle(a);
	CHECK_STR("basic: poll", ev(b), "in|pri");
	CHECK_EQ("basic: inq to the mark", inq(b), 2);
	CHECK_EQ("basic: not at mark", atmark(b), 0);
	CHECK_STR("basic: peek oob", rx(b, MSG_OOB | MSG_PEEK, 8), "c oob");
	CHECK_STR("basic: read stops at mark", rx(b, 0, 8), "ab");
	CHECK_STR("basic: poll at mark", ev(b), "pri");
	CHECK_EQ("basic: at mark", atmark(b), 1);
	CHECK_EQ("basic: inq at mark", inq(b), 0);
	CHECK_STR("basic: oob", rx(b, MSG_OOB, 8), "c oob");
	CHECK_STR("basic: oob taken", rx(b, MSG_OOB, 8), "EINVAL");
	CHECK_STR("basic: poll after oob", ev(b), "-");
	CHECK_EQ("basic: still at mark", atmark(b), 1);
	CHECK_STR("basic: read passes the byte", rx(b, 0, 8), "EAGAIN");
	CHECK_EQ("basic: past mark", atmark(b), 0);
	close(a);
	close(b);
}

/* Two urgent bytes before a read: the first stays in the stream. */
static void superseded(void)
{
	int a, b;
	pair(&a, &b);
	send(a, "def", 3, 0);
	send(a, "g", 1, MSG_OOB);
	send(a, "hij", 3, 0);
	send(a, "k", 1, MSG_OOB);
	settle(a);
	CHECK_EQ("superseded: inq", inq(b), 7);
	CHECK_STR("superseded: read to the last mark", rx(b, 0, 20), "defghij");
	CHECK_EQ("superseded: at mark", atmark(b), 1);
	/* An ordinary read at the mark passes over the byte never taken. */
	CHECK_STR("superseded: read at mark", rx(b, 0, 20), "EAGAIN");
	CHECK_STR("superseded: byte lost", rx(b, MSG_OOB, 8), "EINVAL");
	close(a);
	close(b);
}

/* A taken urgent byte the reading has not reached is back in the stream
 * when a newer one comes; one the reading is at is passed over. */
static void newer(void)
{
	int a, b;
	pair(&a, &b);
	send(a, "ab", 2, MSG_OOB);
	settle(a);
	CHECK_STR("newer: oob", rx(b, MSG_OOB, 8), "b oob");
	send(a, "c", 1, MSG_OOB);
	settle(a);
	CHECK_STR("newer: poll", ev(b), "in|pri");
	CHECK_STR("newer: taken byte inline", rx(b, 0, 20), "ab");
	CHECK_STR("newer: oob again", rx(b, MSG_OOB, 8), "c oob");
	CHECK_STR("newer: passed", rx(b, 0, 20), "EAGAIN");

	send(a, "de", 2, MSG_OOB);
	settle(a);
	CHECK_STR("newer: before mark", rx(b, 0, 20), "d");
	CHECK_STR("newer: oob at mark", rx(b, MSG_OOB, 8), "e oob");
	send(a, "fg", 2, MSG_OOB);
	settle(a);
	CHECK_EQ("newer: mark moved", atmark(b), 0);
	CHECK_STR("newer: old byte passed over", rx(b, 0, 20), "f");
	CHECK_STR("newer: new oob", rx(b, MSG_OOB, 8), "g oob");
	close(a);
	close(b);
}

static void peek(void)
{
	int a, b;
	pair(&a, &b);
	send(a, "h", 1, MSG_OOB);
	settle(a);
	CHECK_EQ("peek: at mark", atmark(b), 1);
	CHECK_STR("peek: only the urgent byte", ev(b), "pri");
	CHECK_STR("peek: nothing to peek", rx(b, MSG_PEEK, 20), "EAGAIN");
	send(a, "ij", 2, 0);
	settle(a);
	CHECK_STR("peek: poll", ev(b), "in|pri");
	CHECK_EQ("peek: inq at mark", inq(b), 0);
	CHECK_STR("peek: past the urgent byte", rx(b, MSG_PEEK, 20), "ij");
	CHECK_STR("peek: oob trunc", rx(b, MSG_OOB | MSG_PEEK | MSG_TRUNC, 4), " oob");
	CHECK_STR("peek: read", rx(b, 0, 20), "ij");
	CHECK_EQ("peek: past mark", atmark(b), 0);
	CHECK_STR("peek: poll after", ev(b), "-");

	send(a, "kl", 2, MSG_OOB);
	send(a, "mn", 2, 0);
	settle(a);
	CHECK_STR("peek: stops at mark", rx(b, MSG_PEEK, 20), "k");
	CHECK_STR("peek: waitall stops at mark", rx(b, MSG_WAITALL, 3), "k");
	CHECK_STR("peek: read past untaken byte", rx(b, 0, 20), "mn");
	CHECK_STR("peek: its byte is gone", rx(b, MSG_OOB, 8), "EINVAL");
	close(a);
	close(b);
}

static void zero_length(void)
{
	int a, b;
	pair(&a, &b);
	send(a, "Q", 1, MSG_OOB);
	settle(a);
	CHECK_STR("zero length: oob", rx(b, MSG_OOB, 0), " oob trunc");
	CHECK_STR("zero length: taken", rx(b, MSG_OOB, 1), "EINVAL");
	close(a);
	close(b);
}

static void inline_oob(void)
{
	int a, b, one = 1;
	pair(&a, &b);
	CHECK_OK("inline: set", setsockopt(b, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)));
	send(a, "xy", 2, MSG_OOB);
	send(a, "z", 1, 0);
	settle(a);
	CHECK_STR("inline: poll", ev(b), "in|pri");
	CHECK_EQ("inline: inq", inq(b), 3);
	CHECK_STR("inline: no oob", rx(b, MSG_OOB, 8), "EINVAL");
	CHECK_STR("inline: read stops at mark", rx(b, 0, 20), "x");
	CHECK_EQ("inline: at mark", atmark(b), 1);
	CHECK_STR("inline: poll at mark", ev(b), "in|pri");
	CHECK_STR("inline: byte in stream", rx(b, 0, 20), "yz");
	CHECK_EQ("inline: past mark", atmark(b), 0);
	CHECK_STR("inline: poll after", ev(b), "-");
	close(a);
	close(b);
}

static void peer_closed(void)
{
	int a, b;
	pair(&a, &b);
	send(a, "pq", 2, MSG_OOB);
	settle(a);
	close(a);
	CHECK_STR("closed: read", rx(b, 0, 20), "p");
	CHECK_STR("closed: oob", rx(b, MSG_OOB, 8), "q oob");
	CHECK_STR("closed: end", rx(b, 0, 20), "");
	close(b);
}

/* A send past the unlocked-copy threshold of the sandbox's loopback. */
static void large(void)
{
	static char big[20000], in[20000];
	int a, b;
	pair(&a, &b);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '!';
	CHECK_EQ("large: send", send(a, big, sizeof(big), MSG_OOB | MSG_DONTWAIT), (long)sizeof(big));
	settle(a);
	size_t got = 0;
	while (got < sizeof(big) - 1) {
		ssize_t r = recv(b, in + got, sizeof(in) - got, MSG_DONTWAIT);
		if (r <= 0)
			break;
		got += r;
	}
	CHECK_EQ("large: read to the mark", got, sizeof(big) - 1);
	CHECK_EQ("large: at mark", atmark(b), 1);
	CHECK_STR("large: oob", rx(b, MSG_OOB, 8), "! oob");
	close(a);
	close(b);
}

static int a_late;

static void *send_late(void *arg)
{
	(void)arg;
	usleep(50000);
	send(a_late, "u", 1, MSG_OOB);
	return NULL;
}

/* A poll or select that waits for urgent data wakes for it. */
static void wakeups(void)
{
	int b;
	pthread_t th;
	pair(&a_late, &b);
	pthread_create(&th, NULL, send_late, NULL);
	struct pollfd p = {b, POLLPRI, 0};
	CHECK_EQ("wake: poll", poll(&p, 1, 5000), 1);
	CHECK_EQ("wake: POLLPRI", p.revents, POLLPRI);
	pthread_join(th, NULL);
	CHECK_STR("wake: oob", rx(b, MSG_OOB, 8), "u oob");

	pthread_create(&th, NULL, send_late, NULL);
	fd_set ex;
	FD_ZERO(&ex);
	FD_SET(b, &ex);
	struct timeval tv = {5, 0};
	CHECK_EQ("wake: select", select(b + 1, NULL, NULL, &ex, &tv), 1);
	CHECK("wake: exceptfds", FD_ISSET(b, &ex));
	pthread_join(th, NULL);
	close(a_late);
	close(b);
}

/* urg_wait waits up to ms for SIGURG; 1 if it came with si_code SI_KERNEL. */
static int urg_wait(int ms)
{
	siginfo_t si;
	return sigio_wait(SIGURG, &si, ms) && si.si_code == SI_KERNEL;
}

static void sigurg(void)
{
	int a, b, rt = SIGRTMIN + 1;
	pair(&a, &b);
	send(a, "1", 1, MSG_OOB);
	settle(a);
	CHECK("sigurg: none without owner", !urg_wait(100));
	rx(b, MSG_OOB, 8);

	CHECK_OK("sigurg: F_SETOWN", fcntl(b, F_SETOWN, getpid()));
	send(a, "2", 1, MSG_OOB);
	CHECK("sigurg: to the owner", urg_wait(2000));
	sigio_quiet("sigurg: no SIGIO without O_ASYNC");

	/* With O_ASYNC and F_SETSIG, the urgent data also sends that
	 * signal with POLL_PRI (the data itself, POLL_IN). */
	CHECK_OK("sigurg: F_SETSIG", fcntl(b, F_SETSIG, rt));
	CHECK_OK("sigurg: O_ASYNC", fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_ASYNC));
	send(a, "3", 1, MSG_OOB);
	CHECK("sigurg: with O_ASYNC", urg_wait(2000));
	int pri = 0, in = 0;
	siginfo_t si;
	while (sigio_wait(rt, &si, 200)) {
		if (si.si_code == POLL_PRI && si.si_fd == b && si.si_band == (POLLPRI | POLLRDBAND))
			pri++;
		else if (si.si_code == POLL_IN && si.si_fd == b)
			in++;
	}
	CHECK_EQ("sigurg: POLL_PRI signal", pri, 1);
	CHECK("sigurg: POLL_IN signal", in >= 1);
	sigio_drain();
	close(a);
	close(b);
}

static void other_sockets(void)
{
	int n = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_STR("unconnected: oob", rx(n, MSG_OOB, 8), "EINVAL");
	CHECK_EQ("unconnected: atmark", atmark(n), 0);
	CHECK_ERR("unconnected: send oob", send(n, "x", 1, MSG_OOB | MSG_NOSIGNAL), EPIPE);
	close(n);
	CHECK_STR("listening: oob", rx(listener, MSG_OOB, 8), "ENOTCONN");
	CHECK_EQ("listening: atmark", atmark(listener), 0);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_ERR("udp: send oob", sendto(u, "x", 1, MSG_OOB, (struct sockaddr *)&to, sizeof(to)), EOPNOTSUPP);
	int v;
	CHECK_ERR("udp: atmark", ioctl(u, SIOCATMARK, &v), ENOTTY);
	close(u);
}

int main(void)
{
	sigio_block(SIGRTMIN + 1);
	sigset_t urg;
	sigemptyset(&urg);
	sigaddset(&urg, SIGURG);
	sigprocmask(SIG_BLOCK, &urg, NULL);

	listener = socket(AF_INET, SOCK_STREAM, 0);
	laddr.sin_family = AF_INET;
	laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(laddr);
	REQUIRE("listen", bind(listener, (struct sockaddr *)&laddr, sizeof(laddr)) == 0 &&
				  getsockname(listener, (struct sockaddr *)&laddr, &len) == 0 &&
				  listen(listener, 8) == 0);
	basic();
	superseded();
	newer();
	peek();
	zero_length();
	inline_oob();
	peer_closed();
	large();
	wakeups();
	sigurg();
	other_sockets();
	return check_done();
}
