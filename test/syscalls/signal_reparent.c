/* signal_reparent: orphans are reparented to the nearest child subreaper
 * (prctl PR_SET_CHILD_SUBREAPER), and PR_SET_PDEATHSIG fires when the
 * thread that created a child exits, even though its process lives on. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int pfd[2];

static void on_pdeath(int sig)
{
	char c = (char)sig;
	if (write(pfd[1], &c, 1) != 1)
		_exit(9);
	_exit(0);
}

static void *creator(void *arg)
{
	(void)arg;
	pid_t c = fork();
	if (c == 0) {
		signal(SIGUSR2, on_pdeath);
		if (prctl(PR_SET_PDEATHSIG, SIGUSR2)) {
			/* Report the failure instead of waiting forever. */
			char f = 'F';
			if (write(pfd[1], &f, 1) != 1 || write(pfd[1], &f, 1) != 1)
				_exit(8);
			_exit(1);
		}
		char c2 = 'r';
		if (write(pfd[1], &c2, 1) != 1)
			_exit(8);
		for (;;)
			pause();
	}
	char r;
	if (read(pfd[0], &r, 1) != 1)
		return NULL;
	return (void *)(long)c;
}

int main(void)
{
	int fds[2], st;
	pid_t c;
	/* Reparenting to a child subreaper: the orphaned grandchild reports
	 * its new parent through a pipe once its parent has exited. */
	CHECK_OK("subreaper", prctl(PR_SET_CHILD_SUBREAPER, 1));
	int back[2];
	if (pipe(fds) || pipe(back))
		return 1;
	c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			char b;
			if (read(fds[0], &b, 1) < 0)
				_exit(2);
			pid_t pp = getppid();
			if (write(back[1], &pp, sizeof pp) != sizeof pp)
				_exit(3);
			_exit(11);
		}
		_exit(0);
	}
	CHECK_EQ("middle exits", waitpid(c, &st, 0), c);
	if (write(fds[1], "x", 1) != 1)
		return 1;
	pid_t pp = 0;
	CHECK_EQ("grandchild reports", read(back[0], &pp, sizeof pp), (long)sizeof pp);
	CHECK("its parent became us", pp == getpid());
	pid_t g = waitpid(-1, &st, 0);
	CHECK("reaped the grandchild", g > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 11);
	prctl(PR_SET_CHILD_SUBREAPER, 0);

	/* PR_SET_PDEATHSIG fires when the creating thread exits. */
	if (pipe(pfd))
		return 1;
	pthread_t th;
	pthread_create(&th, NULL, creator, NULL);
	void *ret;
	pthread_join(th, &ret);
	c = (pid_t)(long)ret;
	char got = 0;
	CHECK_EQ("pdeath signal read", read(pfd[0], &got, 1), 1);
	CHECK_EQ("pdeath signal", got, SIGUSR2);
	CHECK_EQ("pdeath child exits", waitpid(c, &st, 0), c);
	CHECK("pdeath exit 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	return check_done();
}
