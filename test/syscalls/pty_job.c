/* pty_job: job control on a pseudo-terminal. A session leader acquires the
 * replica as its controlling terminal (TIOCSCTTY, or open without
 * O_NOCTTY), /dev/tty opens it, ^C from the master kills the foreground
 * group (default action) or runs its handler, ^Z and a resize signal it
 * too; TIOCSCTTY and TIOCSPGRP refuse what Linux refuses; TIOCNOTTY gives
 * the terminal up; a background group reading gets SIGTTIN (handler, or
 * EIO when ignored or blocked; pty_stop has the default stop), writing with TOSTOP gets SIGTTOU.
 *
 * All of it runs in children: the sandbox runs the test as pid 1. Each
 * child prints its checks before telling the parent to go on, so the output
 * order is fixed. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "pty.h"

static char name[64];
static int m;

static void wait_byte(int fd, char want)
{
	char c = 0;
	if (read(fd, &c, 1) != 1 || c != want)
		check_fail("sync", "got '%c', want '%c'", c, want);
}

static void check_exit(const char *what, pid_t pid)
{
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(what, WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* acquire: the controlling terminal, ^C's default action, /dev/tty. */
static void acquire(void)
{
	int rdy[2];
	pipe(rdy);
	pid_t c = fork();
	if (c == 0) {
		CHECK_EQ("setsid", setsid(), getpid());
		CHECK_ERR("/dev/tty without a terminal", open("/dev/tty", O_RDWR), ENXIO);
		int s = open(name, O_RDWR | O_NOCTTY);
		CHECK("open replica O_NOCTTY", s >= 0);
		pid_t pg;
		CHECK_ERR("not yet controlling: TIOCGPGRP", ioctl(s, TIOCGPGRP, &pg), ENOTTY);
		CHECK_OK("TIOCSCTTY", ioctl(s, TIOCSCTTY, 0));
		CHECK_EQ("foreground group is ours", tcgetpgrp(s), getpid());
		pid_t sid = 0;
		CHECK_OK("TIOCGSID", ioctl(s, TIOCGSID, &sid));
		CHECK_EQ("session", sid, getpid());
		CHECK_OK("TIOCGPGRP through the master", ioctl(m, TIOCGPGRP, &pg));
		CHECK_EQ("same group", pg, getpid());
		CHECK_OK("TIOCSCTTY again", ioctl(s, TIOCSCTTY, 0));
		int t = open("/dev/tty", O_RDWR);
		CHECK("open /dev/tty", t >= 0);
		CHECK("/dev/tty isatty", isatty(t));
		put(t, "via tty\n");
		write(rdy[1], "r", 1);
		for (;;)
			pause();
	}
	wait_byte(rdy[0], 'r');
	expect("/dev/tty writes reach the master", m, "via tty\r\n");
	put(m, "\003");
	int st = 0;
	CHECK_EQ("waitpid", waitpid(c, &st, 0), c);
	CHECK("^C killed the foreground group", WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
	expect("^C echoed", m, "^C");
	close(rdy[0]);
	close(rdy[1]);
}

/* rules: implicit acquisition, TIOCSCTTY's EPERMs, TIOCNOTTY. */
static void rules(void)
{
	pid_t c = fork();
	if (c == 0) {
		setsid();
		int s = open(name, O_RDWR);
		CHECK("open without O_NOCTTY", s >= 0);
		CHECK_EQ("acquired on open", tcgetpgrp(s), getpid());
		pid_t g = fork();
		if (g == 0) {
			CHECK_ERR("TIOCSCTTY by a non-leader", ioctl(s, TIOCSCTTY, 0), EPERM);
			setsid();
			CHECK_ERR("TIOCSCTTY of another session's terminal", ioctl(s, TIOCSCTTY, 0), EPERM);
			CHECK_ERR("/dev/tty after setsid", open("/dev/tty", O_RDWR), ENXIO);
			_exit(check_failures ? 1 : 0);
		}
		check_exit("grandchild", g);
		int s2 = open(name, O_RDWR | O_NOCTTY);
		char other[64];
		int m2 = open_pty(other, sizeof(other));
		int o = open(other, O_RDWR | O_NOCTTY);
		CHECK_ERR("TIOCSCTTY with a terminal already", ioctl(o, TIOCSCTTY, 0), EPERM);
		close(o);
		close(m2);
		close(s2);
		signal(SIGHUP, SIG_IGN);
		CHECK_OK("TIOCNOTTY", ioctl(s, TIOCNOTTY));
		CHECK_ERR("no terminal after TIOCNOTTY", tcgetpgrp(s), ENOTTY);
		CHECK_ERR("/dev/tty after TIOCNOTTY", open("/dev/tty", O_RDWR), ENXIO);
		CHECK_OK("TIOCSCTTY again", ioctl(s, TIOCSCTTY, 0));
		_exit(check_failures ? 1 : 0);
	}
	check_exit("rules child", c);
}

static volatile sig_atomic_t got_ttin, got_ttou, got_int, got_winch, got_tstp;
static void on_sig(int sig)
{
	switch (sig) {
	case SIGTTIN:
		got_ttin++;
		break;
	case SIGTTOU:
		got_ttou++;
		break;
	case SIGINT:
		got_int++;
		break;
	case SIGWINCH:
		got_winch++;
		break;
	case SIGTSTP:
		got_tstp++;
		break;
	}
}

static void handle(int sig, void (*h)(int))
{
	struct sigaction sa = {0};
	sa.sa_handler = h;
	sigaction(sig, &sa, NULL);
}

/* background: SIGTTIN and SIGTTOU for a background process group. */
static void background(void)
{
	pid_t c = fork();
	if (c == 0) {
		setsid();
		int s = open(name, O_RDWR);
		pid_t leader = getpid();
		pid_t g = fork();
		if (g == 0) {
			CHECK_OK("setpgid", setpgid(0, 0));
			CHECK_EQ("the foreground is the leader's", tcgetpgrp(s), leader);
			char buf[8];
			handle(SIGTTIN, SIG_IGN);
			CHECK_ERR("background read, SIGTTIN ignored", read(s, buf, 1), EIO);
			handle(SIGTTIN, SIG_DFL);
			sigset_t set, old;
			sigemptyset(&set);
			sigaddset(&set, SIGTTIN);
			sigprocmask(SIG_BLOCK, &set, &old);
			CHECK_ERR("background read, SIGTTIN blocked", read(s, buf, 1), EIO);
			sigprocmask(SIG_SETMASK, &old, NULL);
			handle(SIGTTIN, on_sig);
			CHECK_ERR("background read, SIGTTIN caught", read(s, buf, 1), EINTR);
			CHECK_EQ("SIGTTIN handled", got_ttin, 1);
			CHECK_EQ("background write without TOSTOP", write(s, "bg\n", 3), 3);

			pid_t pg = 0x3ffffe;
			handle(SIGTTOU, SIG_IGN);
			CHECK_ERR("TIOCSPGRP no such group", ioctl(s, TIOCSPGRP, &pg), ESRCH);
			pg = -1;
			CHECK_ERR("TIOCSPGRP negative", ioctl(s, TIOCSPGRP, &pg), EINVAL);
			pg = getpgid(getppid());
			struct termios t;
			tcgetattr(s, &t);
			t.c_lflag |= TOSTOP;
			CHECK_OK("tcsetattr from the background, SIGTTOU ignored", tcsetattr(s, TCSANOW, &t));
			CHECK_EQ("TOSTOP write, SIGTTOU ignored", write(s, "ig\n", 3), 3);
			handle(SIGTTOU, on_sig);
			CHECK_ERR("TOSTOP write, SIGTTOU caught", write(s, "no\n", 3), EINTR);
			CHECK_EQ("SIGTTOU handled", got_ttou, 1);
			CHECK_ERR("tcsetpgrp from the background, SIGTTOU caught", tcsetpgrp(s, getpgrp()), EINTR);
			CHECK_EQ("SIGTTOU handled again", got_ttou, 2);
			handle(SIGTTOU, SIG_IGN);
			CHECK_OK("tcsetpgrp, SIGTTOU ignored", tcsetpgrp(s, getpgrp()));
			CHECK_EQ("we are the foreground", tcgetpgrp(s), getpgrp());
			t.c_lflag &= ~TOSTOP;
			tcsetattr(s, TCSANOW, &t);
			CHECK_OK("give the foreground back", tcsetpgrp(s, leader));
			_exit(check_failures ? 1 : 0);
		}
		check_exit("background child", g);
		pid_t pg = getppid() == 1 ? 1 : getpgid(getppid());
		CHECK_ERR("TIOCSPGRP of another session's group", ioctl(s, TIOCSPGRP, &pg), EPERM);

		_exit(check_failures ? 1 : 0);
	}
	check_exit("session child", c);
	expect("background output", m, "bg\r\nig\r\n");
}

/* handlers: ^C, ^Z and a resize run the foreground group's handlers. */
static void handlers(void)
{
	int rdy[2];
	pipe(rdy);
	pid_t c = fork();
	if (c == 0) {
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGWINCH);
		sigaddset(&block, SIGTSTP);
		sigprocmask(SIG_BLOCK, &block, &old);
		handle(SIGINT, on_sig);
		handle(SIGWINCH, on_sig);
		handle(SIGTSTP, on_sig);
		setsid();
		int s = open(name, O_RDWR);
		write(rdy[1], "r", 1);
		while (!got_winch)
			sigsuspend(&old);
		write(rdy[1], "w", 1);
		while (!got_int)
			sigsuspend(&old);
		write(rdy[1], "i", 1);
		while (!got_tstp)
			sigsuspend(&old);
		write(rdy[1], "z", 1);
		close(s);
		_exit(0);
	}
	wait_byte(rdy[0], 'r');
	struct winsize ws = {.ws_row = 50, .ws_col = 132};
	CHECK_OK("TIOCSWINSZ", ioctl(m, TIOCSWINSZ, &ws));
	wait_byte(rdy[0], 'w');
	check_ok("SIGWINCH handled");
	put(m, "\003");
	wait_byte(rdy[0], 'i');
	check_ok("^C handled");
	/* Read each echo before the next signal character: n_tty flushes
	 * the output not yet read by the master on INTR/QUIT/SUSP (no
	 * NOFLSH), so an unread "^C" is dropped by the ^Z, natively too. */
	expect("^C echo", m, "^C");
	put(m, "\032");
	wait_byte(rdy[0], 'z');
	check_ok("^Z handled");
	check_exit("handler child", c);
	expect("^Z echo", m, "^Z");
}

int main(void)
{
	m = open_pty(name, sizeof(name));
	REQUIRE("open pty", m >= 0);
	acquire();
	rules();
	background();
	handlers();
	return check_done();
}
