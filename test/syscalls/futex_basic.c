/* futex_basic: FUTEX_WAIT/WAKE and their _BITSET forms between threads,
 * value mismatch, timeouts on the right clocks, and the errors for bad
 * arguments. */
#define _GNU_SOURCE
// rampart:retries 2
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "futex.h"

static volatile uint32_t word;
static volatile uint32_t bword;

struct waiter {
	volatile uint32_t *f;
	uint32_t bitset;
	long ret;
	int err;
	volatile int done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	w->ret = futex(w->f, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, w->bitset);
	w->err = errno;
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *plain_wait_thread(void *arg)
{
	struct waiter *w = arg;
	while (*w->f == 0) {
		w->ret = futex(w->f, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		w->err = errno;
	}
	return NULL;
}

int main(void)
{
	struct timespec ts;

	/* Value mismatch. */
	word = 1;
	CHECK_ERR("wait mismatch", futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), EAGAIN);
	CHECK_ERR("wait private mismatch", futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
	CHECK_ERR("wait_bitset mismatch",
		  futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, ~0u), EAGAIN);

	/* Timeouts: FUTEX_WAIT's is relative; WAIT_BITSET's is absolute on
	 * CLOCK_MONOTONIC, or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME. */
	word = 0;
	ts = (struct timespec){0, 20 * 1000000};
	CHECK_ERR("wait relative timeout", futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	ts = (struct timespec){0, 0};
	CHECK_ERR("wait zero timeout", futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	ts = ts_from_now(CLOCK_MONOTONIC, 20);
	CHECK_ERR("wait_bitset monotonic deadline",
		  futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL, ~0u), ETIMEDOUT);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	CHECK("monotonic deadline reached",
	      now.tv_sec > ts.tv_sec || (now.tv_sec == ts.tv_sec && now.tv_nsec >= ts.tv_nsec));
	ts = ts_from_now(CLOCK_REALTIME, 20);
	CHECK_ERR("wait_bitset realtime deadline",
		  futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts, NULL, ~0u),
		  ETIMEDOUT);
	ts = (struct timespec){1, 0}; /* long past on CLOCK_MONOTONIC */
	CHECK_ERR("wait_bitset past deadline",
		  futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL, ~0u), ETIMEDOUT);
	ts = (struct timespec){0, 1000000000};
	CHECK_ERR("bad tv_nsec", futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), EINVAL);
	ts = (struct timespec){-1, 0};
	CHECK_ERR("negative tv_sec", futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), EINVAL);
	CHECK_ERR("bad timeout pointer",
		  futex(&word, FUTEX_WAIT_PRIVATE, 0, (struct timespec *)8, NULL, 0), EFAULT);

	/* Bad arguments. */
	CHECK_ERR("wait bitset 0", futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, 0), EINVAL);
	CHECK_ERR("wake bitset 0", futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL);
	CHECK_ERR("wait unaligned",
		  futex((volatile uint32_t *)((char *)&word + 1), FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EINVAL);
	CHECK_ERR("wake unaligned",
		  futex((volatile uint32_t *)((char *)&word + 2), FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), EINVAL);
	CHECK_ERR("wait NULL", futex(NULL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	CHECK_ERR("shared wait NULL", futex(NULL, FUTEX_WAIT, 0, NULL, NULL, 0), EFAULT);
	void *hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap PROT_NONE", hole != MAP_FAILED);
	CHECK_ERR("wait PROT_NONE", futex(hole, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	CHECK_EQ("private wake of a bad address", futex(hole, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_ERR("shared wake of a PROT_NONE page", futex(hole, FUTEX_WAKE, 1, NULL, NULL, 0), EFAULT);
	munmap(hole, 4096);
	CHECK_ERR("shared wake of an unmapped page", futex(hole, FUTEX_WAKE, 1, NULL, NULL, 0), EFAULT);
	CHECK_ERR("unknown op", futex(&word, 99, 0, NULL, NULL, 0), ENOSYS);
	CHECK_ERR("FUTEX_FD", futex(&word, 2, 0, NULL, NULL, 0), ENOSYS);
	CHECK_ERR("wake with CLOCK_REALTIME",
		  futex(&word, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0), ENOSYS);
	CHECK_ERR("wait with CLOCK_REALTIME",
		  futex(&word, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0), ENOSYS);
	CHECK_EQ("wake without waiters", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_EQ("shared wake without waiters", futex(&word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0), 0);

	/* Wait and wake between threads. */
	pthread_t th[3];
	struct waiter w0 = {.f = &word, .bitset = ~0u};
	word = 0;
	pthread_create(&th[0], NULL, wait_thread, &w0);
	await_waiters(&word, 1, 1);
	CHECK_EQ("wake one waiter", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	pthread_join(th[0], NULL);
	CHECK_EQ("waiter returned 0", w0.ret, 0);

	/* FUTEX_WAKE with a count of 0 still wakes one (Linux). */
	w0 = (struct waiter){.f = &word, .bitset = ~0u};
	pthread_create(&th[0], NULL, wait_thread, &w0);
	await_waiters(&word, 1, 1);
	CHECK_EQ("wake count 0 wakes one", futex(&word, FUTEX_WAKE_PRIVATE, 0, NULL, NULL, 0), 1);
	pthread_join(th[0], NULL);

	/* Bitsets select the waiters a wake reaches. */
	struct waiter wa = {.f = &bword, .bitset = 0x1}, wb = {.f = &bword, .bitset = 0x6};
	pthread_create(&th[0], NULL, wait_thread, &wa);
	pthread_create(&th[1], NULL, wait_thread, &wb);
	await_waiters(&bword, 1, 2);
	CHECK_EQ("wake_bitset 0x8 reaches nobody",
		 futex(&bword, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0x8), 0);
	CHECK_EQ("wake_bitset 0x4 reaches one",
		 futex(&bword, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 0x4), 1);
	pthread_join(th[1], NULL);
	CHECK_EQ("the 0x6 waiter woke", wb.done, 1);
	CHECK_EQ("the 0x1 waiter still waits", wa.done, 0);
	CHECK_EQ("plain wake reaches a bitset waiter",
		 futex(&bword, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0), 1);
	pthread_join(th[0], NULL);
	CHECK_EQ("bitset waiters returned 0", wa.ret | wb.ret, 0);

	/* Private and shared futexes on the same word are different
	 * futexes: a shared wake does not reach a private waiter. */
	word = 0;
	struct waiter wp = {.f = &word};
	pthread_create(&th[2], NULL, plain_wait_thread, &wp);
	await_waiters(&word, 1, 1);
	CHECK_EQ("no shared waiters", nwaiters(&word, 0), 0);
	word = 1;
	CHECK_EQ("shared wake misses a private waiter", futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), 0);
	CHECK_EQ("private wake reaches it", futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 1);
	pthread_join(th[2], NULL);
	CHECK_EQ("private waiter returned 0", wp.ret, 0);

	/* A process blocked in FUTEX_WAIT can be killed. */
	word = 0;
	pid_t pid = fork();
	if (pid == 0) {
		futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		_exit(1);
	}
	REQUIRE("fork", pid > 0);
	usleep(20000);
	kill(pid, SIGKILL);
	int status = 0;
	CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
	CHECK("killed while waiting", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	return check_done();
}
