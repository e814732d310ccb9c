// unix_rights: SCM_RIGHTS between processes (a pipe passed over a unix
// socket across fork), MSG_CTRUNC with a short control buffer, files in
// flight released with the socket, SCM_CREDENTIALS with SO_PASSCRED, and
// SO_PEERCRED.
#include "check.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int send_fds(int s, const int *fds, int n, const char *data)
{
	char ctl[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = {.iov_base = (void *)data, .iov_len = strlen(data)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			   .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
	memset(ctl, 0, sizeof(ctl));
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &m, 0);
}

int main(void)
{
	int sv[2], p[2];
	char buf[64];
	CHECK_OK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK_OK("pipe", pipe(p));

	pid_t pid = fork();
	if (pid == 0) {
		/* Child: receive a pipe's write end and write through it. */
		close(sv[0]);
		char ctl[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		if (recvmsg(sv[1], &m, 0) != 4)
			_exit(2);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
			_exit(3);
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (write(fd, "via child", 9) != 9)
			_exit(4);
		_exit(0);
	}
	close(sv[1]);
	CHECK_EQ("send fd", send_fds(sv[0], &p[1], 1, "pipe"), 4);
	close(p[1]);
	int status;
	waitpid(pid, &status, 0);
	CHECK("child used fd", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ("read what child wrote", read(p[0], buf, sizeof(buf)), 9);
	CHECK("data", memcmp(buf, "via child", 9) == 0);
	CHECK_EQ("pipe closed everywhere", read(p[0], buf, sizeof(buf)), 0);
	close(p[0]);
	close(sv[0]);

	/* MSG_CTRUNC: three fds, room for one. */
	CHECK_OK("socketpair2", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	int fds[3];
	int q[2];
	pipe(q);
	fds[0] = fds[1] = fds[2] = q[1];
	CHECK_EQ("send 3 fds", send_fds(sv[0], fds, 3, "x"), 1);
	close(q[1]);
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			   .msg_controllen = CMSG_LEN(sizeof(int))};
	CHECK_EQ("recv truncated", recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC), 1);
	CHECK_EQ("MSG_CTRUNC", m.msg_flags & MSG_CTRUNC, MSG_CTRUNC);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	CHECK("one fd delivered", c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)));
	int got = -1;
	if (c)
		memcpy(&got, CMSG_DATA(c), sizeof(got));
	CHECK_EQ("cloexec", fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(got);
	CHECK_EQ("others released", read(q[0], buf, sizeof(buf)), 0);
	close(q[0]);

	/* Files in flight are released when the receiving socket closes. */
	pipe(q);
	CHECK_EQ("send in flight", send_fds(sv[0], &q[1], 1, "y"), 1);
	close(q[1]);
	close(sv[1]);
	CHECK_EQ("in-flight released", read(q[0], buf, sizeof(buf)), 0);
	close(q[0]);
	CHECK_ERR("bad fd", send_fds(sv[0], (int[]){999}, 1, "z"), EBADF);
	close(sv[0]);

	/* SCM_CREDENTIALS and SO_PEERCRED. */
	CHECK_OK("socketpair3", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	struct ucred uc;
	socklen_t ul = sizeof(uc);
	CHECK_OK("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &ul));
	CHECK("SO_PEERCRED values", ul == sizeof(uc) && uc.pid == getpid() && uc.uid == geteuid() && uc.gid == getegid());
	int one = 1;
	CHECK_OK("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)));
	pid = fork();
	if (pid == 0) {
		write(sv[0], "c", 1);
		_exit(0);
	}
	char cctl[CMSG_SPACE(sizeof(struct ucred))];
	struct msghdr cm = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cctl,
			    .msg_controllen = sizeof(cctl)};
	CHECK_EQ("recv with creds", recvmsg(sv[1], &cm, 0), 1);
	c = CMSG_FIRSTHDR(&cm);
	CHECK("SCM_CREDENTIALS", c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS);
	if (c) {
		memcpy(&uc, CMSG_DATA(c), sizeof(uc));
		CHECK("creds are the child's", uc.pid == pid && uc.uid == geteuid() && uc.gid == getegid());
	}
	waitpid(pid, NULL, 0);

	/* Explicit credentials: our own pass, another pid is EPERM. */
	struct {
		struct cmsghdr h;
		struct ucred u;
	} sc;
	memset(&sc, 0, sizeof(sc));
	sc.h.cmsg_len = CMSG_LEN(sizeof(struct ucred));
	sc.h.cmsg_level = SOL_SOCKET;
	sc.h.cmsg_type = SCM_CREDENTIALS;
	sc.u.pid = getpid();
	sc.u.uid = getuid();
	sc.u.gid = getgid();
	struct iovec siov = {.iov_base = "d", .iov_len = 1};
	struct msghdr sm = {.msg_iov = &siov, .msg_iovlen = 1, .msg_control = &sc,
			    .msg_controllen = CMSG_SPACE(sizeof(struct ucred))};
	CHECK_EQ("send own creds", sendmsg(sv[0], &sm, 0), 1);
	CHECK_EQ("recv own creds", read(sv[1], buf, sizeof(buf)), 1);
	if (geteuid() != 0) {
		sc.u.pid = 1;
		CHECK_ERR("foreign pid", sendmsg(sv[0], &sm, 0), EPERM);
	} else {
		printf("ok foreign pid\n");
	}
	sc.h.cmsg_len = CMSG_LEN(4);
	CHECK_ERR("short creds", sendmsg(sv[0], &sm, 0), EINVAL);
	close(sv[0]);
	close(sv[1]);
	return check_done();
}
