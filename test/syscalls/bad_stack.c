/*
 * bad_stack: an application that corrupts its own stack pointer gets what
 * Linux gives it. A syscall works (it needs no user stack); a signal that
 * must be delivered on that stack (raised by the syscall itself, or the
 * signal of a fault) cannot be, and the process dies of SIGSEGV; a
 * handler on an alternate stack runs regardless and the program goes on.
 * A trapping platform whose own handler ran on the application's stack
 * would crash instead.
 *
 * The deaths happen in children (the sandbox runs the test as pid 1).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* sys_bad_sp runs syscall nr(a0, a1) with rsp = sp and returns its result
 * (rsp is restored from r12, which signal delivery preserves). */
static long sys_bad_sp(uintptr_t sp, long nr, long a0, long a1)
{
	long r;
	__asm__ volatile("mov %%rsp, %%r12\n\t"
			 "mov %[sp], %%rsp\n\t"
			 "syscall\n\t"
			 "mov %%r12, %%rsp"
			 : "=a"(r)
			 : "a"(nr), "D"(a0), "S"(a1), [sp] "r"(sp)
			 : "rcx", "r11", "r12", "memory");
	return r;
}

/* ud2_bad_sp executes ud2 with rsp = sp. */
static void ud2_bad_sp(uintptr_t sp)
{
	__asm__ volatile("mov %0, %%rsp\n\tud2" ::"r"(sp) : "memory");
}

/* store_bad_sp writes to address 8 with rsp = sp. */
static void store_bad_sp(uintptr_t sp)
{
	__asm__ volatile("mov %0, %%rsp\n\tmovq $1, 8" ::"r"(sp) : "memory");
}

static volatile sig_atomic_t handled;
static void on_sig(int sig)
{
	(void)sig;
	handled = 1;
}

/* status_of runs fn(sp) in a child with handler installed for sig (none
 * if sig is 0) and returns the child's wait status. */
static int status_of(void (*fn)(uintptr_t), uintptr_t sp, int sig)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (sig != 0) {
			struct sigaction sa = {.sa_handler = on_sig};
			sigaction(sig, &sa, NULL);
		}
		fn(sp);
		_exit(0);
	}
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static void raise_usr1(uintptr_t sp)
{
	sys_bad_sp(sp, SYS_kill, getpid(), SIGUSR1);
}

static int killed_by(int st, int sig)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == sig;
}

int main(void)
{
	/* A read-only page: a stack pointer that points at mapped memory the
	 * kernel cannot write a frame to. */
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", ro != MAP_FAILED);
	const uintptr_t sps[] = {0, 1, 0xffff800000000000ul, (uintptr_t)ro + 2048};
	const char *names[] = {"rsp = 0", "rsp = 1", "kernel-half rsp", "rsp in a read-only page"};

	for (int i = 0; i < 4; i++) {
		printf("%s\n", names[i]);
		CHECK_EQ("  a syscall works", sys_bad_sp(sps[i], SYS_getppid, 0, 0), getppid());
		CHECK("  a signal raised by the syscall kills with SIGSEGV",
		      killed_by(status_of(raise_usr1, sps[i], SIGUSR1), SIGSEGV));
		CHECK("  ud2 without a handler kills with SIGILL", killed_by(status_of(ud2_bad_sp, sps[i], 0), SIGILL));
		CHECK("  ud2 with a SIGILL handler kills with SIGSEGV",
		      killed_by(status_of(ud2_bad_sp, sps[i], SIGILL), SIGSEGV));
		CHECK("  a bad store with a SIGSEGV handler kills with SIGSEGV",
		      killed_by(status_of(store_bad_sp, sps[i], SIGSEGV), SIGSEGV));
	}

	/* With the handler on an alternate stack, the signal is delivered and
	 * the program goes on. */
	stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536};
	REQUIRE("sigaltstack", sigaltstack(&ss, NULL) == 0);
	struct sigaction sa = {.sa_handler = on_sig, .sa_flags = SA_ONSTACK};
	sigaction(SIGUSR1, &sa, NULL);
	CHECK_EQ("kill(self) with rsp = 0, handler on an alternate stack", sys_bad_sp(0, SYS_kill, getpid(), SIGUSR1), 0);
	CHECK("the handler ran", handled);
	handled = 0;
	CHECK_EQ("again with rsp in a read-only page", sys_bad_sp((uintptr_t)ro + 2048, SYS_kill, getpid(), SIGUSR1), 0);
	CHECK("the handler ran", handled);
	return check_done();
}
