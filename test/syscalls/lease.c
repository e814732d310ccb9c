/*
 * lease: file leases, as Linux does them (fcntl(2) "Leases").
 *
 * F_GETLEASE tells the lease of an open file description: F_RDLCK,
 * F_WRLCK or F_UNLCK. F_SETLEASE takes only those three (EINVAL), only
 * on a regular file (EINVAL for a directory or a pipe, EBADF through
 * O_PATH), and only by the file's owner (fsuid) or with CAP_LEASE
 * (EACCES, checked before the file type). F_UNLCK without a lease is
 * EAGAIN. A read lease fails with EAGAIN while the file is open for
 * writing anywhere, the caller's own description included; a write lease
 * while the file is open (read-only or writable, not O_PATH) in any
 * other description. A lease belongs to the description: a dup shares
 * it and it goes with the last close. Setting a lease makes the caller's
 * process the file's owner if it had none and sets O_ASYNC; removing it
 * clears the owner, F_SETSIG's signal and O_ASYNC.
 *
 * An open for writing by anyone breaks every lease of the file; an open
 * for reading breaks write leases (O_RDONLY|O_TRUNC breaks no read lease
 * on Linux); truncate(2) breaks like an open for writing. The holder is
 * sent F_SETSIG's signal with si_code POLL_MSG, si_fd the descriptor the
 * lease was set through and si_band POLLIN|POLLRDNORM|POLLMSG, or a plain
 * SIGIO (SI_KERNEL). The opener waits until the holder downgrades to a
 * read lease (enough for a reader) or removes the lease, or the
 * lease-break time (45 s) passes; an O_NONBLOCK open fails at once with
 * EWOULDBLOCK while the break goes on. Meanwhile F_GETLEASE tells the
 * type the lease is being broken to. A waiting opener is interrupted by
 * a signal (EINTR without SA_RESTART), and one that is killed leaves
 * nothing counted behind.
 */
#include "sigio.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAND_MSG (POLLIN | POLLRDNORM | POLLMSG)

static char PATH[64];
static int rt;

/* readable waits up to ms for fd to be readable. */
static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

static void on_usr1(int sig) { (void)sig; }

/*
 * opener forks a child that opens PATH with flags (or truncates it when
 * flags is -1) once the lease is set, and reports open's result and errno
 * on the returned pipe; *pid is the child. The child writes a byte to
 * ready just before it opens. With intr, SIGUSR1 interrupts it (no
 * SA_RESTART).
 */
