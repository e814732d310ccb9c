/*
 * clock: clock_gettime (served by the vDSO in the sandbox), gettimeofday,
 * time, clock_getres and the sleeps. Only bounds are printed, never values.
 */
// rampart:retries 2
#include "check.h"

#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now(clockid_t c)
{
	struct timespec ts;
	if (clock_gettime(c, &ts) != 0)
		return -1;
	return ns(ts);
}

#define MS 1000000LL

int main(void)
{
	struct timespec ts;
	static const struct {
		clockid_t id;
		const char *name;
	} clocks[] = {
		{CLOCK_REALTIME, "REALTIME"},
		{CLOCK_MONOTONIC, "MONOTONIC"},
		{CLOCK_BOOTTIME, "BOOTTIME"},
		{CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"},
		{CLOCK_REALTIME_COARSE, "REALTIME_COARSE"},
		{CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"},
		{CLOCK_PROCESS_CPUTIME_ID, "PROCESS_CPUTIME_ID"},
		{CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME_ID"},
	};
	/*
	 * First, from the program's start: MONOTONIC and REALTIME over 30 ms,
	 * read with the vDSO and the raw syscall in turn, never step back. A
	 * sandbox's vDSO makes the syscall until its first TSC calibration
	 * window closes, some milliseconds after start, and then switches.
	 */
	{
		int64_t t0 = now(CLOCK_MONOTONIC), last = t0, lastrt = now(CLOCK_REALTIME);
		int back = 0, backrt = 0;
		for (long i = 0; last - t0 < 30 * MS; i++) {
			int64_t t, rt;
			if (i & 1) {
				syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
				t = ns(ts);
			} else {
				t = now(CLOCK_MONOTONIC);
			}
			rt = now(CLOCK_REALTIME);
			back += t < last;
			backrt += rt < lastrt && lastrt - rt < MS; /* a host step is not ours */
			last = t;
			lastrt = rt;
		}
		CHECK_EQ("MONOTONIC never steps back over the first 30 ms", back, 0);
		CHECK_EQ("REALTIME never steps back over the first 30 ms", backrt, 0);
	}
	char name[128];
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		snprintf(name, sizeof(name), "clock_gettime(%s)", clocks[i].name);
		CHECK_EQ(name, clock_gettime(clocks[i].id, &ts), 0);
		snprintf(name, sizeof(name), "clock_gettime(%s) tv_nsec in range", clocks[i].name);
		CHECK(name, ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
		snprintf(name, sizeof(name), "raw clock_gettime(%s)", clocks[i].name);
		CHECK_EQ(name, syscall(SYS_clock_gettime, clocks[i].id, &ts), 0);
		snprintf(name, sizeof(name), "clock_getres(%s)", clocks[i].name);
		CHECK_EQ(name, clock_getres(clocks[i].id, &ts), 0);
		snprintf(name, sizeof(name), "clock_getres(%s) is in (0, 10ms]", clocks[i].name);
		CHECK(name, ts.tv_sec == 0 && ts.tv_nsec > 0 && ts.tv_nsec <= 10 * MS);
	}
	CHECK_EQ("clock_getres(MONOTONIC) is 1ns (high-resolution)",
		 (clock_getres(CLOCK_MONOTONIC, &ts), ns(ts)), 1);
	CHECK_EQ("clock_getres(REALTIME) is 1ns (high-resolution)",
		 (clock_getres(CLOCK_REALTIME, &ts), ns(ts)), 1);
	CHECK_EQ("clock_getres with a NULL buffer", clock_getres(CLOCK_MONOTONIC, NULL), 0);
	CHECK_ERR("clock_gettime of an invalid clock is EINVAL", clock_gettime((clockid_t)123, &ts), EINVAL);
	CHECK_ERR("clock_getres of an invalid clock is EINVAL", clock_getres((clockid_t)123, &ts), EINVAL);

	/* The clocks agree with each other. */
	struct timeval tv;
	int64_t rt = now(CLOCK_REALTIME);
	CHECK_EQ("gettimeofday", gettimeofday(&tv, NULL), 0);
	int64_t tvns = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
	CHECK("gettimeofday tv_usec in range", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	CHECK("gettimeofday is within 0.5s of REALTIME", tvns - rt > -500 * MS && tvns - rt < 500 * MS);
	time_t t = time(NULL);
	CHECK("time() is within 1s of REALTIME", (int64_t)t * 1000000000 - rt > -1000 * MS &&
						      (int64_t)t * 1000000000 - rt < 1000 * MS);
	CHECK("REALTIME is after 2020", rt > 1577836800LL * 1000000000);
	int64_t rc = now(CLOCK_REALTIME_COARSE);
	CHECK("REALTIME_COARSE is within 0.5s of REALTIME", rc - rt > -500 * MS && rc - rt < 500 * MS);
	int64_t mono = now(CLOCK_MONOTONIC);
	int64_t boot = now(CLOCK_BOOTTIME);
	CHECK("BOOTTIME >= MONOTONIC", boot >= mono);
	int64_t mc = now(CLOCK_MONOTONIC_COARSE);
	CHECK("MONOTONIC_COARSE is within 0.5s of MONOTONIC", mc - mono > -500 * MS && mc - mono < 500 * MS);
	int64_t raw = now(CLOCK_MONOTONIC_RAW);
	CHECK("MONOTONIC_RAW is positive", raw > 0);
	struct timespec sys;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &sys);
	int64_t after = now(CLOCK_MONOTONIC);
	CHECK("vDSO and syscall MONOTONIC agree", ns(sys) >= mono && ns(sys) <= after);

	/* MONOTONIC never goes back. */
	int64_t prev = now(CLOCK_MONOTONIC), back = 0, prevb = now(CLOCK_BOOTTIME), backb = 0;
	for (int i = 0; i < 20000; i++) {
		int64_t n = now(CLOCK_MONOTONIC);
		if (n < prev)
			back++;
		prev = n;
		n = now(CLOCK_BOOTTIME);
		if (n < prevb)
			backb++;
		prevb = n;
	}
	CHECK_EQ("MONOTONIC never decreases", back, 0);
	CHECK_EQ("BOOTTIME never decreases", backb, 0);
	CHECK("MONOTONIC advances", prev > after);

	/* CPU time advances while spinning. */
	int64_t cpu0 = now(CLOCK_PROCESS_CPUTIME_ID), th0 = now(CLOCK_THREAD_CPUTIME_ID);
	int64_t spin = now(CLOCK_MONOTONIC);
	volatile uint64_t x = 0;
	while (now(CLOCK_MONOTONIC) - spin < 30 * MS)
		for (int i = 0; i < 10000; i++)
			x += i;
	int64_t cpu1 = now(CLOCK_PROCESS_CPUTIME_ID), th1 = now(CLOCK_THREAD_CPUTIME_ID);
	CHECK("PROCESS_CPUTIME_ID advances while spinning", cpu1 > cpu0);
	CHECK("THREAD_CPUTIME_ID advances while spinning", th1 > th0);

	/* Sleeps. */
	struct timespec req = {0, 50 * MS};
	int64_t s0 = now(CLOCK_MONOTONIC);
	CHECK_EQ("nanosleep 50ms", nanosleep(&req, NULL), 0);
	int64_t slept = now(CLOCK_MONOTONIC) - s0;
	CHECK("nanosleep 50ms takes 50ms..500ms", slept >= 50 * MS && slept < 500 * MS);
	int64_t target = now(CLOCK_MONOTONIC) + 30 * MS;
	struct timespec abs = {target / 1000000000, target % 1000000000};
	CHECK_EQ("clock_nanosleep TIMER_ABSTIME", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
	int64_t woke = now(CLOCK_MONOTONIC);
	CHECK("clock_nanosleep wakes at or after the target", woke >= target && woke < target + 500 * MS);
	struct timespec past = {0, 1};
	CHECK_EQ("clock_nanosleep until the past returns at once",
		 clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL), 0);
	struct timespec badns = {0, 1000000000};
	CHECK_ERR("nanosleep with tv_nsec 1e9 is EINVAL", nanosleep(&badns, NULL), EINVAL);
	struct timespec neg = {-1, 0};
	CHECK_ERR("nanosleep with negative tv_sec is EINVAL", nanosleep(&neg, NULL), EINVAL);
	struct timespec zero = {0, 0};
	CHECK_EQ("nanosleep 0", nanosleep(&zero, NULL), 0);
	return check_done();
}
