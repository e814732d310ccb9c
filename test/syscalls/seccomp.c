/* seccomp: application seccomp filters (seccomp(2), prctl(PR_SET_SECCOMP)):
 * ERRNO, KILL_PROCESS, KILL_THREAD, TRAP, TRACE/USER_NOTIF without a
 * tracer or listener, LOG, precedence between filters, strict mode, TSYNC,
 * inheritance by fork and across execve, the no_new_privs rule, rejected
 * programs and GET_ACTION_AVAIL/GET_NOTIF_SIZES.
 *
 * Every filter is installed in a forked child so that this process stays
 * usable; the child reports with check.h lines and its exit status. With
 * the argument "exec-check", the program is the image a filtered child
 * execs into, and checks that the filter is still there. */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LD_ARG_LO(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define LD_ARG_HI(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]) + 4)
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define ALLOW RET(SECCOMP_RET_ALLOW)
/* IF_NR(nr, action): return action for syscall nr (A holds the number). */
#define IF_NR(nr, action) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), RET(action)

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of SIGSYS from SECCOMP_RET_TRAP */
#endif

#define N(f) (sizeof(f) / sizeof((f)[0]))

static long install(struct sock_filter *f, unsigned short len, unsigned int flags)
{
	struct sock_fprog prog = { .len = len, .filter = f };
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* filter_one installs "syscall nr returns action, everything else runs". */
static long filter_one(int nr, unsigned int action, unsigned int flags)
{
	struct sock_filter f[] = { LD_NR, IF_NR(nr, action), ALLOW };
	return install(f, N(f), flags);
}

static void no_core(void)
{
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
}

/* child runs fn in a child with no_new_privs set and returns its wait
 * status. */
static int child(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid < 0) {
		check_fail("fork", "%s", check_errname(errno));
		return -1;
	}
	if (pid == 0) {
		check_failures = 0;
		no_core();
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(100);
		fn();
		fflush(stdout);
		_exit(check_failures ? 1 : 0);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		check_fail("waitpid", "%s", check_errname(errno));
	return status;
}

static void check_exited0(const char *name, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		check_ok(name);
	else
		check_fail(name, "child status %#x, want exit 0", status);
}

static void check_killed(const char *name, int status, int sig)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == sig)
		check_ok(name);
	else
		check_fail(name, "child status %#x, want killed by signal %d", status, sig);
}

/* --- ERRNO ------------------------------------------------------------ */

static struct utsname uts_denied, uts_allowed;

static void errno_child(void)
{
	CHECK_EQ("errno: mode before", prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
	CHECK_EQ("errno: install", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0), 0);
	CHECK_EQ("errno: mode filter", prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 2);
	CHECK_ERR("errno: getpid EPERM", syscall(SYS_getpid), EPERM);
	CHECK("errno: getppid still works", syscall(SYS_getppid) > 0);

	/* uname fails only for one buffer: the filter matches the argument. */
	uintptr_t p = (uintptr_t)&uts_denied;
	struct sock_filter f[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_uname, 0, 5),
		LD_ARG_LO(0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)p, 0, 3),
		LD_ARG_HI(0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(p >> 32), 0, 1),
		RET(SECCOMP_RET_ERRNO | EACCES),
		ALLOW,
	};
	CHECK_EQ("errno: install uname filter", install(f, N(f), 0), 0);
	CHECK_ERR("errno: uname(denied buffer) EACCES", uname(&uts_denied), EACCES);
	CHECK_EQ("errno: uname(other buffer) works", uname(&uts_allowed), 0);
	CHECK_ERR("errno: getpid still EPERM", syscall(SYS_getpid), EPERM);

	/* Custom errno, errno capped at 4095, errno 0 is a success. */
	CHECK_EQ("errno: install ENETDOWN", filter_one(SYS_getppid, SECCOMP_RET_ERRNO | ENETDOWN, 0), 0);
	CHECK_ERR("errno: getppid ENETDOWN", syscall(SYS_getppid), ENETDOWN);
	CHECK_EQ("errno: install 5000", filter_one(SYS_getuid, SECCOMP_RET_ERRNO | 5000, 0), 0);
	CHECK_ERR("errno: 5000 is capped at 4095", syscall(SYS_getuid), 4095);
	CHECK_EQ("errno: install 0", filter_one(SYS_getgid, SECCOMP_RET_ERRNO | 0, 0), 0);
	CHECK_EQ("errno: errno 0 returns 0 without running", syscall(SYS_getgid), 0);

	/* The filter sees the raw number: x32 bit and numbers past the table. */
	CHECK_EQ("errno: install x32", filter_one(__X32_SYSCALL_BIT | SYS_getpid, SECCOMP_RET_ERRNO | ENETUNREACH, 0), 0);
	CHECK_ERR("errno: x32 number seen raw", syscall(__X32_SYSCALL_BIT | SYS_getpid), ENETUNREACH);
	CHECK_EQ("errno: install 1000", filter_one(1000, SECCOMP_RET_ERRNO | EHOSTDOWN, 0), 0);
	CHECK_ERR("errno: out-of-table number seen", syscall(1000), EHOSTDOWN);
	CHECK_ERR("errno: other unknown number ENOSYS", syscall(1001), ENOSYS);
}

