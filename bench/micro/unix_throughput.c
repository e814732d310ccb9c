/* unix_throughput: 64 KiB sends into a unix stream socket that another
 * process drains; one op is one 64 KiB send (divide 65536 by ns/op for
 * bytes/ns). */
#include "bench.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536

static int sv[2];

static void op(long n)
{
	static char buf[CHUNK];
	for (long i = 0; i < n; i++) {
		for (size_t done = 0; done < CHUNK;) {
			ssize_t k = write(sv[0], buf + done, CHUNK - done);
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
		static char buf[CHUNK];
		close(sv[0]);
		while (read(sv[1], buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(sv[1]);
	int rc = bench_main(argc, argv, "unix_throughput_64KiB", op);
	shutdown(sv[0], SHUT_WR);
	waitpid(pid, NULL, 0);
	return rc;
}
