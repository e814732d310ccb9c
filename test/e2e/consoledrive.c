/* consoledrive plays the client of a container's terminal, as podman's
 * conmon or containerd's shim do, and checks what a person at that
 * terminal would see.
 *
 *   consoledrive socket PATH STEP... -- CMD ARG...
 *     listens on the unix socket PATH, runs CMD (runsc create/run/exec
 *     with --console-socket PATH), receives the master as runc sends it
 *     (one SCM_RIGHTS descriptor, the message "/dev/ptmx") and runs the
 *     steps on it.
 *   consoledrive pty STEP... -- CMD ARG...
 *     runs CMD on a new pty as its controlling terminal and stdio (the
 *     caller's terminal of `runsc run` or `runsc exec --tty`), and runs
 *     the steps on the master.
 *
 * Steps (\r, \n, \\ and octal \NNN such as \003 for ^C are escapes in TEXT):
 *   send:TEXT      write TEXT to the master
 *   expect:TEXT    read until TEXT appears after the last match (10 s)
 *   winsize:R,C    TIOCSWINSZ on the master
 *   shell:CMD      run CMD with /bin/sh (e.g. runsc start), expect status 0
 *   sleep:MS       wait, reading the master
 *   eof            the master reads EIO or end of file (10 s)
 *   exited:N       CMD has exited with status N (20 s), as a client waits
 *                  for `runsc create` before it runs `runsc start`
 *   cooked         the terminal is in canonical mode with echo (the
 *                  caller's terminal was restored)
 * then CMD's exit status is printed ("exit N"). One line per step, "ok
 * STEP" or "FAIL STEP"; the transcript goes to stderr on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int m = -1;
static pid_t child;
static int childst = -1;
static char out[1 << 20];
static size_t outlen, mark;
static int failures, eof;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* pump reads what the master has, waiting up to ms. */
static void pump(int ms)
{
	if (eof)
		return;
	struct pollfd pf = {.fd = m, .events = POLLIN};
	if (poll(&pf, 1, ms) <= 0)
		return;
	ssize_t n = read(m, out + outlen, sizeof(out) - 1 - outlen);
	if (n > 0)
		outlen += n;
	else if (n == 0 || errno == EIO)
		eof = 1;
	out[outlen] = 0;
}

static void step(const char *name, int ok)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", name);
	fflush(stdout);
	if (!ok)
		failures++;
}

static char *unescape(const char *s)
{
	char *r = malloc(strlen(s) + 1), *p = r;
	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			*p++ = *s;
			continue;
		}
		s++;
		if (*s == 'r')
			*p++ = '\r';
		else if (*s == 'n')
			*p++ = '\n';
		else if (*s >= '0' && *s <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7')
			*p++ = (*s - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'), s += 2;
		else
			*p++ = *s;
	}
	*p = 0;
	return r;
}

