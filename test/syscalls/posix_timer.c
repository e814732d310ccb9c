/*
 * posix_timer: timer_create/settime/gettime/getoverrun/delete through the
 * raw syscalls (kernel timer ids): SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD_ID
 * and the default sigevent, host and CPU clocks, relative and absolute
 * times, overruns counted while the signal is blocked, deletion, fork and
 * exec, and Linux's errors.
 */
// rampart:retries 2
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static int tcreate(clockid_t c, struct sigevent *ev, int *id)
{
	return syscall(SYS_timer_create, c, ev, id);
}

static int tset(int id, int flags, int64_t value, int64_t interval, struct itimerspec *old)
{
	struct itimerspec its = {{interval / 1000000000, interval % 1000000000}, {value / 1000000000, value % 1000000000}};
	return syscall(SYS_timer_settime, id, flags, &its, old);
}

static int64_t ts_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t tget(int id, int64_t *interval)
{
	struct itimerspec its;
	if (syscall(SYS_timer_gettime, id, &its) != 0)
		return -1;
	if (interval)
		*interval = ts_ns(its.it_interval);
	return ts_ns(its.it_value);
}

static int64_t now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts_ns(ts);
}

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * MS};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void spin_cpu(int64_t ns)
{
	int64_t start = now(CLOCK_THREAD_CPUTIME_ID), w = now(CLOCK_MONOTONIC);
	volatile uint64_t x = 0;
	while (now(CLOCK_THREAD_CPUTIME_ID) - start < ns && now(CLOCK_MONOTONIC) - w < 5000 * MS)
		for (int i = 0; i < 10000; i++)
			x += i;
}

static volatile sig_atomic_t hits, last_code, last_value, last_timerid, last_overrun, last_tid;
/* first_overrun is the si_overrun of the first signal after hits was reset. */
static volatile sig_atomic_t first_overrun;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (hits == 0)
		first_overrun = si->si_overrun;
	hits++;
	last_code = si->si_code;
	last_value = si->si_value.sival_int;
	last_timerid = si->si_timerid;
	last_overrun = si->si_overrun;
	last_tid = gettid();
}

static volatile int thread_tid, thread_stop;

static void *target_thread(void *arg)
{
	(void)arg;
	thread_tid = gettid();
	while (!thread_stop)
		msleep(1);
	return NULL;
}

