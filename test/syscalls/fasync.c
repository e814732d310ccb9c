/*
 * fasync: signal-driven I/O, as Linux does it (fcntl(2) "Managing
 * signals", socket(7) "SIGIO").
 *
 * The owner of an open file description (F_SETOWN, F_SETOWN_EX, and the
 * FIOSETOWN/SIOCSPGRP socket ioctls) and the signal to send (F_SETSIG)
 * round trip and are shared by dup and fork. O_ASYNC is set by F_SETFL
 * and FIOASYNC only on files that can signal (pipes, sockets): on a
 * regular file F_SETFL succeeds but drops it, and FIOASYNC is ENOTTY.
 * With O_ASYNC and an owner, I/O signals the owner: plain SIGIO with
 * si_code SI_KERNEL, or, with F_SETSIG, the chosen signal carrying
 * si_code POLL_*, si_fd and si_band, queued once per event as real-time
 * signals are. Linux signals a pipe's reader on every write and its
 * writer on every read (full or not) and each when the other end closes;
 * a stream socket on data, on the peer's shutdown (POLL_IN) and on its
 * close (POLL_HUP), a datagram socket on data only; a listener on a
 * connection. An F_OWNER_TID owner gets the signal as that thread's own,
 * a process group owner in every member. Without O_ASYNC, or without an
 * owner, nothing is sent.
 */
#include "sigio.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#define BAND_IN (POLLIN | POLLRDNORM)
#define BAND_OUT (POLLOUT | POLLWRNORM | POLLWRBAND)

static int rt1;

/* async_on makes this process fd's owner, sig its signal, and sets O_ASYNC. */
static int async_on(int fd, int sig)
{
	if (fcntl(fd, F_SETOWN, getpid()) || fcntl(fd, F_SETSIG, sig))
		return -1;
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
}

/* ex_is reports whether F_GETOWN_EX of fd gives type and pid. */
static int ex_is(int fd, int type, pid_t pid)
{
	struct f_owner_ex ex = {-1, -1};
	return fcntl(fd, F_GETOWN_EX, &ex) == 0 && ex.type == type && ex.pid == pid;
}

/* setown_ex sets fd's owner with F_SETOWN_EX. */
static int setown_ex(int fd, int type, pid_t pid)
{
	struct f_owner_ex ex = {type, pid};
	return fcntl(fd, F_SETOWN_EX, &ex);
}

