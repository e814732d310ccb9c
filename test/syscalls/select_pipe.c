/* select_pipe: select and pselect6 on pipes: fd_set bits in and out, the
 * count of set bits, EBADF for a closed descriptor in a set, EINVAL for a
 * negative nfds or timeout, sets cleared on timeout, timeouts written
 * back, and a blocked select woken by a child's write. */
#define _GNU_SOURCE
// rampart:retries 2
#include <fcntl.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	int nfds = (p[0] > p[1] ? p[0] : p[1]) + 1;
	fd_set r, w, e;
	struct timeval tv = {0, 0};

	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	CHECK_EQ("empty pipe: write end only", select(nfds, &r, &w, NULL, &tv), 1);
	CHECK("read bit cleared", !FD_ISSET(p[0], &r));
	CHECK("write bit kept", FD_ISSET(p[1], &w));

	write(p[1], "hi", 2);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	FD_SET(p[0], &r);
	FD_SET(p[1], &w);
	FD_SET(p[0], &e);
	CHECK_EQ("data: both", select(nfds, &r, &w, &e, &tv), 2);
	CHECK("read bit set", FD_ISSET(p[0], &r));
	CHECK("no exception", !FD_ISSET(p[0], &e));

	/* The same fd in the read and write sets counts per set. */
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(p[0], &w);
	CHECK_EQ("read end in both sets", select(nfds, &r, &w, NULL, &tv), 1);
	CHECK("read end not writable", !FD_ISSET(p[0], &w));

	char buf[16];
	read(p[0], buf, sizeof(buf));

	/* Timeout: the sets come back empty, the timeval is zero. */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv.tv_sec = 0;
	tv.tv_usec = 30000;
	CHECK_EQ("timeout", select(nfds, &r, NULL, NULL, &tv), 0);
	CHECK("set cleared", !FD_ISSET(p[0], &r));
	CHECK("timeval written back", tv.tv_sec == 0 && tv.tv_usec == 0);

	/* Time left is written back on success. */
	write(p[1], "x", 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv.tv_sec = 100;
	tv.tv_usec = 0;
	CHECK_EQ("ready with long timeout", select(nfds, &r, NULL, NULL, &tv), 1);
	CHECK("time left", tv.tv_sec >= 98 && tv.tv_sec <= 99);
	read(p[0], buf, 1);

	/* Microseconds past a second are normalised, not EINVAL. */
	tv.tv_sec = 0;
	tv.tv_usec = 1000001;
	FD_ZERO(&w);
	FD_SET(p[1], &w);
	CHECK_EQ("usec >= 1e6 accepted", select(nfds, NULL, &w, NULL, &tv), 1);
	tv.tv_sec = -1;
	tv.tv_usec = 0;
	CHECK_ERR("negative timeout", select(nfds, NULL, &w, NULL, &tv), EINVAL);
	tv.tv_sec = 0;
	CHECK_ERR("negative nfds", select(-1, NULL, &w, NULL, &tv), EINVAL);

	/* A closed descriptor in any set is EBADF, and the sets are left. */
	int closed = dup(p[0]);
	close(closed);
	FD_ZERO(&r);
	FD_SET(closed, &r);
	FD_SET(p[1], &w);
	int big = closed + 1 > nfds ? closed + 1 : nfds;
	CHECK_ERR("closed fd EBADF", select(big, &r, &w, NULL, &tv), EBADF);
	CHECK("set untouched on error", FD_ISSET(closed, &r));
	/* A closed fd beyond nfds is not looked at. */
	FD_ZERO(&w);
	FD_SET(p[1], &w);
	REQUIRE("closed fd above the pipe", closed > p[1]);
	CHECK_EQ("bits past nfds ignored", select(p[1] + 1, &r, &w, NULL, &tv), 1);

	/* select(0, ...) is a sleep. */
	tv.tv_sec = 0;
	tv.tv_usec = 10000;
	CHECK_EQ("sleep", select(0, NULL, NULL, NULL, &tv), 0);
	/* nfds of FD_SETSIZE with full sets of a few fds. */
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[1], &w);
	CHECK_EQ("nfds FD_SETSIZE", select(FD_SETSIZE, &r, &w, NULL, &tv), 1);

	/* POLLERR of a write end without readers makes it writable. */
	int q[2];
	REQUIRE("pipe2", pipe(q) == 0);
	close(q[0]);
	FD_ZERO(&w);
	FD_SET(q[1], &w);
	CHECK_EQ("write end without reader is writable", select(q[1] + 1, NULL, &w, NULL, &tv), 1);
	/* and readable too: POLLERR is in select's read set. */
	FD_ZERO(&r);
	FD_SET(q[1], &r);
	CHECK_EQ("and readable", select(q[1] + 1, &r, NULL, NULL, &tv), 1);
	close(q[1]);
	/* The read end after its writer closed is readable (EOF). */
	REQUIRE("pipe3", pipe(q) == 0);
	close(q[1]);
	FD_ZERO(&r);
	FD_SET(q[0], &r);
	CHECK_EQ("read end at EOF readable", select(q[0] + 1, &r, NULL, NULL, &tv), 1);
	close(q[0]);

	/* A blocked select is woken by a child's write. */
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		usleep(50000);
		write(p[1], "c", 1);
		_exit(0);
	}
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK_EQ("woken", select(nfds, &r, NULL, NULL, NULL), 1);
	CHECK("read bit", FD_ISSET(p[0], &r));
	waitpid(pid, NULL, 0);
	read(p[0], buf, 1);

	/* pselect6: timespec written back by the raw syscall, sigmask
	 * restored, bad sigset size EINVAL. */
	struct timespec ts = {0, 20000000};
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK_EQ("pselect6 timeout", syscall(SYS_pselect6, nfds, &r, NULL, NULL, &ts, NULL), 0);
	CHECK("pselect6 timespec zero", ts.tv_sec == 0 && ts.tv_nsec == 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	struct {
		sigset_t *ss;
		size_t len;
	} sig = {&set, 8};
	FD_ZERO(&w);
	FD_SET(p[1], &w);
	ts.tv_sec = 1;
	CHECK_EQ("pselect6 with mask", syscall(SYS_pselect6, nfds, NULL, &w, NULL, &ts, &sig), 1);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	CHECK("mask restored", !sigismember(&now, SIGUSR2));
	sig.len = 16;
	CHECK_ERR("pselect6 bad sigset size", syscall(SYS_pselect6, nfds, NULL, &w, NULL, &ts, &sig), EINVAL);
	ts.tv_nsec = 1000000000;
	CHECK_ERR("pselect6 bad timespec", syscall(SYS_pselect6, nfds, NULL, &w, NULL, &ts, NULL), EINVAL);
	CHECK_ERR("select EFAULT", syscall(SYS_select, nfds, 8, NULL, NULL, NULL), EFAULT);
	return check_done();
}
