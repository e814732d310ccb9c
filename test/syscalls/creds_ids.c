/* creds_ids: user and group id transitions (setuid, setreuid, setresuid,
 * setfsuid and the gid twins), the saved ids, which ids an unprivileged
 * process may switch between, and the supplementary groups.
 *
 * The test runs as root; each scenario runs in a forked child so that
 * dropping privileges does not affect the next one. The raw syscalls are
 * used where the C library would interfere (bad sizes, -1 arguments). */
#define _GNU_SOURCE
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void in_child(const char *name, void (*fn)(void)) { check_in_child(name, NULL, fn); }

static int res_uid_is(uid_t r, uid_t e, uid_t s)
{
	uid_t a, b, c;
	return getresuid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int res_gid_is(gid_t r, gid_t e, gid_t s)
{
	gid_t a, b, c;
	return getresgid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static long sys3(long nr, long a, long b, long c) { return syscall(nr, a, b, c); }

/* Root keeps a saved uid of 0 and can come back from a non-zero euid. */
static void root_saved(void)
{
	CHECK_EQ("root: setresuid(1000, 1001, 0)", sys3(SYS_setresuid, 1000, 1001, 0), 0);
	CHECK("root: ids are 1000/1001/0", res_uid_is(1000, 1001, 0));
	CHECK_EQ("root: fsuid followed euid", setfsuid(-1), 1001);
	CHECK_EQ("root: back to euid 0 through the saved uid", sys3(SYS_setresuid, -1, 0, -1), 0);
	CHECK("root: ids are 1000/0/0", res_uid_is(1000, 0, 0));
	CHECK_EQ("root: fsuid is 0 again", setfsuid(-1), 0);
	CHECK_EQ("root: privileged setuid(5) sets all three", syscall(SYS_setuid, 5), 0);
	CHECK("root: ids are 5/5/5", res_uid_is(5, 5, 5));
	CHECK_ERR("root: setuid(0) now fails", syscall(SYS_setuid, 0), EPERM);
}

/* The unprivileged rules, once every uid left 0. */
static void unprivileged(void)
{
	REQUIRE("unpriv: setresuid(1000, 1001, 1002)", sys3(SYS_setresuid, 1000, 1001, 1002) == 0);
	CHECK_ERR("unpriv: setresuid to a foreign uid", sys3(SYS_setresuid, 1003, -1, -1), EPERM);
	CHECK_ERR("unpriv: setresuid foreign saved uid", sys3(SYS_setresuid, -1, -1, 0), EPERM);
	CHECK_EQ("unpriv: setresuid permutes own ids", sys3(SYS_setresuid, 1002, 1000, 1001), 0);
	CHECK("unpriv: ids are 1002/1000/1001", res_uid_is(1002, 1000, 1001));
	CHECK_EQ("unpriv: setresuid(-1,-1,-1) is a no-op", sys3(SYS_setresuid, -1, -1, -1), 0);
	CHECK("unpriv: ids unchanged", res_uid_is(1002, 1000, 1001));

	CHECK_EQ("unpriv: setuid to the saved uid", syscall(SYS_setuid, 1001), 0);
	CHECK("unpriv: setuid changed only the euid", res_uid_is(1002, 1001, 1001));
	CHECK_ERR("unpriv: setuid to a uid that is neither real nor saved", syscall(SYS_setuid, 1000), EPERM);
	CHECK_ERR("unpriv: setuid(-1) is EINVAL", syscall(SYS_setuid, -1), EINVAL);

	CHECK_EQ("unpriv: setreuid(-1, real)", syscall(SYS_setreuid, -1, 1002), 0);
	CHECK("unpriv: euid = real keeps the saved uid", res_uid_is(1002, 1002, 1001));
	CHECK_ERR("unpriv: setreuid real := saved uid is EPERM", syscall(SYS_setreuid, 1001, -1), EPERM);
	CHECK_EQ("unpriv: setreuid(real, saved)", syscall(SYS_setreuid, 1002, 1001), 0);
	CHECK("unpriv: setting the real uid copies euid to saved", res_uid_is(1002, 1001, 1001));
	CHECK_EQ("unpriv: setreuid(-1, -1)", syscall(SYS_setreuid, -1, -1), 0);
	CHECK("unpriv: still 1002/1001/1001", res_uid_is(1002, 1001, 1001));

	CHECK_EQ("unpriv: setfsuid to a foreign uid returns the old fsuid", setfsuid(5000), 1001);
	CHECK_EQ("unpriv: and does not change it", setfsuid(-1), 1001);
	CHECK_EQ("unpriv: setfsuid to the real uid", setfsuid(1002), 1001);
	CHECK_EQ("unpriv: fsuid is now the real uid", setfsuid(-1), 1002);
	CHECK_EQ("unpriv: seteuid resets fsuid to the euid", syscall(SYS_setresuid, -1, 1001, -1), 0);
	CHECK_EQ("unpriv: fsuid followed", setfsuid(-1), 1001);

	CHECK_ERR("unpriv: setgroups without CAP_SETGID", syscall(SYS_setgroups, 0, NULL), EPERM);
	CHECK_ERR("unpriv: setresgid to a foreign gid", sys3(SYS_setresgid, 5, -1, -1), EPERM);
	CHECK_ERR("unpriv: setgid to a foreign gid", syscall(SYS_setgid, 5), EPERM);
	CHECK_EQ("unpriv: setgid to the real gid", syscall(SYS_setgid, 0), 0);
	CHECK_EQ("unpriv: setfsgid to a foreign gid is refused", setfsgid(5), 0);
	CHECK_EQ("unpriv: fsgid unchanged", setfsgid(-1), 0);
}

static void groups(void)
{
	gid_t in[3] = {5, 3, 3}, out[8] = {0};
	CHECK_EQ("groups: setgroups(3)", setgroups(3, in), 0);
	CHECK_EQ("groups: getgroups(0) counts", getgroups(0, NULL), 3);
	CHECK_ERR("groups: getgroups with a short buffer", getgroups(1, out), EINVAL);
	CHECK_ERR("groups: getgroups(-1)", syscall(SYS_getgroups, -1, out), EINVAL);
	CHECK_EQ("groups: getgroups(8)", getgroups(8, out), 3);
	CHECK("groups: sorted as Linux keeps them", out[0] == 3 && out[1] == 3 && out[2] == 5);
	CHECK_ERR("groups: more than NGROUPS_MAX", syscall(SYS_setgroups, 65537, in), EINVAL);
	CHECK_ERR("groups: negative size", syscall(SYS_setgroups, -1, in), EINVAL);
	CHECK_ERR("groups: NGROUPS_MAX from a bad pointer", syscall(SYS_setgroups, 65536, NULL), EFAULT);
	CHECK_ERR("groups: bad getgroups pointer", syscall(SYS_getgroups, 8, (void *)8), EFAULT);
	CHECK_EQ("groups: setgroups(0)", setgroups(0, NULL), 0);
	CHECK_EQ("groups: now empty", getgroups(0, NULL), 0);
}

static void gids(void)
{
	CHECK_EQ("gid: setresgid(10, 20, 30)", sys3(SYS_setresgid, 10, 20, 30), 0);
	CHECK("gid: ids are 10/20/30", res_gid_is(10, 20, 30));
	CHECK_EQ("gid: fsgid followed egid", setfsgid(-1), 20);
	CHECK_EQ("gid: setregid(20, 30)", syscall(SYS_setregid, 20, 30), 0);
	CHECK("gid: saved = new egid", res_gid_is(20, 30, 30));
	CHECK_EQ("gid: privileged setgid sets all three", syscall(SYS_setgid, 40), 0);
	CHECK("gid: ids are 40/40/40", res_gid_is(40, 40, 40));
	CHECK_ERR("gid: setgid(-1)", syscall(SYS_setgid, -1), EINVAL);

	/* Without CAP_SETGID (drop root): only own gids. */
	CHECK_EQ("gid: setresgid(1, 2, 3)", sys3(SYS_setresgid, 1, 2, 3), 0);
	CHECK_EQ("gid: drop root", sys3(SYS_setresuid, 1000, 1000, 1000), 0);
	CHECK_EQ("gid: setresgid permutation", sys3(SYS_setresgid, 3, 1, 2), 0);
	CHECK("gid: ids are 3/1/2", res_gid_is(3, 1, 2));
	CHECK_ERR("gid: foreign gid", sys3(SYS_setresgid, -1, 4, -1), EPERM);
	CHECK_ERR("gid: setregid real := saved", syscall(SYS_setregid, 2, -1), EPERM);
	CHECK_EQ("gid: setregid(-1, saved)", syscall(SYS_setregid, -1, 2), 0);
	CHECK("gid: euid change to saved updates saved", res_gid_is(3, 2, 2));
}

int main(void)
{
	in_child("root_saved", root_saved);
	in_child("unprivileged", unprivileged);
	in_child("groups", groups);
	in_child("gids", gids);
	return check_done();
}
