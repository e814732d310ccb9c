/* codefuzz runs random machine code with random registers, to check that no
 * instruction sequence an application can run breaks the platform under it:
 * the sandbox must survive, stay responsive, and keep other processes
 * working. It is meant for the sandbox only (test/e2e/fuzz.sh): it refuses
 * to run unless RAMPART_FUZZ_SANDBOXED=1 is set.
 *
 * usage: codefuzz SEED SNIPPETS [THREADS]
 *
 * A forked worker runs snippets until the budget is spent or it dies; the
 * parent then starts the next worker. A snippet is one jump, with every
 * general register, the flags and the stack pointer set from seeded
 * choices (0, small values, random words, pointers into a scratch area,
 * into the code page, into the stub), to one of:
 *
 *  - random bytes in a private read-write-execute page, sprinkled with
 *    sequences that enter the kernel or the platform: syscall, int $0x80,
 *    sysenter, int3, ud2, hlt, cpuid, rdtsc, wr/rdfsbase and wr/rdgsbase,
 *    "mov $NR, %eax; syscall" (the shape syscall patching rewrites) and
 *    jumps into the middle of such a sequence;
 *  - the same page after it ran "mov $NR, %eax; syscall" sites enough
 *    times to be patched, with bytes around and inside them rewritten;
 *  - (THREADS 2) the same while a second thread calls a patched site in
 *    that page, and glibc's syscall(2), in a loop;
 *  - any byte of the systrap stub's image, which is mapped in every
 *    application's address space above its range (found from the gs base,
 *    which is the thread's state page there; not under ptrace).
 *
 * Every fault, trap and SIGSYS ends the snippet through a handler that
 * points the context back at the loop; a 5 ms interval timer ends the ones
 * that loop. The worker's seccomp filter makes every system call fail with
 * EPERM but a few harmless ones (and rt_sigreturn, which random code may
 * call with a forged frame): random numbers and arguments are sysfuzz's
 * business; here the point is where and how the kernel is entered.
 *
 * The parent counts snippets and signals in a shared page, kills a worker
 * that made no progress for 5 s (which must then end within 5 s), and
 * prints "codefuzz: ok" if the kernel still does basic work after each
 * worker. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* Where the worker's own memory lives: far (> 2 GiB) from the program, its
 * stack and its heap, so that rip-relative and 32-bit absolute addresses in
 * random code cannot reach them. */
#define CODE ((uint8_t *)0x300000000000ULL)
#define CODESZ (64 << 10)
#define SCRATCH ((uint8_t *)0x300100000000ULL)
#define SCRATCHSZ (1 << 20)
#define RECOVER ((uint8_t *)0x300200000000ULL)
#define RECOVERSZ (256 << 10)
#define ALTSTACK ((uint8_t *)0x300300000000ULL)
#define ALTSTACKSZ (256 << 10)

/* The systrap stub image's size bound (platform/systrap/layout.go:
 * imageSize is under 100 KiB). */
#define STUBSZ (128 << 10)

struct shared {
	volatile uint64_t snippets;
	volatile uint64_t signals[65];
	volatile uint64_t stubjumps;
	volatile uint64_t patched;
	volatile uint64_t callercalls;
};

static struct shared *sh;
static uint64_t rng;
static uint64_t budget;
static uint64_t fsbase;
static uint64_t stubbase;

/* g_regs holds rax rbx rcx rdx rsi rdi rbp r8-r15 rsp, then flags and the
 * target, in the order enter_code loads them. */
uint64_t g_regs[18];