/* --- precedence, LOG, TRACE, USER_NOTIF -------------------------------- */

static void precedence_child(void)
{
	CHECK_EQ("prec: install EPERM", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0), 0);
	CHECK_EQ("prec: install EACCES", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EACCES, 0), 0);
	CHECK_ERR("prec: newest of equal actions wins", syscall(SYS_getpid), EACCES);
	CHECK_EQ("prec: install TRACE", filter_one(SYS_getpid, SECCOMP_RET_TRACE | 1, 0), 0);
	CHECK_EQ("prec: install LOG", filter_one(SYS_getpid, SECCOMP_RET_LOG, SECCOMP_FILTER_FLAG_LOG), 0);
	CHECK_ERR("prec: ERRNO beats TRACE and LOG", syscall(SYS_getpid), EACCES);

	CHECK_EQ("log: install", filter_one(SYS_getppid, SECCOMP_RET_LOG, 0), 0);
	CHECK("log: syscall runs", syscall(SYS_getppid) > 0);
	CHECK_EQ("trace: install", filter_one(SYS_getuid, SECCOMP_RET_TRACE, 0), 0);
	CHECK_ERR("trace: no tracer is ENOSYS", syscall(SYS_getuid), ENOSYS);
	CHECK_EQ("notif: install", filter_one(SYS_getgid, SECCOMP_RET_USER_NOTIF, 0), 0);
	CHECK_ERR("notif: no listener is ENOSYS", syscall(SYS_getgid), ENOSYS);
	CHECK_EQ("notif: install ERRNO with SPEC_ALLOW", filter_one(SYS_getgid, SECCOMP_RET_ERRNO | EROFS, SECCOMP_FILTER_FLAG_SPEC_ALLOW), 0);
	CHECK_ERR("notif: ERRNO beats USER_NOTIF", syscall(SYS_getgid), EROFS);
}

/* --- KILL_PROCESS, KILL_THREAD ---------------------------------------- */

static void allowlist_child(void)
{
	struct sock_filter f[] = {
		LD_ARCH,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		RET(SECCOMP_RET_KILL_PROCESS),
		LD_NR,
		IF_NR(SYS_write, SECCOMP_RET_ALLOW),
		IF_NR(SYS_exit_group, SECCOMP_RET_ALLOW),
		RET(SECCOMP_RET_KILL_PROCESS),
	};
	if (install(f, N(f), 0) != 0)
		_exit(2);
	static const char msg[] = "ok allowlist: write allowed\n";
	if (write(1, msg, sizeof(msg) - 1) != sizeof(msg) - 1)
		_exit(3);
	syscall(SYS_getpid);
	_exit(4); /* not reached */
}

static int kill_pipe[2];

static void *kill_process_thread(void *arg)
{
	(void)arg;
	syscall(SYS_getppid); /* kills the whole process */
	return NULL;
}

static void kill_process_threaded_child(void)
{
	if (pipe(kill_pipe) != 0 || filter_one(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0) != 0)
		_exit(2);
	pthread_t th;
	if (pthread_create(&th, NULL, kill_process_thread, NULL) != 0)
		_exit(3);
	char c;
	read(kill_pipe[0], &c, 1); /* blocks until the process dies */
	_exit(4);
}

