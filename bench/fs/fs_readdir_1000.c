/* fs_readdir_1000: open, list and close a 1,000-entry host directory. */
#include "fsbench.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *path;

static void op(long n)
{
	static char buf[32768];
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_DIRECTORY);
		long total = 0, r;
		while ((r = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
			total += r;
		if (fd < 0 || r < 0 || total == 0) {
			perror("getdents64");
			exit(1);
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	path = fsbench_path(argc, argv, "dir1000");
	return bench_main(argc, argv, "fs_readdir_1000", op);
}
