/*
 * getpid_libc: the syscall round trip as applications make it, through
 * glibc's getpid() (not cached since glibc 2.25), whose body is the
 * "mov $39, %eax; syscall" sequence systrap's syscall patching rewrites;
 * getpid.c uses syscall(2), whose sequence it does not.
 */
#include "bench.h"

#include <unistd.h>

static void op(long n)
{
	for (long i = 0; i < n; i++)
		getpid();
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "getpid_libc", op);
}
