/* tcp_pingpong: one byte bounced between two processes over a loopback TCP
 * connection (TCP_NODELAY); one op is a round trip. */
#include "bench.h"
#include "tcp_conn.h"

#include <sys/wait.h>

static int c;

static void op(long n)
{
	char b = 'x';
	for (long i = 0; i < n; i++) {
		if (write(c, &b, 1) != 1 || read(c, &b, 1) != 1) {
			perror("pingpong");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	int s;
	c = tcp_conn(&s);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		char b;
		close(c);
		while (read(s, &b, 1) == 1)
			if (write(s, &b, 1) != 1)
				break;
		_exit(0);
	}
	close(s);
	int rc = bench_main(argc, argv, "tcp_pingpong", op);
	shutdown(c, SHUT_WR);
	waitpid(pid, NULL, 0);
	return rc;
}
