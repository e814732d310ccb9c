/* signal_fault: synchronous signals from faults reach handlers with the
 * siginfo Linux gives: int3 -> SIGTRAP (SI_KERNEL, rip after the int3),
 * ud2 -> SIGILL (ILL_ILLOPN at the instruction), integer divide by zero ->
 * SIGFPE (FPE_INTDIV), SIGSEGV with si_addr and SEGV_MAPERR vs SEGV_ACCERR.
 * A fault signal that is ignored or blocked still kills (in a child). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

static sigjmp_buf env;
static siginfo_t got;
static uint64_t got_rip, got_trapno, got_err;

static void handler(int sig, siginfo_t *si, void *ucp)
{
	ucontext_t *uc = ucp;
	(void)sig;
	got = *si;
	got_rip = uc->uc_mcontext.gregs[REG_RIP];
	got_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	got_err = uc->uc_mcontext.gregs[REG_ERR];
	siglongjmp(env, 1);
}

extern char int3_after[], ud2_at[];

__attribute__((noinline)) static void do_int3(void)
{
	__asm__ volatile("int3\n.globl int3_after\nint3_after:\n" ::: "memory");
}

__attribute__((noinline)) static void do_ud2(void)
{
	__asm__ volatile(".globl ud2_at\nud2_at:\nud2\n" ::: "memory");
}

static volatile int zero = 0;

__attribute__((noinline)) static int divide(int a, int b)
{
	int q;
	__asm__ volatile("cltd\n\tidivl %2" : "=a"(q) : "a"(a), "r"(b) : "edx");
	return q;
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	int sigs[] = {SIGTRAP, SIGILL, SIGFPE, SIGSEGV, SIGBUS};
	for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);

	if (!sigsetjmp(env, 1))
		do_int3();
	CHECK_EQ("int3 signo", got.si_signo, SIGTRAP);
	CHECK_EQ("int3 code", got.si_code, SI_KERNEL);
	CHECK("int3 rip after int3", got_rip == (uint64_t)int3_after);
	CHECK_EQ("int3 trapno", got_trapno, 3);

	if (!sigsetjmp(env, 1))
		do_ud2();
	CHECK_EQ("ud2 signo", got.si_signo, SIGILL);
	CHECK_EQ("ud2 code", got.si_code, ILL_ILLOPN);
	CHECK("ud2 addr", got.si_addr == (void *)ud2_at);
	CHECK("ud2 rip", got_rip == (uint64_t)ud2_at);
	CHECK_EQ("ud2 trapno", got_trapno, 6);

	if (!sigsetjmp(env, 1)) {
		divide(1, zero);
	}
	CHECK_EQ("div0 signo", got.si_signo, SIGFPE);
	CHECK_EQ("div0 code", got.si_code, FPE_INTDIV);
	CHECK("div0 addr is rip", got.si_addr == (void *)got_rip);
	CHECK_EQ("div0 trapno", got_trapno, 0);

	char *p = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", p != MAP_FAILED);
	munmap(p + 4096, 4096);
	if (!sigsetjmp(env, 1))
		*(volatile char *)(p + 4096 + 123) = 1;
	CHECK_EQ("unmapped signo", got.si_signo, SIGSEGV);
	CHECK_EQ("unmapped MAPERR", got.si_code, SEGV_MAPERR);
	CHECK("unmapped si_addr", got.si_addr == p + 4096 + 123);
	CHECK_EQ("unmapped trapno", got_trapno, 14);

	if (!sigsetjmp(env, 1))
		(void)*(volatile char *)(p + 4096 + 5);
	CHECK_EQ("read unmapped MAPERR", got.si_code, SEGV_MAPERR);
	CHECK("read unmapped si_addr", got.si_addr == p + 4096 + 5);

	if (!sigsetjmp(env, 1))
		*(volatile char *)(p + 77) = 1;
	CHECK_EQ("readonly signo", got.si_signo, SIGSEGV);
	CHECK_EQ("readonly ACCERR", got.si_code, SEGV_ACCERR);
	CHECK("readonly si_addr", got.si_addr == p + 77);

	mprotect(p, 4096, PROT_NONE);
	if (!sigsetjmp(env, 1))
		(void)*(volatile char *)(p + 8);
	CHECK_EQ("PROT_NONE read ACCERR", got.si_code, SEGV_ACCERR);
	CHECK("PROT_NONE si_addr", got.si_addr == p + 8);

	/* Ignored or blocked fault signals still kill. */
	pid_t c = fork();
	if (c == 0) {
		signal(SIGSEGV, SIG_IGN);
		*(volatile char *)(p + 4096) = 1;
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	CHECK("ignored SIGSEGV kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	c = fork();
	if (c == 0) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGFPE);
		sigprocmask(SIG_BLOCK, &s, NULL);
		divide(1, zero);
		_exit(0);
	}
	waitpid(c, &st, 0);
	CHECK("blocked SIGFPE kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGFPE);
	c = fork();
	if (c == 0) {
		signal(SIGTRAP, SIG_DFL);
		do_int3();
		_exit(0);
	}
	waitpid(c, &st, 0);
	CHECK("int3 default kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGTRAP);
	return check_done();
}
