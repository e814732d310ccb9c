/*
 * perms: file permission checks as Linux makes them, for unprivileged
 * users (forked children that drop to other uids and gids) and for root
 * with and without its capabilities: mode bits of owner, group and other
 * (only the first matching class counts), supplementary groups, search
 * permission on directories, sticky directories, the umask, O_CREAT of an
 * existing file, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
 * CAP_CHOWN, chown's rules, setgid directories, the clearing of setuid and
 * setgid on write, truncate and chown, access(2) with the real ids against
 * faccessat(AT_EACCESS), and O_NOATIME.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define OWNER 1000
#define OTHER 1001
#define NOBODY 65534
#define GROUP 2000
#define SGROUP 3000

static char top[64];
static char P[4][256];
static int pn;

/* p returns top/name in one of four static buffers (so that a call may
 * take two). */
static const char *p(const char *name)
{
	char *b = P[pn++ % 4];
	snprintf(b, sizeof(P[0]), "%s/%s", top, name);
	return b;
}

static void mkfile(const char *name, int mode, int uid, int gid, const char *data)
{
	int fd = open(p(name), O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0) {
		check_fail("fixture", "create %s: %s", name, check_errname(errno));
		return;
	}
	if (data && write(fd, data, strlen(data)) < 0)
		check_fail("fixture", "write %s", name);
	close(fd);
	if (chown(p(name), uid, gid) || chmod(p(name), mode))
		check_fail("fixture", "chown/chmod %s: %s", name, check_errname(errno));
}

static void mkdirent(const char *name, int mode, int uid, int gid)
{
	if (mkdir(p(name), 0700) || chown(p(name), uid, gid) || chmod(p(name), mode))
		check_fail("fixture", "mkdir %s: %s", name, check_errname(errno));
}

static int openf(const char *name, int flags)
{
	int fd = open(p(name), flags, 0666);
	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

static int mode_of(const char *name)
{
	struct stat st;
	if (stat(p(name), &st))
		return -1;
	return st.st_mode & 07777;
}

static int gid_of(const char *name)
{
	struct stat st;
	if (stat(p(name), &st))
		return -1;
	return st.st_gid;
}

/* become switches the calling (child) process to uid/gid with the given
 * supplementary groups; an unprivileged uid loses every capability. */
static void become(int ruid, int euid, int gid, int ngroups, const gid_t *groups)
{
	if (setgroups(ngroups, groups) || setresgid(gid, gid, gid) || setresuid(ruid, euid, euid)) {
		printf("FAIL become %d/%d: %s\n", ruid, euid, check_errname(errno));
		exit(1);
	}
}

typedef unsigned long long u64;
#define BIT(c) (1ULL << (c))

/* drop_caps removes caps from the effective set (root keeps its uid). */
static void drop_caps(u64 caps)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d)) {
		printf("FAIL capget: %s\n", check_errname(errno));
		exit(1);
	}
	d[0].effective &= ~(unsigned)caps;
	d[1].effective &= ~(unsigned)(caps >> 32);
	if (syscall(SYS_capset, &h, d)) {
		printf("FAIL capset: %s\n", check_errname(errno));
		exit(1);
	}
}

/* in_child runs fn in a forked child and waits for it; the child's failed
 * checks count as this process'. */
