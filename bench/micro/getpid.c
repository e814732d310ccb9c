/* getpid: the syscall round trip, with a raw syscall (no libc caching). */
#include "bench.h"

#include <sys/syscall.h>
#include <unistd.h>

static void op(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "getpid", op);
}
