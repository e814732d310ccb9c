/*
 * unix_order: Unix domain socket behaviour that sockfuzz (the native-
 * against-sandbox fuzzer of Unix socket calls) found different, each as
 * Linux 6.x does it: which error wins when several apply, what a null or
 * peeked read returns, the credentials and addresses a message reports,
 * names per socket type, autobind, and what a closed or reconnected peer
 * leaves behind.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];

static socklen_t path_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "unix_order-%d-%s", (int)getpid(), name);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static int sock(int type) { return socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

static void pair(int type, int sv[2]) { REQUIRE("socketpair", socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0); }

static int on(int fd, int opt)
{
	int one = 1;
	return setsockopt(fd, SOL_SOCKET, opt, &one, sizeof(one));
}

/* recv_ctl receives into buf with a control buffer of clen bytes; it
 * fills *m's flags and returns recvmsg's result. */
static ssize_t recv_ctl(int fd, void *buf, size_t n, char *ctl, size_t clen, int flags, struct msghdr *m,
			struct sockaddr_un *from)
{
	static struct iovec iov;
	iov.iov_base = buf;
	iov.iov_len = n;
	memset(m, 0, sizeof(*m));
	m->msg_iov = &iov;
	m->msg_iovlen = 1;
	m->msg_control = ctl;
	m->msg_controllen = clen;
	if (from) {
		m->msg_name = from;
		m->msg_namelen = sizeof(*from);
	}
	return recvmsg(fd, m, flags | MSG_DONTWAIT);
}

static int send_fd(int s, int fd, const char *data, size_t n)
{
	char c[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {(void *)data, n};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c, .msg_controllen = sizeof(c)};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(s, &m, MSG_NOSIGNAL);
}

/* first_creds returns the SCM_CREDENTIALS of m, or NULL. */
static struct ucred *first_creds(struct msghdr *m)
{
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS && h->cmsg_len >= CMSG_LEN(sizeof(struct ucred)))
			return (struct ucred *)CMSG_DATA(h);
	return NULL;
}

static int rights_count(struct msghdr *m)
{
	int n = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
				close(fd);
			}
			n += k;
		}
	return n;
}

static void test_errors(void)
{
	struct sockaddr_un a;
	socklen_t l;
	int sv[2];
	char buf[64];

	int d = sock(SOCK_DGRAM);
	CHECK_ERR("accept on a datagram socket", accept(d, NULL, NULL), EOPNOTSUPP);
	close(d);

	pair(SOCK_STREAM, sv);
	l = path_addr(&a, "missing");
	CHECK_ERR("connect of a connected socket looks the name up first", connect(sv[0], (void *)&a, l), ENOENT);
	int ls = sock(SOCK_STREAM);
	l = path_addr(&a, "listener");
	CHECK_EQ("bind listener", bind(ls, (void *)&a, l), 0);
	CHECK_EQ("listen", listen(ls, 1), 0);
	CHECK_ERR("connect of a connected socket to a listener", connect(sv[0], (void *)&a, l), EISCONN);
	CHECK_ERR("null read with nothing queued", recv(sv[0], buf, 0, MSG_DONTWAIT), EAGAIN);
	CHECK_EQ("send", send(sv[1], "abc", 3, 0), 3);
	CHECK_EQ("null read with data", recv(sv[0], buf, 0, MSG_DONTWAIT), 0);
	CHECK_EQ("the data stays", recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), 3);
	close(sv[0]);
	close(sv[1]);

	CHECK_EQ("shut the listener", shutdown(ls, SHUT_RD), 0);
	int c = sock(SOCK_STREAM);
	CHECK_ERR("connect to a shut listener", connect(c, (void *)&a, l), ECONNREFUSED);
	close(c);
	close(ls);

	int s = sock(SOCK_STREAM);
	CHECK_EQ("shutdown of an unconnected stream", shutdown(s, SHUT_RDWR), 0);
	CHECK_ERR("recv of an unconnected stream, shut", recv(s, buf, 1, MSG_DONTWAIT), EINVAL);
	close(s);

	/* Names are a socket type's; paths are not. */
	int st = sock(SOCK_STREAM), dg = sock(SOCK_DGRAM), dg2 = sock(SOCK_DGRAM);
	l = abstract_addr(&a, "shared");
	CHECK_EQ("stream binds an abstract name", bind(st, (void *)&a, l), 0);
	CHECK_EQ("a datagram socket binds it too", bind(dg, (void *)&a, l), 0);
	CHECK_ERR("a second datagram socket may not", bind(dg2, (void *)&a, l), EADDRINUSE);
	int st2 = sock(SOCK_STREAM);
	l = path_addr(&a, "streampath");
	CHECK_EQ("stream binds a path", bind(st2, (void *)&a, l), 0);
	CHECK_ERR("datagram to a stream's path", sendto(dg2, "x", 1, 0, (void *)&a, l), EPROTOTYPE);
	CHECK_ERR("a bound socket binding an existing path", bind(st, (void *)&a, l), EADDRINUSE);
	l = path_addr(&a, "fresh");
	CHECK_ERR("a bound socket binding a new path", bind(st, (void *)&a, l), EINVAL);
	struct stat sb;
	CHECK_ERR("leaves no node", stat(a.sun_path, &sb), ENOENT);
	close(st);
	close(st2);
	close(dg);

	/* Datagram sends: the address's form, then the shutdown. */
	CHECK_EQ("shutdown a datagram socket", shutdown(dg2, SHUT_WR), 0);
	CHECK_ERR("send when shut", send(dg2, "x", 1, MSG_NOSIGNAL), EPIPE);
	struct sockaddr_un fam = {.sun_family = AF_UNIX};
	CHECK_ERR("sendto a family-only address", sendto(dg2, "x", 1, MSG_NOSIGNAL, (void *)&fam, sizeof(sa_family_t)), EINVAL);
	close(dg2);

	struct ucred u;
	socklen_t ul = sizeof(u);
	s = sock(SOCK_STREAM);
	CHECK_EQ("SO_PEERCRED unconnected", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &u, &ul), 0);
	CHECK("no peer: pid 0, ids -1", u.pid == 0 && u.uid == (uid_t)-1 && u.gid == (gid_t)-1);
	close(s);
}

