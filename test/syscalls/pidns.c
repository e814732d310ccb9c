/* pidns: PID namespaces (pid_namespaces(7)). A child made with
 * clone(CLONE_NEWPID) is pid 1 of its namespace with parent pid 0, its
 * children are 2, 3 ... and see it as their parent; nested namespaces
 * number from 1 again; CLONE_PARENT_SETTID and CLONE_CHILD_SETTID hold the
 * tid as the writer's namespace sees it. From outside, the child is known
 * by its outer pid (clone's result, wait4's, kill's target); it ignores
 * SIGTERM without a handler even from outside but dies of SIGKILL, and a
 * signal from outside shows si_pid 0. Inside, its init ignores SIGTERM from
 * its own children; orphans are reparented to it; when it exits every other
 * process of the namespace is killed before its parent can reap it.
 * unshare(CLONE_NEWPID) puts the caller's next children in a new namespace
 * (the caller keeps its pid; a second unshare, CLONE_THREAD and a new
 * namespace are EINVAL then), and once that namespace's init exited, fork
 * fails with ENOMEM; /proc/self/ns/pid_for_children names the new
 * namespace once its init exists. /proc/self/status shows two NSpid
 * values, the last 1; a proc mounted inside the namespace lists only its
 * pid 1. SIGCHLD's si_pid, SO_PEERCRED and SCM_CREDENTIALS carry pids of
 * the namespace, and a process group whose leader has gone keeps its
 * id there. A tracer outside sees its own pids in PTRACE_GETEVENTMSG (and
 * the tracee's own in PTRACE_GETSIGINFO). CLONE_NEWPID|CLONE_THREAD is
 * EINVAL; clone and unshare need CAP_SYS_ADMIN (EPERM). Everything runs in
 * children: the runner's and the sandbox's first process do not move. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* clone_ns forks like fork(), into a new PID namespace, with extra
 * flags and the CLONE_PARENT_SETTID/CHILD_SETTID words. */
static pid_t clone_ns(unsigned long extra, int *ptid, int *ctid)
{
	fflush(stdout);
	return syscall(SYS_clone, CLONE_NEWPID | SIGCHLD | extra, 0, ptid, ctid, 0);
}

/* child_done ends a child: its exit status says whether its checks held. */
static void child_done(void)
{
	fflush(stdout);
	_exit(check_failures ? 1 : 0);
}

/* reap waits for pid and fails name unless it exited with want. */
static void reap(const char *name, pid_t pid, int want)
{
	int status = 0;
	pid_t got = waitpid(pid, &status, 0);
	if (got == pid && WIFEXITED(status) && WEXITSTATUS(status) == want)
		check_ok(name);
	else
		check_fail(name, "waitpid = %d (want %d), status %#x, want exit %d", got, pid, status, want);
}

