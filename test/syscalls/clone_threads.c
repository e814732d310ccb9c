/* clone_threads: 1,000 threads created with pthread_create (glibc's clone3
 * or clone with CLONE_VM|CLONE_THREAD|CLONE_SIGHAND|CLONE_SETTLS|
 * CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID) and joined in batches; each
 * records its tid and pid. The tids must be distinct, differ from the pid,
 * and every thread must see the process' pid; pthread_join relies on the
 * kernel clearing the tid word and waking the joiner at thread exit. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

#define TOTAL 1000
#define BATCH 50

static pid_t tids[TOTAL];
static pid_t pids[TOTAL];
static int tls_ok[TOTAL];
static __thread int tls_slot = -1;

static void *worker(void *arg)
{
	long i = (long)arg;
	tls_slot = (int)i; /* thread-local storage is per thread (CLONE_SETTLS) */
	tids[i] = syscall(SYS_gettid);
	pids[i] = getpid();
	sched_yield();
	tls_ok[i] = tls_slot == (int)i;
	return (void *)(i * 3);
}

static int cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	pid_t me = getpid();
	int created = 0, joined = 0, retok = 0;
	for (int base = 0; base < TOTAL; base += BATCH) {
		pthread_t th[BATCH];
		int n = 0;
		for (int j = 0; j < BATCH; j++) {
			pthread_attr_t attr;
			pthread_attr_init(&attr);
			pthread_attr_setstacksize(&attr, 64 << 10);
			if (pthread_create(&th[j], &attr, worker, (void *)(long)(base + j)) == 0)
				n++, created++;
			pthread_attr_destroy(&attr);
		}
		for (int j = 0; j < n; j++) {
			void *ret;
			if (pthread_join(th[j], &ret) == 0) {
				joined++;
				if ((long)ret == (long)(base + j) * 3)
					retok++;
			}
		}
	}
	CHECK_EQ("threads created", created, TOTAL);
	CHECK_EQ("threads joined", joined, TOTAL);
	CHECK_EQ("return values", retok, TOTAL);
	int pidok = 0, tidok = 0, tlsok = 0;
	for (int i = 0; i < TOTAL; i++) {
		pidok += pids[i] == me;
		tidok += tids[i] > 0 && tids[i] != me;
		tlsok += tls_ok[i];
	}
	CHECK_EQ("every thread sees the pid", pidok, TOTAL);
	CHECK_EQ("every tid is another id", tidok, TOTAL);
	CHECK_EQ("thread-local storage", tlsok, TOTAL);
	/* Threads of one batch run at the same time, so their tids differ. */
	int distinct = 1;
	for (int base = 0; base < TOTAL; base += BATCH) {
		pid_t b[BATCH];
		memcpy(b, tids + base, sizeof(b));
		qsort(b, BATCH, sizeof(b[0]), cmp);
		for (int j = 1; j < BATCH; j++)
			if (b[j] == b[j - 1])
				distinct = 0;
	}
	CHECK("tids within a batch are distinct", distinct);
	return check_done();
}