static void owners(void)
{
	int p[2], on = 1, off = 0;
	pipe(p);
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);

	CHECK_EQ("getown of a new pipe", fcntl(p[0], F_GETOWN), 0);
	CHECK("getown_ex of a new pipe", ex_is(p[0], F_OWNER_TID, 0));
	CHECK_EQ("setown pid", fcntl(p[0], F_SETOWN, getpid()), 0);
	CHECK_EQ("getown pid", fcntl(p[0], F_GETOWN), getpid());
	CHECK("getown_ex says pid", ex_is(p[0], F_OWNER_PID, getpid()));
	CHECK_EQ("setown -pgrp", fcntl(p[0], F_SETOWN, -getpgrp()), 0);
	CHECK_EQ("getown -pgrp", fcntl(p[0], F_GETOWN), -getpgrp());
	CHECK("getown_ex says pgrp", ex_is(p[0], F_OWNER_PGRP, getpgrp()));
	CHECK_ERR("setown dead pid", fcntl(p[0], F_SETOWN, dead), ESRCH);
	CHECK_ERR("setown dead pgrp", fcntl(p[0], F_SETOWN, -dead), ESRCH);
	CHECK_EQ("owner kept on esrch", fcntl(p[0], F_GETOWN), -getpgrp());
	CHECK_EQ("setown 0", fcntl(p[0], F_SETOWN, 0), 0);
	CHECK_EQ("getown 0", fcntl(p[0], F_GETOWN), 0);
	CHECK("getown_ex after setown 0", ex_is(p[0], F_OWNER_PID, 0));

	CHECK_EQ("setown_ex tid", setown_ex(p[0], F_OWNER_TID, gettid()), 0);
	CHECK("getown_ex tid", ex_is(p[0], F_OWNER_TID, gettid()));
	CHECK_EQ("setown_ex pid", setown_ex(p[0], F_OWNER_PID, getpid()), 0);
	CHECK("getown_ex pid", ex_is(p[0], F_OWNER_PID, getpid()));
	CHECK_EQ("setown_ex pgrp", setown_ex(p[0], F_OWNER_PGRP, getpgrp()), 0);
	CHECK("getown_ex pgrp", ex_is(p[0], F_OWNER_PGRP, getpgrp()));
	CHECK_EQ("getown after setown_ex pgrp", fcntl(p[0], F_GETOWN), -getpgrp());
	CHECK_ERR("setown_ex bad type", setown_ex(p[0], 3, getpid()), EINVAL);
	CHECK_ERR("setown_ex dead tid", setown_ex(p[0], F_OWNER_TID, dead), ESRCH);
	CHECK_ERR("setown_ex negative pgrp", setown_ex(p[0], F_OWNER_PGRP, -getpgrp()), ESRCH);

	CHECK_EQ("getsig of a new pipe", fcntl(p[1], F_GETSIG), 0);
	CHECK_EQ("setsig rtmin+1", fcntl(p[0], F_SETSIG, rt1), 0);
	CHECK_EQ("getsig rtmin+1", fcntl(p[0], F_GETSIG), rt1);
	CHECK_EQ("setsig 64", fcntl(p[0], F_SETSIG, 64), 0);
	CHECK_ERR("setsig 65", fcntl(p[0], F_SETSIG, 65), EINVAL);
	CHECK_ERR("setsig -1", fcntl(p[0], F_SETSIG, -1), EINVAL);
	CHECK_EQ("getsig kept", fcntl(p[0], F_GETSIG), 64);
	CHECK_EQ("setsig 0", fcntl(p[0], F_SETSIG, 0), 0);
	CHECK_EQ("getsig 0", fcntl(p[0], F_GETSIG), 0);

	CHECK_EQ("setfl o_async", fcntl(p[0], F_SETFL, O_ASYNC), 0);
	CHECK("getfl o_async", fcntl(p[0], F_GETFL) & O_ASYNC);
	CHECK_EQ("setfl clears it", fcntl(p[0], F_SETFL, 0), 0);
	CHECK("getfl no o_async", !(fcntl(p[0], F_GETFL) & O_ASYNC));
	CHECK_EQ("fioasync on", ioctl(p[0], FIOASYNC, &on), 0);
	CHECK("fioasync sets o_async", fcntl(p[0], F_GETFL) & O_ASYNC);
	CHECK_EQ("fioasync off", ioctl(p[0], FIOASYNC, &off), 0);
	CHECK("fioasync clears o_async", !(fcntl(p[0], F_GETFL) & O_ASYNC));
	CHECK_ERR("fiosetown on a pipe", ioctl(p[0], FIOSETOWN, &on), ENOTTY);
	close(p[0]);
	close(p[1]);
}

