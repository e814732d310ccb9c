/*
 * many_tasks: many address spaces and many threads alive at once, each
 * making syscalls: 200 processes (each its own address space: a stub
 * process on a trapping platform) and 1000 threads in one process (1000
 * stub threads in one address space).
 */
// rampart:timeout 120s
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define NPROC 200
#define NTHREAD 1000

static pthread_barrier_t barrier;
static pid_t tids[NTHREAD];

static void *thread_main(void *arg)
{
	long i = (long)arg;
	tids[i] = gettid();
	/* All threads alive at once, then one more syscall each. */
	pthread_barrier_wait(&barrier);
	return (void *)(long)(syscall(SYS_getpid) == getpid());
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

int main(void)
{
	/* NPROC children: each says it is alive, then waits for the parent to
	 * close the pipe, so all are alive at once. */
	int alive[2], go[2];
	REQUIRE("pipes", pipe(alive) == 0 && pipe(go) == 0);
	pid_t pids[NPROC];
	int forked = 0;
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			break;
		if (pids[i] == 0) {
			close(alive[0]);
			close(go[1]);
			char c = getppid() > 0 ? 'a' : 'b';
			write(alive[1], &c, 1);
			int n = read(go[0], &c, 1); /* EOF when the parent closes */
			_exit(n == 0 ? i % 100 : 200);
		}
		forked++;
	}
	CHECK_EQ("forked", forked, NPROC);
	close(alive[1]);
	close(go[0]);
	int got = 0, good = 0;
	char buf[64];
	while (got < forked) {
		ssize_t n = read(alive[0], buf, sizeof buf);
		if (n <= 0)
			break;
		for (ssize_t j = 0; j < n; j++)
			good += buf[j] == 'a';
		got += n;
	}
	CHECK_EQ("children alive at once", got, NPROC);
	CHECK_EQ("each saw its parent", good, NPROC);
	close(go[1]);
	int ok = 0;
	for (int i = 0; i < forked; i++) {
		int st;
		if (waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == i % 100)
			ok++;
	}
	CHECK_EQ("children exited with their status", ok, NPROC);

	/* NTHREAD threads in one address space. */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	REQUIRE("barrier", pthread_barrier_init(&barrier, NULL, NTHREAD + 1) == 0);
	pthread_t th[NTHREAD];
	int created = 0;
	for (long i = 0; i < NTHREAD; i++) {
		if (pthread_create(&th[i], &attr, thread_main, (void *)i) != 0)
			break;
		created++;
	}
	CHECK_EQ("threads created", created, NTHREAD);
	REQUIRE("all threads created", created == NTHREAD);
	pthread_barrier_wait(&barrier);
	int fine = 0;
	for (int i = 0; i < NTHREAD; i++) {
		void *r;
		pthread_join(th[i], &r);
		fine += r != NULL;
	}
	CHECK_EQ("threads made syscalls", fine, NTHREAD);
	qsort(tids, NTHREAD, sizeof tids[0], cmp_pid);
	int distinct = 1;
	for (int i = 1; i < NTHREAD; i++)
		distinct += tids[i] != tids[i - 1];
	CHECK_EQ("distinct thread ids", distinct, NTHREAD);
	return check_done();
}
