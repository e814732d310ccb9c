/*
 * sleep: nanosleep and clock_nanosleep on every clock that allows it,
 * relative and TIMER_ABSTIME, Linux's errors, the time left written back
 * when a handler interrupts a relative sleep (never for an absolute one),
 * EINTR even with SA_RESTART, and the transparent restart of a sleep
 * interrupted by a stop and continue. Only bounds are printed.
 */
// rampart:retries 2
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static int64_t ts_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec ns_ts(int64_t ns)
{
	return (struct timespec){ns / 1000000000, ns % 1000000000};
}

static int64_t now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts_ns(ts);
}

static long cns(clockid_t c, int flags, const struct timespec *req, struct timespec *rem)
{
	/* The raw syscall: it returns -errno where glibc returns errno. */
	long r = syscall(SYS_clock_nanosleep, c, flags, req, rem);
	return r == -1 ? errno : r;
}

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

/* interrupter: a child that sends SIGUSR1 to the parent after ms. */
static pid_t interrupter(int ms)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec d = ns_ts(ms * MS);
		nanosleep(&d, NULL);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	return pid;
}

int main(void)
{
	static const struct {
		clockid_t id;
		const char *name;
	} clocks[] = {
		{CLOCK_REALTIME, "REALTIME"},
		{CLOCK_MONOTONIC, "MONOTONIC"},
		{CLOCK_BOOTTIME, "BOOTTIME"},
		{CLOCK_TAI, "TAI"},
	};
	char name[128];
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		clockid_t c = clocks[i].id;
		struct timespec req = ns_ts(20 * MS);
		int64_t t0 = now(CLOCK_MONOTONIC);
		snprintf(name, sizeof(name), "clock_nanosleep(%s, 20ms)", clocks[i].name);
		CHECK_EQ(name, cns(c, 0, &req, NULL), 0);
		int64_t d = now(CLOCK_MONOTONIC) - t0;
		snprintf(name, sizeof(name), "%s: slept 20ms..1s", clocks[i].name);
		CHECK(name, d >= 20 * MS && d < 1000 * MS);
		int64_t target = now(c) + 30 * MS;
		struct timespec abs = ns_ts(target);
		snprintf(name, sizeof(name), "clock_nanosleep(%s, TIMER_ABSTIME)", clocks[i].name);
		CHECK_EQ(name, cns(c, TIMER_ABSTIME, &abs, NULL), 0);
		int64_t woke = now(c);
		snprintf(name, sizeof(name), "%s: woke at or after the deadline, within 1s", clocks[i].name);
		CHECK(name, woke >= target && woke < target + 1000 * MS);
		struct timespec past = {1, 0};
		snprintf(name, sizeof(name), "%s: an absolute time in the past returns at once", clocks[i].name);
		CHECK_EQ(name, cns(c, TIMER_ABSTIME, &past, NULL), 0);
	}

	/* Sleeping on CPU clocks: the process clock advances only while some
	 * thread runs (cputime.c sleeps on it while a thread spins), so only
	 * a deadline already passed is used here. */
	struct timespec tiny = {0, 1};
	struct timespec past = {0, 1};
	CHECK_EQ("clock_nanosleep(PROCESS_CPUTIME_ID, ABSTIME in the past)",
		 cns(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &past, NULL), 0);
	CHECK_EQ("clock_nanosleep(THREAD_CPUTIME_ID) is EOPNOTSUPP (raw syscall)",
		 cns(CLOCK_THREAD_CPUTIME_ID, 0, &tiny, NULL), EOPNOTSUPP);
	CHECK_EQ("glibc clock_nanosleep(THREAD_CPUTIME_ID) is EINVAL",
		 clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &tiny, NULL), EINVAL);
	CHECK_EQ("sleeping on the own thread's clock id is EINVAL",
		 cns(((~0u) << 3) | 6, 0, &tiny, NULL), EINVAL);

	/* Errors. */
	struct timespec req = {0, 1000000000};
	CHECK_ERR("nanosleep tv_nsec 1e9 is EINVAL", nanosleep(&req, NULL), EINVAL);
	req = (struct timespec){0, -1};
	CHECK_ERR("nanosleep tv_nsec -1 is EINVAL", nanosleep(&req, NULL), EINVAL);
	req = (struct timespec){-1, 0};
	CHECK_ERR("nanosleep tv_sec -1 is EINVAL", nanosleep(&req, NULL), EINVAL);
	CHECK_ERR("nanosleep from a bad pointer is EFAULT", syscall(SYS_nanosleep, (void *)8, NULL), EFAULT);
	req = (struct timespec){0, 1000000000};
	CHECK_EQ("clock_nanosleep tv_nsec 1e9 is EINVAL", cns(CLOCK_MONOTONIC, 0, &req, NULL), EINVAL);
	CHECK_EQ("clock_nanosleep ABSTIME tv_nsec 1e9 is EINVAL", cns(CLOCK_MONOTONIC, TIMER_ABSTIME, &req, NULL), EINVAL);
	req = (struct timespec){-1, 0};
	CHECK_EQ("clock_nanosleep ABSTIME tv_sec -1 is EINVAL", cns(CLOCK_REALTIME, TIMER_ABSTIME, &req, NULL), EINVAL);
	req = (struct timespec){0, 1};
	CHECK_EQ("clock_nanosleep of an invalid clock is EINVAL", cns(123, 0, &req, NULL), EINVAL);
	CHECK_EQ("clock_nanosleep of clock 10 is EINVAL", cns(10, 0, &req, NULL), EINVAL);
	CHECK_EQ("clock_nanosleep(MONOTONIC_RAW) is EOPNOTSUPP", cns(CLOCK_MONOTONIC_RAW, 0, &req, NULL), EOPNOTSUPP);
	CHECK_EQ("clock_nanosleep(REALTIME_COARSE) is EOPNOTSUPP", cns(CLOCK_REALTIME_COARSE, 0, &req, NULL), EOPNOTSUPP);
	CHECK_EQ("clock_nanosleep(MONOTONIC_COARSE) is EOPNOTSUPP", cns(CLOCK_MONOTONIC_COARSE, 0, &req, NULL), EOPNOTSUPP);
	CHECK_EQ("clock_nanosleep from a bad pointer is EFAULT", cns(CLOCK_MONOTONIC, 0, (void *)8, NULL), EFAULT);
	CHECK_EQ("unknown flags are ignored", cns(CLOCK_MONOTONIC, 0x100, &req, NULL), 0);

	/* A handler interrupts a relative sleep: EINTR and the time left. */
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	/* The handler comes after 500ms, so that a correct rem (about 1.5s)
	 * is far from a wrong one (2s untouched, or 0) even when a loaded
	 * host preempts this thread for a few hundred ms around the call. */
	pid_t pid = interrupter(500);
	req = ns_ts(2000 * MS);
	struct timespec rem = {-1, -1};
	int64_t t0 = now(CLOCK_MONOTONIC);
	int r = nanosleep(&req, &rem);
	int e = errno;
	int64_t d = now(CLOCK_MONOTONIC) - t0;
	CHECK("nanosleep interrupted by a handler returns EINTR", r == -1 && e == EINTR && got == 1);
	CHECK("it returned early", d < 1900 * MS);
	CHECK("rem holds the time left: 2s minus the time slept, within 300ms",
	      rem.tv_nsec >= 0 && rem.tv_nsec < 1000000000 && ts_ns(rem) <= 2000 * MS - d + 300 * MS &&
		      ts_ns(rem) >= 2000 * MS - d - 300 * MS);
	waitpid(pid, NULL, 0);

	/* clock_nanosleep: the same, and its error is the return value. */
	pid = interrupter(500);
	rem = (struct timespec){-1, -1};
	t0 = now(CLOCK_MONOTONIC);
	CHECK_EQ("clock_nanosleep interrupted returns EINTR", clock_nanosleep(CLOCK_BOOTTIME, 0, &req, &rem), EINTR);
	d = now(CLOCK_MONOTONIC) - t0;
	CHECK("clock_nanosleep's rem holds the time left",
	      ts_ns(rem) <= 2000 * MS - d + 300 * MS && ts_ns(rem) >= 2000 * MS - d - 300 * MS);
	waitpid(pid, NULL, 0);

	/* An absolute sleep leaves rem alone. */
	pid = interrupter(50);
	rem = (struct timespec){123, 456};
	struct timespec abs = ns_ts(now(CLOCK_MONOTONIC) + 2000 * MS);
	CHECK_EQ("an interrupted TIMER_ABSTIME sleep returns EINTR", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem), EINTR);
	CHECK("and does not write rem", rem.tv_sec == 123 && rem.tv_nsec == 456);
	waitpid(pid, NULL, 0);

	/* SA_RESTART does not restart sleeps. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pid = interrupter(50);
	t0 = now(CLOCK_MONOTONIC);
	r = nanosleep(&req, NULL);
	e = errno;
	CHECK("nanosleep is EINTR even with SA_RESTART", r == -1 && e == EINTR && now(CLOCK_MONOTONIC) - t0 < 1900 * MS);
	waitpid(pid, NULL, 0);
	pid = interrupter(50);
	abs = ns_ts(now(CLOCK_MONOTONIC) + 2000 * MS);
	CHECK_EQ("an absolute clock_nanosleep is EINTR even with SA_RESTART",
		 clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), EINTR);
	waitpid(pid, NULL, 0);

	/* A rem at a bad address turns EINTR into EFAULT. */
	pid = interrupter(50);
	CHECK_ERR("an interrupted nanosleep with a bad rem is EFAULT", syscall(SYS_nanosleep, &req, (void *)8), EFAULT);
	waitpid(pid, NULL, 0);

	/* A stop and continue (no handler runs) restarts the sleep with the
	 * time left, through restart_syscall: it ends on time. */
	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		struct timespec q = ns_ts(400 * MS), left = {0, 0};
		int64_t s = now(CLOCK_MONOTONIC);
		int rr = nanosleep(&q, &left);
		int64_t slept = now(CLOCK_MONOTONIC) - s;
		_exit(rr == 0 && slept >= 400 * MS && slept < 2000 * MS ? 0 : 1);
	}
	struct timespec d100 = ns_ts(100 * MS);
	nanosleep(&d100, NULL);
	kill(pid, SIGSTOP);
	int status;
	CHECK_EQ("the sleeper stopped", waitpid(pid, &status, WUNTRACED), pid);
	CHECK("WIFSTOPPED", WIFSTOPPED(status));
	nanosleep(&d100, NULL);
	kill(pid, SIGCONT);
	CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
	CHECK("the sleep resumed transparently and ended on time (400ms..2s)", WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A sleep restarted after a stop keeps its original deadline
	 * (restart_syscall does not start over). The child is stopped 50ms
	 * into a 1s sleep and continued 1.5s later, after its deadline: it
	 * must return at once, where a sleep restarted with the time left
	 * (950ms) or from the start (1s) would run on. The 500ms bound leaves
	 * room for a loaded host's scheduling delays. */
	int pfd[2];
	REQUIRE("pipe", pipe(pfd) == 0);
	pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		struct timespec q = ns_ts(1000 * MS);
		int64_t times[2];
		times[0] = now(CLOCK_MONOTONIC);
		int rr = clock_nanosleep(CLOCK_MONOTONIC, 0, &q, NULL);
		times[1] = now(CLOCK_MONOTONIC);
		write(pfd[1], times, sizeof(times));
		_exit(rr);
	}
	struct timespec d50 = ns_ts(50 * MS), d1500 = ns_ts(1500 * MS);
	nanosleep(&d50, NULL);
	kill(pid, SIGSTOP);
	waitpid(pid, &status, WUNTRACED);
	nanosleep(&d1500, NULL);
	int64_t cont = now(CLOCK_MONOTONIC);
	kill(pid, SIGCONT);
	CHECK_EQ("waitpid", waitpid(pid, &status, 0), pid);
	CHECK("the restarted clock_nanosleep returned 0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int64_t times[2] = {0, 0};
	read(pfd[0], times, sizeof(times));
	int64_t deadline = times[0] + 1000 * MS;
	int64_t expect = deadline > cont ? deadline : cont;
	CHECK("it slept at least 1s", times[1] >= deadline);
	CHECK("it kept its deadline (ended within 500ms of max(deadline, continue))", times[1] < expect + 500 * MS);
	return check_done();
}
