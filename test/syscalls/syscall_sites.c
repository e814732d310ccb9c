/*
 * syscall_sites: system calls from the unusual places a trapping platform
 * must handle (systrap's handler runs on its own stack, whatever the
 * application's): a JIT-like page written and then executed, a signal
 * handler (also on an alternate stack), a vfork child, a stack pointer the
 * application has corrupted, a busy thread hammering syscalls while another
 * signals it, a signal arriving while a syscall blocks, and the -ENOSYS a
 * tracer-less application sees for a number in the table's gap.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static long raw0(long nr)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr) : "rcx", "r11", "memory");
	return r;
}

/* getpid with rsp = bad for the syscall instruction itself. */
static long getpid_bad_sp(uintptr_t bad)
{
	long r;
	__asm__ volatile("mov %%rsp, %%r12\n\t"
			 "mov %2, %%rsp\n\t"
			 "syscall\n\t"
			 "mov %%r12, %%rsp"
			 : "=a"(r)
			 : "a"((long)SYS_getpid), "r"(bad)
			 : "rcx", "r11", "r12", "memory");
	return r;
}

static volatile long handler_pid;
static volatile int handler_on_altstack;
static void on_usr1(int sig)
{
	(void)sig;
	handler_pid = raw0(SYS_getpid);
	stack_t ss;
	sigaltstack(NULL, &ss);
	handler_on_altstack = (ss.ss_flags & SS_ONSTACK) != 0;
}

static volatile int alarm_hits;
static void on_alarm(int sig)
{
	(void)sig;
	alarm_hits++;
}

static volatile int stop_hammer;
static volatile long hammer_calls;
static void *hammer(void *arg)
{
	(void)arg;
	long n = 0;
	while (!stop_hammer) {
		raw0(SYS_getppid);
		hammer_calls = ++n;
	}
	return (void *)n;
}

static volatile int usr2_hits;
static void on_usr2(int sig)
{
	(void)sig;
	usr2_hits++;
}

int main(void)
{
	long pid = getpid();

	/* A JIT page: write "mov eax, 39; syscall; ret", then run it. */
	unsigned char *jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap rwx", jit != MAP_FAILED);
	const unsigned char code[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};
	memcpy(jit, code, sizeof code);
	long (*fn)(void) = (long (*)(void))jit;
	CHECK_EQ("syscall from a JIT page", fn(), pid);
	/* Rewritten in place: now getppid. */
	jit[1] = 110;
	__builtin___clear_cache((char *)jit, (char *)jit + sizeof code);
	CHECK_EQ("syscall from rewritten code", fn(), getppid());
	/* Made read+exec only, then run again. */
	CHECK_EQ("mprotect r-x", mprotect(jit, 4096, PROT_READ | PROT_EXEC), 0);
	CHECK_EQ("syscall from r-x JIT page", fn(), getppid());

	/* A signal handler, on the normal stack and on an alternate one. */
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	CHECK_EQ("syscall from a signal handler", handler_pid, pid);
	stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
	sigaction(SIGUSR1, &sa, NULL);
	handler_pid = 0;
	raise(SIGUSR1);
	CHECK_EQ("syscall from a handler on an alternate stack", handler_pid, pid);
	CHECK("the handler ran on the alternate stack", handler_on_altstack);

	/* A vfork child shares our memory and stack. */
	volatile long child_ppid = 0;
	pid_t c = vfork();
	if (c == 0) {
		child_ppid = raw0(SYS_getppid);
		_exit(7);
	}
	int st = 0;
	CHECK_EQ("vfork child reaped", waitpid(c, &st, 0), c);
	CHECK_EQ("vfork child's exit status", WEXITSTATUS(st), 7);
	CHECK_EQ("syscall from a vfork child", child_ppid, pid);

	/* A corrupted stack pointer at the syscall instruction. */
	CHECK_EQ("syscall with rsp = 0", getpid_bad_sp(0), pid);
	CHECK_EQ("syscall with rsp = 1", getpid_bad_sp(1), pid);
	CHECK_EQ("syscall with a kernel-half rsp", getpid_bad_sp(0xffff800000000000ul), pid);
	CHECK_EQ("syscall with rsp in a read-only page", getpid_bad_sp((uintptr_t)jit + 2048), pid);

	/* A syscall number past the end of the table. (Not one in the gap
	 * 335-423: Linux 6.x answers those with SIGILL.) */
	CHECK_EQ("syscall 1000", raw0(1000), -ENOSYS);

	/* A signal interrupting a blocking read. */
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	struct sigaction al = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &al, NULL);
	alarm(1);
	char b;
	errno = 0;
	ssize_t n = read(p[0], &b, 1);
	int e = errno;
	CHECK_EQ("blocking read interrupted", n, -1);
	CHECK_EQ("with EINTR", e, EINTR);
	CHECK_EQ("the handler ran", alarm_hits, 1);

	/* Signals sent to a thread busy making syscalls. */
	signal(SIGUSR2, on_usr2);
	pthread_t th;
	REQUIRE("pthread_create", pthread_create(&th, NULL, hammer, NULL) == 0);
	/* The signals must find the thread busy, and it must go on after
	 * them: wait for its first syscalls, and for more after a hit. */
	while (hammer_calls == 0)
		sched_yield();
	for (int i = 0; i < 200; i++)
		pthread_kill(th, SIGUSR2);
	while (usr2_hits == 0)
		sched_yield();
	long at_hit = hammer_calls;
	while (hammer_calls == at_hit)
		sched_yield();
	stop_hammer = 1;
	void *cnt;
	pthread_join(th, &cnt);
	CHECK("the busy thread got signals", usr2_hits > 0);
	CHECK("and went on making syscalls", (long)cnt > at_hit);

	return check_done();
}
