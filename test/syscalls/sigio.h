/*
 * sigio.h: helpers shared by the signal-driven I/O tests (fasync,
 * dnotify). The tests block SIGIO and one real-time signal throughout
 * (sigio_block) and collect them with sigtimedwait.
 */
#ifndef RAMPART_SIGIO_H
#define RAMPART_SIGIO_H

#include "check.h"

#include <signal.h>
#include <string.h>
#include <time.h>

static sigset_t sigio_sigs; /* SIGIO and the test's real-time signal */

/* sigio_block blocks SIGIO and rt for the whole test. */
static inline void sigio_block(int rt)
{
	sigemptyset(&sigio_sigs);
	sigaddset(&sigio_sigs, SIGIO);
	sigaddset(&sigio_sigs, rt);
	sigprocmask(SIG_BLOCK, &sigio_sigs, NULL);
}

/* sigio_wait waits up to ms milliseconds for sig; 1 if it came. */
static inline int sigio_wait(int sig, siginfo_t *si, int ms)
{
	sigset_t set;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	sigemptyset(&set);
	sigaddset(&set, sig);
	memset(si, 0, sizeof(*si));
	return sigtimedwait(&set, si, &ts) == sig;
}

/* sigio_expect checks that sig comes within 2 s with si_code code and,
 * unless code is SI_KERNEL, with si_fd fd and si_band band. */
static inline void sigio_expect(const char *name, int sig, int code, int fd, long band)
{
	siginfo_t si;
	if (!sigio_wait(sig, &si, 2000))
		check_fail(name, "no signal %d", sig);
	else if (si.si_code != code || (code != SI_KERNEL && (si.si_fd != fd || si.si_band != band)))
		check_fail(name, "si_code %#x si_fd %d si_band %#lx, want %#x %d %#lx",
			   si.si_code, si.si_fd, si.si_band, code, fd, band);
	else
		check_ok(name);
}

/* sigio_quiet checks that neither signal comes within 100 ms. */
static inline void sigio_quiet(const char *name)
{
	siginfo_t si;
	struct timespec ts = {0, 100000000};
	int r = sigtimedwait(&sigio_sigs, &si, &ts);
	if (r > 0)
		check_fail(name, "signal %d came (si_code %#x, si_fd %d)", r, si.si_code, si.si_fd);
	else
		check_ok(name);
}

/* sigio_drain discards whatever of both signals is pending. */
static inline void sigio_drain(void)
{
	struct timespec zero = {0, 0};
	while (sigtimedwait(&sigio_sigs, NULL, &zero) > 0)
		;
}

#endif
