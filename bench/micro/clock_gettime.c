/* clock_gettime: CLOCK_MONOTONIC through the vDSO; it should never trap. */
#include "bench.h"

static void op(long n)
{
	struct timespec ts;
	for (long i = 0; i < n; i++)
		clock_gettime(CLOCK_MONOTONIC, &ts);
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "clock_gettime", op);
}
