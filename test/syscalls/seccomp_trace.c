/*
 * seccomp_trace: SECCOMP_RET_TRACE stops a tracee that its tracer traces
 * with PTRACE_O_TRACESECCOMP (PTRACE_EVENT_SECCOMP, the filter's data as
 * the event message); the tracer can skip the syscall and choose its
 * result, or let it run. Without such a tracer the syscall fails with
 * ENOSYS.
 */
#include "check.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static int install(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 42),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpgid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 7),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
}

int main(void)
{
	/* Untraced: ENOSYS. */
	pid_t c = fork();
	if (c == 0) {
		if (install())
			_exit(2);
		long r = syscall(SYS_getppid);
		_exit(r == -1 && errno == ENOSYS ? 0 : 3);
	}
	int st;
	REQUIRE("wait", waitpid(c, &st, 0) == c);
	CHECK("without a tracer: ENOSYS", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		if (install())
			_exit(2);
		long r = syscall(SYS_getppid); /* skipped by the tracer: 777 */
		long g = syscall(SYS_getpgid, 0); /* let through */
		_exit(r == 777 && g == getpgrp() ? 0 : 4);
	}
	REQUIRE("fork", c > 0);
	REQUIRE("initial stop", waitpid(c, &st, 0) == c && WIFSTOPPED(st));
	CHECK_OK("TRACESECCOMP", ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL));
	CHECK_OK("cont", ptrace(PTRACE_CONT, c, 0, 0));
	int events = 0, skipped = 0;
	unsigned long msgs = 0;
	for (;;) {
		if (waitpid(c, &st, 0) != c)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (WIFSTOPPED(st) && st >> 8 == (SIGTRAP | PTRACE_EVENT_SECCOMP << 8)) {
			unsigned long msg;
			ptrace(PTRACE_GETEVENTMSG, c, 0, &msg);
			events++;
			msgs = msgs * 100 + msg;
			if (msg == 42) {
				struct user_regs_struct regs;
				ptrace(PTRACE_GETREGS, c, 0, &regs);
				regs.orig_rax = -1;
				regs.rax = 777;
				ptrace(PTRACE_SETREGS, c, 0, &regs);
				skipped++;
			}
		}
		ptrace(PTRACE_CONT, c, 0, WIFSTOPPED(st) && WSTOPSIG(st) != SIGTRAP ? WSTOPSIG(st) : 0);
	}
	CHECK_EQ("two seccomp stops", events, 2);
	CHECK_EQ("messages in order", msgs, 4207);
	CHECK_EQ("one skipped", skipped, 1);
	CHECK("tracee saw the tracer's result and ran the other", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return check_done();
}
