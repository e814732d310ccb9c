/* creds_caps: capabilities. capget/capset with the three header versions,
 * the capset rules, the capability effects of uid changes (with and
 * without SECBIT_KEEP_CAPS / PR_SET_KEEPCAPS, and of fsuid changes), the
 * bounding set, ambient capabilities, securebits, and the transformation
 * of the sets across execve for root and non-root.
 *
 * Each scenario runs in a forked child. Every child first drops
 * CAP_SYS_RESOURCE from all of its sets, so that the starting point is the
 * same natively (where the test's container may lack it) and in the
 * sandbox. Execve scenarios re-run this program with "report", which
 * prints the capability sets it started with. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

typedef unsigned long long u64;

struct caps {
	u64 e, p, i;
};

static char *self;

static int capget_v(unsigned version, int pid, struct __user_cap_data_struct *d)
{
	struct __user_cap_header_struct h = {version, pid};
	return syscall(SYS_capget, &h, d);
}

static struct caps getcaps(void)
{
	struct __user_cap_data_struct d[2] = {{0}};
	struct caps c = {0};
	if (capget_v(_LINUX_CAPABILITY_VERSION_3, 0, d) == 0) {
		c.e = d[0].effective | (u64)d[1].effective << 32;
		c.p = d[0].permitted | (u64)d[1].permitted << 32;
		c.i = d[0].inheritable | (u64)d[1].inheritable << 32;
	}
	return c;
}

static int setcaps(struct caps c)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(unsigned)c.e, (unsigned)c.p, (unsigned)c.i},
		{(unsigned)(c.e >> 32), (unsigned)(c.p >> 32), (unsigned)(c.i >> 32)},
	};
	return syscall(SYS_capset, &h, d);
}

#define BIT(c) (1ULL << (c))
#define FS_MASK (BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_FOWNER) | \
		 BIT(CAP_FSETID) | BIT(CAP_LINUX_IMMUTABLE) | BIT(CAP_MKNOD) | BIT(CAP_MAC_OVERRIDE))

static void normalize(void)
{
	prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
	struct caps c = getcaps();
	c.e &= ~BIT(CAP_SYS_RESOURCE);
	c.p &= ~BIT(CAP_SYS_RESOURCE);
	c.i &= ~BIT(CAP_SYS_RESOURCE);
	if (setcaps(c) != 0)
		check_fail("normalize", "capset: %s", check_errname(errno));
}

static void in_child(const char *name, void (*fn)(void)) { check_in_child(name, normalize, fn); }

static void versions(void)
{
	struct __user_cap_data_struct d[2] = {{0}}, d1[2] = {{0}};
	struct __user_cap_header_struct h = {0x12345678, 0};
	CHECK_EQ("version probe with NULL data succeeds", syscall(SYS_capget, &h, NULL), 0);
	CHECK_EQ("probe wrote the preferred version", h.version, _LINUX_CAPABILITY_VERSION_3);
	h.version = 0x12345678;
	CHECK_ERR("bad version with data is EINVAL", syscall(SYS_capget, &h, d), EINVAL);
	CHECK_EQ("and wrote the preferred version", h.version, _LINUX_CAPABILITY_VERSION_3);
	h.version = 0x12345678;
	CHECK_ERR("capset with a bad version is EINVAL", syscall(SYS_capset, &h, d), EINVAL);
	CHECK_EQ("capset wrote the preferred version", h.version, _LINUX_CAPABILITY_VERSION_3);

	CHECK_EQ("capget v3", capget_v(_LINUX_CAPABILITY_VERSION_3, 0, d), 0);
	d1[1].effective = 0xdead;
	CHECK_EQ("capget v1", capget_v(_LINUX_CAPABILITY_VERSION_1, 0, d1), 0);
	CHECK("v1 matches v3's low word", d1[0].effective == d[0].effective && d1[0].permitted == d[0].permitted);
	CHECK_EQ("v1 writes only one word", d1[1].effective, 0xdead);
	CHECK_EQ("capget v2", capget_v(_LINUX_CAPABILITY_VERSION_2, 0, d1), 0);
	CHECK("v2 matches v3", d1[1].permitted == d[1].permitted && d1[0].effective == d[0].effective);
	CHECK_EQ("capget of own pid", capget_v(_LINUX_CAPABILITY_VERSION_3, getpid(), d1), 0);
	CHECK_ERR("capget pid -1", capget_v(_LINUX_CAPABILITY_VERSION_3, -1, d1), EINVAL);
	CHECK_ERR("capget bad data pointer", capget_v(_LINUX_CAPABILITY_VERSION_3, 0, (void *)8), EFAULT);
	CHECK_ERR("capget bad header pointer", syscall(SYS_capget, (void *)8, d1), EFAULT);

	struct caps c = getcaps();
	CHECK("root has effective = permitted", c.e == c.p && c.p != 0);
	CHECK_EQ("root has an empty inheritable set", c.i, 0);
	CHECK("CAP_SYS_RESOURCE is gone after normalizing", !(c.p & BIT(CAP_SYS_RESOURCE)));

	/* capset on another process is EPERM. */
	struct __user_cap_header_struct hp = {_LINUX_CAPABILITY_VERSION_3, getppid()};
	CHECK_EQ("capget parent", syscall(SYS_capget, &hp, d1), 0);
	CHECK_ERR("capset on the parent is EPERM", syscall(SYS_capset, &hp, d1), EPERM);
	/* Version 1 capset clears capabilities 32 and up. */
	h.version = _LINUX_CAPABILITY_VERSION_1;
	h.pid = 0;
	d1[0] = d[0];
	CHECK_EQ("capset v1", syscall(SYS_capset, &h, d1), 0);
	c = getcaps();
	CHECK("v1 capset cleared the high words", (c.p >> 32) == 0 && (c.e >> 32) == 0);
	CHECK("and kept the low words", (unsigned)c.p == d[0].permitted);
}