static void pipes(void)
{
	int p[2], q[2];
	char b[4096] = {0};
	pipe(p);
	fcntl(p[0], F_SETOWN, getpid());
	fcntl(p[0], F_SETFL, O_ASYNC);
	write(p[1], "x", 1);
	sigio_expect("write sends sigio", SIGIO, SI_KERNEL, 0, 0);
	fcntl(p[0], F_SETSIG, rt1);
	write(p[1], "x", 1);
	sigio_expect("with setsig: poll_in", rt1, POLL_IN, p[0], BAND_IN);
	write(p[1], "x", 1);
	write(p[1], "x", 1);
	sigio_expect("two writes: first", rt1, POLL_IN, p[0], BAND_IN);
	sigio_expect("two writes: second", rt1, POLL_IN, p[0], BAND_IN);
	sigio_quiet("and no third");
	fcntl(p[0], F_SETFL, 0);
	write(p[1], "x", 1);
	sigio_quiet("o_async cleared: none");
	fcntl(p[0], F_SETFL, O_ASYNC);
	close(p[1]);
	sigio_expect("closing the writer: poll_in", rt1, POLL_IN, p[0], BAND_IN);
	close(p[0]);

	pipe(q);
	async_on(q[1], rt1);
	fcntl(q[1], F_SETFL, O_ASYNC | O_NONBLOCK);
	write(q[1], "ab", 2);
	sigio_quiet("writing does not signal the writer");
	read(q[0], b, 1);
	sigio_expect("a read signals the writer", rt1, POLL_OUT, q[1], BAND_OUT);
	while (write(q[1], b, sizeof(b)) > 0)
		;
	sigio_quiet("filling the pipe: none");
	read(q[0], b, sizeof(b));
	sigio_expect("a read of a full pipe: poll_out", rt1, POLL_OUT, q[1], BAND_OUT);
	close(q[0]);
	sigio_expect("closing the reader: poll_out", rt1, POLL_OUT, q[1], BAND_OUT);
	close(q[1]);

	pipe(p);
	fcntl(p[0], F_SETOWN, getpid());
	fcntl(p[0], F_SETSIG, rt1);
	write(p[1], "x", 1);
	sigio_quiet("owner but no o_async: none");
	fcntl(p[0], F_SETOWN, 0);
	fcntl(p[0], F_SETFL, O_ASYNC);
	write(p[1], "x", 1);
	sigio_quiet("o_async but no owner: none");
	close(p[0]);
	close(p[1]);
}

static void sockets(void)
{
	int sv[2], v;
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	async_on(sv[0], rt1);
	send(sv[1], "x", 1, 0);
	sigio_expect("stream send: poll_in", rt1, POLL_IN, sv[0], BAND_IN);
	shutdown(sv[1], SHUT_WR);
	sigio_expect("stream shutdown: poll_in", rt1, POLL_IN, sv[0], BAND_IN);
	close(sv[1]);
	sigio_expect("stream close: poll_hup", rt1, POLL_HUP, sv[0], POLLHUP | POLLERR);
	close(sv[0]);

	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	async_on(sv[0], rt1);
	send(sv[1], "x", 1, 0);
	sigio_expect("dgram send: poll_in", rt1, POLL_IN, sv[0], BAND_IN);
	close(sv[1]);
	sigio_quiet("dgram close: none");
	close(sv[0]);

	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE("listen", bind(l, (struct sockaddr *)&a, al) == 0 && listen(l, 1) == 0 &&
				  getsockname(l, (struct sockaddr *)&a, &al) == 0);
	async_on(l, rt1);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, al);
	sigio_expect("a connection signals the listener", rt1, POLL_IN, l, BAND_IN);

	v = getpid();
	CHECK_EQ("fiosetown", ioctl(c, FIOSETOWN, &v), 0);
	CHECK_EQ("getown after fiosetown", fcntl(c, F_GETOWN), getpid());
	v = 0;
	CHECK("siocgpgrp", ioctl(c, SIOCGPGRP, &v) == 0 && v == getpid());
	v = -getpgrp();
	CHECK_EQ("siocspgrp -pgrp", ioctl(c, SIOCSPGRP, &v), 0);
	CHECK_EQ("getown after siocspgrp", fcntl(c, F_GETOWN), -getpgrp());
	v = 0;
	CHECK("fiogetown", ioctl(c, FIOGETOWN, &v) == 0 && v == -getpgrp());
	close(c);
	close(l);
}

static int tid_pipe[2], ready[2], go[2], thread_tid, thread_got;
static siginfo_t thread_si;

/* owner_thread waits, with rt1 blocked, for the signal sent to it alone. */
static void *owner_thread(void *arg)
{
	char ch;
	thread_tid = gettid();
	write(ready[1], "r", 1);
	read(go[0], &ch, 1);
	thread_got = sigio_wait(rt1, &thread_si, 2000);
	return arg;
}

