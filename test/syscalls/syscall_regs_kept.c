/* syscall_regs_kept: a syscall keeps every register but rax, rcx and r11
 * (r11 = the flags), whatever the sentry does around it. Under systrap a
 * patched syscall leaves rbx, rbp, r12-r15, r11 and the flags with the
 * application, and the sentry fetches them only when it needs the whole
 * set: a signal frame and sigreturn, fork, a ptrace stop. Each round sets
 * those registers from a value, makes getpid from a patchable site and
 * checks them; rounds run with a timer signal whose handler makes rounds
 * of its own, across fork (the child checks the registers fork gave it),
 * from several threads, and under a tracer that checks them at every
 * syscall stop. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* round(v) sets rbx, rbp, r12-r15 to v+1 .. v+6 and the carry flag, makes
 * getpid ("mov $39, %eax; syscall" at the start of a 16-byte block, so
 * patchable) and returns a mask of what did not come back: bits 0-5 the
 * six registers, bit 6 the carry flag, bit 7 r11 != the flags. */
long round_getpid(long v);
/* round_fork is the same around fork (57); it returns the mask, and the
 * fork's result in *pid. */
long round_fork(long v, long *pid);

#define SETREGS \
	" push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n" \
	" lea 1(%rdi), %rbx\n lea 2(%rdi), %rbp\n lea 3(%rdi), %r12\n" \
	" lea 4(%rdi), %r13\n lea 5(%rdi), %r14\n lea 6(%rdi), %r15\n stc\n"
#define CHECKREGS \
	" pushfq\n pop %rcx\n xor %edx, %edx\n" \
	" cmp %rcx, %r11\n je 1f\n or $128, %edx\n1:\n" \
	" test $1, %ecx\n jnz 1f\n or $64, %edx\n1:\n" \
	" lea 1(%rdi), %rcx\n cmp %rcx, %rbx\n je 1f\n or $1, %edx\n1:\n" \
	" lea 2(%rdi), %rcx\n cmp %rcx, %rbp\n je 1f\n or $2, %edx\n1:\n" \
	" lea 3(%rdi), %rcx\n cmp %rcx, %r12\n je 1f\n or $4, %edx\n1:\n" \
	" lea 4(%rdi), %rcx\n cmp %rcx, %r13\n je 1f\n or $8, %edx\n1:\n" \
	" lea 5(%rdi), %rcx\n cmp %rcx, %r14\n je 1f\n or $16, %edx\n1:\n" \
	" lea 6(%rdi), %rcx\n cmp %rcx, %r15\n je 1f\n or $32, %edx\n1:\n" \
	" pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"

__asm__(".text\n"
	".p2align 4\n round_getpid:\n" SETREGS
	" .p2align 4\n mov $39, %eax\n syscall\n" CHECKREGS
	" mov %rdx, %rax\n ret\n"
	".p2align 4\n round_fork:\n" SETREGS
	" .p2align 4\n mov $57, %eax\n syscall\n"
	" mov %rax, (%rsi)\n" CHECKREGS
	" mov %rdx, %rax\n ret\n");

/* rounds makes n rounds with values from seed and counts bad ones. */
static long rounds(long seed, int n)
{
	long bad = 0;
	for (int i = 0; i < n; i++)
		bad += round_getpid(seed + 16L * i) != 0;
	return bad;
}

static volatile long handler_bad, handled;

static void on_alarm(int sig)
{
	(void)sig;
	/* Rounds of its own, so that the handler's syscalls change the
	 * registers the interrupted ones must get back. */
	handler_bad += rounds(0x5000000000L + 1000 * handled, 20);
	handled++;
}

static void *thread_rounds(void *arg)
{
	return (void *)rounds((long)(intptr_t)arg << 40, 50000);
}

int main(void)
{
	CHECK_EQ("rounds", rounds(0x1000, 20000), 0);

	/* A signal right after a syscall gets, and sigreturn gives back,
	 * the registers the syscall kept. */
	struct sigaction sa = {.sa_handler = on_alarm};
	REQUIRE("sigaction", sigaction(SIGALRM, &sa, NULL) == 0);
	struct itimerval it = {{0, 200}, {0, 200}};
	REQUIRE("setitimer", setitimer(ITIMER_REAL, &it, NULL) == 0);
	long bad = 0;
	for (int k = 0; handled < 200 && k < 2000; k++)
		bad += rounds(0x2000000L * (k + 1), 1000);
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	CHECK("200 signals handled", handled >= 200);
	CHECK_EQ("rounds interrupted by signals", bad, 0);
	CHECK_EQ("rounds in the signal handler", handler_bad, 0);

	/* fork copies the registers its caller kept (the first fork from
	 * the site traps, the next ones are patched). */
	int st, children_bad = 0;
	bad = 0;
	for (int i = 0; i < 4; i++) {
		long pid;
		long mask = round_fork(0x3000 + 16 * i, &pid);
		if (pid == 0)
			_exit(mask == 0 && rounds(0x4000, 1000) == 0 ? 0 : 1);
		REQUIRE("fork", pid > 0);
		bad += mask != 0;
		REQUIRE("waitpid", waitpid(pid, &st, 0) == pid);
		children_bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	CHECK_EQ("registers across fork, parent", bad, 0);
	CHECK_EQ("registers across fork, children", children_bad, 0);

	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		REQUIRE("pthread_create", pthread_create(&th[i], NULL, thread_rounds, (void *)(intptr_t)(i + 1)) == 0);
	bad = rounds(0x7000, 50000);
	for (int i = 0; i < 3; i++) {
		void *r;
		REQUIRE("pthread_join", pthread_join(th[i], &r) == 0);
		bad += (long)r;
	}
	CHECK_EQ("rounds from 4 threads", bad, 0);

	/* A tracer sees them at each syscall stop: rbx = rdi + 1, r15 =
	 * rdi + 6 at a round's getpid. */
	pid_t c = fork();
	REQUIRE("fork", c >= 0);
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		_exit(rounds(0x6000, 300) == 0 ? 0 : 1);
	}
	REQUIRE("waitpid stop", waitpid(c, &st, 0) == c && WIFSTOPPED(st));
	int stops = 0, wrong = 0;
	for (;;) {
		REQUIRE("PTRACE_SYSCALL", ptrace(PTRACE_SYSCALL, c, 0, 0) == 0);
		REQUIRE("waitpid", waitpid(c, &st, 0) == c);
		if (!WIFSTOPPED(st))
			break;
		struct user_regs_struct r;
		REQUIRE("PTRACE_GETREGS", ptrace(PTRACE_GETREGS, c, 0, &r) == 0);
		if (r.orig_rax == SYS_getpid && r.rdi >= 0x6000 && r.rdi < 0x6000 + 16 * 300) {
			stops++;
			wrong += r.rbx != r.rdi + 1 || r.r15 != r.rdi + 6 || r.rbp != r.rdi + 2;
		}
	}
	CHECK("tracee exited 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ("getpid stops seen", stops, 600);
	CHECK_EQ("registers wrong at a stop", wrong, 0);
	return check_done();
}
