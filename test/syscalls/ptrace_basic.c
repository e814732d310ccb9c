/* ptrace_basic: PTRACE_TRACEME and the legacy SIGTRAP after exec,
 * PEEK/POKE of data and text, PEEKUSER, GETREGS/SETREGS changing a
 * syscall's result at syscall-exit-stop, PTRACE_SYSCALL stops of a known
 * sequence of raw syscalls, PTRACE_GET_SYSCALL_INFO and GETREGSET.
 *
 * Tracees are children: the sandbox runs this program as its pid 1. */
#define _GNU_SOURCE
#include <elf.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif

static volatile long known_var = 0x1122334455667788;

/* patch_me is code that is never run: the tracer pokes its text. */
__attribute__((noinline)) static int patch_me(int x)
{
	return x * 3 + 1;
}

static void stop_self(void)
{
	syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
}

/* The exec'd image of the first check: exits 7 at once. */
static int exec_child(void)
{
	return 7;
}

static void test_traceme_exec(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(100);
		execl("/proc/self/exe", "ptrace_basic", "exec-child", (char *)NULL);
		_exit(101);
	}
	int status = 0;
	CHECK_EQ("traceme: waitpid", waitpid(pid, &status, 0), pid);
	CHECK("traceme: stopped after exec", WIFSTOPPED(status));
	CHECK_EQ("traceme: by SIGTRAP", WSTOPSIG(status), SIGTRAP);
	CHECK_EQ("traceme: no event", status >> 16, 0);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("traceme: GETSIGINFO", ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
	CHECK_EQ("traceme: si_signo", si.si_signo, SIGTRAP);
	CHECK_EQ("traceme: si_code SI_USER", si.si_code, SI_USER);
	CHECK_OK("traceme: CONT", ptrace(PTRACE_CONT, pid, 0, 0));
	CHECK_EQ("traceme: waitpid exit", waitpid(pid, &status, 0), pid);
	CHECK("traceme: exited", WIFEXITED(status));
	CHECK_EQ("traceme: exit code", WEXITSTATUS(status), 7);
}

