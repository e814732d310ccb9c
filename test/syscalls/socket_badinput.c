// socket_badinput: Linux's errnos for bad socket input beyond
// socket_errors: truncated and wrong-family inet sockaddrs, oversized
// control messages, SCM_RIGHTS with bad or too many descriptors,
// ETOOMANYREFS when a user has more descriptors in flight than its
// RLIMIT_NOFILE, and a flood of connections bounded by the backlog.
#include "check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <grp.h>

static int send_fds(int s, const int *fds, int n)
{
	char ctl[CMSG_SPACE(sizeof(int) * 300)];
	memset(ctl, 0, sizeof(ctl));
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &m, MSG_DONTWAIT);
}

static int recv_one(int s)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)];
	char b[8];
	struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	int n = recvmsg(s, &m, MSG_DONTWAIT);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (n >= 0 && c && c->cmsg_type == SCM_RIGHTS) {
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		close(fd);
	}
	return n;
}

static void inet_addrs(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	CHECK_ERR("inet bind truncated", bind(s, (struct sockaddr *)&a, 8), EINVAL);
	CHECK_ERR("inet bind v6 address", bind(s, (struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
	CHECK_ERR("inet connect truncated", connect(s, (struct sockaddr *)&a, sizeof(a) - 1), EINVAL);
	CHECK_ERR("inet connect v6 address", connect(s, (struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
	close(s);
	s = socket(AF_INET6, SOCK_STREAM, 0);
	CHECK_ERR("inet6 bind truncated", bind(s, (struct sockaddr *)&a6, 20), EINVAL);
	struct sockaddr_in6 v4fam = a6;
	v4fam.sin6_family = AF_INET;
	CHECK_ERR("inet6 bind v4 family", bind(s, (struct sockaddr *)&v4fam, sizeof(v4fam)), EAFNOSUPPORT);
	CHECK_ERR("inet6 connect truncated", connect(s, (struct sockaddr *)&a6, 20), EINVAL);
	close(s);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK_ERR("udp sendto truncated", sendto(s, "x", 1, 0, (struct sockaddr *)&a, 4), EINVAL);
	CHECK_ERR("udp sendto v6 address", sendto(s, "x", 1, 0, (struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
	CHECK_ERR("udp sendto no address", send(s, "x", 1, 0), EDESTADDRREQ);
	close(s);
}

static void control(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	static char big[1 << 20];
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = big, .msg_controllen = sizeof(big)};
	CHECK_ERR("control over optmem_max", sendmsg(sv[0], &m, 0), ENOBUFS);
	char ctl[CMSG_SPACE(sizeof(int))];
	memset(ctl, 0, sizeof(ctl));
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = sizeof(ctl) + 8;
	CHECK_ERR("cmsg_len past control", sendmsg(sv[0], &m, 0), EINVAL);
	int fds[254];
	for (int i = 0; i < 254; i++)
		fds[i] = sv[0];
	CHECK_ERR("254 fds", send_fds(sv[0], fds, 254), EINVAL);
	CHECK_EQ("253 fds", send_fds(sv[0], fds, 253), 1);
	CHECK_EQ("receive them", recv_one(sv[1]), 1);
	fds[0] = -1;
	CHECK_ERR("fd -1", send_fds(sv[0], fds, 1), EBADF);
	fds[0] = sv[0], fds[1] = 12345;
	CHECK_ERR("one bad fd of two", send_fds(sv[0], fds, 2), EBADF);
	CHECK_ERR("nothing queued", recv_one(sv[1]), EAGAIN);
	int p[2];
	pipe(p);
	close(p[0]);
	fds[0] = p[1];
	CHECK_EQ("send fd then close it", send_fds(sv[0], fds, 1), 1);
	close(p[1]);
	CHECK_EQ("it still arrives", recv_one(sv[1]), 1);
	close(sv[0]);
	close(sv[1]);
}

/* inflight runs in a child without privileges (root is exempt): with
 * RLIMIT_NOFILE at 16, sends succeed while the user has at most 16
 * descriptors in flight. The uid is the pid's, so that concurrent native
 * runs do not share a count. */
static void inflight(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		int sv[2];
		socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
		struct rlimit rl = {16, 16};
		uid_t uid = 20000 + getpid() % 20000;
		if (setrlimit(RLIMIT_NOFILE, &rl) || setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(10);
		int n = 0;
		while (n < 100 && send_fds(sv[0], &sv[0], 1) == 1)
			n++;
		int e = errno;
		CHECK_EQ("sends before ETOOMANYREFS", n, 17);
		CHECK_EQ("ETOOMANYREFS", e, ETOOMANYREFS);
		CHECK_EQ("receive one", recv_one(sv[1]), 1);
		CHECK_EQ("room for one more", send_fds(sv[0], &sv[0], 1), 1);
		CHECK_ERR("full again", send_fds(sv[0], &sv[0], 1), ETOOMANYREFS);
		CHECK_EQ("plain data still goes", send(sv[0], "y", 1, MSG_DONTWAIT), 1);
		/* Closing the receiver drops what was in flight. */
		close(sv[1]);
		int sv2[2];
		socketpair(AF_UNIX, SOCK_DGRAM, 0, sv2);
		CHECK_EQ("after close, sends go again", send_fds(sv2[0], &sv2[0], 1), 1);
		fflush(stdout);
		_exit(check_done());
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK("child ok", WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* flood: non-blocking connects to a unix listener are refused with
 * EAGAIN past backlog+1; accepting makes room for exactly one more. */
static void flood(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int len = offsetof(struct sockaddr_un, sun_path) + 1 +
		  snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "rampart-flood-%d", getpid());
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(l, (struct sockaddr *)&sa, len);
	listen(l, 4);
	int ok = 0, eagain = 0, other = 0;
	int fds[1000];
	for (int i = 0; i < 1000; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fds[i], (struct sockaddr *)&sa, len) == 0)
			ok++;
		else if (errno == EAGAIN)
			eagain++;
		else
			other++;
		if (i >= 10)
			close(fds[i]);
	}
	CHECK_EQ("admitted", ok, 5);
	CHECK_EQ("refused EAGAIN", eagain, 995);
	CHECK_EQ("other errors", other, 0);
	int a = accept(l, NULL, NULL);
	CHECK("accept one", a >= 0);
	int x = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK_EQ("one more fits", connect(x, (struct sockaddr *)&sa, len), 0);
	int y = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK_ERR("then full", connect(y, (struct sockaddr *)&sa, len), EAGAIN);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	close(a), close(x), close(y), close(l);
}

int main(void)
{
	inet_addrs();
	control();
	inflight();
	flood();
	return check_done();
}
