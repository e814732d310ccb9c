/*
 * attr_cache: the attributes stat(2) shows after the changes a filesystem
 * that caches them must follow: a file's size, times, mode, owner and
 * nlink after writes and truncates through another descriptor, chmod and
 * chown by path and by descriptor, links and unlinks of a sibling name,
 * and a write through a file whose every name is gone; a directory's
 * mtime, ctime and nlink after entries are made and removed in it, and
 * after renames; and, for 600 files written and closed in turn (more
 * than a cache of open host files keeps), each one's size, mode, owner
 * and nlink, and again after appending and truncating by path. Times are
 * compared with each other (after a pause longer than a coarse clock
 * tick), never with a clock.
 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NFILES 600

static void pause_tick(void)
{
	/* Longer than a jiffy at HZ=100: file times come from a coarse clock. */
	struct timespec ts = {0, 30 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static int later(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static struct stat st(const char *p)
{
	struct stat s;
	memset(&s, 0, sizeof(s));
	if (stat(p, &s) != 0)
		s.st_nlink = 9999;
	return s;
}

static struct stat fst(int fd)
{
	struct stat s;
	memset(&s, 0, sizeof(s));
	if (fstat(fd, &s) != 0)
		s.st_nlink = 9999;
	return s;
}

int main(void)
{
	umask(022);
	char d[64], d2[128], f[128], g[128], h[128], sub[128], p[160];
	snprintf(d, sizeof(d), "/tmp/attr_cache.%d", (int)getpid());
	REQUIRE("mkdir", mkdir(d, 0755) == 0);
	snprintf(d2, sizeof(d2), "%s/d2", d);
	snprintf(f, sizeof(f), "%s/f", d);
	snprintf(g, sizeof(g), "%s/g", d);
	snprintf(h, sizeof(h), "%s/h", d);
	snprintf(sub, sizeof(sub), "%s/sub", d);

	/* A directory after its entries change. */
	struct stat s0 = st(d);
	pause_tick();
	int fd = CHECK_OK("create", open(f, O_CREAT | O_WRONLY | O_TRUNC, 0666));
	CHECK_EQ("write the new file", write(fd, "hello", 5), 5);
	close(fd);
	struct stat s1 = st(d);
	CHECK("dir mtime after create", later(s1.st_mtim, s0.st_mtim));
	CHECK("dir ctime after create", later(s1.st_ctim, s0.st_ctim));
	CHECK_EQ("dir nlink after create", s1.st_nlink, s0.st_nlink);
	struct stat fs = st(f);
	CHECK_EQ("new file size", fs.st_size, 5);
	CHECK_EQ("new file mode", fs.st_mode, S_IFREG | 0644);
	CHECK_EQ("new file nlink", fs.st_nlink, 1);
	CHECK_EQ("new file owner", fs.st_uid, geteuid());
	CHECK_EQ("new file group", fs.st_gid, getegid());
	pause_tick();
	CHECK_OK("mkdir sub", mkdir(sub, 0700));
	struct stat s2 = st(d);
	CHECK_EQ("dir nlink after mkdir", s2.st_nlink, s1.st_nlink + 1);
	CHECK("dir mtime after mkdir", later(s2.st_mtim, s1.st_mtim));
	CHECK_EQ("new dir nlink", st(sub).st_nlink, 2);
	CHECK_EQ("new dir mode", st(sub).st_mode, S_IFDIR | 0700);
	pause_tick();
	CHECK_OK("rmdir sub", rmdir(sub));
	struct stat s3 = st(d);
	CHECK_EQ("dir nlink after rmdir", s3.st_nlink, s1.st_nlink);
	CHECK("dir mtime after rmdir", later(s3.st_mtim, s2.st_mtim));
	pause_tick();
	CHECK_OK("unlink", unlink(f));
	struct stat s4 = st(d);
	CHECK("dir mtime after unlink", later(s4.st_mtim, s3.st_mtim));
	CHECK("dir ctime after unlink", later(s4.st_ctim, s3.st_ctim));
	CHECK_ERR("stat unlinked", stat(f, &fs), ENOENT);

	/* A file written and truncated through another descriptor. */
	int fa = CHECK_OK("open rw", open(g, O_CREAT | O_RDWR, 0644));
	int fb = CHECK_OK("open ro", open(g, O_RDONLY));
	struct stat g0 = st(g);
	pause_tick();
	char buf[65536];
	memset(buf, 'x', sizeof(buf));
	CHECK_EQ("write 100", write(fa, buf, 100), 100);
	struct stat g1 = st(g);
	CHECK_EQ("size by path after write", g1.st_size, 100);
	CHECK_EQ("size by the other fd after write", fst(fb).st_size, 100);
	CHECK("mtime after write", later(g1.st_mtim, g0.st_mtim));
	CHECK("ctime after write", later(g1.st_ctim, g0.st_ctim));
	pause_tick();
	CHECK_OK("ftruncate", ftruncate(fa, 10));
	struct stat g2 = st(g);
	CHECK_EQ("size by path after ftruncate", g2.st_size, 10);
	CHECK("mtime after ftruncate", later(g2.st_mtim, g1.st_mtim));
	CHECK_OK("truncate by path", truncate(g, 50000));
	CHECK_EQ("size by fd after truncate by path", fst(fb).st_size, 50000);
	CHECK_EQ("size by the writer after truncate by path", fst(fa).st_size, 50000);
	CHECK_EQ("pwrite past the end", pwrite(fa, "y", 1, 100000), 1);
	CHECK_EQ("size by path after pwrite", st(g).st_size, 100001);
	CHECK_OK("ftruncate to 0", ftruncate(fa, 0));
	CHECK_EQ("write 64 KiB", pwrite(fa, buf, sizeof(buf), 0), (long)sizeof(buf));
	struct stat g3 = st(g);
	CHECK("blocks by path after 64 KiB", g3.st_blocks >= 128);
	CHECK_EQ("blocks by fd match", fst(fb).st_blocks, g3.st_blocks);
	char c = 0;
	CHECK_EQ("read back through the other fd", pread(fb, &c, 1, 65535), 1);
	CHECK_EQ("the byte read", c, 'x');

	/* Mode and owner by path and by descriptor. */
	pause_tick();
	CHECK_OK("chmod", chmod(g, 0600));
	struct stat g4 = fst(fb);
	CHECK_EQ("mode by fd after chmod", g4.st_mode, S_IFREG | 0600);
	CHECK("ctime after chmod", later(g4.st_ctim, g3.st_ctim));
	CHECK_OK("fchmod", fchmod(fa, 0640));
	CHECK_EQ("mode by path after fchmod", st(g).st_mode, S_IFREG | 0640);
	if (geteuid() == 0) {
		CHECK_OK("chown", chown(g, 1234, 4321));
		CHECK_EQ("uid by fd after chown", fst(fb).st_uid, 1234);
		CHECK_EQ("gid by fd after chown", fst(fb).st_gid, 4321);
		CHECK_OK("fchown back", fchown(fa, 0, 0));
		CHECK_EQ("uid by path after fchown", st(g).st_uid, 0);
	}

	/* Links: nlink and ctime, by every name and descriptor. */
	pause_tick();
	struct stat g5 = st(g);
	CHECK_OK("link", link(g, h));
	CHECK_EQ("nlink by path after link", st(g).st_nlink, 2);
	CHECK_EQ("nlink by the new name", st(h).st_nlink, 2);
	CHECK_EQ("nlink by fd after link", fst(fb).st_nlink, 2);
	CHECK_EQ("same inode", st(h).st_ino, g5.st_ino);
	CHECK("ctime after link", later(st(g).st_ctim, g5.st_ctim));
	pause_tick();
	struct stat g6 = st(g);
	CHECK_OK("unlink the sibling name", unlink(h));
	CHECK_EQ("nlink by path after unlink of the sibling", st(g).st_nlink, 1);
	CHECK_EQ("nlink by fd after unlink of the sibling", fst(fb).st_nlink, 1);
	CHECK("ctime after unlink of the sibling", later(st(g).st_ctim, g6.st_ctim));
	CHECK_OK("unlink the last name", unlink(g));
	CHECK_EQ("nlink by fd of an unlinked file", fst(fb).st_nlink, 0);
	CHECK_EQ("write to an unlinked file", pwrite(fa, "zz", 2, sizeof(buf)), 2);
	CHECK_EQ("size by fd of an unlinked file", fst(fb).st_size, (long)sizeof(buf) + 2);
	close(fa);
	close(fb);

	/* Renames: the moved file's ctime, both directories' mtimes. */
	CHECK_OK("mkdir d2", mkdir(d2, 0755));
	fd = CHECK_OK("create to move", open(f, O_CREAT | O_WRONLY, 0644));
	close(fd);
	struct stat r0 = st(f), rd0 = st(d), rd20 = st(d2);
	pause_tick();
	snprintf(p, sizeof(p), "%s/moved", d2);
	CHECK_OK("rename", rename(f, p));
	CHECK("moved file ctime", later(st(p).st_ctim, r0.st_ctim));
	CHECK_EQ("moved file same inode", st(p).st_ino, r0.st_ino);
	CHECK("old dir mtime after rename", later(st(d).st_mtim, rd0.st_mtim));
	CHECK("new dir mtime after rename", later(st(d2).st_mtim, rd20.st_mtim));
	CHECK_OK("unlink moved", unlink(p));
	CHECK_EQ("new dir nlink", st(d2).st_nlink, 2);
	CHECK_OK("rmdir d2", rmdir(d2));

	/* Many files written and closed in turn. */
	int bad = 0, badnlink = 0, badmode = 0, badowner = 0;
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/m%d", d, i);
		int m = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0666);
		if (m < 0 || write(m, buf, i % 13 + 1) != i % 13 + 1)
			bad++;
		close(m);
	}
	CHECK_EQ("create and write many", bad, 0);
	bad = 0;
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/m%d", d, i);
		struct stat ms = st(p);
		bad += ms.st_size != i % 13 + 1;
		badnlink += ms.st_nlink != 1;
		badmode += ms.st_mode != (S_IFREG | 0644);
		badowner += ms.st_uid != geteuid() || ms.st_gid != getegid();
	}
	CHECK_EQ("sizes of many", bad, 0);
	CHECK_EQ("nlinks of many", badnlink, 0);
	CHECK_EQ("modes of many", badmode, 0);
	CHECK_EQ("owners of many", badowner, 0);
	struct stat before[NFILES];
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/m%d", d, i);
		before[i] = st(p);
	}
	pause_tick();
	bad = 0;
	int badtime = 0;
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/m%d", d, i);
		int m = open(p, O_WRONLY | O_APPEND);
		if (m < 0 || write(m, "+", 1) != 1)
			bad++;
		close(m);
	}
	CHECK_EQ("append to many", bad, 0);
	bad = 0;
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/m%d", d, i);
		struct stat ms = st(p);
		bad += ms.st_size != i % 13 + 2;
		badtime += !later(ms.st_mtim, before[i].st_mtim);
	}
	CHECK_EQ("sizes of many after append", bad, 0);
	CHECK_EQ("mtimes of many after append", badtime, 0);
	bad = 0;
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/m%d", d, i);
		if (truncate(p, i % 5) != 0)
			bad++;
	}
	CHECK_EQ("truncate many by path", bad, 0);
	bad = 0;
	badnlink = 0;
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/m%d", d, i);
		bad += st(p).st_size != i % 5;
		badnlink += unlink(p) != 0;
	}
	CHECK_EQ("sizes of many after truncate", bad, 0);
	CHECK_EQ("unlink many", badnlink, 0);
	CHECK_EQ("dir nlink at the end", st(d).st_nlink, 2);
	CHECK_OK("rmdir", rmdir(d));
	return check_done();
}
