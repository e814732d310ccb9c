/*
 * sudbench: the cost of a syscall trapped to a SIGSYS handler, with a
 * seccomp SECCOMP_RET_TRAP filter (what systrap uses) and with syscall
 * user dispatch (PR_SET_SYSCALL_USER_DISPATCH). The handler is systrap's in
 * miniature: it runs on an alternate stack and returns with rt_sigreturn
 * from its own page, the only range allowed to make syscalls. Run natively:
 *
 *	gcc -O2 -static -o sudbench sudbench.c
 *	./sudbench 200000        # native, then seccomp trap
 *	./sudbench 200000 sud    # native, then syscall user dispatch
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

/* The handler page: "add $8, %rsp; mov $15, %eax; syscall" (rt_sigreturn,
 * with the frame's rax: the syscall's result is whatever it held). */
static const unsigned char handler_code[] = {0x48, 0x83, 0xc4, 0x08, 0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05};

static char selector = SYSCALL_DISPATCH_FILTER_ALLOW;

static long raw_getpid(void)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_getpid) : "rcx", "r11", "memory");
	return r;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double measure(long n)
{
	double t0 = now();
	for (long i = 0; i < n; i++)
		raw_getpid();
	return (now() - t0) / n * 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	printf("native getpid: %.0f ns\n", measure(n));

	unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(page, handler_code, sizeof handler_code);
	mprotect(page, 4096, PROT_READ | PROT_EXEC);
	stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {0};
	sa.sa_handler = (void (*)(int))page;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);

	/* clock_gettime (vDSO) and the loop need no syscalls; only the
	 * measured getpid and the handler's rt_sigreturn run. */
	uint64_t ip = (uint64_t)page + 11; /* after the handler's syscall */
	double *result = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int mode_sud = argc > 2 && strncmp(argv[2], "sud", 3) == 0;
	/* "sud+seccomp": user dispatch, plus systrap's seccomp filter with
	 * KILL instead of TRAP (user dispatch runs first, so the filter sees
	 * only the handler's syscalls). */
	int with_filter = argc > 2 && strcmp(argv[2], "sud+seccomp") == 0;
	if (!mode_sud) {
		pid_t c = fork();
		if (c > 0) {
			int st;
			waitpid(c, &st, 0);
			printf("seccomp trap getpid: %.0f ns (child status %#x)\n", *result, st);
			return 0;
		}
	}
	if (mode_sud) {
		if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (unsigned long)page, 4096, &selector)) {
			perror("PR_SET_SYSCALL_USER_DISPATCH");
			return 1;
		}
		if (with_filter) {
			struct sock_filter f[] = {
				BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
				BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xc000003e, 1, 0),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
				BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),
				BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ip >> 32), 1, 0),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
				BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
				BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ip, 1, 0),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			};
			struct sock_fprog prog = {sizeof f / sizeof f[0], f};
			pid_t c = fork();
			if (c > 0) {
				int st;
				waitpid(c, &st, 0);
				printf("user dispatch + seccomp getpid: %.0f ns (child status %#x)\n", *result, st);
				return 0;
			}
			/* User dispatch is not inherited by fork. */
			if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (unsigned long)page, 4096, &selector))
				_exit(2);
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
			/* The filter kills the next syscall not made from the
			 * handler page, so block (a store) at once. */
			syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
			selector = SYSCALL_DISPATCH_FILTER_BLOCK;
			*result = measure(n);
			__asm__ volatile("xor %%edi, %%edi\n\tmov $231, %%eax\n\tjmp *%0" ::"r"(page + 9) : "rdi", "rax");
		}
		selector = SYSCALL_DISPATCH_FILTER_BLOCK;
		printf("user dispatch getpid: %.0f ns\n", measure(n));
		selector = SYSCALL_DISPATCH_FILTER_ALLOW;
		return 0;
	}
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xc000003e, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ip >> 32), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ip, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		perror("seccomp");
		return 1;
	}
	*result = measure(n);
	/* Every syscall outside the handler page traps now: leave through
	 * its syscall instruction. */
	__asm__ volatile("xor %%edi, %%edi\n\tmov $231, %%eax\n\tjmp *%0" ::"r"(page + 9) : "rdi", "rax");
	return 0;
}
