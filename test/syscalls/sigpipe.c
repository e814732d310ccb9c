/*
 * sigpipe: writing to a pipe without readers sends SIGPIPE to the writer
 * (default action: death) and fails with EPIPE when the signal is caught
 * or ignored.
 */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got, code, frompid;

static void on_pipe(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got = sig;
	code = si->si_code;
	frompid = si->si_pid == getpid();
}

int main(void)
{
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	close(p[0]);

	pid_t c = fork();
	REQUIRE("fork", c >= 0);
	if (c == 0) {
		write(p[1], "x", 1);
		_exit(0);
	}
	int st;
	REQUIRE("wait", waitpid(c, &st, 0) == c);
	CHECK("default action kills with SIGPIPE", WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);

	struct sigaction sa = {.sa_sigaction = on_pipe, .sa_flags = SA_SIGINFO};
	REQUIRE("sigaction", sigaction(SIGPIPE, &sa, NULL) == 0);
	CHECK_ERR("caught: EPIPE", write(p[1], "x", 1), EPIPE);
	CHECK_EQ("handler ran", got, SIGPIPE);
	CHECK_EQ("si_code SI_USER", code, SI_USER);
	CHECK("si_pid is the writer", frompid);
	return check_done();
}