static void capset_rules(void)
{
	struct caps c = getcaps(), o = c;
	c.e |= BIT(CAP_SYS_RESOURCE);
	CHECK_ERR("effective outside permitted", setcaps(c), EPERM);
	c = o;
	c.p |= BIT(CAP_SYS_RESOURCE);
	CHECK_ERR("permitted cannot grow", setcaps(c), EPERM);
	c = o;
	c.p &= ~BIT(CAP_NET_RAW);
	c.e &= ~BIT(CAP_NET_RAW);
	CHECK_EQ("drop CAP_NET_RAW", setcaps(c), 0);
	CHECK("it is gone", !(getcaps().p & BIT(CAP_NET_RAW)));
	c.p |= BIT(CAP_NET_RAW);
	CHECK_ERR("and cannot come back", setcaps(c), EPERM);
	c.p &= ~BIT(CAP_NET_RAW);
	c.i = BIT(CAP_NET_RAW);
	CHECK_EQ("with CAP_SETPCAP inheritable may hold a non-permitted cap", setcaps(c), 0);
	c.i = BIT(CAP_NET_RAW) | BIT(CAP_SYS_RESOURCE);
	CHECK_ERR("but not one outside the bounding set", setcaps(c), EPERM);
	c.i = 0;
	c.e &= ~BIT(CAP_SETPCAP);
	CHECK_EQ("drop CAP_SETPCAP from effective", setcaps(c), 0);
	c.i = BIT(CAP_NET_RAW);
	CHECK_ERR("without it, inheritable is capped by permitted", setcaps(c), EPERM);
	c.i = BIT(CAP_NET_ADMIN);
	CHECK_EQ("a permitted cap may be made inheritable", setcaps(c), 0);
	CHECK_EQ("inheritable set", getcaps().i, BIT(CAP_NET_ADMIN));
}

