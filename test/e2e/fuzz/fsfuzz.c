/* fsfuzz: random file system calls on a few names below a directory, one
 * line a call with what it returned (errno; bytes read with a checksum;
 * for stat, the type, permission bits, link count and a regular file's
 * size; a directory's names, sorted). Nothing printed depends on the
 * file system's layout or the clock (inode numbers, times, blocks, dirent
 * order, a directory's size), so fuzz.sh runs it natively in a tmpfs
 * directory and in the sandbox's /tmp and compares the lines: the
 * sentry's file system semantics against Linux's, for sequences no test
 * would write (renames over what other names hold, links, truncation and
 * holes, O_APPEND and offsets past the end, directories removed while
 * open).
 *
 * Usage: fsfuzz SEED CALLS DIR (DIR must be empty; it is left as the
 * calls left it). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t rng;
#define RNG rng
#include "fuzz.h"

static const char *names[] = {
	"a", "b", "c", "d", "d/a", "d/b", "d/d", "d/d/a", "e", "e/a", ".", "d/..", "a/x", "",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))
#define NSLOTS 6

static int dir;
static int slot[NSLOTS] = {-1, -1, -1, -1, -1, -1};

static const char *name(void) { return names[below(NNAMES)]; }

static long off(void)
{
	switch (below(4)) {
	case 0:
		return (long)below(16);
	case 1:
		return (long)below(3) * 4096 + (long)below(3) - 1;
	case 2:
		return (long)below(1 << 20);
	}
	return (long)below(100);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* listing prints the names of the directory open at fd, sorted. */
static void listing(int fd)
{
	char buf[4096], *list[64];
	int n = 0;
	long got;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long p = 0; p < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + p);
			if (n < 64)
				list[n++] = strdup(d->d_name);
			p += d->d_reclen;
		}
	}
	if (got < 0) {
		printf(" = -1 %s\n", strerrorname_np(errno));
		return;
	}
	qsort(list, n, sizeof(list[0]), cmp);
	printf(" =");
	for (int i = 0; i < n; i++) {
		printf(" %s", list[i]);
		free(list[i]);
	}
	printf("\n");
}

static void stat_line(int r, struct stat *st)
{
	if (r < 0) {
		printf(" = -1 %s\n", strerrorname_np(errno));
		return;
	}
	printf(" = type %o mode %o nlink %lu", st->st_mode & S_IFMT, st->st_mode & 07777,
	       S_ISDIR(st->st_mode) ? 0 : (unsigned long)st->st_nlink);
	if (S_ISREG(st->st_mode))
		printf(" size %ld", (long)st->st_size);
	printf("\n");
}

