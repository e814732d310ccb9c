/* ptrace_attach: PTRACE_ATTACH (SIGSTOP), PTRACE_SEIZE (no stop),
 * PTRACE_INTERRUPT of a sleeping tracee, PTRACE_DETACH, tracer exit
 * detaching and PTRACE_O_EXITKILL, TracerPid, and the EPERM/ESRCH/EIO
 * rules.
 *
 * Tracees are children: the sandbox runs this program as its pid 1. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#ifndef PTRACE_SEIZE
#define PTRACE_SEIZE 0x4206
#define PTRACE_INTERRUPT 0x4207
#define PTRACE_LISTEN 0x4208
#endif

/* sleeper sleeps until killed; it exits 9 if its sleep ever ends. */
static pid_t sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 600; i++)
			pause();
		_exit(9);
	}
	return pid;
}

/* tracer_pid reads TracerPid from /proc/pid/status (-1 on failure). */
static long tracer_pid(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* wait_gone checks that pid died of SIGKILL after kill. */
static void kill_and_reap(const char *name, pid_t pid)
{
	int st = 0;
	char buf[128];
	kill(pid, SIGKILL);
	snprintf(buf, sizeof(buf), "%s: reaped", name);
	CHECK_EQ(buf, waitpid(pid, &st, 0), pid);
	snprintf(buf, sizeof(buf), "%s: died of SIGKILL", name);
	CHECK(buf, WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void test_attach_detach(void)
{
	pid_t pid = sleeper();
	REQUIRE("fork", pid > 0);
	int st = 0;
	CHECK_ERR("CONT untraced child", ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
	CHECK_OK("ATTACH", ptrace(PTRACE_ATTACH, pid, 0, 0));
	CHECK_ERR("ATTACH twice", ptrace(PTRACE_ATTACH, pid, 0, 0), EPERM);
	CHECK_ERR("SEIZE a tracee", ptrace(PTRACE_SEIZE, pid, 0, 0), EPERM);
	CHECK_EQ("attach: waitpid", waitpid(pid, &st, 0), pid);
	CHECK("attach: SIGSTOP stop", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP && (st >> 16) == 0);
	CHECK_EQ("TracerPid while attached", tracer_pid(pid), getpid());
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("attach: GETSIGINFO", ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
	CHECK_EQ("attach: si_signo", si.si_signo, SIGSTOP);
	CHECK_ERR("INTERRUPT needs SEIZE", ptrace(PTRACE_INTERRUPT, pid, 0, 0), EIO);
	CHECK_ERR("LISTEN needs SEIZE", ptrace(PTRACE_LISTEN, pid, 0, 0), EIO);
	CHECK_ERR("DETACH bad signal", ptrace(PTRACE_DETACH, pid, 0, (void *)100), EIO);
	CHECK_OK("DETACH", ptrace(PTRACE_DETACH, pid, 0, 0));
	CHECK_ERR("CONT after DETACH", ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
	CHECK_EQ("TracerPid after detach", tracer_pid(pid), 0);
	CHECK_EQ("detached child sleeps on", waitpid(pid, &st, WNOHANG), 0);
	kill_and_reap("detached", pid);
}

static void test_seize_interrupt(void)
{
	pid_t pid = sleeper();
	REQUIRE("fork", pid > 0);
	int st = 0;
	CHECK_ERR("SEIZE bad options", ptrace(PTRACE_SEIZE, pid, 0, (void *)0x10000), EIO);
	CHECK_ERR("SEIZE addr not 0", ptrace(PTRACE_SEIZE, pid, (void *)1, 0), EIO);
	CHECK_OK("SEIZE", ptrace(PTRACE_SEIZE, pid, 0, (void *)PTRACE_O_TRACESYSGOOD));
	CHECK_EQ("SEIZE does not stop", waitpid(pid, &st, WNOHANG), 0);
	CHECK_ERR("CONT running tracee", ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
	CHECK_OK("INTERRUPT", ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	CHECK_EQ("interrupt: waitpid", waitpid(pid, &st, 0), pid);
	CHECK("interrupt: PTRACE_EVENT_STOP", WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP &&
						   (st >> 16) == PTRACE_EVENT_STOP);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("interrupt: GETSIGINFO", ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
	CHECK_EQ("interrupt: si_code", si.si_code, SIGTRAP | PTRACE_EVENT_STOP << 8);
	unsigned long opts_msg = 1;
	CHECK_OK("interrupt: GETEVENTMSG", ptrace(PTRACE_GETEVENTMSG, pid, 0, &opts_msg));
	CHECK_EQ("interrupt: event message", opts_msg, 0);
	/* LISTEN keeps it stopped but unreported; INTERRUPT re-traps it. */
	CHECK_OK("LISTEN", ptrace(PTRACE_LISTEN, pid, 0, 0));
	CHECK_EQ("listen: not reported", waitpid(pid, &st, WNOHANG), 0);
	CHECK_ERR("listen: requests see no stop", ptrace(PTRACE_GETEVENTMSG, pid, 0, &opts_msg), ESRCH);
	CHECK_ERR("listen: CONT sees no stop", ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
	CHECK_OK("listen: INTERRUPT", ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	CHECK_EQ("listen: re-trap waitpid", waitpid(pid, &st, 0), pid);
	CHECK("listen: PTRACE_EVENT_STOP again", WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP &&
						    (st >> 16) == PTRACE_EVENT_STOP);
	CHECK_OK("interrupt: DETACH", ptrace(PTRACE_DETACH, pid, 0, 0));
	CHECK_EQ("interrupt: sleeps on", waitpid(pid, &st, WNOHANG), 0);
	kill_and_reap("seized", pid);
}

/* A sub-tracer process traces a sleeper (its sibling: tracing needs no
 * parenthood) and exits; with EXITKILL the tracee dies, without it the
 * tracee is detached and sleeps on. */
static void test_tracer_exit(int exitkill)
{
	const char *name = exitkill ? "EXITKILL" : "tracer exit";
	pid_t pid = sleeper();
	REQUIRE("fork", pid > 0);
	pid_t tr = fork();
	REQUIRE("fork tracer", tr >= 0);
	if (tr == 0) {
		if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)(exitkill ? PTRACE_O_EXITKILL : 0)) != 0)
			_exit(1);
		if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0)
			_exit(2);
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
			_exit(3);
		/* A traced non-child is reported to __WALL waits and counts as
		 * a child for ECHILD. */
		if (waitpid(-1, &st, WNOHANG | __WALL) != 0)
			_exit(4);
		_exit(0);
	}
	int st = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s: tracer exited 0", name);
	CHECK(buf, waitpid(tr, &st, 0) == tr && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (exitkill) {
		snprintf(buf, sizeof(buf), "%s: tracee killed", name);
		CHECK(buf, waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		return;
	}
	/* Detached from its stop: it sleeps on. */
	struct timespec ts = {0, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	snprintf(buf, sizeof(buf), "%s: tracee sleeps on", name);
	CHECK_EQ(buf, waitpid(pid, &st, WNOHANG), 0);
	snprintf(buf, sizeof(buf), "%s: TracerPid", name);
	CHECK_EQ(buf, tracer_pid(pid), 0);
	kill_and_reap(name, pid);
}

static void test_permissions(void)
{
	CHECK_ERR("ATTACH self", ptrace(PTRACE_ATTACH, getpid(), 0, 0), EPERM);
	CHECK_ERR("SEIZE self", ptrace(PTRACE_SEIZE, getpid(), 0, 0), EPERM);
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		/* A thread of the tracer's own process, or its parent
		 * attaching twice: EPERM. TRACEME twice: EPERM. */
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
			_exit(1);
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != -1 || errno != EPERM)
			_exit(2);
		_exit(0);
	}
	int st = 0;
	CHECK_EQ("TRACEME twice: waitpid", waitpid(pid, &st, 0), pid);
	CHECK("TRACEME twice is EPERM", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_ERR("ATTACH reaped pid", ptrace(PTRACE_ATTACH, pid, 0, 0), ESRCH);
	CHECK_ERR("GETREGS untraced", ptrace(PTRACE_GETREGS, pid, 0, 0), ESRCH);
}

int main(void)
{
	test_attach_detach();
	test_seize_interrupt();
	test_tracer_exit(0);
	test_tracer_exit(1);
	test_permissions();
	return check_done();
}
