/* futex_pi: PI futexes. Raw FUTEX_LOCK_PI/TRYLOCK_PI/UNLOCK_PI on the
 * TID|FUTEX_WAITERS|FUTEX_OWNER_DIED word (EDEADLK, EPERM, ESRCH, timeouts,
 * handoff to a waiter, a dying owner), and PTHREAD_PRIO_INHERIT mutexes
 * under contention from several threads. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "check.h"
#include "futex.h"

static volatile uint32_t word;
static volatile uint32_t owner_tid;
static volatile int stage;

static void set_stage(int s)
{
	__atomic_store_n(&stage, s, __ATOMIC_SEQ_CST);
}

static void await_stage(int s)
{
	while (__atomic_load_n(&stage, __ATOMIC_SEQ_CST) < s)
		usleep(1000);
}

/* holder locks word, reports its tid, and unlocks when told (stage 2), or
 * exits holding it if arg is not NULL. */
static void *holder(void *arg)
{
	owner_tid = (uint32_t)gettid_();
	if (futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) != 0)
		printf("FAIL holder lock: %s\n", strerror(errno));
	set_stage(1);
	if (arg != NULL) {
		await_pi_waiter(&word, 1);
		return NULL; /* dies holding the lock */
	}
	await_stage(2);
	if (futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) != 0)
		printf("FAIL holder unlock: %s\n", strerror(errno));
	return NULL;
}

/* handoff_holder waits for a PI waiter and then unlocks. */
static void *handoff_holder(void *arg)
{
	(void)arg;
	owner_tid = (uint32_t)gettid_();
	futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
	set_stage(1);
	await_pi_waiter(&word, 1);
	if (futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) != 0)
		printf("FAIL handoff unlock: %s\n", strerror(errno));
	return NULL;
}

static pthread_mutex_t pmu;
static long counter;
#define THREADS 4
#define ITERS 2000

static void *contend(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		if (pthread_mutex_lock(&pmu) != 0)
			printf("FAIL lock\n");
		long c = counter;
		if (i % 64 == 0)
			sched_yield();
		counter = c + 1;
		pthread_mutex_unlock(&pmu);
	}
	return NULL;
}

static void *trylock_thread(void *arg)
{
	return (void *)(long)pthread_mutex_trylock(arg);
}

static void *unlock_thread(void *arg)
{
	return (void *)(long)pthread_mutex_unlock(arg);
}