static void in_child(const char *what, void (*fn)(void))
{
	printf("-- %s\n", what);
	pid_t pid = fork();
	if (pid == 0) {
		check_failures = 0;
		fn();
		exit(check_failures ? 1 : 0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		check_failures++;
}

/* ---- mode bits and groups ---- */

static void owner_class(void)
{
	gid_t g[] = {GROUP};
	become(OWNER, OWNER, OWNER, 1, g);
	/* r--rw----: the owner class decides for the owner even though the
	 * group class would allow writing. */
	CHECK_EQ("owner reads r--rw----", openf("m0460", O_RDONLY), 0);
	CHECK_ERR("owner may not write r--rw---- (group bits do not apply)", openf("m0460", O_WRONLY), EACCES);
	CHECK_ERR("owner may not read ---r--r--", openf("m0044", O_RDONLY), EACCES);
	CHECK_EQ("owner reads and writes rw-------", openf("m0600", O_RDWR), 0);
}

static void group_supplementary(void)
{
	gid_t g[] = {5, GROUP, 7};
	become(OTHER, OTHER, OTHER, 3, g);
	CHECK_EQ("a supplementary group member writes r--rw----", openf("m0460", O_WRONLY), 0);
	CHECK_EQ("a supplementary group member reads r--rw----", openf("m0460", O_RDONLY), 0);
	CHECK_ERR("a group member may not read rw----r-- (other bits do not apply)", openf("m0604", O_RDONLY), EACCES);
	CHECK_ERR("a group member may not read rw-------", openf("m0600", O_RDONLY), EACCES);
	CHECK_ERR("O_TRUNC needs write permission", openf("m0044", O_RDONLY | O_TRUNC), EACCES);
}

static void group_primary(void)
{
	become(OTHER, OTHER, GROUP, 0, NULL);
	CHECK_EQ("the primary group writes r--rw----", openf("m0460", O_WRONLY), 0);
	CHECK_ERR("the primary group may not read ---------", openf("m0000", O_RDONLY), EACCES);
}

static void other_class(void)
{
	become(NOBODY, NOBODY, NOBODY, 0, NULL);
	CHECK_EQ("other reads rw----r--", openf("m0604", O_RDONLY), 0);
	CHECK_ERR("other may not write rw----r--", openf("m0604", O_WRONLY), EACCES);
	CHECK_ERR("other may not read r--rw----", openf("m0460", O_RDONLY), EACCES);
	CHECK_ERR("access(W_OK) of rw----r-- by other", access(p("m0604"), W_OK), EACCES);
	CHECK_EQ("access(R_OK) of rw----r-- by other", access(p("m0604"), R_OK), 0);
	CHECK_ERR("execve of a file without x is EACCES", execl(p("m0604"), "x", (char *)NULL), EACCES);
}

/* ---- directories ---- */

static void dir_search(void)
{
	become(NOBODY, NOBODY, NOBODY, 0, NULL);
	struct stat st;
	CHECK_ERR("stat through a 0700 directory of another user", stat(p("d0700/file"), &st), EACCES);
	CHECK_ERR("open through it", openf("d0700/file", O_RDONLY), EACCES);
	CHECK_ERR("chdir into it", chdir(p("d0700")), EACCES);
	CHECK_ERR("a path walking on through it", stat(p("d0700/sub/.."), &st), EACCES);
	CHECK_EQ("stat through a 0711 directory (search only)", stat(p("d0711/file"), &st), 0);
	CHECK_ERR("opendir of a 0711 directory (no read)", openf("d0711", O_RDONLY | O_DIRECTORY), EACCES);
	CHECK_EQ("opendir of a 0744 directory (read, no search)", openf("d0744", O_RDONLY | O_DIRECTORY), 0);
	CHECK_ERR("stat through a 0744 directory", stat(p("d0744/file"), &st), EACCES);
	CHECK_EQ("stat of the 0744 directory itself", stat(p("d0744"), &st), 0);
	CHECK_ERR("create in a 0755 root directory", openf("d0755/new", O_CREAT | O_WRONLY), EACCES);
	CHECK_ERR("mkdir in a 0755 root directory", mkdir(p("d0755/newd"), 0755), EACCES);
	CHECK_ERR("unlink in a 0755 root directory", unlink(p("d0755/file")), EACCES);
	CHECK_ERR("rename within a 0755 root directory", rename(p("d0755/file"), p("d0755/x")), EACCES);
	CHECK_ERR("symlink in a 0755 root directory", symlink("x", p("d0755/l")), EACCES);
	CHECK_ERR("link into a 0755 root directory", link(p("mine65534"), p("d0755/h")), EACCES);
	/* O_CREAT of a file that exists needs no write permission on the
	 * directory, only on the file. */
	CHECK_EQ("O_CREAT of an existing writable file in a 0555 directory", openf("d0555/rw", O_CREAT | O_WRONLY), 0);
	CHECK_ERR("O_CREAT of a missing file in a 0555 directory", openf("d0555/new", O_CREAT | O_WRONLY), EACCES);
	CHECK_ERR("O_CREAT of an existing file without write permission", openf("d0555/ro", O_CREAT | O_WRONLY), EACCES);
	CHECK_EQ("O_CREAT of an existing readable file for reading", openf("d0555/ro", O_CREAT | O_RDONLY), 0);
	CHECK_ERR("O_CREAT|O_EXCL of an existing file is EEXIST", openf("d0555/ro", O_CREAT | O_EXCL | O_WRONLY), EEXIST);
	CHECK_EQ("O_CREAT of an existing file keeps its mode", mode_of("d0555/ro"), 0444);
}

/* ---- sticky ---- */

static void sticky_owner_creates(void)
{
	become(OWNER, OWNER, OWNER, 0, NULL);
	CHECK_EQ("create sticky/a", openf("sticky/a", O_CREAT | O_WRONLY), 0);
	CHECK_EQ("create sticky/a2", openf("sticky/a2", O_CREAT | O_WRONLY), 0);
	CHECK_EQ("mkdir sticky/ad", mkdir(p("sticky/ad"), 0777), 0);
}

static void sticky_other(void)
{
	become(OTHER, OTHER, OTHER, 0, NULL);
	CHECK_EQ("create sticky/b", openf("sticky/b", O_CREAT | O_WRONLY), 0);
	CHECK_ERR("unlink of another's file in a sticky directory", unlink(p("sticky/a")), EPERM);
	CHECK_ERR("rmdir of another's directory in a sticky directory", rmdir(p("sticky/ad")), EPERM);
	char a[256];
	snprintf(a, sizeof(a), "%s", p("sticky/a"));
	CHECK_ERR("rename of another's file in a sticky directory", rename(a, p("sticky/c")), EPERM);
	char b[256];
	snprintf(b, sizeof(b), "%s", p("sticky/b"));
	CHECK_ERR("rename over another's file in a sticky directory", rename(b, a), EPERM);
	CHECK_EQ("rename of one's own file in a sticky directory", rename(b, p("sticky/b2")), 0);
	CHECK_EQ("the other's file is still there", access(a, F_OK), 0);
	CHECK_EQ("unlink of one's own file in a sticky directory", unlink(p("sticky/b2")), 0);
}

static void sticky_dir_owner(void)
{
	become(OTHER, OTHER, OTHER, 0, NULL);
	CHECK_EQ("the sticky directory's owner unlinks another's file", unlink(p("sticky2/a")), 0);
}

static void sticky_root_nofowner(void)
{
	drop_caps(BIT(CAP_FOWNER));
	CHECK_EQ("root without CAP_FOWNER owns sticky/: unlinks another's file there", unlink(p("sticky/a2")), 0);
	CHECK_ERR("root without CAP_FOWNER: unlink of another's file in another's sticky directory", unlink(p("sticky2/b")), EPERM);
	CHECK_ERR("...and rename of it", rename(p("sticky2/b"), p("sticky2/c")), EPERM);
}

/* ---- umask ---- */

static void umask_applied(void)
{
	become(OWNER, OWNER, OWNER, 0, NULL);
	umask(027);
	CHECK_EQ("umask 027: create 0666", openf("umask/f", O_CREAT | O_WRONLY), 0);
	CHECK_EQ("the file is 0640", mode_of("umask/f"), 0640);
	CHECK_EQ("umask 027: mkdir 0777", mkdir(p("umask/d"), 0777), 0);
	CHECK_EQ("the directory is 0750", mode_of("umask/d"), 0750);
	CHECK_EQ("umask 027: mknod a FIFO 0666", mknod(p("umask/p"), S_IFIFO | 0666, 0), 0);
	CHECK_EQ("the FIFO is 0640", mode_of("umask/p"), 0640);
	CHECK_EQ("umask returns the old mask", umask(0), 027);
	CHECK_EQ("umask 0: create 0777", openf("umask/g", O_CREAT | O_WRONLY) == 0 && chmod(p("umask/g"), 0777) == 0, 1);
	int fd = open(p("umask/h"), O_CREAT | O_WRONLY, 04777);
	close(fd);
	CHECK_EQ("umask 0: create 04777 keeps every bit", mode_of("umask/h"), 04777);
	umask(0777);
	CHECK_EQ("umask 0777: mkdir", mkdir(p("umask/z"), 0777), 0);
	CHECK_EQ("the directory is 0000", mode_of("umask/z"), 0);
	CHECK_ERR("...and even its owner may not create in it", openf("umask/z/x", O_CREAT | O_WRONLY), EACCES);
}

/* ---- capabilities ---- */

static void root_caps(void)
{
	CHECK_EQ("root reads ---------", openf("m0000", O_RDONLY), 0);
	CHECK_EQ("root writes ---------", openf("m0000", O_WRONLY), 0);
	CHECK_EQ("root opens a 0000 directory", openf("d0000", O_RDONLY | O_DIRECTORY), 0);
	struct stat st;
	CHECK_EQ("root searches a 0000 directory", stat(p("d0000/file"), &st), 0);
	CHECK_ERR("root may not execute a file without any x bit", access(p("m0000"), X_OK), EACCES);
	CHECK_ERR("execve of it is EACCES", execl(p("m0000"), "x", (char *)NULL), EACCES);
	CHECK_EQ("root may execute a file with an x bit for anyone", access(p("m0001"), X_OK), 0);
	CHECK_EQ("root creates in a 0555 directory", openf("d0555/root", O_CREAT | O_WRONLY), 0);
	CHECK_EQ("root unlinks in a 0555 directory", unlink(p("d0555/root")), 0);
}

static void root_no_dac_override(void)
{
	drop_caps(BIT(CAP_DAC_OVERRIDE));
	struct stat st;
	CHECK_EQ("no DAC_OVERRIDE: reads --------- (DAC_READ_SEARCH)", openf("m0000", O_RDONLY), 0);
	CHECK_ERR("no DAC_OVERRIDE: may not write ---------", openf("m0000", O_WRONLY), EACCES);
	CHECK_EQ("no DAC_OVERRIDE: opens a 0000 directory", openf("d0000", O_RDONLY | O_DIRECTORY), 0);
	CHECK_EQ("no DAC_OVERRIDE: searches a 0000 directory", stat(p("d0000/file"), &st), 0);
	CHECK_ERR("no DAC_OVERRIDE: may not create in a 0555 directory", openf("d0555/root", O_CREAT | O_WRONLY), EACCES);
	CHECK_ERR("no DAC_OVERRIDE: access(W_OK) uses the real ids' full caps", faccessat(AT_FDCWD, p("m0000"), W_OK, AT_EACCESS), EACCES);
	CHECK_EQ("no DAC_OVERRIDE: access(W_OK) with the real ids (root's permitted caps)", access(p("m0000"), W_OK), 0);
}

static void root_no_dac(void)
{
	drop_caps(BIT(CAP_DAC_OVERRIDE) | BIT(CAP_DAC_READ_SEARCH));
	struct stat st;
	CHECK_ERR("no DAC caps: may not read ---------", openf("m0000", O_RDONLY), EACCES);
	CHECK_ERR("no DAC caps: may not open a 0000 directory", openf("d0000", O_RDONLY | O_DIRECTORY), EACCES);
	CHECK_ERR("no DAC caps: may not search a 0000 directory", stat(p("d0000/file"), &st), EACCES);
	CHECK_EQ("no DAC caps: still the owner of rw-------", openf("m0600root", O_RDWR), 0);
	CHECK_ERR("no DAC caps: root is 'other' for a file of 1000's", openf("m0460", O_RDONLY), EACCES);
}

static void fowner(void)
{
	CHECK_EQ("root chmods another's file (CAP_FOWNER)", chmod(p("own"), 0640), 0);
	CHECK_EQ("root sets another's times", utimensat(AT_FDCWD, p("own"), (struct timespec[]){{1, 0}, {2, 0}}, 0), 0);
	drop_caps(BIT(CAP_FOWNER));
	CHECK_ERR("without CAP_FOWNER chmod of another's file is EPERM", chmod(p("own"), 0644), EPERM);
	CHECK_ERR("without CAP_FOWNER explicit times on another's file are EPERM",
		  utimensat(AT_FDCWD, p("own"), (struct timespec[]){{1, 0}, {2, 0}}, 0), EPERM);
	CHECK_EQ("...but setting them to now needs only write permission (DAC_OVERRIDE)", utimensat(AT_FDCWD, p("own"), NULL, 0), 0);
}

static void fowner_users(void)
{
	gid_t g[] = {GROUP};
	become(OTHER, OTHER, OTHER, 1, g);
	CHECK_ERR("a non-owner chmod is EPERM", chmod(p("own"), 0666), EPERM);
	CHECK_ERR("a non-owner sets explicit times: EPERM", utimensat(AT_FDCWD, p("own"), (struct timespec[]){{1, 0}, {2, 0}}, 0), EPERM);
	CHECK_EQ("a non-owner with write permission sets times to now", utimensat(AT_FDCWD, p("w0666"), NULL, 0), 0);
	CHECK_EQ("...or both to UTIME_NOW", utimensat(AT_FDCWD, p("w0666"), (struct timespec[]){{0, UTIME_NOW}, {0, UTIME_NOW}}, 0), 0);
	CHECK_ERR("...but {UTIME_NOW, UTIME_OMIT} is an explicit change: EPERM",
		  utimensat(AT_FDCWD, p("w0666"), (struct timespec[]){{0, UTIME_NOW}, {0, UTIME_OMIT}}, 0), EPERM);
	CHECK_ERR("a non-owner without write permission: times to now EACCES", utimensat(AT_FDCWD, p("m0604"), NULL, 0), EACCES);
}

static void owner_chmod(void)
{
	gid_t g[] = {GROUP};
	become(OWNER, OWNER, OWNER, 1, g);
	CHECK_EQ("the owner chmods", chmod(p("own"), 0660), 0);
	CHECK_EQ("the mode changed", mode_of("own"), 0660);
	/* Setting S_ISGID on a file whose group one is not in drops it. */
	CHECK_EQ("the owner chowns to a member group", chown(p("own"), -1, GROUP), 0);
	CHECK_EQ("chmod g+s with the group a member", chmod(p("own"), 02770), 0);
	CHECK_EQ("S_ISGID is kept", mode_of("own"), 02770);
	CHECK_EQ("the owner chowns to its own group", chown(p("own"), -1, OWNER), 0);
	CHECK_EQ("the group change by the owner cleared S_ISGID", mode_of("own"), 0770);
	CHECK_ERR("the owner may not give the file away", chown(p("own"), OTHER, -1), EPERM);
	CHECK_EQ("the owner may 'chown' it to itself", chown(p("own"), OWNER, -1), 0);
	CHECK_ERR("the owner may not chgrp to a group it is not in", chown(p("own"), -1, SGROUP), EPERM);
	CHECK_EQ("the group is unchanged", gid_of("own"), OWNER);
}

static void other_chown(void)
{
	gid_t g[] = {GROUP};
	become(OTHER, OTHER, OTHER, 1, g);
	CHECK_ERR("a non-owner may not chgrp even to its group", chown(p("own"), -1, GROUP), EPERM);
	CHECK_ERR("a non-owner may not chown to itself", chown(p("own"), OTHER, -1), EPERM);
	CHECK_EQ("chown(-1, -1) by a non-owner is allowed", chown(p("own"), -1, -1), 0);
}

static void root_nochown(void)
{
	CHECK_EQ("root chowns anything", chown(p("own"), OTHER, SGROUP), 0);
	CHECK_EQ("root chowns it back", chown(p("own"), OWNER, OWNER), 0);
	drop_caps(BIT(CAP_CHOWN));
	CHECK_ERR("root without CAP_CHOWN may not chown", chown(p("own"), OTHER, -1), EPERM);
}

/* ---- setgid directories ---- */

static void sgid_nonmember(void)
{
	become(OWNER, OWNER, OWNER, 0, NULL);
	umask(0);
	CHECK_EQ("a non-member creates in a setgid directory", openf("sgid/f1000", O_CREAT | O_WRONLY), 0);
	CHECK_EQ("the file takes the directory's group", gid_of("sgid/f1000"), SGROUP);
	int fd = open(p("sgid/sg1000"), O_CREAT | O_WRONLY, 02755);
	close(fd);
	CHECK_EQ("a non-member's g+s,g+x file created there loses S_ISGID", mode_of("sgid/sg1000"), 0755);
	fd = open(p("sgid/sgnox"), O_CREAT | O_WRONLY, 02745);
	close(fd);
	CHECK_EQ("...but keeps it without g+x", mode_of("sgid/sgnox"), 02745);
	CHECK_EQ("mkdir in a setgid directory", mkdir(p("sgid/d1000"), 0755), 0);
	CHECK_EQ("the directory takes the group", gid_of("sgid/d1000"), SGROUP);
	CHECK_EQ("and is setgid itself", mode_of("sgid/d1000"), 02755);
	CHECK_EQ("mkfifo in a setgid directory", mkfifo(p("sgid/p1000"), 0644), 0);
	CHECK_EQ("the FIFO takes the group", gid_of("sgid/p1000"), SGROUP);
	CHECK_EQ("a file in a plain directory takes the fsgid", openf("plain/f1000", O_CREAT | O_WRONLY) == 0 && gid_of("plain/f1000") == OWNER, 1);
	CHECK_EQ("chmod g+s of one's file in a group one is not in", chmod(p("sgid/f1000"), 02755), 0);
	CHECK_EQ("S_ISGID is silently dropped", mode_of("sgid/f1000"), 0755);
}

static void sgid_root(void)
{
	umask(0);
	CHECK_EQ("root creates in a setgid directory", openf("sgid/froot", O_CREAT | O_WRONLY), 0);
	CHECK_EQ("the file takes the directory's group", gid_of("sgid/froot"), SGROUP);
	int fd = open(p("sgid/sgroot"), O_CREAT | O_WRONLY, 02755);
	close(fd);
	CHECK_EQ("root's g+s file keeps S_ISGID (CAP_FSETID)", mode_of("sgid/sgroot"), 02755);
}

/* ---- clearing setuid and setgid ---- */

static void suid_write_owner(void)
{
	gid_t g[] = {GROUP};
	become(OWNER, OWNER, OWNER, 1, g);
	int fd = open(p("suid1"), O_WRONLY);
	CHECK("open the setuid file", fd >= 0);
	CHECK_EQ("write", write(fd, "x", 1), 1);
	close(fd);
	CHECK_EQ("a write by the owner clears setuid and setgid (g+x)", mode_of("suid1"), 0775);
	fd = open(p("sgidnox"), O_WRONLY);
	CHECK_EQ("write", write(fd, "x", 1), 1);
	close(fd);
	CHECK_EQ("setgid without g+x survives a write", mode_of("sgidnox"), 02765);
	CHECK_EQ("truncate clears setuid", truncate(p("suid2"), 1) == 0 && mode_of("suid2") == 0775, 1);
	fd = open(p("suid3"), O_WRONLY);
	CHECK_EQ("ftruncate clears setuid", ftruncate(fd, 0) == 0 && mode_of("suid3") == 0775, 1);
	close(fd);
	fd = open(p("suid4"), O_WRONLY);
	CHECK_EQ("an empty write leaves setuid", write(fd, "", 0) == 0 && mode_of("suid4") == 06775, 1);
	close(fd);
	CHECK_EQ("O_TRUNC clears setuid", openf("suid4", O_WRONLY | O_TRUNC) == 0 && mode_of("suid4") == 0775, 1);
}

static void suid_root(void)
{
	int fd = open(p("suid5"), O_WRONLY);
	CHECK_EQ("root's write keeps setuid (CAP_FSETID)", write(fd, "x", 1) == 1 && mode_of("suid5") == 06775, 1);
	close(fd);
	CHECK_EQ("chown by root", chown(p("suid5"), OWNER, GROUP), 0);
	CHECK_EQ("...clears setuid and setgid (g+x) anyway", mode_of("suid5"), 0775);
	CHECK_EQ("chown of setgid without g+x", chown(p("sgidnox"), OWNER, GROUP), 0);
	CHECK_EQ("...keeps setgid", mode_of("sgidnox"), 02765);
	CHECK_EQ("chown of a setgid directory", chown(p("sgid"), 0, SGROUP), 0);
	CHECK_EQ("...keeps its setgid", mode_of("sgid"), 02777);
}

/* ---- access(2): real against effective ids ---- */

static void access_ids(void)
{
	become(OWNER, OTHER, OTHER, 0, NULL);
	CHECK_EQ("access(R_OK) uses the real uid (owner)", access(p("only1000"), R_OK), 0);
	CHECK_ERR("faccessat(AT_EACCESS) uses the effective uid", faccessat(AT_FDCWD, p("only1000"), R_OK, AT_EACCESS), EACCES);
	CHECK_ERR("open uses the effective (fs) uid", openf("only1000", O_RDONLY), EACCES);
	CHECK_ERR("access(R_OK) of the effective uid's file", access(p("only1001"), R_OK), EACCES);
	CHECK_EQ("faccessat(AT_EACCESS) of it", faccessat(AT_FDCWD, p("only1001"), R_OK, AT_EACCESS), 0);
	CHECK_EQ("open of it", openf("only1001", O_RDONLY), 0);
}

static void access_root_real(void)
{
	/* Real uid 0, effective 1001: access() checks as root with its
	 * permitted capabilities. */
	if (setresuid(0, OTHER, 0)) {
		printf("FAIL setresuid: %s\n", check_errname(errno));
		exit(1);
	}
	CHECK_EQ("access() with real uid 0 passes on ---------", access(p("m0000"), R_OK | W_OK), 0);
	CHECK_ERR("faccessat(AT_EACCESS) as 1001 fails", faccessat(AT_FDCWD, p("m0000"), R_OK, AT_EACCESS), EACCES);
	CHECK_ERR("access(X_OK) of --------- is still EACCES", access(p("m0000"), X_OK), EACCES);
}

/* ---- O_NOATIME ---- */

static void noatime(void)
{
	gid_t g[] = {GROUP};
	become(OTHER, OTHER, OTHER, 1, g);
	CHECK_ERR("O_NOATIME on another's file is EPERM", openf("m0644", O_RDONLY | O_NOATIME), EPERM);
	int fd = open(p("m0644"), O_RDONLY);
	CHECK_ERR("F_SETFL O_NOATIME on another's file is EPERM", fcntl(fd, F_SETFL, O_NOATIME), EPERM);
	close(fd);
	CHECK_EQ("O_NOATIME on one's own file", openf("mine1001", O_RDONLY | O_NOATIME), 0);
	fd = open(p("mine1001"), O_RDONLY);
	CHECK_EQ("F_SETFL O_NOATIME on one's own file", fcntl(fd, F_SETFL, O_NOATIME), 0);
	CHECK("F_GETFL shows it", fcntl(fd, F_GETFL) & O_NOATIME);
	close(fd);
}

static void noatime_root(void)
{
	CHECK_EQ("root may O_NOATIME another's file (CAP_FOWNER)", openf("m0644", O_RDONLY | O_NOATIME), 0);
}

int main(void)
{
	umask(0);
	snprintf(top, sizeof(top), "/tmp/perms.%d", getpid());
	REQUIRE("mkdir the top", mkdir(top, 0755) == 0);

	mkfile("m0460", 0460, OWNER, GROUP, "data");
	mkfile("m0044", 0044, OWNER, GROUP, "data");
	mkfile("m0600", 0600, OWNER, GROUP, "data");
	mkfile("m0604", 0604, OWNER, GROUP, "data");
	mkfile("m0000", 0000, OWNER, GROUP, "data");
	mkfile("m0001", 0001, OWNER, GROUP, "data");
	mkfile("m0600root", 0600, 0, 0, "data");
	mkfile("m0644", 0644, OWNER, OWNER, "data");
	mkfile("w0666", 0666, OWNER, OWNER, "data");
	mkfile("mine65534", 0600, NOBODY, NOBODY, "data");
	mkfile("mine1001", 0600, OTHER, OTHER, "data");
	mkfile("own", 0644, OWNER, OWNER, "data");
	mkfile("only1000", 0400, OWNER, OWNER, "data");
	mkfile("only1001", 0400, OTHER, OTHER, "data");
	mkdirent("d0700", 0700, OWNER, OWNER);
	mkfile("d0700/file", 0644, OWNER, OWNER, "x");
	mkdirent("d0711", 0711, OWNER, OWNER);
	mkfile("d0711/file", 0644, OWNER, OWNER, "x");
	mkdirent("d0744", 0744, OWNER, OWNER);
	mkfile("d0744/file", 0644, OWNER, OWNER, "x");
	mkdirent("d0755", 0755, 0, 0);
	mkfile("d0755/file", 0666, 0, 0, "x");
	mkdirent("d0555", 0777, 0, 0);
	mkfile("d0555/rw", 0666, 0, 0, "x");
	mkfile("d0555/ro", 0444, 0, 0, "x");
	chmod(p("d0555"), 0555);
	mkdirent("d0000", 0755, OWNER, OWNER);
	mkfile("d0000/file", 0644, OWNER, OWNER, "x");
	chmod(p("d0000"), 0);
	mkdirent("sticky", 01777, 0, 0);
	mkdirent("sticky2", 01777, OTHER, OTHER);
	mkfile("sticky2/a", 0644, OWNER, OWNER, "x");
	mkfile("sticky2/b", 0644, OWNER, OWNER, "x");
	mkdirent("umask", 0777, 0, 0);
	mkdirent("sgid", 02777, 0, SGROUP);
	mkdirent("plain", 0777, 0, 0);
	mkfile("suid1", 06775, OWNER, GROUP, "x");
	mkfile("suid2", 06775, OWNER, GROUP, "x");
	mkfile("suid3", 06775, OWNER, GROUP, "x");
	mkfile("suid4", 06775, OWNER, GROUP, "x");
	mkfile("suid5", 06775, OWNER, GROUP, "x");
	mkfile("sgidnox", 02765, OWNER, GROUP, "x");
	CHECK_EQ("fixture mode", mode_of("suid1"), 06775);

	in_child("owner class", owner_class);
	in_child("supplementary group", group_supplementary);
	in_child("primary group", group_primary);
	in_child("other class", other_class);
	in_child("directory search and write", dir_search);
	in_child("sticky: owner creates", sticky_owner_creates);
	in_child("sticky: others", sticky_other);
	in_child("sticky: directory owner", sticky_dir_owner);
	in_child("sticky: root without CAP_FOWNER", sticky_root_nofowner);
	in_child("umask", umask_applied);
	in_child("root", root_caps);
	in_child("root without CAP_DAC_OVERRIDE", root_no_dac_override);
	in_child("root without DAC caps", root_no_dac);
	in_child("CAP_FOWNER", fowner);
	in_child("non-owners", fowner_users);
	in_child("owner chmod and chown", owner_chmod);
	in_child("non-owner chown", other_chown);
	in_child("CAP_CHOWN", root_nochown);
	in_child("setgid directory, non-member", sgid_nonmember);
	in_child("setgid directory, root", sgid_root);
	in_child("setuid cleared by writes", suid_write_owner);
	in_child("setuid and root", suid_root);
	in_child("access with real and effective ids", access_ids);
	in_child("access with real uid 0", access_root_real);
	in_child("O_NOATIME", noatime);
	in_child("O_NOATIME as root", noatime_root);

	/* Clean up as root. */
	chmod(p("d0555"), 0755);
	chmod(p("d0000"), 0755);
	chmod(p("umask/z"), 0755);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", top, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK("clean up", access(top, F_OK) != 0);
	return check_done();
}
