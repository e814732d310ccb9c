/* exec_fpstate: execve starts the new image with a clean FP state (Linux's
 * fpu_flush_thread), whatever the caller left in its registers: x87 control
 * word 0x37f, MXCSR 0x1f80, x87 and XMM registers zero. The exec'd program
 * is a few instructions written here as a static ELF, so that no loader or
 * libc runs before its first instruction: it saves its FP state with
 * FXSAVE, writes the 512 bytes to stdout and exits. It runs after an exec
 * from a caller that filled every XMM register and changed MXCSR right
 * before the execve, and after an exec from a process that was just forked. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* sub $1024,%rsp; and $-64,%rsp; fxsave (%rsp); write(1, %rsp, 512);
 * exit(0) */
static const unsigned char code[] = {
	0x48, 0x81, 0xec, 0x00, 0x04, 0x00, 0x00, 0x48, 0x83, 0xe4, 0xc0, 0x0f,
	0xae, 0x04, 0x24, 0xbf, 0x01, 0x00, 0x00, 0x00, 0x48, 0x89, 0xe6, 0xba,
	0x00, 0x02, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x31,
	0xff, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05,
};

#define LOAD_ADDR 0x400000ULL

/* write_program writes the static ELF to path: a header, one PT_LOAD of
 * the whole file, the code after the program header. */
static int write_program(const char *path)
{
	struct {
		unsigned char ident[16];
		uint16_t type, machine;
		uint32_t version;
		uint64_t entry, phoff, shoff;
		uint32_t flags;
		uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
	} __attribute__((packed)) eh = {
		.ident = {0x7f, 'E', 'L', 'F', 2, 1, 1},
		.type = 2,     /* ET_EXEC */
		.machine = 62, /* EM_X86_64 */
		.version = 1,
		.phoff = 64,
		.ehsize = 64,
		.phentsize = 56,
		.phnum = 1,
	};
	struct {
		uint32_t type, flags;
		uint64_t offset, vaddr, paddr, filesz, memsz, align;
	} __attribute__((packed)) ph = {
		.type = 1,  /* PT_LOAD */
		.flags = 5, /* R|X */
		.vaddr = LOAD_ADDR,
		.paddr = LOAD_ADDR,
		.filesz = 64 + 56 + sizeof(code),
		.memsz = 64 + 56 + sizeof(code),
		.align = 0x1000,
	};
	eh.entry = LOAD_ADDR + 64 + 56;
	unsigned char buf[64 + 56 + sizeof(code)];
	memcpy(buf, &eh, 64);
	memcpy(buf + 64, &ph, 56);
	memcpy(buf + 120, code, sizeof(code));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		return -1;
	int ok = write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) && fchmod(fd, 0755) == 0;
	return close(fd) == 0 && ok ? 0 : -1;
}

static const unsigned char pattern[16] = {
	0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67,
	0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98,
};

/* dirty_execve fills xmm0-15 with the pattern, sets MXCSR's rounding
 * control to "toward zero" and loads a value into the x87 stack, then
 * runs execve(path, argv, envp) from the same asm statement, so that no
 * compiled code between can clear a register. It returns only on error. */
static long dirty_execve(const char *path, char *const argv[], char *const envp[])
{
	uint32_t mxcsr = 0x1f80 | 0x6000;
	double one = 1.0;
	long ret;
	register long r10 __asm__("r10") = 0;
	__asm__ volatile(
		"movdqu (%[p]), %%xmm0\n\t"
		"movdqa %%xmm0, %%xmm1\n\tmovdqa %%xmm0, %%xmm2\n\tmovdqa %%xmm0, %%xmm3\n\t"
		"movdqa %%xmm0, %%xmm4\n\tmovdqa %%xmm0, %%xmm5\n\tmovdqa %%xmm0, %%xmm6\n\t"
		"movdqa %%xmm0, %%xmm7\n\tmovdqa %%xmm0, %%xmm8\n\tmovdqa %%xmm0, %%xmm9\n\t"
		"movdqa %%xmm0, %%xmm10\n\tmovdqa %%xmm0, %%xmm11\n\tmovdqa %%xmm0, %%xmm12\n\t"
		"movdqa %%xmm0, %%xmm13\n\tmovdqa %%xmm0, %%xmm14\n\tmovdqa %%xmm0, %%xmm15\n\t"
		"ldmxcsr %[m]\n\t"
		"fldl %[one]\n\t"
		"syscall"
		: "=a"(ret)
		: "0"((long)SYS_execve), "D"(path), "S"(argv), "d"(envp), "r"(r10),
		  [p] "r"(pattern), [m] "m"(mxcsr), [one] "m"(one)
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15", "st");
	return ret;
}

/* run_program runs path in a child (dirty or not) and reads the 512
 * bytes of its FXSAVE area into area. */
static int run_program(const char *path, int dirty, unsigned char *area)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		char *argv[] = {(char *)path, NULL};
		char *envp[] = {NULL};
		if (dirty)
			dirty_execve(path, argv, envp);
		else
			execve(path, argv, envp);
		_exit(127);
	}
	close(p[1]);
	size_t got = 0;
	while (got < 512) {
		ssize_t n = read(p[0], area + got, 512 - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	return got == 512 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void check_area(const char *what, const unsigned char *a)
{
	char name[160];
	uint16_t fcw, fsw;
	uint32_t mxcsr;
	memcpy(&fcw, a, 2);
	memcpy(&fsw, a + 2, 2);
	memcpy(&mxcsr, a + 24, 4);
	snprintf(name, sizeof(name), "%s: x87 control word 0x37f", what);
	CHECK_EQ(name, fcw, 0x37f);
	snprintf(name, sizeof(name), "%s: x87 status word 0", what);
	CHECK_EQ(name, fsw, 0);
	snprintf(name, sizeof(name), "%s: x87 tag word empty", what);
	CHECK_EQ(name, a[4], 0);
	snprintf(name, sizeof(name), "%s: MXCSR 0x1f80", what);
	CHECK_EQ(name, mxcsr, 0x1f80);
	snprintf(name, sizeof(name), "%s: st0-st7 zero", what);
	CHECK(name, all_zero(a + 32, 128));
	snprintf(name, sizeof(name), "%s: xmm0-xmm15 zero", what);
	CHECK(name, all_zero(a + 160, 256));
}

int main(void)
{
	char path[] = "/tmp/exec_fpstate.XXXXXX";
	int fd = mkstemp(path);
	REQUIRE("mkstemp", fd >= 0);
	close(fd);
	REQUIRE("writing the program", write_program(path) == 0);

	unsigned char area[512];
	memset(area, 0xff, sizeof(area));
	CHECK_OK("the program ran after an exec with dirty registers", run_program(path, 1, area));
	check_area("after dirty registers", area);

	memset(area, 0xff, sizeof(area));
	CHECK_OK("the program ran after a plain exec", run_program(path, 0, area));
	check_area("after a plain exec", area);

	unlink(path);
	return check_done();
}
