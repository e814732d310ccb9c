/* ptrace_events: PTRACE_EVENT stops for fork, vfork (and VFORK_DONE),
 * clone (a thread), exec and exit, GETEVENTMSG, and the auto-attached
 * children that start with a SIGSTOP; a traced grandchild's exit goes to
 * the tracer first and then to its real parent.
 *
 * The tracer always waits for a specific pid so that the order of the
 * reports is deterministic. Tracees are children: the sandbox runs this
 * program as its pid 1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define EVENT(st) ((st) >> 16)

static void *thread_fn(void *arg)
{
	(void)arg;
	return NULL;
}

/* The tracee: stops, forks a child that exits 3 (and reaps it), vforks a
 * child that exits 4, creates and joins a thread, then execs itself to
 * exit 5. */
static void tracee(void)
{
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
		_exit(100);
	syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);

	pid_t c = fork();
	if (c == 0)
		_exit(3);
	int st;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
		_exit(101);

	c = vfork();
	if (c == 0)
		_exit(4);
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 4)
		_exit(102);

	pthread_t th;
	if (pthread_create(&th, NULL, thread_fn, NULL) != 0)
		_exit(103);
	pthread_join(th, NULL);

	execl("/proc/self/exe", "ptrace_events", "exec-child", (char *)NULL);
	_exit(104);
}

static unsigned long eventmsg(pid_t pid)
{
	unsigned long msg = 0;
	if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) != 0)
		return (unsigned long)-1;
	return msg;
}

/* expect_event waits for pid and checks it stopped at event. */
static int expect_event(const char *name, pid_t pid, int event)
{
	int st = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s: waitpid", name);
	CHECK_EQ(buf, waitpid(pid, &st, __WALL), pid);
	snprintf(buf, sizeof(buf), "%s: event %d", name, event);
	if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP && EVENT(st) == event)
		check_ok(buf);
	else
		check_fail(buf, "status %#x", st);
	return st;
}

/* expect_sigstop waits for the auto-attached new task pid's first stop. */
static void expect_sigstop(const char *name, pid_t pid)
{
	int st = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s: waitpid new task", name);
	CHECK_EQ(buf, waitpid(pid, &st, __WALL), pid);
	snprintf(buf, sizeof(buf), "%s: new task starts with SIGSTOP", name);
	if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP && EVENT(st) == 0)
		check_ok(buf);
	else
		check_fail(buf, "status %#x", st);
}

static void cont(const char *name, pid_t pid)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s: CONT", name);
	if (ptrace(PTRACE_CONT, pid, 0, 0) != 0)
		check_fail(buf, "errno %s", check_errname(errno));
}

/* expect_sigchld waits for pid's signal-delivery-stop for SIGCHLD (a
 * traced process sees even the signals it ignores) and suppresses it. */
static void expect_sigchld(const char *name, pid_t pid)
{
	int st = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s: SIGCHLD stop", name);
	waitpid(pid, &st, __WALL);
	if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGCHLD && EVENT(st) == 0)
		check_ok(buf);
	else
		check_fail(buf, "status %#x", st);
	if (ptrace(PTRACE_CONT, pid, 0, 0) != 0)
		check_fail(buf, "CONT errno %s", check_errname(errno));
}

static void expect_exit(const char *name, pid_t pid, int code)
{
	int st = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s: exit event", name);
	expect_event(buf, pid, PTRACE_EVENT_EXIT);
	snprintf(buf, sizeof(buf), "%s: exit event message", name);
	CHECK_EQ(buf, eventmsg(pid), code << 8);
	cont(name, pid);
	snprintf(buf, sizeof(buf), "%s: waitpid exit", name);
	CHECK_EQ(buf, waitpid(pid, &st, __WALL), pid);
	snprintf(buf, sizeof(buf), "%s: exited %d", name, code);
	if (WIFEXITED(st) && WEXITSTATUS(st) == code)
		check_ok(buf);
	else
		check_fail(buf, "status %#x", st);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec-child") == 0)
		return 5;

	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0)
		tracee();
	int st = 0;
	CHECK_EQ("waitpid", waitpid(pid, &st, 0), pid);
	REQUIRE("stopped", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE | PTRACE_O_TRACECLONE |
		    PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;
	CHECK_OK("SETOPTIONS", ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)opts));
	cont("start", pid);

	/* fork */
	expect_event("fork", pid, PTRACE_EVENT_FORK);
	pid_t c = (pid_t)eventmsg(pid);
	CHECK("fork: message is a new pid", c > 0 && c != pid);
	expect_sigstop("fork", c);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("fork: GETSIGINFO of the new child", ptrace(PTRACE_GETSIGINFO, c, 0, &si));
	CHECK_EQ("fork: its SIGSTOP", si.si_signo, SIGSTOP);
	/* Its options are inherited: it reports its exit event. */
	cont("fork child", c);
	cont("fork parent", pid);
	expect_exit("fork child", c, 3);
	/* The real parent is told after this tracer reaped it. */
	expect_sigchld("fork", pid);

	/* vfork: the parent stays in the vfork until the child exits. */
	expect_event("vfork", pid, PTRACE_EVENT_VFORK);
	c = (pid_t)eventmsg(pid);
	CHECK("vfork: message is a new pid", c > 0 && c != pid);
	expect_sigstop("vfork", c);
	cont("vfork parent", pid);
	cont("vfork child", c);
	expect_exit("vfork child", c, 4);
	expect_event("vfork done", pid, PTRACE_EVENT_VFORK_DONE);
	CHECK_EQ("vfork done: message", eventmsg(pid), c);
	cont("vfork done", pid);
	expect_sigchld("vfork", pid);

	/* a thread */
	expect_event("clone", pid, PTRACE_EVENT_CLONE);
	pid_t tid = (pid_t)eventmsg(pid);
	CHECK("clone: message is a new tid", tid > 0 && tid != pid);
	expect_sigstop("clone", tid);
	/* A traced thread is waitable without __WALL; its stop was collected. */
	CHECK_EQ("clone: waitpid without __WALL", waitpid(tid, &st, WNOHANG), 0);
	cont("clone thread", tid);
	cont("clone parent", pid);
	expect_exit("thread", tid, 0);

	/* exec */
	expect_event("exec", pid, PTRACE_EVENT_EXEC);
	CHECK_EQ("exec: message is the former tid", eventmsg(pid), pid);
	cont("exec", pid);
	expect_exit("exec'd", pid, 5);
	CHECK_ERR("no more children", waitpid(-1, &st, __WALL | WNOHANG), ECHILD);
	return check_done();
}
