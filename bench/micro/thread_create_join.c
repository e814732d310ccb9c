/* thread_create_join: pthread_create a thread that returns at once, and
 * join it: clone with CLONE_THREAD, CLONE_CHILD_CLEARTID's futex wake and
 * the join's futex wait. */
#include "bench.h"

#include <pthread.h>

static void *nothing(void *arg)
{
	return arg;
}

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		pthread_t th;
		if (pthread_create(&th, NULL, nothing, NULL) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1);
		}
		pthread_join(th, NULL);
	}
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "thread_create_join", op);
}
