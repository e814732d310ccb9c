/* pty_basic: pseudo-terminals without job control. Allocation through
 * /dev/ptmx (TIOCGPTN, the TIOCSPTLCK lock, TIOCGPTPEER, the replica node's
 * owner and mode, its removal with the master), the line discipline in
 * canonical mode (ICRNL, ONLCR, echo, ECHOCTL, ECHONL, VERASE, VKILL,
 * VWERASE, VEOF, VLNEXT, partial reads of a line) and in raw mode (VMIN and
 * VTIME, INLCR, IGNCR, ISTRIP, no output processing), window sizes,
 * FIONREAD, TCFLSH, poll, and the job-control requests' errors on a
 * terminal that is nobody's controlling terminal. */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include "pty.h"

static void set_lflag(int fd, tcflag_t on, tcflag_t off)
{
	struct termios t;
	tcgetattr(fd, &t);
	t.c_lflag = (t.c_lflag | on) & ~off;
	tcsetattr(fd, TCSANOW, &t);
}

static void allocation(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	REQUIRE("posix_openpt", m >= 0);
	CHECK("master isatty", isatty(m));
	int n = -1;
	CHECK_OK("TIOCGPTN", ioctl(m, TIOCGPTN, &n));
	char want[64], name[64];
	snprintf(want, sizeof(want), "/dev/pts/%d", n);
	CHECK_EQ("ptsname_r", ptsname_r(m, name, sizeof(name)), 0);
	CHECK("ptsname is /dev/pts/N", strcmp(name, want) == 0);

	int lock = -1;
	CHECK_OK("TIOCGPTLCK", ioctl(m, TIOCGPTLCK, &lock));
	CHECK_EQ("new pty is locked", lock, 1);
	CHECK_ERR("open locked replica", open(name, O_RDWR | O_NOCTTY), EIO);
	CHECK_ERR("TIOCGPTPEER locked", ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY), EIO);
	CHECK_OK("grantpt", grantpt(m));
	CHECK_OK("unlockpt", unlockpt(m));
	CHECK_OK("TIOCGPTLCK", ioctl(m, TIOCGPTLCK, &lock));
	CHECK_EQ("unlocked", lock, 0);

	struct stat st;
	CHECK_OK("stat replica", stat(name, &st));
	CHECK("replica is a char device", S_ISCHR(st.st_mode));
	/* 0620 or 0600 (the host's devpts mode= option). */
	CHECK("replica mode rw for the owner only", (st.st_mode & 07777 & ~020) == 0600);
	CHECK_EQ("replica owner", st.st_uid, getuid());
	CHECK_EQ("replica major", major(st.st_rdev), 136 + n / 256);
	CHECK_EQ("replica minor", minor(st.st_rdev), n % 256);
	CHECK_OK("stat /dev/pts/ptmx", stat("/dev/pts/ptmx", &st));
	CHECK_EQ("ptmx rdev", st.st_rdev, makedev(5, 2));
	CHECK_OK("fstat master", fstat(m, &st));
	CHECK_EQ("master rdev", st.st_rdev, makedev(5, 2));

	int s = open(name, O_RDWR | O_NOCTTY);
	CHECK("open replica", s >= 0);
	CHECK("replica isatty", isatty(s));
	CHECK_ERR("replica TIOCGPTN", ioctl(s, TIOCGPTN, &n), ENOTTY);
	CHECK_ERR("lseek replica", lseek(s, 0, SEEK_SET), ESPIPE);
	int p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	CHECK("TIOCGPTPEER", p >= 0);
	CHECK("peer isatty", isatty(p));
	put(p, "peer\n");
	expect("peer writes reach the master", m, "peer\r\n");

	/* A second pty gets another index. */
	int m2 = posix_openpt(O_RDWR | O_NOCTTY);
	int n2 = -1;
	ioctl(m2, TIOCGPTN, &n2);
	CHECK("second pty has another index", m2 >= 0 && n2 != n);
	close(m2);

	/* The node goes with the master; open replicas stay usable for
	 * close. */
	close(m);
	CHECK_ERR("replica gone with the master", stat(name, &st), ENOENT);
	close(s);
	close(p);
}