static void thread_owner(void)
{
	pthread_t t;
	char ch;
	pipe(tid_pipe);
	pipe(ready);
	pipe(go);
	pthread_create(&t, NULL, owner_thread, NULL);
	read(ready[0], &ch, 1);
	async_on(tid_pipe[0], rt1);
	CHECK_EQ("setown_ex another thread", setown_ex(tid_pipe[0], F_OWNER_TID, thread_tid), 0);
	write(tid_pipe[1], "x", 1);
	sigio_quiet("tid owner: not the main thread");
	write(go[1], "g", 1);
	pthread_join(t, NULL);
	CHECK("tid owner: the thread gets it", thread_got && thread_si.si_code == POLL_IN &&
							thread_si.si_fd == tid_pipe[0]);
	for (int i = 0; i < 2; i++) {
		close(tid_pipe[i]);
		close(ready[i]);
		close(go[i]);
	}
}

/* group_owner runs in a child that leads a new process group; it and its
 * own child, in the group, both get the signal. */
static void group_owner(void)
{
	int p[2], st = 0;
	siginfo_t si;
	setpgid(0, 0);
	pipe(p);
	pid_t g = fork();
	if (g == 0)
		_exit(sigio_wait(rt1, &si, 2000) && si.si_code == POLL_IN && si.si_fd == p[0] ? 0 : 1);
	async_on(p[0], rt1);
	CHECK_EQ("setown -pgrp of a new group", fcntl(p[0], F_SETOWN, -getpgrp()), 0);
	write(p[1], "x", 1);
	sigio_expect("the group leader gets it", rt1, POLL_IN, p[0], BAND_IN);
	CHECK("a member of the group gets it",
	      waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int shared_fd, shared_w;

/* fork_child checks the owner it inherits and signals it. */
static void fork_child(void)
{
	CHECK_EQ("the child sees the owner", fcntl(shared_fd, F_GETOWN), getppid());
	CHECK_EQ("and the signal", fcntl(shared_fd, F_GETSIG), rt1);
	write(shared_w, "x", 1);
}

static void sharing(void)
{
	int p[2];
	pipe(p);
	async_on(p[0], rt1);
	int d = dup(p[0]);
	CHECK_EQ("a dup shares the owner", fcntl(d, F_GETOWN), getpid());
	CHECK_EQ("and the signal", fcntl(d, F_GETSIG), rt1);
	CHECK("and o_async", fcntl(d, F_GETFL) & O_ASYNC);
	fcntl(d, F_SETOWN, 0);
	CHECK_EQ("setown on the dup changes both", fcntl(p[0], F_GETOWN), 0);
	close(d);
	fcntl(p[0], F_SETOWN, getpid());
	shared_fd = p[0];
	shared_w = p[1];
	check_in_child("fork child", NULL, fork_child);
	sigio_expect("the child's write signals the owner", rt1, POLL_IN, p[0], BAND_IN);
	close(p[0]);
	close(p[1]);

	char dir[] = "/tmp/fasyncXXXXXX", path[64];
	REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	int f = open(path, O_CREAT | O_RDWR, 0600), one = 1;
	fcntl(f, F_SETOWN, getpid());
	fcntl(f, F_SETSIG, rt1);
	CHECK_EQ("setfl o_async on a file", fcntl(f, F_SETFL, O_ASYNC), 0);
	CHECK("is not kept", !(fcntl(f, F_GETFL) & O_ASYNC));
	CHECK_ERR("fioasync on a file", ioctl(f, FIOASYNC, &one), ENOTTY);
	write(f, "x", 1);
	sigio_quiet("a file sends nothing");
	close(f);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	rt1 = SIGRTMIN + 1;
	sigio_block(rt1);

	owners();
	pipes();
	sigio_drain();
	sockets();
	sigio_drain();
	thread_owner();
	sigio_drain();
	check_in_child("group owner", NULL, group_owner);
	sharing();
	return check_done();
}
