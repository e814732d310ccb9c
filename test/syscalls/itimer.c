/*
 * itimer: setitimer/getitimer (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF)
 * and alarm: values and their rounding, huge values, bad arguments,
 * signals caught by handlers and default actions (in children, since the
 * sandbox runs the test as pid 1), inheritance across fork.
 */
// rampart:retries 2
#include "check.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static int64_t now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t tv_ns(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static volatile sig_atomic_t alrm, vtalrm, prof;

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		alrm++;
	else if (sig == SIGVTALRM)
		vtalrm++;
	else if (sig == SIGPROF)
		prof++;
}

/* spin_until spins until *count reaches n or 5s of wall time pass. */
static void spin_until(volatile sig_atomic_t *count, int n)
{
	int64_t start = now(CLOCK_MONOTONIC);
	volatile uint64_t x = 0;
	while (*count < n && now(CLOCK_MONOTONIC) - start < 5000 * MS)
		for (int i = 0; i < 10000; i++)
			x += i;
}

/* killed_by runs fn in a child and returns the signal that killed it, or
 * 0 if it exited. */
static int killed_by(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void child_real(void)
{
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < 500; i++)
		usleep(10000);
}

static void child_virtual(void)
{
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	volatile sig_atomic_t never = 0;
	spin_until(&never, 1);
}

static void child_prof(void)
{
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_PROF, &it, NULL);
	volatile sig_atomic_t never = 0;
	spin_until(&never, 1);
}

static void child_alarm(void)
{
	alarm(1);
	for (int i = 0; i < 500; i++)
		usleep(10000);
}