static void canonical(int m, int s)
{
	struct termios t;
	CHECK_OK("tcgetattr", tcgetattr(s, &t));
	printf("default iflag %#o oflag %#o cflag %#o lflag %#o\n", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
	printf("default cc intr %d quit %d erase %d kill %d eof %d min %d time %d susp %d werase %d lnext %d\n",
	       t.c_cc[VINTR], t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF], t.c_cc[VMIN],
	       t.c_cc[VTIME], t.c_cc[VSUSP], t.c_cc[VWERASE], t.c_cc[VLNEXT]);
	CHECK_OK("master tcgetattr is the replica's", tcgetattr(m, &t));
	CHECK("same lflag", t.c_lflag & ICANON);

	put(m, "hello\n");
	expect("replica reads a line", s, "hello\n");
	expect("echo with ONLCR", m, "hello\r\n");

	put(s, "a\nb\n");
	expect("ONLCR on output", m, "a\r\nb\r\n");

	put(m, "x\r");
	expect("ICRNL", s, "x\n");
	expect("echo of CR", m, "x\r\n");

	put(m, "abc\177d\n");
	expect("VERASE", s, "abd\n");
	expect("VERASE echo (ECHOE)", m, "abc\b \bd\r\n");

	put(m, "xyz\025ok\n");
	expect("VKILL", s, "ok\n");
	expect("VKILL echo (ECHOKE)", m, "xyz\b \b\b \b\b \bok\r\n");

	put(m, "one two\027three\n");
	expect("VWERASE", s, "one three\n");
	expect("VWERASE echo", m, "one two\b \b\b \b\b \bthree\r\n");

	put(m, "\001\n");
	expect("control char", s, "\001\n");
	expect("ECHOCTL", m, "^A\r\n");

	put(m, "\026\177\n");
	expect("VLNEXT", s, "\177\n");
	expect("VLNEXT echo", m, "^\b^?\r\n");

	put(m, "ab\004");
	char buf[64];
	struct pollfd pf = {.fd = s, .events = POLLIN};
	poll(&pf, 1, 2000);
	CHECK_EQ("VEOF ends a line", read(s, buf, sizeof(buf)), 2);
	put(m, "\004");
	poll(&pf, 1, 2000);
	CHECK_EQ("VEOF on an empty line reads 0", read(s, buf, sizeof(buf)), 0);
	expect("VEOF is not echoed", m, "ab");

	put(m, "longline\n");
	poll(&pf, 1, 2000);
	CHECK_EQ("short read of a line", read(s, buf, 4), 4);
	CHECK("gets its start", memcmp(buf, "long", 4) == 0);
	CHECK_EQ("next read", read(s, buf, sizeof(buf)), 5);
	CHECK("gets the rest", memcmp(buf, "line\n", 5) == 0);
	expect("echo", m, "longline\r\n");

	put(m, "l1\nl2\n");
	expect("two lines", s, "l1\n");
	poll(&pf, 1, 2000);
	CHECK_EQ("one line per read", read(s, buf, sizeof(buf)), 3);
	expect("echo", m, "l1\r\nl2\r\n");

	/* A line without its end is not readable. */
	put(m, "part");
	expect("partial echo", m, "part");
	CHECK_EQ("poll: no line yet", poll(&pf, 1, 100), 0);
	int inq = -1;
	CHECK_OK("FIONREAD", ioctl(s, FIONREAD, &inq));
	CHECK_EQ("partial line not counted", inq, 0);
	put(m, "\n");
	CHECK_EQ("poll: line", poll(&pf, 1, 2000), 1);
	CHECK_OK("FIONREAD", ioctl(s, FIONREAD, &inq));
	CHECK_EQ("FIONREAD counts the line", inq, 5);
	expect("read", s, "part\n");
	expect("echo", m, "\r\n");

	set_lflag(s, 0, ECHO);
	put(m, "secret\n");
	expect("echo off: line read", s, "secret\n");
	quiet("echo off: nothing echoed", m);
	set_lflag(s, ECHONL, 0);
	put(m, "pw\n");
	expect("ECHONL line", s, "pw\n");
	expect("ECHONL echoes only the newline", m, "\r\n");
	set_lflag(s, ECHO, ECHONL);

	/* TCFLSH discards unread input. */
	put(m, "junk\n");
	expect("echo", m, "junk\r\n");
	poll(&pf, 1, 2000);
	CHECK_OK("tcflush", tcflush(s, TCIFLUSH));
	CHECK_OK("FIONREAD", ioctl(s, FIONREAD, &inq));
	CHECK_EQ("flushed", inq, 0);
	CHECK_ERR("tcflush bad queue", tcflush(s, 7), EINVAL);
}

