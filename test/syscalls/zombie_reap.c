/* zombie_reap: orphans are reparented to the nearest child subreaper, or to
 * init. The test process makes itself a subreaper (natively, so that its
 * orphans come back to it; in the sandbox it is pid 1 and gets them
 * anyway), then:
 *   - a middle process exits leaving a zombie and a live child: both are
 *     reparented to a subreaper child S, which reaps them with the right
 *     statuses; the live one sees getppid() change to S;
 *   - when S itself exits, its orphan goes up to the test process;
 *   - with SIGCHLD ignored, exited children leave no zombie (wait: ECHILD).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Waits for the parent to change from old; returns the new parent. */
static pid_t wait_reparent(pid_t old)
{
	pid_t p;
	for (int i = 0; i < 5000 && (p = getppid()) == old; i++)
		usleep(1000);
	return getppid();
}

/* S: a subreaper whose grandchildren are orphaned. Exit code is a bit set
 * of failures (0 = fine). */
static int subreaper(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		return 1;
	int on = 0;
	if (prctl(PR_GET_CHILD_SUBREAPER, &on) != 0 || on != 1)
		return 2;
	pid_t s = getpid();
	int go[2];
	pipe(go);
	pid_t m = fork();
	if (m == 0) {
		pid_t mp = getpid();
		pid_t g1 = fork();
		if (g1 == 0)
			_exit(21); /* a zombie when m exits */
		pid_t g2 = fork();
		if (g2 == 0) {
			char c;
			close(go[1]);
			read(go[0], &c, 1); /* until m has exited */
			_exit(wait_reparent(mp) == s ? 22 : 23);
		}
		/* Let g1 become a zombie before leaving. */
		usleep(20000);
		_exit(20);
	}
	close(go[0]);
	int st, fails = 0;
	if (waitpid(m, &st, 0) != m || WEXITSTATUS(st) != 20)
		fails |= 4;
	close(go[1]);
	int seen21 = 0, seen22 = 0;
	pid_t w;
	while ((w = waitpid(-1, &st, 0)) > 0) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 21)
			seen21++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 22)
			seen22++;
		else
			fails |= 8;
	}
	if (errno != ECHILD)
		fails |= 16;
	if (seen21 != 1)
		fails |= 32;
	if (seen22 != 1)
		fails |= 64;
	return fails;
}

/* S2: a subreaper that exits while its grandchild lives; the grandchild
 * goes to the next subreaper up, the test process. */
static int dying_subreaper(int out)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t s2 = getpid();
	pid_t m = fork();
	if (m == 0) {
		pid_t mp = getpid();
		if (fork() == 0) {
			pid_t p = wait_reparent(mp);
			/* First reparented to s2 (still alive) … */
			if (p == s2)
				p = wait_reparent(s2);
			/* … then, when s2 exits, to the test process. */
			write(out, &p, sizeof(p));
			_exit(31);
		}
		_exit(30);
	}
	int st;
	waitpid(m, &st, 0);
	return WEXITSTATUS(st) == 30 ? 0 : 1;
}

int main(void)
{
	pid_t me = getpid();
	CHECK_OK("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1));

	pid_t s = fork();
	if (s == 0)
		_exit(subreaper());
	int st;
	CHECK_EQ("subreaper child", waitpid(s, &st, 0), s);
	CHECK_EQ("subreaper reaped the orphans (0 = no failure bits)", WEXITSTATUS(st), 0);

	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	pid_t s2 = fork();
	if (s2 == 0)
		_exit(dying_subreaper(p[1]));
	close(p[1]);
	CHECK_EQ("dying subreaper", waitpid(s2, &st, 0), s2);
	CHECK_EQ("dying subreaper status", WEXITSTATUS(st), 0);
	pid_t got = 0;
	CHECK_EQ("orphan reported", read(p[0], &got, sizeof(got)), sizeof(got));
	CHECK("orphan's parent is now the test process", got == me);
	pid_t w = waitpid(-1, &st, 0);
	CHECK("orphan reaped by the test process", w > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 31);

	/* SIGCHLD ignored: no zombies, wait fails with ECHILD once they are
	 * gone. */
	signal(SIGCHLD, SIG_IGN);
	for (int i = 0; i < 3; i++)
		if (fork() == 0)
			_exit(0);
	CHECK_ERR("no zombies with SIGCHLD ignored", wait(NULL), ECHILD);
	signal(SIGCHLD, SIG_DFL);
	CHECK_ERR("no children left", waitpid(-1, NULL, WNOHANG), ECHILD);
	return check_done();
}
