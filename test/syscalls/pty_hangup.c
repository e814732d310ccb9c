/* pty_hangup: closing the master hangs the replica up. The session whose
 * controlling terminal it was loses it and its leader gets SIGHUP (a
 * handler runs; the default action kills); the replica's open files read
 * end of file, fail writes and ioctls with EIO, and poll as hung up; its
 * node is gone. Runs in children (the sandbox runs the test as pid 1). */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pty.h"

static volatile sig_atomic_t got_hup;
static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

int main(void)
{
	char name[64];
	int m = open_pty(name, sizeof(name));
	REQUIRE("open pty", m >= 0);
	int rdy[2];
	pipe(rdy);

	/* A leader with a SIGHUP handler. */
	pid_t c = fork();
	if (c == 0) {
		close(m);
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGHUP);
		sigprocmask(SIG_BLOCK, &block, &old);
		struct sigaction sa = {0};
		sa.sa_handler = on_hup;
		sigaction(SIGHUP, &sa, NULL);
		setsid();
		int s = open(name, O_RDWR);
		CHECK_EQ("controlling terminal", tcgetpgrp(s), getpid());
		write(rdy[1], "r", 1);
		while (!got_hup)
			sigsuspend(&old);
		check_ok("SIGHUP handled");
		char b[8];
		CHECK_EQ("read after hangup: end of file", read(s, b, sizeof(b)), 0);
		CHECK_ERR("write after hangup", write(s, "x", 1), EIO);
		struct termios t;
		CHECK_ERR("ioctl after hangup", tcgetattr(s, &t), EIO);
		pid_t pg = getpid();
		CHECK_ERR("TIOCSPGRP after hangup", ioctl(s, TIOCSPGRP, &pg), ENOTTY);
		struct pollfd p = {.fd = s, .events = POLLIN | POLLOUT};
		CHECK_EQ("poll after hangup", poll(&p, 1, 0), 1);
		CHECK_EQ("revents", p.revents, POLLIN | POLLOUT | POLLERR | POLLHUP);
		CHECK_ERR("/dev/tty after hangup", open("/dev/tty", O_RDWR), ENXIO);
		struct stat st;
		CHECK_ERR("node gone", stat(name, &st), ENOENT);
		CHECK_ERR("reopen", open(name, O_RDWR), ENOENT);
		_exit(check_failures ? 1 : 0);
	}
	char b;
	read(rdy[0], &b, 1);
	close(m);
	int st = 0;
	waitpid(c, &st, 0);
	CHECK("leader with a handler", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* A leader with SIGHUP's default action dies of it. */
	m = open_pty(name, sizeof(name));
	REQUIRE("open pty", m >= 0);
	c = fork();
	if (c == 0) {
		/* The default action, whatever the runner left (nohup(1)
		 * starts it with SIGHUP ignored, which exec keeps). */
		signal(SIGHUP, SIG_DFL);
		close(m);
		setsid();
		int s = open(name, O_RDWR);
		(void)s;
		write(rdy[1], "r", 1);
		for (;;)
			pause();
	}
	read(rdy[0], &b, 1);
	/* A replica file of a process outside that session reads end of
	 * file after the hangup too. */
	int s2 = open(name, O_RDWR | O_NOCTTY);
	close(m);
	waitpid(c, &st, 0);
	CHECK("leader killed by SIGHUP", WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP);
	int r = read(s2, &b, 1);
	CHECK("other reader: end of file", r == 0);
	close(s2);
	return check_done();
}
