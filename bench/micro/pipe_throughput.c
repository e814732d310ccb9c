/* pipe_throughput: 64 KiB writes into a pipe that another process drains;
 * one op is one 64 KiB write (divide 65536 by ns/op for bytes/ns). */
#include "bench.h"

#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536

static int p[2];

static void op(long n)
{
	static char buf[CHUNK];
	for (long i = 0; i < n; i++) {
		for (size_t done = 0; done < CHUNK;) {
			ssize_t k = write(p[1], buf + done, CHUNK - done);
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
	if (pipe(p)) {
		perror("pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		static char buf[CHUNK];
		close(p[1]);
		while (read(p[0], buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	int rc = bench_main(argc, argv, "pipe_throughput_64KiB", op);
	close(p[1]);
	waitpid(pid, NULL, 0);
	return rc;
}
