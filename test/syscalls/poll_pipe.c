/* poll_pipe: poll and ppoll on both ends of a pipe as data is written and
 * read and as the ends close (POLLHUP, POLLERR), zero and short timeouts,
 * POLLNVAL for closed descriptors, negative fds ignored, ppoll's timespec
 * written back and its argument checks. */
#define _GNU_SOURCE
// rampart:retries 2
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int poll1(int fd, short events, int timeout)
{
	struct pollfd p = {.fd = fd, .events = events};
	int n = poll(&p, 1, timeout);
	if (n < 0)
		return -1;
	return p.revents;
}

int main(void)
{
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	short both = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

	CHECK_EQ("empty read end", poll1(p[0], both, 0), 0);
	CHECK_EQ("empty write end", poll1(p[1], both, 0), POLLOUT | POLLWRNORM);

	struct pollfd two[2] = {{.fd = p[0], .events = POLLIN}, {.fd = p[1], .events = POLLOUT}};
	CHECK_EQ("poll both ends counts one", poll(two, 2, 0), 1);
	CHECK_EQ("read end revents", two[0].revents, 0);
	CHECK_EQ("write end revents", two[1].revents, POLLOUT);

	CHECK_EQ("write", write(p[1], "abc", 3), 3);
	CHECK_EQ("read end readable", poll1(p[0], both, 0), POLLIN | POLLRDNORM);
	CHECK_EQ("only asked events", poll1(p[0], POLLOUT, 0), 0);
	two[0].revents = two[1].revents = 77;
	CHECK_EQ("poll both ends counts two", poll(two, 2, 0), 2);
	char buf[70000];
	CHECK_EQ("read", read(p[0], buf, sizeof(buf)), 3);
	CHECK_EQ("drained", poll1(p[0], POLLIN, 0), 0);

	/* Fill the pipe: the write end stops being writable. */
	CHECK_OK("nonblock", fcntl(p[1], F_SETFL, O_NONBLOCK));
	long total = 0;
	for (;;) {
		ssize_t n = write(p[1], buf, 4096);
		if (n <= 0)
			break;
		total += n;
	}
	CHECK_EQ("filled 64 KiB", total, 65536);
	CHECK_EQ("full write end", poll1(p[1], POLLOUT, 0), 0);
	CHECK_EQ("full read end", poll1(p[0], POLLIN, 0), POLLIN);
	CHECK_EQ("read a page", read(p[0], buf, 4096), 4096);
	CHECK_EQ("writable again", poll1(p[1], POLLOUT, 0), POLLOUT);
	CHECK_EQ("read the rest", read(p[0], buf, sizeof(buf)), 61440);

	/* A short timeout expires with nothing ready. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ("timeout 50ms", poll1(p[0], POLLIN, 50), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK("waited at least 45ms", ms >= 45);
	CHECK_EQ("poll no fds", poll(NULL, 0, 10), 0);

	/* Data arriving from a child wakes a blocked poll. */
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		usleep(50000);
		write(p[1], "x", 1);
		_exit(0);
	}
	CHECK_EQ("woken by a write", poll1(p[0], POLLIN, 5000), POLLIN);
	CHECK_EQ("read x", read(p[0], buf, 10), 1);
	waitpid(pid, NULL, 0);

	/* Negative fds are ignored; closed ones are POLLNVAL. */
	int closed = dup(p[0]);
	close(closed);
	struct pollfd pf[3] = {{.fd = -1, .events = POLLIN}, {.fd = closed, .events = POLLIN}, {.fd = p[1], .events = POLLOUT}};
	pf[0].revents = 5;
	CHECK_EQ("nval counts", poll(pf, 3, 0), 2);
	CHECK_EQ("negative fd revents 0", pf[0].revents, 0);
	CHECK_EQ("closed fd POLLNVAL", pf[1].revents, POLLNVAL);
	CHECK_EQ("POLLNVAL even with no events", poll1(closed, 0, 0), POLLNVAL);

	/* Closing the write end: POLLHUP on the read end, even unasked. */
	int q[2];
	REQUIRE("pipe2", pipe(q) == 0);
	CHECK_EQ("write before close", write(q[1], "z", 1), 1);
	close(q[1]);
	CHECK_EQ("data and hangup", poll1(q[0], POLLIN, 0), POLLIN | POLLHUP);
	CHECK_EQ("hangup unasked", poll1(q[0], 0, 0), POLLHUP);
	read(q[0], buf, 1);
	CHECK_EQ("hangup after drain", poll1(q[0], POLLIN, 1000), POLLHUP);
	close(q[0]);

	/* Closing the read end: POLLERR on the write end. */
	REQUIRE("pipe3", pipe(q) == 0);
	close(q[0]);
	CHECK_EQ("write end error", poll1(q[1], POLLOUT, 0), POLLOUT | POLLERR);
	CHECK_EQ("error unasked", poll1(q[1], 0, 0), POLLERR);
	close(q[1]);

	/* ppoll: the time left is written back (glibc's wrapper hides it,
	 * so call the syscall). */
	struct pollfd pp = {.fd = p[0], .events = POLLIN};
	struct timespec ts = {0, 30 * 1000000};
	CHECK_EQ("ppoll timeout", syscall(SYS_ppoll, &pp, 1, &ts, NULL, 8), 0);
	CHECK("ppoll wrote back zero", ts.tv_sec == 0 && ts.tv_nsec == 0);
	write(p[1], "y", 1);
	ts.tv_sec = 100;
	ts.tv_nsec = 0;
	CHECK_EQ("ppoll ready", syscall(SYS_ppoll, &pp, 1, &ts, NULL, 8), 1);
	CHECK("ppoll time left written back", ts.tv_sec >= 98 && ts.tv_sec <= 99);
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000000;
	CHECK_ERR("ppoll bad timespec", ppoll(&pp, 1, &ts, NULL), EINVAL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	ts.tv_nsec = 0;
	CHECK_EQ("ppoll with sigmask", ppoll(&pp, 1, &ts, &set), 1);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	CHECK("mask restored", !sigismember(&now, SIGUSR1));
	CHECK_ERR("ppoll bad sigsetsize", syscall(SYS_ppoll, &pp, 1, &ts, &set, 4), EINVAL);

	/* Bad arguments. */
	CHECK_ERR("poll EFAULT", syscall(SYS_poll, 8, 1, 0), EFAULT);
	CHECK_ERR("poll nfds over RLIMIT_NOFILE", syscall(SYS_poll, 0, 1 << 30, 0), EINVAL);
	return check_done();
}
