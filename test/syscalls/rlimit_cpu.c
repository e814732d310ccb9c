/*
 * rlimit_cpu: RLIMIT_CPU sends SIGXCPU at the soft limit (and moves the
 * soft limit on by a second, so that it comes again every second) and
 * SIGKILL at the hard limit. Done in children that spin (the sandbox runs
 * the test as pid 1, which ignores default actions).
 */
// rampart:retries 2
// rampart:timeout 60s
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report_fd = -1;

static void on_xcpu(int sig)
{
	(void)sig;
	struct rlimit rl;
	getrlimit(RLIMIT_CPU, &rl);
	char c = (char)rl.rlim_cur;
	write(report_fd, &c, 1);
}

/* spin burns CPU for at most 30s of wall time. */
static void spin(void)
{
	struct timespec s, n;
	clock_gettime(CLOCK_MONOTONIC, &s);
	volatile uint64_t x = 0;
	do {
		for (int i = 0; i < 1000000; i++)
			x += i;
		clock_gettime(CLOCK_MONOTONIC, &n);
	} while (n.tv_sec - s.tv_sec < 30);
}

int main(void)
{
	int status;

	/* Default action: SIGXCPU kills at the soft limit. */
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {1, 2};
		if (setrlimit(RLIMIT_CPU, &rl) != 0)
			_exit(2);
		spin();
		_exit(3);
	}
	CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
	CHECK("the child was killed by SIGXCPU at the soft limit", WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU);

	/* With a handler: one SIGXCPU after 1s (the soft limit then reads
	 * 2), then SIGKILL at the 2s hard limit. */
	int pfd[2];
	REQUIRE("pipe", pipe(pfd) == 0);
	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		report_fd = pfd[1];
		struct sigaction sa = {0};
		sa.sa_handler = on_xcpu;
		sigaction(SIGXCPU, &sa, NULL);
		struct rlimit rl = {1, 2};
		if (setrlimit(RLIMIT_CPU, &rl) != 0)
			_exit(2);
		spin();
		_exit(3);
	}
	close(pfd[1]);
	CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
	CHECK("the child was killed by SIGKILL at the hard limit", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	char buf[16];
	ssize_t n = read(pfd[0], buf, sizeof(buf));
	CHECK_EQ("SIGXCPU came once before", n, 1);
	CHECK_EQ("and the soft limit then read 2s", n >= 1 ? buf[0] : -1, 2);

	/* An infinite limit never fires; lowering the hard limit below the
	 * soft one is EINVAL. */
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY}, got;
	CHECK_EQ("getrlimit(RLIMIT_CPU)", getrlimit(RLIMIT_CPU, &got), 0);
	CHECK("the default RLIMIT_CPU is infinite", got.rlim_cur == RLIM_INFINITY && got.rlim_max == RLIM_INFINITY);
	rl = (struct rlimit){5, 4};
	CHECK_ERR("soft > hard is EINVAL", setrlimit(RLIMIT_CPU, &rl), EINVAL);
	return check_done();
}
