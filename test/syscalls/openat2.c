/*
 * openat2: struct open_how sizes and validation, RESOLVE_BENEATH,
 * RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
 * RESOLVE_NO_MAGICLINKS, RESOLVE_CACHED with O_CREAT; O_TMPFILE with
 * linkat(AT_EMPTY_PATH).
 */
#include "check.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* o2 is openat2. With RESOLVE_BENEATH or RESOLVE_IN_ROOT, Linux fails a
 * lookup through ".." with EAGAIN when a rename or mount anywhere on the
 * host raced with it (openat2(2): the caller may retry), which other tests
 * running at the same time make happen: o2 retries then. */
static long o2(int dfd, const char *p, unsigned long long flags, unsigned long long mode, unsigned long long resolve)
{
	struct open_how h = {.flags = flags, .mode = mode, .resolve = resolve};
	long r;
	int tries = 0;
	do
		r = syscall(SYS_openat2, dfd, p, &h, sizeof(h));
	while (r < 0 && errno == EAGAIN && (resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) &&
	       !(resolve & RESOLVE_CACHED) && ++tries < 100);
	return r;
}

int main(void)
{
	char d[64], buf[128];
	snprintf(d, sizeof(d), "/dev/shm/o2.%d", getpid());
	REQUIRE("mkdir", mkdir(d, 0755) == 0);
	int dfd = open(d, O_RDONLY | O_DIRECTORY);
	mkdirat(dfd, "sub", 0755);
	close(openat(dfd, "sub/f", O_CREAT | O_WRONLY, 0644));
	symlinkat("sub/f", dfd, "rel");
	symlinkat("/etc/passwd", dfd, "abs");
	symlinkat("../..", dfd, "up");

	long fd = o2(dfd, "sub/f", O_RDONLY, 0, 0);
	CHECK("plain", fd >= 0);
	close(fd);
	struct {
		struct open_how h;
		char extra[8];
	} big = {{O_RDONLY, 0, 0}, {0}};
	CHECK("larger zeroed struct", syscall(SYS_openat2, dfd, "sub/f", &big, sizeof(big)) >= 0);
	big.extra[3] = 1;
	CHECK_ERR("larger nonzero", syscall(SYS_openat2, dfd, "sub/f", &big, sizeof(big)), E2BIG);
	CHECK_ERR("small size", syscall(SYS_openat2, dfd, "sub/f", &big, 16), EINVAL);
	CHECK_ERR("huge size", syscall(SYS_openat2, dfd, "sub/f", &big, 8192), E2BIG);
	CHECK_ERR("efault how", syscall(SYS_openat2, dfd, "sub/f", (void *)1, 24), EFAULT);
	CHECK_ERR("unknown flag", o2(dfd, "sub/f", 1ULL << 40, 0, 0), EINVAL);
	CHECK_ERR("mode without create", o2(dfd, "sub/f", O_RDONLY, 0644, 0), EINVAL);
	CHECK_ERR("bad mode", o2(dfd, "sub/g", O_CREAT | O_WRONLY, 010000, 0), EINVAL);
	CHECK_ERR("unknown resolve", o2(dfd, "sub/f", O_RDONLY, 0, 0x100), EINVAL);
	CHECK_ERR("beneath+in_root", o2(dfd, "sub/f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT), EINVAL);
	CHECK_ERR("o_path extra flags", o2(dfd, "sub/f", O_PATH | O_APPEND, 0, 0), EINVAL);

	CHECK("beneath ok", (fd = o2(dfd, "sub/../sub/f", O_RDONLY, 0, RESOLVE_BENEATH)) >= 0);
	close(fd);
	CHECK_ERR("beneath dotdot", o2(dfd, "../x", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	CHECK_ERR("beneath absolute", o2(dfd, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	CHECK_ERR("beneath abs symlink", o2(dfd, "abs", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
	CHECK("beneath rel symlink", (fd = o2(dfd, "rel", O_RDONLY, 0, RESOLVE_BENEATH)) >= 0);
	close(fd);
	CHECK("in_root absolute", (fd = o2(dfd, "/sub/f", O_RDONLY, 0, RESOLVE_IN_ROOT)) >= 0);
	close(fd);
	CHECK("in_root dotdot clamps", (fd = o2(dfd, "../../sub/f", O_RDONLY, 0, RESOLVE_IN_ROOT)) >= 0);
	close(fd);
	CHECK_ERR("in_root abs symlink", o2(dfd, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT), ENOENT);
	CHECK_ERR("no_symlinks", o2(dfd, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP);
	CHECK("no_symlinks nofollow path", (fd = o2(dfd, "rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS)) >= 0);
	close(fd);
	CHECK_ERR("no_xdev", o2(dfd, "up/proc", O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV), EXDEV);
	CHECK_ERR("no_xdev absolute", o2(AT_FDCWD, "/proc/self", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", dfd);
	CHECK_ERR("no_magiclinks", o2(AT_FDCWD, buf, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP);
	CHECK("magiclink allowed", (fd = o2(AT_FDCWD, buf, O_RDONLY, 0, 0)) >= 0);
	close(fd);
	CHECK_ERR("cached create", o2(dfd, "new", O_CREAT | O_WRONLY, 0600, RESOLVE_CACHED), EAGAIN);

	/* O_TMPFILE */
	CHECK_ERR("tmpfile rdonly", open(d, O_TMPFILE | O_RDONLY, 0600), EINVAL);
	CHECK_ERR("tmpfile creat", open(d, O_TMPFILE | O_CREAT | O_RDWR, 0600), EINVAL);
	snprintf(buf, sizeof(buf), "%s/sub/f", d);
	CHECK_ERR("tmpfile on file", open(buf, O_TMPFILE | O_RDWR, 0600), ENOTDIR);
	int t = open(d, O_TMPFILE | O_RDWR, 0600);
	REQUIRE("tmpfile", t >= 0);
	write(t, "tmp", 3);
	struct stat st;
	fstat(t, &st);
	CHECK_EQ("tmpfile nlink", st.st_nlink, 0);
	char named[128];
	snprintf(named, sizeof(named), "%s/named", d);
	CHECK_OK("linkat empty path", linkat(t, "", AT_FDCWD, named, AT_EMPTY_PATH));
	fstat(t, &st);
	CHECK_EQ("linked nlink", st.st_nlink, 1);
	int r = open(named, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	read(r, buf, sizeof(buf));
	CHECK("linked content", strcmp(buf, "tmp") == 0);
	int x = open(d, O_TMPFILE | O_RDWR | O_EXCL, 0600);
	snprintf(named, sizeof(named), "%s/named2", d);
	CHECK_ERR("excl not linkable", linkat(x, "", AT_FDCWD, named, AT_EMPTY_PATH), ENOENT);

	unlinkat(dfd, "named", 0);
	unlinkat(dfd, "sub/f", 0);
	unlinkat(dfd, "sub", AT_REMOVEDIR);
	unlinkat(dfd, "rel", 0);
	unlinkat(dfd, "abs", 0);
	unlinkat(dfd, "up", 0);
	CHECK_OK("cleanup", rmdir(d));
	return check_done();
}
