/* inetfuzz: random TCP and UDP socket calls over IPv4 loopback on six
 * descriptor slots, one line a call with what it returned: errno; bytes
 * sent; bytes received with their checksum, the message flags and the
 * sender's address; socket options; poll's events with no wait. Sockets
 * are bound to one of three ports (or any), connected, listening,
 * accepted, shut down and closed in any order, all non-blocking, and a
 * non-blocking connect is given a moment to complete, as loopback's does
 * at once. Nothing printed depends on the run: addresses are printed as
 * which of the fuzzer's ports they are ("ephemeral" for one the kernel
 * chose). Run it natively and in the sandbox and compare the lines (the
 * sentry's loopback UDP, and with "tcp" TCP too, against Linux's):
 *
 *   bin/inetfuzz 1 500 >native; bin/runsc do -- $PWD/bin/inetfuzz 1 500 >sandbox
 *
 * `make fuzz` does so (test/e2e/fuzz.sh), natively in a network namespace
 * of its own. It found the differences fixed on 2026-12-03 in UDP (test
 * udp_order) and TCP (tcp_order): among them the socket layer's state
 * apart from the connection's, connections that end by FIN or reset,
 * MSG_MORE, and TIME_WAIT and orphans holding ports. Its ports lie below
 * the ephemeral range, where the kernel's random choices cannot meet them.
 *
 * Usage: inetfuzz SEED CALLS [tcp] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static uint64_t rng;
#define RNG rng
#include "fuzz.h"
#include "slots.h"

#define NPORTS 3

static int base, with_tcp;

/* address fills sa with 127.0.0.1 (or INADDR_ANY if any) and the
 * fuzzer's port k (k < NPORTS) or port 0. */
static socklen_t address(struct sockaddr_in *sa, int k, int any)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
	sa->sin_port = k < NPORTS ? htons(base + k) : 0;
	return sizeof(*sa);
}

/* print_addr prints which of the fuzzer's addresses sa is. */
static void print_addr(const void *p, socklen_t len)
{
	const struct sockaddr_in *sa = p;
	if (len != sizeof(*sa) || sa->sin_family != AF_INET) {
		printf(" addr(len %u family %d)", len, len >= 2 ? sa->sin_family : -1);
		return;
	}
	uint32_t a = ntohl(sa->sin_addr.s_addr);
	const char *host = a == INADDR_LOOPBACK ? "lo" : a == INADDR_ANY ? "any" : "other";
	int port = ntohs(sa->sin_port);
	if (port == 0)
		printf(" %s:0", host);
	else if (port >= base && port < base + NPORTS)
		printf(" %s:%c", host, 'a' + port - base);
	else
		printf(" %s:ephemeral", host);
}

static void do_send(int s)
{
	unsigned char buf[1000];
	size_t n = random_len();
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)next();
	int flags = MSG_DONTWAIT | MSG_NOSIGNAL;
	if (below(6) == 0)
		flags |= MSG_MORE;
	struct sockaddr_in sa;
	int k = below(3) == 0 ? (int)below(NPORTS + 1) : -1;
	printf("send s%d len %zu flags %#x to %d", s, n, flags, k);
	if (k >= 0) {
		socklen_t l = address(&sa, k, 0);
		result(sendto(slot[s], buf, n, flags, (struct sockaddr *)&sa, l));
	} else {
		result(send(slot[s], buf, n, flags));
	}
}

