/* abort: a child killed by SIGABRT is seen as such by its parent, and a
 * second child's exit status reaches it too.
 *
 * The work is done in children because the sandbox runs the program as its
 * pid 1, which (like a container's init on Linux) ignores signals with the
 * default action sent from inside its own namespace. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		abort();
	}
	int status = 0;
	CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
	CHECK("child was signaled", WIFSIGNALED(status));
	CHECK_EQ("by SIGABRT", WTERMSIG(status), SIGABRT);

	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		_exit(42);
	}
	CHECK_EQ("waitpid exit", waitpid(pid, &status, 0), pid);
	CHECK("child exited", WIFEXITED(status));
	CHECK_EQ("with 42", WEXITSTATUS(status), 42);
	return check_done();
}
