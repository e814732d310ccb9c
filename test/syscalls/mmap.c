/*
 * mmap: mmap, munmap, mprotect, mremap, madvise, mincore, msync and brk.
 * Whether a page is mapped is probed with msync(MS_ASYNC) and mincore, which
 * fail with ENOMEM on a hole, so no signal needs to be delivered.
 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL

static int mapped(void *p)
{
	return msync(p, PG, MS_ASYNC) == 0;
}

static int all(const void *p, int c, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)c)
			return 0;
	return 1;
}

static void *anon(size_t len, int prot)
{
	return mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void test_anon(void)
{
	unsigned char *p = CHECK_MAP("anon: mmap 4 pages", anon(4 * PG, PROT_READ | PROT_WRITE));
	if (p == MAP_FAILED)
		return;
	CHECK_EQ("anon: page aligned", (uintptr_t)p & (PG - 1), 0);
	CHECK("anon: reads zero", all(p, 0, 4 * PG));
	memset(p, 0x5a, 4 * PG);
	CHECK("anon: keeps what was written", all(p, 0x5a, 4 * PG));
	unsigned char vec[4];
	CHECK_EQ("anon: mincore of mapped pages", mincore(p, 4 * PG, vec), 0);
	CHECK_EQ("anon: mincore says a written page is resident", vec[0] & 1, 1);
	CHECK_EQ("anon: munmap", munmap(p, 4 * PG), 0);
	CHECK("anon: unmapped after munmap", !mapped(p));
	CHECK_ERR("anon: mincore of a hole is ENOMEM", mincore(p, PG, vec), ENOMEM);
	CHECK_EQ("anon: munmap of a hole succeeds", munmap(p, PG), 0);

	CHECK_ERR("anon: length 0 is EINVAL", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	CHECK_ERR("anon: neither PRIVATE nor SHARED is EINVAL", mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
	CHECK_ERR("anon: munmap unaligned is EINVAL", munmap((char *)p + 1, PG), EINVAL);
	CHECK_ERR("anon: munmap length 0 is EINVAL", munmap(p, 0), EINVAL);
	CHECK_ERR("anon: file mapping of fd -1 is EBADF", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);

	/* A length that is not a page multiple is rounded up. */
	unsigned char *q = CHECK_MAP("anon: mmap of 1 byte", anon(1, PROT_READ | PROT_WRITE));
	if (q != MAP_FAILED) {
		q[PG - 1] = 1;
		CHECK("anon: the whole page is mapped", mapped(q));
		munmap(q, 1);
		CHECK("anon: munmap of 1 byte unmaps the page", !mapped(q));
	}
}

/*
 * Memory freed by one mapping and handed to the next: the sandbox reuses
 * freed pages that still have host memory, zeroed, and maps them populated.
 * Every round must read zero, whether the last round wrote all of its pages,
 * a few of them, or the mapping was shared, or split by a partial munmap.
 */
static void test_reuse(void)
{
	const size_t len = 1 << 20;
	int zero = 1, ok = 1;
	for (int round = 0; round < 24; round++) {
		int shared = round % 3 == 2;
		unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					(shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			ok = 0;
			break;
		}
		zero &= all(p, 0, len);
		if (round % 4 == 1) {
			for (size_t off = 0; off < len; off += 16 * PG)
				p[off] = 0xc3;
		} else {
			memset(p, 0xc3, len);
		}
		if (round % 5 == 4) {
			/* Free the middle first, then the rest. */
			ok &= munmap(p + len / 4, len / 2) == 0;
			ok &= munmap(p, len) == 0;
		} else {
			ok &= munmap(p, len) == 0;
		}
	}
	CHECK("reuse: 24 rounds of mmap, write, munmap", ok);
	CHECK("reuse: every fresh mapping read zero", zero);
}

