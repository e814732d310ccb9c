/*
 * mmap_vmas: how mappings split, merge and move, as /proc/self/maps and
 * mremap's one-mapping rule show them, and MADV_REMOVE, on a memfd and on
 * a file in /tmp (mmfuzz, the native-against-sandbox fuzzer, found each of
 * these different before):
 * - adjacent mappings of one open file at contiguous offsets are one
 *   mapping, as pieces of anonymous memory are, and rejoin after an
 *   mprotect split is undone;
 * - MREMAP_DONTUNMAP leaves the old mapping whole;
 * - mremap(MREMAP_FIXED) without a resize moves every mapping in the range
 *   and keeps the holes between them (Linux 6.17 and later, as the host
 *   this suite runs on);
 * - a mapping keeps the protection it asked for: PROT_WRITE shows as
 *   "-w-" and does not merge with "rw-", though x86 lets it be read;
 * - MADV_REMOVE punches the hole in the file (and in shared anonymous
 *   memory), and stops at a mapping it may not punch, after punching
 *   the ones before it.
 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096UL

/* vmas returns how many lines of /proc/self/maps cover [p, p+len), and the
 * permissions of the one that holds p in perms (5 bytes). */
static int vmas(const void *p, size_t len, char *perms)
{
	uintptr_t s = (uintptr_t)p, e = s + len;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	char line[512];
	int n = 0;
	if (perms)
		strcpy(perms, "none");
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char pr[8];
		if (sscanf(line, "%lx-%lx %7s", &a, &b, pr) != 3 || b <= s || a >= e)
			continue;
		n++;
		if (perms && a <= s && s < b)
			snprintf(perms, 5, "%.4s", pr);
	}
	fclose(f);
	return n;
}

static int mapped(void *p)
{
	return msync(p, PG, MS_ASYNC) == 0;
}

