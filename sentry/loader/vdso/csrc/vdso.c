/*
 * Rampart's vDSO: clock_gettime, gettimeofday, time, clock_getres and
 * getcpu served from the parameter page that the sentry keeps current,
 * without a syscall. Clocks it cannot serve fall back to the syscall
 * instruction, which the sentry handles.
 *
 * Built by build.sh; the result (vdso.so) is checked in.
 */
#include <stddef.h>
#include <stdint.h>

#include "vdso_params.h"

#define NR_gettimeofday  96
#define NR_time          201
#define NR_clock_gettime 228
#define NR_clock_getres  229
#define NR_getcpu        309

#define CLOCK_REALTIME_COARSE  5
#define CLOCK_MONOTONIC_COARSE 6

struct kernel_timespec {
	int64_t tv_sec;
	int64_t tv_nsec;
};

struct kernel_timeval {
	int64_t tv_sec;
	int64_t tv_usec;
};

struct kernel_timezone {
	int tz_minuteswest;
	int tz_dsttime;
};

#ifdef VDSO_TEST
/* testdata/harness.c links this file and provides the page. */
extern struct vdso_params *vdso_test_params;
#define VDSO_PARAMS vdso_test_params
#else
/* Defined by vdso.lds: the page just below the vDSO image. */
extern const struct vdso_params __vdso_params __attribute__((visibility("hidden")));
#define VDSO_PARAMS (&__vdso_params)
#endif

#define barrier() __asm__ __volatile__("" ::: "memory")

static inline long sys2(long nr, long a, long b)
{
	long ret;
	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "0"(nr), "D"(a), "S"(b)
			     : "rcx", "r11", "memory");
	return ret;
}

static inline long sys3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "0"(nr), "D"(a), "S"(b), "d"(c)
			     : "rcx", "r11", "memory");
	return ret;
}

static inline uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline uint32_t read_seq_begin(const volatile struct vdso_params *p)
{
	uint32_t seq;
	for (;;) {
		seq = p->seq;
		if (!(seq & 1))
			break;
		__asm__ __volatile__("pause" ::: "memory");
	}
	barrier();
	return seq;
}

static inline int read_seq_retry(const volatile struct vdso_params *p, uint32_t seq)
{
	barrier();
	return p->seq != seq;
}

/*
 * clock_ns computes the time of clock id (which must be < VDSO_NCLOCKS) in
 * nanoseconds. It returns 0 if the clock is not served from the page.
 */
static inline int clock_ns(uint32_t id, uint64_t *out)
{
	const volatile struct vdso_params *p = VDSO_PARAMS;
	uint32_t seq;
	uint64_t ns;

	do {
		seq = read_seq_begin(p);
		if (!(p->flags & VDSO_FLAG_TSC) || !(p->clock_mask & (1u << id)))
			return 0;
		uint64_t base = p->tsc_base;
		uint64_t tsc = rdtsc_ordered();
		uint64_t delta = tsc > base ? tsc - base : 0;
		ns = p->base_ns[id] +
		     (uint64_t)(((unsigned __int128)delta * p->mult) >> p->shift);
	} while (read_seq_retry(p, seq));
	*out = ns;
	return 1;
}

int __vdso_clock_gettime(long clock, struct kernel_timespec *ts)
{
	uint64_t ns;

	if ((unsigned long)clock < VDSO_NCLOCKS && clock_ns((uint32_t)clock, &ns)) {
		ts->tv_sec = (int64_t)(ns / 1000000000ull);
		ts->tv_nsec = (int64_t)(ns % 1000000000ull);
		return 0;
	}
	return (int)sys2(NR_clock_gettime, clock, (long)ts);
}

int __vdso_gettimeofday(struct kernel_timeval *tv, struct kernel_timezone *tz)
{
	uint64_t ns;

	if (tv) {
		if (!clock_ns(0, &ns))
			return (int)sys2(NR_gettimeofday, (long)tv, (long)tz);
		tv->tv_sec = (int64_t)(ns / 1000000000ull);
		tv->tv_usec = (int64_t)(ns % 1000000000ull / 1000);
	}
	if (tz) {
		tz->tz_minuteswest = 0;
		tz->tz_dsttime = 0;
	}
	return 0;
}

long __vdso_time(long *t)
{
	uint64_t ns;
	long sec;

	if (!clock_ns(0, &ns))
		return sys2(NR_time, (long)t, 0);
	sec = (long)(ns / 1000000000ull);
	if (t)
		*t = sec;
	return sec;
}

int __vdso_clock_getres(long clock, struct kernel_timespec *res)
{
	const volatile struct vdso_params *p = VDSO_PARAMS;

	if ((unsigned long)clock < VDSO_NCLOCKS && (p->flags & VDSO_FLAG_TSC) &&
	    (p->clock_mask & (1u << clock))) {
		if (res) {
			uint64_t r = 1;
			if (clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE)
				r = p->coarse_res_ns;
			res->tv_sec = (int64_t)(r / 1000000000ull);
			res->tv_nsec = (int64_t)(r % 1000000000ull);
		}
		return 0;
	}
	return (int)sys2(NR_clock_getres, clock, (long)res);
}

int __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
{
	const volatile struct vdso_params *p = VDSO_PARAMS;
	uint32_t mode = p->getcpu_mode;
	uint32_t n = p->ncpus;
	uint64_t aux = 0;

	(void)unused;
	if (mode == VDSO_GETCPU_RDPID) {
		__asm__ __volatile__("rdpid %0" : "=r"(aux));
	} else if (mode == VDSO_GETCPU_RDTSCP) {
		uint32_t lo, hi, c;
		__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
		aux = c;
	}
	aux &= 0xfff;
	if (n == 0)
		aux = 0;
	else if (aux >= n)
		aux %= n;
	if (cpu)
		*cpu = (unsigned)aux;
	if (node)
		*node = 0;
	return 0;
}

#ifndef VDSO_TEST
int clock_gettime(long, struct kernel_timespec *)
	__attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct kernel_timeval *, struct kernel_timezone *)
	__attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct kernel_timespec *)
	__attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
#endif
