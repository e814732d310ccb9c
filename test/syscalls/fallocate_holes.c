/*
 * fallocate_holes: fallocate modes and lseek SEEK_DATA/SEEK_HOLE on a tmpfs
 * file (/dev/shm): sparse files read zeros in holes, punching a hole frees
 * its pages, modes tmpfs does not support are EOPNOTSUPP, bad arguments
 * get Linux's errnos; a small tmpfs (size=) gives ENOSPC and statfs reports
 * it (a fallocate past the limit fails at once and leaves nothing), nr_inodes
 * bounds the files; a page fallocated twice reads as data, and truncating
 * to the file's size drops the pages fallocated past its end.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

static long blocks(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return st.st_blocks;
}

int main(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/dev/shm/falloc.%d", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE("open", fd >= 0);
	unlink(path);

	/* A sparse file: data at page 0 and page 4, size 5 pages. */
	char pg[PG];
	memset(pg, 'x', PG);
	pwrite(fd, pg, PG, 0);
	pwrite(fd, pg, PG, 4 * PG);
	CHECK_EQ("blocks sparse", blocks(fd), 2 * PG / 512);
	CHECK_EQ("seek data 0", lseek(fd, 0, SEEK_DATA), 0);
	CHECK_EQ("seek hole 0", lseek(fd, 0, SEEK_HOLE), PG);
	CHECK_EQ("seek data in hole", lseek(fd, PG + 10, SEEK_DATA), 4 * PG);
	CHECK_EQ("seek hole in hole", lseek(fd, PG + 10, SEEK_HOLE), PG + 10);
	CHECK_EQ("seek hole last", lseek(fd, 4 * PG, SEEK_HOLE), 5 * PG);
	CHECK_ERR("seek data eof", lseek(fd, 5 * PG, SEEK_DATA), ENXIO);
	CHECK_ERR("seek hole eof", lseek(fd, 5 * PG, SEEK_HOLE), ENXIO);
	CHECK_ERR("seek data negative", lseek(fd, -1, SEEK_DATA), ENXIO);
	char rb[PG];
	memset(rb, 1, sizeof(rb));
	pread(fd, rb, PG, 2 * PG);
	int zero = 1;
	for (int i = 0; i < PG; i++)
		zero &= rb[i] == 0;
	CHECK("hole reads zeros", zero);
	CHECK_EQ("read of hole allocates nothing", blocks(fd), 2 * PG / 512);

	/* Mode 0 allocates and grows; KEEP_SIZE allocates only. */
	CHECK_OK("fallocate 0", fallocate(fd, 0, PG, PG));
	CHECK_EQ("blocks after fallocate", blocks(fd), 3 * PG / 512);
	CHECK_OK("fallocate grow", fallocate(fd, 0, 5 * PG, PG));
	struct stat st;
	fstat(fd, &st);
	CHECK_EQ("size grown", st.st_size, 6 * PG);
	CHECK_OK("fallocate keep size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 6 * PG, 2 * PG));
	fstat(fd, &st);
	CHECK_EQ("size kept", st.st_size, 6 * PG);

	/* Punch a hole in page 0 and part of page 4. */
	CHECK_ERR("punch without keep", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, PG), EOPNOTSUPP);
	long before = blocks(fd);
	CHECK_OK("punch hole", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG));
	CHECK_EQ("punch frees", blocks(fd), before - PG / 512);
	/* Allocated but never written pages are holes to SEEK_DATA. */
	CHECK_EQ("seek data after punch", lseek(fd, 0, SEEK_DATA), 4 * PG);
	CHECK_OK("punch partial", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * PG + 100, 200));
	pread(fd, rb, 400, 4 * PG);
	CHECK("partial punch zeroes", rb[99] == 'x' && rb[100] == 0 && rb[299] == 0 && rb[300] == 'x');
	fstat(fd, &st);
	CHECK_EQ("punch keeps size", st.st_size, 6 * PG);

	/* Unsupported modes and bad arguments. */
	CHECK_ERR("zero range", fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, PG), EOPNOTSUPP);
	CHECK_ERR("collapse", fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, PG), EOPNOTSUPP);
	CHECK_ERR("insert", fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, PG), EOPNOTSUPP);
	CHECK_ERR("collapse keep", fallocate(fd, FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, PG), EOPNOTSUPP);
	CHECK_ERR("punch+zero", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, PG), EOPNOTSUPP);
	CHECK_ERR("unknown mode", fallocate(fd, 0x1000, 0, PG), EOPNOTSUPP);
	CHECK_ERR("negative offset", fallocate(fd, 0, -1, PG), EINVAL);
	CHECK_ERR("zero length", fallocate(fd, 0, 0, 0), EINVAL);
	CHECK_ERR("negative length", fallocate(fd, 0, 0, -5), EINVAL);
	CHECK_ERR("overflow", fallocate(fd, 0, 0x7fffffffffffff00LL, 0x1000), EFBIG);
	CHECK_ERR("bad fd", fallocate(999, 0, 0, PG), EBADF);
	int ro = open("/dev/shm", O_RDONLY | O_DIRECTORY);
	CHECK_ERR("directory (read-only fd)", fallocate(ro, 0, 0, PG), EBADF);
	int p[2];
	pipe(p);
	CHECK_ERR("pipe", fallocate(p[1], 0, 0, PG), ESPIPE);
	char name[64];
	snprintf(name, sizeof(name), "/dev/shm/falloc2.%d", getpid());
	int af = open(name, O_WRONLY | O_CREAT | O_APPEND, 0600);
	unlink(name);
	CHECK_OK("append mode", fallocate(af, 0, 0, PG));
	CHECK_OK("append keep size", fallocate(af, FALLOC_FL_KEEP_SIZE, 0, PG));

	/* Unwritten pages: a fallocated page is a hole to SEEK_DATA until
	 * written, but a second fallocate over it initializes it (Linux's
	 * shmem_fallocate) and it reads as data; truncating to the file's own
	 * size drops the pages FALLOC_FL_KEEP_SIZE left past the end. */
	snprintf(name, sizeof(name), "/dev/shm/falloc3.%d", getpid());
	int uf = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(name);
	REQUIRE("open falloc3", uf >= 0);
	CHECK_OK("size 4 pages", ftruncate(uf, 4 * PG));
	CHECK_OK("fallocate page 1", fallocate(uf, 0, PG, PG));
	CHECK_EQ("fallocated page is a hole", lseek(uf, 0, SEEK_DATA) < 0 ? -errno : lseek(uf, 0, SEEK_DATA), -ENXIO);
	CHECK_OK("fallocate page 1 again", fallocate(uf, 0, PG, PG));
	CHECK_EQ("fallocated twice is data", lseek(uf, 0, SEEK_DATA), PG);
	CHECK_EQ("data ends after it", lseek(uf, PG, SEEK_HOLE), 2 * PG);
	CHECK_OK("keep size past the end", fallocate(uf, FALLOC_FL_KEEP_SIZE, 6 * PG, PG));
	CHECK_OK("and again", fallocate(uf, FALLOC_FL_KEEP_SIZE, 6 * PG, PG));
	CHECK_EQ("blocks with the page past the end", blocks(uf), 2 * PG / 512);
	CHECK_OK("truncate to the same size", ftruncate(uf, 4 * PG));
	CHECK_EQ("page past the end dropped", blocks(uf), PG / 512);
	CHECK_OK("grow over it", ftruncate(uf, 8 * PG));
	CHECK_EQ("nothing there", lseek(uf, 2 * PG, SEEK_DATA) < 0 ? -errno : lseek(uf, 2 * PG, SEEK_DATA), -ENXIO);
	close(uf);

	/* A small tmpfs: size=64k, nr_inodes=4. Needs root natively. */
	pid_t pid = fork();
	if (pid == 0) {
		char dir[64];
		snprintf(dir, sizeof(dir), "/dev/shm/fallocmnt.%d", getpid());
		mkdir(dir, 0700);
		if (mount("none", dir, "tmpfs", 0, "size=64k,nr_inodes=4") != 0) {
			printf("mount failed %s\n", check_errname(errno));
			_exit(1);
		}
		struct statfs sf;
		statfs(dir, &sf);
		printf("statfs blocks %ld bsize %ld files %ld magic %lx\n", (long)sf.f_blocks, (long)sf.f_bsize, (long)sf.f_files, (long)sf.f_type);
		char f[128];
		snprintf(f, sizeof(f), "%s/big", dir);
		int b = open(f, O_RDWR | O_CREAT, 0600);
		static char big[128 << 10];
		ssize_t n = write(b, big, sizeof(big));
		printf("write 128k into 64k: %zd\n", n);
		errno = 0;
		n = write(b, big, PG);
		printf("write when full: %zd %s\n", n, check_errname(errno));
		printf("fallocate when full: %d %s\n", fallocate(b, 0, 1 << 20, PG), check_errname(errno));
		statfs(dir, &sf);
		printf("statfs free %ld\n", (long)sf.f_bfree);
		ftruncate(b, 0);
		statfs(dir, &sf);
		printf("statfs free after truncate %ld\n", (long)sf.f_bfree);
		/* Past the limit: refused at once, nothing left allocated. */
		int r = fallocate(b, 0, 0, 1 << 30);
		printf("fallocate 1g into 64k: %d %s\n", r, check_errname(errno));
		r = fallocate(b, 0, 1LL << 50, 1LL << 40);
		printf("fallocate 1t at 1p: %d %s\n", r, check_errname(errno));
		statfs(dir, &sf);
		printf("statfs free after refusals %ld, size %ld\n", (long)sf.f_bfree, (long)lseek(b, 0, SEEK_END));
		int made = 0;
		for (int i = 0; i < 10; i++) {
			snprintf(f, sizeof(f), "%s/f%d", dir, i);
			if (open(f, O_RDWR | O_CREAT, 0600) < 0) {
				printf("create %d: %s\n", i, check_errname(errno));
				break;
			}
			made++;
		}
		printf("files made %d\n", made);
		umount2(dir, MNT_DETACH);
		rmdir(dir);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("small tmpfs child", status, 0);
	return check_done();
}
