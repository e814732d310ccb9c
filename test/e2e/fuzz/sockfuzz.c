/* sockfuzz: random Unix domain socket calls on six descriptor slots, one
 * line a call with what it returned: errno; bytes sent; bytes received
 * with their checksum, the message flags and the sender's address; the
 * descriptors an SCM_RIGHTS message carried (their file types) and the
 * credentials an SCM_CREDENTIALS one did; socket options; poll's events
 * with no wait; what a socket has in flight (SIOCOUTQ). Sends
 * come alone or in bursts, which fill a receiver's queue or a small
 * SO_SNDBUF. Sockets are stream, datagram or seqpacket, made by
 * socket or socketpair, bound to a path below DIR, to an abstract name or
 * by autobind, connected, listening, accepted, shut down and closed in
 * any order. Everything is non-blocking, and nothing printed depends on
 * the run (names are printed as which of the fuzzer's names they are,
 * an autobound one as "autobind", a pid as whether it is the fuzzer's).
 * fuzz.sh runs it natively and in the sandbox and compares the lines: the
 * sentry's Unix sockets against Linux's.
 *
 * Usage: sockfuzz SEED CALLS DIR (DIR must be empty). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static uint64_t rng;
#define RNG rng
#include "fuzz.h"
#include "slots.h"

#define NNAMES 3


/* SCM_RIGHTS carries /dev/null or one of the courier sockets, which stay
 * open the whole run, never the slots' sockets: a slot socket sent over
 * itself and closed would be garbage that Linux's collector frees a
 * moment later, on a work queue, at no point a run can pin down (the
 * sandbox's frees it at the close; test unix_order checks that). */
static int courier[2];
static const char *dir;
static char abstract_prefix[64];


/* address fills sa with the fuzzer's name k: a path below DIR (k <
 * NNAMES), an abstract name (k < 2*NNAMES), or the family alone (an
 * autobind for bind, EINVAL for connect). It returns the length. */
static socklen_t address(struct sockaddr_un *sa, int k)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (k < NNAMES) {
		snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%c", dir, 'a' + k);
		return offsetof(struct sockaddr_un, sun_path) + strlen(sa->sun_path) + 1;
	}
	if (k < 2 * NNAMES) {
		int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s%c", abstract_prefix, 'a' + k - NNAMES);
		return offsetof(struct sockaddr_un, sun_path) + 1 + n;
	}
	return sizeof(sa_family_t);
}

/* print_addr prints which of the fuzzer's names sa (of length len) is. */
static void print_addr(const void *p, socklen_t len)
{
	const struct sockaddr_un *sa = p;
	size_t base = offsetof(struct sockaddr_un, sun_path);
	if (len < sizeof(sa_family_t)) {
		printf(" addr(len %u)", len);
		return;
	}
	if (sa->sun_family != AF_UNIX) {
		printf(" addr(family %d)", sa->sun_family);
		return;
	}
	if (len == sizeof(sa_family_t)) {
		printf(" unnamed");
		return;
	}
	for (int k = 0; k < 2 * NNAMES; k++) {
		struct sockaddr_un want;
		socklen_t wl = address(&want, k);
		if (len == wl && memcmp(sa->sun_path, want.sun_path, wl - base) == 0) {
			printf(" %s%c", k < NNAMES ? "path:" : "abstract:", 'a' + k % NNAMES);
			return;
		}
	}
	if (sa->sun_path[0] == 0 && len == base + 6)
		printf(" autobind");
	else
		printf(" addr(len %u)", len);
}

static const char *type_name(int t)
{
	switch (t) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	}
	return "?";
}