void enter_code(void);
__asm__(".text\n"
	".globl enter_code\n"
	"enter_code:\n"
	"	pushq g_regs+128(%rip)\n"
	"	popfq\n"
	"	movq g_regs+8(%rip), %rbx\n"
	"	movq g_regs+16(%rip), %rcx\n"
	"	movq g_regs+24(%rip), %rdx\n"
	"	movq g_regs+32(%rip), %rsi\n"
	"	movq g_regs+40(%rip), %rdi\n"
	"	movq g_regs+48(%rip), %rbp\n"
	"	movq g_regs+56(%rip), %r8\n"
	"	movq g_regs+64(%rip), %r9\n"
	"	movq g_regs+72(%rip), %r10\n"
	"	movq g_regs+80(%rip), %r11\n"
	"	movq g_regs+88(%rip), %r12\n"
	"	movq g_regs+96(%rip), %r13\n"
	"	movq g_regs+104(%rip), %r14\n"
	"	movq g_regs+112(%rip), %r15\n"
	"	movq g_regs+120(%rip), %rsp\n"
	"	movq g_regs+0(%rip), %rax\n"
	"	jmpq *g_regs+136(%rip)\n");

static long raw(long nr, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return r;
}

#define RNG rng
#include "fuzz.h"

static uint64_t reg_value(void)
{
	switch (below(10)) {
	case 0: return 0;
	case 1: return below(512);
	case 2: return (uint64_t)-1;
	case 3: return next();
	case 4: return (uint64_t)SCRATCH + below(SCRATCHSZ);
	case 5: return (uint64_t)SCRATCH + SCRATCHSZ / 2;
	case 6: return (uint64_t)CODE + below(CODESZ);
	case 7: return stubbase ? stubbase + below(STUBSZ) : next();
	case 8: return 1ULL << below(64);
	default: return next() & 0xffffffff;
	}
}

/* Sequences that enter the kernel or the platform, or touch what it keeps. */
static const struct {
	uint8_t n, b[8];
} seqs[] = {
	{2, {0x0f, 0x05}},                         /* syscall */
	{2, {0xcd, 0x80}},                         /* int $0x80 */
	{2, {0x0f, 0x34}},                         /* sysenter */
	{1, {0xcc}},                               /* int3 */
	{2, {0xcd, 0x03}},                         /* int $3 */
	{2, {0x0f, 0x0b}},                         /* ud2 */
	{1, {0xf4}},                               /* hlt */
	{2, {0x0f, 0xa2}},                         /* cpuid */
	{2, {0x0f, 0x31}},                         /* rdtsc */
	{3, {0x0f, 0x01, 0xf9}},                   /* rdtscp */
	{5, {0xf3, 0x48, 0x0f, 0xae, 0xd0}},       /* wrfsbase %rax */
	{5, {0xf3, 0x48, 0x0f, 0xae, 0xd8}},       /* wrgsbase %rax */
	{5, {0xf3, 0x48, 0x0f, 0xae, 0xc0}},       /* rdfsbase %rax */
	{5, {0xf3, 0x48, 0x0f, 0xae, 0xc8}},       /* rdgsbase %rax */
	{4, {0x65, 0x48, 0x8b, 0x00}},             /* mov %gs:(%rax), %rax */
	{4, {0x65, 0x48, 0x89, 0x18}},             /* mov %rbx, %gs:(%rax) */
	{7, {0xb8, 39, 0, 0, 0, 0x0f, 0x05}},      /* mov $getpid, %eax; syscall */
	{7, {0xb8, 15, 0, 0, 0, 0x0f, 0x05}},      /* mov $rt_sigreturn, %eax; syscall */
	{7, {0xb8, 158, 0, 0, 0, 0x0f, 0x05}},     /* mov $arch_prctl, %eax; syscall */
	{7, {0xb8, 202, 0, 0, 0, 0x0f, 0x05}},     /* mov $futex, %eax; syscall */
	{7, {0xb8, 60, 0, 0, 0, 0x0f, 0x05}},      /* mov $exit, %eax; syscall */
	{7, {0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05}}, /* glibc syscall(2)'s site */
	{2, {0xff, 0xe0}},                         /* jmp *%rax */
	{2, {0xff, 0xd3}},                         /* call *%rbx */
	{1, {0xc3}},                               /* ret */
	{1, {0x9d}},                               /* popf */
	{3, {0x0f, 0xae, 0x10}},                   /* ldmxcsr (%rax) */
	{3, {0x0f, 0xae, 0x28}},                   /* xrstor (%rax) */
	{3, {0x8e, 0xe8, 0x90}},                   /* mov %eax, %gs */
	{3, {0x8e, 0xe0, 0x90}},                   /* mov %eax, %fs */
	{2, {0x8e, 0xd0}},                         /* mov %eax, %ss */
};
#define NSEQS (sizeof(seqs) / sizeof(seqs[0]))

