/*
 * fsbench.h: the data directory of the file-system benchmarks (bench/fs.sh
 * makes it on the host and shows it at the same path in every runtime):
 * argv[2], holding small (a 6-byte file, "small\n"), dir1000 (1,000 empty
 * files) and big (a large file written by fs_mkbig).
 *
 * Every benchmark checks its result, so that a runtime cannot win by
 * skipping work: big's 4 KiB pages carry their own index in their first
 * and last 8 bytes (fsbench_check_page), the readers check every page they
 * get and that a pass of the file returns all of it, readdir counts the
 * entries, stat checks the size. A failed check exits 1, which fs.sh shows
 * as n/a.
 */
#ifndef RAMPART_FSBENCH_H
#define RAMPART_FSBENCH_H

#include "../micro/bench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FSBENCH_PAGE 4096
#define FSBENCH_TAIL_MAGIC 0x9e3779b97f4a7c15ULL

static const char *fsbench_path(int argc, char **argv, const char *name)
{
	static char buf[4096];
	if (argc < 3) {
		fprintf(stderr, "usage: %s SECONDS DATADIR\n", argv[0]);
		exit(2);
	}
	snprintf(buf, sizeof(buf), "%s/%s", argv[2], name);
	return buf;
}

/* fsbench_fill_page fills page idx of big as fs_mkbig writes it. */
static inline void fsbench_fill_page(unsigned char *p, uint64_t idx)
{
	uint64_t x = idx * 2654435761ULL + 1, tail = idx ^ FSBENCH_TAIL_MAGIC;
	for (int i = 8; i < FSBENCH_PAGE - 8; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	memcpy(p, &idx, 8);
	memcpy(p + FSBENCH_PAGE - 8, &tail, 8);
}

/*
 * fsbench_check_page exits 1 unless p holds the first and last 8 bytes of
 * page idx of big.
 */
static inline void fsbench_check_page(const unsigned char *p, uint64_t idx, const char *who)
{
	uint64_t head, tail;
	memcpy(&head, p, 8);
	memcpy(&tail, p + FSBENCH_PAGE - 8, 8);
	if (head != idx || tail != (idx ^ FSBENCH_TAIL_MAGIC)) {
		fprintf(stderr, "%s: page %llu holds the wrong bytes (head %llx tail %llx)\n", who,
			(unsigned long long)idx, (unsigned long long)head, (unsigned long long)tail);
		exit(1);
	}
}

#endif
