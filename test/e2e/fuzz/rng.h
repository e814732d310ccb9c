/* rng.h: the fuzzers' generator, xorshift64*, which a seed makes repeat
 * exactly. The includer defines RNG, the state it draws from (a global, or
 * a thread's own). */
#include <stdint.h>

static inline uint64_t next(void)
{
	RNG ^= RNG >> 12;
	RNG ^= RNG << 25;
	RNG ^= RNG >> 27;
	return RNG * 2685821657736338717ULL;
}

/* below returns a number in [0, n). */
static inline uint64_t below(uint64_t n) { return next() % n; }
