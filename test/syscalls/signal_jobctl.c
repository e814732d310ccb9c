/* signal_jobctl: SIGSTOP stops every thread of a child (its threads stop
 * making progress), the parent sees it with WUNTRACED and waitid WSTOPPED
 * (WNOWAIT leaves it to collect again) and gets SIGCHLD CLD_STOPPED;
 * SIGCONT resumes it, reported with WCONTINUED and CLD_CONTINUED;
 * SA_NOCLDSTOP suppresses both SIGCHLDs. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile int nchld;
static volatile int codes[16];

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (nchld < 16)
		codes[nchld] = si->si_code;
	nchld++;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR) {
	}
}

static _Atomic long *counter;

static void *spin(void *arg)
{
	(void)arg;
	for (;;)
		atomic_fetch_add(counter, 1);
	return NULL;
}

/* Wait (with a deadline) until SIGCHLD count reaches n. */
static void wait_chld(int n)
{
	for (int i = 0; i < 500 && nchld < n; i++)
		sleep_ms(10);
}

int main(void)
{
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);

	pid_t c = fork();
	if (c == 0) {
		pthread_t th;
		pthread_create(&th, NULL, spin, NULL);
		for (;;)
			pause();
	}
	while (atomic_load(counter) == 0)
		sleep_ms(1);

	int st = 0;
	CHECK_EQ("WNOHANG running", waitpid(c, &st, WNOHANG | WUNTRACED | WCONTINUED), 0);
	CHECK_OK("SIGSTOP", kill(c, SIGSTOP));
	CHECK_EQ("waitpid WUNTRACED", waitpid(c, &st, WUNTRACED), c);
	CHECK("WIFSTOPPED", WIFSTOPPED(st));
	CHECK_EQ("WSTOPSIG", WSTOPSIG(st), SIGSTOP);
	wait_chld(1);
	CHECK_EQ("SIGCHLD on stop", nchld, 1);
	CHECK_EQ("CLD_STOPPED", codes[0], CLD_STOPPED);
	long a = atomic_load(counter);
	sleep_ms(50);
	CHECK("threads stopped", atomic_load(counter) == a);
	CHECK_EQ("stop reported once", waitpid(c, &st, WNOHANG | WUNTRACED), 0);

	CHECK_OK("SIGCONT", kill(c, SIGCONT));
	siginfo_t si = {0};
	CHECK_OK("waitid WCONTINUED WNOWAIT", waitid(P_PID, c, &si, WCONTINUED | WNOWAIT));
	CHECK_EQ("si_code CLD_CONTINUED", si.si_code, CLD_CONTINUED);
	CHECK_EQ("si_status SIGCONT", si.si_status, SIGCONT);
	CHECK("si_pid", si.si_pid == c);
	CHECK_EQ("waitpid WCONTINUED", waitpid(c, &st, WCONTINUED), c);
	CHECK("WIFCONTINUED", WIFCONTINUED(st));
	wait_chld(2);
	CHECK_EQ("SIGCHLD on continue", nchld, 2);
	CHECK_EQ("CLD_CONTINUED", codes[1], CLD_CONTINUED);
	a = atomic_load(counter);
	for (int i = 0; i < 200 && atomic_load(counter) == a; i++)
		sleep_ms(5);
	CHECK("threads run again", atomic_load(counter) != a);

	/* waitid WSTOPPED with WNOWAIT, then collect. */
	kill(c, SIGSTOP);
	memset(&si, 0, sizeof si);
	CHECK_OK("waitid WSTOPPED WNOWAIT", waitid(P_PID, c, &si, WSTOPPED | WNOWAIT));
	CHECK_EQ("si_code CLD_STOPPED", si.si_code, CLD_STOPPED);
	CHECK_EQ("si_status SIGSTOP", si.si_status, SIGSTOP);
	memset(&si, 0, sizeof si);
	CHECK_OK("waitid WSTOPPED", waitid(P_PID, c, &si, WSTOPPED));
	CHECK_EQ("still there", si.si_code, CLD_STOPPED);
	memset(&si, 0, sizeof si);
	CHECK_OK("waitid WNOHANG after", waitid(P_PID, c, &si, WSTOPPED | WNOHANG));
	CHECK_EQ("collected", si.si_pid, 0);

	/* SIGTERM while stopped: pending until SIGKILL/SIGCONT; SIGKILL kills. */
	kill(c, SIGKILL);
	CHECK_EQ("waitpid killed", waitpid(c, &st, 0), c);
	CHECK("killed while stopped", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* SA_NOCLDSTOP: no SIGCHLD for stop/continue, still reported to wait. */
	sa.sa_flags |= SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	nchld = 0;
	c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	kill(c, SIGSTOP);
	CHECK_EQ("NOCLDSTOP waitpid", waitpid(c, &st, WUNTRACED), c);
	CHECK("NOCLDSTOP stopped", WIFSTOPPED(st));
	kill(c, SIGCONT);
	CHECK_EQ("NOCLDSTOP continued", waitpid(c, &st, WCONTINUED), c);
	sleep_ms(50);
	CHECK_EQ("no SIGCHLD", nchld, 0);
	kill(c, SIGTERM);
	CHECK_EQ("waitpid term", waitpid(c, &st, 0), c);
	CHECK("terminated", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	wait_chld(1);
	CHECK_EQ("SIGCHLD on death", nchld, 1);
	CHECK_EQ("CLD_KILLED", codes[0], CLD_KILLED);
	return check_done();
}
