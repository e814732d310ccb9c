/*
 * bad_paths: Linux's errnos for bad paths, descriptors, offsets and
 * buffers: paths of PATH_MAX bytes (ENAMETOOLONG), components longer than
 * NAME_MAX, symlink chains (40 links are fine, 41 are ELOOP) and loops,
 * trailing slashes on files (ENOTDIR), empty paths (ENOENT; AT_EMPTY_PATH),
 * bad dirfds (EBADF; a file as dirfd ENOTDIR), negative and huge offsets
 * for pread/pwrite/lseek/truncate/fallocate, bad buffers (EFAULT), and
 * descriptors of the wrong type for each call.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"

static char dir[64];
/* nullp hides NULL from the compiler's argument checks. */
static void *volatile nullp;
static char P[4][8192];
static int pn;

static const char *p(const char *name)
{
	char *b = P[pn++ % 4];
	snprintf(b, sizeof(P[0]), "%s/%s", dir, name);
	return b;
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/dev/shm/bad_paths.%d", getpid());
	REQUIRE("mkdir", mkdir(dir, 0755) == 0);
	REQUIRE("chdir", chdir(dir) == 0);
	int fd = open("file", O_CREAT | O_RDWR, 0644);
	REQUIRE("create file", fd >= 0);
	CHECK_EQ("write", write(fd, "0123456789", 10), 10);
	struct stat st;

	/* ---- lengths ---- */
	static char path[PATH_MAX + 16];
	/* "./././..." then "file": exactly PATH_MAX-1 bytes is fine. */
	memset(path, 0, sizeof(path));
	int n = PATH_MAX - 1 - 4;
	for (int i = 0; i < n; i += 2)
		memcpy(path + i, "./", 2);
	if (n % 2)
		path[n - 1] = '/';
	memcpy(path + n, "file", 4);
	CHECK_EQ("a path of PATH_MAX-1 bytes works", strlen(path) == PATH_MAX - 1 && stat(path, &st) == 0, 1);
	memmove(path + 2, path, strlen(path) + 1);
	memcpy(path, "./", 2);
	CHECK_EQ("the path is PATH_MAX+1 bytes long", strlen(path), PATH_MAX + 1);
	CHECK_ERR("a path of PATH_MAX bytes or more is ENAMETOOLONG", stat(path, &st), ENAMETOOLONG);
	CHECK_ERR("open of it", open(path, O_RDONLY), ENAMETOOLONG);
	CHECK_ERR("mkdir of it", mkdir(path, 0755), ENAMETOOLONG);
	CHECK_ERR("unlink of it", unlink(path), ENAMETOOLONG);
	CHECK_ERR("chdir to it", chdir(path), ENAMETOOLONG);
	char name[300];
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK_ERR("a component of 256 bytes is ENAMETOOLONG", open(name, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	CHECK_ERR("...in the middle of a path", stat(p(name), &st), ENAMETOOLONG);
	CHECK_ERR("mkdir of it", mkdir(name, 0755), ENAMETOOLONG);
	CHECK_ERR("symlink to it", symlink("x", name), ENAMETOOLONG);
	CHECK_ERR("rename to it", rename("file", name), ENAMETOOLONG);
	name[255] = 0;
	int f255 = open(name, O_CREAT | O_WRONLY, 0644);
	CHECK("a component of 255 bytes works", f255 >= 0);
	close(f255);
	CHECK_OK("unlink it", unlink(name));
	/* A long symlink target: its length counts on its own. */
	memset(path, 'a', PATH_MAX);
	path[PATH_MAX] = 0;
	CHECK_ERR("a symlink target of PATH_MAX bytes is ENAMETOOLONG", symlink(path, "longlink"), ENAMETOOLONG);

	/* ---- symlinks ---- */
	CHECK_OK("symlink l0 -> file", symlink("file", "l0"));
	char a[16], b[16];
	for (int i = 1; i <= 41; i++) {
		snprintf(a, sizeof(a), "l%d", i - 1);
		snprintf(b, sizeof(b), "l%d", i);
		if (symlink(a, b))
			printf("symlink %s failed\n", b);
	}
	/* l39 -> l38 -> ... -> l0 -> file is 40 links; l40 is 41. */
	CHECK_OK("a chain of 40 links resolves", stat("l39", &st));
	CHECK_ERR("a chain of 41 links is ELOOP", stat("l40", &st), ELOOP);
	CHECK_ERR("open of it is ELOOP", open("l40", O_RDONLY), ELOOP);
	CHECK_OK("lstat of it is fine", lstat("l40", &st));
	CHECK_OK("mkdir d", mkdir("d", 0755));
	CHECK_OK("symlink dl -> d", symlink("d", "dl"));
	CHECK_OK("links count through directories too: dl/../l38", stat("dl/../l38", &st));
	CHECK_ERR("...and dl/../l39 is 41 links", stat("dl/../l39", &st), ELOOP);
	CHECK_OK("symlink loop a -> b", symlink("loopb", "loopa"));
	CHECK_OK("symlink loop b -> a", symlink("loopa", "loopb"));
	CHECK_ERR("a loop is ELOOP", stat("loopa", &st), ELOOP);
	CHECK_ERR("a loop in the middle is ELOOP", stat("loopa/x", &st), ELOOP);
	CHECK_ERR("O_CREAT through a loop is ELOOP", open("loopa", O_CREAT | O_WRONLY, 0644), ELOOP);
	CHECK_OK("symlink self -> self", symlink("self", "self"));
	CHECK_ERR("a self loop is ELOOP", access("self", F_OK), ELOOP);
	CHECK_ERR("O_NOFOLLOW on a symlink is ELOOP", open("l0", O_RDONLY | O_NOFOLLOW), ELOOP);
	CHECK_ERR("O_NOFOLLOW|O_DIRECTORY on a directory symlink is ENOTDIR", open("dl", O_RDONLY | O_NOFOLLOW | O_DIRECTORY), ENOTDIR);
	CHECK_OK("O_PATH|O_NOFOLLOW opens the link itself", ({ int x = open("l0", O_PATH | O_NOFOLLOW); close(x); x; }));

	/* ---- trailing slashes ---- */
	CHECK_ERR("stat file/ is ENOTDIR", stat("file/", &st), ENOTDIR);
	CHECK_ERR("open file/ is ENOTDIR", open("file/", O_RDONLY), ENOTDIR);
	CHECK_ERR("open file/. is ENOTDIR", open("file/.", O_RDONLY), ENOTDIR);
	CHECK_ERR("unlink file/ is ENOTDIR", unlink("file/"), ENOTDIR);
	CHECK_ERR("rename file/ x is ENOTDIR", rename("file/", "x"), ENOTDIR);
	CHECK_ERR("rename file x/ is ENOTDIR", rename("file", "x/"), ENOTDIR);
	CHECK_ERR("lstat l0/ follows to a file: ENOTDIR", lstat("l0/", &st), ENOTDIR);
	CHECK_OK("lstat dl/ follows to the directory", lstat("dl/", &st));
	CHECK_EQ("...which is a directory", S_ISDIR(st.st_mode), 1);
	CHECK_ERR("O_CREAT of new/ is EISDIR", open("new/", O_CREAT | O_WRONLY, 0644), EISDIR);
	CHECK_OK("mkdir with a trailing slash", mkdir("d2/", 0755));
	CHECK_OK("rmdir with trailing slashes", rmdir("d2//"));
	CHECK_ERR("symlink to new/ is ENOENT", symlink("file", "newlink/"), ENOENT);
	CHECK_ERR("link to new/ is ENOENT", link("file", "newhard/"), ENOENT);
	CHECK_ERR("mknod new/ is ENOENT", mknod("newfifo/", S_IFIFO | 0644, 0), ENOENT);
	CHECK_ERR("file/x is ENOTDIR", stat("file/x", &st), ENOTDIR);

	/* ---- empty paths and AT_EMPTY_PATH ---- */
	CHECK_ERR("stat(\"\") is ENOENT", stat("", &st), ENOENT);
	CHECK_ERR("open(\"\") is ENOENT", open("", O_RDONLY), ENOENT);
	CHECK_ERR("mkdir(\"\") is ENOENT", mkdir("", 0755), ENOENT);
	CHECK_ERR("unlink(\"\") is ENOENT", unlink(""), ENOENT);
	CHECK_ERR("chdir(\"\") is ENOENT", chdir(""), ENOENT);
	CHECK_ERR("readlink(\"\") is ENOENT", readlink("", name, sizeof(name)), ENOENT);
	CHECK_ERR("symlink with an empty target is ENOENT", symlink("", "emptylink"), ENOENT);
	CHECK_OK("fstatat(fd, \"\", AT_EMPTY_PATH)", fstatat(fd, "", &st, AT_EMPTY_PATH));
	CHECK_EQ("...names the file", st.st_size, 10);
	CHECK_ERR("fstatat(fd, \"\", 0) is ENOENT", fstatat(fd, "", &st, 0), ENOENT);
	CHECK_OK("fchownat(fd, \"\", AT_EMPTY_PATH)", fchownat(fd, "", -1, -1, AT_EMPTY_PATH));
	CHECK_ERR("fstatat with unknown flags is EINVAL", fstatat(fd, "", &st, 0x40000), EINVAL);
	CHECK_OK("AT_EMPTY_PATH with AT_FDCWD", fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH));
	CHECK("...is the working directory", S_ISDIR(st.st_mode));

	/* ---- dirfds ---- */
	CHECK_ERR("openat with dirfd -5 is EBADF", openat(-5, "file", O_RDONLY), EBADF);
	CHECK_ERR("openat with a closed dirfd is EBADF", openat(999, "file", O_RDONLY), EBADF);
	CHECK_ERR("openat with a file as dirfd is ENOTDIR", openat(fd, "x", O_RDONLY), ENOTDIR);
	CHECK_ERR("mkdirat with a file as dirfd is ENOTDIR", mkdirat(fd, "x", 0755), ENOTDIR);
	CHECK_ERR("unlinkat with a file as dirfd is ENOTDIR", unlinkat(fd, "x", 0), ENOTDIR);
	CHECK_ERR("fstatat with a bad dirfd is EBADF", fstatat(-5, "file", &st, 0), EBADF);
	int abs = openat(-5, "/", O_RDONLY | O_DIRECTORY);
	CHECK("an absolute path ignores a bad dirfd", abs >= 0);
	close(abs);
	CHECK_ERR("unlinkat with bad flags is EINVAL", unlinkat(AT_FDCWD, "file", 0x1), EINVAL);
	CHECK_ERR("fstat of a bad fd is EBADF", fstat(-1, &st), EBADF);
	CHECK_ERR("close of a bad fd is EBADF", close(12345), EBADF);
	CHECK_ERR("dup2 onto a negative fd is EBADF", dup2(fd, -1), EBADF);
	int opath = open("file", O_PATH);
	char c;
	CHECK_ERR("read on an O_PATH fd is EBADF", read(opath, &c, 1), EBADF);
	CHECK_ERR("fchmod on an O_PATH fd is EBADF", fchmod(opath, 0644), EBADF);
	close(opath);

	/* ---- offsets ---- */
	CHECK_ERR("pread at a negative offset is EINVAL", pread(fd, &c, 1, -1), EINVAL);
	CHECK_ERR("pwrite at a negative offset is EINVAL", pwrite(fd, "x", 1, -1), EINVAL);
	CHECK_EQ("pread at a huge offset reads nothing", pread(fd, &c, 1, LLONG_MAX - 1), 0);
	CHECK_ERR("pread whose end overflows is EINVAL", pread(fd, &c, 1, LLONG_MAX), EINVAL);
	CHECK_ERR("pwrite whose end overflows is EINVAL", pwrite(fd, "x", 1, LLONG_MAX), EINVAL);
	CHECK_ERR("lseek to a negative offset is EINVAL", lseek(fd, -1, SEEK_SET), EINVAL);
	CHECK_ERR("lseek SEEK_CUR below 0 is EINVAL", lseek(fd, -100, SEEK_CUR), EINVAL);
	CHECK_EQ("lseek to LLONG_MAX", lseek(fd, LLONG_MAX, SEEK_SET), LLONG_MAX);
	CHECK_ERR("lseek SEEK_CUR past LLONG_MAX is EINVAL", lseek(fd, 1, SEEK_CUR), EINVAL);
	CHECK_ERR("write at LLONG_MAX is EINVAL", write(fd, "x", 1), EINVAL);
	CHECK_ERR("read at LLONG_MAX is EINVAL", read(fd, &c, 1), EINVAL);
	CHECK_ERR("lseek SEEK_END + LLONG_MAX is EINVAL", lseek(fd, LLONG_MAX, SEEK_END), EINVAL);
	CHECK_ERR("lseek with whence 7 is EINVAL", lseek(fd, 0, 7), EINVAL);
	CHECK_ERR("SEEK_DATA past the end is ENXIO", lseek(fd, 100, SEEK_DATA), ENXIO);
	CHECK_ERR("SEEK_HOLE at a negative offset is ENXIO", lseek(fd, -1, SEEK_HOLE), ENXIO);
	lseek(fd, 0, SEEK_SET);
	CHECK_ERR("ftruncate to a negative size is EINVAL", ftruncate(fd, -1), EINVAL);
	CHECK_ERR("truncate to a negative size is EINVAL", truncate("file", -1), EINVAL);
	CHECK_OK("ftruncate of a tmpfs file to LLONG_MAX", ftruncate(fd, LLONG_MAX));
	CHECK_EQ("...gives that size", (fstat(fd, &st), st.st_size), LLONG_MAX);
	CHECK_OK("and back", ftruncate(fd, 10));
	CHECK_ERR("fallocate with a negative offset is EINVAL", fallocate(fd, 0, -1, 10), EINVAL);
	CHECK_ERR("fallocate with length 0 is EINVAL", fallocate(fd, 0, 0, 0), EINVAL);
	CHECK_ERR("fallocate with a negative length is EINVAL", fallocate(fd, 0, 0, -5), EINVAL);
	CHECK_ERR("fallocate past LLONG_MAX is EFBIG", fallocate(fd, 0, LLONG_MAX - 10, 100), EFBIG);
	CHECK_ERR("fallocate with unknown mode bits is EOPNOTSUPP", fallocate(fd, 0x1000, 0, 10), EOPNOTSUPP);
	CHECK_ERR("PUNCH_HOLE without KEEP_SIZE is EOPNOTSUPP", fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP);
	CHECK_ERR("preadv with a negative offset is EINVAL", preadv(fd, &(struct iovec){&c, 1}, 1, -1), EINVAL);
	CHECK_ERR("readv with a negative iovcnt is EINVAL", syscall(SYS_readv, fd, &(struct iovec){&c, 1}, -1), EINVAL);
	CHECK_ERR("readv with iovcnt > IOV_MAX is EINVAL", syscall(SYS_readv, fd, &(struct iovec){&c, 1}, 1025), EINVAL);
	CHECK_ERR("writev with a negative length is EINVAL", syscall(SYS_writev, fd, &(struct iovec){&c, (size_t)-1}, 1), EINVAL);
	CHECK_EQ("the size is still 10", (fstat(fd, &st), st.st_size), 10);

	/* ---- buffers ---- */
	CHECK_ERR("read into NULL is EFAULT", read(fd, nullp, 4), EFAULT);
	CHECK_ERR("write from NULL is EFAULT", write(fd, nullp, 4), EFAULT);
	CHECK_ERR("stat into NULL is EFAULT", stat("file", nullp), EFAULT);
	CHECK_ERR("a NULL path is EFAULT", stat(nullp, &st), EFAULT);
	CHECK_ERR("open of a NULL path is EFAULT", open(nullp, O_RDONLY), EFAULT);
	CHECK_ERR("a path at an unmapped address is EFAULT", stat((char *)0x10, &st), EFAULT);
	CHECK_ERR("a kernel address is EFAULT", read(fd, (void *)0xffffffffff600000ull, 4), EFAULT);
	CHECK_ERR("a non-canonical address is EFAULT", read(fd, (void *)0x800000000000ull, 4), EFAULT);
	char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(pg + 4096, 4096);
	lseek(fd, 0, SEEK_SET);
	CHECK_EQ("a read running into an unmapped page is short", read(fd, pg + 4096 - 3, 8), 3);
	lseek(fd, 0, SEEK_SET);
	CHECK_EQ("an unaligned read works", read(fd, pg + 1, 7), 7);
	CHECK_EQ("...with the data", memcmp(pg + 1, "0123456", 7), 0);
	memcpy(pg + 4096 - 4, "file", 4);
	CHECK_ERR("a path running into an unmapped page is EFAULT", stat(pg + 4096 - 4, &st), EFAULT);
	mprotect(pg, 4096, PROT_READ);
	lseek(fd, 0, SEEK_SET);
	CHECK_ERR("read into a read-only page is EFAULT", read(fd, pg, 4), EFAULT);
	CHECK_EQ("write from a read-only page works", pwrite(fd, pg, 4, 20) == 4 && ftruncate(fd, 10) == 0, 1);
	CHECK_ERR("getdents into NULL is EFAULT", ({
		int dfd = open(".", O_RDONLY | O_DIRECTORY);
		long r = syscall(SYS_getdents64, dfd, NULL, 4096);
		int e = errno;
		close(dfd);
		errno = e;
		r;
	}), EFAULT);
	CHECK_ERR("readlink into NULL is EFAULT", readlink("l0", nullp, 10), EFAULT);
	CHECK_ERR("readlink with a zero size is EINVAL", readlink("l0", name, 0), EINVAL);
	CHECK_ERR("getcwd into NULL is EFAULT", syscall(SYS_getcwd, NULL, 4096), EFAULT);
	munmap(pg, 4096);

	/* ---- descriptors of the wrong type ---- */
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	int pfd[2];
	REQUIRE("pipe", pipe(pfd) == 0);
	int ro = open("file", O_RDONLY);
	int wo = open("file", O_WRONLY);
	char buf[64];
	CHECK_ERR("read on a directory is EISDIR", read(dfd, buf, sizeof(buf)), EISDIR);
	CHECK_ERR("pread on a directory is EISDIR", pread(dfd, buf, sizeof(buf), 0), EISDIR);
	CHECK_ERR("write on a directory fd is EBADF (opened read-only)", write(dfd, "x", 1), EBADF);
	CHECK_ERR("write on O_RDONLY is EBADF", write(ro, "x", 1), EBADF);
	CHECK_ERR("read on O_WRONLY is EBADF", read(wo, buf, 1), EBADF);
	CHECK_ERR("ftruncate on O_RDONLY is EINVAL", ftruncate(ro, 0), EINVAL);
	CHECK_ERR("fallocate on O_RDONLY is EBADF", fallocate(ro, 0, 0, 10), EBADF);
	CHECK_ERR("lseek on a pipe is ESPIPE", lseek(pfd[0], 0, SEEK_SET), ESPIPE);
	CHECK_ERR("pread on a pipe is ESPIPE", pread(pfd[0], buf, 1, 0), ESPIPE);
	CHECK_ERR("pwrite on a pipe is ESPIPE", pwrite(pfd[1], "x", 1, 0), ESPIPE);
	CHECK_ERR("getdents on a file is ENOTDIR", syscall(SYS_getdents64, ro, buf, sizeof(buf)), ENOTDIR);
	CHECK_ERR("getdents on a pipe is ENOTDIR", syscall(SYS_getdents64, pfd[0], buf, sizeof(buf)), ENOTDIR);
	CHECK_ERR("fchdir to a file is ENOTDIR", fchdir(ro), ENOTDIR);
	CHECK_ERR("fchdir to a pipe is ENOTDIR", fchdir(pfd[0]), ENOTDIR);
	CHECK_ERR("ftruncate on a pipe is EINVAL", ftruncate(pfd[1], 0), EINVAL);
	CHECK_ERR("ftruncate on a directory is EINVAL", ftruncate(dfd, 0), EINVAL);
	CHECK_ERR("truncate of a directory is EISDIR", truncate(".", 0), EISDIR);
	CHECK_ERR("fallocate on a pipe is ESPIPE", fallocate(pfd[1], 0, 0, 10), ESPIPE);
	CHECK_ERR("fallocate on a directory is EBADF (read-only)", fallocate(dfd, 0, 0, 10), EBADF);
	CHECK_ERR("fsync on a bad fd is EBADF", fsync(-1), EBADF);
	CHECK_ERR("mmap of a directory is ENODEV", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, dfd, 0), ENODEV);
	CHECK_ERR("mmap of a pipe is ENODEV", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, pfd[0], 0), ENODEV);
	struct termios tio;
	CHECK_ERR("TCGETS on a file is ENOTTY", ioctl(ro, TCGETS, &tio), ENOTTY);
	CHECK_ERR("rename into a missing directory is ENOENT", rename("file", "nodir/x"), ENOENT);
	CHECK_ERR("rename of . is EBUSY", rename(".", "x"), EBUSY);
	CHECK_ERR("rmdir of . is EINVAL", rmdir("."), EINVAL);
	CHECK_ERR("rmdir of .. is ENOTEMPTY", rmdir(".."), ENOTEMPTY);
	CHECK_ERR("link to a directory is EPERM", link("d", "dlink"), EPERM);
	CHECK_ERR("rename a directory into itself is EINVAL", rename("d", "d/sub"), EINVAL);
	CHECK_ERR("rename a directory over a file is ENOTDIR", rename("d", "file"), ENOTDIR);
	CHECK_ERR("rename a file over a directory is EISDIR", rename("file", "d"), EISDIR);
	close(dfd);
	close(ro);
	close(wo);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);

	/* Clean up. */
	unlink("file");
	for (int i = 0; i <= 41; i++) {
		snprintf(a, sizeof(a), "l%d", i);
		unlink(a);
	}
	unlink("dl");
	unlink("loopa");
	unlink("loopb");
	unlink("self");
	rmdir("d");
	chdir("/");
	CHECK_OK("the directory empties", rmdir(dir));
	return check_done();
}
