/*
 * futex.h: helpers shared by the futex_* tests.
 */
#ifndef RAMPART_FUTEX_H
#define RAMPART_FUTEX_H

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline long futex(volatile uint32_t *uaddr, int op, uint32_t val,
		  const struct timespec *ts, volatile uint32_t *uaddr2,
		  uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* futex2 passes an integer (val2) where the timeout pointer goes. */
static inline long futex2(volatile uint32_t *uaddr, int op, uint32_t val, long val2,
		   volatile uint32_t *uaddr2, uint32_t val3)
{
	return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}

static inline pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* nwaiters counts the (non-PI) waiters of the word at f without disturbing
 * them: a FUTEX_REQUEUE onto the same word wakes none and moves all in
 * place, and returns how many it moved. */
static inline int nwaiters(volatile uint32_t *f, int private)
{
	return (int)futex2(f, FUTEX_REQUEUE | (private ? FUTEX_PRIVATE_FLAG : 0),
			   0, INT_MAX, f, 0);
}

/* await_waiters blocks until at least n waiters are queued on f. */
static inline void await_waiters(volatile uint32_t *f, int private, int n)
{
	while (nwaiters(f, private) < n)
		usleep(1000);
}

/* await_pi_waiter blocks until a FUTEX_LOCK_PI waiter is queued on f: a
 * FUTEX_WAKE meeting one fails with EINVAL (and wakes nobody). */
static inline void await_pi_waiter(volatile uint32_t *f, int private)
{
	for (;;) {
		long r = futex(f, FUTEX_WAKE | (private ? FUTEX_PRIVATE_FLAG : 0),
			       1, NULL, NULL, 0);
		if (r == -1 && errno == EINVAL)
			return;
		usleep(1000);
	}
}

static inline struct timespec ts_from_now(clockid_t clk, long ms)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
