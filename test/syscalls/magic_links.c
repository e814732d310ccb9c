/*
 * magic_links: /proc/self/fd/N, cwd and root are "magic" links: following
 * them reaches the object itself, even a pipe that has no path, and
 * /dev/stdout & co. reach the caller's descriptors through them.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char *fdpath(int fd)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	return buf;
}

int main(void)
{
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);

	/* A pipe's write end, reopened through its magic link. */
	int w = open(fdpath(p[1]), O_WRONLY);
	CHECK("open pipe write end via /proc/self/fd", w >= 0);
	CHECK_EQ("write through reopened end", write(w, "abc", 3), 3);
	char buf[8] = {0};
	CHECK_EQ("read what it wrote", read(p[0], buf, sizeof(buf)), 3);
	CHECK("data", memcmp(buf, "abc", 3) == 0);

	struct stat st, st2;
	CHECK_OK("stat pipe via magic link", stat(fdpath(p[0]), &st));
	CHECK("it is a fifo", S_ISFIFO(st.st_mode));
	CHECK_OK("fstat pipe", fstat(p[0], &st2));
	CHECK("same inode", st.st_ino == st2.st_ino);
	CHECK_OK("lstat gives the link", lstat(fdpath(p[0]), &st));
	CHECK("link is a symlink", S_ISLNK(st.st_mode));
	CHECK_ERR("O_DIRECTORY on a pipe", open(fdpath(p[0]), O_RDONLY | O_DIRECTORY), ENOTDIR);
	char sub[80];
	snprintf(sub, sizeof(sub), "%s/x", fdpath(p[0]));
	CHECK_ERR("pipe is no directory", open(sub, O_RDONLY), ENOTDIR);
	CHECK_OK("access F_OK", access(fdpath(p[1]), F_OK));

	/* /dev/stdout reaches descriptor 1 (make it the pipe). */
	int saved = dup(1);
	REQUIRE("dup stdout", saved >= 0);
	/* Nothing may be printed while stdout is the pipe. */
	int so = -1, e = 0, moved = dup2(p[1], 1) == 1;
	if (moved) {
		so = open("/dev/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		e = errno;
		if (so >= 0) {
			write(so, "xyz", 3);
			close(so);
		}
	}
	dup2(saved, 1);
	close(saved);
	REQUIRE("dup2 pipe to stdout", moved);
	errno = e;
	CHECK("open /dev/stdout", so >= 0);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("what /dev/stdout got", read(p[0], buf, sizeof(buf)), 3);
	CHECK("its data", memcmp(buf, "xyz", 3) == 0);

	/* A directory descriptor: paths continue below the link. */
	/* Variants run in parallel natively: each needs its own directory. */
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/magic_links.%d", (int)getpid());
	REQUIRE("mkdir", mkdir(dir, 0755) == 0);
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	REQUIRE("open dir", d >= 0);
	char fpath[96];
	snprintf(fpath, sizeof(fpath), "%s/file", fdpath(d));
	int f = open(fpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK("create below a directory fd's link", f >= 0);
	CHECK_OK("the file is in the directory", fstatat(d, "file", &st, 0));
	int f2 = open(fpath, O_RDONLY);
	CHECK("reopen a file below the link", f2 >= 0);
	CHECK_OK("fstat regular via magic", stat(fdpath(f), &st));
	CHECK("regular", S_ISREG(st.st_mode));
	close(f);
	close(f2);
	unlinkat(d, "file", 0);
	close(d);
	rmdir(dir);

	/* cwd and root. */
	REQUIRE("chdir /tmp", chdir("/tmp") == 0);
	int c = open("/proc/self/cwd", O_RDONLY | O_DIRECTORY);
	CHECK("open /proc/self/cwd", c >= 0);
	CHECK_OK("fstat cwd", fstat(c, &st));
	CHECK_OK("stat /tmp", stat("/tmp", &st2));
	CHECK("cwd is /tmp", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
	close(c);
	CHECK_OK("chdir /proc/self/root", chdir("/proc/self/root"));
	char cwd[256];
	CHECK("getcwd is /", getcwd(cwd, sizeof(cwd)) && strcmp(cwd, "/") == 0);
	return check_done();
}
