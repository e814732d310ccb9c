// udp_loopback: UDP over 127.0.0.1 and ::1: datagram boundaries, sender
// addresses, connected UDP (filtering and ECONNREFUSED), MSG_TRUNC,
// IPv4-mapped IPv6, EADDRNOTAVAIL off loopback, bad input.
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sockios.h>

static int bound4(struct sockaddr_in *sa)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(*sa);
	if (bind(s, (struct sockaddr *)sa, sizeof(*sa)) || getsockname(s, (struct sockaddr *)sa, &l))
		return -1;
	return s;
}

int main(void)
{
	struct sockaddr_in a, b, from;
	socklen_t fl;
	char buf[64];
	int sa = bound4(&a), sb = bound4(&b);
	REQUIRE("bound", sa >= 0 && sb >= 0);
	CHECK_EQ("sendto 1", sendto(sa, "one", 3, 0, (struct sockaddr *)&b, sizeof(b)), 3);
	CHECK_EQ("sendto 2", sendto(sa, "second", 6, 0, (struct sockaddr *)&b, sizeof(b)), 6);
	/* Wait for the first datagram (native loopback may defer delivery). */
	CHECK_EQ("peek", recv(sb, buf, sizeof(buf), MSG_PEEK), 3);
	int n = -1;
	CHECK_OK("SIOCINQ", ioctl(sb, SIOCINQ, &n));
	CHECK_EQ("SIOCINQ next datagram", n, 3);
	fl = sizeof(from);
	CHECK_EQ("recvfrom 1", recvfrom(sb, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 3);
	CHECK("from a", fl == sizeof(from) && from.sin_port == a.sin_port &&
			    from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK_EQ("MSG_TRUNC", recv(sb, buf, 2, MSG_TRUNC), 6);
	CHECK_ERR("empty", recv(sb, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	CHECK_ERR("send unconnected", send(sa, "x", 1, 0), EDESTADDRREQ);

	/* Across processes. */
	pid_t pid = fork();
	if (pid == 0) {
		char b2[16];
		struct sockaddr_in f;
		socklen_t l = sizeof(f);
		int k = recvfrom(sb, b2, sizeof(b2), 0, (struct sockaddr *)&f, &l);
		if (k != 4 || sendto(sb, "pong", 4, 0, (struct sockaddr *)&f, l) != 4)
			_exit(1);
		_exit(0);
	}
	CHECK_EQ("ping", sendto(sa, "ping", 4, 0, (struct sockaddr *)&b, sizeof(b)), 4);
	CHECK_EQ("pong", recv(sa, buf, sizeof(buf), 0), 4);
	int status;
	waitpid(pid, &status, 0);
	CHECK("child", WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Connected UDP: only the peer's datagrams arrive. */
	CHECK_OK("connect", connect(sb, (struct sockaddr *)&a, sizeof(a)));
	struct sockaddr_in c;
	int sc = bound4(&c);
	sendto(sc, "stranger", 8, 0, (struct sockaddr *)&b, sizeof(b));
	sendto(sa, "friend", 6, 0, (struct sockaddr *)&b, sizeof(b));
	CHECK_EQ("only the peer", recv(sb, buf, sizeof(buf), 0), 6);
	CHECK_ERR("stranger dropped", recv(sb, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("send connected", send(sb, "hi", 2, 0), 2);
	CHECK_EQ("recv from connected", recv(sa, buf, sizeof(buf), 0), 2);
	fl = sizeof(from);
	CHECK_OK("getpeername", getpeername(sb, (struct sockaddr *)&from, &fl));
	CHECK("getpeername port", from.sin_port == a.sin_port);

	/* Connected to a closed port: ECONNREFUSED on the next call. */
	close(sc);
	int sd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK_OK("connect closed port", connect(sd, (struct sockaddr *)&c, sizeof(c)));
	struct timeval tv = {.tv_sec = 10};
	setsockopt(sd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK_EQ("send to closed port", send(sd, "x", 1, 0), 1);
	CHECK_ERR("ECONNREFUSED", recv(sd, buf, sizeof(buf), 0), ECONNREFUSED);
	close(sd);

	/* IPv6: ::1, and an IPv4 sender seen IPv4-mapped. */
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT}, f6;
	socklen_t a6l = sizeof(a6);
	CHECK_OK("bind ::", bind(s6, (struct sockaddr *)&a6, sizeof(a6)));
	getsockname(s6, (struct sockaddr *)&a6, &a6l);
	int c6 = socket(AF_INET6, SOCK_DGRAM, 0);
	a6.sin6_addr = in6addr_loopback;
	CHECK_EQ("sendto ::1", sendto(c6, "six", 3, 0, (struct sockaddr *)&a6, sizeof(a6)), 3);
	socklen_t f6l = sizeof(f6);
	CHECK_EQ("recv ::1", recvfrom(s6, buf, sizeof(buf), 0, (struct sockaddr *)&f6, &f6l), 3);
	CHECK("from ::1", f6l == sizeof(f6) && IN6_IS_ADDR_LOOPBACK(&f6.sin6_addr));
	struct sockaddr_in to4 = {.sin_family = AF_INET, .sin_port = a6.sin6_port,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_EQ("v4 to dual-stack", sendto(sa, "four", 4, 0, (struct sockaddr *)&to4, sizeof(to4)), 4);
	f6l = sizeof(f6);
	CHECK_EQ("recv v4", recvfrom(s6, buf, sizeof(buf), 0, (struct sockaddr *)&f6, &f6l), 4);
	CHECK("from v4-mapped", IN6_IS_ADDR_V4MAPPED(&f6.sin6_addr));
	close(s6);
	close(c6);

	/* Off loopback and bad input. */
	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9)};
	inet_pton(AF_INET, "192.0.2.1", &far.sin_addr);
	CHECK_ERR("EADDRNOTAVAIL", bind(socket(AF_INET, SOCK_DGRAM, 0), (struct sockaddr *)&far, sizeof(far)), EADDRNOTAVAIL);
	CHECK_ERR("short sockaddr", sendto(sa, "x", 1, 0, (struct sockaddr *)&b, 4), EINVAL);
	CHECK_ERR("socketpair inet", socketpair(AF_INET, SOCK_DGRAM, 0, (int[2]){0}), EOPNOTSUPP);
	CHECK_ERR("udp protocol mismatch", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
	static char big[70000];
	CHECK_ERR("EMSGSIZE", sendto(sa, big, sizeof(big), 0, (struct sockaddr *)&b, sizeof(b)), EMSGSIZE);
	close(sa);
	close(sb);
	return check_done();
}
