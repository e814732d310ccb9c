/* rw_4k: a 4 KiB pwrite then a 4 KiB pread on a tmpfs file (/dev/shm). */
#include "bench.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define CHUNK 4096
#define FILESIZE (1 << 20)

static int fd;

static void op(long n)
{
	static char buf[CHUNK];
	for (long i = 0; i < n; i++) {
		off_t off = (i * CHUNK) % FILESIZE;
		if (pwrite(fd, buf, CHUNK, off) != CHUNK || pread(fd, buf, CHUNK, off) != CHUNK) {
			perror("rw");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	char path[64];
	snprintf(path, sizeof(path), "/dev/shm/rampart-bench-%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	unlink(path);
	return bench_main(argc, argv, "rw_4k", op);
}
