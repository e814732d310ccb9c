/*
 * Test harness for vdso.c, built by TestCHarness:
 *
 *   gcc -O2 -DVDSO_TEST -I../csrc harness.c ../csrc/vdso.c
 *
 * argv[1] is a file holding a parameter page that the Go side just wrote.
 * argv[2] and argv[3], if present, are the built vdso.so and the offset of
 * __vdso_clock_gettime in it: the harness then maps the parameter page and
 * the image right after it, as the sentry does, and checks the linked blob
 * too (its reference to the page below the image).
 * The harness prints the struct layout, compares the vDSO's clocks with
 * the host's, and then, under a seccomp filter that makes the time
 * syscalls fail with EHWPOISON, checks that served clocks make no syscall
 * and that the others fall back to the syscall. Exit status 0 means pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vdso_params.h"

static struct vdso_params page_buf __attribute__((aligned(4096)));
struct vdso_params *vdso_test_params = &page_buf;

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

int __vdso_clock_gettime(long clock, struct kernel_timespec *ts);
int __vdso_gettimeofday(struct kernel_timeval *tv, struct kernel_timezone *tz);
long __vdso_time(long *t);
int __vdso_clock_getres(long clock, struct kernel_timespec *res);
int __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused);

static int failures;

typedef int (*clock_gettime_fn)(long, struct kernel_timespec *);
static clock_gettime_fn blob_clock_gettime;

/* map_blob maps [page][vdso.so] like the sentry and returns the function. */
static clock_gettime_fn map_blob(const char *path, unsigned long sym)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		exit(2);
	}
	size_t len = ((size_t)st.st_size + 4095) & ~4095ul;
	char *base = mmap(NULL, 4096 + len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	memcpy(base, &page_buf, sizeof(page_buf));
	if (read(fd, base + 4096, st.st_size) != st.st_size) {
		perror("read vdso");
		exit(2);
	}
	close(fd);
	if (mprotect(base, 4096, PROT_READ) || mprotect(base + 4096, len, PROT_READ | PROT_EXEC)) {
		perror("mprotect");
		exit(2);
	}
	return (clock_gettime_fn)(base + 4096 + sym);
}

#define CHECK(cond, ...)                                         \
	do {                                                     \
		if (!(cond)) {                                   \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                     \
			printf("\n");                            \
			failures++;                              \
		}                                                \
	} while (0)

static int64_t ts_ns(int64_t sec, int64_t nsec) { return sec * 1000000000LL + nsec; }

static void compare_clock(int clock, int64_t bound_ns)
{
	int64_t best = INT64_MAX;
	for (int i = 0; i < 20; i++) {
		struct timespec a, c;
		struct kernel_timespec b;
		clock_gettime(clock, &a);
		int r = __vdso_clock_gettime(clock, &b);
		clock_gettime(clock, &c);
		CHECK(r == 0, "clock %d: vdso returned %d", clock, r);
		CHECK(b.tv_nsec >= 0 && b.tv_nsec < 1000000000, "clock %d: tv_nsec %lld", clock, (long long)b.tv_nsec);
		int64_t lo = ts_ns(a.tv_sec, a.tv_nsec), hi = ts_ns(c.tv_sec, c.tv_nsec);
		int64_t v = ts_ns(b.tv_sec, b.tv_nsec), d = 0;
		if (v < lo)
			d = lo - v;
		else if (v > hi)
			d = v - hi;
		if (d < best)
			best = d;
	}
	printf("clock %d error %lld ns\n", clock, (long long)best);
	CHECK(best <= bound_ns, "clock %d: vdso is %lld ns off the host clock (bound %lld)", clock, (long long)best, (long long)bound_ns);
}