static char *reserve(size_t len)
{
	return mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static char *map_file(char *at, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(at, len, prot, flags | MAP_FIXED, fd, off);
}

static char byte_at(int fd, off_t off)
{
	char c = '?';
	if (pread(fd, &c, 1, off) != 1)
		return '!';
	return c;
}

static void run(const char *what, int fd)
{
	char name[160];
#define N(s) (snprintf(name, sizeof(name), "%s: %s", what, s), name)
	char buf[8 * PG];
	memset(buf, 'a', sizeof(buf));
	REQUIRE(N("fill"), pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	const int rw = PROT_READ | PROT_WRITE;

	char *r = CHECK_MAP(N("reserve"), reserve(8 * PG));
	if (r == MAP_FAILED)
		return;
	map_file(r, PG, rw, MAP_SHARED, fd, 0);
	map_file(r + PG, PG, rw, MAP_SHARED, fd, PG);
	CHECK_EQ(N("contiguous offsets are one mapping"), vmas(r, 2 * PG, NULL), 1);
	/* Growing in place meets the reservation: ENOMEM, not the EFAULT of a
	 * range over two mappings. */
	CHECK_ERR(N("mremap grows the joined mapping"), (long)mremap(r, 2 * PG, 3 * PG, 0), ENOMEM);
	map_file(r + PG, PG, rw, MAP_SHARED, fd, 3 * PG);
	CHECK_EQ(N("offsets apart are two mappings"), vmas(r, 2 * PG, NULL), 2);
	CHECK_ERR(N("mremap over two mappings"), (long)mremap(r, 2 * PG, 3 * PG, 0), EFAULT);
	map_file(r, 3 * PG, rw, MAP_SHARED, fd, 0);
	CHECK_EQ(N("mprotect splits"), mprotect(r + PG, PG, PROT_READ), 0);
	CHECK_EQ(N("split in three"), vmas(r, 3 * PG, NULL), 3);
	CHECK_EQ(N("mprotect back"), mprotect(r + PG, PG, rw), 0);
	CHECK_EQ(N("rejoined"), vmas(r, 3 * PG, NULL), 1);

	char *q = CHECK_MAP(N("target"), reserve(PG));
	CHECK_EQ(N("dontunmap moves the middle page"),
		 (long)mremap(r + PG, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, q), (long)q);
	CHECK_EQ(N("dontunmap leaves the old mapping whole"), vmas(r, 3 * PG, NULL), 1);
	CHECK_EQ(N("the moved page is the file's"), q[0], 'a');
	munmap(q, PG);

	/* MADV_REMOVE */
	r[0] = 'x';
	CHECK_EQ(N("remove"), madvise(r, PG, MADV_REMOVE), 0);
	CHECK_EQ(N("remove punched the file"), byte_at(fd, 0), 0);
	CHECK_EQ(N("remove: the mapping reads the hole"), r[0], 0);
	struct stat st;
	CHECK(N("remove keeps the size"), fstat(fd, &st) == 0 && st.st_size == 8 * PG);
	map_file(r, PG, rw, MAP_SHARED, fd, PG);
	map_file(r + PG, PG, rw, MAP_PRIVATE, fd, 2 * PG);
	r[0] = 'y';
	CHECK_ERR(N("remove stops at a private mapping"), madvise(r, 2 * PG, MADV_REMOVE), EACCES);
	CHECK_EQ(N("remove punched the shared one first"), byte_at(fd, PG), 0);
	CHECK_EQ(N("remove left the rest of the file"), byte_at(fd, 2 * PG), 'a');
	munmap(r, 8 * PG);
#undef N
}

static void test_anon(void)
{
	const int rw = PROT_READ | PROT_WRITE;
	char perms[8];
	char *p = CHECK_MAP("anon: map", mmap(NULL, 4 * PG, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	char *q = CHECK_MAP("anon: target", mmap(NULL, 4 * PG, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	if (p == MAP_FAILED || q == MAP_FAILED)
		return;
	memset(q, 'q', 4 * PG);
	p[0] = 'A';
	p[PG] = 'B';
	p[3 * PG] = 'C';
	CHECK_EQ("anon: mprotect", mprotect(p + PG, PG, PROT_READ), 0);
	CHECK_EQ("anon: hole", munmap(p + 2 * PG, PG), 0);
	CHECK_ERR("anon: a range starting in a hole", (long)mremap(p + 2 * PG, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, q), EFAULT);
	CHECK_EQ("anon: move three mappings and a hole", (long)mremap(p, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, q), (long)q);
	CHECK("anon: the old range is unmapped", !mapped(p) && !mapped(p + PG) && !mapped(p + 3 * PG));
	CHECK("anon: the mappings moved", q[0] == 'A' && q[PG] == 'B' && q[3 * PG] == 'C');
	vmas(q + PG, PG, perms);
	CHECK("anon: with their protection", strcmp(perms, "r--p") == 0);
	CHECK_EQ("anon: the target across the hole stays", q[2 * PG], 'q');
	munmap(q, 4 * PG);

	/* A mapping keeps PROT_WRITE alone. */
	p = CHECK_MAP("prot: map", mmap(p, 3 * PG, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	if (p == MAP_FAILED)
		return;
	CHECK_EQ("prot: write only on one page", mprotect(p + PG, PG, PROT_WRITE), 0);
	vmas(p + PG, PG, perms);
	CHECK("prot: shows -w-", strcmp(perms, "-w-p") == 0);
	CHECK_EQ("prot: does not merge with rw-", vmas(p, 3 * PG, NULL), 3);
	CHECK_EQ("prot: a write-only page can be read", ((volatile char *)p)[PG], 0);
	p[PG] = 7;
	CHECK_EQ("prot: and written", ((volatile char *)p)[PG], 7);
	CHECK_EQ("prot: exec only", mprotect(p + PG, PG, PROT_EXEC), 0);
	vmas(p + PG, PG, perms);
	CHECK("prot: shows --x", strcmp(perms, "--xp") == 0);
	CHECK_EQ("prot: an exec-only page can be read", ((volatile char *)p)[PG], 7);
	munmap(p, 3 * PG);

	/* Shared anonymous memory is a file too. */
	char *s = CHECK_MAP("shared anon: map", mmap(NULL, 2 * PG, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	if (s == MAP_FAILED)
		return;
	memset(s, 'z', 2 * PG);
	CHECK_EQ("shared anon: remove", madvise(s, PG, MADV_REMOVE), 0);
	CHECK("shared anon: the hole reads zero", s[0] == 0 && s[PG - 1] == 0);
	CHECK_EQ("shared anon: the rest stays", s[PG], 'z');
	munmap(s, 2 * PG);
}

int main(void)
{
	int mfd = memfd_create("mmap_vmas", MFD_CLOEXEC);
	REQUIRE("memfd_create", mfd >= 0);
	run("memfd", mfd);
	close(mfd);
	char path[] = "/tmp/rampart-mmap-vmas-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE("mkstemp", fd >= 0);
	unlink(path);
	run("tmp", fd);
	close(fd);
	test_anon();
	return check_done();
}