static void test_ids(void)
{
	int ptid = -1, ctid = -1;
	pid_t pid = clone_ns(CLONE_PARENT_SETTID | CLONE_CHILD_SETTID, &ptid, &ctid);
	if (pid < 0) {
		check_fail("clone CLONE_NEWPID", "%s", check_errname(errno));
		return;
	}
	if (pid == 0) {
		check_failures = 0;
		CHECK_EQ("init getpid", getpid(), 1);
		CHECK_EQ("init gettid", syscall(SYS_gettid), 1);
		CHECK_EQ("init getppid", getppid(), 0);
		CHECK_EQ("init CLONE_CHILD_SETTID", ctid, 1);
		CHECK_EQ("init getpgid(0) outside", getpgid(0), 0);
		CHECK_EQ("init getsid(0) outside", getsid(0), 0);
		CHECK_ERR("kill outer pid not visible", kill(100000, 0), ESRCH);

		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			check_failures = 0;
			CHECK_EQ("second getpid", getpid(), 2);
			CHECK_EQ("second getppid", getppid(), 1);
			/* The namespace's init has no SIGTERM handler: ignored. */
			CHECK_EQ("kill(1, SIGTERM) inside", kill(1, SIGTERM), 0);
			child_done();
		}
		reap("wait4 returns 2", c, 0);
		CHECK_EQ("fork returns 2", c, 2);

		/* A nested namespace. */
		int p2 = -1, c2 = -1;
		pid_t n = clone_ns(CLONE_PARENT_SETTID | CLONE_CHILD_SETTID, &p2, &c2);
		if (n == 0) {
			check_failures = 0;
			CHECK_EQ("nested getpid", getpid(), 1);
			CHECK_EQ("nested getppid", getppid(), 0);
			CHECK_EQ("nested CLONE_CHILD_SETTID", c2, 1);
			fflush(stdout);
			pid_t g = fork();
			if (g == 0)
				_exit(5);
			CHECK_EQ("nested fork returns 2", g, 2);
			reap("nested wait4", g, 5);
			child_done();
		}
		reap("nested init exits", n, 0);
		CHECK_EQ("clone nested returns 3", n, 3);
		CHECK_EQ("nested CLONE_PARENT_SETTID", p2, 3);

		/* Orphans go to the namespace's init. */
		fflush(stdout);
		pid_t a = fork();
		if (a == 0) {
			pid_t b = fork();
			if (b == 0) {
				for (int i = 0; i < 5000 && getppid() != 1; i++)
					usleep(1000);
				_exit(getppid() == 1 ? 0 : 1);
			}
			_exit(0);
		}
		reap("orphan's parent exits", a, 0);
		CHECK_EQ("orphan's parent is 5", a, 5);
		int status = 0;
		CHECK_EQ("init reaps the orphan", wait(&status), 6);
		CHECK("orphan saw getppid 1", WIFEXITED(status) && WEXITSTATUS(status) == 0);

		/* /proc/self/status: the outer pid and 1. */
		FILE *f = fopen("/proc/self/status", "r");
		CHECK("open /proc/self/status", f != NULL);
		if (f) {
			char line[256];
			int found = 0;
			while (fgets(line, sizeof line, f)) {
				if (strncmp(line, "NSpid:", 6) != 0)
					continue;
				found = 1;
				int n = 0;
				long last = -1;
				char *s = line + 6, *end;
				for (;;) {
					long v = strtol(s, &end, 10);
					if (end == s)
						break;
					n++, last = v, s = end;
				}
				CHECK_EQ("NSpid has two values", n, 2);
				CHECK_EQ("NSpid ends with 1", last, 1);
			}
			CHECK("NSpid line", found);
			fclose(f);
		}

		/* Socket credentials carry pids of this namespace. */
		int sv[2];
		CHECK_OK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
		struct ucred uc = {0};
		socklen_t ul = sizeof uc;
		CHECK_OK("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &ul));
		CHECK_EQ("SO_PEERCRED pid", uc.pid, 1);
		int on = 1;
		setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
		union {
			char buf[CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		} cm = {0};
		char byte = 'x';
		struct iovec iov = {&byte, 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_CREDENTIALS;
		ch->cmsg_len = CMSG_LEN(sizeof uc);
		uc = (struct ucred){.pid = 1, .uid = getuid(), .gid = getgid()};
		memcpy(CMSG_DATA(ch), &uc, sizeof uc);
		CHECK_EQ("sendmsg SCM_CREDENTIALS pid 1", sendmsg(sv[0], &mh, 0), 1);
		memset(cm.buf, 0, sizeof cm.buf);
		mh.msg_controllen = sizeof cm.buf;
		CHECK_EQ("recvmsg", recvmsg(sv[1], &mh, 0), 1);
		ch = CMSG_FIRSTHDR(&mh);
		struct ucred got = {0};
		if (ch && ch->cmsg_type == SCM_CREDENTIALS)
			memcpy(&got, CMSG_DATA(ch), sizeof got);
		CHECK_EQ("SCM_CREDENTIALS pid", got.pid, 1);
		close(sv[0]), close(sv[1]);

		/* SIGCHLD's si_pid is the child's pid in this namespace. */
		sigset_t cs;
		sigemptyset(&cs);
		sigaddset(&cs, SIGCHLD);
		sigprocmask(SIG_BLOCK, &cs, NULL);
		fflush(stdout);
		pid_t z = fork();
		if (z == 0)
			_exit(0);
		siginfo_t si = {0};
		int sg = sigwaitinfo(&cs, &si);
		reap("wait4 the last child", z, 0);
		CHECK_EQ("sigwaitinfo SIGCHLD", sg, SIGCHLD);
		CHECK_EQ("last child is 7", z, 7);
		CHECK_EQ("SIGCHLD si_pid", si.si_pid, 7);
		child_done();
	}
	reap("wait4 returns the outer pid", pid, 0);
	CHECK("clone returns the outer pid", pid > 1);
	CHECK_EQ("CLONE_PARENT_SETTID is the outer pid", ptid, pid);
}

static volatile sig_atomic_t usr1_pid = -1;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	usr1_pid = si->si_pid;
}

static void test_signals(void)
{
	int ready[2], done[2];
	REQUIRE("pipe", pipe(ready) == 0 && pipe(done) == 0);
	pid_t pid = clone_ns(0, NULL, NULL);
	if (pid < 0) {
		check_fail("clone", "%s", check_errname(errno));
		return;
	}
	if (pid == 0) {
		check_failures = 0;
		struct sigaction sa = {0};
		sa.sa_sigaction = on_usr1;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGUSR1, &sa, NULL);
		sigset_t set, old;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, &old);
		char c = 'r';
		write(ready[1], &c, 1);
		while (usr1_pid == -1)
			sigsuspend(&old);
		CHECK_EQ("si_pid of a signal from outside", usr1_pid, 0);
		c = 'd';
		write(done[1], &c, 1);
		for (;;)
			pause();
	}
	/* The child prints while this one waits: this one prints after. */
	char c;
	long rd = read(ready[0], &c, 1);
	long k1 = kill(pid, SIGUSR1);
	long hd = read(done[0], &c, 1);
	/* No handler: even from outside, SIGTERM does not reach an init. */
	long k2 = kill(pid, SIGTERM);
	long k3 = kill(pid, SIGKILL);
	int status = 0;
	long w = waitpid(pid, &status, 0);
	CHECK_EQ("init ready", rd, 1);
	CHECK_EQ("kill(outer pid, SIGUSR1)", k1, 0);
	CHECK_EQ("handler ran", hd, 1);
	CHECK_EQ("kill(outer pid, SIGTERM)", k2, 0);
	CHECK_EQ("kill(outer pid, SIGKILL)", k3, 0);
	CHECK_EQ("wait4 outer pid", w, pid);
	CHECK("init died of SIGKILL, not SIGTERM", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(ready[0]), close(ready[1]), close(done[0]), close(done[1]);
}

