/*
 * check.h: the checks of Rampart's syscall tests.
 *
 * Every test prints only deterministic lines: "ok <name>" for a check that
 * held, "FAIL <name>: <detail>" for one that did not, plus any values that are
 * the same on every run. The runner compares a test's stdout under the sandbox
 * with its native stdout, so nothing printed may depend on addresses, pids,
 * timings or the host. A test ends with "return check_done();", which exits 1
 * if any check failed.
 */
#ifndef RAMPART_CHECK_H
#define RAMPART_CHECK_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int check_failures;

/* Line-buffer stdout so that a test that dies half way still shows how far it
 * got (stdout is a pipe when the runner runs it). */
__attribute__((constructor)) static void check_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static const char *check_errname(int e)
{
	const char *s = strerrorname_np(e);
	return s ? s : "?";
}

static void check_fail(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void check_fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	check_failures++;
}

static void check_ok(const char *name)
{
	printf("ok %s\n", name);
}

/* CHECK(name, cond): cond must hold. errno is shown on failure. */
#define CHECK(name, cond)                                                      \
	do {                                                                   \
		errno = 0;                                                     \
		if (cond)                                                      \
			check_ok(name);                                        \
		else                                                           \
			check_fail(name, "%s is false (errno %s) at line %d",  \
				   #cond, check_errname(errno), __LINE__);     \
	} while (0)

/* CHECK_EQ(name, got, want): integers (or pointers as integers) are equal. */
#define CHECK_EQ(name, got, want)                                              \
	do {                                                                   \
		errno = 0;                                                     \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		int e_ = errno;                                                \
		if (g_ == w_)                                                  \
			check_ok(name);                                        \
		else                                                           \
			check_fail(name, "%s = %lld (%#llx), want %lld (%#llx)" \
				   " (errno %s) at line %d", #got, g_, g_, w_, \
				   w_, check_errname(e_), __LINE__);           \
	} while (0)

/* CHECK_STR(name, got, want): strings are equal. */
#define CHECK_STR(name, got, want)                                             \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (strcmp(g_, w_) == 0)                                       \
			check_ok(name);                                        \
		else                                                           \
			check_fail(name, "%s = \"%s\", want \"%s\" at line %d", \
				   #got, g_, w_, __LINE__);                    \
	} while (0)

/* CHECK_OK(name, expr): a syscall-style expr does not return -1. Evaluates to
 * the result so it can be kept. */
#define CHECK_OK(name, expr)                                                   \
	({                                                                     \
		errno = 0;                                                     \
		long long r_ = (long long)(expr);                              \
		if (r_ != -1)                                                  \
			check_ok(name);                                        \
		else                                                           \
			check_fail(name, "%s failed: %s at line %d", #expr,    \
				   check_errname(errno), __LINE__);            \
		r_;                                                            \
	})

/* CHECK_ERR(name, expr, err): a syscall-style expr returns -1 with errno err. */
#define CHECK_ERR(name, expr, err)                                             \
	do {                                                                   \
		errno = 0;                                                     \
		long long r_ = (long long)(expr);                              \
		int e_ = errno;                                                \
		if (r_ == -1 && e_ == (err))                                   \
			check_ok(name);                                        \
		else                                                           \
			check_fail(name, "%s = %lld errno %s, want -1 errno %s" \
				   " at line %d", #expr, r_,                   \
				   check_errname(e_), check_errname(err),      \
				   __LINE__);                                  \
	} while (0)

/* CHECK_MAP(name, expr): an mmap/mremap-style expr does not return MAP_FAILED.
 * Evaluates to the result. */
#define CHECK_MAP(name, expr)                                                  \
	({                                                                     \
		errno = 0;                                                     \
		void *p_ = (void *)(expr);                                     \
		if (p_ != (void *)-1)                                          \
			check_ok(name);                                        \
		else                                                           \
			check_fail(name, "%s failed: %s at line %d", #expr,    \
				   check_errname(errno), __LINE__);            \
		p_;                                                            \
	})

/* REQUIRE(name, cond): like CHECK, but the test cannot go on without it. */
#define REQUIRE(name, cond)                                                    \
	do {                                                                   \
		errno = 0;                                                     \
		if (cond) {                                                    \
			check_ok(name);                                        \
		} else {                                                       \
			check_fail(name, "%s is false (errno %s) at line %d;"  \
				   " giving up", #cond, check_errname(errno),  \
				   __LINE__);                                  \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* check_done ends a test: 0 if every check held, else 1. */
static int check_done(void)
{
	if (check_failures)
		printf("%d checks failed\n", check_failures);
	else
		printf("all checks passed\n");
	fflush(stdout);
	return check_failures ? 1 : 0;
}

/* check_in_child runs setup (if not NULL) and then fn in a forked child,
 * whose checks print as usual: a child that fails a check or dies fails the
 * check name in the parent. Tests use it for checks that change the
 * process (credentials, limits, filters). */
__attribute__((unused)) static void check_in_child(const char *name, void (*setup)(void), void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		check_failures = 0;
		if (setup)
			setup();
		fn();
		fflush(stdout);
		_exit(check_failures ? 1 : 0);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		check_fail(name, "child failed (status %#x)", status);
}

#endif