static void kill_thread_single_child(void)
{
	if (filter_one(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0) != 0)
		_exit(2);
	syscall(SYS_getppid);
	_exit(4);
}

static void *kill_thread_thread(void *arg)
{
	(void)arg;
	if (filter_one(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0) != 0)
		return (void *)1;
	syscall(SYS_getppid);
	return (void *)2; /* not reached */
}

static void kill_thread_multi_child(void)
{
	pthread_t th;
	REQUIRE("kill thread: pthread_create", pthread_create(&th, NULL, kill_thread_thread, NULL) == 0);
	void *ret = (void *)-1;
	CHECK_EQ("kill thread: join the killed thread", pthread_join(th, &ret), 0);
	CHECK("kill thread: the other thread lives on", syscall(SYS_getppid) > 0);
}

/* --- TRAP -------------------------------------------------------------- */

static volatile long trap_count, trap_syscall, trap_errno, trap_arch, trap_code, trap_rax;
static void *volatile trap_addr;

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	trap_count++;
	trap_syscall = si->si_syscall;
	trap_arch = si->si_arch;
	trap_errno = si->si_errno;
	trap_code = si->si_code;
	trap_addr = si->si_call_addr;
	trap_rax = uc->uc_mcontext.gregs[REG_RAX];
	uc->uc_mcontext.gregs[REG_RAX] = 4242; /* emulate the syscall */
}

/* syscall_at issues syscall nr and returns its result; *after is the
 * address just past the syscall instruction. */
static long syscall_at(long nr, void **after)
{
	long ret;
	void *lbl;
	__asm__ volatile("lea 1f(%%rip), %1\n\tsyscall\n1:"
			 : "=a"(ret), "=&r"(lbl)
			 : "0"(nr)
			 : "rcx", "r11", "memory");
	*after = lbl;
	return ret;
}

static void trap_child(void)
{
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	REQUIRE("trap: sigaction", sigaction(SIGSYS, &sa, NULL) == 0);
	REQUIRE("trap: install", filter_one(SYS_getppid, SECCOMP_RET_TRAP | 42, 0) == 0);
	void *after = NULL;
	long r = syscall_at(SYS_getppid, &after);
	CHECK_EQ("trap: handler ran once", trap_count, 1);
	CHECK_EQ("trap: si_code SYS_SECCOMP", trap_code, SYS_SECCOMP);
	CHECK_EQ("trap: si_syscall", trap_syscall, SYS_getppid);
	CHECK_EQ("trap: si_arch", trap_arch, AUDIT_ARCH_X86_64);
	CHECK_EQ("trap: si_errno is the data", trap_errno, 42);
	CHECK("trap: si_call_addr is after the syscall", trap_addr == after);
	CHECK_EQ("trap: handler sees rax rolled back", trap_rax, SYS_getppid);
	CHECK_EQ("trap: handler's rax is the result", r, 4242);
}

static void trap_default_child(void)
{
	if (filter_one(SYS_getppid, SECCOMP_RET_TRAP, 0) != 0)
		_exit(2);
	signal(SIGSYS, SIG_IGN); /* a forced signal is not ignored */
	syscall(SYS_getppid);
	_exit(4);
}

/* --- strict mode ------------------------------------------------------- */

static void strict_write_child(void)
{
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0)
		_exit(2);
	static const char msg[] = "ok strict: write allowed\n";
	if (write(1, msg, sizeof(msg) - 1) != sizeof(msg) - 1)
		syscall(SYS_exit, 3);
	syscall(SYS_exit, 0);
}

static void strict_getpid_child(void)
{
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL) != 0)
		_exit(2);
	syscall(SYS_getpid);
	syscall(SYS_exit, 4);
}

static void strict_exit_group_child(void)
{
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL) != 0)
		_exit(2);
	syscall(SYS_exit_group, 0); /* not in the strict list */
}

