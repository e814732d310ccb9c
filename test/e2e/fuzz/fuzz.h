/* fuzz.h: what the fuzzers share. The includer defines RNG, the
 * generator state it draws from (a global, or a thread's own). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* next is xorshift64*, which a seed makes repeat exactly. */
static inline uint64_t next(void)
{
	RNG ^= RNG >> 12;
	RNG ^= RNG << 25;
	RNG ^= RNG >> 27;
	return RNG * 2685821657736338717ULL;
}

/* seed_from returns the generator's start for a seed given as text (the
 * differential fuzzers' SEED argument). */
static inline uint64_t seed_from(const char *s)
{
	return strtoull(s, NULL, 0) * 0x9e3779b97f4a7c15ULL | 1;
}

/* checksum is FNV-1a over b[0:n]: what the differential fuzzers print of
 * bytes read. */
static inline uint32_t checksum(const unsigned char *b, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* result ends a call's line with what it returned: " = N", or " = -1
 * ERRNO" (the differential fuzzers' form). */
static inline void result(long r)
{
	if (r < 0)
		printf(" = -1 %s\n", strerrorname_np(errno));
	else
		printf(" = %ld\n", r);
}

/* below returns a number in [0, n). */
static inline uint64_t below(uint64_t n) { return next() % n; }

/* require_sandbox exits unless RAMPART_FUZZ_SANDBOXED is set: run natively,
 * as root, random syscalls and code could harm the host. */
static inline void require_sandbox(const char *name)
{
	if (!getenv("RAMPART_FUZZ_SANDBOXED")) {
		fprintf(stderr, "%s: refusing to run outside a sandbox (set RAMPART_FUZZ_SANDBOXED=1)\n", name);
		exit(2);
	}
}