static void test_credentials_and_addresses(void)
{
	int sv[2];
	char buf[64], ctl[256];
	struct msghdr m;
	struct sockaddr_un a, from;
	socklen_t l;

	pair(SOCK_STREAM, sv);
	CHECK_EQ("send without credentials", send(sv[0], "abc", 3, 0), 3);
	CHECK_EQ("SO_PASSCRED later", on(sv[1], SO_PASSCRED), 0);
	CHECK_EQ("recv", recv_ctl(sv[1], buf, sizeof(buf), ctl, sizeof(ctl), MSG_CMSG_CLOEXEC, &m, NULL), 3);
	CHECK("msg_flags keeps MSG_CMSG_CLOEXEC", m.msg_flags == MSG_CMSG_CLOEXEC);
	struct ucred *u = first_creds(&m);
	CHECK("a message sent without credentials: pid 0, overflow ids", u && u->pid == 0 && u->uid == 65534 && u->gid == 65534);
	close(sv[0]);
	CHECK_EQ("end of file", recv_ctl(sv[1], buf, sizeof(buf), ctl, sizeof(ctl), 0, &m, NULL), 0);
	u = first_creds(&m);
	CHECK("end of file reports empty credentials", u && u->pid == 0 && u->uid == 0 && u->gid == 0);
	close(sv[1]);

	/* A truncated credentials message leaves no room for files. */
	pair(SOCK_DGRAM, sv);
	on(sv[1], SO_PASSCRED);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_EQ("send a file", send_fd(sv[0], nul, "x", 1), 1);
	CHECK_EQ("recv with room for one int", recv_ctl(sv[1], buf, sizeof(buf), ctl, CMSG_SPACE(sizeof(int)), 0, &m, NULL), 1);
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	CHECK("the credentials come cut short", h && h->cmsg_type == SCM_CREDENTIALS && h->cmsg_len == CMSG_SPACE(sizeof(int)));
	CHECK("MSG_CTRUNC", (m.msg_flags & MSG_CTRUNC) != 0);
	close(sv[0]);
	close(sv[1]);

	/* The sender's address as it is when the message is read. */
	int r = sock(SOCK_DGRAM), w = sock(SOCK_DGRAM);
	l = path_addr(&a, "receiver");
	CHECK_EQ("bind receiver", bind(r, (void *)&a, l), 0);
	CHECK_EQ("send from an unbound socket", sendto(w, "x", 1, 0, (void *)&a, l), 1);
	l = abstract_addr(&a, "late");
	CHECK_EQ("the sender binds later", bind(w, (void *)&a, l), 0);
	CHECK_EQ("recv", recv_ctl(r, buf, sizeof(buf), ctl, sizeof(ctl), 0, &m, &from), 1);
	CHECK("the address is the sender's now", m.msg_namelen == l && memcmp(&from, &a, l) == 0);
	close(r);
	close(w);

	/* A stream read reports its peer's address, and SO_PASSCRED
	 * autobinds on connect. */
	int ls = sock(SOCK_STREAM);
	l = path_addr(&a, "server");
	CHECK_EQ("bind server", bind(ls, (void *)&a, l), 0);
	CHECK_EQ("listen", listen(ls, 1), 0);
	int c = sock(SOCK_STREAM);
	CHECK_EQ("SO_PASSCRED", on(c, SO_PASSCRED), 0);
	CHECK_EQ("connect", connect(c, (void *)&a, l), 0);
	struct sockaddr_un self;
	socklen_t sl = sizeof(self);
	CHECK("connect autobound", getsockname(c, (void *)&self, &sl) == 0 && sl == offsetof(struct sockaddr_un, sun_path) + 6 && self.sun_path[0] == 0);
	int acc = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	CHECK_EQ("send", send(c, "hi", 2, 0), 2);
	CHECK_EQ("recv", recv_ctl(acc, buf, sizeof(buf), ctl, sizeof(ctl), 0, &m, &from), 2);
	CHECK("reports the peer's autobound name", m.msg_namelen == sl && memcmp(&from, &self, sl) == 0);
	close(acc);
	close(c);

	/* A listener closed with a connection not accepted resets it. */
	c = sock(SOCK_STREAM);
	CHECK_EQ("connect", connect(c, (void *)&a, l), 0);
	close(ls);
	struct pollfd p = {c, POLLIN, 0};
	CHECK("the connection has POLLERR", poll(&p, 1, 0) == 1 && (p.revents & POLLERR));
	CHECK_ERR("recv: ECONNRESET", recv(c, buf, 1, MSG_DONTWAIT), ECONNRESET);
	close(c);
	unlink(a.sun_path);

	/* A seqpacket send with SO_PASSCRED autobinds. */
	pair(SOCK_SEQPACKET, sv);
	on(sv[0], SO_PASSCRED);
	CHECK_EQ("seqpacket send", send(sv[0], "x", 1, 0), 1);
	sl = sizeof(self);
	CHECK("seqpacket send autobound", getsockname(sv[0], (void *)&self, &sl) == 0 && sl == offsetof(struct sockaddr_un, sun_path) + 6);
	close(sv[0]);
	close(sv[1]);
}

