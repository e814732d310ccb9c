/* syscall_patch_cross: "mov $NR, %eax; syscall" sites that span two
 * 16-byte blocks, about a quarter of glibc's (systrap patches them only
 * while the process has a single thread, and puts their code back before
 * a second one exists). Calls from such sites return the right results
 * single-threaded, in a fork child, in a vfork child, and from several
 * threads at once; once the process has threads, the sites read as their
 * original bytes again. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

long cross_getpid(void);
long cross_getppid(void);
long cross_gettid(void);
extern const unsigned char cross_getpid_site[];

/* Each "mov $NR, %eax" starts at offset 10, 12 or 15 of its block. */
__asm__(".text\n"
	".p2align 4\n .skip 10, 0x90\n"
	"cross_getpid:\n cross_getpid_site: mov $39, %eax\n syscall\n ret\n"
	".p2align 4\n .skip 12, 0x90\n"
	"cross_getppid: mov $110, %eax\n syscall\n ret\n"
	".p2align 4\n .skip 15, 0x90\n"
	"cross_gettid: mov $186, %eax\n syscall\n ret\n");

static const unsigned char orig[7] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05};

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

static void *thread_calls(void *arg)
{
	(void)arg;
	return (void *)calls(20000);
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
	for (int i = 0; i < 4; i++)
		REQUIRE("pthread_create", pthread_create(&th[i], NULL, thread_calls, NULL) == 0);
	CHECK("with threads, the site reads as its own code", memcmp(cross_getpid_site, orig, sizeof(orig)) == 0);
	long bad = calls(20000);
	for (int i = 0; i < 4; i++) {
		void *r;
		REQUIRE("pthread_join", pthread_join(th[i], &r) == 0);
		bad += (long)r;
	}
	CHECK_EQ("calls from 5 threads at once", bad, 0);
	in_child("calls in a fork child of a threaded process", 0);
	return check_done();
}
