// unix_oob: out-of-band data on AF_UNIX SOCK_STREAM sockets (MSG_OOB,
// CONFIG_AF_UNIX_OOB, Linux 5.15 and later), as Linux 6.18 does it (its
// selftest net/af_unix/msg_oob.c lists many of these sequences).
//
// send(MSG_OOB) makes the last byte sent the OOB byte: the receiver polls
// POLLPRI, SIGURG goes to its F_SETOWN owner, and recv(MSG_OOB) (with
// MSG_OOB in msg_flags) takes it; MSG_PEEK leaves it. Only the last OOB
// byte is: an earlier one becomes plain data. An ordinary read stops
// before the OOB byte once it has read something, and one that starts at
// it passes over it, which loses it (EAGAIN if nothing follows); a peek
// passes over it without taking it. Unlike TCP, a byte taken with MSG_OOB
// leaves an empty skb in the queue: the socket still polls POLLIN, is at
// the mark (SIOCATMARK 1), and a read stops there unless another OOB byte
// is pending; the receiver closing with only that left is no ECONNRESET
// for its peer. recv(MSG_OOB) with no byte pending, or with SO_OOBINLINE
// (which reads the OOB byte inline), is EINVAL; with a zero-length buffer
// it takes the byte and returns 1. Datagram and seqpacket sockets refuse
// MSG_OOB (EOPNOTSUPP, seqpacket after ENOTCONN) and SIOCATMARK, and so
// does a stream send of nothing.
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IN POLLIN
#define PRI POLLPRI

static char got[64];

static int pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
}

static void close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* check_state checks the receiver's poll bits (of POLLIN|POLLPRI|POLLHUP)
 * and SIOCATMARK. */
static void check_state(const char *name, int fd, int bits, int mark)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLPRI};
	int m = -1;
	if (poll(&p, 1, 0) < 0 || ioctl(fd, SIOCATMARK, &m) < 0)
		check_fail(name, "poll or SIOCATMARK failed: %s", check_errname(errno));
	else if ((p.revents & (POLLIN | POLLPRI | POLLHUP)) != bits || m != mark)
		check_fail(name, "revents %#x atmark %d, want %#x %d", p.revents, m, bits, mark);
	else
		check_ok(name);
}

/* check_recv checks that recv(fd, n, flags) returns the bytes want. */
static void check_recv(const char *name, int fd, int n, int flags, const char *want)
{
	memset(got, 0, sizeof(got));
	int r = recv(fd, got, n, flags | MSG_DONTWAIT);
	if (r < 0)
		check_fail(name, "recv: %s, want \"%s\"", check_errname(errno), want);
	else if (r != (int)strlen(want) || memcmp(got, want, r) != 0)
		check_fail(name, "recv = %d \"%s\", want \"%s\"", r, got, want);
	else
		check_ok(name);
}

static int recv_err(int fd, int n, int flags)
{
	return recv(fd, got, n, flags | MSG_DONTWAIT);
}

static void test_basic(void)
{
	int sv[2];
	REQUIRE("socketpair", pair(sv) == 0);
	check_state("nothing queued", sv[1], 0, 0);
	CHECK_EQ("send abc oob", send(sv[0], "abc", 3, MSG_OOB), 3);
	check_state("oob queued: pri, not at mark", sv[1], IN | PRI, 0);

	struct iovec iov = {got, sizeof(got)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	memset(got, 0, sizeof(got));
	int r = recvmsg(sv[1], &mh, MSG_OOB | MSG_PEEK);
	CHECK("peek oob is c with MSG_OOB", r == 1 && got[0] == 'c' && mh.msg_flags == MSG_OOB);
	check_recv("read stops at the mark", sv[1], 10, 0, "ab");
	check_state("at the mark, still pending", sv[1], IN | PRI, 1);
	check_recv("recv oob", sv[1], 10, MSG_OOB, "c");
	CHECK_ERR("recv oob again", recv_err(sv[1], 10, MSG_OOB), EINVAL);
	check_state("taken byte stays queued, at mark", sv[1], IN, 1);
	int n = -1;
	CHECK("FIONREAD leaves the taken byte out", ioctl(sv[1], FIONREAD, &n) == 0 && n == 0);
	CHECK_ERR("read passes the taken byte", recv_err(sv[1], 10, 0), EAGAIN);
	check_state("then nothing queued", sv[1], 0, 0);
	close_pair(sv);
}

static void test_ex_oob(void)
{
	int sv[2];
	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[0], "def", 3, 0);
	send(sv[0], "g", 1, MSG_OOB);
	send(sv[0], "hij", 3, 0);
	send(sv[0], "k", 1, MSG_OOB);
	check_state("two oob sends", sv[1], IN | PRI, 0);
	check_recv("earlier oob byte is data", sv[1], 20, 0, "defghij");
	check_state("at the last mark", sv[1], IN | PRI, 1);
	check_recv("last is the oob byte", sv[1], 10, MSG_OOB, "k");
	close_pair(sv);

	/* A taken byte is passed over while another is pending. */
	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[0], "hello", 5, MSG_OOB);
	send(sv[0], "wor", 3, MSG_OOB);
	check_recv("take r", sv[1], 1, MSG_OOB, "r");
	send(sv[0], "ld", 2, MSG_OOB);
	check_recv("read past taken r to the mark", sv[1], 10, 0, "hellowol");
	check_state("at mark d", sv[1], IN | PRI, 1);
	check_recv("take d", sv[1], 1, MSG_OOB, "d");
	close_pair(sv);
}

