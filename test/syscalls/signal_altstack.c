/* signal_altstack: sigaltstack's checks (ENOMEM below MINSIGSTKSZ, EINVAL
 * for bad flags, EPERM while running on it), SA_ONSTACK handlers run on the
 * alternate stack, SS_AUTODISARM, and a stack overflow caught by a SIGSEGV
 * handler on the alternate stack; without one the overflow kills. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static char *alt;
static size_t altsz = 65536;
static int on_alt, query_flags, eperm, uc_flags_saved;

static int in_alt(void *p)
{
	return (char *)p >= alt && (char *)p < alt + altsz;
}

static void handler(int sig, siginfo_t *si, void *ucp)
{
	ucontext_t *uc = ucp;
	int local;
	(void)sig;
	(void)si;
	on_alt = in_alt(&local);
	stack_t q, n = {.ss_sp = alt, .ss_size = altsz, .ss_flags = 0};
	sigaltstack(NULL, &q);
	query_flags = q.ss_flags;
	eperm = sigaltstack(&n, NULL) == -1 && errno == EPERM;
	uc_flags_saved = uc->uc_stack.ss_flags;
}

static int plain_flags;
static void on_plain(int sig)
{
	stack_t q;
	(void)sig;
	sigaltstack(NULL, &q);
	plain_flags = q.ss_flags;
}

static char *gstack;
static ucontext_t main_uc, deep_uc;

static volatile int limit = 1 << 30;

__attribute__((noinline)) static int recurse(int n)
{
	volatile char buf[1024];
	buf[0] = (char)n;
	if (n > limit)
		return 0;
	return recurse(n + 1) + buf[0];
}

static void deep(void)
{
	recurse(0);
}

static void on_segv(int sig, siginfo_t *si, void *ucp)
{
	int local;
	(void)sig;
	(void)ucp;
	int ok = in_alt(&local) && (char *)si->si_addr >= gstack && (char *)si->si_addr < gstack + 4096;
	_exit(ok ? 7 : 8);
}

static int overflow_child(int with_alt)
{
	pid_t c = fork();
	if (c == 0) {
		struct sigaction sa = {0};
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigaction(SIGSEGV, &sa, NULL);
		stack_t ss = {.ss_sp = alt, .ss_size = altsz};
		if (!with_alt)
			ss.ss_flags = SS_DISABLE;
		sigaltstack(&ss, NULL);
		gstack = mmap(NULL, 65536 + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(gstack, 4096, PROT_NONE);
		getcontext(&deep_uc);
		deep_uc.uc_stack.ss_sp = gstack + 4096;
		deep_uc.uc_stack.ss_size = 65536;
		deep_uc.uc_link = &main_uc;
		makecontext(&deep_uc, deep, 0);
		swapcontext(&main_uc, &deep_uc);
		_exit(1);
	}
	int st = 0;
	waitpid(c, &st, 0);
	return st;
}

int main(void)
{
	alt = mmap(NULL, altsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss, q;
	CHECK_OK("query", sigaltstack(NULL, &q));
	CHECK_EQ("initially disabled", q.ss_flags, SS_DISABLE);
	ss.ss_sp = alt;
	ss.ss_size = 1024;
	ss.ss_flags = 0;
	CHECK_ERR("too small", sigaltstack(&ss, NULL), ENOMEM);
	ss.ss_size = altsz;
	ss.ss_flags = 0x10;
	CHECK_ERR("bad flags", sigaltstack(&ss, NULL), EINVAL);
	CHECK_ERR("EFAULT", sigaltstack((void *)8, NULL), EFAULT);
	ss.ss_flags = 0;
	CHECK_OK("set", sigaltstack(&ss, &q));
	CHECK_EQ("old was disabled", q.ss_flags, SS_DISABLE);
	CHECK_OK("query again", sigaltstack(NULL, &q));
	CHECK("query matches", q.ss_sp == alt && q.ss_size == altsz && q.ss_flags == 0);

	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	CHECK("handler on altstack", on_alt);
	CHECK_EQ("flags in handler", query_flags, SS_ONSTACK);
	CHECK("EPERM while on it", eperm);
	CHECK_EQ("uc_stack flags", uc_flags_saved, 0);

	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	CHECK("no SA_ONSTACK: not on altstack", !on_alt);
	CHECK_EQ("flags off altstack", query_flags, 0);

	ss.ss_flags = SS_AUTODISARM;
	CHECK_OK("autodisarm", sigaltstack(&ss, NULL));
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	CHECK("autodisarm handler on altstack", on_alt);
	CHECK_EQ("autodisarm: disabled in handler", query_flags, SS_DISABLE);
	CHECK("autodisarm: no EPERM", !eperm);
	CHECK_EQ("autodisarm: uc_stack flags", (unsigned)uc_flags_saved, SS_AUTODISARM);
	CHECK_OK("query after", sigaltstack(NULL, &q));
	/* The handler installed a stack it ran on: sigreturn keeps it. */
	CHECK("handler's stack kept", q.ss_sp == alt && q.ss_size == altsz && q.ss_flags == 0);

	/* A handler that leaves the stack alone gets it back re-armed. */
	ss.ss_flags = SS_AUTODISARM;
	CHECK_OK("autodisarm again", sigaltstack(&ss, NULL));
	{
		struct sigaction plain = {0};
		plain.sa_handler = on_plain;
		plain.sa_flags = SA_ONSTACK;
		sigaction(SIGUSR1, &plain, NULL);
	}
	raise(SIGUSR1);
	CHECK_EQ("plain handler saw disabled", plain_flags, SS_DISABLE);
	CHECK_OK("query after plain", sigaltstack(NULL, &q));
	CHECK("re-armed by sigreturn", q.ss_sp == alt && q.ss_size == altsz && (unsigned)q.ss_flags == SS_AUTODISARM);

	ss.ss_flags = SS_DISABLE;
	CHECK_OK("disable", sigaltstack(&ss, NULL));
	CHECK_OK("query disabled", sigaltstack(NULL, &q));
	CHECK("disabled", q.ss_flags == SS_DISABLE && q.ss_size == 0);

	int st = overflow_child(1);
	CHECK("overflow caught on altstack", WIFEXITED(st) && WEXITSTATUS(st) == 7);
	st = overflow_child(0);
	CHECK("overflow without altstack kills", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	return check_done();
}