static void test_rights(void)
{
	int sv[2];
	char buf[64], ctl[256];
	struct msghdr m;
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

	for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
		pair(type, sv);
		CHECK_EQ("send a file", send_fd(sv[0], nul, "x", 1), 1);
		CHECK_EQ("peek", recv_ctl(sv[1], buf, sizeof(buf), ctl, sizeof(ctl), MSG_PEEK, &m, NULL), 1);
		CHECK_EQ("a peek gets a copy of the file", rights_count(&m), 1);
		CHECK_EQ("read", recv_ctl(sv[1], buf, sizeof(buf), ctl, sizeof(ctl), 0, &m, NULL), 1);
		CHECK_EQ("the read gets the file", rights_count(&m), 1);
		close(sv[0]);
		close(sv[1]);
	}

	/* A stream read goes on into a message with files, and stops
	 * after it. */
	pair(SOCK_STREAM, sv);
	CHECK_EQ("send data", send(sv[0], "abc", 3, 0), 3);
	CHECK_EQ("send a file", send_fd(sv[0], nul, "de", 2), 2);
	CHECK_EQ("send more", send(sv[0], "fg", 2, 0), 2);
	CHECK_EQ("read across", recv_ctl(sv[1], buf, sizeof(buf), ctl, sizeof(ctl), 0, &m, NULL), 5);
	CHECK_EQ("with the file", rights_count(&m), 1);
	close(sv[0]);
	close(sv[1]);
	close(nul);
}

