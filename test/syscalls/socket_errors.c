// socket_errors: Linux's errnos for bad socket input: unknown families,
// types and protocols, bad flags, truncated and oversized sockaddrs,
// ENOTSOCK, EBADF, connect to a file that is not a socket, EFAULT.
#include "check.h"

#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdint.h>
#include <unistd.h>

/* badptr is an unmapped address the compiler cannot see through. */
static void *badptr(void)
{
	volatile uintptr_t p = 8;
	return (void *)p;
}

int main(void)
{
	CHECK_ERR("bad family", socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT);
	CHECK_ERR("negative family", socket(-1, SOCK_STREAM, 0), EAFNOSUPPORT);
	CHECK_ERR("bad type", socket(AF_UNIX, 12, 0), EINVAL);
	CHECK_ERR("bad type flags", socket(AF_UNIX, SOCK_STREAM | 0x100000, 0), EINVAL);
	CHECK_ERR("unix rdm", socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT);
	CHECK_ERR("unix protocol", socket(AF_UNIX, SOCK_STREAM, 7), EPROTONOSUPPORT);
	int raw = socket(AF_UNIX, SOCK_RAW, 0);
	CHECK("unix raw is dgram", raw >= 0);
	int v = 0;
	socklen_t l = sizeof(v);
	getsockopt(raw, SOL_SOCKET, SO_TYPE, &v, &l);
	CHECK_EQ("raw type", v, SOCK_DGRAM);
	close(raw);
	int sv[2];
	CHECK_ERR("socketpair bad family", socketpair(12345, SOCK_STREAM, 0, sv), EAFNOSUPPORT);
	CHECK_ERR("socketpair EFAULT", socketpair(AF_UNIX, SOCK_STREAM, 0, badptr()), EFAULT);

	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ("SOCK_CLOEXEC", fcntl(s, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	CHECK_ERR("bind truncated", bind(s, (struct sockaddr *)&sa, 1), EINVAL);
	CHECK_ERR("bind too long", bind(s, (struct sockaddr *)&sa, 200), EINVAL);
	CHECK_ERR("bind negative len", bind(s, (struct sockaddr *)&sa, -1), EINVAL);
	CHECK_ERR("bind EFAULT", bind(s, badptr(), sizeof(sa)), EFAULT);
	struct sockaddr_un wrong = {.sun_family = AF_INET};
	CHECK_ERR("bind wrong family", bind(s, (struct sockaddr *)&wrong, sizeof(wrong)), EINVAL);
	CHECK_ERR("connect truncated", connect(s, (struct sockaddr *)&sa, 1), EINVAL);
	CHECK_ERR("connect family only", connect(s, (struct sockaddr *)&sa, sizeof(sa_family_t)), EINVAL);
	CHECK_ERR("accept not listening", accept(s, NULL, NULL), EINVAL);
	CHECK_ERR("accept4 bad flags", accept4(s, NULL, NULL, 0x1234), EINVAL);
	CHECK_ERR("shutdown bad how", shutdown(s, 7), EINVAL);
	CHECK_OK("shutdown unconnected", shutdown(s, SHUT_RD));
	close(s);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR("getsockopt unknown", getsockopt(s, SOL_SOCKET, 9999, &v, &l), ENOPROTOOPT);
	l = sizeof(v);
	CHECK_ERR("getsockopt EFAULT", getsockopt(s, SOL_SOCKET, SO_TYPE, badptr(), &l), EFAULT);
	CHECK_ERR("setsockopt short", setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, 2), EINVAL);
	CHECK_ERR("setsockopt EFAULT", setsockopt(s, SOL_SOCKET, SO_SNDBUF, badptr(), 4), EFAULT);

	/* A path that exists but is not a socket. */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/socket_errors.%d", getpid());
	int f = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK("create file", f >= 0);
	strcpy(sa.sun_path, path);
	CHECK_ERR("connect to file", connect(s, (struct sockaddr *)&sa, sizeof(sa)), ECONNREFUSED);
	CHECK_ERR("bind existing file", bind(s, (struct sockaddr *)&sa, sizeof(sa)), EADDRINUSE);
	unlink(path);
	CHECK_ERR("connect missing", connect(s, (struct sockaddr *)&sa, sizeof(sa)), ENOENT);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/nonexistent-dir/sock");
	CHECK_ERR("bind missing dir", bind(s, (struct sockaddr *)&sa, sizeof(sa)), ENOENT);

	/* Non-sockets and bad descriptors. */
	CHECK_ERR("ENOTSOCK bind", bind(f, (struct sockaddr *)&sa, sizeof(sa)), ENOTSOCK);
	CHECK_ERR("ENOTSOCK listen", listen(f, 1), ENOTSOCK);
	CHECK_ERR("ENOTSOCK send", send(f, "x", 1, 0), ENOTSOCK);
	CHECK_ERR("ENOTSOCK getsockopt", getsockopt(f, SOL_SOCKET, SO_TYPE, &v, &l), ENOTSOCK);
	CHECK_ERR("ENOTSOCK shutdown", shutdown(f, SHUT_RD), ENOTSOCK);
	CHECK_ERR("EBADF", listen(999, 1), EBADF);
	CHECK_ERR("EBADF recv", recv(-1, &v, 1, 0), EBADF);
	close(f);

	int p[2];
	CHECK_OK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, p));
	CHECK_ERR("send EFAULT", send(p[0], badptr(), 4, 0), EFAULT);
	send(p[0], "abcd", 4, 0);
	CHECK_ERR("recv EFAULT", recv(p[1], badptr(), 4, 0), EFAULT);
	char buf[8];
	CHECK_EQ("data kept after EFAULT", recv(p[1], buf, sizeof(buf), 0), 4);
	CHECK_ERR("sendmsg EFAULT", sendmsg(p[0], badptr(), 0), EFAULT);
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = badptr(), .msg_controllen = 32};
	CHECK_ERR("control EFAULT", sendmsg(p[0], &m, 0), EFAULT);
	char ctl[16] = {0};
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	((struct cmsghdr *)ctl)->cmsg_len = 8;
	CHECK_ERR("cmsg_len too small", sendmsg(p[0], &m, 0), EINVAL);
	m.msg_iovlen = 2000;
	m.msg_control = NULL;
	m.msg_controllen = 0;
	CHECK_ERR("too many iovecs", sendmsg(p[0], &m, 0), EMSGSIZE);
	struct sockaddr_un got;
	socklen_t gl = 0;
	CHECK_OK("getsockname zero len", getsockname(p[0], (struct sockaddr *)&got, &gl));
	CHECK_EQ("getsockname full len", gl, sizeof(sa_family_t));
	gl = -1;
	CHECK_ERR("getsockname negative len", getsockname(p[0], (struct sockaddr *)&got, &gl), EINVAL);
	close(p[0]);
	close(p[1]);
	close(s);
	return check_done();
}