int main(void)
{
	struct itimerval it, old;

	/* Fresh timers are disarmed. */
	for (int w = ITIMER_REAL; w <= ITIMER_PROF; w++) {
		char name[64];
		snprintf(name, sizeof(name), "getitimer(%d) of a fresh process is zero", w);
		CHECK(name, getitimer(w, &it) == 0 && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0 &&
				    it.it_interval.tv_sec == 0 && it.it_interval.tv_usec == 0);
	}

	/* Values read back: the interval exactly, the value counting down. */
	it = (struct itimerval){{1, 999999}, {10, 0}};
	CHECK_EQ("setitimer(REAL, 10s every 1.999999s)", setitimer(ITIMER_REAL, &it, NULL), 0);
	CHECK_EQ("getitimer(REAL)", getitimer(ITIMER_REAL, &old), 0);
	CHECK("the interval reads back exactly", old.it_interval.tv_sec == 1 && old.it_interval.tv_usec == 999999);
	CHECK("the value is in (9s, 10s]", tv_ns(old.it_value) > 9000 * MS && tv_ns(old.it_value) <= 10000 * MS);
	CHECK("tv_usec in range", old.it_value.tv_usec >= 0 && old.it_value.tv_usec < 1000000);
	it = (struct itimerval){{0, 0}, {20, 0}};
	CHECK_EQ("setitimer returns the old setting", setitimer(ITIMER_REAL, &it, &old), 0);
	CHECK("old value in (9s, 10s] and old interval 1.999999s",
	      tv_ns(old.it_value) > 9000 * MS && tv_ns(old.it_value) <= 10000 * MS && old.it_interval.tv_sec == 1 &&
		      old.it_interval.tv_usec == 999999);

	/* alarm shares ITIMER_REAL and rounds to the nearest second. */
	CHECK_EQ("alarm(100) returns the 20s setitimer left, rounded", alarm(100), 20);
	CHECK_EQ("alarm(5) returns 100", alarm(5), 100);
	getitimer(ITIMER_REAL, &it);
	CHECK("alarm(5) shows in getitimer", tv_ns(it.it_value) > 4000 * MS && tv_ns(it.it_value) <= 5000 * MS &&
						      it.it_interval.tv_sec == 0 && it.it_interval.tv_usec == 0);
	it = (struct itimerval){{0, 0}, {0, 300000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_EQ("alarm rounds 0.3s up to 1 (a pending alarm is never 0)", alarm(0), 1);
	it = (struct itimerval){{0, 0}, {2, 600000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_EQ("alarm rounds 2.6s to 3", alarm(0), 3);
	CHECK_EQ("alarm(0) after alarm(0) returns 0", alarm(0), 0);
	getitimer(ITIMER_REAL, &it);
	CHECK("alarm(0) disarmed ITIMER_REAL", it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0);

	/* Disarming a REAL timer clears its interval. */
	it = (struct itimerval){{3, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	getitimer(ITIMER_REAL, &it);
	CHECK("a zero value disarms REAL and drops its interval",
	      it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0 && it.it_interval.tv_sec == 0);

	/* Huge values saturate instead of overflowing. */
	it = (struct itimerval){{LONG_MAX / 2, 0}, {LONG_MAX / 2, 999999}};
	CHECK_EQ("setitimer with huge values", setitimer(ITIMER_REAL, &it, NULL), 0);
	getitimer(ITIMER_REAL, &it);
	CHECK("a huge value reads back as ~292 years, not garbage",
	      it.it_value.tv_sec > 9000000000LL && it.it_value.tv_sec < 9300000000LL &&
		      it.it_value.tv_usec >= 0 && it.it_value.tv_usec < 1000000);
	CHECK("a huge interval saturates likewise", it.it_interval.tv_sec > 9000000000LL && it.it_interval.tv_sec < 9300000000LL);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);

	/* Bad arguments. */
	it = (struct itimerval){{0, 0}, {0, 1000000}};
	CHECK_ERR("tv_usec 1000000 is EINVAL", setitimer(ITIMER_REAL, &it, NULL), EINVAL);
	it = (struct itimerval){{0, -1}, {1, 0}};
	CHECK_ERR("a negative interval tv_usec is EINVAL", setitimer(ITIMER_REAL, &it, NULL), EINVAL);
	it = (struct itimerval){{0, 0}, {-1, 0}};
	CHECK_ERR("a negative tv_sec is EINVAL", setitimer(ITIMER_REAL, &it, NULL), EINVAL);
	it = (struct itimerval){{0, 0}, {0, 0}};
	CHECK_ERR("setitimer(3) is EINVAL", syscall(SYS_setitimer, 3, &it, NULL), EINVAL);
	CHECK_ERR("getitimer(3) is EINVAL", syscall(SYS_getitimer, 3, &it), EINVAL);
	CHECK_ERR("getitimer(-1) is EINVAL", syscall(SYS_getitimer, -1, &it), EINVAL);
	CHECK_ERR("setitimer from a bad pointer is EFAULT", syscall(SYS_setitimer, ITIMER_REAL, (void *)8, NULL), EFAULT);
	CHECK_ERR("getitimer to a bad pointer is EFAULT", syscall(SYS_getitimer, ITIMER_REAL, (void *)8), EFAULT);
	CHECK_EQ("setitimer with a NULL new value disarms", syscall(SYS_setitimer, ITIMER_REAL, NULL, &old), 0);

	/* ITIMER_VIRTUAL counts CPU time, not sleep. */
	it = (struct itimerval){{0, 0}, {1, 0}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	usleep(200000);
	getitimer(ITIMER_VIRTUAL, &it);
	/* (Linux adds a tick, up to 10ms, to a CPU itimer's value.) */
	CHECK("VIRTUAL barely moves over a 200ms sleep", tv_ns(it.it_value) > 950 * MS && tv_ns(it.it_value) <= 1010 * MS);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);

	/* Itimers are not inherited by fork. */
	it = (struct itimerval){{0, 0}, {100, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	setitimer(ITIMER_PROF, &it, NULL);
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		struct itimerval r, p;
		getitimer(ITIMER_REAL, &r);
		getitimer(ITIMER_PROF, &p);
		_exit(r.it_value.tv_sec == 0 && r.it_value.tv_usec == 0 && p.it_value.tv_sec == 0 &&
				      p.it_value.tv_usec == 0
			      ? 0
			      : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK("a forked child has no itimers", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	setitimer(ITIMER_PROF, &it, NULL);

	/* Default actions kill. */
	CHECK_EQ("ITIMER_REAL's SIGALRM kills a child", killed_by(child_real), SIGALRM);
	CHECK_EQ("ITIMER_VIRTUAL's SIGVTALRM kills a spinning child", killed_by(child_virtual), SIGVTALRM);
	CHECK_EQ("ITIMER_PROF's SIGPROF kills a spinning child", killed_by(child_prof), SIGPROF);
	CHECK_EQ("alarm's SIGALRM kills a child", killed_by(child_alarm), SIGALRM);

	/* Handlers count ticks. */
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGVTALRM, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);

	it = (struct itimerval){{0, 10000}, {0, 10000}};
	CHECK_EQ("setitimer(REAL, every 10ms)", setitimer(ITIMER_REAL, &it, NULL), 0);
	int eintr = 0;
	int64_t start = now(CLOCK_MONOTONIC);
	while (alrm < 5 && now(CLOCK_MONOTONIC) - start < 5000 * MS) {
		struct timespec req = {1, 0};
		if (nanosleep(&req, NULL) == -1 && errno == EINTR)
			eintr++;
	}
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK("REAL: the handler ran at least 5 times", alrm >= 5);
	/* A SIGALRM that lands between two sleeps (a loaded host preempts
	 * the loop) runs the handler without interrupting one. */
	CHECK("REAL: SIGALRM interrupted nanosleep with EINTR", eintr >= 1 && eintr <= alrm);

	it = (struct itimerval){{0, 10000}, {0, 10000}};
	CHECK_EQ("setitimer(VIRTUAL, every 10ms of user time)", setitimer(ITIMER_VIRTUAL, &it, NULL), 0);
	spin_until(&vtalrm, 3);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	CHECK("VIRTUAL: SIGVTALRM came at least 3 times while spinning", vtalrm >= 3);

	it = (struct itimerval){{0, 10000}, {0, 10000}};
	CHECK_EQ("setitimer(PROF, every 10ms of CPU time)", setitimer(ITIMER_PROF, &it, NULL), 0);
	spin_until(&prof, 3);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_PROF, &it, NULL);
	CHECK("PROF: SIGPROF came at least 3 times while spinning", prof >= 3);
	return check_done();
}