static int random_type(void)
{
	static const int t[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
	return t[below(3)];
}

/* fd_type describes what an SCM_RIGHTS descriptor is. */
static const char *fd_type(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return "bad";
	switch (st.st_mode & S_IFMT) {
	case S_IFSOCK:
		return "sock";
	case S_IFIFO:
		return "fifo";
	case S_IFCHR:
		return "chr";
	case S_IFREG:
		return "reg";
	}
	return "other";
}

static void do_send(int s)
{
	unsigned char buf[1000];
	size_t n = random_len();
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)next();
	int flags = MSG_DONTWAIT | MSG_NOSIGNAL;
	if (below(4) == 0)
		flags |= MSG_EOR;
	struct sockaddr_un sa;
	int k = -1, nfds = 0, fds[2];
	if (below(3) == 0)
		k = (int)below(2 * NNAMES + 1);
	struct iovec iov = {buf, n};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} c;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (k >= 0) {
		m.msg_name = &sa;
		m.msg_namelen = address(&sa, k);
	}
	if (below(4) == 0) {
		/* Pass descriptors: a courier socket, or /dev/null. */
		nfds = 1 + (int)below(2);
		for (int i = 0; i < nfds; i++) {
			int o = (int)below(3);
			fds[i] = o < 2 ? courier[o] : open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
		memset(&c, 0, sizeof(c));
		m.msg_control = c.b;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
	}
	/* A burst of the same datagram, without descriptors, fills a
	 * receiver's queue or the sender's buffer. */
	int burst = nfds == 0 && below(6) == 0 ? 2 + (int)below(23) : 1;
	printf("send s%d len %zu flags %#x to %d fds %d", s, n, flags, k, nfds);
	if (burst > 1) {
		int went = 0;
		ssize_t r = 0;
		while (went < burst && (r = sendmsg(slot[s], &m, flags)) >= 0)
			went++;
		printf(" burst %d: %d went", burst, went);
		if (r < 0)
			result(r);
		else
			printf("\n");
	} else {
		result(sendmsg(slot[s], &m, flags));
	}
	for (int i = 0; i < nfds; i++)
		if (fds[i] != courier[0] && fds[i] != courier[1])
			close(fds[i]);
}

static void do_recv(int s)
{
	unsigned char buf[1000];
	size_t n = random_len();
	int flags = MSG_DONTWAIT | MSG_CMSG_CLOEXEC;
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
	struct sockaddr_un sa;
	struct iovec iov = {buf, n};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} c;
	size_t clen = below(4) == 0 ? CMSG_SPACE(sizeof(int)) : sizeof(c.b);
	struct msghdr m = {.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = c.b, .msg_controllen = clen};
	memset(&sa, 0, sizeof(sa));
	printf("recv s%d len %zu flags %#x ctl %zu", s, n, flags, clen);
	ssize_t r = recvmsg(slot[s], &m, flags);
	if (r < 0) {
		result(r);
		return;
	}
	printf(" = %zd %08x mflags %#x", r, checksum(buf, (size_t)r < n ? (size_t)r : n), m.msg_flags);
	if (m.msg_namelen)
		print_addr(&sa, m.msg_namelen);
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			printf(" rights");
			for (int i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
				printf(" %s", fd_type(fd));
				close(fd);
			}
		} else if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS && h->cmsg_len < CMSG_LEN(sizeof(struct ucred))) {
			printf(" creds truncated");
		} else if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(h), sizeof(u));
			printf(" creds pid %s uid %u gid %u", u.pid == getpid() ? "self" : u.pid == 0 ? "0" : "other", u.uid, u.gid);
		} else {
			printf(" cmsg %d/%d", h->cmsg_level, h->cmsg_type);
		}
	}
	printf("\n");
}

/* do_outq prints what a socket has in flight (SIOCOUTQ: what the kernel's
 * buffers for what it sent cost, until they are read). */
static void do_outq(int s)
{
	int v = -1;
	printf("SIOCOUTQ s%d", s);
	if (ioctl(slot[s], SIOCOUTQ, &v) < 0)
		result(-1);
	else
		printf(" = %d\n", v);
}

static void do_getsockopt(int s)
{
	static const int opts[] = {SO_TYPE, SO_ERROR, SO_ACCEPTCONN, SO_DOMAIN, SO_PROTOCOL, SO_PASSCRED, SO_PEERCRED, SO_SNDBUF};
	int o = opts[below(8)];
	printf("getsockopt s%d %d", s, o);
	if (o == SO_PEERCRED) {
		struct ucred u;
		socklen_t l = sizeof(u);
		if (getsockopt(slot[s], SOL_SOCKET, o, &u, &l) < 0) {
			result(-1);
			return;
		}
		printf(" = pid %s uid %u gid %u\n", u.pid == getpid() ? "self" : u.pid == 0 ? "0" : "other", u.uid, u.gid);
		return;
	}
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(slot[s], SOL_SOCKET, o, &v, &l) < 0) {
		result(-1);
		return;
	}
	printf(" = %d (len %u)\n", v, l);
}

