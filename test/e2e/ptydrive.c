/* ptydrive drives an interactive busybox shell through a pseudo-terminal,
 * as a person at a terminal would: it starts `/bin/busybox sh -i` on the
 * replica as a session leader with the replica as its controlling
 * terminal, waits for the prompt, types `echo hello` and checks the echo
 * and the output, runs `sleep 10` and interrupts it with ^C (the prompt
 * must come back within 5 seconds), then types `exit 0`.
 *
 * It prints one deterministic line per step ("ok ..." or "FAIL ...") and
 * exits 0 when every step held; on failure the terminal transcript goes to
 * stderr. smoke.sh runs it natively and in the sandbox (where the pty is
 * the sentry's devpts). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PROMPT "ptyd> "

static int m;
static char out[65536];
static size_t outlen;
static int failures;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* wait_for reads the terminal until the output from offset from on
 * contains want, for up to secs seconds; it returns the offset just past
 * want, or -1. */
static long wait_for(size_t from, const char *want, double secs)
{
	double end = now() + secs;
	for (;;) {
		out[outlen] = 0;
		char *p = strstr(out + from, want);
		if (p)
			return p - out + strlen(want);
		double left = end - now();
		if (left <= 0)
			return -1;
		struct pollfd pf = {.fd = m, .events = POLLIN};
		if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		ssize_t n = read(m, out + outlen, sizeof(out) - 1 - outlen);
		if (n <= 0)
			return -1;
		outlen += n;
	}
}

static void step(const char *name, int ok)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s\n", name);
		failures++;
	}
	fflush(stdout);
}

static void type(const char *s)
{
	if (write(m, s, strlen(s)) != (ssize_t)strlen(s))
		step("write to the master", 0);
}

int main(void)
{
	m = posix_openpt(O_RDWR | O_NOCTTY);
	char name[64];
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name))) {
		perror("ptydrive: opening a pty");
		return 2;
	}
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	ioctl(m, TIOCSWINSZ, &ws);

	pid_t sh = fork();
	if (sh == 0) {
		setsid();
		int s = open(name, O_RDWR);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
			_exit(126);
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		if (s > 2)
			close(s);
		close(m);
		char *envp[] = {"PS1=" PROMPT, "PATH=/usr/bin:/bin", "HOME=/", "TERM=dumb", "ENV=/dev/null", NULL};
		execle("/bin/busybox", "busybox", "sh", "-i", (char *)NULL, envp);
		_exit(127);
	}

	long at = wait_for(0, PROMPT, 10);
	step("prompt", at >= 0);
	if (at >= 0) {
		type("echo hello\r");
		long e = wait_for(at, "echo hello", 5);
		step("typed command echoed", e >= 0);
		long h = e >= 0 ? wait_for(e, "hello\r\n", 5) : -1;
		step("command output", h >= 0);
		at = h >= 0 ? wait_for(h, PROMPT, 5) : -1;
		step("prompt again", at >= 0);
	}
	if (at >= 0) {
		type("sleep 10\r");
		long e = wait_for(at, "sleep 10", 5);
		/* Let the shell start the job before interrupting it. */
		if (e >= 0)
			e = wait_for(e, "\n", 5);
		usleep(500000);
		double t0 = now();
		type("\003");
		at = e >= 0 ? wait_for(e, PROMPT, 8) : -1;
		step("^C interrupts sleep and the prompt returns", at >= 0 && now() - t0 < 5);
	}
	if (at >= 0)
		type("exit 0\r");
	else
		kill(sh, SIGKILL);
	int st = 0;
	double t0 = now();
	pid_t w;
	while ((w = waitpid(sh, &st, WNOHANG)) == 0 && now() - t0 < 5) {
		struct pollfd pf = {.fd = m, .events = POLLIN};
		if (poll(&pf, 1, 50) > 0 && outlen < sizeof(out) - 1) {
			ssize_t n = read(m, out + outlen, sizeof(out) - 1 - outlen);
			if (n > 0)
				outlen += n;
		}
	}
	if (w == 0) {
		kill(sh, SIGKILL);
		waitpid(sh, &st, 0);
	}
	step("exit", w == sh && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (failures) {
		fprintf(stderr, "ptydrive: transcript:\n");
		for (size_t i = 0; i < outlen; i++) {
			unsigned char c = out[i];
			if (c == '\n' || (c >= 0x20 && c < 0x7f))
				fputc(c, stderr);
			else
				fprintf(stderr, "\\x%02x", c);
		}
		fputc('\n', stderr);
	}
	return failures ? 1 : 0;
}