static void fill_random(uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (below(4) == 0) {
			int k = below(NSEQS);
			for (int j = 0; j < seqs[k].n && i < n; j++)
				p[i++] = seqs[k].b[j];
		} else {
			p[i++] = next();
		}
	}
}

/* A site the platform may patch: at its second trap in an address space,
 * "mov $getpid, %eax; syscall; ret" (run through a call from the loop). */
#define SITE (CODE + CODESZ - 4096)

static void __attribute__((noinline)) make_site(void)
{
	static const uint8_t site[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};
	memcpy(SITE, site, sizeof(site));
	for (int i = 0; i < 3; i++)
		((void (*)(void))SITE)();
	sh->patched++;
}

/* The caller thread (with THREADS 2) calls SITE2, a "mov $getpid, %eax;
 * syscall; ret" in the same page as SITE and the random code's, and glibc's
 * syscall(2), in a loop, while the main thread's random code may rewrite
 * the page under it: patching and unpatching with another thread in the
 * code. */
#define SITE2 (SITE + 64)
#define CALLERSTACK ((uint8_t *)0x300400000000ULL)
#define CALLERSTACKSZ (64 << 10)
static volatile long caller_tid;
static uint64_t caller_fs;

static void caller_loop(void) __attribute__((noreturn));

static void caller_loop(void)
{
	static const uint8_t site[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};
	raw(SYS_arch_prctl, ARCH_SET_FS, caller_fs);
	/* Kept across the handler's restarts of the loop. */
	static uint64_t last;
	static struct timespec since;
	if (since.tv_sec == 0)
		clock_gettime(CLOCK_MONOTONIC, &since);
	for (;;) {
		memcpy(SITE2, site, sizeof(site));
		for (int i = 0; i < 16; i++) {
			((void (*)(void))SITE2)();
			raw(SYS_gettid, 0, 0);
		}
		sh->callercalls += 16;
		raw(SYS_sched_yield, 0, 0);
		/* The main thread may have ended itself (exit is allowed):
		 * with no snippet for 100 ms (20 ticks), end the worker. */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (sh->snippets != last) {
			last = sh->snippets;
			since = now;
		} else if ((now.tv_sec - since.tv_sec) * 1000000000L + now.tv_nsec - since.tv_nsec > 100000000L) {
			raw(SYS_exit_group, 0, 0);
		}
	}
}

static void *caller_start(void *arg)
{
	(void)arg;
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL); /* the ticks are the main thread's */
	stack_t ss = {.ss_sp = CALLERSTACK, .ss_size = CALLERSTACKSZ / 2};
	sigaltstack(&ss, NULL);
	raw(SYS_arch_prctl, ARCH_GET_FS, (long)&caller_fs);
	caller_tid = raw(SYS_gettid, 0, 0);
	caller_loop();
}

static void run(void) __attribute__((noreturn));