int main(void)
{
	uint32_t me = (uint32_t)gettid_();
	pthread_t th;
	struct timespec ts;

	/* Uncontended protocol. */
	word = 0;
	CHECK_EQ("lock_pi free", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK("word is my tid", word == me);
	CHECK_ERR("lock_pi again", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
	CHECK_ERR("trylock_pi again", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
	CHECK_EQ("unlock_pi", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK_EQ("word is 0", word, 0);
	CHECK_ERR("unlock_pi of a free lock", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);
	CHECK_EQ("trylock_pi free", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK("trylock_pi took it", word == me);
	word = me | FUTEX_WAITERS;
	CHECK_EQ("unlock_pi with a stale WAITERS bit", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK_EQ("word is 0 again", word, 0);
	word = FUTEX_OWNER_DIED;
	CHECK_EQ("lock_pi after owner death", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK("OWNER_DIED kept", word == (me | FUTEX_OWNER_DIED));
	CHECK_EQ("unlock_pi clears OWNER_DIED", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK_EQ("word cleared", word, 0);

	/* A bogus owner. */
	word = 0x3ffffff0;
	CHECK_ERR("lock_pi with a bogus owner", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), ESRCH);
	CHECK_ERR("trylock_pi with a bogus owner", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), ESRCH);
	CHECK_ERR("unlock_pi of someone else's", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);

	/* Bad arguments. */
	CHECK_ERR("lock_pi unaligned",
		  futex((volatile uint32_t *)((char *)&word + 1), FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EINVAL);
	CHECK_ERR("lock_pi NULL", futex(NULL, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	CHECK_ERR("unlock_pi NULL", futex(NULL, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	CHECK_ERR("lock_pi with CLOCK_REALTIME",
		  futex(&word, FUTEX_LOCK_PI_PRIVATE | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0), ENOSYS);
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_ERR("lock_pi read-only", futex(ro, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EFAULT);

	/* Held by a live thread. */
	word = 0;
	stage = 0;
	pthread_create(&th, NULL, holder, NULL);
	await_stage(1);
	CHECK("held by the holder", word == owner_tid);
	CHECK_ERR("trylock_pi of a held lock", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EAGAIN);
	CHECK("failed trylock_pi sets WAITERS", word == (owner_tid | FUTEX_WAITERS));
	CHECK_ERR("unlock_pi by a non-owner", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM);
	ts = ts_from_now(CLOCK_REALTIME, 30);
	CHECK_ERR("lock_pi realtime timeout", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, &ts, NULL, 0), ETIMEDOUT);
	ts = ts_from_now(CLOCK_MONOTONIC, 30);
	CHECK_ERR("lock_pi2 monotonic timeout", futex(&word, 13 | FUTEX_PRIVATE_FLAG, 0, &ts, NULL, 0), ETIMEDOUT);
	ts = (struct timespec){0, 1000000000};
	CHECK_ERR("lock_pi bad timeout", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, &ts, NULL, 0), EINVAL);
	set_stage(2);
	pthread_join(th, NULL);
	CHECK_EQ("holder released it", word, 0);

	/* Handoff: the unlock gives the lock to the queued waiter. */
	word = 0;
	stage = 0;
	pthread_create(&th, NULL, handoff_holder, NULL);
	await_stage(1);
	CHECK_EQ("lock_pi waits for the handoff", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK("handed over with WAITERS", word == (me | FUTEX_WAITERS));
	pthread_join(th, NULL);
	CHECK_EQ("unlock after handoff", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK_EQ("free after handoff", word, 0);

	/* An owner that dies holding a (non-robust) PI lock hands it to its
	 * waiter. */
	word = 0;
	stage = 0;
	pthread_create(&th, NULL, holder, (void *)1);
	await_stage(1);
	CHECK_EQ("lock_pi of a dying owner's lock", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), 0);
	CHECK("waiter owns it", (word & FUTEX_TID_MASK) == me);
	CHECK("with OWNER_DIED and WAITERS", word == (me | FUTEX_OWNER_DIED | FUTEX_WAITERS));
	pthread_join(th, NULL);
	futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
	CHECK_EQ("dead owner's lock released", word, 0);

	/* PTHREAD_PRIO_INHERIT mutexes. */
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&pmu, &a);
	pthread_t ths[THREADS];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < THREADS; i++)
			pthread_create(&ths[i], NULL, contend, NULL);
		for (int i = 0; i < THREADS; i++)
			pthread_join(ths[i], NULL);
	}
	CHECK_EQ("PI mutex counter", counter, 3 * THREADS * ITERS);
	CHECK_EQ("PI mutex lock", pthread_mutex_lock(&pmu), 0);
	CHECK_EQ("PI mutex relock", pthread_mutex_lock(&pmu), EDEADLK);
	void *r;
	pthread_create(&th, NULL, trylock_thread, &pmu);
	pthread_join(th, &r);
	CHECK_EQ("PI mutex trylock of a held mutex", (long)r, EBUSY);
	pthread_create(&th, NULL, unlock_thread, &pmu);
	pthread_join(th, &r);
	CHECK_EQ("PI mutex unlock by a non-owner", (long)r, EPERM);
	CHECK_EQ("PI mutex unlock", pthread_mutex_unlock(&pmu), 0);
	CHECK_EQ("PI mutex trylock", pthread_mutex_trylock(&pmu), 0);
	CHECK_EQ("PI mutex unlock again", pthread_mutex_unlock(&pmu), 0);
	CHECK_EQ("PI mutex word free", *(volatile uint32_t *)&pmu.__data.__lock, 0);

	return check_done();
}
