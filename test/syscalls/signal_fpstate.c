/* signal_fpstate: the FP state survives a signal handler that clobbers it
 * (SSE xmm0-15, and ymm0-15 where the CPU has AVX; the same lines are
 * printed either way), the handler starts with a clean MXCSR, the frame
 * holds an XSAVE area with Linux's magic numbers, and sigreturn loads what
 * the handler left in the frame. Corrupt frames (in children): a bad
 * fpstate pointer or a bad MXCSR kill with SIGSEGV, as does rt_sigreturn
 * on an unmapped stack; a frame without the XSAVE magic restores only the
 * legacy x87/SSE state, and a NULL fpstate resets the FP state. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

static uint8_t in[16][32] __attribute__((aligned(32)));
static uint8_t out[16][32] __attribute__((aligned(32)));
static int has_avx;
static unsigned ymm_off; /* offset of YMM_Hi128 in the XSAVE area */

static int avx_usable(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_OSXSAVE) || !(c & bit_AVX))
		return 0;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6)
		return 0;
	__cpuid_count(0xd, 2, a, b, c, d);
	ymm_off = b;
	return 1;
}

#define SIGNAL_SELF                                                            \
	"mov $" "234" ", %%eax\n\t" /* tgkill */                               \
	"mov %[pid], %%edi\n\t"                                                \
	"mov %[tid], %%esi\n\t"                                                \
	"mov %[sig], %%edx\n\t"                                                \
	"syscall\n\t"

#define XMM_LOAD(i) "movdqu " #i "*32(%[in]), %%xmm" #i "\n\t"
#define XMM_STORE(i) "movdqu %%xmm" #i ", " #i "*32(%[out])\n\t"
#define YMM_LOAD(i) "vmovdqu " #i "*32(%[in]), %%ymm" #i "\n\t"
#define YMM_STORE(i) "vmovdqu %%ymm" #i ", " #i "*32(%[out])\n\t"
#define ALL16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define CLOBBERS "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory",          \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",  \
	"xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

/* Load in, signal ourselves with sig, store the registers to out. */
static void xmm_roundtrip(int sig)
{
	int pid = getpid(), tid = gettid();
	__asm__ volatile(ALL16(XMM_LOAD) SIGNAL_SELF ALL16(XMM_STORE)
			 :
			 : [in] "r"(in), [out] "r"(out), [pid] "r"(pid), [tid] "r"(tid), [sig] "r"(sig)
			 : CLOBBERS);
}

__attribute__((target("avx"))) static void ymm_roundtrip(int sig)
{
	int pid = getpid(), tid = gettid();
	__asm__ volatile(ALL16(YMM_LOAD) SIGNAL_SELF ALL16(YMM_STORE) "vzeroupper\n\t"
			 :
			 : [in] "r"(in), [out] "r"(out), [pid] "r"(pid), [tid] "r"(tid), [sig] "r"(sig)
			 : CLOBBERS);
}

