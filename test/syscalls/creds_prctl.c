/* creds_prctl: prctl options for names, the parent-death signal,
 * dumpability, keepcaps, no_new_privs, child subreaper, timer slack,
 * the tid address and PR_SET_MM's clean failure; unknown options.
 *
 * Scenarios that change sticky state run in forked children. */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char *self;

static void in_child(const char *name, void (*fn)(void)) { check_in_child(name, NULL, fn); }

/* drop_sys_resource removes CAP_SYS_RESOURCE, which the native test may
 * lack, so that both runs see the same thing. */
static void drop_sys_resource(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
	d[0].permitted &= ~(1u << CAP_SYS_RESOURCE);
	syscall(SYS_capset, &h, d);
}

static void name(void)
{
	char buf[32];
	CHECK_EQ("PR_SET_NAME", prctl(PR_SET_NAME, "abcdefghijklmnopqrstuvwxyz", 0, 0, 0), 0);
	memset(buf, 'x', sizeof(buf));
	CHECK_EQ("PR_GET_NAME", prctl(PR_GET_NAME, buf, 0, 0, 0), 0);
	CHECK("name is cut to 15 bytes", strcmp(buf, "abcdefghijklmno") == 0);
	CHECK_EQ("PR_GET_NAME writes 16 bytes only", buf[16], 'x');
	CHECK_EQ("PR_SET_NAME short", prctl(PR_SET_NAME, "t1", 0, 0, 0), 0);
	prctl(PR_GET_NAME, buf, 0, 0, 0);
	CHECK("short name", strcmp(buf, "t1") == 0);
	CHECK_ERR("PR_SET_NAME bad pointer", prctl(PR_SET_NAME, (void *)8, 0, 0, 0), EFAULT);
	CHECK_ERR("PR_GET_NAME bad pointer", prctl(PR_GET_NAME, (void *)8, 0, 0, 0), EFAULT);
}

static void pdeathsig(void)
{
	int sig = -1;
	CHECK_EQ("PR_GET_PDEATHSIG starts at 0", prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0), 0);
	CHECK_EQ("value 0", sig, 0);
	CHECK_EQ("PR_SET_PDEATHSIG SIGUSR1", prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0), 0);
	prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
	CHECK_EQ("reads back", sig, SIGUSR1);
	CHECK_ERR("signal 65", prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0), EINVAL);
	CHECK_ERR("signal -1", prctl(PR_SET_PDEATHSIG, -1L, 0, 0, 0), EINVAL);
	CHECK_EQ("signal 64 is valid", prctl(PR_SET_PDEATHSIG, 64, 0, 0, 0), 0);
	CHECK_ERR("PR_GET_PDEATHSIG bad pointer", prctl(PR_GET_PDEATHSIG, (void *)8, 0, 0, 0), EFAULT);
	prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int s = -1;
		prctl(PR_GET_PDEATHSIG, &s, 0, 0, 0);
		_exit(s == 0 ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("fork clears it in the child", status, 0);
	CHECK_EQ("a uid change clears it", syscall(SYS_setresuid, -1, 1000, -1), 0);
	prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
	CHECK_EQ("cleared", sig, 0);
}

