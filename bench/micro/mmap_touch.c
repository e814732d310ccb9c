/* mmap_touch: mmap 1 MiB of anonymous memory, write every page, munmap. */
#include "bench.h"

#include <sys/mman.h>

#define SIZE (1 << 20)

static void op(long n)
{
	for (long i = 0; i < n; i++) {
		char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			exit(1);
		}
		for (long off = 0; off < SIZE; off += 4096)
			p[off] = 1;
		munmap(p, SIZE);
	}
}

int main(int argc, char **argv)
{
	return bench_main(argc, argv, "mmap_touch_1MiB", op);
}
