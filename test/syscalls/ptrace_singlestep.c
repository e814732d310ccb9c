/* ptrace_singlestep: PTRACE_SINGLESTEP through a known loop (one SIGTRAP
 * with TRAP_TRACE per instruction, the trap flag hidden from the tracer),
 * and PTRACE_SYSEMU: the tracer emulates a syscall the tracee never runs.
 *
 * Tracees are children: the sandbox runs this program as its pid 1. */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

/* step_loop counts rax up to 3 in a loop of three instructions:
 *   0: xor %eax,%eax        (2 bytes)
 *   2: inc %rax             (3 bytes)
 *   5: cmp $3,%rax          (4 bytes)
 *   9: jne 2                (2 bytes)
 *  11: ret */
extern void step_loop(void);
__asm__(".text\n"
	".globl step_loop\n"
	"step_loop:\n"
	"	xor %eax, %eax\n"
	"1:	inc %rax\n"
	"	cmp $3, %rax\n"
	"	jne 1b\n"
	"	ret\n");

static void stop_self(void)
{
	syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
}

static void test_singlestep(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(100);
		stop_self();
		step_loop();
		_exit(0);
	}
	int st = 0;
	CHECK_EQ("waitpid", waitpid(pid, &st, 0), pid);
	REQUIRE("stopped", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);

	uintptr_t base = (uintptr_t)step_loop;
	struct user_regs_struct regs;
	int steps = 0, traps_ok = 1, tf_hidden = 1, reached = 0;
	/* Step from the kill syscall's return to step_loop's first insn. */
	while (steps < 100000) {
		if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) != 0 || waitpid(pid, &st, 0) != pid)
			break;
		steps++;
		if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP) {
			traps_ok = 0;
			break;
		}
		ptrace(PTRACE_GETREGS, pid, 0, &regs);
		if (regs.eflags & 0x100)
			tf_hidden = 0;
		if (regs.rip == base) {
			reached = 1;
			break;
		}
	}
	CHECK("reached step_loop by single steps", reached);
	CHECK("every step is a SIGTRAP stop", traps_ok);
	/* Now through the loop, printing each instruction's offset. */
	for (int i = 0; i < 12 && reached; i++) {
		if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) != 0 || waitpid(pid, &st, 0) != pid) {
			check_fail("step", "errno %s", check_errname(errno));
			break;
		}
		if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP) {
			check_fail("step", "status %#x", st);
			break;
		}
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
		ptrace(PTRACE_GETREGS, pid, 0, &regs);
		if (regs.eflags & 0x100)
			tf_hidden = 0;
		if (regs.rip < base || regs.rip > base + 11) {
			printf("step %d: returned, rax %lld code %d\n", i, (long long)regs.rax, si.si_code);
			break;
		}
		printf("step %d: offset %ld rax %lld code %d\n", i, (long)(regs.rip - base),
		       (long long)regs.rax, si.si_code);
	}
	CHECK("trap flag hidden from the tracer", tf_hidden);
	CHECK_OK("CONT", ptrace(PTRACE_CONT, pid, 0, 0));
	CHECK_EQ("waitpid exit", waitpid(pid, &st, 0), pid);
	CHECK("exited 0 (no stray SIGTRAP)", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_sysemu(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(100);
		stop_self();
		/* Emulated: returns what the tracer says, and never exits. */
		long r = syscall(SYS_exit_group, 55);
		syscall(SYS_exit_group, r == 777 ? 0 : 1);
	}
	int st = 0;
	CHECK_EQ("sysemu: waitpid", waitpid(pid, &st, 0), pid);
	CHECK_OK("sysemu: SETOPTIONS", ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_TRACESYSGOOD));
	struct user_regs_struct regs;
	int emulated = 0;
	for (int i = 0; i < 10; i++) {
		if (ptrace(PTRACE_SYSEMU, pid, 0, 0) != 0 || waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
			break;
		if (WSTOPSIG(st) != (SIGTRAP | 0x80))
			continue;
		ptrace(PTRACE_GETREGS, pid, 0, &regs);
		printf("sysemu stop: nr %lld rdi %lld\n", (long long)regs.orig_rax,
		       regs.orig_rax == SYS_exit_group ? (long long)regs.rdi : 0);
		if (regs.orig_rax == SYS_exit_group && regs.rdi == 55) {
			regs.rax = 777;
			ptrace(PTRACE_SETREGS, pid, 0, &regs);
			emulated = 1;
			continue;
		}
		if (regs.orig_rax == SYS_exit_group) {
			/* A SYSEMU stop's syscall never runs: to let the real
			 * exit happen, back up to the syscall instruction and
			 * continue without SYSEMU. */
			regs.rax = regs.orig_rax;
			regs.rip -= 2;
			ptrace(PTRACE_SETREGS, pid, 0, &regs);
			CHECK_OK("sysemu: CONT", ptrace(PTRACE_CONT, pid, 0, 0));
			break;
		}
	}
	CHECK("sysemu: exit_group emulated", emulated);
	CHECK_EQ("sysemu: waitpid exit", waitpid(pid, &st, 0), pid);
	CHECK("sysemu: tracee saw 777", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	test_singlestep();
	test_sysemu();
	return check_done();
}
