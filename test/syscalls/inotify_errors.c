/*
 * inotify_errors: the errors of inotify_init1, inotify_add_watch and
 * inotify_rm_watch in Linux's order (mask checks before the descriptor,
 * the descriptor before the path), IN_ONLYDIR, IN_DONT_FOLLOW, read
 * permission on the watched file (as a non-root child), and what the
 * inotify file refuses (write, pread, unknown ioctls).
 */
#include "check.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static const char *path(const char *name)
{
	static char bufs[4][128];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, 128, "%s/%s", dir, name);
	return b;
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/inotify_errors.%d", getpid());
	REQUIRE("mkdir", mkdir(dir, 0755) == 0);
	int fd = open(path("f"), O_WRONLY | O_CREAT, 0644);
	REQUIRE("create f", fd >= 0);
	close(fd);
	int pfd = open(path("f"), O_RDONLY);

	/* inotify_init1 */
	CHECK_ERR("init1: unknown flag", inotify_init1(1), EINVAL);
	CHECK_ERR("init1: O_RDWR is not a flag", inotify_init1(O_RDWR), EINVAL);
	int in = inotify_init1(IN_NONBLOCK);
	REQUIRE("init1", in >= 0);
	CHECK_EQ("no cloexec", fcntl(in, F_GETFD), 0);
	int in2 = inotify_init();
	CHECK("init", in2 >= 0);
	CHECK_EQ("init: blocking", fcntl(in2, F_GETFL) & O_NONBLOCK, 0);
	close(in2);

	/* inotify_add_watch: masks first. */
	CHECK_ERR("mask 0", inotify_add_watch(in, dir, 0), EINVAL);
	CHECK_ERR("unknown bit", inotify_add_watch(in, dir, IN_CREATE | 0x800000), EINVAL);
	CHECK_ERR("unknown bit, bad fd", inotify_add_watch(-1, dir, IN_CREATE | 0x800000), EINVAL);
	CHECK_ERR("MASK_ADD with MASK_CREATE", inotify_add_watch(in, dir, IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
	CHECK_ERR("bad fd", inotify_add_watch(-1, dir, IN_CREATE), EBADF);
	CHECK_ERR("closed fd", inotify_add_watch(999, dir, IN_CREATE), EBADF);
	CHECK_ERR("not an inotify fd", inotify_add_watch(pfd, dir, IN_CREATE), EINVAL);
	CHECK_ERR("not an inotify fd, missing path", inotify_add_watch(pfd, path("missing"), IN_CREATE), EINVAL);
	CHECK_ERR("bad fd, missing path", inotify_add_watch(-1, path("missing"), IN_CREATE), EBADF);
	CHECK_ERR("missing path", inotify_add_watch(in, path("missing"), IN_CREATE), ENOENT);
	CHECK_ERR("empty path", inotify_add_watch(in, "", IN_CREATE), ENOENT);
	CHECK_ERR("path through a file", inotify_add_watch(in, path("f/x"), IN_CREATE), ENOTDIR);
	CHECK_ERR("ONLYDIR on a file", inotify_add_watch(in, path("f"), IN_CREATE | IN_ONLYDIR), ENOTDIR);
	CHECK_ERR("bad path pointer", inotify_add_watch(in, (char *)8, IN_CREATE), EFAULT);
	CHECK_EQ("ONLYDIR on a directory: wd 1", inotify_add_watch(in, dir, IN_CREATE | IN_ONLYDIR), 1);
	/* Flag bits that are not events are accepted, as long as one bit is
	 * valid. */
	CHECK_EQ("IN_ISDIR|IN_CREATE", inotify_add_watch(in, dir, IN_ISDIR | IN_CREATE), 1);
	CHECK_EQ("IN_IGNORED|IN_CREATE", inotify_add_watch(in, dir, IN_IGNORED | IN_CREATE), 1);
	CHECK_EQ("file: wd 2", inotify_add_watch(in, path("f"), IN_ATTRIB), 2);

	/* Symlinks: followed unless IN_DONT_FOLLOW. */
	CHECK_OK("symlink", symlink("f", path("l")));
	CHECK_OK("dangling symlink", symlink("nowhere", path("dl")));
	CHECK_EQ("through a symlink: the file's wd", inotify_add_watch(in, path("l"), IN_ATTRIB), 2);
	CHECK_EQ("DONT_FOLLOW: the link's own wd 3", inotify_add_watch(in, path("l"), IN_ATTRIB | IN_DONT_FOLLOW), 3);
	CHECK_ERR("dangling symlink", inotify_add_watch(in, path("dl"), IN_ATTRIB), ENOENT);
	CHECK_EQ("dangling symlink, DONT_FOLLOW: wd 4", inotify_add_watch(in, path("dl"), IN_ATTRIB | IN_DONT_FOLLOW), 4);
	CHECK_ERR("ONLYDIR on a symlink to a file", inotify_add_watch(in, path("l"), IN_ATTRIB | IN_ONLYDIR), ENOTDIR);

	/* inotify_rm_watch */
	CHECK_ERR("rm: bad fd", inotify_rm_watch(-1, 1), EBADF);
	CHECK_ERR("rm: not an inotify fd", inotify_rm_watch(pfd, 1), EINVAL);
	CHECK_ERR("rm: unknown wd", inotify_rm_watch(in, 99), EINVAL);
	CHECK_ERR("rm: wd 0", inotify_rm_watch(in, 0), EINVAL);
	CHECK_ERR("rm: wd -1", inotify_rm_watch(in, -1), EINVAL);
	CHECK_OK("rm: wd 4", inotify_rm_watch(in, 4));
	CHECK_ERR("rm: wd 4 again", inotify_rm_watch(in, 4), EINVAL);
	CHECK_EQ("next wd is 5, not 4", inotify_add_watch(in, path("dl"), IN_ATTRIB | IN_DONT_FOLLOW), 5);

	/* The inotify file itself. */
	char buf[64];
	CHECK_ERR("write: read-only file", write(in, "x", 1), EBADF);
	CHECK_ERR("pread", pread(in, buf, sizeof(buf), 0), ESPIPE);
	CHECK_ERR("unknown ioctl", ioctl(in, TCGETS, buf), ENOTTY);
	int n = -1;
	CHECK_OK("FIONREAD", ioctl(in, FIONREAD, &n));
	/* CREATE l, CREATE dl (32 bytes each), IGNORED of wd 4 (16). */
	CHECK_EQ("FIONREAD: three events", n, 80);

	/* Read permission on the target, and search on the path, as a
	 * non-root user. */
	CHECK_OK("chmod f 0200", chmod(path("f"), 0200));
	CHECK_OK("mkdir closed", mkdir(path("closed"), 0700));
	CHECK_OK("mkdir readable", mkdir(path("readable"), 0755));
	int ok_pipe[2];
	pipe(ok_pipe);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(64);
		int c = inotify_init1(0);
		int r = 0;
		if (inotify_add_watch(c, path("f"), IN_ATTRIB) != -1 || errno != EACCES)
			r |= 1;
		if (inotify_add_watch(c, path("closed"), IN_ATTRIB) != -1 || errno != EACCES)
			r |= 2;
		if (inotify_add_watch(c, path("closed/x"), IN_ATTRIB) != -1 || errno != EACCES)
			r |= 4;
		if (inotify_add_watch(c, path("readable"), IN_ATTRIB) != 1)
			r |= 8;
		_exit(r);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK("child exited", WIFEXITED(st));
	int r = WEXITSTATUS(st);
	CHECK("non-root: setuid", r != 64);
	CHECK_EQ("non-root: file without read permission EACCES", r & 1, 0);
	CHECK_EQ("non-root: directory without read permission EACCES", r & 2, 0);
	CHECK_EQ("non-root: path without search permission EACCES", r & 4, 0);
	CHECK_EQ("non-root: readable directory", r & 8, 0);
	/* root may watch anything. */
	CHECK_EQ("root: write-only file (wd 2)", inotify_add_watch(in, path("f"), IN_ATTRIB), 2);

	unlink(path("f"));
	unlink(path("l"));
	unlink(path("dl"));
	rmdir(path("closed"));
	rmdir(path("readable"));
	rmdir(dir);
	close(pfd);
	close(in);
	return check_done();
}