static void setuid_drop(void)
{
	CHECK_EQ("setresuid(1000, 1000, 1000)", syscall(SYS_setresuid, 1000, 1000, 1000), 0);
	struct caps c = getcaps();
	CHECK("leaving uid 0 clears effective and permitted", c.e == 0 && c.p == 0);
	CHECK_EQ("PR_GET_KEEPCAPS is 0", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0);
	CHECK_ERR("no way back", syscall(SYS_setresuid, 0, 0, 0), EPERM);
}

static void keepcaps(void)
{
	struct caps o = getcaps();
	CHECK_EQ("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0);
	CHECK_EQ("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1);
	CHECK_ERR("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL);
	CHECK_EQ("securebits show SECBIT_KEEP_CAPS", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), SECBIT_KEEP_CAPS);
	CHECK_EQ("setresuid(1000, 1000, 1000)", syscall(SYS_setresuid, 1000, 1000, 1000), 0);
	struct caps c = getcaps();
	CHECK("permitted kept", c.p == o.p);
	CHECK_EQ("effective cleared", c.e, 0);
	c.e = c.p;
	CHECK_EQ("re-raise effective from permitted", setcaps(c), 0);
	CHECK_EQ("now setresuid(0, 0, 0) works", syscall(SYS_setresuid, 0, 0, 0), 0);
}

static void euid_only(void)
{
	struct caps o = getcaps();
	CHECK_EQ("seteuid(1000)", syscall(SYS_setresuid, -1, 1000, -1), 0);
	struct caps c = getcaps();
	CHECK("effective cleared, permitted kept", c.e == 0 && c.p == o.p);
	CHECK_EQ("seteuid(0)", syscall(SYS_setresuid, -1, 0, -1), 0);
	CHECK("effective = permitted again", getcaps().e == o.p);
}

static void fsuid(void)
{
	struct caps o = getcaps();
	CHECK_EQ("setfsuid(1000) returns 0", setfsuid(1000), 0);
	CHECK("fs capabilities left the effective set", getcaps().e == (o.e & ~FS_MASK));
	CHECK("permitted unchanged", getcaps().p == o.p);
	CHECK_EQ("setfsuid(0) returns 1000", setfsuid(0), 1000);
	CHECK("fs capabilities are back", getcaps().e == o.e);
}

static void no_setuid_fixup(void)
{
	struct caps o = getcaps();
	CHECK_EQ("SECBIT_NO_SETUID_FIXUP", prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0), 0);
	CHECK_EQ("setresuid(1000, 1000, 1000)", syscall(SYS_setresuid, 1000, 1000, 1000), 0);
	struct caps c = getcaps();
	CHECK("capabilities unchanged", c.e == o.e && c.p == o.p);
}

static void securebits(void)
{
	CHECK_EQ("securebits start at 0", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), 0);
	int bits = SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED;
	CHECK_EQ("set KEEP_CAPS and lock it", prctl(PR_SET_SECUREBITS, bits, 0, 0, 0), 0);
	CHECK_EQ("read back", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0), bits);
	CHECK_ERR("locked KEEP_CAPS cannot be cleared by PR_SET_KEEPCAPS", prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), EPERM);
	CHECK_ERR("a locked bit cannot change", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0), EPERM);
	CHECK_ERR("a lock cannot be undone", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0), EPERM);
	CHECK_EQ("other bits still change", prctl(PR_SET_SECUREBITS, bits | SECBIT_NOROOT, 0, 0, 0), 0);
	struct caps c = getcaps();
	c.e &= ~BIT(CAP_SETPCAP);
	CHECK_EQ("drop CAP_SETPCAP", setcaps(c), 0);
	CHECK_ERR("securebits need CAP_SETPCAP", prctl(PR_SET_SECUREBITS, bits, 0, 0, 0), EPERM);
}

