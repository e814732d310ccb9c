/* signal_wait: waitid WNOHANG/WNOWAIT and its siginfo (CLD_EXITED,
 * CLD_KILLED), SIGCHLD's siginfo, zombies reaped automatically when SIGCHLD
 * is ignored or SA_NOCLDWAIT is set, __WCLONE/__WALL for children with
 * another exit signal, and exit_group from a thread that is not the
 * leader. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile int nchld;
static siginfo_t chld;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld = *si;
	nchld++;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR) {
	}
}

static void *exiter(void *arg)
{
	(void)arg;
	sleep_ms(10);
	syscall(SYS_exit_group, 33);
	return NULL;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);

	int fds[2];
	if (pipe(fds))
		return 1;
	pid_t c = fork();
	if (c == 0) {
		char b;
		if (read(fds[0], &b, 1) < 0)
			_exit(2);
		_exit(5);
	}
	siginfo_t si;
	memset(&si, 0x55, sizeof si);
	CHECK_OK("waitid WNOHANG", waitid(P_PID, c, &si, WEXITED | WNOHANG));
	CHECK_EQ("nothing yet: si_pid 0", si.si_pid, 0);
	CHECK_EQ("nothing yet: si_signo 0", si.si_signo, 0);
	if (write(fds[1], "x", 1) != 1)
		return 1;
	for (int i = 0; i < 500 && nchld == 0; i++)
		sleep_ms(5);
	CHECK_EQ("SIGCHLD", nchld, 1);
	CHECK_EQ("SIGCHLD code", chld.si_code, CLD_EXITED);
	CHECK_EQ("SIGCHLD status", chld.si_status, 5);
	CHECK("SIGCHLD pid", chld.si_pid == c);
	CHECK("SIGCHLD uid", chld.si_uid == getuid());
	memset(&si, 0, sizeof si);
	CHECK_OK("waitid WNOWAIT", waitid(P_ALL, 0, &si, WEXITED | WNOWAIT));
	CHECK_EQ("WNOWAIT code", si.si_code, CLD_EXITED);
	CHECK_EQ("WNOWAIT status", si.si_status, 5);
	CHECK_EQ("WNOWAIT signo", si.si_signo, SIGCHLD);
	CHECK("WNOWAIT pid", si.si_pid == c);
	memset(&si, 0, sizeof si);
	CHECK_OK("waitid again", waitid(P_PID, c, &si, WEXITED));
	CHECK("still there", si.si_pid == c && si.si_status == 5);
	CHECK_ERR("reaped", waitid(P_PID, c, &si, WEXITED), ECHILD);
	CHECK_ERR("waitid no options", waitid(P_ALL, 0, &si, 0), EINVAL);
	CHECK_ERR("waitid bad idtype", waitid(7, 0, &si, WEXITED), EINVAL);

	c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	kill(c, SIGTERM);
	memset(&si, 0, sizeof si);
	CHECK_OK("waitid killed", waitid(P_PID, c, &si, WEXITED));
	CHECK_EQ("CLD_KILLED", si.si_code, CLD_KILLED);
	CHECK_EQ("killed status", si.si_status, SIGTERM);

	/* wait4 with rusage. */
	c = fork();
	if (c == 0)
		_exit(3);
	struct rusage ru;
	int st;
	CHECK_EQ("wait4", wait4(c, &st, 0, &ru), c);
	CHECK("wait4 status", WIFEXITED(st) && WEXITSTATUS(st) == 3);

	/* SIGCHLD ignored: no zombie. */
	signal(SIGCHLD, SIG_IGN);
	c = fork();
	if (c == 0)
		_exit(0);
	CHECK_ERR("SIG_IGN autoreap", waitpid(c, &st, 0), ECHILD);

	/* SA_NOCLDWAIT: no zombie, but the handler still runs. */
	sa.sa_flags = SA_SIGINFO | SA_NOCLDWAIT | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	nchld = 0;
	c = fork();
	if (c == 0)
		_exit(0);
	CHECK_ERR("SA_NOCLDWAIT autoreap", waitpid(c, &st, 0), ECHILD);
	for (int i = 0; i < 500 && nchld == 0; i++)
		sleep_ms(5);
	CHECK_EQ("SA_NOCLDWAIT still signals", nchld, 1);
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);

	/* __WCLONE: a child whose exit signal is not SIGCHLD. */
	c = syscall(SYS_clone, 0 /* exit signal 0 */, 0, 0, 0, 0);
	if (c == 0)
		_exit(4);
	sleep_ms(20);
	CHECK_ERR("plain wait ignores clone child", waitpid(c, &st, WNOHANG), ECHILD);
	CHECK_EQ("__WCLONE", waitpid(c, &st, __WCLONE), c);
	CHECK("__WCLONE status", WIFEXITED(st) && WEXITSTATUS(st) == 4);
	c = fork();
	if (c == 0)
		_exit(6);
	CHECK_EQ("__WALL", waitpid(c, &st, __WALL), c);
	CHECK_ERR("__WCLONE ignores SIGCHLD child", waitpid(-1, &st, __WCLONE | WNOHANG), ECHILD);

	/* exit_group from a non-leader thread. */
	c = fork();
	if (c == 0) {
		pthread_t t2;
		pthread_create(&t2, NULL, exiter, NULL);
		for (;;)
			pause();
	}
	CHECK_EQ("exit_group waitpid", waitpid(c, &st, 0), c);
	CHECK("exit_group status", WIFEXITED(st) && WEXITSTATUS(st) == 33);
	return check_done();
}
