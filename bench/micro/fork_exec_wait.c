/* fork_exec_wait: fork, exec a tiny static program (this binary with
 * "--exit", which exits before doing anything else), and wait: the cost of
 * starting a program. */
#include "bench.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *self;

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			char *args[] = { self, "--exit", NULL };
			char *env[] = { NULL };
			execve(self, args, env);
			_exit(127);
		}
		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "fork_exec_wait: child failed (status %#x)\n", st);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--exit") == 0)
		_exit(0);
	self = argv[0];
	return bench_main(argc, argv, "fork_exec_wait", op);
}
