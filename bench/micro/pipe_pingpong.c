/* pipe_pingpong: one byte bounced between two processes over two pipes;
 * one op is a round trip (two writes, two reads, two wakeups). */
#include "bench.h"

#include <sys/wait.h>
#include <unistd.h>

static int ping[2], pong[2];

static void op(long n)
{
	char c = 'x';
	for (long i = 0; i < n; i++) {
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
			perror("pingpong");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (pipe(ping) || pipe(pong)) {
		perror("pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		char c;
		close(ping[1]);
		close(pong[0]);
		while (read(ping[0], &c, 1) == 1)
			if (write(pong[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(ping[0]);
	close(pong[1]);
	int rc = bench_main(argc, argv, "pipe_pingpong", op);
	close(ping[1]);
	waitpid(pid, NULL, 0);
	return rc;
}