static void raw(int m, int s)
{
	struct termios t, saved;
	tcgetattr(s, &saved);
	t = saved;
	cfmakeraw(&t);
	CHECK_OK("cfmakeraw", tcsetattr(s, TCSANOW, &t));
	char buf[64];

	put(m, "a\rb\n");
	expect("raw: no ICRNL, no line", s, "a\rb\n");
	quiet("raw: no echo", m);
	put(s, "x\ny");
	expect("raw: no ONLCR", m, "x\ny");

	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &t);
	CHECK_EQ("VMIN 0 VTIME 0: empty read", read(s, buf, sizeof(buf)), 0);
	t.c_cc[VTIME] = 1;
	tcsetattr(s, TCSANOW, &t);
	CHECK_EQ("VMIN 0 VTIME 1: times out", read(s, buf, sizeof(buf)), 0);
	put(m, "q");
	CHECK_EQ("VMIN 0 VTIME 1: data", read(s, buf, sizeof(buf)), 1);

	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &t);
	put(m, "abcd");
	int n = read(s, buf, sizeof(buf));
	CHECK("VMIN 3: at least 3", n >= 3);
	if (n == 3)
		read(s, buf, 1);
	struct pollfd pf = {.fd = s, .events = POLLIN};
	put(m, "ab");
	usleep(100000);
	CHECK_EQ("VMIN 3: poll wants 3 bytes", poll(&pf, 1, 0), 0);
	put(m, "c");
	CHECK_EQ("VMIN 3: poll with 3", poll(&pf, 1, 2000), 1);
	CHECK_EQ("VMIN 3: read 3", read(s, buf, sizeof(buf)), 3);

	t.c_cc[VMIN] = 1;
	t.c_iflag |= INLCR | ISTRIP;
	tcsetattr(s, TCSANOW, &t);
	put(m, "\n\301");
	expect("INLCR and ISTRIP", s, "\rA");
	t.c_iflag = IGNCR;
	tcsetattr(s, TCSANOW, &t);
	put(m, "1\r2");
	expect("IGNCR", s, "12");

	/* Leaving raw mode for canonical makes pending input one line. */
	put(m, "pend");
	usleep(100000);
	tcsetattr(s, TCSANOW, &saved);
	expect("pending raw input is a line", s, "pend");

	/* TCSETSF flushes input. */
	put(m, "gone\n");
	expect("echo", m, "gone\r\n");
	usleep(100000);
	tcsetattr(s, TCSAFLUSH, &saved);
	int inq = -1;
	ioctl(s, FIONREAD, &inq);
	CHECK_EQ("TCSAFLUSH flushed", inq, 0);
}

