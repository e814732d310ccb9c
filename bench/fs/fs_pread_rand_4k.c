/*
 * fs_pread_rand_4k: 4 KiB preads at random aligned offsets of the big file;
 * each page read is checked (fsbench_check_page).
 */
#include "fsbench.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd;
static long pages;
static unsigned long long seed = 88172645463325252ULL;

static void op(long n)
{
	static unsigned char buf[FSBENCH_PAGE];
	for (long i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		uint64_t idx = seed % pages;
		if (pread(fd, buf, sizeof(buf), (off_t)idx * FSBENCH_PAGE) != sizeof(buf)) {
			perror("pread");
			exit(1);
		}
		fsbench_check_page(buf, idx, "pread");
	}
}

int main(int argc, char **argv)
{
	struct stat st;
	fd = open(fsbench_path(argc, argv, "big"), O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < FSBENCH_PAGE) {
		perror("big");
		return 1;
	}
	pages = st.st_size / FSBENCH_PAGE;
	return bench_main(argc, argv, "fs_pread_rand_4k", op);
}
