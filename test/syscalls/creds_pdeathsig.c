/* creds_pdeathsig: prctl(PR_SET_PDEATHSIG) fires when the parent dies, and
 * the orphan is reparented to the nearest child subreaper.
 *
 * main (a subreaper) forks C; C forks G. G blocks SIGUSR1, arms it as its
 * parent-death signal and tells C through a pipe; only then does C exit.
 * G waits for SIGUSR1 with sigtimedwait, so the outcome does not depend on
 * timing, and reports through its exit status, which main collects once G
 * has been reparented to it. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
	CHECK_EQ("become a child subreaper", prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	pid_t self = getpid();
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	fflush(stdout);
	pid_t c = fork();
	REQUIRE("fork C", c >= 0);
	if (c == 0) {
		pid_t cpid = getpid();
		pid_t g = fork();
		if (g < 0)
			_exit(2);
		if (g == 0) {
			sigset_t set;
			sigemptyset(&set);
			sigaddset(&set, SIGUSR1);
			sigprocmask(SIG_BLOCK, &set, NULL);
			if (prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0) != 0 || getppid() != cpid)
				_exit(3);
			char b = 1;
			if (write(p[1], &b, 1) != 1)
				_exit(4);
			struct timespec ts = {20, 0};
			siginfo_t si;
			int sig = sigtimedwait(&set, &si, &ts);
			if (sig != SIGUSR1)
				_exit(5);
			if (getppid() != self)
				_exit(6);
			_exit(42);
		}
		char b;
		if (read(p[0], &b, 1) != 1)
			_exit(7);
		_exit(0);
	}
	close(p[1]);
	int status = 0;
	CHECK_EQ("wait for C", waitpid(c, &status, 0), c);
	CHECK("C exited 0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pid_t g = waitpid(-1, &status, 0);
	CHECK("the grandchild was reparented to us and reaped", g > 0 && g != c);
	CHECK("it exited", WIFEXITED(status));
	CHECK_EQ("it got SIGUSR1 and saw the subreaper as its parent", WEXITSTATUS(status), 42);
	return check_done();
}
