/*
 * cputime: CPU-time clocks (process, thread, and those of other processes
 * and threads by clock id), clock_getres, times and getrusage of the
 * process, its threads and its reaped children, clock_settime refusals.
 * Only bounds are printed, never measured values.
 */
// rampart:retries 2
#include "check.h"

#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

/* Linux's CPU clock id encoding (include/linux/posix-timers.h). */
#define CPUCLOCK_PROF 0
#define CPUCLOCK_VIRT 1
#define CPUCLOCK_SCHED 2
#define CPUCLOCK_PERTHREAD_MASK 4
#define MAKE_PROCESS_CPUCLOCK(pid, clock) ((int)((unsigned)~(pid) << 3) | (clock))
#define MAKE_THREAD_CPUCLOCK(tid, clock) MAKE_PROCESS_CPUCLOCK((tid), (clock) | CPUCLOCK_PERTHREAD_MASK)

static int64_t now(clockid_t c)
{
	struct timespec ts;
	if (syscall(SYS_clock_gettime, c, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* spin_cpu spins until the thread has used ns of CPU time (robust on a
 * loaded machine, where wall time overstates it). */
static void spin_cpu(int64_t ns)
{
	int64_t start = now(CLOCK_THREAD_CPUTIME_ID);
	volatile uint64_t x = 0;
	while (now(CLOCK_THREAD_CPUTIME_ID) - start < ns)
		for (int i = 0; i < 100000; i++)
			x += i;
}

static int64_t tv_ns(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static volatile int stop_thread;
static volatile pid_t thread_tid;

static void *spinner(void *arg)
{
	(void)arg;
	thread_tid = gettid();
	volatile uint64_t x = 0;
	while (!stop_thread)
		for (int i = 0; i < 100000; i++)
			x += i;
	return NULL;
}

/* late_writer writes a byte to *arg after 200ms. */
static void *late_writer(void *arg)
{
	usleep(200000);
	if (write(*(int *)arg, "x", 1) != 1)
		return (void *)1;
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	thread_tid = gettid();
	while (!stop_thread)
		usleep(1000);
	return NULL;
}

int main(void)
{
	struct timespec ts;

	/* Resolutions: the scheduler clocks are 1ns, PROF/VIRT a tick. */
	CHECK_EQ("getres(PROCESS_CPUTIME_ID)", syscall(SYS_clock_getres, CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
	CHECK("PROCESS_CPUTIME_ID resolution is 1ns", ts.tv_sec == 0 && ts.tv_nsec == 1);
	CHECK_EQ("getres(THREAD_CPUTIME_ID)", syscall(SYS_clock_getres, CLOCK_THREAD_CPUTIME_ID, &ts), 0);
	CHECK("THREAD_CPUTIME_ID resolution is 1ns", ts.tv_sec == 0 && ts.tv_nsec == 1);
	CHECK_EQ("getres(process PROF clock)",
		 syscall(SYS_clock_getres, MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_PROF), &ts), 0);
	CHECK("PROF clock resolution is a tick (1..10ms)", ts.tv_sec == 0 && ts.tv_nsec >= MS && ts.tv_nsec <= 10 * MS);
	CHECK_EQ("getres(thread VIRT clock)",
		 syscall(SYS_clock_getres, MAKE_THREAD_CPUCLOCK(0, CPUCLOCK_VIRT), &ts), 0);
	CHECK("VIRT clock resolution is a tick (1..10ms)", ts.tv_sec == 0 && ts.tv_nsec >= MS && ts.tv_nsec <= 10 * MS);
	CHECK_EQ("getres(process SCHED clock)",
		 syscall(SYS_clock_getres, MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED), &ts), 0);
	CHECK("SCHED clock resolution is 1ns", ts.tv_sec == 0 && ts.tv_nsec == 1);
	CHECK_EQ("getres(REALTIME_COARSE)", syscall(SYS_clock_getres, CLOCK_REALTIME_COARSE, &ts), 0);
	CHECK("REALTIME_COARSE resolution is a tick (1..10ms)", ts.tv_sec == 0 && ts.tv_nsec >= MS && ts.tv_nsec <= 10 * MS);
	CHECK_EQ("getres(BOOTTIME)", syscall(SYS_clock_getres, CLOCK_BOOTTIME, &ts), 0);
	CHECK("BOOTTIME resolution is 1ns", ts.tv_sec == 0 && ts.tv_nsec == 1);
	CHECK_EQ("getres(TAI)", syscall(SYS_clock_getres, CLOCK_TAI, &ts), 0);
	CHECK_ERR("getres of clock 10 (SGI_CYCLE, gone) is EINVAL", syscall(SYS_clock_getres, 10, &ts), EINVAL);
	CHECK_ERR("getres of clock 12 is EINVAL", syscall(SYS_clock_getres, 12, &ts), EINVAL);
	CHECK_ERR("getres of CPU clock kind 3 is EINVAL",
		  syscall(SYS_clock_getres, MAKE_PROCESS_CPUCLOCK(0, 3), &ts), EINVAL);
	CHECK_ERR("gettime of CPU clock kind 3 is EINVAL",
		  syscall(SYS_clock_gettime, MAKE_THREAD_CPUCLOCK(0, 3), &ts), EINVAL);

	/* CPU clocks advance while spinning: spin until the thread clock
	 * shows 30ms (at most 5s, so that a clock that never moves fails
	 * rather than hangs, and a loaded machine does not). */
	int64_t p0 = now(CLOCK_PROCESS_CPUTIME_ID), t0 = now(CLOCK_THREAD_CPUTIME_ID);
	int64_t prof0 = now(MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_PROF));
	int64_t virt0 = now(MAKE_THREAD_CPUCLOCK(0, CPUCLOCK_VIRT));
	int64_t self0 = now(MAKE_PROCESS_CPUCLOCK(getpid(), CPUCLOCK_SCHED));
	int64_t w0 = now(CLOCK_MONOTONIC);
	volatile uint64_t x = 0;
	while (now(CLOCK_THREAD_CPUTIME_ID) - t0 < 30 * MS && now(CLOCK_MONOTONIC) - w0 < 5000 * MS)
		for (int i = 0; i < 100000; i++)
			x += i;
	int64_t p1 = now(CLOCK_PROCESS_CPUTIME_ID), t1 = now(CLOCK_THREAD_CPUTIME_ID);
	int64_t prof1 = now(MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_PROF));
	int64_t virt1 = now(MAKE_THREAD_CPUCLOCK(0, CPUCLOCK_VIRT));
	int64_t self1 = now(MAKE_PROCESS_CPUCLOCK(getpid(), CPUCLOCK_SCHED));
	int64_t w1 = now(CLOCK_MONOTONIC);
	CHECK("THREAD_CPUTIME_ID reaches +30ms while spinning", t1 - t0 >= 30 * MS);
	CHECK("PROCESS_CPUTIME_ID advances too", p1 - p0 >= 20 * MS);
	CHECK("process PROF clock advances", prof1 > prof0);
	CHECK("thread VIRT clock advances", virt1 > virt0);
	CHECK("clock of own pid advances", self1 - self0 >= 20 * MS);
	CHECK("CPU time <= wall time + slack", p1 - p0 <= w1 - w0 + 20 * MS);

	/* ... and not while sleeping. */
	p0 = now(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now(CLOCK_THREAD_CPUTIME_ID);
	struct timespec req = {0, 200 * MS};
	nanosleep(&req, NULL);
	p1 = now(CLOCK_PROCESS_CPUTIME_ID);
	t1 = now(CLOCK_THREAD_CPUTIME_ID);
	CHECK("PROCESS_CPUTIME_ID advances < 50ms over a 200ms sleep", p1 - p0 < 50 * MS);
	CHECK("THREAD_CPUTIME_ID advances < 50ms over a 200ms sleep", t1 - t0 < 50 * MS);

	/* Nor while blocked in a futex wait, a pipe read or poll. */
	p0 = now(CLOCK_PROCESS_CPUTIME_ID);
	uint32_t word = 0;
	syscall(SYS_futex, &word, FUTEX_WAIT, 0, &req, NULL, 0);
	int fds[2];
	REQUIRE("pipe", pipe(fds) == 0);
	pthread_t wr;
	REQUIRE("pthread_create writer", pthread_create(&wr, NULL, late_writer, &fds[1]) == 0);
	char rc;
	CHECK_EQ("read of a late write", read(fds[0], &rc, 1), 1);
	pthread_join(wr, NULL);
	struct pollfd pin = {.fd = fds[0], .events = POLLIN};
	CHECK_EQ("poll times out", poll(&pin, 1, 200), 0);
	close(fds[0]);
	close(fds[1]);
	p1 = now(CLOCK_PROCESS_CPUTIME_ID);
	CHECK("PROCESS_CPUTIME_ID advances < 100ms over 600ms blocked", p1 - p0 < 100 * MS);

	/* System time grows with the kernel's work for the process. */
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	struct stat sb;
	for (int i = 0; i < 200000; i++)
		stat("/", &sb);
	getrusage(RUSAGE_SELF, &ru1);
	CHECK("ru_stime grows over 200000 stat calls",
	      ru1.ru_stime.tv_sec * 1000000 + ru1.ru_stime.tv_usec > ru0.ru_stime.tv_sec * 1000000 + ru0.ru_stime.tv_usec);

	/* Threads: each has its own clock; the process clock sums them. */
	pthread_t th;
	stop_thread = 0;
	thread_tid = 0;
	REQUIRE("pthread_create spinner", pthread_create(&th, NULL, spinner, NULL) == 0);
	while (!thread_tid)
		sched_yield();
	clockid_t tclock;
	CHECK_EQ("pthread_getcpuclockid", pthread_getcpuclockid(th, &tclock), 0);
	CHECK_EQ("pthread clock id is MAKE_THREAD_CPUCLOCK(tid, SCHED)", tclock,
		 MAKE_THREAD_CPUCLOCK(thread_tid, CPUCLOCK_SCHED));
	int64_t th0 = now(tclock);
	t0 = now(CLOCK_THREAD_CPUTIME_ID);
	p0 = now(CLOCK_PROCESS_CPUTIME_ID);
	/* Sleep on the process clock: it moves because the other thread
	 * spins. */
	struct timespec cpu_req = {0, 30 * MS};
	CHECK_EQ("clock_nanosleep(PROCESS_CPUTIME_ID, 30ms) while another thread spins",
		 clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &cpu_req, NULL), 0);
	p1 = now(CLOCK_PROCESS_CPUTIME_ID);
	CHECK("the process clock moved >= 30ms", p1 - p0 >= 30 * MS);
	struct timespec rel = {0, 100 * MS};
	nanosleep(&rel, NULL);
	int64_t th1 = now(tclock);
	t1 = now(CLOCK_THREAD_CPUTIME_ID);
	CHECK("the spinning thread's clock advances", th1 - th0 >= 5 * MS);
	CHECK("the sleeping thread's clock does not", t1 - t0 < 50 * MS);
	CHECK("the process clock counts the spinning thread", now(CLOCK_PROCESS_CPUTIME_ID) - p0 >= th1 - th0 - 10 * MS);
	stop_thread = 1;
	pthread_join(th, NULL);
	/* The tid is released shortly after the join returns. */
	for (int i = 0; i < 1000 && syscall(SYS_clock_gettime, tclock, &ts) == 0; i++)
		usleep(1000);
	CHECK_ERR("the clock of a joined thread is EINVAL", syscall(SYS_clock_gettime, tclock, &ts), EINVAL);

	/* RUSAGE_THREAD of a thread that sleeps is small; of the process
	 * includes the exited spinner. */
	struct rusage ru, rt;
	CHECK_EQ("getrusage(RUSAGE_SELF)", getrusage(RUSAGE_SELF, &ru), 0);
	CHECK_EQ("getrusage(RUSAGE_THREAD)", getrusage(RUSAGE_THREAD, &rt), 0);
	int64_t self_cpu = tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
	int64_t thr_cpu = tv_ns(rt.ru_utime) + tv_ns(rt.ru_stime);
	CHECK("RUSAGE_SELF includes the exited thread's time", self_cpu >= thr_cpu + 20 * MS);
	CHECK("RUSAGE_SELF tv_usec in range", ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 &&
						    ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000);
	CHECK("RUSAGE_SELF ru_maxrss is positive", ru.ru_maxrss > 0);
	CHECK_ERR("getrusage(RUSAGE_BOTH) is EINVAL", syscall(SYS_getrusage, -2, &ru), EINVAL);
	CHECK_ERR("getrusage(5) is EINVAL", syscall(SYS_getrusage, 5, &ru), EINVAL);
	CHECK_ERR("getrusage to a bad pointer is EFAULT", syscall(SYS_getrusage, RUSAGE_SELF, (void *)8), EFAULT);

	/* A sleeping thread's clock, read from another thread. */
	stop_thread = 0;
	thread_tid = 0;
	REQUIRE("pthread_create sleeper", pthread_create(&th, NULL, sleeper, NULL) == 0);
	while (!thread_tid)
		sched_yield();
	pthread_getcpuclockid(th, &tclock);
	th0 = now(tclock);
	nanosleep(&rel, NULL);
	CHECK("a sleeping thread's clock advances < 50ms in 100ms", now(tclock) - th0 < 50 * MS);
	stop_thread = 1;
	pthread_join(th, NULL);

	/* Children: times and RUSAGE_CHILDREN count reaped children only. */
	struct tms tm0, tm1;
	struct rusage rc0, rc1;
	CHECK("times() succeeds", times(&tm0) != (clock_t)-1);
	getrusage(RUSAGE_CHILDREN, &rc0);
	int pfd[2];
	REQUIRE("pipe", pipe(pfd) == 0);
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		spin_cpu(100 * MS);
		write(pfd[1], "x", 1);
		/* Wait to be killed, keeping the clock readable as a live
		 * process. */
		for (;;)
			pause();
	}
	close(pfd[1]);
	char c;
	REQUIRE("child spun", read(pfd[0], &c, 1) == 1);
	clockid_t cclock;
	CHECK_EQ("clock_getcpuclockid(child)", clock_getcpuclockid(pid, &cclock), 0);
	CHECK_EQ("child clock id is MAKE_PROCESS_CPUCLOCK(pid, SCHED)", cclock, MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED));
	CHECK("a live child's clock shows its spin", now(cclock) >= 90 * MS);
	/* User time is tick-sampled: how a loaded host splits the spin into
	 * user and system time varies, and it is not bounded by the precise
	 * SCHED clock, so only its presence is checked. */
	CHECK("a live child's VIRT clock shows its spin", now(MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_VIRT)) > 0);
	CHECK_ERR("a thread clock of another process is EINVAL",
		  syscall(SYS_clock_gettime, MAKE_THREAD_CPUCLOCK(pid, CPUCLOCK_SCHED), &ts), EINVAL);
	kill(pid, SIGKILL);
	siginfo_t si;
	CHECK_EQ("waitid WNOWAIT leaves a zombie", waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
	CHECK("a zombie's clock is still readable and shows its spin", now(cclock) >= 90 * MS);
	getrusage(RUSAGE_CHILDREN, &rc1);
	CHECK("an unreaped child is not in RUSAGE_CHILDREN",
	      tv_ns(rc1.ru_utime) + tv_ns(rc1.ru_stime) == tv_ns(rc0.ru_utime) + tv_ns(rc0.ru_stime));
	struct rusage wru;
	int status;
	CHECK_EQ("wait4 reaps", wait4(pid, &status, 0, &wru), pid);
	CHECK("wait4's rusage shows the child's spin", tv_ns(wru.ru_utime) + tv_ns(wru.ru_stime) >= 90 * MS);
	CHECK_ERR("a reaped child's clock is EINVAL", syscall(SYS_clock_gettime, cclock, &ts), EINVAL);
	CHECK_ERR("clock_getres of a reaped child's clock is EINVAL", syscall(SYS_clock_getres, cclock, &ts), EINVAL);
	getrusage(RUSAGE_CHILDREN, &rc1);
	CHECK("RUSAGE_CHILDREN grew by the child's spin",
	      tv_ns(rc1.ru_utime) + tv_ns(rc1.ru_stime) - tv_ns(rc0.ru_utime) - tv_ns(rc0.ru_stime) >= 90 * MS);
	CHECK("times() succeeds again", times(&tm1) != (clock_t)-1);
	CHECK("tms_cutime+tms_cstime grew by >= 9 ticks",
	      (tm1.tms_cutime + tm1.tms_cstime) - (tm0.tms_cutime + tm0.tms_cstime) >= 9);
	CHECK("tms_utime+tms_stime did not shrink", tm1.tms_utime + tm1.tms_stime >= tm0.tms_utime + tm0.tms_stime);
	CHECK_EQ("times(NULL) works", times(NULL) == (clock_t)-1, 0);
	CHECK_ERR("times to a bad pointer is EFAULT", syscall(SYS_times, (void *)8), EFAULT);

	/* Grandchildren count once their parent reaped them and was reaped. */
	getrusage(RUSAGE_CHILDREN, &rc0);
	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		pid_t g = fork();
		if (g == 0) {
			spin_cpu(60 * MS);
			_exit(0);
		}
		waitpid(g, NULL, 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	getrusage(RUSAGE_CHILDREN, &rc1);
	CHECK("RUSAGE_CHILDREN includes a reaped grandchild",
	      tv_ns(rc1.ru_utime) + tv_ns(rc1.ru_stime) - tv_ns(rc0.ru_utime) - tv_ns(rc0.ru_stime) >= 50 * MS);

	/* A child reaped automatically (SIGCHLD ignored) is not counted. */
	signal(SIGCHLD, SIG_IGN);
	getrusage(RUSAGE_CHILDREN, &rc0);
	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		spin_cpu(60 * MS);
		_exit(0);
	}
	CHECK_ERR("wait with SIGCHLD ignored is ECHILD", waitpid(pid, NULL, 0), ECHILD);
	getrusage(RUSAGE_CHILDREN, &rc1);
	CHECK("an auto-reaped child is not in RUSAGE_CHILDREN",
	      tv_ns(rc1.ru_utime) + tv_ns(rc1.ru_stime) == tv_ns(rc0.ru_utime) + tv_ns(rc0.ru_stime));
	signal(SIGCHLD, SIG_DFL);

	/* clock_settime: only REALTIME is settable, and only with
	 * CAP_SYS_TIME; CPU clocks never. Done as nobody so that a native
	 * root run cannot change the clock. */
	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		int ok = 1;
		ok &= syscall(SYS_clock_settime, CLOCK_REALTIME, &t) == -1 && errno == EPERM;
		ok &= syscall(SYS_clock_settime, CLOCK_MONOTONIC, &t) == -1 && errno == EINVAL;
		ok &= syscall(SYS_clock_settime, CLOCK_BOOTTIME, &t) == -1 && errno == EINVAL;
		ok &= syscall(SYS_clock_settime, CLOCK_PROCESS_CPUTIME_ID, &t) == -1 && errno == EINVAL;
		ok &= syscall(SYS_clock_settime, MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED), &t) == -1 && errno == EPERM;
		ok &= syscall(SYS_clock_settime, MAKE_THREAD_CPUCLOCK(0, CPUCLOCK_PROF), &t) == -1 && errno == EPERM;
		ok &= syscall(SYS_clock_settime, MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED), (void *)8) == -1 && errno == EFAULT;
		ok &= syscall(SYS_clock_settime, 123, &t) == -1 && errno == EINVAL;
		struct timespec bad = {0, 1000000000};
		ok &= syscall(SYS_clock_settime, CLOCK_REALTIME, &bad) == -1 && errno == EINVAL;
		ok &= syscall(SYS_clock_settime, CLOCK_REALTIME, (void *)8) == -1 && errno == EFAULT;
		struct timeval tv = {t.tv_sec, 0};
		ok &= settimeofday(&tv, NULL) == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
	CHECK("clock_settime and settimeofday refuse like Linux for nobody", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Non-settable clocks are EINVAL even for root. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	CHECK_ERR("clock_settime(MONOTONIC) is EINVAL", syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts), EINVAL);
	CHECK_ERR("clock_settime(REALTIME_COARSE) is EINVAL", syscall(SYS_clock_settime, CLOCK_REALTIME_COARSE, &ts), EINVAL);
	return check_done();
}