static void test_peek_poke(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(100);
		stop_self();
		/* The tracer changed known_var and patched patch_me's first
		 * bytes; report what this process sees. */
		if (known_var != 0x42)
			_exit(1);
		_exit(2);
	}
	int status = 0;
	CHECK_EQ("peek: waitpid", waitpid(pid, &status, 0), pid);
	CHECK("peek: stopped", WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);

	errno = 0;
	long v = ptrace(PTRACE_PEEKDATA, pid, (void *)&known_var, 0);
	CHECK_EQ("PEEKDATA value", v, 0x1122334455667788);
	CHECK_EQ("PEEKDATA errno", errno, 0);
	CHECK_OK("POKEDATA", ptrace(PTRACE_POKEDATA, pid, (void *)&known_var, (void *)0x42));
	errno = 0;
	CHECK_EQ("PEEKDATA after POKE", ptrace(PTRACE_PEEKDATA, pid, (void *)&known_var, 0), 0x42);
	CHECK_EQ("parent copy unchanged", known_var, 0x1122334455667788);

	/* Text is read-only in the tracee; POKETEXT writes it anyway. */
	long text;
	memcpy(&text, (void *)patch_me, sizeof(text));
	errno = 0;
	CHECK_EQ("PEEKTEXT", ptrace(PTRACE_PEEKTEXT, pid, (void *)patch_me, 0), text);
	CHECK_OK("POKETEXT read-only text", ptrace(PTRACE_POKETEXT, pid, (void *)patch_me, (void *)(text ^ 0xff)));
	errno = 0;
	CHECK_EQ("PEEKTEXT after POKE", ptrace(PTRACE_PEEKTEXT, pid, (void *)patch_me, 0), text ^ 0xff);
	long mine;
	memcpy(&mine, (void *)patch_me, sizeof(mine));
	CHECK_EQ("own text unchanged", mine, text);

	CHECK_ERR("PEEKDATA NULL", ptrace(PTRACE_PEEKDATA, pid, (void *)0, 0), EIO);
	CHECK_ERR("POKEDATA NULL", ptrace(PTRACE_POKEDATA, pid, (void *)0, 0), EIO);
	CHECK_ERR("PEEKUSER unaligned", ptrace(PTRACE_PEEKUSER, pid, (void *)3, 0), EIO);
	/* The kernel's struct user ends with error_code and fault_address
	 * after what glibc declares. */
	CHECK_ERR("PEEKUSER past struct user", ptrace(PTRACE_PEEKUSER, pid, (void *)(sizeof(struct user) + 16), 0), EIO);
	errno = 0;
	CHECK_EQ("PEEKUSER fault_address", ptrace(PTRACE_PEEKUSER, pid, (void *)(sizeof(struct user) + 8), 0), 0);
	errno = 0;
	CHECK_EQ("PEEKUSER debugreg 7",
		 ptrace(PTRACE_PEEKUSER, pid, (void *)(offsetof(struct user, u_debugreg) + 7 * 8), 0), 0);
	CHECK_ERR("unknown request", ptrace((enum __ptrace_request)0x7777, pid, 0, 0), EIO);

	CHECK_OK("peek: CONT", ptrace(PTRACE_CONT, pid, 0, 0));
	CHECK_EQ("peek: waitpid exit", waitpid(pid, &status, 0), pid);
	CHECK("peek: tracee saw the poked value", WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

/* The tracee of the syscall check makes exactly these raw syscalls after
 * its SIGSTOP; getpid's result is replaced by the tracer. */
static void syscall_child(void)
{
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
		_exit(100);
	stop_self();
	syscall(SYS_getppid);
	syscall(SYS_getuid);
	long r = syscall(SYS_getpid);
	syscall(SYS_close, -1);
	syscall(SYS_exit_group, r == 12345 ? 0 : 1);
}

struct syscall_info {
	uint8_t op;
	uint8_t pad[3];
	uint32_t arch;
	uint64_t ip, sp;
	union {
		struct {
			uint64_t nr, args[6];
		} entry;
		struct {
			int64_t rval;
			uint8_t is_error;
		} exit;
	};
};

static void test_syscall_stops(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0)
		syscall_child();
	int status = 0;
	CHECK_EQ("sys: waitpid", waitpid(pid, &status, 0), pid);
	CHECK("sys: stopped", WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
	CHECK_OK("sys: SETOPTIONS", ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_TRACESYSGOOD));
	CHECK_ERR("sys: SETOPTIONS bad", ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)0x10000), EINVAL);

	int entering = 1, stops = 0, infos_ok = 1, changed = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, 0, 0) != 0) {
			check_fail("sys: PTRACE_SYSCALL", "errno %s", check_errname(errno));
			break;
		}
		if (waitpid(pid, &status, 0) != pid) {
			check_fail("sys: waitpid", "errno %s", check_errname(errno));
			break;
		}
		if (!WIFSTOPPED(status))
			break;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			check_fail("sys: stop", "status %#x", status);
			break;
		}
		struct user_regs_struct regs;
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs) != 0) {
			check_fail("sys: GETREGS", "errno %s", check_errname(errno));
			break;
		}
		errno = 0;
		long orig = ptrace(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user_regs_struct, orig_rax), 0);
		if (orig != (long)regs.orig_rax)
			infos_ok = 0;
		struct syscall_info info;
		memset(&info, 0xee, sizeof(info));
		long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info);
		unsigned long ev = 0;
		ptrace(PTRACE_GETEVENTMSG, pid, 0, &ev);
		if (entering) {
			printf("enter %lld rax=%lld\n", (long long)regs.orig_rax, (long long)regs.rax);
			if (n != 80 || info.op != 1 || info.arch != 0xc000003e || info.entry.nr != regs.orig_rax ||
			    info.ip != regs.rip || info.sp != regs.rsp || info.entry.args[0] != regs.rdi || ev != 1)
				infos_ok = 0;
		} else {
			/* Only close's result is the same everywhere. */
			printf("exit %lld rax=%lld\n", (long long)regs.orig_rax,
			       regs.orig_rax == SYS_close ? (long long)regs.rax : 0);
			if (n != 33 || info.op != 2 || info.exit.rval != (int64_t)regs.rax ||
			    info.exit.is_error != ((long)regs.rax < 0) || ev != 2)
				infos_ok = 0;
			if (regs.orig_rax == SYS_getpid) {
				regs.rax = 12345;
				if (ptrace(PTRACE_SETREGS, pid, 0, &regs) == 0)
					changed = 1;
			}
		}
		entering = !entering;
		stops++;
	}
	CHECK("sys: GETREGS changed getpid", changed);
	CHECK("sys: PEEKUSER, GET_SYSCALL_INFO and GETEVENTMSG agree with GETREGS", infos_ok);
	CHECK("sys: exited", WIFEXITED(status));
	CHECK_EQ("sys: tracee saw the new result", WEXITSTATUS(status), 0);
	CHECK_EQ("sys: stops", stops, 9);
}

/* GETREGSET/SETREGSET with NT_PRSTATUS and the FP sets, and SETREGS's
 * validation, on a stopped tracee. */