static void install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_getres, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_gettimeofday, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_time, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getcpu, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EHWPOISON),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("seccomp");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: harness PAGEFILE [VDSO.SO SYMOFFSET]\n");
		return 2;
	}
	printf("layout seq=%zu flags=%zu tsc_base=%zu mult=%zu shift=%zu clock_mask=%zu coarse_res_ns=%zu ncpus=%zu getcpu_mode=%zu base_ns=%zu size=%zu\n",
	       offsetof(struct vdso_params, seq), offsetof(struct vdso_params, flags),
	       offsetof(struct vdso_params, tsc_base), offsetof(struct vdso_params, mult),
	       offsetof(struct vdso_params, shift), offsetof(struct vdso_params, clock_mask),
	       offsetof(struct vdso_params, coarse_res_ns), offsetof(struct vdso_params, ncpus),
	       offsetof(struct vdso_params, getcpu_mode), offsetof(struct vdso_params, base_ns),
	       sizeof(struct vdso_params));
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || read(fd, &page_buf, sizeof(page_buf)) != (ssize_t)sizeof(page_buf)) {
		perror("reading the parameter page");
		return 2;
	}
	close(fd);
	CHECK(page_buf.flags & VDSO_FLAG_TSC, "parameter page has no TSC parameters");
	if (argc == 4)
		blob_clock_gettime = map_blob(argv[2], strtoul(argv[3], NULL, 0));

	if (blob_clock_gettime) {
		struct kernel_timespec b;
		struct timespec a;
		int64_t best = INT64_MAX;
		for (int i = 0; i < 20; i++) {
			struct timespec c;
			clock_gettime(CLOCK_MONOTONIC, &a);
			CHECK(blob_clock_gettime(CLOCK_MONOTONIC, &b) == 0, "vdso.so clock_gettime failed");
			clock_gettime(CLOCK_MONOTONIC, &c);
			int64_t lo = ts_ns(a.tv_sec, a.tv_nsec), hi = ts_ns(c.tv_sec, c.tv_nsec);
			int64_t v = ts_ns(b.tv_sec, b.tv_nsec), d = 0;
			if (v < lo)
				d = lo - v;
			else if (v > hi)
				d = v - hi;
			if (d < best)
				best = d;
		}
		printf("vdso.so monotonic error %lld ns\n", (long long)best);
		CHECK(best < 20000, "vdso.so's CLOCK_MONOTONIC is %lld ns off the host's", (long long)best);
	}

	/* Accuracy against the host. */
	compare_clock(CLOCK_REALTIME, 20000);
	compare_clock(CLOCK_MONOTONIC, 20000);
	compare_clock(CLOCK_BOOTTIME, 20000);
	compare_clock(CLOCK_MONOTONIC_RAW, 20000);
	/* The host's coarse clocks lag the fine ones by up to their resolution. */
	compare_clock(CLOCK_REALTIME_COARSE, 20000 + 2 * (int64_t)page_buf.coarse_res_ns);
	compare_clock(CLOCK_MONOTONIC_COARSE, 20000 + 2 * (int64_t)page_buf.coarse_res_ns);

	struct kernel_timeval tv;
	struct kernel_timezone tz = {1, 1};
	struct timespec now;
	CHECK(__vdso_gettimeofday(&tv, &tz) == 0, "gettimeofday failed");
	clock_gettime(CLOCK_REALTIME, &now);
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec %lld", (long long)tv.tv_usec);
	CHECK(llabs(ts_ns(tv.tv_sec, tv.tv_usec * 1000) - ts_ns(now.tv_sec, now.tv_nsec)) < 1000000, "gettimeofday far from realtime");
	CHECK(tz.tz_minuteswest == 0 && tz.tz_dsttime == 0, "timezone not zeroed");
	long t1 = 0, t0 = __vdso_time(&t1);
	CHECK(t0 == t1 && llabs(t0 - (long)time(NULL)) <= 1, "time() = %ld/%ld", t0, t1);

	struct kernel_timespec res;
	CHECK(__vdso_clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec == 1, "getres(MONOTONIC)");
	CHECK(__vdso_clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_nsec == (int64_t)page_buf.coarse_res_ns, "getres(MONOTONIC_COARSE)");
	unsigned cpu = 999, node = 999;
	CHECK(__vdso_getcpu(&cpu, &node, NULL) == 0, "getcpu failed");
	CHECK(cpu < page_buf.ncpus && node == 0, "getcpu gave cpu %u node %u (ncpus %u)", cpu, node, page_buf.ncpus);
	printf("getcpu %u mode %u\n", cpu, page_buf.getcpu_mode);

	/* From here on the time syscalls fail with EHWPOISON. */
	install_filter();
	struct kernel_timespec ts;
	for (int c = 0; c < 8; c++) {
		int served = c == 0 || c == 1 || c == 4 || c == 5 || c == 6 || c == 7;
		int r = __vdso_clock_gettime(c, &ts);
		if (served)
			CHECK(r == 0, "clock %d made a syscall (%d)", c, r);
		else
			CHECK(r == -EHWPOISON, "clock %d did not fall back to the syscall (%d)", c, r);
	}
	CHECK(__vdso_clock_gettime(-6, &ts) == -EHWPOISON, "negative clock id did not fall back");
	CHECK(__vdso_clock_gettime(1000, &ts) == -EHWPOISON, "clock 1000 did not fall back");
	CHECK(__vdso_gettimeofday(&tv, NULL) == 0, "gettimeofday made a syscall");
	CHECK(__vdso_time(NULL) > 0, "time made a syscall");
	CHECK(__vdso_clock_getres(CLOCK_REALTIME, &res) == 0, "clock_getres made a syscall");
	CHECK(__vdso_clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res) == -EHWPOISON, "clock_getres(CPUTIME) did not fall back");
	CHECK(__vdso_getcpu(&cpu, NULL, NULL) == 0, "getcpu made a syscall");
	if (blob_clock_gettime) {
		CHECK(blob_clock_gettime(CLOCK_REALTIME, &ts) == 0, "vdso.so clock_gettime made a syscall");
		CHECK(blob_clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -EHWPOISON, "vdso.so did not fall back");
	}

	/* Without TSC parameters everything falls back. */
	page_buf.flags = 0;
	CHECK(__vdso_clock_gettime(CLOCK_MONOTONIC, &ts) == -EHWPOISON, "no fallback without TSC parameters");
	CHECK(__vdso_gettimeofday(&tv, NULL) == -EHWPOISON, "gettimeofday: no fallback without TSC parameters");
	CHECK(__vdso_time(NULL) == -EHWPOISON, "time: no fallback without TSC parameters");

	printf("%s\n", failures ? "FAILED" : "PASS");
	return failures ? 1 : 0;
}
