/*
 * rename2_xattr: renameat2 (NOREPLACE, EXCHANGE, WHITEOUT and their
 * invalid combinations) and extended attributes (user.*, trusted.*,
 * security.*; CREATE/REPLACE, ERANGE, E2BIG, ENODATA, symlinks, special
 * files) on tmpfs (/dev/shm), plus fchmodat2 and utimes.
 */
#include "check.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#include <sys/xattr.h>
#include <unistd.h>

static char d[64];

static void p(char *out, const char *name) { snprintf(out, 128, "%s/%s", d, name); }

static void put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(fd, s, strlen(s));
	close(fd);
}

static void get(const char *path, char *out)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, out, 63);
	out[n > 0 ? n : 0] = 0;
	close(fd);
}

int main(void)
{
	snprintf(d, sizeof(d), "/dev/shm/rx.%d", getpid());
	REQUIRE("mkdir", mkdir(d, 0755) == 0);
	char a[128], b[128], c[128], sub[128], buf[64], buf2[64];
	p(a, "a"); p(b, "b"); p(c, "c"); p(sub, "sub");
	put(a, "AAA");
	put(b, "BBB");
	mkdir(sub, 0755);

	CHECK_ERR("noreplace", renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE), EEXIST);
	CHECK_OK("exchange", renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE));
	get(a, buf); get(b, buf2);
	CHECK("exchanged", strcmp(buf, "BBB") == 0 && strcmp(buf2, "AAA") == 0);
	CHECK_ERR("exchange missing", renameat2(AT_FDCWD, a, AT_FDCWD, c, RENAME_EXCHANGE), ENOENT);
	CHECK_ERR("exchange+noreplace", renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
	CHECK_ERR("exchange+whiteout", renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE | RENAME_WHITEOUT), EINVAL);
	CHECK_ERR("bad flags", renameat2(AT_FDCWD, a, AT_FDCWD, b, 0x100), EINVAL);
	CHECK_OK("exchange file and dir", renameat2(AT_FDCWD, a, AT_FDCWD, sub, RENAME_EXCHANGE));
	struct stat st;
	stat(a, &st);
	CHECK("a is now a dir", S_ISDIR(st.st_mode));
	char inner[200];
	snprintf(inner, sizeof(inner), "%s/x", a);
	put(inner, "X");
	CHECK_ERR("exchange into own subtree", renameat2(AT_FDCWD, a, AT_FDCWD, inner, RENAME_EXCHANGE), EINVAL);
	CHECK_OK("noreplace new", renameat2(AT_FDCWD, sub, AT_FDCWD, c, RENAME_NOREPLACE));
	CHECK_OK("whiteout", renameat2(AT_FDCWD, c, AT_FDCWD, sub, RENAME_WHITEOUT));
	CHECK_OK("whiteout left", lstat(c, &st));
	CHECK("whiteout is 0:0 chardev", S_ISCHR(st.st_mode) && st.st_rdev == 0);

	/* xattrs */
	CHECK_OK("set user", setxattr(b, "user.k", "v1", 2, 0));
	CHECK_ERR("create exists", setxattr(b, "user.k", "v2", 2, XATTR_CREATE), EEXIST);
	CHECK_ERR("replace missing", setxattr(b, "user.none", "v", 1, XATTR_REPLACE), ENODATA);
	CHECK_OK("replace", setxattr(b, "user.k", "value2", 6, XATTR_REPLACE));
	CHECK_EQ("get size", getxattr(b, "user.k", NULL, 0), 6);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("get", getxattr(b, "user.k", buf, sizeof(buf)), 6);
	CHECK("value", strcmp(buf, "value2") == 0);
	CHECK_ERR("get erange", getxattr(b, "user.k", buf, 2), ERANGE);
	CHECK_ERR("get missing", getxattr(b, "user.missing", buf, sizeof(buf)), ENODATA);
	CHECK_OK("set empty value", setxattr(b, "user.empty", "", 0, 0));
	CHECK_EQ("get empty", getxattr(b, "user.empty", buf, sizeof(buf)), 0);
	CHECK_ERR("bad flags", setxattr(b, "user.k", "v", 1, 4), EINVAL);
	CHECK_ERR("empty name", setxattr(b, "", "v", 1, 0), ERANGE);
	char longname[300];
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "user.", 5);
	longname[256] = 0;
	CHECK_ERR("long name", setxattr(b, longname, "v", 1, 0), ERANGE);
	static char big[70000];
	CHECK_ERR("value too big", setxattr(b, "user.big", big, sizeof(big), 0), E2BIG);
	CHECK_ERR("unknown namespace", setxattr(b, "foo.bar", "v", 1, 0), EOPNOTSUPP);
	CHECK_OK("trusted as root", setxattr(b, "trusted.t", "T", 1, 0));
	CHECK_OK("security", setxattr(b, "security.s", "S", 1, 0));
	char list[256];
	ssize_t n = listxattr(b, list, sizeof(list));
	CHECK_EQ("list size", listxattr(b, NULL, 0), n);
	int found = 0;
	for (ssize_t i = 0; i < n; i += strlen(list + i) + 1)
		found += !strcmp(list + i, "user.k") + !strcmp(list + i, "trusted.t") + !strcmp(list + i, "security.s") + !strcmp(list + i, "user.empty");
	CHECK_EQ("list names", found, 4);
	CHECK_ERR("list erange", listxattr(b, list, 3), ERANGE);
	CHECK_OK("remove", removexattr(b, "user.k"));
	CHECK_ERR("remove missing", removexattr(b, "user.k"), ENODATA);
	int fd = open(b, O_RDONLY);
	CHECK_OK("fset", fsetxattr(fd, "user.f", "F", 1, 0));
	CHECK_EQ("fget", fgetxattr(fd, "user.f", buf, sizeof(buf)), 1);
	CHECK_EQ("flist", flistxattr(fd, NULL, 0) > 0, 1);
	CHECK_OK("fremove", fremovexattr(fd, "user.f"));
	CHECK_OK("dir xattr", setxattr(d, "user.dir", "D", 1, 0));
	char ln[128];
	p(ln, "ln");
	symlink("b", ln);
	CHECK_ERR("user on symlink", lsetxattr(ln, "user.x", "v", 1, 0), EPERM);
	CHECK_ERR("user get on symlink", lgetxattr(ln, "user.x", buf, sizeof(buf)), ENODATA);
	CHECK_OK("trusted on symlink", lsetxattr(ln, "trusted.x", "v", 1, 0));
	CHECK_OK("follow symlink", setxattr(ln, "user.via", "v", 1, 0));
	CHECK_EQ("set via link", getxattr(b, "user.via", buf, sizeof(buf)), 1);
	CHECK_ERR("user on chardev", setxattr(c, "user.x", "v", 1, 0), EPERM);
	CHECK_ERR("missing file", setxattr("/dev/shm/nonexistent.xx", "user.x", "v", 1, 0), ENOENT);
	CHECK_ERR("efault name", setxattr(b, (char *)1, "v", 1, 0), EFAULT);
	CHECK_ERR("bad fd", fgetxattr(999, "user.x", buf, 1), EBADF);
	/* Unprivileged: trusted.* is hidden and refused. */
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(3);
		errno = 0;
		int r1 = getxattr(b, "trusted.t", buf, sizeof(buf)) == -1 && errno == ENODATA;
		errno = 0;
		int r2 = setxattr(b, "user.nope", "v", 1, 0) == -1 && errno == EACCES;
		int fd2 = open(b, O_RDONLY);
		char l2[256];
		ssize_t m = flistxattr(fd2, l2, sizeof(l2));
		int hidden = 1;
		for (ssize_t i = 0; i < m; i += strlen(l2 + i) + 1)
			hidden &= strncmp(l2 + i, "trusted.", 8) != 0;
		_exit(r1 && r2 && hidden ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("unprivileged rules", status, 0);

	/* fchmodat2 and utimes */
	CHECK_OK("fchmodat2", syscall(SYS_fchmodat2, AT_FDCWD, b, 0600, 0));
	stat(b, &st);
	CHECK_EQ("mode", st.st_mode & 07777, 0600);
	CHECK_ERR("fchmodat2 nofollow symlink", syscall(SYS_fchmodat2, AT_FDCWD, ln, 0600, AT_SYMLINK_NOFOLLOW), EOPNOTSUPP);
	CHECK_ERR("fchmodat2 flags", syscall(SYS_fchmodat2, AT_FDCWD, b, 0600, 0x4), EINVAL);
	struct timeval tv[2] = {{1000, 5}, {2000, 7}};
	CHECK_OK("utimes", utimes(b, tv));
	stat(b, &st);
	CHECK("utimes values", st.st_atim.tv_sec == 1000 && st.st_atim.tv_nsec == 5000 && st.st_mtim.tv_sec == 2000);
	tv[0].tv_usec = 1000000;
	CHECK_ERR("utimes bad usec", utimes(b, tv), EINVAL);
	CHECK_OK("futimesat null path", syscall(SYS_futimesat, fd, NULL, NULL));
	CHECK_ERR("utimes efault", syscall(SYS_utimes, b, (void *)1), EFAULT);

	unlink(inner); rmdir(a); unlink(b); unlink(c); unlink(ln); unlink(sub);
	CHECK_OK("cleanup", rmdir(d));
	return check_done();
}
