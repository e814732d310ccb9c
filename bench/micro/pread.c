/* pread: 4 KiB preads from a 1 MiB file in /tmp, walking through it. */
#include "bench.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define FILESIZE (1 << 20)
#define CHUNK 4096

static int fd;

static void op(long n)
{
	static char buf[CHUNK];
	for (long i = 0; i < n; i++) {
		if (pread(fd, buf, CHUNK, (i * CHUNK) % FILESIZE) != CHUNK) {
			perror("pread");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	char path[] = "/tmp/rampart-bench-XXXXXX";
	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	static char block[CHUNK];
	memset(block, 'x', sizeof(block));
	for (int i = 0; i < FILESIZE / CHUNK; i++)
		if (write(fd, block, CHUNK) != CHUNK) {
			perror("write");
			return 1;
		}
	int rc = bench_main(argc, argv, "pread_4KiB", op);
	unlink(path);
	return rc;
}