static void bounding(void)
{
	CHECK_EQ("CAP_NET_RAW is in the bounding set", prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0), 1);
	CHECK_EQ("CAP_SYS_RESOURCE is not (normalized)", prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0), 0);
	CHECK_ERR("read of cap 64", prctl(PR_CAPBSET_READ, 64, 0, 0, 0), EINVAL);
	CHECK_ERR("read of cap -1", prctl(PR_CAPBSET_READ, -1L, 0, 0, 0), EINVAL);
	struct caps c = getcaps();
	c.i = BIT(CAP_NET_RAW);
	CHECK_EQ("make CAP_NET_RAW inheritable", setcaps(c), 0);
	CHECK_EQ("drop CAP_NET_RAW", prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0), 0);
	CHECK_EQ("gone from the bounding set", prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0), 0);
	CHECK("still permitted", getcaps().p & BIT(CAP_NET_RAW));
	CHECK("still inheritable", getcaps().i & BIT(CAP_NET_RAW));
	CHECK_ERR("drop of cap 64", prctl(PR_CAPBSET_DROP, 64, 0, 0, 0), EINVAL);
	CHECK_EQ("inheritable may keep a cap outside the bounding set", setcaps(c), 0);
	c.i = 0;
	CHECK_EQ("drop it from inheritable", setcaps(c), 0);
	c.i = BIT(CAP_NET_RAW);
	CHECK_ERR("and it cannot be added back", setcaps(c), EPERM);
	c.i = 0;
	c.e &= ~BIT(CAP_SETPCAP);
	CHECK_EQ("drop CAP_SETPCAP", setcaps(c), 0);
	CHECK_ERR("dropping needs CAP_SETPCAP", prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), EPERM);
	CHECK_ERR("EPERM comes before EINVAL", prctl(PR_CAPBSET_DROP, 64, 0, 0, 0), EPERM);
}

static void ambient(void)
{
	CHECK_EQ("not set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0), 0);
	CHECK_ERR("raise needs inheritable", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0), EPERM);
	struct caps c = getcaps();
	c.i = BIT(CAP_NET_ADMIN) | BIT(CAP_NET_RAW);
	CHECK_EQ("make NET_ADMIN and NET_RAW inheritable", setcaps(c), 0);
	CHECK_EQ("raise NET_ADMIN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0), 0);
	CHECK_EQ("is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0), 1);
	CHECK_EQ("lower", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_NET_ADMIN, 0, 0), 0);
	CHECK_EQ("not set after lower", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0), 0);
	CHECK_EQ("raise both", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) |
				       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0), 0);
	CHECK_EQ("clear all", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), 0);
	CHECK_EQ("cleared", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0), 0);
	CHECK_ERR("clear all with arg3", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0), EINVAL);
	CHECK_ERR("bad cap", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 64, 0, 0), EINVAL);
	CHECK_ERR("arg4 set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 1, 0), EINVAL);
	CHECK_ERR("bad op", prctl(PR_CAP_AMBIENT, 9, CAP_NET_RAW, 0, 0), EINVAL);

	CHECK_EQ("raise NET_RAW again", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0), 0);
	c.i = BIT(CAP_NET_ADMIN);
	CHECK_EQ("drop NET_RAW from inheritable", setcaps(c), 0);
	CHECK_EQ("ambient lost it", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0), 0);

	CHECK_EQ("raise NET_ADMIN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0), 0);
	CHECK_EQ("keep caps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0);
	CHECK_EQ("setresuid(1000, 1000, 1000)", syscall(SYS_setresuid, 1000, 1000, 1000), 0);
	CHECK_EQ("leaving root clears ambient even with KEEPCAPS",
		 prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0), 0);
	c = getcaps();
	CHECK("permitted kept", c.p & BIT(CAP_NET_ADMIN));
	CHECK_EQ("re-raise works as non-root", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0), 0);
}

static void ambient_secbit(void)
{
	struct caps c = getcaps();
	c.i = BIT(CAP_NET_ADMIN);
	CHECK_EQ("make NET_ADMIN inheritable", setcaps(c), 0);
	CHECK_EQ("SECBIT_NO_CAP_AMBIENT_RAISE", prctl(PR_SET_SECUREBITS, SECBIT_NO_CAP_AMBIENT_RAISE, 0, 0, 0), 0);
	CHECK_ERR("raise is refused", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0), EPERM);
}

