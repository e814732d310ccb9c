/* open_close: open and close of one file in /tmp (path walk + fd table). */
#include "bench.h"

#include <fcntl.h>
#include <unistd.h>

static char path[] = "/tmp/rampart-bench-XXXXXX";

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			perror("open");
			exit(1);
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	int r = bench_main(argc, argv, "open_close", op);
	unlink(path);
	return r;
}