static void call(void)
{
	int s = (int)below(NSLOTS), t = (int)below(NSLOTS);
	struct sockaddr_un sa;
	socklen_t len;
	switch (below(20)) {
	case 0:
	case 1: {
		int type = random_type();
		printf("socket s%d %s", s, type_name(type));
		int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		result(fd < 0 ? -1 : 0);
		if (fd >= 0)
			put(s, fd);
		break;
	}
	case 2: {
		int type = random_type(), sv[2];
		printf("socketpair s%d s%d %s", s, t, type_name(type));
		int r = socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
		result(r);
		if (r == 0) {
			put(s, sv[0]);
			put(s == t ? (s + 1) % NSLOTS : t, sv[1]);
		}
		break;
	}
	case 3: {
		int k = (int)below(2 * NNAMES + 1);
		printf("bind s%d %d", s, k);
		len = address(&sa, k);
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
		int k = (int)below(2 * NNAMES + 1);
		printf("connect s%d %d", s, k);
		len = address(&sa, k);
		result(connect(slot[s], (struct sockaddr *)&sa, len));
		break;
	}
	case 7:
		do_accept(s, t, print_addr);
		break;
	case 8:
	case 9:
	case 10:
		do_send(s);
		break;
	case 11:
	case 12:
	case 13:
		do_recv(s);
		break;
	case 14: {
		int how = (int)below(4);
		printf("shutdown s%d %d", s, how);
		result(shutdown(slot[s], how));
		break;
	}
	case 15:
		printf("close s%d", s);
		result(slot[s] < 0 ? (errno = EBADF, -1) : close(slot[s]));
		slot[s] = -1;
		break;
	case 16: {
		int peer = below(2);
		printf("%s s%d", peer ? "getpeername" : "getsockname", s);
		len = below(4) == 0 ? (socklen_t)below(sizeof(sa)) : sizeof(sa);
		socklen_t asked = len;
		memset(&sa, 0, sizeof(sa));
		int r = peer ? getpeername(slot[s], (struct sockaddr *)&sa, &len) : getsockname(slot[s], (struct sockaddr *)&sa, &len);
		if (r < 0) {
			result(r);
			break;
		}
		printf(" =");
		if (len <= asked)
			print_addr(&sa, len);
		else
			printf(" truncated");
		printf("\n");
		break;
	}
	case 17:
		if (below(2)) {
			do_getsockopt(s);
		} else if (below(2)) {
			int v = (int)below(2);
			printf("setsockopt s%d SO_PASSCRED %d", s, v);
			result(setsockopt(slot[s], SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)));
		} else {
			/* Small send buffers: a few datagrams fill them. */
			static const int sizes[] = {0, 2048, 5000, 212992};
			int v = sizes[below(4)];
			printf("setsockopt s%d SO_SNDBUF %d", s, v);
			result(setsockopt(slot[s], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)));
		}
		break;
	case 18:
		do_poll(s);
		break;
	default:
		if (below(3) == 0) {
			do_fionread(s);
		} else if (below(2)) {
			do_outq(s);
		} else {
			int k = (int)below(NNAMES);
			printf("unlink %d", k);
			address(&sa, k);
			result(unlink(sa.sun_path));
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sockfuzz SEED CALLS DIR\n");
		return 2;
	}
	rng = seed_from(argv[1]);
	long calls = atol(argv[2]);
	dir = argv[3];
	/* Abstract names are the network namespace's: this run's own. */
	snprintf(abstract_prefix, sizeof(abstract_prefix), "sockfuzz-%08d-", (int)getpid());
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, courier) != 0) {
		perror("sockfuzz: courier");
		return 1;
	}
	for (long i = 0; i < calls; i++) {
		printf("%ld: ", i);
		call();
	}
	printf("sockfuzz: ok: %ld calls\n", calls);
	return 0;
}
