/*
 * fifo_io: data through a FIFO. Queued data survives its writers while a
 * reader holds the FIFO open and is dropped when every end is closed; end
 * of file after the last writer; EPIPE and SIGPIPE after the last reader;
 * poll and epoll readiness of FIFO ends (POLLIN, POLLOUT, POLLHUP, POLLERR,
 * and no POLLHUP for a reader that has never seen a writer); FIONREAD;
 * F_GETPIPE_SZ/F_SETPIPE_SZ; fstat reports the FIFO's inode; PIPE_BUF
 * writes of two writers stay whole.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[64];

static int revents(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static int nread(int fd)
{
	int n = -1;
	if (ioctl(fd, FIONREAD, &n) < 0)
		return -1;
	return n;
}

/* epoll_events returns the events epoll reports for the one fd in ep. */
static int epoll_events(int ep)
{
	struct epoll_event ev = {0};
	int n = epoll_wait(ep, &ev, 1, 0);
	if (n < 0)
		return -1;
	return n ? (int)ev.events : 0;
}

enum { chunks = 100 };

/* writer writes chunks PIPE_BUF-sized blocks of c to the FIFO. */
static void writer(char c)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		_exit(1);
	char b[PIPE_BUF];
	memset(b, c, sizeof(b));
	for (int i = 0; i < chunks; i++)
		if (write(fd, b, sizeof(b)) != sizeof(b))
			_exit(2);
	_exit(0);
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/fifo_io.%d", getpid());
	REQUIRE("mkfifo", mkfifo(path, 0600) == 0);
	signal(SIGPIPE, SIG_IGN);
	char buf[64];

	/* Data outlives its writers while a reader holds the FIFO. */
	int r = open(path, O_RDONLY | O_NONBLOCK);
	REQUIRE("reader", r >= 0);
	CHECK_EQ("poll: reader that never saw a writer", revents(r, POLLIN), 0);
	int w = open(path, O_WRONLY);
	REQUIRE("writer", w >= 0);
	CHECK_EQ("poll: empty reader with writer", revents(r, POLLIN), 0);
	CHECK_EQ("poll: writer", revents(w, POLLOUT), POLLOUT);
	CHECK_EQ("write 1", write(w, "abc", 3), 3);
	CHECK_EQ("poll: reader with data", revents(r, POLLIN), POLLIN);
	CHECK_EQ("FIONREAD reader", nread(r), 3);
	CHECK_EQ("FIONREAD writer", nread(w), 3);
	close(w);
	CHECK_EQ("poll: reader after last writer", revents(r, POLLIN), POLLIN | POLLHUP);
	w = open(path, O_WRONLY);
	REQUIRE("second writer", w >= 0);
	CHECK_EQ("FIONREAD kept", nread(r), 3);
	CHECK_EQ("write 2", write(w, "def", 3), 3);
	close(w);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("read both writers' data", read(r, buf, sizeof(buf)), 6);
	CHECK("data", strcmp(buf, "abcdef") == 0);
	CHECK_EQ("poll: drained reader without writers", revents(r, POLLIN), POLLHUP);
	CHECK_EQ("eof after last writer", read(r, buf, sizeof(buf)), 0);

	/* fstat reports the FIFO's inode. */
	struct stat ps, fs;
	CHECK("fstat is the inode", stat(path, &ps) == 0 && fstat(r, &fs) == 0 &&
					    S_ISFIFO(fs.st_mode) && fs.st_ino == ps.st_ino &&
					    fs.st_dev == ps.st_dev);

	/* Pipe size. */
	CHECK_EQ("F_GETPIPE_SZ", fcntl(r, F_GETPIPE_SZ), 65536);
	CHECK_EQ("F_SETPIPE_SZ", fcntl(r, F_SETPIPE_SZ, 8192), 8192);
	w = open(path, O_WRONLY | O_NONBLOCK);
	CHECK_EQ("F_GETPIPE_SZ of another open", fcntl(w, F_GETPIPE_SZ), 8192);
	char big[16384];
	memset(big, 'b', sizeof(big));
	CHECK_EQ("write fills the smaller pipe", write(w, big, sizeof(big)), 8192);
	CHECK_ERR("full pipe", write(w, big, 1), EAGAIN);
	CHECK_EQ("poll: full writer", revents(w, POLLOUT), 0);
	CHECK_EQ("FIONREAD full", nread(r), 8192);

	/* epoll on both ends. */
	int epr = epoll_create1(0), epw = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	CHECK_OK("epoll_ctl reader", epoll_ctl(epr, EPOLL_CTL_ADD, r, &ev));
	ev.events = EPOLLOUT;
	CHECK_OK("epoll_ctl writer", epoll_ctl(epw, EPOLL_CTL_ADD, w, &ev));
	CHECK_EQ("epoll: full reader", epoll_events(epr), EPOLLIN);
	CHECK_EQ("epoll: full writer", epoll_events(epw), 0);
	CHECK_EQ("drain", read(r, big, sizeof(big)), 8192);
	CHECK_EQ("epoll: empty reader", epoll_events(epr), 0);
	CHECK_EQ("epoll: empty writer", epoll_events(epw), EPOLLOUT);
	close(w);
	CHECK_EQ("epoll: reader hung up", epoll_events(epr), EPOLLHUP);
	w = open(path, O_WRONLY | O_NONBLOCK);
	CHECK_EQ("poll: reader with a new writer", revents(r, POLLIN), 0);
	CHECK_EQ("F_GETPIPE_SZ while open", fcntl(w, F_GETPIPE_SZ), 8192);

	/* EPIPE and SIGPIPE after the last reader. */
	close(r);
	CHECK_EQ("poll: writer without readers", revents(w, POLLOUT), POLLOUT | POLLERR);
	CHECK_ERR("write without readers: EPIPE", write(w, "x", 1), EPIPE);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(w, "x", 1);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK("write without readers: SIGPIPE", WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
	close(w);
	close(epr);
	close(epw);

	/* Data is dropped when the last end closes; so is the size. */
	int rw = open(path, O_RDWR | O_NONBLOCK);
	CHECK_EQ("queue in O_RDWR", write(rw, "gone", 4), 4);
	CHECK_EQ("O_RDWR reads its own data", read(rw, buf, 2), 2);
	CHECK_EQ("poll: O_RDWR", revents(rw, POLLIN | POLLOUT), POLLIN | POLLOUT);
	close(rw);
	r = open(path, O_RDONLY | O_NONBLOCK);
	CHECK_EQ("reopened FIFO is empty", read(r, buf, sizeof(buf)), 0);
	CHECK_EQ("reopened FIFO has the default size", fcntl(r, F_GETPIPE_SZ), 65536);
	close(r);

	/* Two writers' PIPE_BUF writes are never interleaved. The parent
	 * holds a write end of its own so that a writer finishing before the
	 * other opens is no end of file. */
	r = open(path, O_RDONLY | O_NONBLOCK);
	REQUIRE("atomic reader", r >= 0);
	int hold = open(path, O_WRONLY);
	REQUIRE("blocking reads", fcntl(r, F_SETFL, 0) == 0);
	pid_t a = fork();
	if (a == 0)
		writer('a');
	pid_t b = fork();
	if (b == 0)
		writer('b');
	static char all[2 * chunks * PIPE_BUF];
	size_t got = 0;
	for (ssize_t n; got < sizeof(all) && (n = read(r, all + got, sizeof(all) - got)) > 0;)
		got += n;
	close(hold);
	CHECK_EQ("atomic: all data", got, 2 * chunks * PIPE_BUF);
	int whole = 1, na = 0, nb = 0;
	for (size_t i = 0; i + PIPE_BUF <= got; i += PIPE_BUF) {
		for (size_t j = 1; j < PIPE_BUF; j++)
			if (all[i + j] != all[i])
				whole = 0;
		na += all[i] == 'a';
		nb += all[i] == 'b';
	}
	CHECK("atomic: blocks whole", whole);
	CHECK("atomic: both writers", na == chunks && nb == chunks);
	int sa, sb;
	waitpid(a, &sa, 0);
	waitpid(b, &sb, 0);
	CHECK("atomic: writers exit", WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
	CHECK_EQ("atomic: eof", read(r, all, 1), 0);
	close(r);

	CHECK_OK("unlink", unlink(path));
	return check_done();
}
