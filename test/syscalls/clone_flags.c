/* clone_flags: clone(2) and clone3(2) flag validation and the sharing
 * flags. Invalid combinations fail with EINVAL before anything is created;
 * clone3 accepts every struct clone_args size from VER0 (64) to a page, and
 * rejects larger ones or non-zero bytes past the known fields with E2BIG;
 * namespace flags and set_tid need privilege (EPERM, checked as an
 * unprivileged uid). CLONE_FILES/FS/SIGHAND/VM share what they name,
 * CLONE_PARENT_SETTID/CHILD_SETTID/CHILD_CLEARTID write the tid words,
 * CLONE_PARENT makes a sibling, CLONE_VFORK blocks the parent, and clone3's
 * stack/stack_size is the lowest address and size of the child's stack. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif

static long raw_clone(unsigned long flags, void *stack, int *ptid, int *ctid, unsigned long tls)
{
	return syscall(SYS_clone, flags, stack, ptid, ctid, tls);
}

static long raw_clone3(void *args, size_t size)
{
	return syscall(SYS_clone3, args, size);
}

/* clone3 that runs fn on the child's new stack (a child that shares the
 * address space cannot return into the parent's frames). fn must end with
 * an exit syscall. */
static long clone3_fn(struct clone_args *args, size_t size, void (*fn)(void))
{
	long ret;
	register void (*f)(void) asm("r12") = fn;
	asm volatile("mov $435, %%eax\n\t"
		     "syscall\n\t"
		     "test %%rax, %%rax\n\t"
		     "jnz 1f\n\t"
		     "xor %%ebp, %%ebp\n\t"
		     "and $-16, %%rsp\n\t"
		     "call *%%r12\n\t"
		     "ud2\n"
		     "1:"
		     : "=a"(ret)
		     : "D"(args), "S"(size), "r"(f)
		     : "rcx", "r11", "memory");
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

static void exit_now(int code)
{
	syscall(SYS_exit, code);
	__builtin_unreachable();
}

/* Forks with clone3 at a given struct size and waits for the child. */
static int clone3_fork_size(size_t size, int *err)
{
	char buf[4096] = { 0 };
	struct clone_args *a = (struct clone_args *)buf;
	a->exit_signal = SIGCHLD;
	long pid = raw_clone3(buf, size);
	if (pid == 0)
		_exit(7);
	if (pid < 0) {
		*err = errno;
		return -1;
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void invalid_combinations(void)
{
	CHECK_ERR("clone THREAD without SIGHAND", raw_clone(CLONE_THREAD | CLONE_VM, NULL, NULL, NULL, 0), EINVAL);
	CHECK_ERR("clone SIGHAND without VM", raw_clone(CLONE_SIGHAND, NULL, NULL, NULL, 0), EINVAL);
	CHECK_ERR("clone THREAD|SIGHAND without VM", raw_clone(CLONE_THREAD | CLONE_SIGHAND, NULL, NULL, NULL, 0), EINVAL);
	CHECK_ERR("clone NEWNS|FS", raw_clone(CLONE_NEWNS | CLONE_FS | SIGCHLD, NULL, NULL, NULL, 0), EINVAL);
	CHECK_ERR("clone NEWUSER|FS", raw_clone(CLONE_NEWUSER | CLONE_FS | SIGCHLD, NULL, NULL, NULL, 0), EINVAL);
	CHECK_ERR("clone THREAD|NEWPID",
		  raw_clone(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWPID, NULL, NULL, NULL, 0), EINVAL);
	int word;
	CHECK_ERR("clone PIDFD|PARENT_SETTID", raw_clone(CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, NULL, &word, NULL, 0),
		  EINVAL);
	CHECK_ERR("clone PIDFD|DETACHED", raw_clone(CLONE_PIDFD | CLONE_DETACHED | SIGCHLD, NULL, &word, NULL, 0), EINVAL);
}

static void clone3_validation(void)
{
	char buf[8192] = { 0 };
	struct clone_args *a = (struct clone_args *)buf;
	a->exit_signal = SIGCHLD;
	CHECK_ERR("clone3 size 0", raw_clone3(buf, 0), EINVAL);
	CHECK_ERR("clone3 size 63", raw_clone3(buf, 63), EINVAL);
	CHECK_ERR("clone3 size 4097", raw_clone3(buf, 4097), E2BIG);
	buf[100] = 1;
	CHECK_ERR("clone3 non-zero tail", raw_clone3(buf, 128), E2BIG);
	buf[100] = 0;
	CHECK_ERR("clone3 bad pointer", raw_clone3((void *)8, 64), EFAULT);

	int err = 0;
	CHECK_EQ("clone3 size 64 (VER0)", clone3_fork_size(64, &err), 7);
	CHECK_EQ("clone3 size 72", clone3_fork_size(72, &err), 7);
	CHECK_EQ("clone3 size 80 (VER1)", clone3_fork_size(80, &err), 7);
	CHECK_EQ("clone3 size 88 (VER2)", clone3_fork_size(88, &err), 7);
	CHECK_EQ("clone3 size 4096, zero tail", clone3_fork_size(4096, &err), 7);

	struct clone_args c;
#define RESET() (memset(&c, 0, sizeof(c)), c.exit_signal = SIGCHLD)
	RESET();
	c.flags = 0x1; /* a CSIGNAL bit */
	CHECK_ERR("clone3 CSIGNAL bit in flags", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.flags = CLONE_DETACHED;
	CHECK_ERR("clone3 DETACHED", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.flags = 1ULL << 40;
	CHECK_ERR("clone3 unknown flag", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.exit_signal = 65;
	CHECK_ERR("clone3 exit_signal 65", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.exit_signal = SIGCHLD | (1ULL << 32);
	CHECK_ERR("clone3 exit_signal high bits", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
	CHECK_ERR("clone3 THREAD with exit_signal", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.flags = CLONE_PARENT;
	CHECK_ERR("clone3 PARENT with exit_signal", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.flags = CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND;
	CHECK_ERR("clone3 SIGHAND|CLEAR_SIGHAND", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.stack = (uintptr_t)buf;
	CHECK_ERR("clone3 stack without size", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.stack_size = 4096;
	CHECK_ERR("clone3 size without stack", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.flags = CLONE_INTO_CGROUP;
	CHECK_ERR("clone3 INTO_CGROUP in a VER1 struct", raw_clone3(&c, 80), EINVAL);
	pid_t tids[40] = { 0 };
	RESET();
	c.set_tid = (uintptr_t)tids;
	CHECK_ERR("clone3 set_tid without size", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.set_tid_size = 1;
	CHECK_ERR("clone3 set_tid_size without array", raw_clone3(&c, sizeof(c)), EINVAL);
	RESET();
	c.set_tid = (uintptr_t)tids;
	c.set_tid_size = 33;
	CHECK_ERR("clone3 set_tid_size 33", raw_clone3(&c, sizeof(c)), EINVAL);
	c.set_tid_size = 2;
	tids[0] = tids[1] = 1000;
	CHECK_ERR("clone3 set_tid deeper than the namespace", raw_clone3(&c, sizeof(c)), EINVAL);
	c.set_tid_size = 1;
	tids[0] = 0;
	CHECK_ERR("clone3 set_tid 0", raw_clone3(&c, sizeof(c)), EINVAL);
	tids[0] = 5000000;
	CHECK_ERR("clone3 set_tid past pid_max", raw_clone3(&c, sizeof(c)), EINVAL);
	c.set_tid = 8;
	CHECK_ERR("clone3 set_tid bad pointer", raw_clone3(&c, sizeof(c)), EFAULT);
}

/* Run as an unprivileged uid: namespaces and set_tid are refused. */
static int unprivileged(void)
{
	if (setresuid(54320, 54320, 54320) != 0)
		return 1;
	static const struct {
		const char *name;
		unsigned long flag;
	} ns[] = {
		{ "NEWNS", CLONE_NEWNS },   { "NEWPID", CLONE_NEWPID }, { "NEWNET", CLONE_NEWNET },
		{ "NEWIPC", CLONE_NEWIPC }, { "NEWUTS", CLONE_NEWUTS }, { "NEWCGROUP", CLONE_NEWCGROUP },
	};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "unprivileged clone %s", ns[i].name);
		CHECK_ERR(name, raw_clone(ns[i].flag | SIGCHLD, NULL, NULL, NULL, 0), EPERM);
	}
	struct clone_args c = { .exit_signal = SIGCHLD };
	pid_t tid = 30000;
	c.set_tid = (uintptr_t)&tid;
	c.set_tid_size = 1;
	CHECK_ERR("unprivileged clone3 set_tid", raw_clone3(&c, sizeof(c)), EPERM);
	return check_failures ? 1 : 0;
}

static volatile int shared_var;
static int child_fd = -1;

static int share_vm_child(void *arg)
{
	(void)arg;
	shared_var = 42;
	return 5;
}

static int files_child(void *arg)
{
	(void)arg;
	child_fd = open("/dev/null", O_RDONLY);
	return 0;
}

static int fs_child(void *arg)
{
	return chdir((const char *)arg) == 0 ? 0 : 1;
}

static int sighand_child(void *arg)
{
	(void)arg;
	signal(SIGUSR2, SIG_IGN);
	return 0;
}

static int tid_child(void *arg)
{
	(void)arg;
	return 0;
}

static int vfork_child(void *arg)
{
	(void)arg;
	usleep(50000);
	shared_var = 99;
	return 0;
}

static char *stack_top(void)
{
	char *s = mmap(NULL, 256 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	return s == MAP_FAILED ? NULL : s + (256 << 10);
}

static int wait_clone(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, __WALL) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sharing(void)
{
	char *stack = stack_top();
	REQUIRE("child stack", stack != NULL);

	shared_var = 0;
	pid_t pid = clone(share_vm_child, stack, CLONE_VM | SIGCHLD, NULL);
	CHECK_EQ("CLONE_VM child exit", wait_clone(pid), 5);
	CHECK_EQ("CLONE_VM write seen", shared_var, 42);

	shared_var = 0;
	pid = clone(share_vm_child, stack, SIGCHLD, NULL);
	CHECK_EQ("no CLONE_VM child exit", wait_clone(pid), 5);
	CHECK_EQ("no CLONE_VM: write not seen", shared_var, 0);

	/* CLONE_FILES: the descriptor the child opens is in the parent's
	 * table. The child writes child_fd in its own copy of memory, so
	 * the parent looks for the lowest free descriptor itself. */
	int probe = open("/dev/null", O_RDONLY);
	close(probe);
	pid = clone(files_child, stack, CLONE_FILES | SIGCHLD, NULL);
	CHECK_EQ("CLONE_FILES child exit", wait_clone(pid), 0);
	CHECK_OK("CLONE_FILES descriptor shared", fcntl(probe, F_GETFD));
	close(probe);
	pid = clone(files_child, stack, SIGCHLD, NULL);
	CHECK_EQ("no CLONE_FILES child exit", wait_clone(pid), 0);
	CHECK_ERR("no CLONE_FILES: descriptor not shared", fcntl(probe, F_GETFD), EBADF);

	char cwd[4096], now[4096];
	REQUIRE("getcwd", getcwd(cwd, sizeof(cwd)) != NULL);
	pid = clone(fs_child, stack, SIGCHLD, "/");
	CHECK_EQ("no CLONE_FS child exit", wait_clone(pid), 0);
	CHECK("no CLONE_FS: cwd kept", getcwd(now, sizeof(now)) && strcmp(now, cwd) == 0);
	pid = clone(fs_child, stack, CLONE_FS | SIGCHLD, "/");
	CHECK_EQ("CLONE_FS child exit", wait_clone(pid), 0);
	CHECK("CLONE_FS: cwd changed", getcwd(now, sizeof(now)) && strcmp(now, "/") == 0);
	CHECK_OK("chdir back", chdir(cwd));

	struct sigaction sa;
	pid = clone(sighand_child, stack, CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
	CHECK_EQ("CLONE_SIGHAND child exit", wait_clone(pid), 0);
	sigaction(SIGUSR2, NULL, &sa);
	CHECK("CLONE_SIGHAND: handler shared", sa.sa_handler == SIG_IGN);
	signal(SIGUSR2, SIG_DFL);
	pid = clone(sighand_child, stack, CLONE_VM | SIGCHLD, NULL);
	CHECK_EQ("no CLONE_SIGHAND child exit", wait_clone(pid), 0);
	sigaction(SIGUSR2, NULL, &sa);
	CHECK("no CLONE_SIGHAND: handler not shared", sa.sa_handler == SIG_DFL);

	/* The tid words. With CLONE_VM both are in our memory;
	 * CHILD_CLEARTID zeroes the child's word and wakes a futex waiter
	 * when it exits. */
	static int ptid, ctid;
	ptid = ctid = 0;
	pid = clone(tid_child, stack,
		    CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, NULL,
		    &ptid, NULL, &ctid);
	CHECK_EQ("PARENT_SETTID", ptid, pid);
	int w;
	while ((w = __atomic_load_n(&ctid, __ATOMIC_ACQUIRE)) != 0)
		syscall(SYS_futex, &ctid, FUTEX_WAIT, w, NULL, NULL, 0);
	CHECK_EQ("CHILD_CLEARTID zeroed", ctid, 0);
	CHECK_EQ("tid child exit", wait_clone(pid), 0);
	ctid = 0;
	pid = clone(tid_child, stack, CLONE_VM | CLONE_VFORK | CLONE_CHILD_SETTID | SIGCHLD, NULL, NULL, NULL,
		    &ctid);
	CHECK_EQ("CHILD_SETTID", ctid, pid);
	wait_clone(pid);

	/* Without CLONE_VM the words are in the child's memory: CHILD_SETTID
	 * writes the child's copy of a private page, not ours. CHILD_CLEARTID
	 * is skipped when the exiting child is the last user of its memory
	 * (Linux's mm_release), even on a page shared with us. */
	static int fork_ctid;
	fork_ctid = 0;
	pid = syscall(SYS_clone, CLONE_CHILD_SETTID | SIGCHLD, NULL, NULL, &fork_ctid, NULL);
	if (pid == 0)
		_exit(fork_ctid == getpid() ? 0 : 1);
	CHECK_EQ("fork CHILD_SETTID: the child's copy written", wait_clone(pid), 0);
	CHECK_EQ("fork CHILD_SETTID: ours untouched", fork_ctid, 0);
	int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap shared", sh != MAP_FAILED);
	*sh = -1;
	pid = syscall(SYS_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, NULL, NULL, sh, NULL);
	if (pid == 0)
		_exit(*sh == getpid() ? 0 : 1);
	CHECK_EQ("fork CHILD_SETTID on a shared page", wait_clone(pid), 0);
	CHECK_EQ("fork CHILD_CLEARTID of the memory's last user: not cleared", *sh, pid);
	/* The same at exec, which releases the old memory. */
	*sh = -1;
	pid = syscall(SYS_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, NULL, NULL, sh, NULL);
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	CHECK_EQ("fork then exec /bin/true", wait_clone(pid), 0);
	CHECK_EQ("CHILD_CLEARTID at the exec of the memory's last user: not cleared", *sh, pid);
	munmap(sh, 4096);

	/* exit_signal: a child that reports with SIGUSR1 (ignored here) is
	 * waited for with __WALL. */
	signal(SIGUSR1, SIG_IGN);
	pid = clone(tid_child, stack, SIGUSR1, NULL);
	CHECK_EQ("exit_signal SIGUSR1 child", wait_clone(pid), 0);
	pid = clone(tid_child, stack, 0, NULL);
	CHECK_EQ("exit_signal 0 child", wait_clone(pid), 0);
	signal(SIGUSR1, SIG_DFL);

	/* CLONE_VFORK: the parent resumes only after the child exits. */
	shared_var = 0;
	pid = clone(vfork_child, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	CHECK_EQ("CLONE_VFORK: child done before the parent resumed", shared_var, 99);
	CHECK_EQ("vfork child exit", wait_clone(pid), 0);
}

static char *c3_stack;
static volatile int c3_ok;

static void clone3_stack_child(void)
{
	char here;
	c3_ok = &here > c3_stack && &here < c3_stack + 65536;
	exit_now(0);
}

static void clone3_stack(void)
{
	c3_stack = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("clone3 stack", c3_stack != MAP_FAILED);
	struct clone_args c = {
		.flags = CLONE_VM | CLONE_VFORK,
		.exit_signal = SIGCHLD,
		.stack = (uintptr_t)c3_stack,
		.stack_size = 65536,
	};
	long pid = clone3_fn(&c, sizeof(c), clone3_stack_child);
	CHECK("clone3 with a stack", pid > 0);
	CHECK_EQ("clone3 child ran on stack..stack+size", c3_ok, 1);
	CHECK_EQ("clone3 stack child exit", wait_clone(pid), 0);
}

/* CLONE_PARENT from a child: the new process is the child's sibling. (The
 * sandbox's pid 1 may not use it, as a pid namespace's init may not.) */
static int parent_sibling(void *arg)
{
	(void)arg;
	return getppid() == *(pid_t *)arg ? 11 : 12;
}

int main(void)
{
	invalid_combinations();
	clone3_validation();
	sharing();
	clone3_stack();

	pid_t me = getpid();
	pid_t mid = fork();
	if (mid == 0) {
		char *stack = stack_top();
		pid_t sib = clone(parent_sibling, stack, CLONE_PARENT | SIGCHLD, &me);
		if (sib < 0)
			_exit(2);
		/* Not our child. */
		_exit(waitpid(sib, NULL, __WALL) < 0 && errno == ECHILD ? 0 : 3);
	}
	int st;
	CHECK_EQ("CLONE_PARENT: middle child", wait_clone(mid), 0);
	int got11 = 0;
	while (waitpid(-1, &st, __WALL) > 0)
		got11 += WIFEXITED(st) && WEXITSTATUS(st) == 11;
	CHECK_EQ("CLONE_PARENT: sibling reported to us, saw us as parent", got11, 1);

	pid_t u = fork();
	if (u == 0)
		_exit(unprivileged());
	/* Nothing printed while the child prints. */
	CHECK_EQ("unprivileged checks", wait_clone(u), 0);
	return check_done();
}
