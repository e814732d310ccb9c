/*
 * fifo_open: the blocking rules of open(2) on a FIFO. A read-only open
 * waits for a writer and a write-only open for a reader (each checked in a
 * forked child that reports when its open returned); an opener of the other
 * side releases a waiting open even if it has already closed again;
 * O_NONBLOCK readers never wait, O_NONBLOCK writers without a reader fail
 * with ENXIO, O_RDWR never waits; a signal interrupts a waiting open (EINTR
 * without SA_RESTART, a restarted open with it).
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[64];
/* rep carries a child's reports to the parent, go the parent's go-ahead to
 * a child. */
static int rep[2], go[2];

static void report(char c)
{
	if (write(rep[1], &c, 1) != 1)
		_exit(100);
}

/* quiet reports whether the child stays silent for a while: a child blocked
 * in open never reports, so a correct kernel always passes; one that lets
 * the open through reports at once and is caught. */
static int quiet(void)
{
	struct pollfd p = {.fd = rep[0], .events = POLLIN};
	return poll(&p, 1, 200) == 0;
}

/* next waits for the child's next report. */
static char next(void)
{
	char c = '?';
	if (read(rep[0], &c, 1) != 1)
		return '!';
	return c;
}

static int reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void on_usr1(int sig)
{
	(void)sig;
	report('h');
}

/* waiter forks a child that reports 's', waits in open(O_RDONLY) with a
 * SIGUSR1 handler (SA_RESTART or not) and reports how the open ended: 'o'
 * opened, 'i' EINTR, 'e' another error; each handler run reports 'h'. */
static pid_t waiter(int restart)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0};
		sigaction(SIGUSR1, &sa, NULL);
		report('s');
		int fd = open(path, O_RDONLY);
		if (fd >= 0)
			report('o');
		else
			report(errno == EINTR ? 'i' : 'e');
		_exit(0);
	}
	return pid;
}

/* interrupt signals a child waiting in open until the open ends (a signal
 * that lands before the child sleeps in open leaves it sleeping, so it
 * tries again); it returns how the open ended. */
static char interrupt(pid_t pid)
{
	char c = next();
	if (c != 's')
		return c;
	for (int i = 0; i < 20; i++) {
		kill(pid, SIGUSR1);
		if ((c = next()) != 'h')
			break;
		if (!quiet()) {
			c = next();
			break;
		}
	}
	if (c == 'h') {
		/* Never interrupted: release it. */
		int w = open(path, O_WRONLY | O_NONBLOCK);
		c = next();
		close(w);
	}
	reap(pid);
	return c;
}

/* restarted signals a child waiting in open with SA_RESTART twice (the
 * second surely while it sleeps), checks that it still waits, then
 * releases it with a writer; it returns how the open ended. */
