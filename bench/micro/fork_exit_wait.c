/* fork_exit_wait: fork a child that exits at once, and wait for it; the
 * copy-on-write address-space copy, task creation, exit and reaping. */
#include "bench.h"

#include <sys/wait.h>
#include <unistd.h>

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		waitpid(pid, NULL, 0);
	}
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "fork_exit_wait", op);
}
