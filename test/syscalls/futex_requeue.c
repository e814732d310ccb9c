/* futex_requeue: FUTEX_REQUEUE and FUTEX_CMP_REQUEUE with several waiting
 * threads: the counts returned, who ends up waiting where, EAGAIN on a
 * value mismatch, and a condition-variable broadcast that relies on them. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "futex.h"

static volatile uint32_t fa, fb;
static volatile int woke;

static void *waiter(void *arg)
{
	(void)arg;
	long r = futex(&fa, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	if (r == 0)
		__atomic_add_fetch(&woke, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void start(pthread_t *th, int n)
{
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, waiter, NULL);
	await_waiters(&fa, 1, n);
}

static void join(pthread_t *th, int n)
{
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int gen, arrived;

static void *cond_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	int g = gen;
	arrived++;
	pthread_cond_broadcast(&cv);
	while (gen == g)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	pthread_t th[8];

	/* CMP_REQUEUE: wake 1, move 2 of 5 waiters to fb. */
	start(th, 5);
	CHECK_ERR("cmp_requeue value mismatch",
		  futex2(&fa, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2, &fb, 1), EAGAIN);
	CHECK_EQ("nothing moved by the mismatch", nwaiters(&fa, 1), 5);
	CHECK_EQ("cmp_requeue returns woken + moved",
		 futex2(&fa, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2, &fb, 0), 3);
	CHECK_EQ("two left on fa", nwaiters(&fa, 1), 2);
	CHECK_EQ("two moved to fb", nwaiters(&fb, 1), 2);
	CHECK_EQ("fa wake", futex(&fa, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 2);
	CHECK_EQ("fb wake", futex(&fb, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 2);
	join(th, 5);
	CHECK_EQ("every waiter returned 0", woke, 5);

	/* REQUEUE without comparison: wake none, move all. */
	woke = 0;
	start(th, 4);
	CHECK_EQ("requeue all", futex2(&fa, FUTEX_REQUEUE_PRIVATE, 0, INT_MAX, &fb, 0), 4);
	CHECK_EQ("fa empty", nwaiters(&fa, 1), 0);
	CHECK_EQ("a wake of fa reaches nobody", futex(&fa, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
	CHECK_EQ("fb wake 3", futex(&fb, FUTEX_WAKE_PRIVATE, 3, NULL, NULL, 0), 3);
	CHECK_EQ("fb wake rest", futex(&fb, FUTEX_WAKE_PRIVATE, 3, NULL, NULL, 0), 1);
	join(th, 4);
	CHECK_EQ("requeued waiters returned 0", woke, 4);

	/* Waking more than there are, moving none. */
	woke = 0;
	start(th, 3);
	CHECK_EQ("cmp_requeue wake all", futex2(&fa, FUTEX_CMP_REQUEUE_PRIVATE, 10, 0, &fb, 0), 3);
	join(th, 3);
	CHECK_EQ("all woke", woke, 3);
	CHECK_EQ("requeue with no waiters", futex2(&fa, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &fb, 0), 0);

	/* Shared (not private) requeue of shared waiters. */
	CHECK_EQ("shared requeue with no waiters", futex2(&fa, FUTEX_CMP_REQUEUE, 1, 1, &fb, 0), 0);

	/* Bad arguments. */
	CHECK_ERR("negative wake count", futex2(&fa, FUTEX_CMP_REQUEUE_PRIVATE, -1, 1, &fb, 0), EINVAL);
	CHECK_ERR("negative requeue count", futex2(&fa, FUTEX_CMP_REQUEUE_PRIVATE, 1, -1, &fb, 0), EINVAL);
	CHECK_ERR("unaligned target",
		  futex2(&fa, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, (volatile uint32_t *)((char *)&fb + 1), 0), EINVAL);
	CHECK_ERR("cmp_requeue bad address", futex2(NULL, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &fb, 0), EFAULT);

	/* A broadcast on a condition variable wakes every waiter. */
	for (int round = 0; round < 20; round++) {
		pthread_mutex_lock(&mu);
		arrived = 0;
		pthread_mutex_unlock(&mu);
		for (int i = 0; i < 8; i++)
			pthread_create(&th[i], NULL, cond_waiter, NULL);
		pthread_mutex_lock(&mu);
		while (arrived < 8)
			pthread_cond_wait(&cv, &mu);
		gen++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		join(th, 8);
	}
	CHECK_EQ("condition variable broadcasts", gen, 20);

	return check_done();
}
