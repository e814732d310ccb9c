/* pty_stop: a background process reading its controlling terminal with
 * SIGTTIN's default action stops; brought to the foreground with
 * tcsetpgrp and continued with SIGCONT, its read restarts and gets the
 * input. Runs in children (the sandbox runs the test as pid 1). */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "pty.h"

int main(void)
{
	char name[64];
	int m = open_pty(name, sizeof(name));
	REQUIRE("open pty", m >= 0);
	pid_t c = fork();
	if (c == 0) {
		setsid();
		int s = open(name, O_RDWR);
		pid_t g = fork();
		if (g == 0) {
			setpgid(0, 0);
			char b[8];
			_exit(read(s, b, sizeof(b)) == 2 && b[0] == 'x' ? 0 : 1);
		}
		setpgid(g, g);
		int st = 0;
		CHECK_EQ("waitpid WUNTRACED", waitpid(g, &st, WUNTRACED), g);
		CHECK("background reader stopped by SIGTTIN", WIFSTOPPED(st) && WSTOPSIG(st) == SIGTTIN);
		CHECK_OK("tcsetpgrp", tcsetpgrp(s, g));
		CHECK_OK("SIGCONT", kill(g, SIGCONT));
		put(m, "x\n");
		CHECK_EQ("waitpid", waitpid(g, &st, 0), g);
		CHECK("the continued reader read the input", WIFEXITED(st) && WEXITSTATUS(st) == 0);
		_exit(check_failures ? 1 : 0);
	}
	int st = 0;
	waitpid(c, &st, 0);
	CHECK("session child", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	expect("echo", m, "x\r\n");
	return check_done();
}