static void handler(int sig, siginfo_t *si, void *p)
{
	ucontext_t *uc = p;
	(void)si;
	if (sig > 0 && sig <= 64)
		sh->signals[sig]++;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)run;
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(RECOVER + RECOVERSZ - 8);
	int caller = caller_tid && raw(SYS_gettid, 0, 0) == caller_tid;
	if (caller) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)caller_loop;
		uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(CALLERSTACK + CALLERSTACKSZ - 8);
	}
	uc->uc_mcontext.gregs[REG_EFL] = 0x202;
	uc->uc_mcontext.gregs[REG_CSGSFS] = 0x33 | (0x2bULL << 48);
	for (size_t i = 0; i < sizeof(uc->uc_sigmask); i++)
		((uint8_t *)&uc->uc_sigmask)[i] = 0;
	/* The ticks stay the main thread's: the caller thread taking them
	 * would leave a looping snippet running for good. */
	if (caller)
		((uint8_t *)&uc->uc_sigmask)[(SIGALRM - 1) / 8] |= 1 << ((SIGALRM - 1) % 8);
	if (uc->uc_mcontext.fpregs) {
		uc->uc_mcontext.fpregs->mxcsr = 0x1f80;
		uc->uc_mcontext.fpregs->cwd = 0x37f;
	}
}

/* run starts the next snippet; it is where every snippet ends, on the
 * recovery stack, with the fs base the random code may have changed. */
static void run(void)
{
	raw(SYS_arch_prctl, ARCH_SET_FS, fsbase);
	raw(SYS_arch_prctl, ARCH_SET_GS, 0);
	if (sh->snippets >= budget)
		raw(SYS_exit_group, 0, 0);
	sh->snippets++;
	uint64_t target;
	switch (below(8)) {
	case 0:
		/* The stub image, where there is one. */
		if (stubbase) {
			sh->stubjumps++;
			target = stubbase + below(STUBSZ);
			break;
		}
		/* fallthrough */
	case 1:
		/* A patched site, or the bytes around it, after rewriting
		 * some of them. */
		if (below(2))
			make_site();
		for (int i = below(3); i > 0; i--)
			SITE[below(16)] = next();
		target = (uint64_t)SITE - 8 + below(24);
		break;
	default:
		fill_random(CODE, CODESZ - 4096);
		target = (uint64_t)CODE + below(256);
		break;
	}
	for (int i = 0; i < 16; i++)
		g_regs[i] = reg_value();
	if (below(2))
		g_regs[15] = (uint64_t)SCRATCH + SCRATCHSZ / 2 + below(4096);
	/* Flags: the arithmetic ones, DF, and now and then TF or AC. */
	g_regs[16] = 0x202 | (next() & 0x8d5) | (below(8) == 0 ? 0x100 : 0) | (below(8) == 0 ? 0x40000 : 0);
	g_regs[17] = target;
	enter_code();
	__builtin_unreachable();
}