static int opener(int flags, int intr, pid_t *pid)
{
	int ready[2], res[2];
	if (pipe(ready) || pipe(res))
		return -1;
	*pid = fork();
	if (*pid == 0) {
		if (intr) {
			struct sigaction sa = {.sa_handler = on_usr1};
			sigaction(SIGUSR1, &sa, NULL);
		}
		close(ready[0]);
		close(res[0]);
		int r[2];
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (flags == -1)
			r[0] = truncate(PATH, 0);
		else
			r[0] = open(PATH, flags);
		r[1] = errno;
		if (write(res[1], r, sizeof(r)) != sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(ready[1]);
	close(res[1]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		return -1;
	close(ready[0]);
	return res[0];
}

/* result reads the opener's result: its return value, and errno in *err. */
static int result(int res, int *err)
{
	int r[2] = {-2, 0};
	if (read(res, r, sizeof(r)) != sizeof(r))
		return -2;
	*err = r[1];
	return r[0];
}

static void reap(pid_t pid)
{
	int st;
	waitpid(pid, &st, 0);
}

static void not_owner(void)
{
	int fd = open(PATH, O_RDONLY);
	if (setgid(65534) || setuid(65534))
		exit(1);
	CHECK_ERR("not owner: F_SETLEASE F_RDLCK is EACCES", fcntl(fd, F_SETLEASE, F_RDLCK), EACCES);
	CHECK_ERR("not owner: F_SETLEASE F_UNLCK is EACCES", fcntl(fd, F_SETLEASE, F_UNLCK), EACCES);
	CHECK_EQ("not owner: F_GETLEASE works", fcntl(fd, F_GETLEASE), F_UNLCK);
}

static void basics(void)
{
	int fd = CHECK_OK("create", open(PATH, O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK_EQ("write", write(fd, "data", 4), 4);
	CHECK_EQ("no lease", fcntl(fd, F_GETLEASE), F_UNLCK);
	CHECK_ERR("bad type", fcntl(fd, F_SETLEASE, 5), EINVAL);
	CHECK_ERR("F_UNLCK without a lease", fcntl(fd, F_SETLEASE, F_UNLCK), EAGAIN);
	CHECK_ERR("read lease on a writable description", fcntl(fd, F_SETLEASE, F_RDLCK), EAGAIN);

	CHECK_OK("write lease, only description", fcntl(fd, F_SETLEASE, F_WRLCK));
	CHECK_EQ("F_GETLEASE F_WRLCK", fcntl(fd, F_GETLEASE), F_WRLCK);
	CHECK("lease sets O_ASYNC", fcntl(fd, F_GETFL) & O_ASYNC);
	CHECK_EQ("lease makes the caller the owner", fcntl(fd, F_GETOWN), getpid());
	int dup_fd = dup(fd);
	CHECK_EQ("a dup shares the lease", fcntl(dup_fd, F_GETLEASE), F_WRLCK);
	close(dup_fd);
	CHECK_EQ("closing a dup keeps it", fcntl(fd, F_GETLEASE), F_WRLCK);
	CHECK_OK("remove", fcntl(fd, F_SETLEASE, F_UNLCK));
	CHECK_EQ("removed", fcntl(fd, F_GETLEASE), F_UNLCK);
	CHECK("removal clears O_ASYNC", !(fcntl(fd, F_GETFL) & O_ASYNC));
	CHECK_EQ("removal clears the owner", fcntl(fd, F_GETOWN), 0);

	CHECK_OK("F_SETOWN", fcntl(fd, F_SETOWN, getpid()));
	CHECK_OK("F_SETSIG", fcntl(fd, F_SETSIG, rt));
	CHECK_OK("write lease again", fcntl(fd, F_SETLEASE, F_WRLCK));
	CHECK_OK("remove again", fcntl(fd, F_SETLEASE, F_UNLCK));
	CHECK_EQ("removal clears F_SETSIG", fcntl(fd, F_GETSIG), 0);

	int r = CHECK_OK("open read-only", open(PATH, O_RDONLY));
	CHECK_ERR("write lease with another description open", fcntl(fd, F_SETLEASE, F_WRLCK), EAGAIN);
	CHECK_ERR("read lease while open for writing elsewhere", fcntl(r, F_SETLEASE, F_RDLCK), EAGAIN);
	close(fd);
	CHECK_OK("read lease", fcntl(r, F_SETLEASE, F_RDLCK));
	CHECK_EQ("F_GETLEASE F_RDLCK", fcntl(r, F_GETLEASE), F_RDLCK);
	int r2 = CHECK_OK("another reader", open(PATH, O_RDONLY));
	CHECK_OK("second read lease", fcntl(r2, F_SETLEASE, F_RDLCK));
	CHECK_ERR("no upgrade beside another lease", fcntl(r, F_SETLEASE, F_WRLCK), EAGAIN);
	close(r2);
	CHECK_OK("upgrade once alone", fcntl(r, F_SETLEASE, F_WRLCK));
	CHECK_EQ("upgraded", fcntl(r, F_GETLEASE), F_WRLCK);

	int p = CHECK_OK("O_PATH open breaks nothing", open(PATH, O_PATH));
	CHECK_EQ("still a write lease", fcntl(r, F_GETLEASE), F_WRLCK);
	CHECK_ERR("F_SETLEASE through O_PATH", fcntl(p, F_SETLEASE, F_RDLCK), EBADF);
	CHECK_ERR("F_GETLEASE through O_PATH", fcntl(p, F_GETLEASE), EBADF);
	close(p);
	close(r);
	int w = CHECK_OK("close drops the lease: nonblocking writer opens", open(PATH, O_RDWR | O_NONBLOCK));
	CHECK_EQ("new description has no lease", fcntl(w, F_GETLEASE), F_UNLCK);
	close(w);

	int d = CHECK_OK("open /tmp", open("/tmp", O_RDONLY));
	CHECK_ERR("directory", fcntl(d, F_SETLEASE, F_RDLCK), EINVAL);
	CHECK_EQ("directory F_GETLEASE", fcntl(d, F_GETLEASE), F_UNLCK);
	close(d);
	int pp[2];
	REQUIRE("pipe", pipe(pp) == 0);
	CHECK_ERR("pipe", fcntl(pp[0], F_SETLEASE, F_RDLCK), EINVAL);
	close(pp[0]);
	close(pp[1]);

	if (geteuid() == 0)
		check_in_child("not owner", NULL, not_owner);
}

static void nonblocking(void)
{
	int r = CHECK_OK("open", open(PATH, O_RDONLY));
	CHECK_OK("write lease", fcntl(r, F_SETLEASE, F_WRLCK));
	CHECK_OK("F_SETSIG", fcntl(r, F_SETSIG, rt));
	CHECK_ERR("nonblocking reader: EWOULDBLOCK", open(PATH, O_RDONLY | O_NONBLOCK), EWOULDBLOCK);
	sigio_expect("break signal: POLL_MSG", rt, POLL_MSG, r, BAND_MSG);
	CHECK_EQ("being downgraded", fcntl(r, F_GETLEASE), F_RDLCK);
	CHECK_ERR("second try still blocked", open(PATH, O_RDONLY | O_NONBLOCK), EWOULDBLOCK);
	sigio_quiet("one signal per break");
	CHECK_OK("downgrade", fcntl(r, F_SETLEASE, F_RDLCK));
	CHECK_EQ("downgraded", fcntl(r, F_GETLEASE), F_RDLCK);
	int o = CHECK_OK("reader opens beside a read lease", open(PATH, O_RDONLY | O_NONBLOCK));
	close(o);
	o = CHECK_OK("O_RDONLY|O_TRUNC breaks no read lease", open(PATH, O_RDONLY | O_TRUNC | O_NONBLOCK));
	close(o);
	sigio_quiet("no signal for readers");
	CHECK_ERR("nonblocking writer: EWOULDBLOCK", open(PATH, O_WRONLY | O_NONBLOCK), EWOULDBLOCK);
	sigio_expect("break signal for the writer", rt, POLL_MSG, r, BAND_MSG);
	CHECK_EQ("being removed", fcntl(r, F_GETLEASE), F_UNLCK);
	CHECK_OK("remove", fcntl(r, F_SETLEASE, F_UNLCK));
	o = CHECK_OK("writer opens", open(PATH, O_WRONLY | O_NONBLOCK));
	close(o);

	CHECK_OK("read lease, plain SIGIO", fcntl(r, F_SETLEASE, F_RDLCK));
	CHECK_EQ("F_GETSIG 0", fcntl(r, F_GETSIG), 0);
	CHECK_ERR("writer: EWOULDBLOCK", open(PATH, O_RDWR | O_NONBLOCK), EWOULDBLOCK);
	sigio_expect("plain SIGIO", SIGIO, SI_KERNEL, r, 0);
	CHECK_OK("remove", fcntl(r, F_SETLEASE, F_UNLCK));
	close(r);
}

/* blocking: a child's conflicting open waits until the lease is answered. */
static void blocking(void)
{
	int w = CHECK_OK("open for writing", open(PATH, O_WRONLY | O_TRUNC));
	CHECK_EQ("write", write(w, "data", 4), 4);
	close(w);
	int r = CHECK_OK("open", open(PATH, O_RDONLY));
	CHECK_OK("write lease", fcntl(r, F_SETLEASE, F_WRLCK));
	CHECK_OK("F_SETSIG", fcntl(r, F_SETSIG, rt));
	pid_t pid;
	int res = opener(O_RDWR, 0, &pid);
	REQUIRE("writer forked", res >= 0);
	siginfo_t si;
	CHECK("writer's open signals the holder", sigio_wait(rt, &si, 10000) && si.si_code == POLL_MSG && si.si_fd == r);
	CHECK("writer waits", !readable(res, 200));
	CHECK_EQ("being removed", fcntl(r, F_GETLEASE), F_UNLCK);
	CHECK_OK("holder removes the lease", fcntl(r, F_SETLEASE, F_UNLCK));
	int err = 0;
	CHECK("writer's open succeeds", result(res, &err) >= 0);
	close(res);
	reap(pid);

	CHECK_OK("write lease again", fcntl(r, F_SETLEASE, F_WRLCK));
	CHECK_OK("F_SETSIG", fcntl(r, F_SETSIG, rt));
	res = opener(O_RDONLY, 0, &pid);
	REQUIRE("reader forked", res >= 0);
	CHECK("reader's open signals the holder", sigio_wait(rt, &si, 10000) && si.si_code == POLL_MSG);
	CHECK("reader waits", !readable(res, 200));
	CHECK_EQ("being downgraded", fcntl(r, F_GETLEASE), F_RDLCK);
	CHECK_OK("holder downgrades", fcntl(r, F_SETLEASE, F_RDLCK));
	CHECK("reader's open succeeds", result(res, &err) >= 0);
	CHECK_EQ("still a read lease", fcntl(r, F_GETLEASE), F_RDLCK);
	close(res);
	reap(pid);

	/* truncate(2) breaks the read lease. */
	res = opener(-1, 0, &pid);
	REQUIRE("truncater forked", res >= 0);
	CHECK("truncate signals the holder", sigio_wait(rt, &si, 10000) && si.si_code == POLL_MSG);
	CHECK("truncate waits", !readable(res, 200));
	CHECK_EQ("being removed", fcntl(r, F_GETLEASE), F_UNLCK);
	struct stat st;
	CHECK("not truncated yet", stat(PATH, &st) == 0 && st.st_size == 4);
	CHECK_OK("holder removes the lease", fcntl(r, F_SETLEASE, F_UNLCK));
	CHECK_EQ("truncate succeeds", result(res, &err), 0);
	CHECK("truncated", stat(PATH, &st) == 0 && st.st_size == 0);
	close(res);
	reap(pid);

	/* A waiting opener is interrupted by a signal. */
	CHECK_OK("write lease", fcntl(r, F_SETLEASE, F_WRLCK));
	CHECK_OK("F_SETSIG", fcntl(r, F_SETSIG, rt));
	res = opener(O_WRONLY, 1, &pid);
	REQUIRE("opener forked", res >= 0);
	CHECK("open signals the holder", sigio_wait(rt, &si, 10000) && si.si_code == POLL_MSG);
	CHECK("opener waits", !readable(res, 200));
	kill(pid, SIGUSR1);
	CHECK("opener wakes", readable(res, 10000));
	int ret = result(res, &err);
	CHECK("interrupted open is EINTR", ret == -1 && err == EINTR);
	close(res);
	reap(pid);
	CHECK_EQ("the break goes on", fcntl(r, F_GETLEASE), F_UNLCK);

	/* A killed opener leaves nothing behind. */
	res = opener(O_WRONLY, 0, &pid);
	REQUIRE("opener forked", res >= 0);
	CHECK("opener waits", !readable(res, 200));
	kill(pid, SIGKILL);
	reap(pid);
	close(res);
	CHECK_OK("remove", fcntl(r, F_SETLEASE, F_UNLCK));
	CHECK_OK("write lease: no open left by the killed opener", fcntl(r, F_SETLEASE, F_WRLCK));
	CHECK_OK("remove", fcntl(r, F_SETLEASE, F_UNLCK));
	close(r);
	/* Drain what the interrupted and killed openers' breaks sent. */
	while (sigio_wait(rt, &si, 0) || sigio_wait(SIGIO, &si, 0))
		;
}

int main(void)
{
	snprintf(PATH, sizeof(PATH), "/tmp/lease.%d", (int)getpid());
	rt = SIGRTMIN + 1;
	sigio_block(rt);
	basics();
	nonblocking();
	blocking();
	unlink(PATH);
	return check_done();
}
