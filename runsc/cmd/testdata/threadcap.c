// threadcap creates threads that all stay alive until pthread_create fails,
// then checks that it failed with EAGAIN, that every thread it created ran
// and can be joined, and that one more thread can be created once they are
// gone. It prints the number of threads and exits 0 on success. Natively
// it would run to the host's thread limit: it is run only in the sandbox,
// by TestThreadCapInSandbox (threadcap_test.go).
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 20000

static pthread_t threads[MAX_THREADS];
static atomic_int started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int released;

static void *worker(void *arg) {
	atomic_fetch_add(&started, 1);
	pthread_mutex_lock(&mu);
	while (!released)
		pthread_cond_wait(&go, &mu);
	pthread_mutex_unlock(&mu);
	return arg;
}

static void *one(void *arg) { return arg; }

int main(void) {
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN > 65536 ? PTHREAD_STACK_MIN : 65536);
	int n, err = 0;
	for (n = 0; n < MAX_THREADS; n++) {
		err = pthread_create(&threads[n], &attr, worker, (void *)(intptr_t)n);
		if (err != 0)
			break;
	}
	if (err != EAGAIN) {
		printf("FAIL: pthread_create of thread %d: %s, want EAGAIN\n", n + 1, strerror(err));
		return 1;
	}
	// Every thread it reported as created runs.
	while (atomic_load(&started) != n)
		sched_yield();
	// The limit holds: the next one fails too, while they are all alive.
	pthread_t extra;
	err = pthread_create(&extra, &attr, one, NULL);
	if (err != EAGAIN) {
		printf("FAIL: pthread_create at the limit again: %s, want EAGAIN\n", strerror(err));
		return 1;
	}
	pthread_mutex_lock(&mu);
	released = 1;
	pthread_cond_broadcast(&go);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++) {
		void *ret;
		if ((err = pthread_join(threads[i], &ret)) != 0 || (intptr_t)ret != i) {
			printf("FAIL: join of thread %d: %s, returned %ld\n", i, strerror(err), (long)(intptr_t)ret);
			return 1;
		}
	}
	// Their places are free again.
	void *ret;
	if ((err = pthread_create(&extra, &attr, one, (void *)7)) != 0 ||
	    (err = pthread_join(extra, &ret)) != 0 || (intptr_t)ret != 7) {
		printf("FAIL: a thread after joining all: %s\n", strerror(err));
		return 1;
	}
	printf("created %d threads; then EAGAIN\n", n);
	return 0;
}
