/*
 * fs_read_seq: sequential read(2) of the big file in 1 MiB reads, starting
 * over at its end; one op is one MiB actually read (a short read is
 * completed by the next). Every page read is checked
 * (fsbench_check_page), and each pass must end exactly at the file's size.
 */
#include "fsbench.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static int fd;
static off_t size, pos;

static void op(long n)
{
	static unsigned char buf[CHUNK];
	for (long i = 0; i < n; i++) {
		for (long got = 0; got < CHUNK;) {
			ssize_t r = read(fd, buf, CHUNK - got);
			if (r < 0) {
				perror("read");
				exit(1);
			}
			if (r == 0) {
				if (pos != size) {
					fprintf(stderr, "read: end of file at %lld of %lld bytes\n",
						(long long)pos, (long long)size);
					exit(1);
				}
				if (lseek(fd, 0, SEEK_SET) != 0) {
					perror("lseek");
					exit(1);
				}
				pos = 0;
				continue;
			}
			/* Check every page that starts in what was read. */
			off_t first = (pos + FSBENCH_PAGE - 1) / FSBENCH_PAGE * FSBENCH_PAGE;
			for (off_t p = first; p + FSBENCH_PAGE <= pos + r; p += FSBENCH_PAGE)
				fsbench_check_page(buf + (p - pos), p / FSBENCH_PAGE, "read");
			pos += r;
			got += r;
		}
	}
}

int main(int argc, char **argv)
{
	struct stat st;
	fd = open(fsbench_path(argc, argv, "big"), O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size % CHUNK != 0 || st.st_size == 0) {
		perror("big");
		return 1;
	}
	size = st.st_size;
	return bench_main(argc, argv, "fs_read_seq", op);
}
