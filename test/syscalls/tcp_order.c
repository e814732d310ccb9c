/*
 * tcp_order: loopback TCP as Linux does it where inetfuzz found the
 * sandbox apart: a non-blocking connect to a closed port answers
 * EINPROGRESS and is refused just after (the socket is then closed, shut
 * both ways, with ECONNREFUSED pending, which a read reports once before
 * end of file, and gives back the port connect bound, unless the
 * application chose it); a closed socket polls writable.
 *
 * Then the socket layer's state (Linux's sock->state) apart from the
 * connection's: the connect after EINPROGRESS reports how it went (and
 * disconnects a refused socket, which may connect again), a socket keeps
 * the first of the roles client and listener, shutdown while connecting
 * leaves connect EINVAL, connect with AF_UNSPEC resets a connection; a
 * send to a peer that closed succeeds and draws a reset (EPIPE); a
 * socket connecting to its own address connects to itself; a null read
 * waits for a byte.
 *
 * And ports: the socket that closes a connection first leaves a
 * TIME_WAIT that binds conflict with unless both sides set SO_REUSEADDR;
 * an accepted connection holds the listener's port after the listener
 * is gone; a failed bind clears the address; a disconnect gives back only
 * a port the connection held. MSG_TRUNC reads without copying, TCP keeps
 * IP_TOS's ECN bits, MSG_MORE holds back what it sends until a push, a
 * listener's close resets the connections it did not accept, and a
 * socket closed first lingers in FIN_WAIT2 holding its port.
 */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
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

/* settle waits up to 100 ms for s to poll with all of want, as loopback's
 * answers arrive just after the call that caused them. */
static short settle(int s, short want)
{
	short got = 0;
	for (int i = 0; i < 100 && (got & want) != want; i++) {
		got = events(s);
		if ((got & want) != want)
			usleep(1000);
	}
	return got;
}

static int tcp(void) { return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0); }

static int so_error(int s)
{
	int e = -1;
	socklen_t l = sizeof(e);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
	return e;
}

static int peer_errno(int s)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	return getpeername(s, (struct sockaddr *)&a, &l) == 0 ? 0 : errno;
}

static int bind_lo(int s, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return bind(s, (struct sockaddr *)&a, sizeof(a));
}

static int port_of(int s)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &l);
	return ntohs(a.sin_port);
}

/* pair connects a new socket to listener l and accepts it. */
static int pair(int l, int *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port_of(l)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = tcp();
	connect(s, (struct sockaddr *)&a, sizeof(a));
	settle(s, POLLOUT);
	*c = accept(l, NULL, NULL);
	connect(s, (struct sockaddr *)&a, sizeof(a));
	return s;
}

/* tcp_state returns the state /proc/net/tcp shows for a socket on
 * 127.0.0.1:port with inode 0 (one no descriptor refers to), or -1. */
static int tcp_state(int port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	int st = -1;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned lip, lport, s;
		unsigned long ino;
		if (sscanf(line, " %*d: %8x:%x %*8x:%*x %x %*x:%*x %*x:%*x %*x %*u %*d %lu", &lip, &lport, &s, &ino) == 4 &&
		    lip == htonl(INADDR_LOOPBACK) && lport == (unsigned)port && ino == 0)
			st = (int)s;
	}
	if (f)
		fclose(f);
	return st;
}

/* listen_pair makes a listener, *l, and a connection to it, whose
 * accepted socket is *c; it returns the connecting socket. */
static int listen_pair(int *l, int *c)
{
	*l = tcp();
	listen(*l, 4);
	return pair(*l, c);
}

/* full_listener returns a listener whose accept queue one connection,
 * *first, fills, with the address la, and a second connection, *waiting,
 * whose SYN it dropped. */
static int full_listener(struct sockaddr_in *la, int *first, int *waiting)
{
	int l = tcp();
	listen(l, 0);
	la->sin_port = htons(port_of(l));
	*first = tcp();
	connect(*first, (struct sockaddr *)la, sizeof(*la));
	settle(*first, POLLOUT);
	*waiting = tcp();
	CHECK_ERR("a connect the full listener cannot take", connect(*waiting, (struct sockaddr *)la, sizeof(*la)), EINPROGRESS);
	return l;
}