static int exec_check(int id)
{
	/* After execve: POSIX timers are gone, itimers stay. */
	struct itimerspec its;
	int gone = syscall(SYS_timer_gettime, id, &its) == -1 && errno == EINVAL;
	struct itimerval it;
	getitimer(ITIMER_REAL, &it);
	return gone && it.it_value.tv_sec > 50 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "exec-check") == 0)
		return exec_check(atoi(argv[2]));

	int id, id2;
	struct sigevent ev;
	struct itimerspec old;
	int64_t iv;

	/* SIGEV_NONE: nothing is sent, timer_gettime counts down. */
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_NONE;
	CHECK_EQ("timer_create(MONOTONIC, SIGEV_NONE)", tcreate(CLOCK_MONOTONIC, &ev, &id), 0);
	CHECK_EQ("a new timer is disarmed", tget(id, &iv), 0);
	CHECK_EQ("arm for 1s", tset(id, 0, 1000 * MS, 0, NULL), 0);
	int64_t v = tget(id, &iv);
	CHECK("timer_gettime is in (0.9s, 1s]", v > 900 * MS && v <= 1000 * MS && iv == 0);
	msleep(50);
	CHECK("it counts down", tget(id, NULL) <= 950 * MS);
	CHECK_EQ("re-arm returns the old value", tset(id, 0, 10 * MS, 0, &old), 0);
	CHECK("old value in (0.5s, 0.95s]", ts_ns(old.it_value) > 500 * MS && ts_ns(old.it_value) <= 950 * MS);
	msleep(30);
	CHECK_EQ("an expired one-shot SIGEV_NONE timer reads 0", tget(id, &iv), 0);
	CHECK_EQ("periodic: 10ms then every 20ms", tset(id, 0, 10 * MS, 20 * MS, NULL), 0);
	msleep(100);
	v = tget(id, &iv);
	CHECK("a periodic SIGEV_NONE timer reads the next period", v > 0 && v <= 20 * MS && iv == 20 * MS);
	CHECK_EQ("disarm", tset(id, 0, 0, 0, &old), 0);
	CHECK("the old setting is the periodic one", ts_ns(old.it_value) > 0 && ts_ns(old.it_value) <= 20 * MS &&
							     ts_ns(old.it_interval) == 20 * MS);
	/* (Linux reads a disarmed SIGEV_NONE host timer as its stale
	 * remaining time, so that is not checked here.) */
	CHECK_EQ("timer_getoverrun of a SIGEV_NONE timer is 0", syscall(SYS_timer_getoverrun, id), 0);

	/* Absolute deadlines on REALTIME and MONOTONIC. */
	int64_t target = now(CLOCK_MONOTONIC) + 200 * MS;
	CHECK_EQ("TIMER_ABSTIME on MONOTONIC", tset(id, TIMER_ABSTIME, target, 0, NULL), 0);
	v = tget(id, NULL);
	CHECK("it reads the time to the deadline", v > 100 * MS && v <= 200 * MS);
	CHECK_EQ("TIMER_ABSTIME in the past", tset(id, TIMER_ABSTIME, 1, 0, NULL), 0);
	CHECK_EQ("a past deadline expires at once", tget(id, NULL), 0);
	CHECK_EQ("timer_delete", syscall(SYS_timer_delete, id), 0);
	CHECK_EQ("timer_create(REALTIME, SIGEV_NONE)", tcreate(CLOCK_REALTIME, &ev, &id), 0);
	target = now(CLOCK_REALTIME) + 200 * MS;
	CHECK_EQ("TIMER_ABSTIME on REALTIME", tset(id, TIMER_ABSTIME, target, 0, NULL), 0);
	v = tget(id, NULL);
	CHECK("it reads the time to the deadline", v > 100 * MS && v <= 200 * MS);
	syscall(SYS_timer_delete, id);
	CHECK_EQ("timer_create(BOOTTIME)", tcreate(CLOCK_BOOTTIME, &ev, &id), 0);
	syscall(SYS_timer_delete, id);
	CHECK_EQ("timer_create(TAI)", tcreate(CLOCK_TAI, &ev, &id), 0);
	syscall(SYS_timer_delete, id);

	/* Huge values saturate. */
	CHECK_EQ("timer_create", tcreate(CLOCK_MONOTONIC, &ev, &id), 0);
	struct itimerspec huge = {{INT64_MAX / 2, 999999999}, {INT64_MAX / 2, 999999999}};
	CHECK_EQ("timer_settime with huge values", syscall(SYS_timer_settime, id, 0, &huge, NULL), 0);
	struct itimerspec cur;
	syscall(SYS_timer_gettime, id, &cur);
	CHECK("they read back saturated (~292 years)", cur.it_value.tv_sec > 9000000000LL && cur.it_value.tv_sec < 9300000000LL &&
							    cur.it_interval.tv_sec > 9000000000LL);
	CHECK_EQ("timer_delete", syscall(SYS_timer_delete, id), 0);

	/* CPU-time clocks. */
	CHECK_EQ("timer_create(PROCESS_CPUTIME_ID, SIGEV_NONE)", tcreate(CLOCK_PROCESS_CPUTIME_ID, &ev, &id), 0);
	CHECK_EQ("timer_create(THREAD_CPUTIME_ID, SIGEV_NONE)", tcreate(CLOCK_THREAD_CPUTIME_ID, &ev, &id2), 0);
	tset(id, 0, 1000 * MS, 0, NULL);
	tset(id2, 0, 1000 * MS, 0, NULL);
	msleep(100);
	CHECK("a process CPU timer does not move while sleeping", tget(id, NULL) > 950 * MS);
	spin_cpu(50 * MS);
	CHECK("a process CPU timer moves while spinning", tget(id, NULL) < 970 * MS);
	CHECK("a thread CPU timer moves while spinning", tget(id2, NULL) < 970 * MS);
	CHECK_EQ("disarm the CPU timer", tset(id, 0, 0, 0, NULL), 0);
	CHECK_EQ("a disarmed CPU timer reads 0", tget(id, &iv), 0);
	syscall(SYS_timer_delete, id);
	syscall(SYS_timer_delete, id2);

	/* Errors. */
	CHECK_ERR("an invalid clock is EINVAL", tcreate(123, &ev, &id), EINVAL);
	CHECK_ERR("MONOTONIC_RAW has no timers: EOPNOTSUPP", tcreate(CLOCK_MONOTONIC_RAW, &ev, &id), EOPNOTSUPP);
	CHECK_ERR("REALTIME_COARSE has no timers: EOPNOTSUPP", tcreate(CLOCK_REALTIME_COARSE, &ev, &id), EOPNOTSUPP);
	ev.sigev_notify = 99;
	CHECK_ERR("sigev_notify 99 is EINVAL", tcreate(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 0;
	CHECK_ERR("signal 0 is EINVAL", tcreate(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_signo = 65;
	CHECK_ERR("signal 65 is EINVAL", tcreate(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGUSR1;
	ev._sigev_un._tid = 0x3fffffff;
	CHECK_ERR("SIGEV_THREAD_ID of no thread is EINVAL", tcreate(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	ev.sigev_notify = SIGEV_THREAD_ID | SIGEV_THREAD;
	ev._sigev_un._tid = gettid();
	CHECK_ERR("SIGEV_THREAD_ID|SIGEV_THREAD is EINVAL", tcreate(CLOCK_MONOTONIC, &ev, &id), EINVAL);
	CHECK_ERR("a bad sigevent pointer is EFAULT", tcreate(CLOCK_MONOTONIC, (void *)8, &id), EFAULT);
	CHECK_ERR("timer_settime of no timer is EINVAL", tset(12345, 0, MS, 0, NULL), EINVAL);
	CHECK_ERR("timer_gettime of no timer is EINVAL", tget(12345, NULL), EINVAL);
	CHECK_ERR("timer_getoverrun of no timer is EINVAL", syscall(SYS_timer_getoverrun, 12345), EINVAL);
	CHECK_ERR("timer_delete of no timer is EINVAL", syscall(SYS_timer_delete, 12345), EINVAL);
	ev.sigev_notify = SIGEV_NONE;
	CHECK_EQ("timer_create", tcreate(CLOCK_MONOTONIC, &ev, &id), 0);
	struct itimerspec bad = {{0, 0}, {0, 1000000000}};
	CHECK_ERR("tv_nsec 1e9 is EINVAL", syscall(SYS_timer_settime, id, 0, &bad, NULL), EINVAL);
	bad = (struct itimerspec){{-1, 0}, {1, 0}};
	CHECK_ERR("a negative interval is EINVAL", syscall(SYS_timer_settime, id, 0, &bad, NULL), EINVAL);
	CHECK_ERR("a bad itimerspec pointer is EFAULT", syscall(SYS_timer_settime, id, 0, (void *)8, NULL), EFAULT);
	CHECK_ERR("timer_gettime to a bad pointer is EFAULT", syscall(SYS_timer_gettime, id, (void *)8), EFAULT);
	CHECK_EQ("timer_delete", syscall(SYS_timer_delete, id), 0);
	CHECK_ERR("a deleted timer is EINVAL", tget(id, NULL), EINVAL);
	CHECK_ERR("deleting twice is EINVAL", syscall(SYS_timer_delete, id), EINVAL);

	/* Timers are not inherited by fork, and execve deletes them while
	 * keeping itimers. */
	CHECK_EQ("timer_create", tcreate(CLOCK_MONOTONIC, &ev, &id), 0);
	tset(id, 0, 100000 * MS, 0, NULL);
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		struct itimerspec its;
		_exit(syscall(SYS_timer_gettime, id, &its) == -1 && errno == EINVAL ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK("a forked child does not have the timer", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		char arg[16];
		snprintf(arg, sizeof(arg), "%d", id);
		struct itimerval it = {{0, 0}, {100, 0}};
		setitimer(ITIMER_REAL, &it, NULL);
		execl(argv[0], argv[0], "exec-check", arg, (char *)NULL);
		_exit(3);
	}
	waitpid(pid, &status, 0);
	CHECK("execve deletes POSIX timers and keeps itimers", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	syscall(SYS_timer_delete, id);

	/* Signals. */
	struct sigaction sa = {0};
	sa.sa_sigaction = on_timer;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	/* SIGEV_SIGNAL with si_value, periodic. */
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	ev.sigev_value.sival_int = 4242;
	CHECK_EQ("timer_create(SIGEV_SIGNAL, SIGRTMIN)", tcreate(CLOCK_MONOTONIC, &ev, &id), 0);
	hits = 0;
	CHECK_EQ("every 10ms", tset(id, 0, 10 * MS, 10 * MS, NULL), 0);
	int64_t start = now(CLOCK_MONOTONIC);
	while (hits < 3 && now(CLOCK_MONOTONIC) - start < 5000 * MS)
		msleep(5);
	CHECK("SIGEV_SIGNAL: at least 3 signals", hits >= 3);
	CHECK_EQ("si_code is SI_TIMER", last_code, SI_TIMER);
	CHECK_EQ("si_value is sigev_value", last_value, 4242);
	CHECK_EQ("si_timerid is the timer id", last_timerid, id);
	CHECK_EQ("disarm", tset(id, 0, 0, 0, NULL), 0);
	CHECK_EQ("a disarmed timer reads 0", tget(id, &iv), 0);
	CHECK_EQ("and has no interval", iv, 0);
	tset(id, 0, 10 * MS, 10 * MS, NULL);
	/* Delete: no more signals. */
	CHECK_EQ("timer_delete", syscall(SYS_timer_delete, id), 0);
	msleep(20);
	int after = hits;
	msleep(60);
	CHECK_EQ("no signal after timer_delete", hits, after);

	/* The default sigevent: SIGALRM with the timer id as si_value. */
	CHECK_EQ("timer_create with a NULL sigevent", tcreate(CLOCK_MONOTONIC, NULL, &id), 0);
	hits = 0;
	tset(id, 0, 10 * MS, 0, NULL);
	start = now(CLOCK_MONOTONIC);
	while (hits < 1 && now(CLOCK_MONOTONIC) - start < 5000 * MS)
		msleep(5);
	CHECK_EQ("the default sigevent sends one signal", hits, 1);
	CHECK_EQ("si_code is SI_TIMER", last_code, SI_TIMER);
	CHECK_EQ("si_value is the timer id", last_value, id);
	syscall(SYS_timer_delete, id);

	/* Overruns: while the signal is blocked, expirations are counted. */
	sigset_t set, prev;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, &prev);
	ev.sigev_value.sival_int = 7;
	CHECK_EQ("timer_create", tcreate(CLOCK_MONOTONIC, &ev, &id), 0);
	hits = 0;
	tset(id, 0, MS, MS, NULL);
	msleep(100);
	CHECK_EQ("no signal while blocked", hits, 0);
	sigprocmask(SIG_SETMASK, &prev, NULL);
	start = now(CLOCK_MONOTONIC);
	while (hits < 1 && now(CLOCK_MONOTONIC) - start < 5000 * MS)
		msleep(1);
	/*
	 * Block again so that no signal is delivered between reading
	 * last_overrun and timer_getoverrun. The timer keeps firing every
	 * millisecond, so on a loaded host a second signal (with a small
	 * count) may already have followed the first: the count of the
	 * blocked interval is the first signal's.
	 */
	sigprocmask(SIG_BLOCK, &set, NULL);
	CHECK("the signal came once unblocked", hits >= 1);
	CHECK("si_overrun counts the expirations while blocked (>= 20 of ~100)", first_overrun >= 20);
	CHECK_EQ("timer_getoverrun agrees with the last si_overrun", syscall(SYS_timer_getoverrun, id), last_overrun);
	tset(id, 0, 0, 0, NULL);
	CHECK_EQ("timer_settime resets timer_getoverrun", syscall(SYS_timer_getoverrun, id), 0);
	sigprocmask(SIG_SETMASK, &prev, NULL);
	syscall(SYS_timer_delete, id);

	/* SIGEV_THREAD_ID reaches the named thread. */
	pthread_t th;
	thread_tid = 0;
	thread_stop = 0;
	REQUIRE("pthread_create", pthread_create(&th, NULL, target_thread, NULL) == 0);
	while (!thread_tid)
		sched_yield();
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGUSR1;
	ev._sigev_un._tid = thread_tid;
	CHECK_EQ("timer_create(SIGEV_THREAD_ID)", tcreate(CLOCK_MONOTONIC, &ev, &id), 0);
	hits = 0;
	tset(id, 0, 5 * MS, 5 * MS, NULL);
	start = now(CLOCK_MONOTONIC);
	while (hits < 3 && now(CLOCK_MONOTONIC) - start < 5000 * MS)
		msleep(5);
	tset(id, 0, 0, 0, NULL);
	CHECK("SIGEV_THREAD_ID: at least 3 signals", hits >= 3);
	CHECK("they ran on the named thread", last_tid == thread_tid);
	syscall(SYS_timer_delete, id);
	thread_stop = 1;
	pthread_join(th, NULL);

	/* A CPU-clock timer with a signal, on a busy loop. */
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	CHECK_EQ("timer_create(PROCESS_CPUTIME_ID, SIGEV_SIGNAL)", tcreate(CLOCK_PROCESS_CPUTIME_ID, &ev, &id), 0);
	hits = 0;
	tset(id, 0, 10 * MS, 10 * MS, NULL);
	start = now(CLOCK_MONOTONIC);
	volatile uint64_t x = 0;
	while (hits < 3 && now(CLOCK_MONOTONIC) - start < 5000 * MS)
		for (int i = 0; i < 10000; i++)
			x += i;
	tset(id, 0, 0, 0, NULL);
	CHECK("a CPU-clock timer fires on a busy loop", hits >= 3);
	syscall(SYS_timer_delete, id);
	return check_done();
}
