/*
 * list_stat: a tree walk as find and ls -l do it (list a directory, then
 * lstat each entry by path) over a host tree, checking that every entry's
 * lstat by path agrees with fstatat on the directory descriptor, with its
 * d_type and with its inode number in the listing, and that a second walk
 * finds the same entries; the counts are printed (the tree is the host's,
 * the same natively and in the sandbox). Under Rampart the lookups after a
 * listing are batched (fs/gofer prefetch), which this exercises on the
 * gofer-served root.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static long entries, dirs, bad;

static void walk(const char *path, int depth)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		if (errno != EACCES)
			bad++;
		return;
	}
	char buf[4096];
	long n;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			off += d->reclen;
			if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
				continue;
			entries++;
			char p[4096];
			snprintf(p, sizeof(p), "%s/%s", path, d->name);
			struct stat a, b;
			if (lstat(p, &a) != 0 || fstatat(fd, d->name, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
			    a.st_ino != b.st_ino || a.st_size != b.st_size || a.st_mode != b.st_mode ||
			    a.st_ino != d->ino || (d->type != DT_UNKNOWN && d->type != IFTODT(a.st_mode))) {
				if (bad++ < 5)
					printf("mismatch at %s\n", p);
				continue;
			}
			if (S_ISDIR(a.st_mode) && depth < 8) {
				dirs++;
				walk(p, depth + 1);
			}
		}
	}
	if (n < 0)
		bad++;
	close(fd);
}

int main(void)
{
	const char *root = "/usr/share/zoneinfo";
	struct stat st;
	if (stat(root, &st) != 0)
		root = "/usr/lib";
	walk(root, 0);
	long first = entries;
	printf("entries %ld dirs %ld\n", entries, dirs);
	CHECK_EQ("walk agrees with lstat and fstatat", bad, 0);
	CHECK("walk found entries", entries > 10);
	entries = dirs = 0;
	walk(root, 0);
	CHECK_EQ("second walk finds the same entries", entries, first);
	CHECK_EQ("second walk agrees", bad, 0);
	return check_done();
}