static void dumpable(void)
{
	CHECK_EQ("dumpable starts at 1", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	CHECK_EQ("set 0", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), 0);
	CHECK_EQ("reads 0", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	CHECK_ERR("set 2", prctl(PR_SET_DUMPABLE, 2, 0, 0, 0), EINVAL);
	CHECK_EQ("set 1", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
	CHECK_EQ("reads 1", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	CHECK_EQ("setgid to another gid", syscall(SYS_setresgid, -1, 5, -1), 0);
	CHECK_EQ("an egid change makes it undumpable", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	CHECK_EQ("set 1 again", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
	CHECK_EQ("setgroups does not", syscall(SYS_setgroups, 0, NULL), 0);
	CHECK_EQ("still 1", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
}

static void dumpable_exec(void)
{
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "report", "exec resets dumpable", (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("exec", status, 0);
	syscall(SYS_setresuid, -1, 1000, -1);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "report", "exec with euid != uid", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	CHECK_EQ("exec", status, 0);
}

static void keepcaps(void)
{
	CHECK_EQ("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0);
	CHECK_EQ("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0);
	CHECK_EQ("reads 1", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 1);
	CHECK_ERR("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1 ? 0 : 1);
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("fork inherits it", status, 0);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "report", "exec clears keepcaps", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	CHECK_EQ("exec", status, 0);
}

static void nnp(void)
{
	CHECK_EQ("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	CHECK_ERR("set with 0", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);
	CHECK_ERR("set with arg3", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL);
	CHECK_ERR("get with arg2", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL);
	CHECK_EQ("set", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	CHECK_EQ("reads 1", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
	CHECK_EQ("set again", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	CHECK_ERR("cannot be cleared", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("fork inherits it", status, 0);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "report", "exec keeps no_new_privs", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	CHECK_EQ("exec", status, 0);
}

static void subreaper(void)
{
	int v = -1;
	CHECK_EQ("PR_GET_CHILD_SUBREAPER", prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0), 0);
	CHECK_EQ("starts at 0", v, 0);
	CHECK_EQ("set", prctl(PR_SET_CHILD_SUBREAPER, 5, 0, 0, 0), 0);
	prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0);
	CHECK_EQ("reads 1", v, 1);
	CHECK_ERR("bad pointer", prctl(PR_GET_CHILD_SUBREAPER, (void *)8, 0, 0, 0), EFAULT);
	CHECK_EQ("clear", prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
	prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0);
	CHECK_EQ("reads 0", v, 0);
}

static void timerslack(void)
{
	int initial = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	CHECK("initial slack is positive", initial > 0);
	CHECK_EQ("set 1000", prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0), 0);
	CHECK_EQ("reads 1000", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), 1000);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 1000;
		prctl(PR_SET_TIMERSLACK, 7000, 0, 0, 0);
		ok = ok && prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 7000;
		/* 0 restores the default, which for a child is the slack its
		 * parent had at fork. */
		prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0);
		ok = ok && prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 1000;
		_exit(ok ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("child inherits it and resets to it", status, 0);
	CHECK_EQ("set 0", prctl(PR_SET_TIMERSLACK, 0, 0, 0, 0), 0);
	CHECK_EQ("restores the initial slack", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), initial);
}

static void tid_address(void)
{
	static int word;
	int *p = NULL;
	syscall(SYS_set_tid_address, &word);
	CHECK_EQ("PR_GET_TID_ADDRESS", prctl(PR_GET_TID_ADDRESS, &p, 0, 0, 0), 0);
	CHECK("is set_tid_address's", p == &word);
	CHECK_ERR("bad pointer", prctl(PR_GET_TID_ADDRESS, (void *)8, 0, 0, 0), EFAULT);
}

static void set_mm(void)
{
	unsigned int size = 0;
	CHECK_ERR("PR_SET_MM with arg5", prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0x400000, 0, 1), EINVAL);
	CHECK_ERR("PR_SET_MM with arg4", prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0x400000, 1, 0), EINVAL);
	CHECK_EQ("PR_SET_MM_MAP_SIZE", prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0), 0);
	CHECK_EQ("struct prctl_mm_map size", size, 104);
	drop_sys_resource();
	CHECK_ERR("PR_SET_MM_START_CODE without CAP_SYS_RESOURCE",
		  prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0x400000, 0, 0), EPERM);
	CHECK_ERR("PR_SET_MM unknown field without CAP_SYS_RESOURCE", prctl(PR_SET_MM, 999, 0x400000, 0, 0), EPERM);
}

static int report(const char *tag)
{
	printf("%s: dumpable %d keepcaps %d nnp %d\n", tag, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
	       prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	return 0;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc == 3 && strcmp(argv[1], "report") == 0)
		return report(argv[2]);
	in_child("name", name);
	in_child("pdeathsig", pdeathsig);
	in_child("dumpable", dumpable);
	in_child("dumpable_exec", dumpable_exec);
	in_child("keepcaps", keepcaps);
	in_child("nnp", nnp);
	in_child("subreaper", subreaper);
	in_child("timerslack", timerslack);
	in_child("tid_address", tid_address);
	in_child("set_mm", set_mm);
	CHECK_ERR("unknown option", prctl(0x7fff, 0, 0, 0, 0), EINVAL);
	CHECK_ERR("PR_CAPBSET_READ 41", prctl(PR_CAPBSET_READ, 41, 0, 0, 0), EINVAL);
	return check_done();
}
