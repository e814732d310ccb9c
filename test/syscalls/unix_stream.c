// unix_stream: AF_UNIX SOCK_STREAM: socketpair, bind/listen/accept/connect
// on a path and an abstract name, autobind, shutdown, MSG_PEEK/WAITALL/
// DONTWAIT, non-blocking connect/accept, poll readiness, SIOCINQ.
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sockios.h>

static short revents(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static socklen_t path_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static void test_pair(void)
{
	int sv[2];
	char buf[64];
	CHECK_OK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK_EQ("write", write(sv[0], "hello", 5), 5);
	CHECK_EQ("write2", send(sv[0], "world", 5, 0), 5);
	int n = -1;
	CHECK_OK("SIOCINQ", ioctl(sv[1], SIOCINQ, &n));
	CHECK_EQ("SIOCINQ value", n, 10);
	CHECK_EQ("poll in", revents(sv[1], POLLIN | POLLOUT), POLLIN | POLLOUT);
	CHECK_EQ("peek", recv(sv[1], buf, 3, MSG_PEEK), 3);
	CHECK("peek data", memcmp(buf, "hel", 3) == 0);
	CHECK_EQ("read merges", read(sv[1], buf, sizeof(buf)), 10);
	CHECK("data", memcmp(buf, "helloworld", 10) == 0);
	CHECK_ERR("dontwait", recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("poll out only", revents(sv[1], POLLIN | POLLOUT), POLLOUT);
	struct stat st;
	CHECK_OK("fstat", fstat(sv[0], &st));
	CHECK("S_ISSOCK", S_ISSOCK(st.st_mode));
	int v;
	socklen_t l = sizeof(v);
	CHECK_OK("SO_TYPE", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
	CHECK_EQ("SO_TYPE value", v, SOCK_STREAM);
	l = sizeof(v);
	CHECK_OK("SO_DOMAIN", getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &l));
	CHECK_EQ("SO_DOMAIN value", v, AF_UNIX);
	l = sizeof(v);
	CHECK_OK("SO_ACCEPTCONN", getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &l));
	CHECK_EQ("SO_ACCEPTCONN value", v, 0);
	v = 65536;
	CHECK_OK("SO_SNDBUF set", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
	l = sizeof(v);
	CHECK_OK("SO_SNDBUF get", getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l));
	CHECK_EQ("SO_SNDBUF doubled", v, 131072);
	l = sizeof(v);
	CHECK_OK("SO_ERROR", getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &l));
	CHECK_EQ("SO_ERROR value", v, 0);

	/* MSG_WAITALL across two writes from a child. */
	pid_t pid = fork();
	if (pid == 0) {
		write(sv[0], "abc", 3);
		usleep(50000);
		write(sv[0], "def", 3);
		_exit(0);
	}
	CHECK_EQ("waitall", recv(sv[1], buf, 6, MSG_WAITALL), 6);
	CHECK("waitall data", memcmp(buf, "abcdef", 6) == 0);
	waitpid(pid, NULL, 0);

	/* shutdown(SHUT_WR): the peer reads EOF, we get EPIPE. */
	CHECK_OK("shutdown wr", shutdown(sv[0], SHUT_WR));
	CHECK_EQ("eof after shutdown", read(sv[1], buf, sizeof(buf)), 0);
	CHECK_EQ("peer rdhup", revents(sv[1], POLLIN | POLLRDHUP), POLLIN | POLLRDHUP);
	CHECK_ERR("epipe", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK_EQ("reverse still works", write(sv[1], "back", 4), 4);
	CHECK_EQ("reverse read", read(sv[0], buf, sizeof(buf)), 4);
	signal(SIGPIPE, SIG_IGN);
	CHECK_ERR("epipe write", write(sv[0], "x", 1), EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(sv[0]);
	CHECK_EQ("hup after close", revents(sv[1], POLLIN) & (POLLIN | POLLHUP), POLLIN | POLLHUP);
	CHECK_ERR("epipe after close", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
	close(sv[1]);

	/* SIGPIPE kills a child writing to a closed peer. */
	CHECK_OK("socketpair2", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	close(sv[1]);
	pid = fork();
	if (pid == 0) {
		write(sv[0], "x", 1);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK("sigpipe", WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
	close(sv[0]);
}

static void test_listen(struct sockaddr_un *sa, socklen_t len, const char *name)
{
	char what[64], buf[16];
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	snprintf(what, sizeof(what), "%s bind", name);
	CHECK_OK(what, bind(l, (struct sockaddr *)sa, len));
	snprintf(what, sizeof(what), "%s bind again", name);
	int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR(what, bind(l2, (struct sockaddr *)sa, len), EADDRINUSE);
	close(l2);
	snprintf(what, sizeof(what), "%s listen", name);
	CHECK_OK(what, listen(l, 1));
	snprintf(what, sizeof(what), "%s accept EAGAIN", name);
	CHECK_ERR(what, accept(l, NULL, NULL), EAGAIN);
	snprintf(what, sizeof(what), "%s listener poll", name);
	CHECK_EQ(what, revents(l, POLLIN | POLLOUT), 0);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(what, sizeof(what), "%s connect", name);
	CHECK_OK(what, connect(c, (struct sockaddr *)sa, len));
	snprintf(what, sizeof(what), "%s listener readable", name);
	CHECK_EQ(what, revents(l, POLLIN), POLLIN);
	CHECK_EQ("send before accept", write(c, "pre", 3), 3);
	struct sockaddr_un peer;
	socklen_t pl = sizeof(peer);
	int a = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC | SOCK_NONBLOCK);
	snprintf(what, sizeof(what), "%s accept4", name);
	CHECK(what, a >= 0);
	CHECK_EQ("peer addr unbound", pl, sizeof(sa_family_t));
	CHECK_EQ("accept4 cloexec", fcntl(a, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_EQ("accept4 nonblock", fcntl(a, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	CHECK_EQ("read pre", read(a, buf, sizeof(buf)), 3);
	CHECK_ERR("accepted nonblock", read(a, buf, sizeof(buf)), EAGAIN);
	struct sockaddr_un got;
	socklen_t gl = sizeof(got);
	CHECK_OK("getpeername", getpeername(c, (struct sockaddr *)&got, &gl));
	CHECK_EQ("getpeername len", gl, len);
	CHECK("getpeername name", memcmp(&got, sa, len) == 0);
	gl = sizeof(got);
	CHECK_OK("accepted getsockname", getsockname(a, (struct sockaddr *)&got, &gl));
	CHECK_EQ("accepted getsockname len", gl, len);
	int v;
	socklen_t vl = sizeof(v);
	CHECK_OK("SO_ACCEPTCONN", getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
	CHECK_EQ("SO_ACCEPTCONN listening", v, 1);
	CHECK_ERR("connect again", connect(c, (struct sockaddr *)sa, len), EISCONN);

	/* Backlog 1 admits two pending connections; a non-blocking third
	 * gets EAGAIN. */
	int p1 = socket(AF_UNIX, SOCK_STREAM, 0), p2 = socket(AF_UNIX, SOCK_STREAM, 0);
	int p3 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK_OK("backlog 1", connect(p1, (struct sockaddr *)sa, len));
	CHECK_OK("backlog 2", connect(p2, (struct sockaddr *)sa, len));
	CHECK_ERR("backlog full", connect(p3, (struct sockaddr *)sa, len), EAGAIN);
	close(p1);
	close(p2);
	close(p3);
	close(a);
	close(c);
	close(l);
}

int main(void)
{
	test_pair();

	char path[64];
	snprintf(path, sizeof(path), "/tmp/unix_stream.%d", getpid());
	unlink(path);
	struct sockaddr_un sa;
	socklen_t len = path_addr(&sa, path);
	test_listen(&sa, len, "path");
	struct stat st;
	CHECK_OK("stat socket node", stat(path, &st));
	CHECK("node is socket", S_ISSOCK(st.st_mode));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_ERR("connect after close", connect(c, (struct sockaddr *)&sa, len), ECONNREFUSED);
	CHECK_OK("unlink node", unlink(path));
	CHECK_ERR("connect after unlink", connect(c, (struct sockaddr *)&sa, len), ENOENT);
	close(c);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	int an = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "unix_stream.%d", getpid());
	test_listen(&sa, offsetof(struct sockaddr_un, sun_path) + 1 + an, "abstract");

	/* Autobind: a five-hex-digit abstract name. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	sa_family_t fam = AF_UNIX;
	CHECK_OK("autobind", bind(s, (struct sockaddr *)&fam, sizeof(fam)));
	struct sockaddr_un got;
	socklen_t gl = sizeof(got);
	CHECK_OK("autobind getsockname", getsockname(s, (struct sockaddr *)&got, &gl));
	CHECK_EQ("autobind len", gl, offsetof(struct sockaddr_un, sun_path) + 6);
	CHECK_EQ("autobind abstract", got.sun_path[0], 0);
	CHECK_OK("autobind again", bind(s, (struct sockaddr *)&fam, sizeof(fam)));
	CHECK_ERR("bind path after autobind", bind(s, (struct sockaddr *)&sa, len), EINVAL);
	close(s);

	s = socket(AF_UNIX, SOCK_STREAM, 0);
	gl = sizeof(got);
	CHECK_OK("unbound getsockname", getsockname(s, (struct sockaddr *)&got, &gl));
	CHECK_EQ("unbound len", gl, sizeof(sa_family_t));
	gl = sizeof(got);
	CHECK_ERR("unconnected getpeername", getpeername(s, (struct sockaddr *)&got, &gl), ENOTCONN);
	CHECK_ERR("listen unbound", listen(s, 1), EINVAL);
	CHECK_ERR("send unconnected", send(s, "x", 1, MSG_NOSIGNAL), ENOTCONN);
	CHECK_EQ("unconnected poll", revents(s, POLLIN | POLLOUT), POLLOUT | POLLHUP);
	close(s);
	return check_done();
}
