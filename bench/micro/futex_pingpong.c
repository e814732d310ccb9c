/* futex_pingpong: two threads hand a token back and forth through one
 * futex word; one op is a round trip (two waits, two wakes). */
#include "bench.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic int word; /* 0: main's turn, 1: the partner's, 2: stop */

static void wait_for(int want)
{
	int v;
	while ((v = atomic_load(&word)) != want && v != 2)
		syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void set(int v)
{
	atomic_store(&word, v);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *partner(void *arg)
{
	(void)arg;
	for (;;) {
		wait_for(1);
		if (atomic_load(&word) == 2)
			return NULL;
		set(0);
	}
}

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		set(1);
		wait_for(0);
	}
}

int main(int argc, char **argv)
{
	pthread_t th;
	if (pthread_create(&th, NULL, partner, NULL) != 0)
		return 1;
	int r = bench_main(argc, argv, "futex_pingpong", op);
	set(2);
	pthread_join(th, NULL);
	return r;
}