static void test_drop_and_peek(void)
{
	int sv[2];
	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[0], "xy", 2, MSG_OOB);
	send(sv[0], "z", 1, 0);
	check_recv("peek stops at the mark", sv[1], 10, MSG_PEEK, "x");
	check_recv("read x", sv[1], 10, 0, "x");
	check_recv("peek at the mark passes over it", sv[1], 10, MSG_PEEK, "z");
	check_state("peek left the oob byte", sv[1], IN | PRI, 1);
	check_recv("read at the mark loses the oob byte", sv[1], 10, 0, "z");
	CHECK_ERR("lost oob byte", recv_err(sv[1], 1, MSG_OOB), EINVAL);
	check_state("nothing left", sv[1], 0, 0);

	send(sv[0], "q", 1, MSG_OOB);
	CHECK_ERR("peek of only the oob byte", recv_err(sv[1], 10, MSG_PEEK), EAGAIN);
	CHECK_ERR("read of only the oob byte", recv_err(sv[1], 10, 0), EAGAIN);
	CHECK_ERR("it was lost", recv_err(sv[1], 1, MSG_OOB), EINVAL);

	send(sv[0], "abc", 3, MSG_OOB);
	send(sv[0], "de", 2, 0);
	check_recv("MSG_WAITALL stops at the mark", sv[1], 5, MSG_WAITALL, "ab");
	CHECK_EQ("zero-length oob read takes it", recv(sv[1], got, 0, MSG_OOB), 1);
	CHECK_ERR("and it is gone", recv_err(sv[1], 1, MSG_OOB), EINVAL);
	check_recv("read from the taken byte passes it", sv[1], 10, 0, "de");
	close_pair(sv);
}

static void test_taken_first(void)
{
	int sv[2];
	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[0], "hello", 5, MSG_OOB);
	send(sv[0], "world", 5, 0);
	check_recv("take o ahead", sv[1], 1, MSG_OOB, "o");
	check_state("no pri, not at mark", sv[1], IN, 0);
	check_recv("read stops at the taken byte", sv[1], 9, 0, "hell");
	check_state("at the taken byte", sv[1], IN, 1);
	check_recv("then reads past it", sv[1], 9, 0, "world");
	close_pair(sv);

	/* Two taken bytes in a row are one. */
	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[0], "a", 1, MSG_OOB);
	recv_err(sv[1], 1, MSG_OOB);
	send(sv[0], "b", 1, MSG_OOB);
	check_recv("take b after a", sv[1], 1, MSG_OOB, "b");
	send(sv[0], "x", 1, 0);
	check_recv("x after two taken bytes", sv[1], 10, 0, "x");
	check_state("none left", sv[1], 0, 0);
	close_pair(sv);
}

static void test_inline(void)
{
	int sv[2], one = 1;
	REQUIRE("socketpair", pair(sv) == 0);
	CHECK_OK("SO_OOBINLINE", setsockopt(sv[1], SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)));
	send(sv[0], "xy", 2, MSG_OOB);
	send(sv[0], "z", 1, 0);
	check_state("inline: pri", sv[1], IN | PRI, 0);
	CHECK_ERR("inline: recv oob", recv_err(sv[1], 1, MSG_OOB), EINVAL);
	check_recv("inline: stops at the mark", sv[1], 10, 0, "x");
	check_state("inline: at the mark", sv[1], IN | PRI, 1);
	check_recv("inline: oob byte read inline", sv[1], 10, 0, "yz");
	check_state("inline: done", sv[1], 0, 0);
	close_pair(sv);
}

