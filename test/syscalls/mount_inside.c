/*
 * mount_inside: mount(2) and umount2(2) from inside: tmpfs with size= and
 * mode=, bind mounts of directories and files (with and without MS_REC),
 * read-only remounts (EROFS), noexec (execve and access X_OK EACCES),
 * nodev (opening a device node EACCES), nosuid (statfs reports it; a setuid
 * file does not change the euid), umount2 with MNT_DETACH, EBUSY, EINVAL
 * for a non-mount point, EPERM without CAP_SYS_ADMIN, and
 * /proc/self/mountinfo following the changes.
 *
 * Natively this needs root and a private mount namespace: the test first
 * calls unshare(CLONE_NEWNS) and makes / private. The sandbox is its own
 * mount namespace; where it refuses unshare (EPERM, EINVAL or ENOSYS) and
 * the test is the sandbox's init (pid 1), the test goes on in it and prints
 * the same line.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define TMPFS_MAGIC 0x01021994

static char base[64];
static char P[4][256];
static int pn;

static const char *p(const char *name)
{
	char *b = P[pn++ % 4];
	snprintf(b, sizeof(P[0]), "%s/%s", base, name);
	return b;
}

static int put(const char *name, const char *data, int mode)
{
	int fd = open(p(name), O_CREAT | O_WRONLY | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	int r = write(fd, data, strlen(data)) == (ssize_t)strlen(data) ? 0 : -1;
	close(fd);
	return r;
}

/* get reads a small file into a static buffer ("" on error). */
static const char *get(const char *name)
{
	static char buf[64];
	buf[0] = 0;
	int fd = open(p(name), O_RDONLY);
	if (fd < 0)
		return buf;
	int n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	return buf;
}

/* show_mounts prints the mounts below base from /proc/self/mountinfo: the
 * path relative to base, the type and whether it is read-only. */
static void show_mounts(const char *when)
{
	printf("mounts %s:\n", when);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f) {
		printf("FAIL open /proc/self/mountinfo: %s\n", check_errname(errno));
		check_failures++;
		return;
	}
	char line[1024];
	size_t bl = strlen(base);
	while (fgets(line, sizeof(line), f)) {
		char point[512], opts[256], type[64];
		/* id parent maj:min root point opts [optional...] - type src super */
		if (sscanf(line, "%*d %*d %*s %*s %511s %255s", point, opts) != 2)
			continue;
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(dash, " - %63s", type) != 1)
			continue;
		if (strncmp(point, base, bl) != 0 || (point[bl] != '/' && point[bl] != 0))
			continue;
		printf("  %s %s %s\n", point[bl] ? point + bl : "/", type, strncmp(opts, "ro", 2) == 0 ? "ro" : "rw");
	}
	fclose(f);
}

typedef unsigned long long u64;

static void drop_cap(int cap)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	d[cap / 32].effective &= ~(1u << (cap % 32));
	if (syscall(SYS_capset, &h, d))
		printf("FAIL capset: %s\n", check_errname(errno));
}