static void call(void)
{
	static const int acc[] = {O_RDONLY, O_WRONLY, O_RDWR};
	static const int more[] = {O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW};
	int s = (int)below(NSLOTS), fd = slot[s];
	unsigned char buf[256];
	switch (below(20)) {
	case 0: case 1: case 2: {
		int flags = acc[below(3)];
		for (int i = 0; i < 6; i++)
			if (below(4) == 0)
				flags |= more[i];
		const char *n = name();
		printf("open %d %s %#x", s, n, flags);
		int r = openat(dir, n, flags | O_CLOEXEC, 0644);
		result(r);
		if (r >= 0) {
			if (fd >= 0)
				close(fd);
			slot[s] = r;
		}
		break;
	}
	case 3:
		printf("close %d", s);
		result(fd < 0 ? 0 : close(fd));
		slot[s] = -1;
		break;
	case 4: case 5: {
		long n = (long)below(200);
		for (long i = 0; i < n; i++)
			buf[i] = (unsigned char)next();
		printf("write %d %ld sum %08x", s, n, checksum(buf, n));
		result(fd < 0 ? 0 : write(fd, buf, n));
		break;
	}
	case 6: {
		long n = (long)below(256);
		printf("read %d %ld", s, n);
		if (fd < 0) {
			result(0);
			break;
		}
		long r = read(fd, buf, n);
		if (r < 0)
			result(r);
		else
			printf(" = %ld sum %08x\n", r, checksum(buf, r));
		break;
	}
	case 7: {
		long o = off(), n = (long)below(64);
		for (long i = 0; i < n; i++)
			buf[i] = (unsigned char)next();
		printf("pwrite %d %ld at %ld", s, n, o);
		result(fd < 0 ? 0 : pwrite(fd, buf, n, o));
		break;
	}
	case 8: {
		long o = off(), n = (long)below(256);
		printf("pread %d %ld at %ld", s, n, o);
		if (fd < 0) {
			result(0);
			break;
		}
		long r = pread(fd, buf, n, o);
		if (r < 0)
			result(r);
		else
			printf(" = %ld sum %08x\n", r, checksum(buf, r));
		break;
	}
	case 9: {
		static const int wh[] = {SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE};
		int w = wh[below(5)];
		long o = below(4) == 0 ? -(long)below(8) : off();
		printf("lseek %d %ld %d", s, o, w);
		result(fd < 0 ? 0 : lseek(fd, o, w));
		break;
	}
	case 10: {
		long o = off();
		printf("ftruncate %d %ld", s, o);
		result(fd < 0 ? 0 : ftruncate(fd, o));
		break;
	}
	case 11: {
		static const int modes[] = {0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
		int m = modes[below(3)];
		long o = off(), n = (long)below(3) * 4096 + (long)below(100);
		printf("fallocate %d %#x %ld %ld", s, m, o, n);
		result(fd < 0 ? 0 : fallocate(fd, m, o, n));
		break;
	}
	case 12: {
		const char *n = name();
		printf("mkdir %s", n);
		result(mkdirat(dir, n, 0755));
		break;
	}
	case 13: {
		const char *n = name();
		int f = below(2) ? AT_REMOVEDIR : 0;
		printf("unlink %s %#x", n, f);
		result(unlinkat(dir, n, f));
		break;
	}
	case 14: {
		static const unsigned fl[] = {0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
		const char *a = name(), *b = name();
		unsigned f = fl[below(4)];
		printf("rename %s %s %#x", a, b, f);
		result(renameat2(dir, a, dir, b, f));
		break;
	}
	case 15: {
		const char *a = name(), *b = name();
		printf("link %s %s", a, b);
		result(linkat(dir, a, dir, b, 0));
		break;
	}
	case 16: {
		const char *a = name(), *b = name();
		printf("symlink %s %s", a, b);
		result(symlinkat(a, dir, b));
		break;
	}
	case 17: {
		const char *n = name();
		struct stat st;
		int f = below(2) ? AT_SYMLINK_NOFOLLOW : 0;
		printf("stat %s %#x", n, f);
		stat_line(fstatat(dir, n, &st, f), &st);
		if (below(2)) {
			char l[64];
			long r = readlinkat(dir, n, l, sizeof(l));
			printf("readlink %s", n);
			if (r < 0)
				result(r);
			else
				printf(" = %.*s\n", (int)r, l);
		}
		break;
	}
	case 18: {
		struct stat st;
		printf("fstat %d", s);
		if (fd < 0)
			result(0);
		else
			stat_line(fstat(fd, &st), &st);
		break;
	}
	default:
		/* From the start: which names a listing resumed after
		 * changes returns is unspecified (POSIX readdir). */
		printf("getdents %d", s);
		if (fd < 0)
			result(0);
		else if (lseek(fd, 0, SEEK_SET) < 0)
			result(-1);
		else
			listing(fd);
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: fsfuzz SEED CALLS DIR\n");
		return 2;
	}
	rng = seed_from(argv[1]);
	long calls = atol(argv[2]);
	/* Descriptors inherited from the caller would shift the numbers
	 * open returns. */
	syscall(SYS_close_range, 3, ~0U, 0);
	/* The calls work in DIR/w/x: a symlink to "." makes "d/.." its
	 * parent, whose listing and mode must not be the host's. */
	umask(022);
	int top = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0 || mkdirat(top, "w", 0755) || mkdirat(top, "w/x", 0755)) {
		perror(argv[3]);
		return 1;
	}
	dir = openat(top, "w/x", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		perror("w/x");
		return 1;
	}
	for (long i = 0; i < calls; i++) {
		printf("%ld: ", i);
		call();
	}
	printf("fsfuzz: ok: %ld calls\n", calls);
	return 0;
}