static void test_init_exit(void)
{
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	pid_t pid = clone_ns(0, NULL, NULL);
	if (pid < 0) {
		check_fail("clone", "%s", check_errname(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		for (int i = 0; i < 3; i++) {
			if (fork() == 0) {
				/* Holds the write end until killed. */
				for (;;)
					pause();
			}
		}
		close(p[1]);
		_exit(7);
	}
	close(p[1]);
	reap("init exits", pid, 7);
	/* Its parent reaps it only once the rest of the namespace is gone,
	 * so every write end is closed already. */
	char c;
	CHECK_EQ("the rest was killed", read(p[0], &c, 1), 0);
	close(p[0]);
}

/* A process group whose leader has gone keeps its id in the namespace. */
static void test_pgrp(void)
{
	pid_t pid = clone_ns(0, NULL, NULL);
	if (pid < 0) {
		check_fail("clone", "%s", check_errname(errno));
		return;
	}
	if (pid == 0) {
		check_failures = 0;
		fflush(stdout);
		pid_t a = fork();
		if (a == 0) {
			setpgid(0, 0);
			if (fork() == 0) {
				for (;;)
					pause();
			}
			_exit(0);
		}
		reap("group leader exits", a, 0);
		CHECK_EQ("group leader was 2", a, 2);
		CHECK_EQ("getpgid of its orphan", getpgid(3), 2);
		CHECK_EQ("getsid of its orphan", getsid(3), 0);
		CHECK_EQ("setpgid into the leaderless group", setpgid(3, 2), 0);
		CHECK_EQ("kill(-2, SIGKILL)", kill(-2, SIGKILL), 0);
		int status = 0;
		CHECK_EQ("wait4 the orphan", waitpid(3, &status, 0), 3);
		CHECK("killed through its group", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		child_done();
	}
	reap("the namespace's init", pid, 0);
}

/* nspid_last returns the last NSpid value of /proc/PID/status, -1 if none. */
static long nspid_last(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long last = -1;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		char *p = line + 6, *end;
		for (long v; v = strtol(p, &end, 10), end != p; p = end)
			last = v;
	}
	if (f)
		fclose(f);
	return last;
}

/* A tracer outside the namespace sees its own pids in ptrace's messages
 * and siginfo. */
static void test_ptrace(void)
{
	pid_t pid = clone_ns(0, NULL, NULL);
	if (pid < 0) {
		check_fail("clone", "%s", check_errname(errno));
		return;
	}
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		_exit(waitpid(c, NULL, 0) == 2 ? 0 : 1);
	}
	int st = 0;
	long w1 = waitpid(pid, &st, 0);
	int stopped = WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP;
	long so = ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEFORK);
	ptrace(PTRACE_CONT, pid, 0, 0);
	long w2 = waitpid(pid, &st, 0);
	int event = st >> 8 == (SIGTRAP | PTRACE_EVENT_FORK << 8);
	unsigned long msg = 0;
	ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg);
	siginfo_t si = {0};
	ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
	/* The new child starts stopped, traced too. */
	long w3 = waitpid(msg, &st, __WALL);
	long inner = nspid_last(msg);
	ptrace(PTRACE_CONT, msg, 0, 0);
	ptrace(PTRACE_CONT, pid, 0, 0);
	long w4 = waitpid(msg, &st, __WALL);
	CHECK_EQ("tracee stopped", w1, pid);
	CHECK("by SIGSTOP", stopped);
	CHECK_EQ("PTRACE_SETOPTIONS", so, 0);
	CHECK_EQ("fork event stop", w2, pid);
	CHECK("PTRACE_EVENT_FORK", event);
	CHECK("event message is the outer pid", msg > 2 && (pid_t)msg != pid);
	/* Linux: ptrace_do_notify fills in the tracee's own view. */
	CHECK_EQ("PTRACE_GETSIGINFO si_pid is the tracee's own", si.si_pid, 1);
	CHECK_EQ("the new child stops", w3, (long)msg);
	CHECK_EQ("and is 2 inside", inner, 2);
	CHECK_EQ("its exit reaches the tracer", w4, (long)msg);
	/* Signals stop the init for its tracer first (SIGCHLD). */
	long w;
	while ((w = waitpid(pid, &st, 0)) == pid && WIFSTOPPED(st))
		ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(st));
	CHECK_EQ("the traced init exits", w, pid);
	CHECK("with 0", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* nslink reads /proc/self/ns/NAME into buf ("" on failure). */
static const char *nslink(const char *name, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/ns/%s", name);
	ssize_t l = readlink(path, buf, n - 1);
	buf[l > 0 ? l : 0] = 0;
	return buf;
}

static void unshare_child(void)
{
	char pid0[64], kids0[64], pid1[64], kids1[64], inner[64] = "";
	int up[2], down[2];
	REQUIRE("pipes", pipe(up) == 0 && pipe(down) == 0);
	pid_t me = getpid();
	nslink("pid", pid0, sizeof pid0);
	nslink("pid_for_children", kids0, sizeof kids0);
	CHECK("ns/pid is pid:[...]", strncmp(pid0, "pid:[", 5) == 0);
	CHECK("pid_for_children is the same before unshare", strcmp(pid0, kids0) == 0);
	CHECK_OK("unshare(CLONE_NEWPID)", unshare(CLONE_NEWPID));
	nslink("pid", pid1, sizeof pid1);
	CHECK("ns/pid unchanged by unshare", strcmp(pid0, pid1) == 0);
	/* Linux shows the new namespace once its init exists. */
	CHECK("no pid_for_children before its init", nslink("pid_for_children", kids1, sizeof kids1)[0] == 0);
	CHECK_EQ("the caller keeps its pid", getpid(), me);
	CHECK_ERR("unshare twice", unshare(CLONE_NEWPID), EINVAL);
	CHECK_ERR("CLONE_THREAD after unshare",
		  syscall(SYS_clone, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0), EINVAL);
	CHECK_ERR("CLONE_NEWPID after unshare", clone_ns(0, NULL, NULL), EINVAL);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		check_failures = 0;
		CHECK_EQ("first child is pid 1", getpid(), 1);
		CHECK_EQ("its getppid", getppid(), 0);
		nslink("pid", inner, sizeof inner);
		fflush(stdout);
		write(up[1], inner, sizeof inner);
		char x;
		read(down[0], &x, 1);
		child_done();
	}
	long got = read(up[0], inner, sizeof inner);
	nslink("pid_for_children", kids1, sizeof kids1);
	write(down[1], "x", 1);
	reap("wait4 outer pid", c, 0);
	CHECK("fork returns the outer pid", c > 1);
	CHECK_EQ("child's ns/pid", got, (long)sizeof inner);
	CHECK("pid_for_children is the new namespace", strncmp(kids1, "pid:[", 5) == 0 && strcmp(kids1, pid1) != 0);
	CHECK("the child's ns/pid is the parent's pid_for_children", strcmp(inner, kids1) == 0);
	fflush(stdout);
	pid_t d = fork();
	int e = errno;
	if (d == 0)
		_exit(0);
	CHECK_EQ("fork after init exited", d, -1);
	CHECK_EQ("fails with ENOMEM", e, ENOMEM);
}

