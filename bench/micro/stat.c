/* stat: stat(2) of a file in /tmp. */
#include "bench.h"

#include <sys/stat.h>
#include <unistd.h>

static char path[] = "/tmp/rampart-bench-XXXXXX";

static void op(long n)
{
	struct stat st;
	for (long i = 0; i < n; i++)
		if (stat(path, &st) != 0) {
			perror("stat");
			exit(1);
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
	int r = bench_main(argc, argv, "stat", op);
	unlink(path);
	return r;
}
