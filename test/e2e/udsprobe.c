// udsprobe is both ends of a unix stream socket for oci_hostuds.sh, run on
// the host and in the sandbox:
//
//	udsprobe listen PATH REPLY SECS   bind PATH (as PATH.new, renamed once
//	                                  listening, so that a client never
//	                                  finds it not yet listening), accept
//	                                  one connection
//	                                  within SECS, print what it sent,
//	                                  answer REPLY ("no connection": 2)
//	udsprobe connect PATH MSG SECS    connect to PATH (waiting up to SECS
//	                                  for it to appear), send MSG, print
//	                                  the answer ("connect: ERRNO": 1)
//	udsprobe connect-rights PATH MSG SECS
//	                                  connect, try to pass descriptor 0
//	                                  with SCM_RIGHTS (print the result),
//	                                  print SO_PEERCRED's pid and uid,
//	                                  then as connect
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e) {
	switch (e) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EADDRINUSE: return "EADDRINUSE";
	case ENOTSOCK: return "ENOTSOCK";
	}
	static char b[32];
	snprintf(b, sizeof b, "errno %d", e);
	return b;
}

static void addr(struct sockaddr_un *sa, const char *path) {
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	strncpy(sa->sun_path, path, sizeof sa->sun_path - 1);
}

// exchange sends msg (first if send_first) and prints what comes back.
static int exchange(int fd, const char *msg, int send_first) {
	char buf[256];
	if (send_first && write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
		printf("write: %s\n", ename(errno));
		return 1;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n < 0) {
		printf("read: %s\n", ename(errno));
		return 1;
	}
	buf[n] = 0;
	printf("got: %s\n", buf);
	if (!send_first && write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
		printf("write: %s\n", ename(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: udsprobe listen|connect PATH MSG SECS\n");
		return 3;
	}
	const char *path = argv[2], *msg = argv[3];
	int secs = atoi(argv[4]);
	struct sockaddr_un sa;
	addr(&sa, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		printf("socket: %s\n", ename(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(argv[1], "listen") == 0) {
		char tmp[sizeof sa.sun_path + 8];
		struct sockaddr_un ta;
		snprintf(tmp, sizeof tmp, "%s.new", path);
		addr(&ta, tmp);
		unlink(tmp);
		if (bind(fd, (struct sockaddr *)&ta, sizeof ta) != 0 || listen(fd, 4) != 0) {
			printf("bind: %s\n", ename(errno));
			return 1;
		}
		if (rename(tmp, path) != 0) {
			printf("rename: %s\n", ename(errno));
			return 1;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, secs * 1000) != 1) {
			printf("no connection\n");
			return 2;
		}
		int c = accept(fd, NULL, NULL);
		if (c < 0) {
			printf("accept: %s\n", ename(errno));
			return 1;
		}
		return exchange(c, msg, 0);
	}
	for (int i = 0;; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			break;
		if (errno != ENOENT || i >= secs * 10) {
			printf("connect: %s\n", ename(errno));
			return 1;
		}
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
	}
	if (strcmp(argv[1], "connect-rights") == 0) {
		char byte = 'r';
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u;
		memset(&u, 0, sizeof u);
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		int zero = 0;
		memcpy(CMSG_DATA(c), &zero, sizeof zero);
		if (sendmsg(fd, &m, 0) < 0)
			printf("sendmsg SCM_RIGHTS: %s\n", ename(errno));
		else
			printf("sendmsg SCM_RIGHTS: sent\n");
		struct ucred cr;
		socklen_t l = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0)
			printf("peer pid %d uid %d\n", cr.pid, cr.uid);
		else
			printf("SO_PEERCRED: %s\n", ename(errno));
	}
	return exchange(fd, msg, 1);
}
