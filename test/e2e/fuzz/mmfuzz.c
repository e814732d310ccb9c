/* mmfuzz: random memory-mapping calls on a region of 32 pages at a fixed
 * address (mmap of anonymous memory or of a memfd, private or shared,
 * with MAP_FIXED or MAP_FIXED_NOREPLACE; munmap; mprotect; mremap moving,
 * growing, shrinking; madvise; stores; ftruncate of the memfd), one line a
 * call with its result, and after each call what every page of the
 * region is: unmapped, or its permissions, private or shared, anonymous
 * or the memfd's page at some offset (from /proc/self/maps, so that how
 * the kernel splits and merges its areas does not show), and, if it can
 * be read, a checksum of its bytes (SIGSEGV and SIGBUS caught). It
 * depends only on the seed: run it natively and in the sandbox and
 * compare the lines (the sentry's memory manager against Linux's):
 *
 *   bin/mmfuzz 1 2000 >native; bin/runsc do -- $PWD/bin/mmfuzz 1 2000 >sandbox
 *
 * It found the truncation, mremap and MADV_REMOVE differences fixed on
 * 2026-12-03, and then the merging of a file's mappings, MREMAP_DONTUNMAP
 * splitting the old mapping, Linux 6.17's mremap of several mappings,
 * PROT_WRITE shown as "rw-", and MADV_REMOVE not punching the file (test
 * mmap_vmas). It is not in `make fuzz`: the runs still part where the
 * sentry differs on purpose or by approximation:
 * - a store to a private file mapping copies the pages around it too (the
 *   sentry's copy-on-write run), so they stop following the file, which
 *   Linux's pages do until written (mmap(2) leaves this unspecified);
 * - Linux keeps apart private mappings whose pages were written before
 *   they met (each has its own anon_vma) and moved anonymous memory whose
 *   offsets no longer line up; the sentry merges them, so an mremap that
 *   resizes across them succeeds where Linux gives EFAULT.
 *
 * Usage: mmfuzz SEED CALLS */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t rng;
#define RNG rng
#include "fuzz.h"

#define PG 4096UL
#define NPG 32
#define BASE ((char *)0x100000000000UL)
#define FILEPG 16

static int memfd;
static sigjmp_buf probe_env;

static void on_fault(int sig)
{
	siglongjmp(probe_env, sig);
}

/* page describes page i from /proc/self/maps: "-" if unmapped, else
 * "rwxp anon" or "rw-s file+OFF". */
static void page_maps(char desc[NPG][32])
{
	for (int i = 0; i < NPG; i++)
		strcpy(desc[i], "-");
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e, off;
		char perms[8], dev[16], path[256] = "";
		unsigned long ino;
		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255[^\n]", &s, &e, perms, &off, dev, &ino, path) < 6)
			continue;
		for (int i = 0; i < NPG; i++) {
			unsigned long a = (unsigned long)BASE + i * PG;
			if (a < s || a >= e)
				continue;
			if (strstr(path, "/dev/zero") || ino == 0)
				snprintf(desc[i], 32, "%s anon", perms);
			else
				snprintf(desc[i], 32, "%s file+%lu", perms, (off + (a - s)) / PG);
		}
	}
	fclose(f);
}

/* state prints the region page by page (runs of equal pages once). */
static void state(void)
{
	char desc[NPG][32];
	page_maps(desc);
	printf("  [");
	for (int i = 0; i < NPG; i++) {
		char val[24] = "";
		if (strcmp(desc[i], "-") && strncmp(desc[i], "---", 3)) {
			volatile unsigned char *p = (unsigned char *)BASE + i * PG;
			int sig = sigsetjmp(probe_env, 1);
			if (sig == 0)
				snprintf(val, sizeof(val), " %08x", checksum((const unsigned char *)p, PG));
			else
				snprintf(val, sizeof(val), " sig%d", sig);
		}
		int j = i;
		char cur[64];
		snprintf(cur, sizeof(cur), "%s%s", desc[i], val);
		printf("%s%d:%s", i ? " | " : "", i, cur);
		(void)j;
	}
	printf("]\n");
}

static int prot(void)
{
	static const int p[] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_WRITE};
	return p[below(6)];
}