static void run_step(const char *st)
{
	if (!strncmp(st, "send:", 5)) {
		char *t = unescape(st + 5);
		step(st, write(m, t, strlen(t)) == (ssize_t)strlen(t));
		free(t);
	} else if (!strncmp(st, "expect:", 7)) {
		char *t = unescape(st + 7);
		double end = now() + 10;
		char *p;
		while (!(p = strstr(out + mark, t)) && !eof && now() < end)
			pump(100);
		if (p)
			mark = p - out + strlen(t);
		step(st, p != NULL);
		free(t);
	} else if (!strncmp(st, "winsize:", 8)) {
		struct winsize ws = {0};
		ws.ws_row = atoi(st + 8);
		ws.ws_col = atoi(strchr(st, ',') ? strchr(st, ',') + 1 : "0");
		step(st, ioctl(m, TIOCSWINSZ, &ws) == 0);
	} else if (!strncmp(st, "shell:", 6)) {
		int s = system(st + 6);
		step(st, s == 0);
	} else if (!strncmp(st, "sleep:", 6)) {
		double end = now() + atoi(st + 6) / 1000.0;
		while (now() < end)
			pump(20);
		step(st, 1);
	} else if (!strncmp(st, "exited:", 7)) {
		double end = now() + 20;
		int ws = 0;
		pid_t w;
		while ((w = waitpid(child, &ws, WNOHANG)) == 0 && now() < end)
			pump(50);
		if (w == child)
			childst = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		step(st, childst == atoi(st + 7));
	} else if (!strcmp(st, "cooked")) {
		struct termios t;
		step(st, tcgetattr(m, &t) == 0 && (t.c_lflag & (ICANON | ECHO)) == (ICANON | ECHO));
	} else if (!strcmp(st, "eof")) {
		double end = now() + 10;
		while (!eof && now() < end)
			pump(100);
		step(st, eof);
	} else {
		step(st, 0);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: consoledrive socket PATH|pty STEP... -- CMD...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int sockmode = !strcmp(argv[1], "socket");
	int first = sockmode ? 3 : 2, cmd = first;
	while (cmd < argc && strcmp(argv[cmd], "--"))
		cmd++;
	if (cmd + 1 >= argc) {
		fprintf(stderr, "consoledrive: no command\n");
		return 2;
	}
	int ls = -1;
	char name[128] = "";
	if (sockmode) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[2]);
		unlink(argv[2]);
		ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) || listen(ls, 1)) {
			perror("consoledrive: console socket");
			return 2;
		}
	} else {
		m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name))) {
			perror("consoledrive: opening a pty");
			return 2;
		}
		struct winsize ws = {.ws_row = 24, .ws_col = 80};
		ioctl(m, TIOCSWINSZ, &ws);
	}
	child = fork();
	if (child == 0) {
		if (!sockmode) {
			setsid();
			int s = open(name, O_RDWR);
			if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
				_exit(126);
			dup2(s, 0);
			dup2(s, 1);
			dup2(s, 2);
			if (s > 2)
				close(s);
		}
		execvp(argv[cmd + 1], argv + cmd + 1);
		_exit(127);
	}
	if (sockmode) {
		struct pollfd pf = {.fd = ls, .events = POLLIN};
		int c = -1;
		if (poll(&pf, 1, 20000) > 0)
			c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		char buf[4096] = "";
		char cbuf[CMSG_SPACE(sizeof(int) * 4)];
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		ssize_t n = c >= 0 ? recvmsg(c, &mh, MSG_CMSG_CLOEXEC) : -1;
		int nfds = 0;
		for (struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; h; h = CMSG_NXTHDR(&mh, h)) {
			if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
				nfds += (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				memcpy(&m, CMSG_DATA(h), sizeof(int));
			}
		}
		if (n >= 0)
			buf[n] = 0;
		step("received one descriptor", nfds == 1);
		step("message is /dev/ptmx", n > 0 && !strcmp(buf, "/dev/ptmx"));
		struct termios t;
		step("descriptor is a terminal", m >= 0 && tcgetattr(m, &t) == 0);
		if (c >= 0)
			close(c);
		close(ls);
		unlink(argv[2]);
		if (m < 0 || nfds != 1) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			return 1;
		}
	}
	for (int i = first; i < cmd; i++)
		run_step(argv[i]);
	if (childst < 0) {
		int st = 0;
		double end = now() + 20;
		pid_t w;
		while ((w = waitpid(child, &st, WNOHANG)) == 0 && now() < end)
			pump(50);
		if (w == 0) {
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
			step("command exits", 0);
		}
		childst = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	printf("exit %d\n", childst);
	if (failures) {
		fprintf(stderr, "consoledrive: transcript:\n");
		for (size_t i = 0; i < outlen; i++) {
			unsigned char ch = out[i];
			if (ch == '\n' || (ch >= 0x20 && ch < 0x7f))
				fputc(ch, stderr);
			else
				fprintf(stderr, "\\x%02x", ch);
		}
		fputc('\n', stderr);
	}
	return failures ? 1 : 0;
}
