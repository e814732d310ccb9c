/* rlimit_fsize: RLIMIT_FSIZE bounds regular files: a write stops at the
 * limit (short), one that starts at it (also with O_APPEND, and pwrite past
 * it) fails with EFBIG and raises SIGXFSZ (SI_USER, from the process
 * itself); truncate and ftruncate past it and a fallocate that would grow
 * the file past it fail the same way, while shrinking, KEEP_SIZE and a
 * pipe are not limited. Without a handler SIGXFSZ ends the process. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define LIMIT (64 << 10)

static volatile int xfsz, xfsz_code, xfsz_pid;

static void on_xfsz(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	xfsz++;
	xfsz_code = si->si_code;
	xfsz_pid = si->si_pid;
}

static char buf[100 << 10];

int main(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/rlimit_fsize.%d", getpid());
	struct sigaction sa = {.sa_sigaction = on_xfsz, .sa_flags = SA_SIGINFO};
	sigaction(SIGXFSZ, &sa, NULL);
	struct rlimit r = {LIMIT, RLIM_INFINITY};
	CHECK_OK("setrlimit", setrlimit(RLIMIT_FSIZE, &r));

	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE("open", fd >= 0);
	CHECK_EQ("a write across the limit stops at it", write(fd, buf, sizeof(buf)), LIMIT);
	CHECK_EQ("no signal for a short write", xfsz, 0);
	CHECK_ERR("a write at the limit", write(fd, buf, 1), EFBIG);
	CHECK_EQ("SIGXFSZ", xfsz, 1);
	CHECK_EQ("SIGXFSZ's code", xfsz_code, SI_USER);
	CHECK_EQ("SIGXFSZ's pid", xfsz_pid, getpid());
	CHECK_ERR("pwrite past the limit", pwrite(fd, buf, 1, 1 << 20), EFBIG);
	CHECK_EQ("pwrite within it", pwrite(fd, buf, 10, LIMIT - 4), 4);
	CHECK_EQ("an empty write at the limit", write(fd, buf, 0), 0);
	CHECK_EQ("signals so far", xfsz, 2);

	int afd = open(path, O_WRONLY | O_APPEND);
	REQUIRE("open O_APPEND", afd >= 0);
	CHECK_ERR("an appending write at the limit", write(afd, buf, 1), EFBIG);
	CHECK_OK("shrink", ftruncate(fd, LIMIT / 2));
	CHECK_EQ("an appending write after shrinking stops at the limit", write(afd, buf, LIMIT), LIMIT / 2);
	close(afd);

	xfsz = 0;
	CHECK_ERR("ftruncate past the limit", ftruncate(fd, LIMIT + 1), EFBIG);
	CHECK_OK("ftruncate to the limit", ftruncate(fd, LIMIT));
	CHECK_ERR("truncate past the limit", truncate(path, 1 << 20), EFBIG);
	CHECK_OK("ftruncate down", ftruncate(fd, 0));
	CHECK_ERR("fallocate past the limit", fallocate(fd, 0, 0, LIMIT * 2), EFBIG);
	CHECK_OK("fallocate up to it", fallocate(fd, 0, 0, LIMIT));
	CHECK_OK("fallocate KEEP_SIZE past it", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, LIMIT * 2));
	struct stat st;
	fstat(fd, &st);
	CHECK_EQ("size after the refusals", st.st_size, LIMIT);
	CHECK_EQ("SIGXFSZ for each refusal", xfsz, 3);

	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	CHECK_EQ("a pipe is not limited", write(p[1], buf, LIMIT), LIMIT);
	close(p[0]);
	close(p[1]);

	/* Without a handler, SIGXFSZ ends the process (with a core). */
	pid_t c = fork();
	REQUIRE("fork", c >= 0);
	if (c == 0) {
		signal(SIGXFSZ, SIG_DFL);
		struct rlimit nocore = {0, 0};
		setrlimit(RLIMIT_CORE, &nocore);
		pwrite(fd, buf, 1, LIMIT);
		_exit(0);
	}
	int ws;
	CHECK_EQ("waitpid", waitpid(c, &ws, 0), c);
	CHECK("the child died of SIGXFSZ", WIFSIGNALED(ws) && WTERMSIG(ws) == SIGXFSZ);

	close(fd);
	unlink(path);
	return check_done();
}