static void winsize_and_errors(int m, int s)
{
	struct winsize ws;
	CHECK_OK("TIOCGWINSZ", ioctl(s, TIOCGWINSZ, &ws));
	CHECK("initial size 0x0", ws.ws_row == 0 && ws.ws_col == 0);
	struct winsize set = {.ws_row = 24, .ws_col = 80, .ws_xpixel = 1, .ws_ypixel = 2};
	CHECK_OK("TIOCSWINSZ on the master", ioctl(m, TIOCSWINSZ, &set));
	CHECK_OK("TIOCGWINSZ on the replica", ioctl(s, TIOCGWINSZ, &ws));
	CHECK("size set", ws.ws_row == 24 && ws.ws_col == 80 && ws.ws_xpixel == 1 && ws.ws_ypixel == 2);
	CHECK_ERR("TIOCGWINSZ bad pointer", ioctl(s, TIOCGWINSZ, (void *)8), EFAULT);

	/* Not our controlling terminal. */
	pid_t pg;
	CHECK_ERR("TIOCGPGRP", ioctl(s, TIOCGPGRP, &pg), ENOTTY);
	CHECK_ERR("TIOCGSID", ioctl(s, TIOCGSID, &pg), ENOTTY);
	pg = getpgrp();
	CHECK_ERR("TIOCSPGRP", ioctl(s, TIOCSPGRP, &pg), ENOTTY);
	CHECK_ERR("TIOCNOTTY", ioctl(s, TIOCNOTTY), ENOTTY);
	CHECK_ERR("TIOCNOTTY on the master", ioctl(m, TIOCNOTTY), ENOTTY);
	CHECK_ERR("unknown ioctl", ioctl(s, 0x54ff, 0), ENOTTY);
	int d = -1;
	CHECK_OK("TIOCGETD", ioctl(s, TIOCGETD, &d));
	CHECK_EQ("N_TTY", d, 0);
	CHECK_OK("TIOCOUTQ", ioctl(s, TIOCOUTQ, &d));
	CHECK_EQ("nothing queued", d, 0);
	CHECK_OK("tcdrain", tcdrain(s));

	/* TIOCEXCL: further opens of the replica fail (without
	 * CAP_SYS_ADMIN; the test drops nothing, so only check the flag). */
	CHECK_OK("TIOCEXCL", ioctl(s, TIOCEXCL));
	CHECK_OK("TIOCGEXCL", ioctl(s, TIOCGEXCL, &d));
	CHECK_EQ("exclusive", d, 1);
	CHECK_OK("TIOCNXCL", ioctl(s, TIOCNXCL));
	CHECK_OK("TIOCGEXCL", ioctl(s, TIOCGEXCL, &d));
	CHECK_EQ("not exclusive", d, 0);

	/* poll: the master can write; the replica has nothing to read. */
	struct pollfd p[2] = {{.fd = m, .events = POLLIN | POLLOUT}, {.fd = s, .events = POLLIN | POLLOUT}};
	CHECK_EQ("poll", poll(p, 2, 0), 2);
	CHECK_EQ("master writable", p[0].revents, POLLOUT);
	CHECK_EQ("replica writable", p[1].revents, POLLOUT);

	/* O_NONBLOCK reads. */
	fcntl(s, F_SETFL, O_NONBLOCK);
	char c;
	CHECK_ERR("nonblocking replica read", read(s, &c, 1), EAGAIN);
	fcntl(s, F_SETFL, 0);
	fcntl(m, F_SETFL, O_NONBLOCK);
	CHECK_ERR("nonblocking master read", read(m, &c, 1), EAGAIN);
	fcntl(m, F_SETFL, 0);
}

int main(void)
{
	allocation();

	char name[64];
	int m = open_pty(name, sizeof(name));
	REQUIRE("open pty", m >= 0);
	int s = open(name, O_RDWR | O_NOCTTY);
	REQUIRE("open replica", s >= 0);
	canonical(m, s);
	raw(m, s);
	winsize_and_errors(m, s);

	/* Closing the replica: the master reads EIO and polls POLLHUP. */
	close(s);
	char c;
	CHECK_ERR("master read after replica close", read(m, &c, 1), EIO);
	struct pollfd p = {.fd = m, .events = POLLIN};
	poll(&p, 1, 0);
	CHECK("master POLLHUP", p.revents & POLLHUP);
	close(m);
	return check_done();
}
