/* fork_nproc: RLIMIT_NPROC bounds a fork bomb. In a child that drops to an
 * unprivileged uid (root is exempt from the limit), with RLIMIT_NPROC = 6,
 * fork succeeds while the uid has fewer than 6 tasks and then fails with
 * EAGAIN, without hanging; threads count too. Once the children exit and
 * are reaped, fork works again. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define LIMIT 6
/* An uid nothing else on the host runs as: the runner runs the static,
 * PIE and dynamic builds at once (and other checkouts may too), so it is
 * derived from the binary's path. */
static uid_t test_uid;

static void *idle(void *arg)
{
	int fd = *(int *)arg;
	char c;
	read(fd, &c, 1);
	return NULL;
}

static int bomb(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	struct rlimit rl = { LIMIT, LIMIT };
	CHECK_OK("setrlimit", setrlimit(RLIMIT_NPROC, &rl));
	/* setresuid: drops every capability, including CAP_SYS_RESOURCE. */
	REQUIRE("setresuid", setresuid(test_uid, test_uid, test_uid) == 0);

	pid_t kids[64];
	int n = 0, err = 0;
	for (int i = 0; i < 64; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			char c;
			close(p[1]);
			read(p[0], &c, 1); /* until the parent closes the pipe */
			_exit(0);
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		kids[n++] = pid;
	}
	CHECK_EQ("forks before the limit", n, LIMIT - 1);
	CHECK_EQ("then EAGAIN", err, EAGAIN);

	close(p[1]);
	int reaped = 0;
	for (int i = 0; i < n; i++)
		if (waitpid(kids[i], NULL, 0) == kids[i])
			reaped++;
	CHECK_EQ("children reaped", reaped, n);

	/* Threads count against the limit too. */
	int q[2];
	REQUIRE("pipe", pipe(q) == 0);
	pthread_t th[8];
	int nth = 0, terr = 0;
	for (int i = 0; i < 8; i++) {
		int e = pthread_create(&th[nth], NULL, idle, &q[0]);
		if (e != 0) {
			terr = e;
			break;
		}
		nth++;
	}
	CHECK_EQ("threads before the limit", nth, LIMIT - 1);
	CHECK_EQ("then EAGAIN", terr, EAGAIN);
	close(q[1]);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);

	/* Below the limit again: fork works. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	CHECK("fork after reaping", pid > 0);
	int st = 0;
	CHECK_EQ("waitpid", waitpid(pid, &st, 0), pid);
	CHECK_EQ("exit status", WEXITSTATUS(st), 3);
	return check_done();
}

int main(int argc, char **argv)
{
	unsigned h = 5381;
	for (const char *c = argc > 0 ? argv[0] : ""; *c; c++)
		h = h * 33 + (unsigned char)*c;
	test_uid = 20000 + h % 40000;
	/* Nothing is printed here until the child is done: the two would
	 * interleave. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(bomb());
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	int st = 0;
	CHECK_EQ("waitpid", waitpid(pid, &st, 0), pid);
	CHECK("unprivileged child passed", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Root is exempt: the same low limit does not stop it. */
	struct rlimit rl = { 1, 1 };
	CHECK_OK("setrlimit as root", setrlimit(RLIMIT_NPROC, &rl));
	pid = fork();
	if (pid == 0)
		_exit(0);
	CHECK("root forks past the limit", pid > 0);
	CHECK_EQ("waitpid", waitpid(pid, &st, 0), pid);
	return check_done();
}
