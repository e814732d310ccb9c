/*
 * busy_loop: an application that runs without making syscalls is still
 * interrupted: SIGKILL ends a spinning process (all its threads) promptly,
 * SIGSTOP stops it, a timer's signal (ITIMER_REAL's SIGALRM) runs its
 * handler in the middle of the loop, and a signal from another thread runs
 * in a spinning thread. A platform that only regains control at syscalls
 * or faults fails all of these.
 *
 * The signals to processes go to children: the sandbox runs the test as
 * its pid 1, which ignores default-action signals sent from inside.
 */
// rampart:timeout 60s
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "check.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spin loops without a single syscall until *flag is set or about 20 s of
 * time-stamp-counter ticks (at up to 5 GHz) pass; it returns whether flag
 * was set. */
static int spin(volatile sig_atomic_t *flag)
{
	uint64_t end = __rdtsc() + 100000000000ull;
	while (!*flag && __rdtsc() < end)
		__asm__ volatile("pause");
	return *flag != 0;
}

static void *spin_forever(void *arg)
{
	(void)arg;
	for (;;)
		__asm__ volatile("" ::: "memory");
	return NULL;
}

/* spinning_child forks a child that starts threads-1 extra spinning
 * threads, tells the parent through a pipe, and spins; it returns its
 * pid once the child is spinning. */
static pid_t spinning_child(int threads)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (int i = 1; i < threads; i++) {
			pthread_t th;
			pthread_create(&th, NULL, spin_forever, NULL);
		}
		write(p[1], "x", 1);
		spin_forever(NULL);
	}
	close(p[1]);
	char c;
	if (pid < 0 || read(p[0], &c, 1) != 1)
		pid = -1;
	close(p[0]);
	usleep(50000); /* let it get deep into the loop */
	return pid;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static volatile sig_atomic_t usr1_in_spinner;
static pthread_t spinner_thread;
static void on_usr1(int sig)
{
	(void)sig;
	if (pthread_equal(pthread_self(), spinner_thread))
		usr1_in_spinner = 1;
}

static void *spinner(void *arg)
{
	(void)arg;
	return (void *)(long)spin(&usr1_in_spinner);
}

int main(void)
{
	int st;

	/* SIGKILL of a spinning process, single- and multi-threaded. */
	for (int threads = 1; threads <= 4; threads += 3) {
		pid_t c = spinning_child(threads);
		REQUIRE("fork a spinning child", c > 0);
		int64_t t0 = now_ms();
		CHECK_EQ("kill(SIGKILL) of a spinning child", kill(c, SIGKILL), 0);
		CHECK_EQ("reaped", waitpid(c, &st, 0), c);
		CHECK("killed by SIGKILL", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		CHECK("within 5 s", now_ms() - t0 < 5000);
	}

	/* SIGSTOP and SIGCONT of a spinning process. */
	pid_t c = spinning_child(2);
	REQUIRE("fork a spinning child", c > 0);
	CHECK_EQ("SIGSTOP", kill(c, SIGSTOP), 0);
	CHECK_EQ("the spinning child stops", waitpid(c, &st, WUNTRACED), c);
	CHECK("stopped by SIGSTOP", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	CHECK_EQ("SIGCONT", kill(c, SIGCONT), 0);
	CHECK_EQ("it continues", waitpid(c, &st, WCONTINUED), c);
	CHECK("continued", WIFCONTINUED(st));
	kill(c, SIGKILL);
	CHECK_EQ("and dies", waitpid(c, &st, 0), c);

	/* A periodic ITIMER_REAL interrupts the loop: the handler runs three
	 * times although the loop makes no syscall. */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 20000}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	uint64_t end = __rdtsc() + 100000000000ull;
	while (alarms < 3 && __rdtsc() < end)
		__asm__ volatile("pause");
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	CHECK("SIGALRM's handler ran 3 times in a loop without syscalls", alarms >= 3);

	/* A signal sent by another thread runs in a spinning thread. */
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	REQUIRE("pthread_create", pthread_create(&spinner_thread, NULL, spinner, NULL) == 0);
	usleep(50000);
	CHECK_EQ("pthread_kill", pthread_kill(spinner_thread, SIGUSR1), 0);
	void *ret;
	pthread_join(spinner_thread, &ret);
	CHECK("the handler ran in the spinning thread", ret != NULL);

	return check_done();
}
