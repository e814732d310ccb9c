/* futex_shared: shared futexes (no FUTEX_PRIVATE_FLAG) identify memory, not
 * addresses: a futex in MAP_SHARED|MAP_ANONYMOUS memory works between a
 * parent and its forked child, and one in a file works through two
 * different mappings of it, in one process and across processes; process-
 * shared pthread mutexes and condition variables work across fork. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "futex.h"

/* wait_change waits until *f is no longer old (shared futex). */
static void wait_change(volatile uint32_t *f, uint32_t old)
{
	while (__atomic_load_n(f, __ATOMIC_SEQ_CST) == old)
		futex(f, FUTEX_WAIT, old, NULL, NULL, 0);
}

static int child_status(pid_t pid)
{
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct pshared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int turn;
	int count;
};

struct fwaiter {
	volatile uint32_t *f;
	int op;
	long ret;
};

static void *fwait(void *arg)
{
	struct fwaiter *w = arg;
	w->ret = futex(w->f, w->op, 0, NULL, NULL, 0);
	return NULL;
}

int main(void)
{
	volatile uint32_t *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap shared anonymous", sh != MAP_FAILED);

	/* Child waits, parent wakes. */
	sh[0] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		long r = futex(&sh[0], FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(r == 0 && sh[0] == 1 ? 0 : 1);
	}
	REQUIRE("fork", pid > 0);
	await_waiters(&sh[0], 0, 1);
	sh[0] = 1;
	CHECK_EQ("parent wakes the child's waiter", futex(&sh[0], FUTEX_WAKE, 1, NULL, NULL, 0), 1);
	CHECK_EQ("child woke", child_status(pid), 0);

	/* Parent waits, child wakes. */
	sh[1] = 0;
	sh[2] = 0;
	pid = fork();
	if (pid == 0) {
		await_waiters(&sh[1], 0, 1);
		sh[1] = 1;
		sh[2] = (uint32_t)futex(&sh[1], FUTEX_WAKE, 1, NULL, NULL, 0);
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	CHECK_EQ("parent's wait", futex(&sh[1], FUTEX_WAIT, 0, NULL, NULL, 0), 0);
	CHECK_EQ("child exit", child_status(pid), 0);
	CHECK_EQ("child's wake count", sh[2], 1);

	/* A private waiter in shared memory is not reachable from another
	 * process. */
	sh[3] = 0;
	pid = fork();
	if (pid == 0) {
		struct timespec ts = {0, 100 * 1000000};
		long r = futex(&sh[3], FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
		_exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
	}
	REQUIRE("fork", pid > 0);
	usleep(20000);
	CHECK_EQ("private wake from another process", futex(&sh[3], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_EQ("shared wake of a private waiter", futex(&sh[3], FUTEX_WAKE, 1, NULL, NULL, 0), 0);
	CHECK_EQ("private waiter timed out", child_status(pid), 0);

	/* Many round trips between two processes. */
	sh[4] = 0;
	pid = fork();
	if (pid == 0) {
		for (uint32_t i = 0; i < 200; i += 2) {
			wait_change(&sh[4], i);
			__atomic_store_n(&sh[4], i + 2, __ATOMIC_SEQ_CST);
			futex(&sh[4], FUTEX_WAKE, 1, NULL, NULL, 0);
		}
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	for (uint32_t i = 0; i < 200; i += 2) {
		__atomic_store_n(&sh[4], i + 1, __ATOMIC_SEQ_CST);
		futex(&sh[4], FUTEX_WAKE, 1, NULL, NULL, 0);
		wait_change(&sh[4], i + 1);
	}
	CHECK_EQ("ping-pong child", child_status(pid), 0);
	CHECK_EQ("ping-pong count", sh[4], 200);

	/* A file mapped twice. The sandbox's /tmp is a tmpfs. */
	char path[] = "/tmp/futex_shared_XXXXXX";
	int fd = mkstemp(path);
	REQUIRE("mkstemp", fd >= 0);
	unlink(path);
	REQUIRE("ftruncate", ftruncate(fd, 8192) == 0);
	volatile uint32_t *m1 = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile uint32_t *m2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	REQUIRE("mmap file twice", m1 != MAP_FAILED && m2 != MAP_FAILED);
	volatile uint32_t *a = &m1[1024 + 5], *b = &m2[5]; /* the same word */
	struct fwaiter w = {.f = a, .op = FUTEX_WAIT};
	pthread_t th;
	pthread_create(&th, NULL, fwait, &w);
	await_waiters(a, 0, 1);
	CHECK_EQ("waiter seen through the other mapping", nwaiters(b, 0), 1);
	CHECK_EQ("private wake through the other mapping", futex(b, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_EQ("shared wake through the other mapping", futex(b, FUTEX_WAKE, 1, NULL, NULL, 0), 1);
	pthread_join(th, NULL);
	CHECK_EQ("file waiter returned 0", w.ret, 0);
	CHECK_EQ("another word of the file", nwaiters(&m2[6], 0), 0);

	/* A child that maps the file afresh waits; the parent wakes. */
	pid = fork();
	if (pid == 0) {
		volatile uint32_t *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
		if (c == MAP_FAILED)
			_exit(2);
		long r = futex(&c[7], FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(r == 0 ? 0 : 1);
	}
	REQUIRE("fork", pid > 0);
	await_waiters(&m1[1024 + 7], 0, 1);
	CHECK_EQ("wake of the child's own mapping", futex(&m1[1024 + 7], FUTEX_WAKE, 1, NULL, NULL, 0), 1);
	CHECK_EQ("file child", child_status(pid), 0);
	close(fd);

	/* Process-shared mutex and condition variable across fork. */
	struct pshared *ps = mmap(NULL, sizeof *ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap pshared", ps != MAP_FAILED);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&ps->mu, &ma);
	pthread_cond_init(&ps->cv, &ca);
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 100; i++) {
			pthread_mutex_lock(&ps->mu);
			while (ps->turn != 1)
				pthread_cond_wait(&ps->cv, &ps->mu);
			ps->count++;
			ps->turn = 0;
			pthread_cond_signal(&ps->cv);
			pthread_mutex_unlock(&ps->mu);
		}
		_exit(0);
	}
	REQUIRE("fork", pid > 0);
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&ps->mu);
		while (ps->turn != 0)
			pthread_cond_wait(&ps->cv, &ps->mu);
		ps->count++;
		ps->turn = 1;
		pthread_cond_signal(&ps->cv);
		pthread_mutex_unlock(&ps->mu);
	}
	CHECK_EQ("pshared child", child_status(pid), 0);
	CHECK_EQ("pshared turns", ps->count, 200);

	return check_done();
}