static char restarted(pid_t pid)
{
	char c = next();
	if (c != 's')
		return c;
	for (int i = 0; i < 2; i++) {
		kill(pid, SIGUSR1);
		if ((c = next()) != 'h')
			goto out;
		if (!quiet()) {
			c = next();
			goto out;
		}
	}
	int w = open(path, O_WRONLY | O_NONBLOCK);
	c = next();
	close(w);
out:
	reap(pid);
	return c;
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/fifo_open.%d", getpid());
	REQUIRE("mkfifo", mkfifo(path, 0600) == 0);
	REQUIRE("report pipes", pipe(rep) == 0 && pipe(go) == 0);

	/* Non-blocking opens. */
	CHECK_ERR("O_WRONLY|O_NONBLOCK without reader", open(path, O_WRONLY | O_NONBLOCK), ENXIO);
	int r = open(path, O_RDONLY | O_NONBLOCK);
	CHECK("O_RDONLY|O_NONBLOCK without writer", r >= 0);
	int w = open(path, O_WRONLY | O_NONBLOCK);
	CHECK("O_WRONLY|O_NONBLOCK with reader", w >= 0);
	close(w);
	close(r);
	int rw = open(path, O_RDWR);
	CHECK("O_RDWR without others", rw >= 0);
	w = open(path, O_WRONLY);
	CHECK("O_WRONLY with an O_RDWR reader", w >= 0);
	close(w);
	r = open(path, O_RDONLY);
	CHECK("O_RDONLY with an O_RDWR writer", r >= 0);
	close(r);
	close(rw);
	rw = open(path, O_RDWR | O_NONBLOCK);
	CHECK("O_RDWR|O_NONBLOCK", rw >= 0);
	close(rw);

	/* A reader waits for a writer. */
	pid_t pid = fork();
	if (pid == 0) {
		report('s');
		int fd = open(path, O_RDONLY);
		report(fd >= 0 ? 'o' : 'e');
		char b[8];
		int n = read(fd, b, sizeof(b));
		report(n == 2 && memcmp(b, "hi", 2) == 0 ? 'd' : 'x');
		_exit(0);
	}
	CHECK_EQ("reader started", next(), 's');
	CHECK("reader waits for a writer", quiet());
	w = open(path, O_WRONLY); /* the waiting reader counts: no wait */
	CHECK("writer opens with a waiting reader", w >= 0);
	CHECK_EQ("reader released by the writer", next(), 'o');
	CHECK_EQ("write", write(w, "hi", 2), 2);
	CHECK_EQ("reader got the data", next(), 'd');
	close(w);
	CHECK_EQ("reader exit", reap(pid), 0);

	/* A writer waits for a reader. */
	pid = fork();
	if (pid == 0) {
		report('s');
		int fd = open(path, O_WRONLY);
		report(fd >= 0 ? 'o' : 'e');
		report(write(fd, "yo", 2) == 2 ? 'd' : 'x');
		_exit(0);
	}
	CHECK_EQ("writer started", next(), 's');
	CHECK("writer waits for a reader", quiet());
	r = open(path, O_RDONLY); /* the waiting writer counts: no wait */
	CHECK("reader opens with a waiting writer", r >= 0);
	CHECK_EQ("writer released by the reader", next(), 'o');
	CHECK_EQ("writer wrote", next(), 'd');
	char buf[8] = {0};
	CHECK_EQ("read", read(r, buf, sizeof(buf)), 2);
	CHECK("data", memcmp(buf, "yo", 2) == 0);
	CHECK_EQ("writer exit", reap(pid), 0);
	CHECK_EQ("eof after writer exit", read(r, buf, sizeof(buf)), 0);
	close(r);

	/* A writer that came and went releases a waiting reader, which then
	 * sees end of file. */
	pid = fork();
	if (pid == 0) {
		report('s');
		int fd = open(path, O_RDONLY);
		report(fd >= 0 ? 'o' : 'e');
		char b[8];
		report(read(fd, b, sizeof(b)) == 0 ? 'z' : 'x');
		_exit(0);
	}
	CHECK_EQ("reader 2 started", next(), 's');
	CHECK("reader 2 waits", quiet());
	w = open(path, O_WRONLY | O_NONBLOCK);
	CHECK("transient writer", w >= 0);
	close(w);
	CHECK_EQ("reader released by a writer that left", next(), 'o');
	CHECK_EQ("reader sees eof", next(), 'z');
	CHECK_EQ("reader 2 exit", reap(pid), 0);

	/* A reader that came and went releases a waiting writer, whose write
	 * then fails with EPIPE. */
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		report('s');
		int fd = open(path, O_WRONLY);
		report(fd >= 0 ? 'o' : 'e');
		char g;
		if (read(go[0], &g, 1) != 1)
			_exit(2);
		report(write(fd, "x", 1) == -1 && errno == EPIPE ? 'p' : 'x');
		_exit(0);
	}
	CHECK_EQ("writer 2 started", next(), 's');
	CHECK("writer 2 waits", quiet());
	r = open(path, O_RDONLY | O_NONBLOCK);
	CHECK("transient reader", r >= 0);
	close(r);
	CHECK_EQ("writer released by a reader that left", next(), 'o');
	CHECK_EQ("go", write(go[1], "g", 1), 1);
	CHECK_EQ("writer gets EPIPE", next(), 'p');
	CHECK_EQ("writer 2 exit", reap(pid), 0);

	/* Signals. */
	CHECK_EQ("open interrupted without SA_RESTART: EINTR", interrupt(waiter(0)), 'i');
	CHECK_EQ("open restarted with SA_RESTART", restarted(waiter(1)), 'o');

	/* Nothing is left open: a non-blocking writer finds no reader. */
	CHECK_ERR("no reader left", open(path, O_WRONLY | O_NONBLOCK), ENXIO);
	CHECK_OK("unlink", unlink(path));
	return check_done();
}
