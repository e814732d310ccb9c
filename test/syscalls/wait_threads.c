/*
 * wait_threads: several threads of one process each wait for a child of
 * their own (what Python's asyncio ThreadedChildWatcher does), and the
 * children exit together. Linux wakes every waiting thread on each child's
 * exit (the parent's wait queue), so each wait returns its child's status;
 * none may sleep on after its child has become a zombie.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 8

static pid_t kids[N];
static int codes[N];

static void *waiter(void *arg)
{
	long i = (long)arg;
	int status = 0;
	if (waitpid(kids[i], &status, 0) == kids[i] && WIFEXITED(status))
		codes[i] = WEXITSTATUS(status);
	else
		codes[i] = -1;
	return NULL;
}

static void timeout(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL every waiting thread gets its child: a wait never woke\n";
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int main(void)
{
	/* A wait that never wakes would hang the test: end it instead (with
	 * a handler: the test may be its sandbox's init, which ignores a
	 * signal's default action). */
	signal(SIGALRM, timeout);
	alarm(20);
	int rounds = 0;
	for (int round = 0; round < 20; round++) {
		int p[2];
		if (pipe(p))
			break;
		for (int i = 0; i < N; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				char c;
				close(p[1]);
				/* Exit, all at once, when the parent closes the pipe. */
				if (read(p[0], &c, 1) < 0)
					_exit(99);
				_exit(10 + i);
			}
		}
		close(p[0]);
		pthread_t th[N];
		for (long i = 0; i < N; i++)
			pthread_create(&th[i], NULL, waiter, (void *)i);
		usleep(10000); /* most waiters asleep; the check holds either way */
		close(p[1]);
		int ok = 1;
		for (int i = 0; i < N; i++) {
			pthread_join(th[i], NULL);
			if (codes[i] != 10 + i)
				ok = 0;
		}
		if (!ok)
			break;
		rounds++;
	}
	CHECK_EQ("every waiting thread gets its child, 20 rounds", rounds, 20);
	return check_done();
}
