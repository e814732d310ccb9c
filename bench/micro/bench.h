/*
 * bench.h: the timing loop shared by Rampart's microbenchmarks.
 *
 * A benchmark defines op(n), which runs its operation n times, and calls
 * bench_main. The loop grows n until one timed run lasts at least the target
 * time (argv[1] seconds, default 0.3; bench/run.sh passes 0.5), repeats that run three times and prints
 * the best as "<name> <ns> ns/op", the one line bench/run.sh reads.
 */
#ifndef RAMPART_BENCH_H
#define RAMPART_BENCH_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_main(int argc, char **argv, const char *name, void (*op)(long n))
{
	double target = argc > 1 ? atof(argv[1]) : 0.3;
	long n = 1;
	double took;
	op(1); /* warm up */
	for (;;) {
		double t0 = bench_now();
		op(n);
		took = bench_now() - t0;
		if (took >= target || n >= (1L << 40))
			break;
		/* Aim past the target, growing at most 100x a step. */
		double grow = took > 0 ? target * 1.2 / took : 100;
		n = (long)(n * (grow > 100 ? 100 : grow < 2 ? 2 : grow));
	}
	double best = took / n;
	for (int i = 0; i < 2; i++) {
		double t0 = bench_now();
		op(n);
		double per = (bench_now() - t0) / n;
		if (per < best)
			best = per;
	}
	printf("%s %.1f ns/op\n", name, best * 1e9);
	return 0;
}

#endif
