/* ptrace_signals: signal-delivery-stops. The tracer suppresses a signal,
 * replaces one with another, edits a siginfo with PTRACE_SETSIGINFO, sees
 * a signal the tracee ignores, reads si_pid/si_code with GETSIGINFO, and
 * lets a fatal one through; group-stop of a traced process is reported
 * and resumed with PTRACE_CONT.
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
#include <unistd.h>

#include "check.h"

static volatile int usr1_count, usr1_value, usr1_code, usr2_count;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr1_count++;
	usr1_value = si->si_value.sival_int;
	usr1_code = si->si_code;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2_count++;
}

static void self_signal(int sig)
{
	syscall(SYS_kill, syscall(SYS_getpid), sig);
}

/* The tracee reports through its exit status which step went wrong. */
static void tracee(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGUSR2, on_usr2);
	signal(SIGWINCH, SIG_IGN);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
		_exit(100);
	self_signal(SIGSTOP);

	/* 1: suppressed by the tracer. */
	self_signal(SIGUSR1);
	if (usr1_count != 0)
		_exit(101);
	/* 2: SIGUSR2 replaced by SIGUSR1 (from the tracer: SI_USER). */
	self_signal(SIGUSR2);
	if (usr1_count != 1 || usr2_count != 0 || usr1_code != SI_USER)
		_exit(102);
	/* 3: sigqueue'd SIGUSR1 whose value the tracer changes to 99. */
	union sigval v = {.sival_int = 7};
	sigqueue(getpid(), SIGUSR1, v);
	if (usr1_count != 2 || usr1_value != 99 || usr1_code != SI_QUEUE)
		_exit(103);
	/* 4: an ignored signal still stops the tracee. */
	self_signal(SIGWINCH);
	/* 5: a group stop. */
	self_signal(SIGTSTP);
	/* 6: fatal, passed through. */
	self_signal(SIGTERM);
	_exit(104);
}

static int wait_stop(const char *name, pid_t pid)
{
	int st = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s: waitpid", name);
	CHECK_EQ(buf, waitpid(pid, &st, 0), pid);
	if (!WIFSTOPPED(st)) {
		check_fail(name, "not stopped: status %#x", st);
		return 0;
	}
	return WSTOPSIG(st);
}

int main(void)
{
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0)
		tracee();
	siginfo_t si;

	CHECK_EQ("SIGSTOP stop", wait_stop("attach", pid), SIGSTOP);
	CHECK_OK("CONT", ptrace(PTRACE_CONT, pid, 0, 0));

	/* 1 */
	CHECK_EQ("SIGUSR1 stop", wait_stop("suppress", pid), SIGUSR1);
	memset(&si, 0, sizeof(si));
	CHECK_OK("GETSIGINFO", ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
	CHECK_EQ("si_signo", si.si_signo, SIGUSR1);
	CHECK_EQ("si_code SI_USER", si.si_code, SI_USER);
	CHECK_EQ("si_pid is the tracee", si.si_pid, pid);
	CHECK_OK("suppress with CONT 0", ptrace(PTRACE_CONT, pid, 0, 0));

	/* 2 */
	CHECK_EQ("SIGUSR2 stop", wait_stop("replace", pid), SIGUSR2);
	CHECK_ERR("CONT with a bad signal", ptrace(PTRACE_CONT, pid, 0, (void *)65), EIO);
	CHECK_OK("replace with SIGUSR1", ptrace(PTRACE_CONT, pid, 0, (void *)SIGUSR1));

	/* 3 */
	CHECK_EQ("queued SIGUSR1 stop", wait_stop("setsiginfo", pid), SIGUSR1);
	memset(&si, 0, sizeof(si));
	CHECK_OK("GETSIGINFO queued", ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
	CHECK_EQ("queued si_code", si.si_code, SI_QUEUE);
	CHECK_EQ("queued si_value", si.si_value.sival_int, 7);
	si.si_value.sival_int = 99;
	CHECK_OK("SETSIGINFO", ptrace(PTRACE_SETSIGINFO, pid, 0, &si));
	CHECK_OK("deliver edited SIGUSR1", ptrace(PTRACE_CONT, pid, 0, (void *)SIGUSR1));

	/* 4 */
	CHECK_EQ("ignored SIGWINCH stops", wait_stop("ignored", pid), SIGWINCH);
	CHECK_OK("deliver SIGWINCH (ignored)", ptrace(PTRACE_CONT, pid, 0, (void *)SIGWINCH));

	/* 5: the signal-delivery-stop, then the group stop itself. */
	CHECK_EQ("SIGTSTP stop", wait_stop("tstp", pid), SIGTSTP);
	CHECK_OK("deliver SIGTSTP", ptrace(PTRACE_CONT, pid, 0, (void *)SIGTSTP));
	CHECK_EQ("group stop", wait_stop("group stop", pid), SIGTSTP);
	CHECK_ERR("GETSIGINFO in a group stop", ptrace(PTRACE_GETSIGINFO, pid, 0, &si), EINVAL);
	CHECK_OK("CONT out of the group stop", ptrace(PTRACE_CONT, pid, 0, 0));

	/* 6 */
	CHECK_EQ("SIGTERM stop", wait_stop("fatal", pid), SIGTERM);
	CHECK_OK("deliver SIGTERM", ptrace(PTRACE_CONT, pid, 0, (void *)SIGTERM));
	int st = 0;
	CHECK_EQ("waitpid death", waitpid(pid, &st, 0), pid);
	CHECK("killed by SIGTERM", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	if (WIFEXITED(st))
		printf("tracee exited %d\n", WEXITSTATUS(st));
	return check_done();
}
