/*
 * fs_mkbig: writes bench/fs.sh's big file, MIB MiB of pages that carry
 * their index (see fsbench.h), so that the readers can check each page.
 *
 *   fs_mkbig PATH MIB
 */
#include "fsbench.h"

#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static unsigned char buf[1 << 20];
	if (argc != 3) {
		fprintf(stderr, "usage: fs_mkbig PATH MIB\n");
		return 2;
	}
	long mib = atol(argv[2]);
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || mib <= 0) {
		perror(argv[1]);
		return 1;
	}
	uint64_t idx = 0;
	for (long m = 0; m < mib; m++) {
		for (size_t off = 0; off < sizeof(buf); off += FSBENCH_PAGE)
			fsbench_fill_page(buf + off, idx++);
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			perror("write");
			return 1;
		}
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		perror("close");
		return 1;
	}
	return 0;
}