__attribute__((target("avx"))) static void clobber_ymm(void)
{
	__asm__ volatile("vpcmpeqb %%ymm0, %%ymm0, %%ymm0\n\t"
#define Y(i) "vmovdqa %%ymm0, %%ymm" #i "\n\t"
			 Y(1) Y(2) Y(3) Y(4) Y(5) Y(6) Y(7) Y(8) Y(9) Y(10) Y(11) Y(12) Y(13) Y(14) Y(15)
			 "vzeroupper\n\t" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			 "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static void clobber_xmm(void)
{
	__asm__ volatile("pcmpeqb %%xmm0, %%xmm0\n\t"
#define X(i) "movdqa %%xmm0, %%xmm" #i "\n\t"
			 X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
			 ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			 "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static unsigned handler_mxcsr;
static int frame_ok, frame_xmm0_ok, frame_ymm_ok;
enum { MODE_CLOBBER, MODE_EDIT, MODE_BADPTR, MODE_BADMAGIC, MODE_BADMXCSR, MODE_NULL };
static int mode;

static void handler(int sig, siginfo_t *si, void *ucp)
{
	ucontext_t *uc = ucp;
	(void)sig;
	(void)si;
	__asm__ volatile("stmxcsr %0" : "=m"(handler_mxcsr));
	uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
	uint32_t magic1, xsize, magic2;
	memcpy(&magic1, fp + 464, 4);
	memcpy(&xsize, fp + 464 + 16, 4);
	memcpy(&magic2, fp + xsize, 4);
	frame_ok = (uc->uc_flags & 1) && magic1 == 0x46505853 && magic2 == 0x46505845 &&
		   ((uintptr_t)fp & 63) == 0;
	frame_xmm0_ok = memcmp(fp + 160, in[0], 16) == 0;
	frame_ymm_ok = !has_avx || memcmp(fp + ymm_off, in[0] + 16, 16) == 0;
	clobber_xmm();
	if (has_avx)
		clobber_ymm();
	switch (mode) {
	case MODE_EDIT:
		memset(fp + 160 + 2 * 16, 0x5a, 16); /* xmm2 */
		if (has_avx)
			memset(fp + ymm_off + 3 * 16, 0xa5, 16); /* ymm3 high */
		break;
	case MODE_BADPTR:
		uc->uc_mcontext.fpregs = (void *)16;
		break;
	case MODE_BADMAGIC:
		memset(fp + 464, 0, 4);
		break;
	case MODE_BADMXCSR: {
		uint32_t bad = 0xffff0000;
		memcpy(fp + 24, &bad, 4);
		break;
	}
	case MODE_NULL:
		uc->uc_mcontext.fpregs = NULL;
		break;
	}
}

static int child_status(int m)
{
	pid_t c = fork();
	if (c == 0) {
		mode = m;
		xmm_roundtrip(SIGUSR1);
		int good = memcmp(out[1], in[1], 16) == 0;
		int zero = 1;
		for (int i = 0; i < 16; i++)
			zero &= out[1][i] == 0;
		_exit(m == MODE_NULL ? (zero ? 10 : 11) : (good ? 20 : 21));
	}
	int st = 0;
	waitpid(c, &st, 0);
	return st;
}

int main(void)
{
	has_avx = avx_usable();
	/* For all checks, "ymm" lines print the same with or without AVX. */
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 32; j++)
			in[i][j] = (uint8_t)(i * 32 + j + 1);
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);

	/* A non-default rounding mode, to see that the handler gets 0x1f80
	 * and that the original comes back. */
	unsigned mx = 0x1f80 | 0x6000, after = 0;
	__asm__ volatile("ldmxcsr %0" ::"m"(mx));
	mode = MODE_CLOBBER;
	xmm_roundtrip(SIGUSR1);
	__asm__ volatile("stmxcsr %0" : "=m"(after));
	int xmm_ok = 1;
	for (int i = 0; i < 16; i++)
		xmm_ok &= memcmp(in[i], out[i], 16) == 0;
	CHECK("xmm preserved", xmm_ok);
	CHECK_EQ("handler mxcsr", handler_mxcsr, 0x1f80);
	CHECK_EQ("mxcsr restored", after, 0x1f80 | 0x6000);
	mx = 0x1f80;
	__asm__ volatile("ldmxcsr %0" ::"m"(mx));
	CHECK("xsave frame magic", frame_ok);
	CHECK("frame holds xmm0", frame_xmm0_ok);

	int ymm_ok = 1;
	if (has_avx) {
		memset(out, 0, sizeof out);
		ymm_roundtrip(SIGUSR1);
		ymm_ok = memcmp(in, out, sizeof in) == 0;
	}
	CHECK("ymm preserved", ymm_ok);
	CHECK("frame holds ymm0 high", frame_ymm_ok);

	/* The handler edits the saved state: sigreturn loads the edit. */
	mode = MODE_EDIT;
	memset(out, 0, sizeof out);
	xmm_roundtrip(SIGUSR1);
	uint8_t five[16];
	memset(five, 0x5a, 16);
	CHECK("edited xmm2 loaded", memcmp(out[2], five, 16) == 0);
	CHECK("other xmm kept", memcmp(out[1], in[1], 16) == 0);
	int edited_ymm = 1;
	if (has_avx) {
		memset(out, 0, sizeof out);
		ymm_roundtrip(SIGUSR1);
		uint8_t a5[16];
		memset(a5, 0xa5, 16);
		edited_ymm = memcmp(out[3] + 16, a5, 16) == 0 && memcmp(out[3], in[3], 16) == 0;
	}
	CHECK("edited ymm3 loaded", edited_ymm);

	int st = child_status(MODE_BADPTR);
	CHECK("bad fpstate pointer: SIGSEGV", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	st = child_status(MODE_BADMXCSR);
	CHECK("bad mxcsr: SIGSEGV", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	st = child_status(MODE_BADMAGIC);
	CHECK("bad magic: legacy state restored", WIFEXITED(st) && WEXITSTATUS(st) == 20);
	st = child_status(MODE_NULL);
	CHECK("NULL fpstate: init state", WIFEXITED(st) && WEXITSTATUS(st) == 10);

	/* rt_sigreturn with the stack pointer on an unmapped page. */
	char *hole = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t c = fork();
	if (c == 0) {
		__asm__ volatile("mov %0, %%rsp\n\tmov $15, %%eax\n\tsyscall" ::"r"(hole + 4096) : "memory");
		_exit(1);
	}
	waitpid(c, &st, 0);
	CHECK("sigreturn on bad stack: SIGSEGV", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	return check_done();
}