static void test_fixed(void)
{
	unsigned char *p = CHECK_MAP("fixed: mmap 3 pages", anon(3 * PG, PROT_READ | PROT_WRITE));
	if (p == MAP_FAILED)
		return;
	memset(p, 0xaa, 3 * PG);
	void *r = mmap(p + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK("fixed: MAP_FIXED returns the address", r == p + PG);
	CHECK("fixed: replaced page reads zero", all(p + PG, 0, PG));
	CHECK("fixed: neighbours keep their contents", all(p, 0xaa, PG) && all(p + 2 * PG, 0xaa, PG));
	CHECK_ERR("fixed: unaligned MAP_FIXED is EINVAL",
		  mmap(p + 1, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EINVAL);
	CHECK_ERR("fixed: MAP_FIXED_NOREPLACE over a mapping is EEXIST",
		  mmap(p + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), EEXIST);
	CHECK("fixed: NOREPLACE failure left the page alone", all(p + 2 * PG, 0xaa, PG));
	CHECK_EQ("fixed: munmap the last page", munmap(p + 2 * PG, PG), 0);
	r = mmap(p + 2 * PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK("fixed: MAP_FIXED_NOREPLACE into a hole maps there", r == p + 2 * PG);
	CHECK("fixed: and it reads zero", r == p + 2 * PG && all(r, 0, PG));

	/* munmap in the middle splits the mapping. */
	memset(p, 0x11, 3 * PG);
	CHECK_EQ("split: munmap the middle page", munmap(p + PG, PG), 0);
	CHECK("split: hole is unmapped (msync ENOMEM)", !mapped(p + PG) && errno == ENOMEM);
	CHECK("split: first page still mapped", mapped(p));
	CHECK("split: last page still mapped", mapped(p + 2 * PG));
	CHECK("split: contents kept on both sides", all(p, 0x11, PG) && all(p + 2 * PG, 0x11, PG));
	CHECK_ERR("split: msync across the hole is ENOMEM", msync(p, 3 * PG, MS_ASYNC), ENOMEM);
	munmap(p, 3 * PG);
	CHECK("split: all gone", !mapped(p) && !mapped(p + 2 * PG));
}

static void test_mprotect(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/data", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE("mprotect: create a file", fd >= 0);
	char buf[64];
	memset(buf, 'x', sizeof(buf));
	CHECK_EQ("mprotect: write the file", write(fd, buf, sizeof(buf)), sizeof(buf));

	int pfd[2];
	REQUIRE("mprotect: pipe", pipe(pfd) == 0);

	unsigned char *p = CHECK_MAP("mprotect: mmap", anon(2 * PG, PROT_READ | PROT_WRITE));
	if (p == MAP_FAILED)
		return;
	memset(p, 'r', 2 * PG);
	CHECK_EQ("mprotect: PROT_READ", mprotect(p, PG, PROT_READ), 0);
	CHECK_EQ("mprotect: write(2) from a read-only page works", write(pfd[1], p, 16), 16);
	CHECK_EQ("mprotect: and the data arrives", read(pfd[0], buf, 16), 16);
	CHECK("mprotect: data is the page's", all(buf, 'r', 16));
	CHECK_ERR("mprotect: pread(2) into a read-only page is EFAULT", pread(fd, p, 16, 0), EFAULT);
	CHECK("mprotect: the page was not changed", all(p, 'r', PG));
	CHECK_EQ("mprotect: pread into the writable neighbour", pread(fd, p + PG, 16, 0), 16);
	CHECK("mprotect: neighbour got the data", all(p + PG, 'x', 16));
	CHECK_EQ("mprotect: PROT_NONE", mprotect(p, PG, PROT_NONE), 0);
	CHECK_ERR("mprotect: write(2) from a PROT_NONE page is EFAULT", write(pfd[1], p, 16), EFAULT);
	CHECK("mprotect: PROT_NONE page is still mapped", mapped(p));
	CHECK_EQ("mprotect: back to RW", mprotect(p, PG, PROT_READ | PROT_WRITE), 0);
	CHECK("mprotect: contents survived", all(p, 'r', PG));
	CHECK_ERR("mprotect: unaligned is EINVAL", mprotect(p + 1, PG, PROT_READ), EINVAL);
	munmap(p, 2 * PG);
	CHECK_ERR("mprotect: on a hole is ENOMEM", mprotect(p, PG, PROT_READ), ENOMEM);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	unlink(path);
}

static void test_mremap(void)
{
	/* Grow in place: reserve 8 pages, keep 2, free the rest. */
	unsigned char *p = CHECK_MAP("mremap: reserve", anon(8 * PG, PROT_READ | PROT_WRITE));
	if (p == MAP_FAILED)
		return;
	munmap(p + 2 * PG, 6 * PG);
	memset(p, 0x33, 2 * PG);
	void *r = mremap(p, 2 * PG, 4 * PG, 0);
	CHECK("mremap: grows in place", r == p);
	if (r == p) {
		CHECK("mremap: old contents kept", all(p, 0x33, 2 * PG));
		CHECK("mremap: new pages read zero", all(p + 2 * PG, 0, 2 * PG));
		p[4 * PG - 1] = 7;
		CHECK("mremap: new pages are writable", p[4 * PG - 1] == 7);
	}
	/* Shrink. */
	r = mremap(p, 4 * PG, PG, 0);
	CHECK("mremap: shrink keeps the address", r == p);
	CHECK("mremap: shrunk tail is unmapped", !mapped(p + PG));
	CHECK("mremap: head kept", all(p, 0x33, PG));
	munmap(p, PG);

	/* Blocked growth: without MREMAP_MAYMOVE it is ENOMEM, with it the
	 * mapping moves and keeps its contents. */
	p = CHECK_MAP("mremap: mmap 3 pages", anon(3 * PG, PROT_READ | PROT_WRITE));
	if (p == MAP_FAILED)
		return;
	memset(p, 0x44, 2 * PG);
	p[2 * PG] = 9;
	mprotect(p + 2 * PG, PG, PROT_READ);
	CHECK_ERR("mremap: blocked growth without MAYMOVE is ENOMEM", mremap(p, 2 * PG, 4 * PG, 0), ENOMEM);
	unsigned char *m = mremap(p, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	CHECK("mremap: MAYMOVE moves", m != MAP_FAILED && m != p);
	if (m != MAP_FAILED && m != p) {
		CHECK("mremap: moved contents kept", all(m, 0x44, 2 * PG));
		CHECK("mremap: moved tail reads zero", all(m + 2 * PG, 0, 2 * PG));
		CHECK("mremap: old range is unmapped", !mapped(p) && !mapped(p + PG));
		CHECK("mremap: blocker untouched", mapped(p + 2 * PG) && p[2 * PG] == 9);
		munmap(m, 4 * PG);
	}
	munmap(p, 3 * PG);
	CHECK_ERR("mremap: unaligned old address is EINVAL", mremap(p + 1, PG, 2 * PG, MREMAP_MAYMOVE), EINVAL);
	CHECK_ERR("mremap: new length 0 is EINVAL", mremap(p, PG, 0, MREMAP_MAYMOVE), EINVAL);
	CHECK_ERR("mremap: of a hole is EFAULT", mremap(p, PG, 2 * PG, MREMAP_MAYMOVE), EFAULT);
}

static void test_madvise(void)
{
	unsigned char *p = CHECK_MAP("madvise: mmap", anon(2 * PG, PROT_READ | PROT_WRITE));
	if (p == MAP_FAILED)
		return;
	memset(p, 0x66, 2 * PG);
	CHECK_EQ("madvise: MADV_DONTNEED", madvise(p, PG, MADV_DONTNEED), 0);
	CHECK("madvise: DONTNEED zeroes private anonymous memory", all(p, 0, PG));
	CHECK("madvise: the other page is kept", all(p + PG, 0x66, PG));
	unsigned char vec[2];
	memset(p + PG, 0x66, PG);
	CHECK_EQ("madvise: DONTNEED of a written page", madvise(p, PG, MADV_DONTNEED), 0);
	CHECK_EQ("madvise: mincore after DONTNEED", mincore(p, 2 * PG, vec), 0);
	CHECK_EQ("madvise: a page given back by DONTNEED is not resident", vec[0] & 1, 0);
	CHECK_EQ("madvise: the page next to it still is", vec[1] & 1, 1);
	memset(p, 0x67, PG);
	CHECK("madvise: a page given back takes new writes", all(p, 0x67, PG));
	CHECK_EQ("madvise: DONTNEED of both pages", madvise(p, 2 * PG, MADV_DONTNEED), 0);
	CHECK("madvise: both read zero", all(p, 0, 2 * PG));
	unsigned char *q = CHECK_MAP("madvise: MAP_POPULATE",
				     mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
	if (q != MAP_FAILED) {
		CHECK_EQ("madvise: mincore of populated pages", mincore(q, 2 * PG, vec), 0);
		CHECK_EQ("madvise: MAP_POPULATE made them resident", vec[0] & vec[1] & 1, 1);
		munmap(q, 2 * PG);
	}
	CHECK_EQ("madvise: MADV_WILLNEED", madvise(p, 2 * PG, MADV_WILLNEED), 0);
	CHECK_ERR("madvise: unaligned is EINVAL", madvise(p + 1, PG, MADV_DONTNEED), EINVAL);
	munmap(p, 2 * PG);
	CHECK_ERR("madvise: DONTNEED on a hole is ENOMEM", madvise(p, PG, MADV_DONTNEED), ENOMEM);
}

/* MADV_DONTNEED on private memory a forked child shares copy-on-write
 * zeroes it only for the side that asked. */
static void test_madvise_fork(void)
{
	unsigned char *p = CHECK_MAP("madvise fork: mmap", anon(2 * PG, PROT_READ | PROT_WRITE));
	if (p == MAP_FAILED)
		return;
	memset(p, 0x44, 2 * PG);
	int go[2], done[2];
	REQUIRE("madvise fork: pipe", pipe(go) == 0 && pipe(done) == 0);
	pid_t pid = fork();
	REQUIRE("madvise fork: fork", pid >= 0);
	if (pid == 0) {
		/* The child zeroes its copy, then reports what it sees after
		 * the parent zeroed the parent's. */
		char c = 0;
		int ok = madvise(p, PG, MADV_DONTNEED) == 0 && all(p, 0, PG) && all(p + PG, 0x44, PG);
		if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		ok = ok && all(p, 0, PG) && all(p + PG, 0x44, PG);
		_exit(ok ? 0 : 1);
	}
	char c = 0;
	CHECK_EQ("madvise fork: child zeroed its page", read(done[0], &c, 1), 1);
	CHECK("madvise fork: the parent's copy is kept", all(p, 0x44, 2 * PG));
	CHECK_EQ("madvise fork: parent DONTNEED", madvise(p + PG, PG, MADV_DONTNEED), 0);
	CHECK("madvise fork: zeroes the parent's page", all(p + PG, 0, PG));
	CHECK("madvise fork: not the other", all(p, 0x44, PG));
	CHECK_EQ("madvise fork: tell the child", write(go[1], &c, 1), 1);
	int st = -1;
	CHECK_EQ("madvise fork: wait", waitpid(pid, &st, 0), pid);
	CHECK_EQ("madvise fork: the child saw only its own DONTNEED", st, 0);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	munmap(p, 2 * PG);
}

static void test_shared_anon(void)
{
	unsigned char *p = CHECK_MAP("shared anon: mmap",
				     mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	if (p == MAP_FAILED)
		return;
	CHECK("shared anon: reads zero", all(p, 0, 2 * PG));
	memset(p, 0x77, 2 * PG);
	CHECK("shared anon: keeps what was written", all(p, 0x77, 2 * PG));
	unsigned char *m = mremap(p, 2 * PG, 3 * PG, MREMAP_MAYMOVE);
	CHECK("shared anon: mremap MAYMOVE", m != MAP_FAILED);
	if (m != MAP_FAILED) {
		CHECK("shared anon: contents follow the move", all(m, 0x77, 2 * PG));
		munmap(m, 3 * PG);
	}
}

static void test_file(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/mapped", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE("file: create", fd >= 0);
	size_t size = 2 * PG + 100;
	unsigned char *buf = malloc(size);
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	CHECK_EQ("file: write content", write(fd, buf, size), size);

	unsigned char *p = CHECK_MAP("file: MAP_PRIVATE",
				     mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	if (p != MAP_FAILED) {
		CHECK("file: mapping shows the content", memcmp(p, buf, size) == 0);
		CHECK("file: past EOF in the last page reads zero", all(p + size, 0, 3 * PG - size));
		memset(p, 0, PG);
		unsigned char got[16];
		CHECK_EQ("file: pread after a private write", pread(fd, got, 16, 0), 16);
		CHECK("file: private writes do not reach the file", memcmp(got, buf, 16) == 0);
		CHECK_EQ("file: MADV_DONTNEED on private file page", madvise(p, PG, MADV_DONTNEED), 0);
		CHECK("file: DONTNEED brings back the file's content", memcmp(p, buf, PG) == 0);
		munmap(p, 3 * PG);
	}

	p = CHECK_MAP("file: MAP_PRIVATE at an offset",
		      mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG));
	if (p != MAP_FAILED) {
		CHECK("file: offset mapping shows the right page", memcmp(p, buf + PG, PG) == 0);
		munmap(p, PG);
	}

	p = CHECK_MAP("file: MAP_SHARED", mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	if (p != MAP_FAILED) {
		memcpy(p, "shared!", 7);
		CHECK_EQ("file: msync MS_SYNC", msync(p, PG, MS_SYNC), 0);
		char got[8] = {0};
		CHECK_EQ("file: pread after a shared write", pread(fd, got, 7, 0), 7);
		CHECK("file: shared writes reach the file", memcmp(got, "shared!", 7) == 0);
		CHECK_EQ("file: pwrite", pwrite(fd, "PWRITE", 6, 100), 6);
		CHECK("file: writes to the file show in the shared mapping", memcmp(p + 100, "PWRITE", 6) == 0);
		munmap(p, PG);
	}

	CHECK_ERR("file: unaligned offset is EINVAL", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 1), EINVAL);
	int ro = open(path, O_RDONLY);
	CHECK("file: reopen read-only", ro >= 0);
	CHECK_ERR("file: MAP_SHARED+PROT_WRITE of a read-only fd is EACCES",
		  mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK("file: MAP_PRIVATE+PROT_WRITE of a read-only fd works", p != MAP_FAILED);
	if (p != MAP_FAILED)
		munmap(p, PG);
	int wo = open(path, O_WRONLY);
	CHECK_ERR("file: mapping a write-only fd is EACCES", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wo, 0), EACCES);
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK_ERR("file: mapping a directory is ENODEV", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, d, 0), ENODEV);
	close(d);
	close(wo);
	close(ro);
	close(fd);
	unlink(path);
	free(buf);
}

/* test_brk uses the raw brk syscall and prints nothing until the break is
 * back where it was, so that malloc never sees it moved. */
static void test_brk(void)
{
	uintptr_t cur = syscall(SYS_brk, 0);
	uintptr_t libc = (uintptr_t)sbrk(0);
	uintptr_t want = cur + 3 * PG + 123;
	uintptr_t got = syscall(SYS_brk, want);
	int zero = 0, writable = 0;
	if (got == want) {
		zero = all((void *)cur, 0, want - cur);
		memset((void *)cur, 0xbb, want - cur);
		writable = all((void *)cur, 0xbb, want - cur);
	}
	uintptr_t again = syscall(SYS_brk, 0);
	uintptr_t back = syscall(SYS_brk, cur);
	uintptr_t pg = (cur + PG - 1) & ~(PG - 1);
	int released = !mapped((void *)pg);
	uintptr_t regrow = syscall(SYS_brk, want);
	int rezero = regrow == want && all((void *)pg, 0, want - pg);
	uintptr_t restored = syscall(SYS_brk, cur);
	uintptr_t low = syscall(SYS_brk, 4096);

	CHECK_EQ("brk: sbrk(0) agrees with brk(0)", libc, cur);
	CHECK_EQ("brk: grow returns the requested break", got, want);
	CHECK("brk: new memory reads zero", zero);
	CHECK("brk: new memory is writable", writable);
	CHECK_EQ("brk: brk(0) reports the new break", again, want);
	CHECK_EQ("brk: shrink returns the old break", back, cur);
	CHECK("brk: shrunk pages are unmapped", released);
	CHECK("brk: regrown pages read zero", rezero);
	CHECK_EQ("brk: restore", restored, cur);
	CHECK_EQ("brk: below the start fails and returns the current break", low, cur);
}

/* test_mremap_order: which error a mremap reports, and what it changed,
 * as on Linux (mmfuzz found these otherwise): a shrink unmaps the old
 * range's tail whatever it holds, and only the rest must lie in one
 * mapping; an unmapped old address or a range past its mapping is EFAULT
 * before a MREMAP_FIXED target is unmapped. And MADV_REMOVE's errors. */
static void test_mremap_order(void)
{
	unsigned char *p = CHECK_MAP("order: reserve", anon(8 * PG, PROT_READ | PROT_WRITE));
	CHECK_EQ("order: split", mprotect(p + 2 * PG, 2 * PG, PROT_READ), 0);
	CHECK_EQ("order: shrink across two mappings", (long)mremap(p, 4 * PG, PG, 0), (long)p);
	CHECK("order: head kept", mapped(p));
	CHECK("order: tail unmapped", !mapped(p + PG) && !mapped(p + 3 * PG));
	CHECK("order: beyond kept", mapped(p + 4 * PG));
	CHECK_ERR("order: unmapped old address", (long)mremap(p + 2 * PG, PG, PG, 0), EFAULT);
	CHECK_ERR("order: unmapped old address, fixed", (long)mremap(p + 2 * PG, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, p), EFAULT);
	CHECK("order: target left mapped", mapped(p));
	munmap(p, 8 * PG);

	unsigned char *a = CHECK_MAP("remove: anon", anon(PG, PROT_READ | PROT_WRITE));
	CHECK_ERR("remove: private anonymous", madvise(a, PG, MADV_REMOVE), EINVAL);
	munmap(a, PG);
	int fd = memfd_create("remove", 0);
	CHECK_EQ("remove: size", ftruncate(fd, PG), 0);
	void *fp = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK_ERR("remove: private file", madvise(fp, PG, MADV_REMOVE), EACCES);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY);
	void *fr = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
	CHECK_ERR("remove: shared, file read-only", madvise(fr, PG, MADV_REMOVE), EACCES);
	munmap(fp, PG);
	munmap(fr, PG);
	close(ro);
	close(fd);
}

int main(void)
{
	char dir[] = "/tmp/rampart-mmap-XXXXXX";
	REQUIRE("mkdtemp", mkdtemp(dir) != NULL);
	test_anon();
	test_reuse();
	test_fixed();
	test_mprotect(dir);
	test_mremap();
	test_mremap_order();
	test_madvise();
	test_madvise_fork();
	test_shared_anon();
	test_file(dir);
	test_brk();
	CHECK_EQ("rmdir", rmdir(dir), 0);
	return check_done();
}
