/*
 * core_flag: a process killed by a core-dumping signal while RLIMIT_CORE
 * is 0 dumps no core, so its wait status says so (WCOREDUMP false), for a
 * default-action SIGABRT, SIGSEGV and a seccomp kill alike.
 */
#include "check.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int status_of(int sig)
{
	pid_t c = fork();
	if (c == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		if (sig == SIGSEGV) {
			volatile int *volatile bad = (int *)8;
			*bad = 1;
		}
		raise(sig);
		_exit(0);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return st;
}

int main(void)
{
	int st = status_of(SIGABRT);
	CHECK("SIGABRT kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	CHECK("no core dumped with RLIMIT_CORE 0", !WCOREDUMP(st));
	st = status_of(SIGSEGV);
	CHECK("SIGSEGV kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	CHECK("no core dumped with RLIMIT_CORE 0 (fault)", !WCOREDUMP(st));
	st = status_of(SIGQUIT);
	CHECK("SIGQUIT kills without core", WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT && !WCOREDUMP(st));
	return check_done();
}