static void test_peers(void)
{
	int sv[2], sv2[2];
	char buf[8];
	struct sockaddr_un a;
	socklen_t l;

	/* A datagram socket connected elsewhere, even to one closed since,
	 * takes no connection. */
	pair(SOCK_DGRAM, sv);
	l = abstract_addr(&a, "taken");
	CHECK_EQ("bind", bind(sv[0], (void *)&a, l), 0);
	close(sv[1]);
	int d = sock(SOCK_DGRAM);
	CHECK_ERR("connect to a socket connected elsewhere", connect(d, (void *)&a, l), EPERM);
	close(d);
	close(sv[0]);

	/* Reconnecting drops what was queued, and the old peer, connected
	 * back, learns of it. */
	pair(SOCK_DGRAM, sv);
	CHECK_EQ("send", send(sv[0], "x", 1, 0), 1);
	int other = sock(SOCK_DGRAM);
	l = abstract_addr(&a, "other");
	bind(other, (void *)&a, l);
	CHECK_EQ("reconnect", connect(sv[1], (void *)&a, l), 0);
	int n = -1;
	CHECK("the queue was dropped", ioctl(sv[1], FIONREAD, &n) == 0 && n == 0);
	CHECK_ERR("the old peer: ECONNRESET", send(sv[0], "y", 1, MSG_NOSIGNAL), ECONNRESET);
	close(sv[0]);
	close(sv[1]);

	/* A socket connected to itself has its new peer when the old one is
	 * told: it gets no error. */
	int self = sock(SOCK_DGRAM);
	struct sockaddr_un sa;
	socklen_t sl = abstract_addr(&sa, "self");
	CHECK_EQ("bind", bind(self, (void *)&sa, sl), 0);
	CHECK_EQ("connect to itself", connect(self, (void *)&sa, sl), 0);
	CHECK_EQ("send to itself", send(self, "x", 1, 0), 1);
	CHECK_EQ("reconnect", connect(self, (void *)&a, l), 0);
	CHECK_ERR("no error of its own", recv(self, buf, 1, MSG_DONTWAIT), EAGAIN);
	close(self);
	close(other);

	/* Datagram reads of a shut queue: EAGAIN; seqpacket: end of file. */
	pair(SOCK_DGRAM, sv);
	shutdown(sv[1], SHUT_RD);
	CHECK_ERR("datagram, shut, non-blocking", recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN);
	close(sv[0]);
	close(sv[1]);
	pair(SOCK_SEQPACKET, sv);
	shutdown(sv[1], SHUT_RD);
	CHECK_EQ("seqpacket, shut", recv(sv[1], buf, 1, MSG_DONTWAIT), 0);
	close(sv[0]);
	close(sv[1]);

	/* A seqpacket peer closed with data unread: the error comes before
	 * what is queued. One empty record left is not unread data; two
	 * are. */
	pair(SOCK_SEQPACKET, sv);
	send(sv[0], "a", 1, 0);
	send(sv[1], "b", 1, 0);
	close(sv[1]);
	CHECK_ERR("reset before the queued record", recv(sv[0], buf, 1, MSG_DONTWAIT), ECONNRESET);
	CHECK_EQ("then the record", recv(sv[0], buf, 1, MSG_DONTWAIT), 1);
	close(sv[0]);
	pair(SOCK_SEQPACKET, sv);
	pair(SOCK_SEQPACKET, sv2);
	send(sv[0], "", 0, 0);
	send(sv2[0], "", 0, 0);
	send(sv2[0], "", 0, 0);
	close(sv[1]);
	close(sv2[1]);
	CHECK_ERR("one empty record unread: EPIPE", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK_ERR("two: ECONNRESET", send(sv2[0], "x", 1, MSG_NOSIGNAL), ECONNRESET);
	close(sv[0]);
	close(sv2[0]);

	/* A socket sent over itself and closed is garbage: the collector,
	 * which the next socket's release starts (on Linux a moment later),
	 * frees it, and its peer sees it gone. */
	pair(SOCK_SEQPACKET, sv);
	CHECK_EQ("send a socket over itself", send_fd(sv[0], sv[1], "x", 1), 1);
	close(sv[1]);
	int trigger = sock(SOCK_DGRAM);
	close(trigger);
	int gone = 0;
	for (int i = 0; i < 200 && !gone; i++) {
		struct pollfd p = {sv[0], POLLIN, 0};
		gone = poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
		if (!gone)
			usleep(5000);
	}
	CHECK("the collector freed it", gone);
	close(sv[0]);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/unix_order.XXXXXX");
	REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
	test_errors();
	test_credentials_and_addresses();
	test_rights();
	test_peers();
	static const char *names[] = {"listener", "streampath", "receiver"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct sockaddr_un a;
		path_addr(&a, names[i]);
		unlink(a.sun_path);
	}
	CHECK_EQ("rmdir", rmdir(dir), 0);
	return check_done();
}