static void do_recv(int s)
{
	/* Zeroed: a TCP read with MSG_TRUNC copies nothing into it. */
	unsigned char buf[1000] = {0};
	size_t n = random_len();
	int flags = MSG_DONTWAIT;
	switch (below(5)) {
	case 0:
		flags |= MSG_PEEK;
		break;
	case 1:
		flags |= MSG_TRUNC;
		break;
	case 2:
		flags |= MSG_WAITALL;
		break;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	struct iovec iov = {buf, n};
	struct msghdr m = {.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
	printf("recv s%d len %zu flags %#x", s, n, flags);
	ssize_t r = recvmsg(slot[s], &m, flags);
	if (r < 0) {
		result(r);
		return;
	}
	printf(" = %zd %08x mflags %#x", r, checksum(buf, (size_t)r < n ? (size_t)r : n), m.msg_flags);
	if (m.msg_namelen)
		print_addr(&sa, m.msg_namelen);
	printf("\n");
}

static void do_sockopt(int s)
{
	static const int opts[][2] = {
		{SOL_SOCKET, SO_TYPE}, {SOL_SOCKET, SO_ERROR}, {SOL_SOCKET, SO_ACCEPTCONN},
		{SOL_SOCKET, SO_REUSEADDR}, {SOL_SOCKET, SO_REUSEPORT}, {SOL_SOCKET, SO_KEEPALIVE},
		{SOL_SOCKET, SO_BROADCAST}, {SOL_SOCKET, SO_DOMAIN}, {SOL_SOCKET, SO_PROTOCOL},
		{IPPROTO_TCP, TCP_NODELAY}, {IPPROTO_IP, IP_TTL}, {IPPROTO_IP, IP_TOS},
	};
	int k = (int)below(12);
	int level = opts[k][0], o = opts[k][1];
	if (below(2)) {
		int v = -1;
		socklen_t l = sizeof(v);
		printf("getsockopt s%d %d/%d", s, level, o);
		if (getsockopt(slot[s], level, o, &v, &l) < 0)
			result(-1);
		else
			printf(" = %d (len %u)\n", v, l);
	} else {
		static const int vals[] = {0, 1, 64, 255};
		int v = vals[below(4)];
		printf("setsockopt s%d %d/%d %d", s, level, o, v);
		result(setsockopt(slot[s], level, o, &v, sizeof(v)));
	}
}

/* settle gives a loopback connection or segment a moment to arrive: on
 * Linux a non-blocking connect returns EINPROGRESS and its handshake,
 * like a segment, completes in softirq context just after. */
static void settle(void) { usleep(200); }

static void call(void)
{
	int s = (int)below(NSLOTS), t = (int)below(NSLOTS);
	struct sockaddr_in sa;
	socklen_t len;
	switch (below(20)) {
	case 0:
	case 1: {
		int tcp = with_tcp ? (int)below(2) : 0;
		printf("socket s%d %s", s, tcp ? "tcp" : "udp");
		int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		result(fd < 0 ? -1 : 0);
		if (fd >= 0)
			put(s, fd);
		break;
	}
	case 2:
	case 3: {
		int k = (int)below(NPORTS + 1), any = below(3) == 0;
		printf("bind s%d %d any %d", s, k, any);
		len = address(&sa, k, any);
		result(bind(slot[s], (struct sockaddr *)&sa, len));
		break;
	}
	case 4: {
		int backlog = (int)below(3) * 2;
		printf("listen s%d %d", s, backlog);
		result(listen(slot[s], backlog));
		break;
	}
	case 5:
	case 6: {
		int k = (int)below(NPORTS + 1);
		printf("connect s%d %d", s, k);
		len = address(&sa, k, 0);
		result(connect(slot[s], (struct sockaddr *)&sa, len));
		settle();
		break;
	}
	case 7:
		do_accept(s, t, print_addr);
		break;
	case 8:
	case 9:
	case 10:
		do_send(s);
		settle();
		break;
	case 11:
	case 12:
	case 13:
		do_recv(s);
		settle();
		break;
	case 14: {
		int how = (int)below(4);
		printf("shutdown s%d %d", s, how);
		result(shutdown(slot[s], how));
		settle();
		break;
	}
	case 15:
		printf("close s%d", s);
		result(slot[s] < 0 ? (errno = EBADF, -1) : close(slot[s]));
		slot[s] = -1;
		settle();
		break;
	case 16: {
		int peer = below(2);
		printf("%s s%d", peer ? "getpeername" : "getsockname", s);
		len = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		int r = peer ? getpeername(slot[s], (struct sockaddr *)&sa, &len) : getsockname(slot[s], (struct sockaddr *)&sa, &len);
		if (r < 0) {
			result(r);
			break;
		}
		printf(" =");
		print_addr(&sa, len);
		printf("\n");
		break;
	}
	case 17:
		do_sockopt(s);
		break;
	case 18:
		do_poll(s);
		break;
	default:
		do_fionread(s);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "tcp") == 0)) {
		fprintf(stderr, "usage: inetfuzz SEED CALLS [tcp]\n");
		return 2;
	}
	with_tcp = argc == 4;
	rng = seed_from(argv[1]);
	long calls = atol(argv[2]);
	/* The ports are this run's (the host's loopback is shared), and
	 * below Linux's ephemeral range (32768-60999), from which the
	 * kernel picks ports for the fuzzer's own sockets at random. */
	base = 20000 + (int)(getpid() % 3000) * 4;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	signal(SIGPIPE, SIG_IGN);
	for (long i = 0; i < calls; i++) {
		printf("%ld: ", i);
		call();
	}
	printf("inetfuzz: ok: %ld calls\n", calls);
	return 0;
}