/* sandboxed: the sandbox runs the test as pid 1 and is its own mount
 * namespace (it refuses CLONE_NEWNS). */
static int sandboxed;

/* A /proc mounted from inside a namespace shows that namespace. */
static void proc_mount_child(void)
{
	int r = unshare(CLONE_NEWNS);
	if (r != 0 && sandboxed)
		r = 0;
	REQUIRE("a private mount namespace", r == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	char dir[64];
	snprintf(dir, sizeof dir, "/tmp/pidns_proc.%d", getpid());
	REQUIRE("mkdir", mkdir(dir, 0755) == 0);
	fflush(stdout);
	pid_t pid = clone_ns(0, NULL, NULL);
	if (pid == 0) {
		check_failures = 0;
		CHECK_OK("mount proc inside", mount("proc", dir, "proc", 0, NULL));
		char path[96], buf[64] = "";
		snprintf(path, sizeof path, "%s/self", dir);
		ssize_t l = readlink(path, buf, sizeof buf - 1);
		buf[l > 0 ? l : 0] = 0;
		CHECK("its self is 1", strcmp(buf, "1") == 0);
		int pids = 0, one = 0;
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
				pids++;
				one |= strcmp(e->d_name, "1") == 0;
			}
		}
		if (d)
			closedir(d);
		CHECK("it lists only the namespace's pid 1", pids == 1 && one);
		snprintf(path, sizeof path, "%s/1/status", dir);
		FILE *f = fopen(path, "r");
		char line[128];
		int ok = 0;
		while (f && fgets(line, sizeof line, f))
			ok |= strcmp(line, "NSpid:\t1\n") == 0;
		if (f)
			fclose(f);
		CHECK("its NSpid has one value", ok);
		umount(dir);
		child_done();
	}
	reap("the namespace's init", pid, 0);
	rmdir(dir);
}

/* Without CAP_SYS_ADMIN, no new PID namespace. */
static void unprivileged_child(void)
{
	REQUIRE("setresuid 65534", setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
	CHECK_ERR("clone(CLONE_NEWPID) unprivileged", clone_ns(0, NULL, NULL), EPERM);
	CHECK_ERR("unshare(CLONE_NEWPID) unprivileged", unshare(CLONE_NEWPID), EPERM);
}

int main(void)
{
	sandboxed = getpid() == 1;
	CHECK_ERR("CLONE_NEWPID|CLONE_THREAD",
		  syscall(SYS_clone, CLONE_NEWPID | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, 0, 0, 0, 0), EINVAL);
	test_ids();
	test_signals();
	test_init_exit();
	test_pgrp();
	test_ptrace();
	check_in_child("unshare", NULL, unshare_child);
	check_in_child("proc mount", NULL, proc_mount_child);
	check_in_child("unprivileged", NULL, unprivileged_child);
	return check_done();
}
