/* syscall_patch_cross: "mov $NR, %eax; syscall" sites that span two
 * 16-byte blocks, about a quarter of glibc's (systrap rewrites them in two
 * steps: alone while the process has a single thread, with its other
 * threads stopped otherwise). Calls from such sites return the right
 * results single-threaded, in a fork child, in a vfork child, and from
 * several threads at once, also from a site that five threads reach for
 * the first time together. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

long cross_getpid(void);
long cross_getppid(void);
long cross_gettid(void);
long cross_getuid(void);

/* Each "mov $NR, %eax" starts at offset 10, 12, 15 or 13 of its block. */
__asm__(".text\n"
	".p2align 4\n .skip 10, 0x90\n"
	"cross_getpid:\n cross_getpid_site: mov $39, %eax\n syscall\n ret\n"
	".p2align 4\n .skip 12, 0x90\n"
	"cross_getppid: mov $110, %eax\n syscall\n ret\n"
	".p2align 4\n .skip 15, 0x90\n"
	"cross_gettid: mov $186, %eax\n syscall\n ret\n"
	".p2align 4\n .skip 13, 0x90\n"
	"cross_getuid: mov $102, %eax\n syscall\n ret\n");

/* calls makes n calls from each site and counts wrong results. */
static long calls(int n)
{
	long pid = syscall(SYS_getpid), ppid = syscall(SYS_getppid), tid = syscall(SYS_gettid), bad = 0;
	for (int i = 0; i < n; i++) {
		bad += cross_getpid() != pid;
		bad += cross_getppid() != ppid;
		bad += cross_gettid() != tid;
	}
	return bad;
}

/* calls_new makes n calls from cross_getuid's site, which no thread ran
 * before the threads existed, after a barrier that lets all five threads
 * reach it together; it counts wrong results. */
static pthread_barrier_t start;

static long calls_new(int n)
{
	long uid = syscall(SYS_getuid), bad = 0;
	pthread_barrier_wait(&start);
	for (int i = 0; i < n; i++)
		bad += cross_getuid() != uid;
	return bad;
}

static void *thread_calls(void *arg)
{
	(void)arg;
	return (void *)(calls_new(20000) + calls(20000));
}

static void in_child(const char *what, int use_vfork)
{
	pid_t c = use_vfork ? vfork() : fork();
	REQUIRE("fork", c >= 0);
	if (c == 0)
		_exit(calls(use_vfork ? 100 : 5000) == 0 ? 0 : 1);
	int st;
	CHECK_EQ("waitpid", waitpid(c, &st, 0), c);
	CHECK(what, WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	/* Trap, and be patched (in the sandbox). */
	CHECK_EQ("single-threaded calls", calls(5000), 0);
	in_child("calls in a fork child", 0);
	CHECK_EQ("calls after the fork", calls(5000), 0);
	in_child("calls in a vfork child", 1);
	CHECK_EQ("calls after the vfork", calls(5000), 0);

	pthread_t th[4];
	REQUIRE("pthread_barrier_init", pthread_barrier_init(&start, NULL, 5) == 0);
	for (int i = 0; i < 4; i++)
		REQUIRE("pthread_create", pthread_create(&th[i], NULL, thread_calls, NULL) == 0);
	long bad = calls_new(20000) + calls(20000);
	for (int i = 0; i < 4; i++) {
		void *r;
		REQUIRE("pthread_join", pthread_join(th[i], &r) == 0);
		bad += (long)r;
	}
	CHECK_EQ("calls from 5 threads at once", bad, 0);
	in_child("calls in a fork child of a threaded process", 0);
	return check_done();
}
