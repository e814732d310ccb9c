/* pipe_atomic: PIPE_BUF atomicity with two writers, nonblocking writes of
 * at most PIPE_BUF bytes are all or nothing (EAGAIN) while larger ones may
 * be partial, FIONREAD, F_GETPIPE_SZ/F_SETPIPE_SZ (rounding, EBUSY,
 * EBADF), and EPIPE with SIGPIPE ignored. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define CHUNK 4096
#define ROUNDS 64

static void writer(int fd, char c)
{
	char buf[CHUNK];
	memset(buf, c, sizeof(buf));
	for (int i = 0; i < ROUNDS; i++)
		if (write(fd, buf, CHUNK) != CHUNK)
			_exit(1);
	_exit(0);
}

int main(void)
{
	CHECK_EQ("PIPE_BUF", PIPE_BUF, 4096);
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);

	/* Two writers of PIPE_BUF-sized chunks: every chunk arrives whole. */
	pid_t a = fork();
	if (a == 0)
		writer(p[1], 'a');
	pid_t b = fork();
	if (b == 0)
		writer(p[1], 'b');
	close(p[1]);
	static char all[2 * ROUNDS * CHUNK];
	long got = 0;
	for (;;) {
		ssize_t n = read(p[0], all + got, sizeof(all) - got);
		if (n <= 0)
			break;
		got += n;
	}
	CHECK_EQ("all bytes", got, sizeof(all));
	int torn = 0;
	for (long off = 0; off < got; off += CHUNK)
		for (int i = 1; i < CHUNK; i++)
			if (all[off + i] != all[off])
				torn++;
	CHECK_EQ("no torn chunk", torn, 0);
	int st;
	waitpid(a, &st, 0);
	CHECK("writer a ok", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	waitpid(b, &st, 0);
	CHECK("writer b ok", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);

	/* Nonblocking: a small write that does not fit is EAGAIN, a large
	 * one is partial. */
	REQUIRE("pipe 2", pipe2(p, O_NONBLOCK) == 0);
	CHECK_EQ("F_GETPIPE_SZ", fcntl(p[1], F_GETPIPE_SZ), 65536);
	static char buf[65536 * 2];
	CHECK_EQ("fill but 100 bytes", write(p[1], buf, 65536 - 100), 65536 - 100);
	int avail = -1;
	CHECK_OK("FIONREAD", ioctl(p[0], FIONREAD, &avail));
	CHECK_EQ("FIONREAD value", avail, 65536 - 100);
	CHECK_OK("FIONREAD on the write end", ioctl(p[1], FIONREAD, &avail));
	CHECK_EQ("FIONREAD write end value", avail, 65536 - 100);
	CHECK_ERR("atomic write that does not fit", write(p[1], buf, 200), EAGAIN);
	CHECK_EQ("read all", read(p[0], buf, sizeof(buf)), 65536 - 100);
	CHECK_EQ("fill", write(p[1], buf, 65536), 65536);
	CHECK_ERR("full: EAGAIN", write(p[1], buf, 5000), EAGAIN);
	CHECK_EQ("read 8192", read(p[0], buf, 8192), 8192);
	CHECK_EQ("large write is partial", write(p[1], buf, 10000), 8192);
	CHECK_EQ("drain", read(p[0], buf, sizeof(buf)), 65536);
	CHECK_ERR("empty read EAGAIN", read(p[0], buf, 1), EAGAIN);

	/* F_SETPIPE_SZ rounds up to a power-of-two number of pages. */
	CHECK_EQ("set 8192", fcntl(p[1], F_SETPIPE_SZ, 8192), 8192);
	CHECK_EQ("get 8192", fcntl(p[0], F_GETPIPE_SZ), 8192);
	CHECK_EQ("set 5000 rounds", fcntl(p[1], F_SETPIPE_SZ, 5000), 8192);
	CHECK_EQ("set 12288 rounds", fcntl(p[1], F_SETPIPE_SZ, 12288), 16384);
	CHECK_EQ("set 1 rounds to a page", fcntl(p[1], F_SETPIPE_SZ, 1), 4096);
	CHECK_EQ("small pipe takes a page", write(p[1], buf, 4096), 4096);
	CHECK_ERR("small pipe is full", write(p[1], buf, 1), EAGAIN);
	CHECK_EQ("read page", read(p[0], buf, 4096), 4096);
	CHECK_EQ("back to 64 KiB", fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
	CHECK_EQ("queue 10000", write(p[1], buf, 10000), 10000);
	CHECK_ERR("shrink below data EBUSY", fcntl(p[1], F_SETPIPE_SZ, 4096), EBUSY);
	CHECK_EQ("shrink to fit keeps data", fcntl(p[1], F_SETPIPE_SZ, 16384), 16384);
	CHECK_EQ("data kept", read(p[0], buf, sizeof(buf)), 10000);
	CHECK_ERR("set too large EINVAL", fcntl(p[1], F_SETPIPE_SZ, 0x80000001u), EINVAL);
	int dn = open("/dev/null", O_RDONLY);
	CHECK_ERR("F_GETPIPE_SZ on a non-pipe", fcntl(dn, F_GETPIPE_SZ), EBADF);
	CHECK_ERR("F_SETPIPE_SZ on a non-pipe", fcntl(dn, F_SETPIPE_SZ, 4096), EBADF);
	close(dn);

	/* EPIPE with SIGPIPE ignored. */
	signal(SIGPIPE, SIG_IGN);
	close(p[0]);
	CHECK_ERR("EPIPE", write(p[1], "x", 1), EPIPE);
	close(p[1]);
	return check_done();
}