/* run_report execs this program with "report" and a tag. */
static void run_report(const char *tag)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "report", tag, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK_EQ(tag, status, 0);
}

static int report(const char *tag)
{
	struct caps c = getcaps();
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	printf("%s: uid %u/%u/%u P=%#llx E=%#llx I=%#llx keepcaps=%d amb_net_admin=%d\n", tag, r, e, s,
	       c.p, c.e, c.i, prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0),
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_ADMIN, 0, 0));
	return 0;
}

static void exec_nonroot(void)
{
	struct caps c = getcaps();
	c.i = BIT(CAP_NET_ADMIN) | BIT(CAP_NET_RAW);
	setcaps(c);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0);
	prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
	CHECK_EQ("become uid 1000", syscall(SYS_setresuid, 1000, 1000, 1000), 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0);
	run_report("exec as 1000 with ambient NET_ADMIN");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	run_report("exec as 1000 without ambient");
}

static void exec_root(void)
{
	struct caps o = getcaps();
	struct caps c = o;
	c.p &= ~BIT(CAP_NET_RAW);
	c.e &= ~BIT(CAP_NET_RAW);
	setcaps(c);
	prctl(PR_CAPBSET_DROP, CAP_MKNOD, 0, 0, 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "root-report", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK_EQ("root exec", status, 0);
}

static int root_report(void)
{
	struct caps c = getcaps();
	u64 want = c.p; /* bounding set as read below */
	u64 b = 0;
	for (int i = 0; i <= 63; i++)
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			b |= BIT(i);
	printf("root exec: P == bounding %d, E == P %d, NET_RAW regained %d, MKNOD absent %d\n",
	       want == b, c.e == c.p, !!(c.p & BIT(CAP_NET_RAW)), !(c.p & BIT(CAP_MKNOD)));
	return 0;
}

static void exec_real_root_only(void)
{
	CHECK_EQ("seteuid(1000) keeping real 0", syscall(SYS_setresuid, 0, 1000, 1000), 0);
	run_report("exec with real uid 0, euid 1000");
}

static void exec_noroot(void)
{
	CHECK_EQ("SECBIT_NOROOT", prctl(PR_SET_SECUREBITS, SECBIT_NOROOT, 0, 0, 0), 0);
	run_report("exec as root with SECBIT_NOROOT");
}

static void exec_nnp(void)
{
	struct caps c = getcaps();
	c.p &= ~BIT(CAP_NET_RAW);
	c.e &= ~BIT(CAP_NET_RAW);
	setcaps(c);
	CHECK_EQ("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "nnp-report", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK_EQ("nnp exec", status, 0);
}

static int nnp_report(void)
{
	struct caps c = getcaps();
	printf("nnp exec: NET_RAW regained %d, E == P %d, nnp %d\n", !!(c.p & BIT(CAP_NET_RAW)), c.e == c.p,
	       prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	return 0;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc == 3 && strcmp(argv[1], "report") == 0)
		return report(argv[2]);
	if (argc == 2 && strcmp(argv[1], "root-report") == 0)
		return root_report();
	if (argc == 2 && strcmp(argv[1], "nnp-report") == 0)
		return nnp_report();

	in_child("versions", versions);
	in_child("capset_rules", capset_rules);
	in_child("setuid_drop", setuid_drop);
	in_child("keepcaps", keepcaps);
	in_child("euid_only", euid_only);
	in_child("fsuid", fsuid);
	in_child("no_setuid_fixup", no_setuid_fixup);
	in_child("securebits", securebits);
	in_child("bounding", bounding);
	in_child("ambient", ambient);
	in_child("ambient_secbit", ambient_secbit);
	in_child("exec_nonroot", exec_nonroot);
	in_child("exec_root", exec_root);
	in_child("exec_real_root_only", exec_real_root_only);
	in_child("exec_noroot", exec_noroot);
	in_child("exec_nnp", exec_nnp);
	return check_done();
}
