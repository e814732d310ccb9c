/* pgid_session: process groups and sessions. All checks run in a child
 * that first makes its own session (so that native and sandboxed runs
 * start from the same place): setsid (EPERM for a group leader), getsid
 * and getpgid (ESRCH for no such process, a thread's tid naming its
 * process), setpgid with pgid 0 meaning the pid, moving a child between
 * groups of the session, EPERM for a group in another session and for a
 * session leader, ESRCH for a process that is not a child, EACCES for a
 * child that has exec'd, EINVAL for a negative pgid. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Threads that must stay alive block here. */
static int forever;

static int pipe_wait[2];

/* A child that waits for a byte, then exits 0. */
static pid_t idle_child(int execs)
{
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (execs) {
			/* Exec something that waits for stdin to close. */
			dup2(p[0], 0);
			execl("/bin/sh", "sh", "-c", "read x; exit 0", (char *)NULL);
			_exit(127);
		}
		char c;
		read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	pipe_wait[0] = p[1];
	return pid;
}

/* Ends an idle child (killing it: other children hold copies of its
 * pipe). */
static void release(pid_t pid, int fd)
{
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void *thread_fn(void *arg)
{
	*(pid_t *)arg = syscall(SYS_gettid);
	for (;;)
		syscall(SYS_futex, &forever, FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

static int in_session(void)
{
	pid_t me = getpid();
	CHECK_EQ("setsid makes a session", setsid(), me);
	CHECK_EQ("getsid(0)", getsid(0), me);
	CHECK_EQ("getsid(self)", getsid(me), me);
	CHECK_EQ("getpgrp", getpgrp(), me);
	CHECK_EQ("getpgid(0)", getpgid(0), me);
	CHECK_ERR("setsid again: already a leader", setsid(), EPERM);
	CHECK_ERR("getsid no such process", getsid(4000000), ESRCH);
	CHECK_ERR("getpgid no such process", getpgid(4000000), ESRCH);
	CHECK_ERR("setpgid negative pgid", setpgid(0, -1), EINVAL);
	CHECK_ERR("setpgid of a session leader", setpgid(0, 0), EPERM);

	pid_t tid = 0;
	pthread_t th;
	pthread_create(&th, NULL, thread_fn, &tid);
	while (__atomic_load_n(&tid, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);
	CHECK_EQ("getpgid of a thread's tid", getpgid(tid), me);
	CHECK_EQ("getsid of a thread's tid", getsid(tid), me);
	CHECK_ERR("setpgid of a non-leader thread", setpgid(tid, 0), EINVAL);

	/* Children start in our group; setpgid(child, 0) makes a group. */
	pid_t a = idle_child(0);
	int fa = pipe_wait[0];
	CHECK_EQ("child inherits pgid", getpgid(a), me);
	CHECK_EQ("child inherits sid", getsid(a), me);
	CHECK_OK("setpgid(child, 0)", setpgid(a, 0));
	CHECK_EQ("child leads its own group", getpgid(a), a);
	pid_t b = idle_child(0);
	int fb = pipe_wait[0];
	CHECK_OK("setpgid(child, other group)", setpgid(b, a));
	CHECK_EQ("child moved", getpgid(b), a);
	CHECK_OK("setpgid(child, our group)", setpgid(b, me));
	CHECK_EQ("child moved back", getpgid(b), me);
	CHECK_ERR("setpgid to a group that does not exist", setpgid(b, 4000000), EPERM);
	CHECK_ERR("setpgid of a process that is not a child", setpgid(getppid(), 0), ESRCH);
	CHECK_ERR("setpgid of no process", setpgid(4000000, 0), ESRCH);

	/* A child in its own session cannot be moved, nor can it join a
	 * group of our session. */
	int sp[2], done[2];
	pipe(sp);
	pipe(done);
	pid_t c = fork();
	if (c == 0) {
		close(sp[0]);
		close(done[1]);
		pid_t r = setsid();
		write(sp[1], &r, sizeof(r));
		int e = setpgid(0, a) == 0 ? 0 : errno;
		write(sp[1], &e, sizeof(e));
		char ch;
		read(done[0], &ch, 1);
		_exit(0);
	}
	close(sp[1]);
	close(done[0]);
	pid_t r = 0;
	int e = 0;
	read(sp[0], &r, sizeof(r));
	read(sp[0], &e, sizeof(e));
	CHECK("child's setsid", r == c);
	CHECK_EQ("setpgid into a group of another session", e, EPERM);
	CHECK_EQ("getsid of a child in another session", getsid(c), c);
	CHECK_ERR("setpgid of a child in another session", setpgid(c, 0), EPERM);
	release(c, done[1]);

	/* A child that has exec'd cannot be moved. */
	pid_t x = idle_child(1);
	int fx = pipe_wait[0];
	usleep(100000); /* let it exec; checked below with a retry */
	int err = 0;
	for (int i = 0; i < 50; i++) {
		err = setpgid(x, 0) == 0 ? 0 : errno;
		if (err == EACCES)
			break;
		setpgid(x, me);
		usleep(20000);
	}
	CHECK_EQ("setpgid of a child that exec'd", err, EACCES);
	release(x, fx);

	/* setsid fails for a process group leader (a group with the
	 * caller's pid exists). */
	int gp[2];
	pipe(gp);
	pid_t g = fork();
	if (g == 0) {
		setpgid(0, 0); /* leader of its own group */
		int e1 = setsid() == -1 ? errno : 0;
		write(gp[1], &e1, sizeof(e1));
		_exit(0);
	}
	int e1 = -1;
	read(gp[0], &e1, sizeof(e1));
	CHECK_EQ("setsid by a group leader", e1, EPERM);
	waitpid(g, NULL, 0);

	release(a, fa);
	release(b, fb);
	return check_done();
}

int main(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(in_session());
	if (pid < 0)
		return 1;
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st);
}
