/*
 * rwf_flags: preadv2 and pwritev2 flags (RWF_*), as Linux 6.18 takes
 * them on regular files, pipes and sockets.
 *
 * RWF_HIPRI is a hint any file takes; RWF_DSYNC and RWF_SYNC make a write
 * synchronous and are ignored by reads. RWF_APPEND makes one write append,
 * whatever its offset (an explicit offset is ignored; with -1 the file
 * offset moves to the end), and RWF_NOAPPEND makes a write to an O_APPEND
 * file go to its offset; both together are EINVAL. RWF_NOSIGNAL spares
 * the writer SIGPIPE (EPIPE alone). RWF_NOWAIT writes to a regular file,
 * RWF_DONTCACHE on a pipe, RWF_ATOMIC on files that cannot, and unknown
 * flags are EOPNOTSUPP.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RWF_HIPRI_ 0x1
#define RWF_DSYNC_ 0x2
#define RWF_SYNC_ 0x4
#define RWF_NOWAIT_ 0x8
#define RWF_APPEND_ 0x10
#define RWF_NOAPPEND_ 0x20
#define RWF_ATOMIC_ 0x40
#define RWF_DONTCACHE_ 0x80
#define RWF_NOSIGNAL_ 0x100

static int sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static ssize_t pw(int fd, const char *s, off_t off, int flags)
{
	struct iovec io = {(void *)s, strlen(s)};
	return pwritev2(fd, &io, 1, off, flags);
}

static ssize_t pr(int fd, char *b, size_t n, off_t off, int flags)
{
	struct iovec io = {b, n};
	return preadv2(fd, &io, 1, off, flags);
}

/* contents reads the whole file into buf as a string. */
static const char *contents(int fd)
{
	static char buf[64];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

int main(void)
{
	char dir[] = "/tmp/rwfXXXXXX", path[64];
	REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE("open", fd >= 0);
	CHECK_EQ("write", write(fd, "0123456789", 10), 10);
	char b[16];

	CHECK_EQ("hipri write", pw(fd, "ab", 0, RWF_HIPRI_), 2);
	CHECK_EQ("hipri read", pr(fd, b, 4, 0, RWF_HIPRI_), 4);
	CHECK_EQ("dsync write", pw(fd, "cd", 2, RWF_DSYNC_), 2);
	CHECK_EQ("sync write", pw(fd, "ef", 4, RWF_SYNC_), 2);
	CHECK_EQ("dsync read", pr(fd, b, 4, 0, RWF_DSYNC_ | RWF_SYNC_), 4);
	CHECK_STR("written in place", contents(fd), "abcdef6789");

	CHECK_EQ("append with an offset", pw(fd, "XY", 0, RWF_APPEND_), 2);
	CHECK_STR("appended", contents(fd), "abcdef6789XY");
	CHECK_EQ("offset unmoved", lseek(fd, 0, SEEK_CUR), 10);
	CHECK_EQ("append at the file offset", pw(fd, "Z", -1, RWF_APPEND_), 1);
	CHECK_EQ("file offset at the end", lseek(fd, 0, SEEK_CUR), 13);
	CHECK_EQ("append read", pr(fd, b, 2, 0, RWF_APPEND_), 2);
	CHECK_ERR("append and noappend", pw(fd, "Q", 0, RWF_APPEND_ | RWF_NOAPPEND_), EINVAL);

	int afd = open(path, O_RDWR | O_APPEND);
	CHECK_EQ("O_APPEND appends", pw(afd, "!", 0, 0), 1);
	CHECK_EQ("noappend at an offset", pw(afd, "n", 1, RWF_NOAPPEND_), 1);
	CHECK_EQ("noappend at the file offset", pw(afd, "m", -1, RWF_NOAPPEND_), 1);
	CHECK_EQ("its offset moved", lseek(afd, 0, SEEK_CUR), 1);
	CHECK_STR("noappend wrote in place", contents(fd), "mncdef6789XYZ!");
	close(afd);

	CHECK_ERR("nowait write", pw(fd, "w", 0, RWF_NOWAIT_), EOPNOTSUPP);
	CHECK_ERR("atomic write", pw(fd, "w", 0, RWF_ATOMIC_), EOPNOTSUPP);
	CHECK_ERR("atomic read", pr(fd, b, 1, 0, RWF_ATOMIC_), EOPNOTSUPP);
	CHECK_ERR("unknown write flag", pw(fd, "w", 0, 0x200), EOPNOTSUPP);
	CHECK_ERR("unknown read flag", pr(fd, b, 1, 0, 0x400), EOPNOTSUPP);
	CHECK_ERR("bad descriptor first", pw(999, "w", 0, 0x200), EBADF);
	CHECK_EQ("nosignal on a file", pw(fd, "s", 0, RWF_NOSIGNAL_), 1);
	close(fd);
	unlink(path);
	rmdir(dir);

	signal(SIGPIPE, on_sigpipe);
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	CHECK_EQ("pipe hipri", pw(p[1], "ab", -1, RWF_HIPRI_), 2);
	CHECK_EQ("pipe sync", pw(p[1], "cd", -1, RWF_SYNC_ | RWF_DSYNC_), 2);
	CHECK_EQ("pipe append", pw(p[1], "ef", -1, RWF_APPEND_), 2);
	CHECK_EQ("pipe read dsync", pr(p[0], b, 16, -1, RWF_DSYNC_), 6);
	CHECK_ERR("pipe dontcache", pw(p[1], "x", -1, RWF_DONTCACHE_), EOPNOTSUPP);
	close(p[0]);
	CHECK_ERR("pipe nosignal", pw(p[1], "x", -1, RWF_NOSIGNAL_), EPIPE);
	CHECK_EQ("no SIGPIPE", sigpipes, 0);
	CHECK_ERR("pipe without it", pw(p[1], "x", -1, 0), EPIPE);
	CHECK_EQ("SIGPIPE", sigpipes, 1);
	CHECK_ERR("no lasting effect", pw(p[1], "x", -1, RWF_HIPRI_), EPIPE);
	CHECK_EQ("SIGPIPE again", sigpipes, 2);
	close(p[1]);

	int s[2];
	REQUIRE("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	close(s[1]);
	CHECK_ERR("socket nosignal", pw(s[0], "x", -1, RWF_NOSIGNAL_), EPIPE);
	CHECK_EQ("no SIGPIPE from the socket", sigpipes, 2);
	close(s[0]);
	return check_done();
}
