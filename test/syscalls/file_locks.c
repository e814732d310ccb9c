/*
 * file_locks: flock(2), POSIX record locks (F_SETLK/F_SETLKW/F_GETLK) and
 * open file description locks (F_OFD_*): conflicts between processes and
 * descriptions, range splitting, release on close, deadlock detection and
 * argument errors.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

/* Variants of a test run in parallel natively: each needs its own file. */
static char PATH[64];

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

static struct flock getlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	if (fcntl(fd, cmd, &fl) < 0)
		fl.l_type = -1;
	return fl;
}

static void sync_read(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		_exit(99);
}

static void sync_write(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(99);
}

int main(void)
{
	snprintf(PATH, sizeof(PATH), "/tmp/file_locks.%d", (int)getpid());
	int fd = open(PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE("open", fd >= 0);
	REQUIRE("size", ftruncate(fd, 4096) == 0);
	int fd2 = open(PATH, O_RDWR);
	REQUIRE("open again", fd2 >= 0);

	/* flock: per description. */
	CHECK_OK("flock EX", flock(fd, LOCK_EX));
	CHECK_ERR("other description EX NB", flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_ERR("other description SH NB", flock(fd2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	CHECK_OK("downgrade to SH", flock(fd, LOCK_SH));
	CHECK_OK("shared by both", flock(fd2, LOCK_SH | LOCK_NB));
	CHECK_OK("unlock", flock(fd, LOCK_UN));
	CHECK_OK("unlock 2", flock(fd2, LOCK_UN));
	int dupfd = dup(fd);
	CHECK_OK("flock via dup", flock(dupfd, LOCK_EX));
	close(dupfd);
	CHECK_ERR("dup's lock is the description's", flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_OK("unlock via original", flock(fd, LOCK_UN));
	CHECK_ERR("bad op", flock(fd, 0), EINVAL);
	CHECK_OK("flock does not block POSIX", setlk(fd2, F_SETLK, F_WRLCK, 0, 0) == 0 ? (flock(fd, LOCK_EX | LOCK_NB)) : -1);
	flock(fd, LOCK_UN);
	setlk(fd2, F_SETLK, F_UNLCK, 0, 0);

	/* POSIX locks between processes. */
	int p2c[2], c2p[2];
	REQUIRE("pipes", pipe(p2c) == 0 && pipe(c2p) == 0);
	CHECK_OK("lock [0,100) write", setlk(fd, F_SETLK, F_WRLCK, 0, 100));
	CHECK_OK("unlock [40,60)", setlk(fd, F_SETLK, F_UNLCK, 40, 20));
	CHECK_OK("same process relocks freely", setlk(fd2, F_SETLK, F_RDLCK, 10, 5));
	CHECK_OK("restore write", setlk(fd, F_SETLK, F_WRLCK, 10, 5));
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		int cf = open(PATH, O_RDWR);
		struct flock l = getlk(cf, F_GETLK, F_RDLCK, 50, 1);
		printf("child: hole at 50: %s\n", l.l_type == F_UNLCK ? "unlocked" : "LOCKED");
		l = getlk(cf, F_GETLK, F_RDLCK, 30, 1);
		printf("child: at 30: type %s start %ld len %ld pid %s\n", l.l_type == F_WRLCK ? "WR" : "?",
		       (long)l.l_start, (long)l.l_len, l.l_pid == parent ? "parent" : "other");
		l = getlk(cf, F_GETLK, F_WRLCK, 70, 0);
		printf("child: from 70: start %ld len %ld\n", (long)l.l_start, (long)l.l_len);
		printf("child: setlk 30: %s\n", setlk(cf, F_SETLK, F_RDLCK, 30, 1) < 0 && (errno == EAGAIN || errno == EACCES) ? "EAGAIN" : "?");
		printf("child: setlk 50: %s\n", setlk(cf, F_SETLK, F_WRLCK, 50, 1) == 0 ? "ok" : "?");
		sync_write(c2p[1]);
		sync_read(p2c[0]); /* the parent closed a descriptor of the file */
		printf("child: after parent's close: %s\n", setlk(cf, F_SETLK, F_WRLCK, 0, 40) == 0 ? "ok" : "still locked");
		/* Hold [0,40) and block on [50,51)... no: release and exit. */
		_exit(0);
	}
	if (c < 0)
		return printf("FAIL fork\n"), 1;
	sync_read(c2p[0]);
	struct flock l = getlk(fd, F_GETLK, F_WRLCK, 50, 1);
	CHECK("parent sees the child's lock", l.l_type == F_WRLCK && l.l_pid == c);
	CHECK_OK("close another descriptor of the file", close(fd2));
	sync_write(p2c[1]);
	int st;
	REQUIRE("wait", waitpid(c, &st, 0) == c);
	CHECK("child ok", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	l = getlk(fd, F_GETLK, F_WRLCK, 0, 0);
	CHECK("child's locks died with it", l.l_type == F_UNLCK);

	/* Deadlock detection: one of the two waiters gets EDEADLK. */
	fd2 = open(PATH, O_RDWR);
	CHECK_OK("parent holds A", setlk(fd, F_SETLK, F_WRLCK, 0, 1));
	c = fork();
	if (c == 0) {
		int cf = open(PATH, O_RDWR);
		if (setlk(cf, F_SETLK, F_WRLCK, 1, 1) < 0)
			_exit(3);
		sync_write(c2p[1]);
		int r = setlk(cf, F_SETLKW, F_WRLCK, 0, 1);
		_exit(r < 0 && errno == EDEADLK ? 10 : r == 0 ? 11 : 12);
	}
	if (c < 0)
		return printf("FAIL fork 2\n"), 1;
	sync_read(c2p[0]);
	usleep(100000);
	int r = setlk(fd, F_SETLKW, F_WRLCK, 1, 1);
	int pe = r < 0 && errno == EDEADLK;
	if (pe)
		setlk(fd, F_SETLK, F_UNLCK, 0, 1); /* let the child have A */
	REQUIRE("wait 2", waitpid(c, &st, 0) == c);
	int ce = WIFEXITED(st) && WEXITSTATUS(st) == 10;
	CHECK("exactly one waiter saw EDEADLK", pe + ce == 1);
	setlk(fd, F_SETLK, F_UNLCK, 0, 0);

	/* OFD locks: owned by the description, even within one process. */
	CHECK_OK("OFD write lock", setlk(fd, F_OFD_SETLK, F_WRLCK, 0, 10));
	CHECK_ERR("other description conflicts", setlk(fd2, F_OFD_SETLK, F_RDLCK, 5, 1), EAGAIN);
	CHECK_ERR("POSIX lock of the same process conflicts", setlk(fd2, F_SETLK, F_RDLCK, 5, 1), EAGAIN);
	l = getlk(fd2, F_OFD_GETLK, F_RDLCK, 0, 0);
	CHECK("OFD GETLK pid is -1", l.l_type == F_WRLCK && l.l_pid == -1);
	struct flock bad = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_pid = 1};
	CHECK_ERR("OFD with l_pid", fcntl(fd2, F_OFD_SETLK, &bad), EINVAL);
	int fd3 = dup(fd);
	close(fd3);
	CHECK_ERR("closing a dup keeps the OFD lock", setlk(fd2, F_OFD_SETLK, F_RDLCK, 5, 1), EAGAIN);
	close(fd);
	CHECK_OK("last close releases it", setlk(fd2, F_OFD_SETLK, F_WRLCK, 5, 1));

	/* Argument errors. */
	int ro = open(PATH, O_RDONLY);
	CHECK_ERR("write lock on read-only fd", setlk(ro, F_SETLK, F_WRLCK, 0, 1), EBADF);
	struct flock w = {.l_type = F_RDLCK, .l_whence = 7};
	CHECK_ERR("bad whence", fcntl(ro, F_SETLK, &w), EINVAL);
	CHECK_ERR("negative start", setlk(ro, F_SETLK, F_RDLCK, -5, 1), EINVAL);
	CHECK_ERR("negative length before 0", setlk(ro, F_SETLK, F_RDLCK, 2, -5), EINVAL);
	CHECK_OK("negative length", setlk(ro, F_SETLK, F_RDLCK, 20, -5));
	CHECK_ERR("bad type", setlk(ro, F_SETLK, 9, 0, 1), EINVAL);
	CHECK_ERR("bad fd", setlk(1000, F_SETLK, F_RDLCK, 0, 1), EBADF);
	CHECK_ERR("bad pointer", fcntl(ro, F_SETLK, (void *)8), EFAULT);
	unlink(PATH);
	return check_done();
}