static int install_filter(void)
{
	/* Allowed: what the loop itself needs and harmless calls; everything
	 * else, and any call through another ABI, fails with EPERM. */
	static const int allowed[] = {
		SYS_rt_sigreturn, SYS_arch_prctl, SYS_exit, SYS_exit_group,
		SYS_getpid, SYS_gettid, SYS_sched_yield, SYS_clock_gettime,
		SYS_gettimeofday, SYS_futex, SYS_getrandom, SYS_uname, SYS_brk,
		SYS_madvise, SYS_mincore,
	};
	struct sock_filter f[64];
	int n = 0;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allowed[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	struct sock_fprog prog = {.len = n, .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

/* skip_insn steps over a 5-byte instruction that raised SIGILL. */
static void skip_insn(int sig, siginfo_t *si, void *p)
{
	(void)sig;
	(void)si;
	((ucontext_t *)p)->uc_mcontext.gregs[REG_RIP] += 5;
}

static void worker(uint64_t seed, int threads)
{
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	if (mmap(CODE, CODESZ, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != CODE ||
	    mmap(SCRATCH, SCRATCHSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != SCRATCH ||
	    mmap(RECOVER, RECOVERSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != RECOVER ||
	    mmap(ALTSTACK, ALTSTACKSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != ALTSTACK) {
		perror("codefuzz: mmap");
		_exit(3);
	}
	for (size_t i = 0; i < SCRATCHSZ; i += 8)
		*(uint64_t *)(SCRATCH + i) = next();
	stack_t ss = {.ss_sp = ALTSTACK, .ss_size = ALTSTACKSZ};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_ONSTACK};
	sigfillset(&sa.sa_mask);
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGALRM};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	raw(SYS_arch_prctl, ARCH_GET_FS, (long)&fsbase);
	/* Under systrap, a thread whose gs base is 0 reads its state page's
	 * address as its gs base (platform/systrap/README.md; the sentry does
	 * not offer FSGSBASE in AT_HWCAP2, but the host may let it run); the stub image
	 * starts at the GiB boundary at or below one GiB under it. Elsewhere
	 * (natively, ptrace) the gs base is 0. */
	uint64_t gs = 0;
	struct sigaction skip = {.sa_sigaction = skip_insn, .sa_flags = SA_SIGINFO};
	struct sigaction old;
	sigaction(SIGILL, &skip, &old);
	__asm__ volatile("xor %%eax, %%eax; rdgsbase %%rax" : "=a"(gs)); /* 5 bytes */
	sigaction(SIGILL, &old, NULL);
	if (gs >= 0x7ff000000000ULL + (1ULL << 30))
		stubbase = (gs - (1ULL << 30)) & ~((1ULL << 30) - 1);
	struct itimerval it = {{0, 5000}, {0, 5000}};
	setitimer(ITIMER_REAL, &it, NULL);
	if (threads > 1) {
		if (mmap(CALLERSTACK, CALLERSTACKSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != CALLERSTACK)
			_exit(3);
		pthread_t t;
		if (pthread_create(&t, NULL, caller_start, NULL))
			_exit(3);
		while (!caller_tid)
			sched_yield();
	}
	if (install_filter()) {
		perror("codefuzz: seccomp");
		_exit(3);
	}
	run();
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: codefuzz SEED SNIPPETS [THREADS]\n");
		return 2;
	}
	require_sandbox("codefuzz");
	uint64_t seed = strtoull(argv[1], NULL, 0);
	budget = strtoull(argv[2], NULL, 0);
	int threads = argc == 4 ? atoi(argv[3]) : 1;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	int workers = 0, killed = 0;
	uint64_t last = 0;
	while (sh->snippets < budget) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("codefuzz: fork");
			return 1;
		}
		if (pid == 0)
			worker(seed + workers, threads);
		workers++;
		int st, waited = 0, killedAt = 0;
		while (waitpid(pid, &st, WNOHANG) == 0) {
			/* A worker that makes no progress for 5 s (random code
			 * blocked its timer signal, say) is killed, as a hung
			 * container would be; the kill must end it within 5 s. */
			waited++;
			if (killedAt && waited - killedAt >= 500) {
				fprintf(stderr, "codefuzz: worker %d (seed %#lx) still there 5 s after SIGKILL\n", workers, (unsigned long)(seed + workers - 1));
				return 1;
			}
			if (!killedAt && waited % 500 == 0) {
				if (sh->snippets == last) {
					kill(pid, SIGKILL);
					killed++;
					killedAt = waited;
				}
				last = sh->snippets;
			}
			usleep(10000);
		}
		char buf[8];
		int fd = open("/proc/self/stat", O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0 || getppid() < 0) {
			fprintf(stderr, "codefuzz: the kernel fails basic calls after worker %d\n", workers);
			return 1;
		}
		close(fd);
	}
	printf("codefuzz: ok: %lu snippets in %d workers (%d killed as hung), %lu into the stub, %lu patch rounds, %lu calls of a second thread; signals:",
	       (unsigned long)sh->snippets, workers, killed, (unsigned long)sh->stubjumps, (unsigned long)sh->patched, (unsigned long)sh->callercalls);
	for (int s = 1; s <= 64; s++)
		if (sh->signals[s])
			printf(" %d:%lu", s, (unsigned long)sh->signals[s]);
	printf("\n");
	return 0;
}
