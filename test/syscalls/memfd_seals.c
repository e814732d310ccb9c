/*
 * memfd_seals: memfd_create flags and name limits, the /proc/self/fd name,
 * and file sealing (F_ADD_SEALS/F_GET_SEALS): SEAL_SEAL, SHRINK, GROW,
 * WRITE (EBUSY while a writable shared mapping exists), FUTURE_WRITE.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int mfd(const char *name, unsigned flags)
{
	return syscall(SYS_memfd_create, name, flags);
}

int main(void)
{
	char name[300];
	memset(name, 'a', 249);
	name[249] = 0;
	int fd = mfd(name, 0);
	CHECK("name of 249 bytes", fd >= 0);
	close(fd);
	name[249] = 'a';
	name[250] = 0;
	CHECK_ERR("name of 250 bytes", mfd(name, 0), EINVAL);
	CHECK_ERR("bad flags", mfd("x", 0x100), EINVAL);
	CHECK_ERR("efault name", mfd((char *)1, 0), EFAULT);

	fd = mfd("test", MFD_CLOEXEC);
	REQUIRE("memfd", fd >= 0);
	CHECK_EQ("cloexec", fcntl(fd, F_GETFD), FD_CLOEXEC);
	char link[64], target[256];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	printf("link: %s\n", target);
	CHECK_EQ("rdwr", fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	CHECK_EQ("no sealing", fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
	CHECK_ERR("add seal without allow", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
	CHECK_EQ("write", write(fd, "hello", 5), 5);
	close(fd);

	fd = mfd("sealed", MFD_ALLOW_SEALING);
	REQUIRE("sealable memfd", fd >= 0);
	CHECK_EQ("no seals", fcntl(fd, F_GET_SEALS), 0);
	CHECK_OK("ftruncate", ftruncate(fd, 8192));
	CHECK_ERR("bad seal", fcntl(fd, F_ADD_SEALS, 0x100), EINVAL);
	CHECK_OK("seal shrink", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECK_ERR("shrink", ftruncate(fd, 4096), EPERM);
	CHECK_OK("grow ok", ftruncate(fd, 12288));
	CHECK_OK("seal grow", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK_ERR("grow", ftruncate(fd, 16384), EPERM);
	CHECK_ERR("write past end", pwrite(fd, "x", 1, 12288), EPERM);
	CHECK_EQ("write inside", pwrite(fd, "abc", 3, 100), 3);
	CHECK_ERR("fallocate past end", fallocate(fd, 0, 12288, 4096), EPERM);

	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK("shared writable map", m != MAP_FAILED);
	CHECK_ERR("seal write busy", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	munmap(m, 4096);
	char *pm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK_OK("seal write", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK_ERR("write sealed", write(fd, "x", 1), EPERM);
	CHECK_EQ("write zero bytes", write(fd, "x", 0), 0);
	CHECK_ERR("punch sealed", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), EPERM);
	CHECK("map shared writable refused", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM);
	CHECK("map shared read ok", mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED);
	if (pm != MAP_FAILED)
		pm[0] = 'p';
	CHECK("private map still writable", pm != MAP_FAILED && pm[0] == 'p');
	char buf[4];
	CHECK_EQ("read sealed", pread(fd, buf, 3, 100), 3);
	CHECK_OK("seal seal", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	CHECK_ERR("sealed seals", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), EPERM);
	CHECK_EQ("seals", fcntl(fd, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);

	int fd2 = mfd("future", MFD_ALLOW_SEALING);
	ftruncate(fd2, 4096);
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	CHECK_OK("future write with mapping", fcntl(fd2, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	if (w != MAP_FAILED)
		w[0] = 'z';
	CHECK_ERR("write after future", write(fd2, "x", 1), EPERM);
	char c = 0;
	pread(fd2, &c, 1, 0);
	CHECK_EQ("old mapping still writes", c, 'z');

	int ro = open(link, O_RDONLY);
	CHECK("reopen via proc", ro >= 0);
	int fd3 = mfd("ro", MFD_ALLOW_SEALING);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd3);
	int ro3 = open(link, O_RDONLY);
	CHECK_ERR("add seals read-only", fcntl(ro3, F_ADD_SEALS, F_SEAL_GROW), EPERM);
	int p[2];
	pipe(p);
	CHECK_ERR("seals on pipe", fcntl(p[0], F_GET_SEALS), EINVAL);
	return check_done();
}