static void addr_result(void *r)
{
	if (r == MAP_FAILED)
		printf(" = -1 %s\n", strerrorname_np(errno));
	else if ((char *)r >= BASE && (char *)r < BASE + NPG * PG)
		printf(" = page %ld\n", ((char *)r - BASE) / (long)PG);
	else
		printf(" = elsewhere\n");
}

static void call(void)
{
	long pg = (long)below(NPG), n = 1 + (long)below(8);
	char *a = BASE + pg * PG;
	switch (below(10)) {
	case 0: case 1: {
		int p = prot(), file = below(2), shared = below(2);
		int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | (below(4) ? MAP_FIXED : MAP_FIXED_NOREPLACE);
		if (!file)
			flags |= MAP_ANONYMOUS;
		long off = file ? (long)below(FILEPG) : 0;
		printf("mmap page %ld n %ld prot %d %s %s off %ld", pg, n, p, file ? "file" : "anon", shared ? "shared" : "private", off);
		if (pg + n > NPG)
			n = NPG - pg;
		addr_result(mmap(a, n * PG, p, flags, file ? memfd : -1, off * PG));
		break;
	}
	case 2:
		printf("munmap page %ld n %ld", pg, n);
		if (pg + n > NPG)
			n = NPG - pg;
		result(munmap(a, n * PG));
		break;
	case 3: case 4: {
		int p = prot();
		printf("mprotect page %ld n %ld prot %d", pg, n, p);
		if (pg + n > NPG)
			n = NPG - pg;
		result(mprotect(a, n * PG, p));
		break;
	}
	case 5: {
		long m = 1 + (long)below(8), to = (long)below(NPG);
		int fl = (int)below(4);
		int flags = fl == 0 ? 0 : fl == 1 ? MREMAP_MAYMOVE : fl == 2 ? MREMAP_MAYMOVE | MREMAP_FIXED : MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
		if (pg + n > NPG)
			n = NPG - pg;
		if (to + m > NPG)
			m = NPG - to;
		if (flags & MREMAP_DONTUNMAP)
			m = n;
		printf("mremap page %ld n %ld to %ld m %ld flags %d", pg, n, to, m, flags);
		addr_result(mremap(a, n * PG, m * PG, flags, BASE + to * PG));
		break;
	}
	case 6: {
		/* (not MADV_FREE: when its pages go is up to the kernel) */
		static const int adv[] = {MADV_DONTNEED, MADV_WILLNEED, MADV_REMOVE, MADV_NORMAL, MADV_DONTFORK, MADV_DOFORK};
		int v = adv[below(6)];
		printf("madvise page %ld n %ld advice %d", pg, n, v);
		if (pg + n > NPG)
			n = NPG - pg;
		result(madvise(a, n * PG, v));
		break;
	}
	case 7: case 8: {
		long at = (long)below(PG - 8);
		uint64_t v = next();
		printf("store page %ld at %ld", pg, at);
		int sig = sigsetjmp(probe_env, 1);
		if (sig == 0) {
			memcpy(a + at, &v, 8);
			printf(" = ok\n");
		} else {
			printf(" = sig%d\n", sig);
		}
		break;
	}
	default: {
		long size = (long)below(FILEPG + 1) * PG + (below(2) ? (long)below(PG) : 0);
		printf("ftruncate memfd %ld", size);
		result(ftruncate(memfd, size));
	}
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mmfuzz SEED CALLS\n");
		return 2;
	}
	rng = seed_from(argv[1]);
	long calls = atol(argv[2]);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	memfd = memfd_create("mmfuzz", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, FILEPG * PG)) {
		perror("mmfuzz: memfd");
		return 1;
	}
	for (long i = 0; i < FILEPG; i++) {
		unsigned char b[PG];
		for (size_t j = 0; j < PG; j++)
			b[j] = (unsigned char)(i * 31 + j);
		pwrite(memfd, b, PG, i * PG);
	}
	struct sigaction sa = {.sa_handler = on_fault};
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	for (long i = 0; i < calls; i++) {
		printf("%ld: ", i);
		call();
		state();
	}
	printf("mmfuzz: ok: %ld calls\n", calls);
	return 0;
}