static void test_close(void)
{
	int sv[2], err = -1;
	socklen_t len = sizeof(err);
	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[0], "hey", 3, MSG_OOB);
	close(sv[0]);
	check_state("peer closed", sv[1], IN | PRI | POLLHUP, 0);
	check_recv("oob byte after peer close", sv[1], 1, MSG_OOB, "y");
	check_recv("data after peer close", sv[1], 10, 0, "he");
	CHECK_EQ("then end of file", recv(sv[1], got, 10, MSG_DONTWAIT), 0);
	close(sv[1]);

	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[1], "a", 1, MSG_OOB);
	recv_err(sv[0], 1, MSG_OOB);
	close(sv[0]);
	CHECK("closing with a taken byte left: no ECONNRESET",
	      getsockopt(sv[1], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
	close(sv[1]);

	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[1], "ab", 2, MSG_OOB);
	recv_err(sv[0], 1, MSG_OOB);
	close(sv[0]);
	CHECK("closing with data left: ECONNRESET",
	      getsockopt(sv[1], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ECONNRESET);
	close(sv[1]);
}

static int sigurg_came(void)
{
	sigset_t set;
	siginfo_t si;
	struct timespec ts = {0, 100000000};
	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	return sigtimedwait(&set, &si, &ts) == SIGURG && si.si_code == SI_KERNEL;
}

static void test_sigurg(void)
{
	int sv[2];
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	sigprocmask(SIG_BLOCK, &set, NULL);
	REQUIRE("socketpair", pair(sv) == 0);
	send(sv[0], "a", 1, MSG_OOB);
	CHECK("no owner: no SIGURG", !sigurg_came());
	CHECK_OK("F_SETOWN", fcntl(sv[1], F_SETOWN, getpid()));
	send(sv[0], "b", 1, 0);
	CHECK("plain data: no SIGURG", !sigurg_came());
	send(sv[0], "c", 1, MSG_OOB);
	CHECK("oob byte: SIGURG to the owner", sigurg_came());
	close_pair(sv);
}

static void test_errors(void)
{
	int sv[2];
	struct sockaddr_un bad = {.sun_family = AF_UNIX};

	REQUIRE("dgram pair", socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK_ERR("dgram send oob", send(sv[0], "x", 1, MSG_OOB), EOPNOTSUPP);
	CHECK_ERR("dgram oob before the address", sendto(sv[0], "x", 1, MSG_OOB, (void *)&bad, 1), EOPNOTSUPP);
	send(sv[0], "x", 1, 0);
	CHECK_ERR("dgram recv oob", recv_err(sv[1], 1, MSG_OOB), EOPNOTSUPP);
	int m;
	CHECK_ERR("dgram SIOCATMARK", ioctl(sv[1], SIOCATMARK, &m), EOPNOTSUPP);
	close_pair(sv);

	REQUIRE("seqpacket pair", socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK_ERR("seqpacket send oob", send(sv[0], "x", 1, MSG_OOB), EOPNOTSUPP);
	send(sv[0], "x", 1, 0);
	CHECK_ERR("seqpacket recv oob", recv_err(sv[1], 1, MSG_OOB), EOPNOTSUPP);
	close_pair(sv);
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK_ERR("unconnected seqpacket send oob", send(s, "x", 1, MSG_OOB), ENOTCONN);
	close(s);

	s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR("stream oob send of nothing", send(s, "", 0, MSG_OOB), EOPNOTSUPP);
	CHECK_ERR("unconnected stream send oob", send(s, "x", 1, MSG_OOB), ENOTCONN);
	CHECK_ERR("unconnected stream recv oob", recv_err(s, 1, MSG_OOB), EINVAL);
	close(s);

	REQUIRE("socketpair", pair(sv) == 0);
	shutdown(sv[0], SHUT_WR);
	CHECK_ERR("oob send after shutdown", send(sv[0], "x", 1, MSG_OOB | MSG_NOSIGNAL), EPIPE);
	close_pair(sv);

	/* A connection waiting to be accepted is an empty skb at the mark. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "\0unix_oob"};
	socklen_t sl = offsetof(struct sockaddr_un, sun_path) + 9;
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(l, (void *)&sa, sl);
	listen(l, 4);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	connect(c, (void *)&sa, sl);
	m = -1;
	CHECK("listener with a connection: at mark", ioctl(l, SIOCATMARK, &m) == 0 && m == 1);
	close(c);
	close(l);
}

int main(void)
{
	test_basic();
	test_ex_oob();
	test_drop_and_peek();
	test_taken_first();
	test_inline();
	test_close();
	test_sigurg();
	test_errors();
	return check_done();
}
