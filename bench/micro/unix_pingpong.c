/* unix_pingpong: one byte bounced between two processes over a unix stream
 * socketpair; one op is a round trip (two sends, two receives, two
 * wakeups). */
#include "bench.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int sv[2];

static void op(long n)
{
	char c = 'x';
	for (long i = 0; i < n; i++) {
		if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1) {
			perror("pingpong");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("socketpair");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		char c;
		close(sv[0]);
		while (read(sv[1], &c, 1) == 1)
			if (write(sv[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(sv[1]);
	int rc = bench_main(argc, argv, "unix_pingpong", op);
	shutdown(sv[0], SHUT_WR);
	waitpid(pid, NULL, 0);
	return rc;
}
