/* fs_open_close: open and close of a file on the (gofer-served) root. */
#include "fsbench.h"

#include <fcntl.h>
#include <unistd.h>

static const char *path;

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
	path = fsbench_path(argc, argv, "small");
	return bench_main(argc, argv, "fs_open_close", op);
}
