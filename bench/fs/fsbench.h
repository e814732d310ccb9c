/*
 * fsbench.h: the data directory of the file-system benchmarks (bench/fs.sh
 * makes it on the host and shows it at the same path in every runtime):
 * argv[2], holding small (a small file), dir1000 (1,000 empty files) and
 * big (a large file).
 */
#ifndef RAMPART_FSBENCH_H
#define RAMPART_FSBENCH_H

#include "../micro/bench.h"

#include <stdio.h>
#include <stdlib.h>

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

#endif