static void test_regsets(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(100);
		stop_self();
		_exit(0);
	}
	int status = 0;
	CHECK_EQ("regset: waitpid", waitpid(pid, &status, 0), pid);
	struct user_regs_struct regs, regs2;
	CHECK_OK("regset: GETREGS", ptrace(PTRACE_GETREGS, pid, 0, &regs));
	struct iovec iov = {&regs2, sizeof(regs2)};
	memset(&regs2, 0, sizeof(regs2));
	CHECK_OK("GETREGSET PRSTATUS", ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov));
	CHECK_EQ("PRSTATUS size", iov.iov_len, sizeof(regs2));
	CHECK("PRSTATUS = GETREGS", memcmp(&regs, &regs2, sizeof(regs)) == 0);
	char small[16];
	iov.iov_base = small;
	iov.iov_len = sizeof(small);
	CHECK_OK("GETREGSET short", ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov));
	CHECK_EQ("GETREGSET short size", iov.iov_len, sizeof(small));
	CHECK("GETREGSET short r15 r14", memcmp(small, &regs, sizeof(small)) == 0);
	CHECK_ERR("GETREGSET bad note", ptrace(PTRACE_GETREGSET, pid, (void *)0x999, &iov), EINVAL);

	struct user_fpregs_struct fp, fp2;
	CHECK_OK("GETFPREGS", ptrace(PTRACE_GETFPREGS, pid, 0, &fp));
	CHECK_EQ("GETFPREGS mxcsr", fp.mxcsr & 0xffc0, 0x1f80);
	iov.iov_base = &fp2;
	iov.iov_len = sizeof(fp2);
	CHECK_OK("GETREGSET PRFPREG", ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRFPREG, &iov));
	CHECK_EQ("PRFPREG size", iov.iov_len, 512);
	CHECK("PRFPREG = GETFPREGS", memcmp(&fp, &fp2, 160) == 0);
	fp.xmm_space[0] = 0xdeadbeef;
	CHECK_OK("SETFPREGS", ptrace(PTRACE_SETFPREGS, pid, 0, &fp));
	memset(&fp2, 0, sizeof(fp2));
	CHECK_OK("GETFPREGS again", ptrace(PTRACE_GETFPREGS, pid, 0, &fp2));
	CHECK_EQ("xmm0 written", fp2.xmm_space[0], 0xdeadbeef);
	fp.mxcsr = 0xffffffff;
	CHECK_ERR("SETFPREGS bad mxcsr", ptrace(PTRACE_SETFPREGS, pid, 0, &fp), EINVAL);

	static char xs[16384];
	iov.iov_base = xs;
	iov.iov_len = sizeof(xs);
	CHECK_OK("GETREGSET XSTATE", ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov));
	CHECK("XSTATE size", iov.iov_len >= 576 && iov.iov_len < sizeof(xs));
	uint64_t xcr0;
	memcpy(&xcr0, xs + 464, 8);
	CHECK_EQ("XSTATE xcr0 has x87 and SSE", xcr0 & 3, 3);
	uint32_t xmm0;
	memcpy(&xmm0, xs + 160, 4);
	CHECK_EQ("XSTATE xmm0", xmm0, 0xdeadbeef);

	regs2 = regs;
	regs2.cs = 0x30; /* kernel privilege */
	CHECK_ERR("SETREGS bad cs", ptrace(PTRACE_SETREGS, pid, 0, &regs2), EIO);
	regs2 = regs;
	regs2.fs_base = 0xffff800000000000ul;
	CHECK_ERR("SETREGS kernel fs_base", ptrace(PTRACE_SETREGS, pid, 0, &regs2), EIO);
	regs2 = regs;
	regs2.eflags |= 0x3000; /* IOPL: not the tracer's to change */
	regs2.rbx = 0x5a5a;
	CHECK_OK("SETREGS iopl", ptrace(PTRACE_SETREGS, pid, 0, &regs2));
	CHECK_OK("GETREGS again", ptrace(PTRACE_GETREGS, pid, 0, &regs2));
	CHECK_EQ("eflags iopl ignored", regs2.eflags & 0x3000, 0);
	CHECK_EQ("rbx set", regs2.rbx, 0x5a5a);
	CHECK_OK("regset: CONT", ptrace(PTRACE_CONT, pid, 0, 0));
	CHECK_EQ("regset: waitpid exit", waitpid(pid, &status, 0), pid);
	CHECK("regset: exited 0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec-child") == 0)
		return exec_child();
	(void)patch_me;
	test_traceme_exec();
	test_peek_poke();
	test_syscall_stops();
	test_regsets();
	return check_done();
}
