/*
 * files: file syscalls on a fresh directory under /tmp (the only writable
 * place in the sandbox) and read-only ones on the root: openat, read, write,
 * lseek, pread/pwrite, fstat, newfstatat, getdents64, symlink/readlink,
 * access, getcwd, dup, fcntl, rename, unlink, mkdir/rmdir. Host files are
 * never written.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIZE 10000

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 31 + 7);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* list returns the sorted entries of the directory fd, as "name:type". */
static int list(int fd, char *out, size_t outlen)
{
	char buf[4096];
	char *names[64];
	int n = 0;
	for (;;) {
		long r = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		for (long off = 0; off < r;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			const char *t = d->d_type == DT_DIR ? "dir" : d->d_type == DT_REG ? "reg" :
					d->d_type == DT_LNK ? "lnk" : "other";
			if (n < 64 && asprintf(&names[n], "%s:%s", d->d_name, t) >= 0)
				n++;
			off += d->d_reclen;
		}
	}
	qsort(names, n, sizeof(names[0]), cmp);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		strncat(out, names[i], outlen - strlen(out) - 2);
		strcat(out, " ");
		free(names[i]);
	}
	return n;
}

static void test_rw(void)
{
	unsigned char buf[SIZE], got[SIZE];
	for (size_t i = 0; i < SIZE; i++)
		buf[i] = pattern(i);

	int fd = CHECK_OK("create data", openat(AT_FDCWD, "data", O_WRONLY | O_CREAT | O_EXCL, 0666));
	CHECK_ERR("O_EXCL on an existing file is EEXIST", open("data", O_WRONLY | O_CREAT | O_EXCL, 0666), EEXIST);
	CHECK_EQ("write 10000 bytes", write(fd, buf, SIZE), SIZE);
	CHECK_ERR("read from an O_WRONLY fd is EBADF", read(fd, got, 1), EBADF);
	struct stat st;
	CHECK_EQ("fstat", fstat(fd, &st), 0);
	CHECK_EQ("fstat size", st.st_size, SIZE);
	CHECK("fstat S_ISREG", S_ISREG(st.st_mode));
	CHECK_EQ("mode is 0666 less the umask 022", st.st_mode & 07777, 0644);
	CHECK_EQ("st_nlink", st.st_nlink, 1);
	CHECK_EQ("st_uid", st.st_uid, geteuid());
	CHECK_EQ("close", close(fd), 0);
	CHECK_ERR("close again is EBADF", close(fd), EBADF);

	fd = CHECK_OK("reopen read-only", open("data", O_RDONLY));
	CHECK_EQ("read 100", read(fd, got, 100), 100);
	CHECK("read content", memcmp(got, buf, 100) == 0);
	CHECK_EQ("lseek SEEK_CUR 0", lseek(fd, 0, SEEK_CUR), 100);
	CHECK_EQ("pread at 5000", pread(fd, got, 1000, 5000), 1000);
	CHECK("pread content", memcmp(got, buf + 5000, 1000) == 0);
	CHECK_EQ("pread leaves the offset alone", lseek(fd, 0, SEEK_CUR), 100);
	CHECK_EQ("read the rest", read(fd, got, SIZE), SIZE - 100);
	CHECK("rest content", memcmp(got, buf + 100, SIZE - 100) == 0);
	CHECK_EQ("read at EOF is 0", read(fd, got, 10), 0);
	CHECK_EQ("lseek SEEK_END", lseek(fd, 0, SEEK_END), SIZE);
	CHECK_EQ("lseek SEEK_END -10", lseek(fd, -10, SEEK_END), SIZE - 10);
	CHECK_EQ("read the last 10", read(fd, got, 100), 10);
	CHECK_ERR("lseek to a negative offset is EINVAL", lseek(fd, -1, SEEK_SET), EINVAL);
	CHECK_ERR("lseek with a bad whence is EINVAL", lseek(fd, 0, 42), EINVAL);
	CHECK_ERR("write to an O_RDONLY fd is EBADF", write(fd, buf, 1), EBADF);

	/* dup shares the offset; fcntl reports the flags. */
	int fd2 = CHECK_OK("dup", dup(fd));
	CHECK_EQ("lseek on the original", lseek(fd, 1234, SEEK_SET), 1234);
	CHECK_EQ("the dup sees the offset", lseek(fd2, 0, SEEK_CUR), 1234);
	CHECK_EQ("F_GETFL access mode", fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK_EQ("F_GETFD of a dup has no FD_CLOEXEC", fcntl(fd2, F_GETFD), 0);
	int fd3 = CHECK_OK("F_DUPFD_CLOEXEC >= 100", fcntl(fd, F_DUPFD_CLOEXEC, 100));
	CHECK("F_DUPFD_CLOEXEC gives an fd >= 100", fd3 >= 100);
	CHECK_EQ("F_GETFD of F_DUPFD_CLOEXEC", fcntl(fd3, F_GETFD), FD_CLOEXEC);
	CHECK_EQ("dup2 onto 50", dup2(fd, 50), 50);
	CHECK_EQ("dup2 target shares the offset", lseek(50, 0, SEEK_CUR), 1234);
	close(50);
	close(fd3);
	close(fd2);
	close(fd);

	/* O_RDWR: holes read as zero, O_APPEND writes at the end, ftruncate. */
	fd = CHECK_OK("open O_RDWR", open("data", O_RDWR));
	CHECK_EQ("lseek past EOF", lseek(fd, 20000, SEEK_SET), 20000);
	CHECK_EQ("write past EOF", write(fd, "Z", 1), 1);
	CHECK_EQ("size grew", (fstat(fd, &st), st.st_size), 20001);
	CHECK_EQ("pread in the hole", pread(fd, got, 100, 15000), 100);
	int zero = 1;
	for (int i = 0; i < 100; i++)
		zero &= got[i] == 0;
	CHECK("the hole reads zero", zero);
	CHECK_EQ("pwrite", pwrite(fd, "PW", 2, 10), 2);
	CHECK_EQ("pread it back", pread(fd, got, 4, 9), 4);
	CHECK("pwrite content", got[0] == pattern(9) && got[1] == 'P' && got[2] == 'W' && got[3] == pattern(12));
	CHECK_EQ("ftruncate to 100", ftruncate(fd, 100), 0);
	CHECK_EQ("size is 100", (fstat(fd, &st), st.st_size), 100);
	close(fd);
	fd = CHECK_OK("open O_APPEND", open("data", O_WRONLY | O_APPEND));
	CHECK_EQ("append", write(fd, "END", 3), 3);
	CHECK_EQ("offset is at the end after append", lseek(fd, 0, SEEK_CUR), 103);
	CHECK_EQ("size is 103", (fstat(fd, &st), st.st_size), 103);
	close(fd);
	fd = CHECK_OK("O_TRUNC", open("data", O_RDWR | O_TRUNC));
	CHECK_EQ("O_TRUNC empties", (fstat(fd, &st), st.st_size), 0);
	CHECK_EQ("write again", write(fd, buf, SIZE), SIZE);
	close(fd);
}

static void test_dirs(const char *dir)
{
	char cwd[512];
	CHECK("getcwd", getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK("getcwd is the test directory", strcmp(cwd, dir) == 0);
	CHECK_ERR("getcwd into a too small buffer is ERANGE", syscall(SYS_getcwd, cwd, 4), ERANGE);

	CHECK_EQ("mkdir list", mkdir("list", 0755), 0);
	CHECK_ERR("mkdir existing is EEXIST", mkdir("list", 0755), EEXIST);
	const char *files[] = {"list/b", "list/a", "list/c"};
	for (int i = 0; i < 3; i++) {
		int fd = open(files[i], O_WRONLY | O_CREAT, 0644);
		CHECK("create a file in list", fd >= 0);
		close(fd);
	}
	CHECK_EQ("mkdir list/d", mkdir("list/d", 0700), 0);
	CHECK_EQ("symlink list/l", symlink("a", "list/l"), 0);

	int d = CHECK_OK("open list O_DIRECTORY", open("list", O_RDONLY | O_DIRECTORY));
	char out[1024];
	CHECK_EQ("getdents64 finds 7 entries", list(d, out, sizeof(out)), 7);
	printf("list: %s\n", out);
	CHECK_EQ("getdents64 at the end returns 0", syscall(SYS_getdents64, d, out, sizeof(out)), 0);
	CHECK_EQ("rewind the directory", lseek(d, 0, SEEK_SET), 0);
	CHECK_EQ("getdents64 after rewind", list(d, out, sizeof(out)), 7);
	CHECK_ERR("getdents64 with a tiny buffer is EINVAL",
		  (lseek(d, 0, SEEK_SET), syscall(SYS_getdents64, d, out, 8)), EINVAL);
	struct stat st;
	CHECK_EQ("fstatat relative to the dir fd", fstatat(d, "d", &st, 0), 0);
	CHECK("it is a directory", S_ISDIR(st.st_mode));
	CHECK_EQ("directory mode", st.st_mode & 07777, 0700);
	int f = CHECK_OK("openat relative to the dir fd", openat(d, "a", O_RDONLY));
	CHECK_ERR("getdents64 on a file is ENOTDIR", syscall(SYS_getdents64, f, out, sizeof(out)), ENOTDIR);
	close(f);
	CHECK_EQ("fchdir into list", fchdir(d), 0);
	CHECK_EQ("access relative to the new cwd", access("b", F_OK), 0);
	CHECK_EQ("chdir back with ..", chdir(".."), 0);
	CHECK("getcwd after chdir ..", getcwd(cwd, sizeof(cwd)) && strcmp(cwd, dir) == 0);
	close(d);

	CHECK_ERR("rmdir a non-empty dir is ENOTEMPTY", rmdir("list"), ENOTEMPTY);
	CHECK_ERR("unlink a directory is EISDIR", unlink("list/d"), EISDIR);
	CHECK_ERR("rmdir a file is ENOTDIR", rmdir("list/a"), ENOTDIR);
	CHECK_ERR("open a/x through a file is ENOTDIR", open("list/a/x", O_RDONLY), ENOTDIR);
	CHECK_ERR("O_DIRECTORY on a file is ENOTDIR", open("list/a", O_RDONLY | O_DIRECTORY), ENOTDIR);
	CHECK_ERR("open a missing file is ENOENT", open("list/zzz", O_RDONLY), ENOENT);
	CHECK_ERR("open a directory for writing is EISDIR", open("list", O_WRONLY), EISDIR);
	CHECK_EQ("rename b to e", rename("list/b", "list/e"), 0);
	CHECK_ERR("old name is gone", access("list/b", F_OK), ENOENT);
	CHECK_EQ("new name exists", access("list/e", F_OK), 0);
	const char *gone[] = {"list/a", "list/c", "list/e", "list/l"};
	for (int i = 0; i < 4; i++)
		CHECK_EQ("unlink", unlink(gone[i]), 0);
	CHECK_EQ("rmdir list/d", rmdir("list/d"), 0);
	CHECK_EQ("rmdir list", rmdir("list"), 0);
	CHECK_ERR("stat of a removed dir is ENOENT", stat("list", &st), ENOENT);
}

static void test_links(void)
{
	char buf[64];
	struct stat st, lst;
	CHECK_EQ("symlink", symlink("data", "link"), 0);
	CHECK_ERR("symlink over an existing name is EEXIST", symlink("data", "link"), EEXIST);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("readlink", readlink("link", buf, sizeof(buf)), 4);
	CHECK("readlink content", strcmp(buf, "data") == 0);
	CHECK_EQ("readlink truncates to the buffer", readlink("link", buf, 2), 2);
	CHECK_EQ("readlinkat", readlinkat(AT_FDCWD, "link", buf, sizeof(buf)), 4);
	CHECK_ERR("readlink of a regular file is EINVAL", readlink("data", buf, sizeof(buf)), EINVAL);
	CHECK_ERR("readlink of a missing file is ENOENT", readlink("nope", buf, sizeof(buf)), ENOENT);
	CHECK_EQ("lstat", lstat("link", &lst), 0);
	CHECK("lstat sees a symlink", S_ISLNK(lst.st_mode));
	CHECK_EQ("lstat size is the target length", lst.st_size, 4);
	CHECK_EQ("stat follows", stat("link", &st), 0);
	CHECK_EQ("stat through the link sees the file", st.st_size, SIZE);
	CHECK_EQ("newfstatat AT_SYMLINK_NOFOLLOW",
		 (syscall(SYS_newfstatat, AT_FDCWD, "link", &st, AT_SYMLINK_NOFOLLOW), st.st_ino), lst.st_ino);
	CHECK_ERR("O_NOFOLLOW on a symlink is ELOOP", open("link", O_RDONLY | O_NOFOLLOW), ELOOP);
	int fd = CHECK_OK("open through the link", open("link", O_RDONLY));
	CHECK_EQ("read through the link", read(fd, buf, 1), 1);
	CHECK_EQ("first byte", (unsigned char)buf[0], pattern(0));
	close(fd);
	CHECK_EQ("symlink loop", symlink("loop", "loop"), 0);
	CHECK_ERR("open of a symlink loop is ELOOP", open("loop", O_RDONLY), ELOOP);
	CHECK_EQ("dangling symlink", symlink("missing", "dangling"), 0);
	CHECK_ERR("open of a dangling link is ENOENT", open("dangling", O_RDONLY), ENOENT);
	CHECK_EQ("hard link", link("data", "hard"), 0);
	CHECK_EQ("stat the hard link", stat("data", &st), 0);
	CHECK_EQ("st_nlink is 2", st.st_nlink, 2);
	unlink("hard");
	unlink("dangling");
	unlink("loop");
	CHECK_EQ("unlink the symlink", unlink("link"), 0);
	CHECK_EQ("the target survives", access("data", F_OK), 0);

	CHECK_EQ("access R_OK|W_OK", access("data", R_OK | W_OK), 0);
	CHECK_ERR("access X_OK of a 0644 file is EACCES even for root", access("data", X_OK), EACCES);
	CHECK_ERR("access of a missing file is ENOENT", access("nope", F_OK), ENOENT);
	CHECK_ERR("faccessat with bad mode is EINVAL", faccessat(AT_FDCWD, "data", 0100, 0), EINVAL);
}

static void test_root(void)
{
	int fd = CHECK_OK("open /etc/passwd", open("/etc/passwd", O_RDONLY));
	char buf[5] = {0};
	CHECK_EQ("read /etc/passwd", read(fd, buf, 5), 5);
	CHECK("/etc/passwd starts with root:", memcmp(buf, "root:", 5) == 0);
	struct stat st;
	CHECK_EQ("fstat /etc/passwd", fstat(fd, &st), 0);
	CHECK_EQ("lseek SEEK_END agrees with st_size", lseek(fd, 0, SEEK_END), st.st_size);
	close(fd);
	struct stat st2;
	CHECK_EQ("stat /etc/passwd", stat("/etc/passwd", &st2), 0);
	CHECK("stat and fstat agree", st.st_ino == st2.st_ino && st.st_size == st2.st_size);
	CHECK_EQ("access /bin/sh X_OK", access("/bin/sh", X_OK), 0);

	int d = CHECK_OK("open / O_DIRECTORY", open("/", O_RDONLY | O_DIRECTORY));
	char out[8192];
	int n = list(d, out, sizeof(out));
	CHECK("getdents64 of / finds entries", n > 3);
	CHECK("/ has etc and tmp", strstr(out, "etc:dir ") && strstr(out, "tmp:dir "));
	CHECK(". and .. are listed", strstr(out, ".:dir ") && strstr(out, "..:dir "));
	close(d);
	CHECK_EQ("stat /.. is /", (stat("/..", &st), stat("/", &st2), st.st_ino == st2.st_ino), 1);
	CHECK_EQ("stat /tmp", stat("/tmp", &st), 0);
	CHECK("/tmp is a directory", S_ISDIR(st.st_mode));
}

int main(void)
{
	umask(022);
	char dir[] = "/tmp/rampart-files-XXXXXX";
	REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
	REQUIRE("chdir into it", chdir(dir) == 0);
	test_rw();
	test_dirs(dir);
	test_links();
	test_root();
	CHECK_EQ("unlink data", unlink("data"), 0);
	CHECK_EQ("chdir /", chdir("/"), 0);
	CHECK_EQ("rmdir the test directory", rmdir(dir), 0);
	return check_done();
}
