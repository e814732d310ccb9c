/*
 * pty.h: helpers of the pseudo-terminal tests (pty_basic, pty_job,
 * pty_hangup).
 *
 * Linux moves bytes between the two ends of a pty asynchronously (a work
 * queue), so the helpers wait for data with poll instead of expecting it
 * at once.
 */
#ifndef RAMPART_PTY_H
#define RAMPART_PTY_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"

/* put writes the string s to fd. */
static __attribute__((unused)) void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		check_fail("write", "short write of \"%s\"", s);
}

/* read_upto reads from fd until n bytes came or nothing arrived for ms
 * milliseconds; it returns the count (or -1 with errno from read). */
static __attribute__((unused)) int read_upto(int fd, char *buf, int n, int ms)
{
	int got = 0;
	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, ms);
		if (r <= 0)
			break;
		int k = read(fd, buf + got, n - got);
		if (k < 0)
			return got ? got : -1;
		if (k == 0)
			break;
		got += k;
	}
	return got;
}

/* show escapes s for a failure message. */
static const char *show(const char *s, int n)
{
	static char out[1024];
	int o = 0;
	for (int i = 0; i < n && o < (int)sizeof(out) - 5; i++) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = c;
		else
			o += snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
	}
	out[o] = 0;
	return out;
}

/* expect reads strlen(want) bytes from fd (waiting up to 2s) and checks
 * they are want. */
static __attribute__((unused)) void expect(const char *name, int fd, const char *want)
{
	char buf[512];
	int n = strlen(want);
	int got = read_upto(fd, buf, n, 2000);
	if (got == n && memcmp(buf, want, n) == 0) {
		check_ok(name);
		return;
	}
	char w[1024];
	snprintf(w, sizeof(w), "%s", show(want, n));
	check_fail(name, "read \"%s\" (%d bytes), want \"%s\"", show(buf, got < 0 ? 0 : got), got, w);
}

/* quiet checks that nothing arrives on fd within 200ms. */
static __attribute__((unused)) void quiet(const char *name, int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, 200);
	if (r == 0) {
		check_ok(name);
		return;
	}
	char buf[256];
	int n = read(fd, buf, sizeof(buf));
	check_fail(name, "got %d bytes: \"%s\"", n, show(buf, n < 0 ? 0 : n));
}

/* open_pty opens a master with an unlocked replica and returns the
 * replica's name in name. */
static __attribute__((unused)) int open_pty(char *name, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0)
		return -1;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, len) != 0) {
		close(m);
		return -1;
	}
	return m;
}

#endif