/* run_child runs fn in a child and returns its exit status (or -1). */
static int run_child(int (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		check_failures = 0;
		int r = fn();
		fflush(stdout);
		_exit(r);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int exec_noexec(void)
{
	char *argv[] = {"true", NULL};
	execv(p("x/true"), argv);
	return errno == EACCES ? 0 : 1;
}

static int exec_suid(void)
{
	/* Drop to nobody and run the setuid-root copy of this program: on a
	 * nosuid mount its euid stays 65534. */
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 2;
	char *argv[] = {"prog", "report", NULL};
	execv(p("s/prog"), argv);
	return 3;
}

static int no_sys_admin(void)
{
	drop_cap(CAP_SYS_ADMIN);
	CHECK_ERR("mount without CAP_SYS_ADMIN is EPERM", mount("tmpfs", p("e"), "tmpfs", 0, NULL), EPERM);
	CHECK_ERR("umount2 without CAP_SYS_ADMIN is EPERM", umount2(p("t"), 0), EPERM);
	CHECK_ERR("bind mount without CAP_SYS_ADMIN is EPERM", mount(p("t/src"), p("e"), NULL, MS_BIND, NULL), EPERM);
	return check_failures;
}

/* copy_file copies src to name with the given mode. */
static int copy_file(const char *src, const char *name, int mode)
{
	int in = open(src, O_RDONLY);
	int out = open(p(name), O_CREAT | O_WRONLY | O_TRUNC, mode);
	if (in < 0 || out < 0)
		return -1;
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	close(out);
	return chmod(p(name), mode);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "report")) {
		printf("euid %d\n", geteuid());
		return 0;
	}
	int r = unshare(CLONE_NEWNS);
	int e = errno;
	if (r != 0 && getpid() == 1 && (e == EPERM || e == EINVAL || e == ENOSYS))
		r = 0; /* the sandbox: already a mount namespace of its own */
	REQUIRE("a private mount namespace", r == 0);
	REQUIRE("make / private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);

	snprintf(base, sizeof(base), "/tmp/mount_inside.%d", getpid());
	REQUIRE("mkdir base", mkdir(base, 0755) == 0);
	mkdir(p("t"), 0755);

	/* tmpfs with size= and mode=. */
	CHECK_OK("mount tmpfs size=1m,mode=0711", mount("tmpfs", p("t"), "tmpfs", 0, "size=1m,mode=0711"));
	struct stat st;
	CHECK_EQ("mode= sets the root's mode", (stat(p("t"), &st), st.st_mode), S_IFDIR | 0711);
	struct statfs sf;
	CHECK_OK("statfs", statfs(p("t"), &sf));
	CHECK_EQ("f_type is TMPFS_MAGIC", sf.f_type, TMPFS_MAGIC);
	CHECK_EQ("size=1m is 1 MiB of blocks", (long long)sf.f_blocks * sf.f_bsize, 1 << 20);
	int fd = open(p("t/big"), O_CREAT | O_WRONLY, 0644);
	static char chunk[65536];
	long total = 0;
	int werr = 0;
	for (int i = 0; i < 40; i++) {
		ssize_t n = write(fd, chunk, sizeof(chunk));
		if (n < 0) {
			werr = errno;
			break;
		}
		total += n;
	}
	close(fd);
	CHECK_EQ("writing past size= is ENOSPC", werr, ENOSPC);
	CHECK("at most 1 MiB was written", total <= (1 << 20) && total >= (1 << 20) - 65536 * 2);
	CHECK_OK("unlink frees the space", unlink(p("t/big")));
	show_mounts("after the tmpfs mount");

	/* Bind mounts of a directory, with and without MS_REC. */
	mkdir(p("t/src"), 0755);
	mkdir(p("t/src/sub"), 0755);
	mkdir(p("t/dst"), 0755);
	mkdir(p("t/dst2"), 0755);
	mkdir(p("t/dst3"), 0755);
	put("t/src/f", "hello", 0644);
	CHECK_OK("mount tmpfs on src/sub", mount("tmpfs", p("t/src/sub"), "tmpfs", 0, "size=64k"));
	put("t/src/sub/inner", "inner", 0644);
	CHECK_OK("bind src on dst", mount(p("t/src"), p("t/dst"), NULL, MS_BIND, NULL));
	CHECK("dst shows src's file", !strcmp(get("t/dst/f"), "hello"));
	CHECK_OK("create through dst", put("t/dst/g", "via dst", 0644));
	CHECK("src sees it", !strcmp(get("t/src/g"), "via dst"));
	CHECK_ERR("a plain bind does not carry the submount", stat(p("t/dst/sub/inner"), &st), ENOENT);
	CHECK_OK("bind src on dst3 with MS_REC", mount(p("t/src"), p("t/dst3"), NULL, MS_BIND | MS_REC, NULL));
	CHECK("MS_REC carries the submount", !strcmp(get("t/dst3/sub/inner"), "inner"));

	/* Bind mounts of a file. */
	put("t/file1", "one", 0644);
	put("t/file2", "two", 0644);
	CHECK_OK("bind a file on a file", mount(p("t/file1"), p("t/file2"), NULL, MS_BIND, NULL));
	CHECK("the target reads the source", !strcmp(get("t/file2"), "one"));
	CHECK_ERR("bind a file on a directory is ENOTDIR", mount(p("t/file1"), p("t/dst2"), NULL, MS_BIND, NULL), ENOTDIR);
	CHECK_ERR("bind a directory on a file is ENOTDIR", mount(p("t/src"), p("t/file1"), NULL, MS_BIND, NULL), ENOTDIR);
	CHECK_ERR("unlink of a mounted-on file is EBUSY", unlink(p("t/file2")), EBUSY);
	CHECK_ERR("rmdir of a mount point is EBUSY", rmdir(p("t/dst")), EBUSY);
	show_mounts("after the bind mounts");

	/* Read-only remount of the bind mount. */
	CHECK_OK("remount dst read-only (MS_BIND)", mount(NULL, p("t/dst"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	CHECK_ERR("open for writing is EROFS", open(p("t/dst/f"), O_WRONLY), EROFS);
	CHECK_ERR("create is EROFS", open(p("t/dst/new"), O_CREAT | O_WRONLY, 0644), EROFS);
	CHECK_ERR("mkdir is EROFS", mkdir(p("t/dst/newdir"), 0755), EROFS);
	CHECK_ERR("unlink is EROFS", unlink(p("t/dst/g")), EROFS);
	CHECK_ERR("chmod is EROFS", chmod(p("t/dst/f"), 0600), EROFS);
	CHECK_ERR("truncate is EROFS", truncate(p("t/dst/f"), 0), EROFS);
	CHECK_ERR("access(W_OK) is EROFS", access(p("t/dst/f"), W_OK), EROFS);
	CHECK_EQ("reading still works", strcmp(get("t/dst/f"), "hello"), 0);
	CHECK_OK("the source stays writable", put("t/src/f", "hello", 0644));
	CHECK_OK("statvfs of dst", statvfs(p("t/dst"), &(struct statvfs){0}));
	struct statvfs sv;
	statvfs(p("t/dst"), &sv);
	CHECK("ST_RDONLY on dst", sv.f_flag & ST_RDONLY);
	statvfs(p("t/src"), &sv);
	CHECK("no ST_RDONLY on src", !(sv.f_flag & ST_RDONLY));
	show_mounts("after the read-only remount");
	CHECK_OK("remount dst read-write", mount(NULL, p("t/dst"), NULL, MS_REMOUNT | MS_BIND, NULL));
	CHECK_OK("create works again", put("t/dst/new", "x", 0644));

	/* noexec. */
	mkdir(p("x"), 0755);
	CHECK_OK("mount tmpfs noexec", mount("tmpfs", p("x"), "tmpfs", MS_NOEXEC, NULL));
	CHECK_OK("copy /bin/true there", copy_file("/bin/true", "x/true", 0755));
	CHECK_EQ("execve on a noexec mount is EACCES", run_child(exec_noexec), 0);
	CHECK_ERR("access(X_OK) on a noexec mount is EACCES", access(p("x/true"), X_OK), EACCES);
	fd = open(p("x/true"), O_RDONLY);
	CHECK_ERR("mmap PROT_EXEC of a noexec file is EPERM",
		  (long)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0), EPERM);
	void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK("mmap PROT_READ works", m != MAP_FAILED);
	if (m != MAP_FAILED) {
		CHECK_ERR("mprotect(PROT_EXEC) of it is EACCES", mprotect(m, 4096, PROT_READ | PROT_EXEC), EACCES);
		munmap(m, 4096);
	}
	close(fd);
	statvfs(p("x"), &sv);
	CHECK("ST_NOEXEC", sv.f_flag & ST_NOEXEC);

	/* nodev. */
	mkdir(p("d"), 0755);
	mkdir(p("d2"), 0755);
	CHECK_OK("mount tmpfs nodev", mount("tmpfs", p("d"), "tmpfs", MS_NODEV, NULL));
	CHECK_OK("mount tmpfs with devices", mount("tmpfs", p("d2"), "tmpfs", 0, NULL));
	CHECK_OK("mknod null on nodev", mknod(p("d/null"), S_IFCHR | 0666, makedev(1, 3)));
	CHECK_OK("mknod null on the other", mknod(p("d2/null"), S_IFCHR | 0666, makedev(1, 3)));
	CHECK_ERR("opening a device on a nodev mount is EACCES", open(p("d/null"), O_WRONLY), EACCES);
	fd = open(p("d2/null"), O_WRONLY);
	CHECK("opening it elsewhere works", fd >= 0 && write(fd, "x", 1) == 1);
	close(fd);
	statvfs(p("d"), &sv);
	CHECK("ST_NODEV", sv.f_flag & ST_NODEV);

	/* nosuid. */
	mkdir(p("s"), 0755);
	CHECK_OK("mount tmpfs nosuid", mount("tmpfs", p("s"), "tmpfs", MS_NOSUID, NULL));
	CHECK_OK("copy this program there setuid root", copy_file("/proc/self/exe", "s/prog", 04755));
	CHECK_EQ("its mode keeps S_ISUID", (stat(p("s/prog"), &st), st.st_mode & 07777), 04755);
	statvfs(p("s"), &sv);
	CHECK("ST_NOSUID", sv.f_flag & ST_NOSUID);
	CHECK_EQ("exec of it as nobody on nosuid", run_child(exec_suid), 0);
	show_mounts("with noexec, nodev and nosuid");

	/* Permission. */
	mkdir(p("e"), 0755);
	CHECK_EQ("without CAP_SYS_ADMIN", run_child(no_sys_admin), 0);

	/* umount2. */
	CHECK_ERR("umount of a directory that is no mount point is EINVAL", umount2(p("t/src"), 0), EINVAL);
	CHECK_ERR("umount of a missing path is ENOENT", umount2(p("t/nothere"), 0), ENOENT);
	CHECK_ERR("umount2 with unknown flags is EINVAL", umount2(p("t"), 0x100), EINVAL);
	CHECK_ERR("umount of a mount with mounts below is EBUSY", umount2(p("t"), 0), EBUSY);
	fd = open(p("d2/null"), O_WRONLY);
	CHECK_ERR("umount of a mount with an open file is EBUSY", umount2(p("d2"), 0), EBUSY);
	close(fd);
	CHECK_OK("...and works once it is closed", umount2(p("d2"), 0));
	CHECK_ERR("the device is gone with it", stat(p("d2/null"), &st), ENOENT);
	CHECK_OK("chdir into a mount", chdir(p("d")));
	CHECK_ERR("umount of the cwd's mount is EBUSY", umount2(p("d"), 0), EBUSY);
	CHECK_OK("chdir out", chdir("/"));
	CHECK_OK("umount nodev", umount2(p("d"), 0));
	CHECK_OK("umount the file bind", umount2(p("t/file2"), 0));
	CHECK("the file is itself again", !strcmp(get("t/file2"), "two"));
	fd = open(p("t/dst3/sub/inner"), O_RDONLY);
	CHECK_OK("MNT_DETACH with an open file below", umount2(p("t/dst3"), MNT_DETACH));
	char b[16] = {0};
	CHECK("the open file still reads", fd >= 0 && read(fd, b, sizeof(b)) == 5 && !strcmp(b, "inner"));
	close(fd);
	CHECK_ERR("the path shows the empty directory below", stat(p("t/dst3/f"), &st), ENOENT);
	show_mounts("after some umounts");
	CHECK_OK("MNT_DETACH the whole tmpfs with its mounts", umount2(p("t"), MNT_DETACH));
	CHECK_ERR("its files are gone from the path", stat(p("t/src"), &st), ENOENT);
	umount2(p("x"), MNT_DETACH);
	umount2(p("s"), MNT_DETACH);
	show_mounts("at the end");

	const char *dirs[] = {"t", "x", "d", "d2", "s", "e"};
	int gone = 0;
	for (unsigned i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		gone += rmdir(p(dirs[i])) == 0;
	CHECK_EQ("the mount points are plain directories again", gone, 6);
	CHECK_OK("rmdir base", rmdir(base));
	return check_done();
}
