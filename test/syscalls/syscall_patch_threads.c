/* syscall_patch_threads: a process of many threads (512 in the suite, whose
 * ptrace run would take minutes with more; `syscall_patch_threads 4095` by
 * hand, systrap's limit per address space), all alive at once, each running a "mov $NR, %eax; syscall"
 * site (patched by systrap after its first trap) many times. */
// rampart:timeout 300s
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

long spt_gettid(void);
__asm__(".text\n"
	".p2align 4\n"
	"spt_gettid: nop\n mov $186, %eax\n syscall\n ret\n");

#define MAXTHREADS 8192

static pthread_barrier_t all_up;

static void *thread_main(void *arg)
{
	(void)arg;
	long tid = syscall(SYS_gettid), bad = 0;
	pthread_barrier_wait(&all_up);
	for (int i = 0; i < 200; i++)
		if (spt_gettid() != tid)
			bad++;
	return (void *)bad;
}

int main(int argc, char **argv)
{
	/* The main thread is one of them. */
	int nthreads = (argc > 1 ? atoi(argv[1]) : 512) - 1;
	if (nthreads < 1 || nthreads > MAXTHREADS)
		nthreads = 511;
	static pthread_t th[MAXTHREADS];
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	pthread_barrier_init(&all_up, NULL, nthreads + 1);
	int made = 0;
	for (; made < nthreads; made++)
		if (pthread_create(&th[made], &attr, thread_main, NULL) != 0)
			break;
	CHECK_EQ("threads created", made, nthreads);
	if (made != nthreads)
		return check_done(); /* the barrier would never open */
	pthread_barrier_wait(&all_up);
	long bad = 0;
	for (int i = 0; i < 200; i++)
		if (spt_gettid() != syscall(SYS_gettid))
			bad++;
	for (int i = 0; i < made; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	CHECK_EQ("every thread's syscalls", bad, 0);
	return check_done();
}