static void mode_switch_child(void)
{
	CHECK_ERR("strict: flags EINVAL", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);
	CHECK_ERR("strict: args EINVAL", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, (void *)8), EINVAL);
	CHECK_EQ("strict: install a filter", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0), 0);
	CHECK_ERR("strict: not after a filter", prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0), EINVAL);
	CHECK_ERR("strict: prctl bad mode", prctl(PR_SET_SECCOMP, 7, 0, 0, 0), EINVAL);
}

/* --- TSYNC ------------------------------------------------------------- */

static int cmd_pipe[2], done_pipe[2];
static volatile long th_ret1, th_errno1, th_ret2, th_errno2, th_ret3, th_errno3;
static volatile pid_t th_tid;

static void wait_cmd(void)
{
	char c;
	if (read(cmd_pipe[0], &c, 1) != 1)
		syscall(SYS_exit, 9);
}

static void send(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(9);
}

static void *tsync_thread(void *arg)
{
	(void)arg;
	wait_cmd();
	errno = 0;
	th_ret1 = syscall(SYS_getuid);
	th_errno1 = errno;
	send(done_pipe[1]);
	wait_cmd();
	errno = 0;
	th_ret2 = syscall(SYS_getppid);
	th_errno2 = errno;
	errno = 0;
	th_ret3 = syscall(SYS_getuid);
	th_errno3 = errno;
	return NULL;
}

static void tsync_child(void)
{
	REQUIRE("tsync: pipes", pipe(cmd_pipe) == 0 && pipe(done_pipe) == 0);
	pthread_t th;
	REQUIRE("tsync: pthread_create", pthread_create(&th, NULL, tsync_thread, NULL) == 0);
	CHECK_EQ("tsync: install without TSYNC", filter_one(SYS_getuid, SECCOMP_RET_ERRNO | EPERM, 0), 0);
	CHECK_ERR("tsync: caller filtered", syscall(SYS_getuid), EPERM);
	send(cmd_pipe[1]);
	char c;
	REQUIRE("tsync: thread ran", read(done_pipe[0], &c, 1) == 1);
	CHECK("tsync: other thread not filtered", th_ret1 >= 0);
	CHECK_EQ("tsync: install with TSYNC", filter_one(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC), 0);
	send(cmd_pipe[1]);
	CHECK_EQ("tsync: join", pthread_join(th, NULL), 0);
	CHECK("tsync: thread got the new filter", th_ret2 == -1 && th_errno2 == EPERM);
	CHECK("tsync: thread got the whole chain", th_ret3 == -1 && th_errno3 == EPERM);
}

static void *tsync_own_filter_thread(void *arg)
{
	(void)arg;
	th_tid = gettid();
	if (filter_one(SYS_getgid, SECCOMP_RET_ERRNO | EPERM, 0) != 0)
		th_tid = -1;
	send(done_pipe[1]);
	wait_cmd();
	return NULL;
}

static void tsync_fail_child(void)
{
	REQUIRE("tsync fail: pipes", pipe(cmd_pipe) == 0 && pipe(done_pipe) == 0);
	pthread_t th;
	REQUIRE("tsync fail: pthread_create", pthread_create(&th, NULL, tsync_own_filter_thread, NULL) == 0);
	char c;
	REQUIRE("tsync fail: thread filtered itself", read(done_pipe[0], &c, 1) == 1 && th_tid > 0);
	long r = filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC);
	CHECK("tsync fail: returns the tid of the thread", r == th_tid);
	CHECK_ERR("tsync fail: TSYNC_ESRCH", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH), ESRCH);
	CHECK("tsync fail: nothing installed", syscall(SYS_getpid) > 0);
	CHECK_EQ("tsync fail: mode still disabled", prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);
	send(cmd_pipe[1]);
	CHECK_EQ("tsync fail: join", pthread_join(th, NULL), 0);
}

/* --- fork and exec ----------------------------------------------------- */

static char *self;

static void fork_exec_child(void)
{
	REQUIRE("inherit: install", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | ENETDOWN, 0) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		_exit(syscall(SYS_getpid) == -1 && errno == ENETDOWN ? 0 : 1);
	}
	int status = 0;
	CHECK_EQ("inherit: waitpid", waitpid(pid, &status, 0), pid);
	check_exited0("inherit: fork child is filtered", status);
	fflush(stdout);
	execl(self, self, "exec-check", (char *)NULL);
	check_fail("inherit: execl", "%s", check_errname(errno));
}

