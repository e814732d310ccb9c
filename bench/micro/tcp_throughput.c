/* tcp_throughput: 64 KiB sends into a loopback TCP connection that another
 * process drains; one op is one 64 KiB send (divide 65536 by ns/op for
 * bytes/ns). */
#include "bench.h"
#include "tcp_conn.h"

#include <sys/wait.h>

#define CHUNK 65536

static int c;

static void op(long n)
{
	static char buf[CHUNK];
	for (long i = 0; i < n; i++) {
		for (size_t done = 0; done < CHUNK;) {
			ssize_t k = write(c, buf + done, CHUNK - done);
			if (k <= 0) {
				perror("write");
				exit(1);
			}
			done += k;
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
		static char buf[CHUNK];
		close(c);
		while (read(s, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(s);
	int rc = bench_main(argc, argv, "tcp_throughput_64KiB", op);
	shutdown(c, SHUT_WR);
	waitpid(pid, NULL, 0);
	return rc;
}
