// unix_dgram: AF_UNIX SOCK_DGRAM and SOCK_SEQPACKET message boundaries,
// MSG_TRUNC, sender addresses, connected datagram sockets, sendmmsg and
// recvmmsg.
#include "check.h"

#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/sockios.h>

static socklen_t abs_addr(struct sockaddr_un *sa, const char *tag)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "unix_dgram.%s.%d", tag, getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void boundaries(int type, const char *name)
{
	int sv[2];
	char buf[64], what[64];
	snprintf(what, sizeof(what), "%s socketpair", name);
	CHECK_OK(what, socketpair(AF_UNIX, type, 0, sv));
	send(sv[0], "one", 3, 0);
	send(sv[0], "three", 5, 0);
	send(sv[0], "", 0, 0);
	send(sv[0], "longmessage", 11, 0);
	int n = -1;
	ioctl(sv[1], SIOCINQ, &n);
	snprintf(what, sizeof(what), "%s SIOCINQ", name);
	CHECK_EQ(what, n, type == SOCK_DGRAM ? 3 : 19);
	snprintf(what, sizeof(what), "%s first", name);
	CHECK_EQ(what, recv(sv[1], buf, sizeof(buf), 0), 3);
	snprintf(what, sizeof(what), "%s peek", name);
	CHECK_EQ(what, recv(sv[1], buf, sizeof(buf), MSG_PEEK), 5);
	snprintf(what, sizeof(what), "%s second", name);
	CHECK_EQ(what, recv(sv[1], buf, sizeof(buf), 0), 5);
	CHECK("second data", memcmp(buf, "three", 5) == 0);
	snprintf(what, sizeof(what), "%s empty", name);
	CHECK_EQ(what, recv(sv[1], buf, sizeof(buf), 0), 0);
	struct iovec iov = {.iov_base = buf, .iov_len = 4};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	snprintf(what, sizeof(what), "%s truncated", name);
	CHECK_EQ(what, recvmsg(sv[1], &m, 0), 4);
	snprintf(what, sizeof(what), "%s MSG_TRUNC flag", name);
	CHECK_EQ(what, m.msg_flags & MSG_TRUNC, MSG_TRUNC);
	snprintf(what, sizeof(what), "%s rest discarded", name);
	CHECK_ERR(what, recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	send(sv[0], "0123456789", 10, 0);
	snprintf(what, sizeof(what), "%s MSG_TRUNC real length", name);
	CHECK_EQ(what, recv(sv[1], buf, 2, MSG_TRUNC), 10);
	close(sv[0]);
	snprintf(what, sizeof(what), "%s after peer close", name);
	if (type == SOCK_SEQPACKET)
		CHECK_EQ(what, recv(sv[1], buf, sizeof(buf), 0), 0);
	else
		CHECK_ERR(what, recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	close(sv[1]);
}

static void dgram_names(void)
{
	struct sockaddr_un a, b, from;
	socklen_t al = abs_addr(&a, "a"), bl = abs_addr(&b, "b"), fl;
	char buf[32];
	int sa = socket(AF_UNIX, SOCK_DGRAM, 0), sb = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_OK("bind a", bind(sa, (struct sockaddr *)&a, al));
	CHECK_OK("bind b", bind(sb, (struct sockaddr *)&b, bl));
	CHECK_EQ("sendto", sendto(sa, "hi", 2, 0, (struct sockaddr *)&b, bl), 2);
	fl = sizeof(from);
	CHECK_EQ("recvfrom", recvfrom(sb, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 2);
	CHECK_EQ("recvfrom len", fl, al);
	CHECK("recvfrom addr", memcmp(&from, &a, al) == 0);
	CHECK_ERR("send unconnected", send(sa, "x", 1, 0), ENOTCONN);
	CHECK_OK("connect", connect(sa, (struct sockaddr *)&b, bl));
	CHECK_EQ("send connected", send(sa, "yo", 2, 0), 2);
	CHECK_EQ("recv connected", recv(sb, buf, sizeof(buf), 0), 2);
	fl = sizeof(from);
	CHECK_OK("getpeername", getpeername(sa, (struct sockaddr *)&from, &fl));
	CHECK_EQ("getpeername len", fl, bl);

	/* A socket connected elsewhere refuses others: EPERM. */
	int sc = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_OK("b connects to a", connect(sb, (struct sockaddr *)&a, al));
	CHECK_ERR("EPERM to connected", sendto(sc, "x", 1, 0, (struct sockaddr *)&a, al), EPERM);

	/* Unconnected sender: no address reported. */
	int sd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un d;
	socklen_t dl = abs_addr(&d, "d");
	bind(sd, (struct sockaddr *)&d, dl);
	sendto(sc, "anon", 4, 0, (struct sockaddr *)&d, dl);
	fl = sizeof(from);
	CHECK_EQ("recv from unbound", recvfrom(sd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 4);
	CHECK_EQ("unbound sender addrlen", fl, 0);

	/* sendmmsg / recvmmsg. */
	struct mmsghdr mm[3];
	struct iovec iov[3];
	char bufs[3][8];
	const char *words[3] = {"a", "bb", "ccc"};
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = (void *)words[i];
		iov[i].iov_len = strlen(words[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &d;
		mm[i].msg_hdr.msg_namelen = dl;
	}
	CHECK_EQ("sendmmsg", sendmmsg(sc, mm, 3, 0), 3);
	CHECK_EQ("sendmmsg len", mm[2].msg_len, 3);
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK_EQ("recvmmsg", recvmmsg(sd, mm, 3, MSG_DONTWAIT, NULL), 3);
	CHECK_EQ("recvmmsg lens", mm[0].msg_len * 100 + mm[1].msg_len * 10 + mm[2].msg_len, 123);
	CHECK_ERR("recvmmsg empty", recvmmsg(sd, mm, 3, MSG_DONTWAIT, NULL), EAGAIN);

	/* Too large for the send buffer. */
	int v = 4096;
	setsockopt(sc, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	static char big[16384];
	CHECK_ERR("EMSGSIZE", sendto(sc, big, sizeof(big), 0, (struct sockaddr *)&d, dl), EMSGSIZE);
	close(sa);
	CHECK_ERR("to closed name", sendto(sc, "x", 1, 0, (struct sockaddr *)&a, al), ECONNREFUSED);
	close(sb);
	close(sc);
	close(sd);
}

int main(void)
{
	boundaries(SOCK_DGRAM, "dgram");
	boundaries(SOCK_SEQPACKET, "seqpacket");
	dgram_names();

	/* SEQPACKET over a listening socket. */
	struct sockaddr_un l;
	socklen_t ll = abs_addr(&l, "l");
	int ls = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK_OK("seqpacket bind", bind(ls, (struct sockaddr *)&l, ll));
	CHECK_OK("seqpacket listen", listen(ls, 4));
	int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK_OK("seqpacket connect", connect(c, (struct sockaddr *)&l, ll));
	int a = accept(ls, NULL, NULL);
	CHECK("seqpacket accept", a >= 0);
	send(c, "rec1", 4, 0);
	send(c, "record2", 7, 0);
	char buf[32];
	CHECK_EQ("seqpacket rec1", recv(a, buf, sizeof(buf), 0), 4);
	CHECK_EQ("seqpacket rec2", recv(a, buf, sizeof(buf), 0), 7);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR("type mismatch abstract", connect(s, (struct sockaddr *)&l, ll), ECONNREFUSED);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_ERR("dgram listen", listen(d, 1), EOPNOTSUPP);
	int sq = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK_ERR("seqpacket send unconnected", send(sq, "x", 1, MSG_NOSIGNAL), ENOTCONN);
	return check_done();
}