static int exec_check(void)
{
	CHECK_ERR("exec: filter kept", syscall(SYS_getpid), ENETDOWN);
	CHECK_EQ("exec: mode kept", prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 2);
	CHECK_EQ("exec: no_new_privs kept", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
	fflush(stdout);
	return check_failures ? 1 : 0;
}

/* --- permission -------------------------------------------------------- */

static void nnp_child_body(void)
{
	if (getuid() == 0) {
		REQUIRE("nnp: drop root", setgid(65534) == 0 && setuid(65534) == 0);
	}
	CHECK_EQ("nnp: not set", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	CHECK_ERR("nnp: EACCES without no_new_privs", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0), EACCES);
	CHECK_ERR("nnp: prctl too", ({
			  struct sock_filter f[] = { ALLOW };
			  struct sock_fprog p = { 1, f };
			  prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0);
		  }),
		  EACCES);
	CHECK_ERR("nnp: bad prctl args", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL);
	CHECK_EQ("nnp: set", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	CHECK_EQ("nnp: get", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
	CHECK_EQ("nnp: install with no_new_privs", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0), 0);
	CHECK_ERR("nnp: filter works", syscall(SYS_getpid), EPERM);
}

static void root_child_body(void)
{
	CHECK_EQ("root: no_new_privs not set", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	CHECK_EQ("root: CAP_SYS_ADMIN may install", filter_one(SYS_getpid, SECCOMP_RET_ERRNO | EPERM, 0), 0);
	CHECK_ERR("root: filter works", syscall(SYS_getpid), EPERM);
}

/* plain_child is child() without no_new_privs. */
static int plain_child(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		check_failures = 0;
		fn();
		fflush(stdout);
		_exit(check_failures ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

/* --- invalid programs -------------------------------------------------- */

static struct sock_filter long_prog[BPF_MAXINSNS + 1];

static void invalid_child(void)
{
	struct sock_filter bad_jump[] = { LD_NR, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0), ALLOW };
	struct sock_filter bad_ja[] = { BPF_STMT(BPF_JMP | BPF_JA, 1), ALLOW };
	struct sock_filter bad_off[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), ALLOW };
	struct sock_filter unaligned[] = { BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), ALLOW };
	struct sock_filter byte_load[] = { BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), ALLOW };
	struct sock_filter div0[] = { BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), ALLOW };
	struct sock_filter uninit[] = { BPF_STMT(BPF_LD | BPF_MEM, 3), ALLOW };
	struct sock_filter no_ret[] = { LD_NR };
	struct sock_filter mod[] = { BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), ALLOW };
	struct sock_filter ok[] = { ALLOW };

	CHECK_ERR("invalid: jump past the end", install(bad_jump, N(bad_jump), 0), EINVAL);
	CHECK_ERR("invalid: ja past the end", install(bad_ja, N(bad_ja), 0), EINVAL);
	CHECK_ERR("invalid: load offset 64", install(bad_off, N(bad_off), 0), EINVAL);
	CHECK_ERR("invalid: unaligned load", install(unaligned, N(unaligned), 0), EINVAL);
	CHECK_ERR("invalid: byte load", install(byte_load, N(byte_load), 0), EINVAL);
	CHECK_ERR("invalid: division by zero", install(div0, N(div0), 0), EINVAL);
	CHECK_ERR("invalid: uninitialised scratch", install(uninit, N(uninit), 0), EINVAL);
	CHECK_ERR("invalid: no final return", install(no_ret, N(no_ret), 0), EINVAL);
	CHECK_ERR("invalid: BPF_MOD", install(mod, N(mod), 0), EINVAL);
	for (int i = 0; i < BPF_MAXINSNS + 1; i++)
		long_prog[i] = (struct sock_filter)ALLOW;
	CHECK_ERR("invalid: too long", install(long_prog, BPF_MAXINSNS + 1, 0), EINVAL);
	CHECK_ERR("invalid: empty", install(ok, 0, 0), EINVAL);
	CHECK_ERR("invalid: unknown flag", install(ok, 1, 1u << 30), EINVAL);
	CHECK_ERR("invalid: NULL program", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, NULL), EFAULT);
	CHECK_ERR("invalid: bad filter pointer", ({
			  struct sock_fprog p = { 1, (struct sock_filter *)8 };
			  syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
		  }),
		  EFAULT);
	CHECK_ERR("invalid: unknown op", syscall(SYS_seccomp, 99, 0, NULL), EINVAL);
	CHECK_EQ("invalid: still no filter", prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 0);

	/* Linux caps the instructions of all filters on a path (at 32768,
	 * counted after its internal translation, so how many of the longest
	 * filters fit is its business): one fits, eight do not. */
	int i, e = 0;
	for (i = 0; i < 8; i++) {
		if (install(long_prog, BPF_MAXINSNS, 0) != 0) {
			e = errno;
			break;
		}
	}
	CHECK("invalid: some longest filters fit", i >= 1 && i < 8);
	CHECK_EQ("invalid: then ENOMEM", e, ENOMEM);
}

