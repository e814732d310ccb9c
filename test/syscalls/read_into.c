/*
 * read_into: read and pread of a file into destinations of every kind:
 * unaligned, spanning two mappings, a shared mapping of the same file,
 * partly read-only (a short read up to the fault, as Linux's copy stops
 * there), unmapped (EFAULT), larger than a megabyte, and readv. The file is
 * made in /tmp (the gofer-served /tmp under syscall-tests-gofer).
 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define PG 4096
#define SIZE (3 * 1024 * 1024 + 100)

static unsigned char byte_at(long off) { return (unsigned char)(off * 7 + off / 4099); }

static int same(const unsigned char *p, long off, long n)
{
	for (long i = 0; i < n; i++)
		if (p[i] != byte_at(off + i))
			return 0;
	return 1;
}

int main(void)
{
	char path[] = "/tmp/read_into.XXXXXX";
	int fd = mkstemp(path);
	REQUIRE("mkstemp", fd >= 0);
	unlink(path);
	unsigned char *data = malloc(SIZE);
	for (long i = 0; i < SIZE; i++)
		data[i] = byte_at(i);
	REQUIRE("write", write(fd, data, SIZE) == SIZE);

	/* Unaligned heap buffer, unaligned offset. */
	unsigned char *h = malloc(3 * PG + 1);
	CHECK_EQ("pread unaligned", pread(fd, h + 1, 3 * PG, 12345), 3 * PG);
	CHECK("pread unaligned bytes", same(h + 1, 12345, 3 * PG));

	/* Two mappings side by side. */
	unsigned char *m = CHECK_MAP("mmap", mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK_MAP("mmap fixed", mmap(m + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	CHECK_EQ("pread across mappings", pread(fd, m + 100, 3 * PG, 5 * PG), 3 * PG);
	CHECK("pread across mappings bytes", same(m + 100, 5 * PG, 3 * PG));

	/* Read-only second half: a short read up to the fault. */
	CHECK_OK("mprotect", mprotect(m + 2 * PG, 2 * PG, PROT_READ));
	CHECK_EQ("pread into partly read-only", pread(fd, m + PG, 2 * PG, 0), PG);
	CHECK("partly read-only bytes", same(m + PG, 0, PG));
	CHECK_ERR("pread into read-only", pread(fd, m + 2 * PG, PG, 0), EFAULT);
	CHECK_OK("munmap", munmap(m, 4 * PG));
	CHECK_ERR("pread into unmapped", pread(fd, m, PG, 0), EFAULT);

	/* A shared mapping of the file itself, read into from another offset. */
	unsigned char *s = CHECK_MAP("mmap shared", mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	CHECK_EQ("pread into the file's own mapping", pread(fd, s + 10, PG, 3 * PG), PG);
	CHECK("own mapping bytes", same(s + 10, 3 * PG, PG));
	unsigned char back[PG];
	CHECK_EQ("pread back", pread(fd, back, PG, 10), PG);
	CHECK("file took the mapping's store", same(back, 3 * PG, PG));
	CHECK_OK("munmap shared", munmap(s, 2 * PG));
	/* Put the bytes back as they were. */
	CHECK_EQ("rewrite", pwrite(fd, data, 2 * PG, 0), 2 * PG);

	/* Larger than a megabyte, read() with the file offset, to the end. */
	unsigned char *big = malloc(SIZE + 10);
	CHECK_EQ("lseek", lseek(fd, 100, SEEK_SET), 100);
	long got = 0, r;
	while ((r = read(fd, big + got, SIZE + 10 - got)) > 0)
		got += r;
	CHECK_EQ("read to the end", got, SIZE - 100);
	CHECK("read to the end bytes", same(big, 100, SIZE - 100));
	CHECK_EQ("offset at the end", lseek(fd, 0, SEEK_CUR), SIZE);
	CHECK_EQ("read at the end", read(fd, big, 10), 0);

	/* readv and preadv. */
	struct iovec iov[2] = {{h, 1000}, {big, 5000}};
	CHECK_EQ("preadv", preadv(fd, iov, 2, 777), 6000);
	CHECK("preadv bytes", same(h, 777, 1000) && same(big, 1777, 5000));
	CHECK_EQ("pread past the end", pread(fd, h, PG, SIZE + 5), 0);
	CHECK_EQ("pread over the end", pread(fd, h, PG, SIZE - 10), 10);
	return check_done();
}