static void ports(void)
{
	int one = 1, c;
	char b[8] = {0};

	/* The server closes first: its port waits in TIME_WAIT. */
	int l = tcp(), port = closed_port();
	bind_lo(l, port);
	listen(l, 4);
	int s = pair(l, &c);
	close(l);
	int n = tcp();
	CHECK_ERR("a bind where an accepted connection lives", bind_lo(n, port), EADDRINUSE);
	struct sockaddr_in name;
	socklen_t nl = sizeof(name);
	CHECK("the failed bind cleared the address",
	      getsockname(n, (struct sockaddr *)&name, &nl) == 0 && name.sin_addr.s_addr == 0 && name.sin_port == 0);
	close(c);
	settle(s, POLLRDHUP);
	close(s);
	CHECK_ERR("a bind where it waits in TIME_WAIT", bind_lo(n, port), EADDRINUSE);
	setsockopt(n, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK_ERR("SO_REUSEADDR on one side only", bind_lo(n, port), EADDRINUSE);
	close(n);

	/* With SO_REUSEADDR on both sides, a new listener may bind. */
	l = tcp();
	port = closed_port();
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind_lo(l, port);
	listen(l, 4);
	s = pair(l, &c);
	int v = 0;
	socklen_t vl = sizeof(v);
	CHECK("the accepted socket inherits SO_REUSEADDR", getsockopt(c, SOL_SOCKET, SO_REUSEADDR, &v, &vl) == 0 && v == 1);
	close(l);
	close(c);
	settle(s, POLLRDHUP);
	close(s);
	n = tcp();
	setsockopt(n, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CHECK_EQ("both set SO_REUSEADDR", bind_lo(n, port), 0);
	CHECK_EQ("and it listens", listen(n, 1), 0);
	close(n);

	/* MSG_TRUNC takes bytes without copying them. */
	s = listen_pair(&l, &c);
	send(c, "abcdef", 6, 0);
	settle(s, POLLIN);
	CHECK_EQ("MSG_TRUNC takes 3 bytes", recv(s, b, 3, MSG_TRUNC), 3);
	CHECK("and leaves the buffer", b[0] == 0);
	CHECK_EQ("the rest", recv(s, b, sizeof(b), 0), 3);
	CHECK("follows them", b[0] == 'd');
	v = 0xff;
	setsockopt(s, IPPROTO_IP, IP_TOS, &v, sizeof(v));
	vl = sizeof(v);
	CHECK("TCP keeps IP_TOS's ECN bits", getsockopt(s, IPPROTO_IP, IP_TOS, &v, &vl) == 0 && v == 0xfc);
	close(s);
	close(c);
	close(l);

	/* MSG_MORE holds back less than a segment until a send without it,
	 * TCP_NODELAY, its FIN, or the peer's. */
	s = listen_pair(&l, &c);
	int q = -1;
	CHECK_EQ("a send with MSG_MORE", send(s, "abc", 3, MSG_MORE), 3);
	usleep(2000);
	CHECK_ERR("is held back", recv(c, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	CHECK("and outstanding", ioctl(s, SIOCOUTQ, &q) == 0 && q == 3);
	CHECK_EQ("a null send", send(s, "", 0, 0), 0);
	usleep(2000);
	CHECK_ERR("does not push it", recv(c, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("a send without MSG_MORE", send(s, "d", 1, 0), 1);
	settle(c, POLLIN);
	CHECK_EQ("pushes both", recv(c, b, sizeof(b), MSG_DONTWAIT), 4);
	CHECK_EQ("held again", send(s, "e", 1, MSG_MORE), 1);
	CHECK_EQ("TCP_NODELAY", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	settle(c, POLLIN);
	CHECK_EQ("pushes it", recv(c, b, sizeof(b), MSG_DONTWAIT), 1);
	v = 0;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v));
	CHECK_EQ("held again", send(s, "f", 1, MSG_MORE), 1);
	CHECK_EQ("shutdown", shutdown(s, SHUT_WR), 0);
	settle(c, POLLRDHUP);
	CHECK_EQ("sends it before the FIN", recv(c, b, sizeof(b), MSG_DONTWAIT), 1);
	close(s);
	close(c);
	s = pair(l, &c);
	CHECK_EQ("held", send(s, "h", 1, MSG_MORE), 1);
	close(c);
	CHECK_EQ("the peer's FIN pushes it, and the reset follows", settle(s, POLLERR), POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
	CHECK_ERR("so the next send", send(s, "i", 1, MSG_NOSIGNAL), EPIPE);
	close(s);
	close(l);

	/* A listener that closes resets the connections it did not accept. */
	l = tcp();
	listen(l, 4);
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(port_of(l)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	s = tcp();
	connect(s, (struct sockaddr *)&la, sizeof(la));
	settle(s, POLLOUT);
	close(l);
	settle(s, POLLERR);
	CHECK_ERR("a listener's close resets what it did not accept", recv(s, b, sizeof(b), MSG_DONTWAIT), ECONNRESET);
	close(s);

	/* A connection's SYN that a full listener dropped learns of the
	 * listener's close only when it is sent again, a second later. */
	int f;
	l = full_listener(&la, &f, &s);
	close(l);
	usleep(2000);
	CHECK_ERR("still connecting after the listener's close", connect(s, (struct sockaddr *)&la, sizeof(la)), EALREADY);
	close(s);
	close(f);

	/* An accepted connection gives its port back when it ends. */
	l = tcp();
	int lp = closed_port();
	bind_lo(l, lp);
	listen(l, 4);
	s = pair(l, &c);
	send(c, "x", 1, 0);
	settle(s, POLLIN);
	close(s);
	settle(c, POLLERR);
	CHECK_ERR("the accepted socket is reset", recv(c, b, sizeof(b), MSG_DONTWAIT), ECONNRESET);
	CHECK_EQ("and may bind again", bind_lo(c, closed_port()), 0);
	close(c);
	close(l);

	/* A socket closed first lingers in FIN_WAIT2, holding its port,
	 * until its peer closes; then TIME_WAIT holds it, and /proc/net/tcp
	 * shows both. */
	l = tcp();
	lp = closed_port();
	bind_lo(l, lp);
	listen(l, 4);
	s = pair(l, &c);
	close(l);
	close(c);
	settle(s, POLLRDHUP);
	n = tcp();
	CHECK_ERR("a bind where the closed socket lingers", bind_lo(n, lp), EADDRINUSE);
	int st = tcp_state(lp);
	CHECK("/proc/net/tcp shows it in FIN_WAIT1 or 2", st == 4 || st == 5);
	close(s);
	usleep(2000);
	CHECK_ERR("and where it waits in TIME_WAIT", bind_lo(n, lp), EADDRINUSE);
	CHECK_EQ("/proc/net/tcp shows that", tcp_state(lp), 6);
	close(n);

	/* A socket shut for sending before it listens: its connections
	 * send their FIN as soon as they are established. */
	l = tcp();
	CHECK_ERR("shutdown before listen", shutdown(l, SHUT_WR), ENOTCONN);
	CHECK_EQ("listen", listen(l, 4), 0);
	s = pair(l, &c);
	settle(s, POLLRDHUP);
	CHECK_EQ("the client reads end of file", recv(s, b, sizeof(b), MSG_DONTWAIT), 0);
	close(s);
	close(c);
	close(l);

	/* Data for a socket shut both ways (in FIN_WAIT, with nothing more
	 * to read) draws a reset. */
	s = listen_pair(&l, &c);
	shutdown(c, SHUT_RDWR);
	settle(s, POLLRDHUP);
	CHECK_EQ("a send to it", send(s, "x", 1, MSG_NOSIGNAL), 1);
	settle(s, POLLERR);
	CHECK_ERR("is reset: the pending error", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	close(s);
	close(c);
	close(l);

	/* A connecting socket has its source address; a socket that
	 * listened gives its port back when it may not connect. */
	l = full_listener(&la, &f, &s);
	nl = sizeof(name);
	CHECK("a connecting socket's name has the source address",
	      getsockname(s, (struct sockaddr *)&name, &nl) == 0 && name.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	close(s);
	close(f);
	close(l);
	s = tcp();
	listen(s, 1);
	shutdown(s, SHUT_RD);
	CHECK_EQ("a socket that listened binds", bind_lo(s, 0), 0);
	CHECK_ERR("connect of a socket that listened", connect(s, (struct sockaddr *)&la, sizeof(la)), EINVAL);
	CHECK_EQ("gave the port back", bind_lo(s, 0), 0);
	close(s);

	/* A refused socket bound again keeps that port when a connect
	 * reports the refusal. */
	s = tcp();
	struct sockaddr_in closed = {.sin_family = AF_INET, .sin_port = htons(closed_port()), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	connect(s, (struct sockaddr *)&closed, sizeof(closed));
	settle(s, POLLERR);
	CHECK_EQ("bind the refused socket", bind_lo(s, 0), 0);
	CHECK_ERR("connect reports the refusal", connect(s, (struct sockaddr *)&closed, sizeof(closed)), ECONNREFUSED);
	CHECK_ERR("the port it bound stays", bind_lo(s, 0), EINVAL);
	close(s);
}

/* later checks the socket layer's state and what a peer's close does. */
static void later(struct sockaddr_in *closed)
{
	struct sockaddr_in un = {.sin_family = AF_UNSPEC};
	char b[4];
	int s = tcp();
	connect(s, (struct sockaddr *)closed, sizeof(*closed));
	settle(s, POLLERR);
	CHECK_ERR("listen while connecting", listen(s, 1), EINVAL);
	CHECK_ERR("connect again reports the refusal", connect(s, (struct sockaddr *)closed, sizeof(*closed)), ECONNREFUSED);
	struct sockaddr_in n;
	socklen_t nl = sizeof(n);
	CHECK("and disconnects: the source address goes",
	      getsockname(s, (struct sockaddr *)&n, &nl) == 0 && n.sin_addr.s_addr == 0);
	CHECK_EQ("it polls writable and hung up", events(s), POLLOUT | POLLHUP);
	CHECK_ERR("a new connect", connect(s, (struct sockaddr *)closed, sizeof(*closed)), EINPROGRESS);
	settle(s, POLLERR);
	CHECK_ERR("whose refusal a read takes", recv(s, b, 1, 0), ECONNREFUSED);
	CHECK_ERR("so connect has none to report", connect(s, (struct sockaddr *)closed, sizeof(*closed)), ECONNABORTED);
	CHECK_ERR("a socket that connected may not listen", listen(s, 1), EINVAL);
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_ERR("and that listen bound a port", bind(s, (struct sockaddr *)&lo, sizeof(lo)), EINVAL);
	close(s);

	s = tcp();
	connect(s, (struct sockaddr *)closed, sizeof(*closed));
	settle(s, POLLERR);
	CHECK_ERR("shutdown of a refused socket", shutdown(s, SHUT_RD), ENOTCONN);
	CHECK_ERR("then connect", connect(s, (struct sockaddr *)closed, sizeof(*closed)), EINVAL);
	close(s);

	int l = tcp();
	CHECK_EQ("listen", listen(l, 4), 0);
	CHECK_ERR("connect of a listener", connect(l, (struct sockaddr *)closed, sizeof(*closed)), EISCONN);
	struct sockaddr_in la;
	socklen_t lal = sizeof(la);
	getsockname(l, (struct sockaddr *)&la, &lal);
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = tcp();
	CHECK_EQ("shutdown stops a listener", (listen(s, 1), shutdown(s, SHUT_RD)), 0);
	CHECK_ERR("a socket that listened may not connect", connect(s, (struct sockaddr *)&la, sizeof(la)), EINVAL);
	close(s);

	/* AF_UNSPEC resets a connection. */
	s = tcp();
	connect(s, (struct sockaddr *)&la, sizeof(la));
	settle(s, POLLOUT);
	int c = accept(l, NULL, NULL);
	CHECK("accepted", c >= 0);
	CHECK_EQ("connect reports the connection", connect(s, (struct sockaddr *)&la, sizeof(la)), 0);
	CHECK_EQ("connect with AF_UNSPEC", connect(s, (struct sockaddr *)&un, sizeof(un)), 0);
	CHECK_EQ("which resets: ECONNRESET pending", so_error(s), ECONNRESET);
	CHECK_EQ("no peer", peer_errno(s), ENOTCONN);
	settle(c, POLLERR);
	CHECK_ERR("the peer reads the reset", recv(c, b, 1, MSG_DONTWAIT), ECONNRESET);
	close(c);
	CHECK_ERR("the socket connects again", connect(s, (struct sockaddr *)&la, sizeof(la)), EINPROGRESS);
	settle(s, POLLOUT);
	c = accept(l, NULL, NULL);

	/* The peer closes: a send still goes, and draws a reset. */
	close(c);
	CHECK_EQ("the peer's FIN", settle(s, POLLRDHUP), POLLIN | POLLOUT | POLLRDHUP);
	CHECK_EQ("a send to a closed peer", send(s, "x", 1, MSG_NOSIGNAL), 1);
	CHECK_EQ("draws a reset", settle(s, POLLERR), POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
	CHECK_EQ("no peer", peer_errno(s), ENOTCONN);
	CHECK_ERR("the next send", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK_EQ("a read: end of file", recv(s, b, 1, 0), 0);
	CHECK_ERR("the connect after EINPROGRESS finds it over", connect(s, (struct sockaddr *)&la, sizeof(la)), ECONNABORTED);
	close(s);
	close(l);

	/* Connecting to its own address connects a socket to itself. */
	s = tcp();
	struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(closed_port()), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s, (struct sockaddr *)&me, sizeof(me));
	CHECK_ERR("connect to itself", connect(s, (struct sockaddr *)&me, sizeof(me)), EINPROGRESS);
	settle(s, POLLOUT);
	CHECK_EQ("connected", connect(s, (struct sockaddr *)&me, sizeof(me)), 0);
	CHECK_ERR("a null read waits for a byte", recv(s, b, 0, MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("it sends", send(s, "hi", 2, 0), 2);
	settle(s, POLLIN);
	CHECK_EQ("a null read with a byte there", recv(s, b, 0, MSG_DONTWAIT), 0);
	CHECK_EQ("to itself", recv(s, b, sizeof(b), MSG_DONTWAIT), 2);
	close(s);
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

	later(&a);
	ports();
	return check_done();
}
