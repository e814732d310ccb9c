/*
 * fs_readdir_1000: open, list and close a 1,000-entry host directory; each
 * listing must hold exactly the 1,000 entries plus "." and "..".
 */
#include "fsbench.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *path;

struct dirent64_hdr {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
};

static void op(long n)
{
	static char buf[32768];
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_DIRECTORY);
		long entries = 0, r;
		if (fd < 0) {
			perror("open");
			exit(1);
		}
		while ((r = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
			for (long off = 0; off < r;) {
				struct dirent64_hdr h;
				memcpy(&h, buf + off, sizeof(h));
				if (h.reclen == 0)
					break;
				off += h.reclen;
				entries++;
			}
		}
		if (r < 0 || entries != 1002) {
			fprintf(stderr, "getdents64: %ld entries (want 1002), result %ld\n", entries, r);
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
