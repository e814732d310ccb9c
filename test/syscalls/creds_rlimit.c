/* creds_rlimit: getrlimit/setrlimit/prlimit64 rules and their enforcement:
 * RLIMIT_NOFILE in the descriptor table (EMFILE, dup2's EBADF, F_DUPFD's
 * EINVAL), RLIMIT_AS in mmap/mremap/brk (ENOMEM), prlimit64 on a child,
 * and the permission rules (raising a hard limit needs CAP_SYS_RESOURCE,
 * another user's process is EPERM, nr_open bounds RLIMIT_NOFILE).
 *
 * Initial limits differ between the native run (inherited from the
 * runner) and the sandbox, so only relations are printed. Each scenario
 * runs in a forked child that first drops CAP_SYS_RESOURCE, which the
 * native test may lack. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MB (1UL << 20)

static void drop_sys_resource(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
	d[0].permitted &= ~(1u << CAP_SYS_RESOURCE);
	syscall(SYS_capset, &h, d);
}

static void in_child(const char *name, void (*fn)(void)) { check_in_child(name, drop_sys_resource, fn); }

static int prl(pid_t pid, int res, const struct rlimit *n, struct rlimit *o)
{
	return syscall(SYS_prlimit64, pid, res, n, o);
}

static void nofile(void)
{
	struct rlimit old, l;
	getrlimit(RLIMIT_NOFILE, &old);
	l.rlim_cur = 16;
	l.rlim_max = old.rlim_max;
	CHECK_EQ("lower the soft limit to 16", setrlimit(RLIMIT_NOFILE, &l), 0);
	int fd, last = -1;
	while ((fd = dup(0)) >= 0)
		last = fd;
	int e = errno;
	CHECK_EQ("dup stops with EMFILE", e, EMFILE);
	CHECK_EQ("the last descriptor is 15", last, 15);
	CHECK_ERR("open is EMFILE", open("/dev/null", O_RDONLY), EMFILE);
	int p[2];
	CHECK_ERR("pipe is EMFILE", pipe(p), EMFILE);
	CHECK_ERR("dup2 to 16 is EBADF", dup2(0, 16), EBADF);
	CHECK_EQ("dup2 to 15 replaces it", dup2(0, 15), 15);
	CHECK_ERR("F_DUPFD from 16 is EINVAL", fcntl(0, F_DUPFD, 16), EINVAL);
	CHECK_ERR("F_DUPFD from 3 is EMFILE", fcntl(0, F_DUPFD, 3), EMFILE);
	close(10);
	CHECK_EQ("a freed slot is reused", dup(0), 10);
	l.rlim_cur = 64;
	CHECK_EQ("raise the soft limit to 64", setrlimit(RLIMIT_NOFILE, &l), 0);
	CHECK_EQ("dup works again", dup(0), 16);
	CHECK_EQ("dup2 to 63", dup2(0, 63), 63);
	CHECK_ERR("dup2 to 64", dup2(0, 64), EBADF);

	l.rlim_cur = 65;
	l.rlim_max = 64;
	CHECK_ERR("soft above hard is EINVAL", setrlimit(RLIMIT_NOFILE, &l), EINVAL);
	l.rlim_cur = l.rlim_max = 1048577;
	CHECK_ERR("hard above nr_open is EPERM", setrlimit(RLIMIT_NOFILE, &l), EPERM);
	l.rlim_cur = l.rlim_max = 64;
	CHECK_EQ("lower the hard limit", setrlimit(RLIMIT_NOFILE, &l), 0);
	l.rlim_max = 128;
	CHECK_ERR("raising it needs CAP_SYS_RESOURCE", setrlimit(RLIMIT_NOFILE, &l), EPERM);
	getrlimit(RLIMIT_NOFILE, &l);
	CHECK("limit unchanged", l.rlim_cur == 64 && l.rlim_max == 64);

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		getrlimit(RLIMIT_NOFILE, &l);
		int r = dup2(0, 64);
		_exit(l.rlim_cur == 64 && l.rlim_max == 64 && r < 0 && errno == EBADF ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("fork inherits the limit and its enforcement", status, 0);
}

static void invalid(void)
{
	struct rlimit l;
	CHECK_ERR("getrlimit(16)", getrlimit(16, &l), EINVAL);
	CHECK_ERR("getrlimit(-1)", syscall(SYS_getrlimit, -1, &l), EINVAL);
	CHECK_ERR("getrlimit bad pointer", syscall(SYS_getrlimit, RLIMIT_NOFILE, (void *)8), EFAULT);
	getrlimit(RLIMIT_CORE, &l);
	CHECK_ERR("setrlimit(16)", setrlimit(16, &l), EINVAL);
	CHECK_ERR("setrlimit bad pointer checked first", syscall(SYS_setrlimit, 16, (void *)8), EFAULT);
	CHECK_ERR("prlimit64(16)", prl(0, 16, NULL, &l), EINVAL);
	CHECK_EQ("prlimit64 with neither pointer", prl(0, RLIMIT_CORE, NULL, NULL), 0);
	struct rlimit o;
	CHECK_EQ("prlimit64 self get", prl(0, RLIMIT_CORE, NULL, &o), 0);
	CHECK("matches getrlimit", o.rlim_cur == l.rlim_cur && o.rlim_max == l.rlim_max);
	CHECK_EQ("prlimit64 of own pid", prl(getpid(), RLIMIT_CORE, NULL, &o), 0);
}

static void address_space(void)
{
	struct rlimit old, l;
	getrlimit(RLIMIT_AS, &old);
	l.rlim_cur = 256 * MB;
	l.rlim_max = old.rlim_max;
	CHECK_EQ("RLIMIT_AS 256 MiB", setrlimit(RLIMIT_AS, &l), 0);
	void *p = mmap(NULL, 512 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int e = errno;
	CHECK("mmap of 512 MiB is ENOMEM", p == MAP_FAILED && e == ENOMEM);
	char *q = CHECK_MAP("mmap of 16 MiB", mmap(NULL, 16 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	p = mremap(q, 16 * MB, 512 * MB, MREMAP_MAYMOVE);
	e = errno;
	CHECK("mremap growth past the limit is ENOMEM", p == MAP_FAILED && e == ENOMEM);
	q = CHECK_MAP("mremap to 32 MiB", mremap(q, 16 * MB, 32 * MB, MREMAP_MAYMOVE));
	CHECK_MAP("MAP_FIXED over it does not grow", mmap(q, 32 * MB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	errno = 0;
	p = sbrk(512 * MB);
	e = errno;
	CHECK("brk past the limit is ENOMEM", p == (void *)-1 && e == ENOMEM);
	CHECK("brk within it works", sbrk(MB) != (void *)-1);
	l.rlim_cur = old.rlim_max;
	CHECK_EQ("lift the soft limit", setrlimit(RLIMIT_AS, &l), 0);
	CHECK_MAP("now 512 MiB maps", mmap(NULL, 512 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
}

static void other_process(void)
{
	int go[2];
	REQUIRE("pipe", pipe(go) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char b;
		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(2);
		struct rlimit l;
		getrlimit(RLIMIT_NOFILE, &l);
		if (l.rlim_cur != 20 || l.rlim_max != 30)
			_exit(3);
		if (dup2(0, 20) >= 0 || errno != EBADF || dup2(0, 19) != 19)
			_exit(4);
		_exit(0);
	}
	close(go[0]);
	struct rlimit mine, old, n = {20, 30}, cur;
	getrlimit(RLIMIT_NOFILE, &mine);
	CHECK_EQ("prlimit64 sets a child's limit", prl(pid, RLIMIT_NOFILE, &n, &old), 0);
	CHECK("and returns the old one (ours, inherited)", old.rlim_cur == mine.rlim_cur && old.rlim_max == mine.rlim_max);
	CHECK_EQ("prlimit64 reads it", prl(pid, RLIMIT_NOFILE, NULL, &cur), 0);
	CHECK("as set", cur.rlim_cur == 20 && cur.rlim_max == 30);
	n.rlim_cur = 31;
	CHECK_ERR("soft above hard on a child", prl(pid, RLIMIT_NOFILE, &n, NULL), EINVAL);
	CHECK_ERR("bad resource on a child", prl(pid, 99, NULL, &cur), EINVAL);
	n.rlim_cur = 20;
	n.rlim_max = 40;
	CHECK_ERR("raising the child's hard limit needs CAP_SYS_RESOURCE", prl(pid, RLIMIT_NOFILE, &n, NULL), EPERM);
	char b = 1;
	CHECK_EQ("let the child check", write(go[1], &b, 1), 1);
	int status;
	waitpid(pid, &status, 0);
	CHECK_EQ("the child saw and enforced the new limit", status, 0);
	CHECK_ERR("prlimit64 on a reaped child is ESRCH", prl(pid, RLIMIT_NOFILE, NULL, &cur), ESRCH);
	CHECK_ERR("prlimit64 bad new pointer", prl(0, RLIMIT_NOFILE, (void *)8, NULL), EFAULT);
	CHECK_ERR("prlimit64 bad old pointer", prl(0, RLIMIT_NOFILE, NULL, (void *)8), EFAULT);
}

static void unprivileged(void)
{
	pid_t parent = getppid();
	CHECK_EQ("become uid 1000", syscall(SYS_setresuid, 1000, 1000, 1000), 0);
	struct rlimit l;
	CHECK_ERR("prlimit64 on root's process is EPERM", prl(parent, RLIMIT_NOFILE, NULL, &l), EPERM);
	CHECK_EQ("own limits are fine", prl(0, RLIMIT_NOFILE, NULL, &l), 0);
	int go[2];
	REQUIRE("pipe", pipe(go) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char b;
		close(go[1]);
		_exit(read(go[0], &b, 1) == 1 ? 0 : 1);
	}
	close(go[0]);
	CHECK_EQ("prlimit64 on own child (same ids)", prl(pid, RLIMIT_NOFILE, NULL, &l), 0);
	l.rlim_max = l.rlim_cur;
	CHECK_EQ("lower its hard limit", prl(pid, RLIMIT_NOFILE, &l, NULL), 0);
	l.rlim_max++;
	CHECK_ERR("and not raise it", prl(pid, RLIMIT_NOFILE, &l, NULL), EPERM);
	close(go[1]);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	in_child("nofile", nofile);
	in_child("invalid", invalid);
	in_child("address_space", address_space);
	in_child("other_process", other_process);
	in_child("unprivileged", unprivileged);
	return check_done();
}
