/* bigtouch: 256 MiB of anonymous memory, every page written and read back. */
// rampart:timeout 120s
#include "check.h"

#include <stdint.h>
#include <sys/mman.h>

#define SIZE (256UL << 20)
#define PAGE 4096UL

static uint64_t value(uint64_t i)
{
	return (i + 1) * 0x9E3779B97F4A7C15ULL;
}

int main(void)
{
	uint8_t *p = CHECK_MAP("mmap 256 MiB", mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
						    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	if (p == MAP_FAILED)
		return check_done();

	uint64_t nonzero = 0;
	for (uint64_t off = 0; off < SIZE; off += PAGE)
		nonzero |= *(volatile uint64_t *)(p + off + PAGE - 8);
	CHECK_EQ("fresh pages read zero", nonzero, 0);

	uint64_t want = 0;
	for (uint64_t i = 0; i < SIZE / PAGE; i++) {
		*(uint64_t *)(p + i * PAGE) = value(i);
		*(uint64_t *)(p + i * PAGE + PAGE - 8) = ~value(i);
		want += value(i) ^ (i << 7);
	}
	uint64_t got = 0, bad = 0;
	for (uint64_t i = 0; i < SIZE / PAGE; i++) {
		uint64_t v = *(volatile uint64_t *)(p + i * PAGE);
		got += v ^ (i << 7);
		if (*(volatile uint64_t *)(p + i * PAGE + PAGE - 8) != ~v)
			bad++;
	}
	CHECK("checksum of every page", got == want);
	CHECK_EQ("page tails intact", bad, 0);
	CHECK_EQ("munmap 256 MiB", munmap(p, SIZE), 0);
	return check_done();
}
