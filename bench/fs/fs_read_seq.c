/*
 * fs_read_seq: sequential read(2) of the big file in 1 MiB reads, starting
 * over at its end; one op is one MiB.
 */
#include "fsbench.h"

#include <fcntl.h>
#include <unistd.h>

static int fd;

static void op(long n)
{
	static char buf[1 << 20];
	for (long i = 0; i < n; i++) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0) {
			lseek(fd, 0, SEEK_SET);
			r = read(fd, buf, sizeof(buf));
		}
		if (r <= 0) {
			perror("read");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	fd = open(fsbench_path(argc, argv, "big"), O_RDONLY);
	if (fd < 0) {
		perror("big");
		return 1;
	}
	return bench_main(argc, argv, "fs_read_seq", op);
}
