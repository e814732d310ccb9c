/* fs_stat: stat(2) of a file on the (gofer-served) root; its size is checked. */
#include "fsbench.h"

#include <sys/stat.h>

static const char *path;

static void op(long n)
{
	struct stat st;
	for (long i = 0; i < n; i++) {
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 6) {
			perror("stat");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	path = fsbench_path(argc, argv, "small");
	return bench_main(argc, argv, "fs_stat", op);
}