/* --- GET_ACTION_AVAIL, GET_NOTIF_SIZES ---------------------------------- */

static void actions(void)
{
	static const struct {
		const char *name;
		uint32_t action;
	} acts[] = {
		{ "KILL_PROCESS", SECCOMP_RET_KILL_PROCESS },
		{ "KILL_THREAD", SECCOMP_RET_KILL_THREAD },
		{ "TRAP", SECCOMP_RET_TRAP },
		{ "ERRNO", SECCOMP_RET_ERRNO },
		{ "USER_NOTIF", SECCOMP_RET_USER_NOTIF },
		{ "TRACE", SECCOMP_RET_TRACE },
		{ "LOG", SECCOMP_RET_LOG },
		{ "ALLOW", SECCOMP_RET_ALLOW },
	};
	char name[64];
	for (size_t i = 0; i < N(acts); i++) {
		uint32_t a = acts[i].action;
		snprintf(name, sizeof(name), "action avail %s", acts[i].name);
		CHECK_EQ(name, syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a), 0);
	}
	uint32_t bad = 0x00010000;
	CHECK_ERR("action avail unknown", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &bad), EOPNOTSUPP);
	CHECK_ERR("action avail flags", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 1, &bad), EINVAL);
	CHECK_ERR("action avail EFAULT", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, NULL), EFAULT);

	struct seccomp_notif_sizes sz = { 0 };
	CHECK_EQ("notif sizes", syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz), 0);
	CHECK_EQ("notif sizes seccomp_data", sz.seccomp_data, sizeof(struct seccomp_data));
	CHECK("notif sizes notif", sz.seccomp_notif >= sizeof(struct seccomp_notif));
	CHECK("notif sizes resp", sz.seccomp_notif_resp >= sizeof(struct seccomp_notif_resp));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec-check") == 0)
		return exec_check();
	self = argv[0];

	check_exited0("errno child", child(errno_child));
	check_exited0("precedence child", child(precedence_child));
	check_killed("allowlist: KILL_PROCESS kills with SIGSYS", child(allowlist_child), SIGSYS);
	check_killed("kill process: from another thread", child(kill_process_threaded_child), SIGSYS);
	check_killed("kill thread: last thread takes the process", child(kill_thread_single_child), SIGSYS);
	check_exited0("kill thread: other threads go on", child(kill_thread_multi_child));
	check_exited0("trap child", child(trap_child));
	check_killed("trap: ignored SIGSYS still kills", child(trap_default_child), SIGSYS);
	check_exited0("strict: write and exit", child(strict_write_child));
	check_killed("strict: getpid kills", child(strict_getpid_child), SIGKILL);
	check_killed("strict: exit_group kills", child(strict_exit_group_child), SIGKILL);
	check_exited0("mode switch child", child(mode_switch_child));
	check_exited0("tsync child", child(tsync_child));
	check_exited0("tsync fail child", child(tsync_fail_child));
	check_exited0("fork and exec child", child(fork_exec_child));
	check_exited0("no_new_privs child", plain_child(nnp_child_body));
	check_exited0("root child", plain_child(root_child_body));
	check_exited0("invalid child", child(invalid_child));
	check_exited0("actions child", child(actions));
	return check_done();
}
