/*
 * pidfd: process file descriptors, as Linux 6.18 has them (pidfd_open(2),
 * pidfd_send_signal(2), pidfd_getfd(2), waitid(2) P_PIDFD, clone(2)
 * CLONE_PIDFD).
 *
 * A pidfd is a close-on-exec O_RDWR descriptor ("anon_inode:[pidfd]")
 * that stands for one process (or, with PIDFD_THREAD, one thread) by
 * reference: it is neither readable nor writable, and polls POLLIN once
 * every thread of the process has exited, POLLIN|POLLHUP once it has been
 * reaped. pidfd_open takes a process' pid (a zombie's too; ENOENT for a
 * thread other than the leader, ESRCH for nothing). pidfd_send_signal
 * signals it as kill does, or its leader thread (PIDFD_SIGNAL_THREAD), or
 * the process group the pid leads; a siginfo with si_code >= 0 is refused
 * unless the caller signals itself; a reaped process is ESRCH. waitid
 * P_PIDFD waits for that child only (EAGAIN for a non-blocking pidfd with
 * nothing to report). pidfd_getfd duplicates one of the process'
 * descriptors, close-on-exec, for a caller that may ptrace it. CLONE_PIDFD
 * hands the child's pidfd to the parent, and a bad address for it fails
 * the clone without leaking the descriptor.
 */
#include "check.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define PIDFD_SIGNAL_THREAD 1
#define PIDFD_SIGNAL_THREAD_GROUP 2
#define PIDFD_SIGNAL_PROCESS_GROUP 4

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }

static int pidfd_send(int fd, int sig, siginfo_t *info, unsigned flags)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static int pidfd_getfd(int fd, int target, unsigned flags) { return syscall(SYS_pidfd_getfd, fd, target, flags); }

/* revents polls fd for POLLIN, waiting up to ms. */
static int revents(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, ms) < 0)
		return -1;
	return p.revents;
}

/* child forks a process that waits for a byte on *wr's pipe and exits
 * with code; *wr is the write end. */
static pid_t child(int *wr, int code)
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) < 0)
			_exit(99);
		_exit(code);
	}
	close(p[0]);
	*wr = p[1];
	return pid;
}

/* fdinfo_has reports whether /proc/self/fdinfo/fd has the line want. */
static int fdinfo_has(int fd, const char *want)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY);
	if (f < 0)
		return 0;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strstr(buf, want) != NULL;
}

static volatile pid_t thread_tid;
static int thread_pipe[2];

static void *thread_main(void *arg)
{
	(void)arg;
	char c;
	thread_tid = syscall(SYS_gettid);
	if (read(thread_pipe[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

static void open_and_file(void)
{
	int fd = CHECK_OK("open: self", pidfd_open(getpid(), 0));
	CHECK_EQ("open: close-on-exec", fcntl(fd, F_GETFD), FD_CLOEXEC);
	CHECK_EQ("open: O_RDWR", fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR);
	char path[64], link[64] = "";
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	CHECK("open: link", readlink(path, link, sizeof(link) - 1) > 0 && strcmp(link, "anon_inode:[pidfd]") == 0);
	char line[64];
	snprintf(line, sizeof(line), "Pid:\t%d\nNSpid:\t%d\n", getpid(), getpid());
	CHECK("open: fdinfo", fdinfo_has(fd, line));
	char b[8];
	CHECK_ERR("open: read", read(fd, b, sizeof(b)), EINVAL);
	CHECK_ERR("open: write", write(fd, b, sizeof(b)), EINVAL);
	CHECK_ERR("open: lseek", lseek(fd, 0, SEEK_SET), ESPIPE);
	CHECK_EQ("open: live process polls nothing", revents(fd, 0), 0);
	close(fd);

	fd = CHECK_OK("open: PIDFD_NONBLOCK", pidfd_open(getpid(), PIDFD_NONBLOCK));
	CHECK("open: O_NONBLOCK", fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	CHECK_ERR("open: pid 0", pidfd_open(0, 0), EINVAL);
	CHECK_ERR("open: pid -1", pidfd_open(-1, 0), EINVAL);
	CHECK_ERR("open: bad flags", pidfd_open(getpid(), 1), EINVAL);
	CHECK_ERR("open: no such pid", pidfd_open(4000000, 0), ESRCH);

	pthread_t th;
	if (pipe(thread_pipe) || pthread_create(&th, NULL, thread_main, NULL)) {
		check_fail("open: thread", "setup");
		return;
	}
	while (!thread_tid)
		usleep(1000);
	CHECK_ERR("open: thread without PIDFD_THREAD", pidfd_open(thread_tid, 0), ENOENT);
	int tfd = CHECK_OK("open: PIDFD_THREAD", pidfd_open(thread_tid, PIDFD_THREAD));
	CHECK_EQ("open: live thread polls nothing", revents(tfd, 0), 0);
	CHECK_OK("send: to a thread", pidfd_send(tfd, 0, NULL, 0));
	if (write(thread_pipe[1], "x", 1) != 1)
		check_fail("open: thread", "write");
	pthread_join(th, NULL);
	CHECK_EQ("open: exited thread", revents(tfd, 5000), POLLIN | POLLHUP);
	CHECK_ERR("send: to an exited thread", pidfd_send(tfd, 0, NULL, 0), ESRCH);
	close(tfd);
}

/* A child's life through its pidfd: alive, zombie, reaped. */
static void lifecycle(void)
{
	int wr;
	pid_t pid = child(&wr, 0);
	int fd = CHECK_OK("life: open", pidfd_open(pid, 0));
	int nb = CHECK_OK("life: open nonblocking", pidfd_open(pid, PIDFD_NONBLOCK));
	CHECK_EQ("life: alive", revents(fd, 0), 0);
	CHECK_OK("life: signal 0", pidfd_send(fd, 0, NULL, 0));
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("life: WNOHANG", waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG));
	CHECK_EQ("life: WNOHANG found nothing", si.si_pid, 0);
	CHECK_ERR("life: nonblocking pidfd", waitid(P_PIDFD, nb, &si, WEXITED), EAGAIN);
	CHECK_OK("life: SIGTERM", pidfd_send(fd, SIGTERM, NULL, 0));
	CHECK_EQ("life: zombie polls readable", revents(fd, 5000), POLLIN);
	CHECK_OK("life: signal 0 to a zombie", pidfd_send(fd, 0, NULL, 0));
	int z = CHECK_OK("life: open a zombie", pidfd_open(pid, 0));
	close(z);
	CHECK_ERR("life: getfd of a zombie", pidfd_getfd(fd, 0, 0), ESRCH);
	memset(&si, 0, sizeof(si));
	CHECK_OK("life: waitid", waitid(P_PIDFD, fd, &si, WEXITED));
	CHECK("life: waitid result", si.si_pid == pid && si.si_code == CLD_KILLED && si.si_status == SIGTERM);
	CHECK_EQ("life: reaped", revents(fd, 0), POLLIN | POLLHUP);
	CHECK_ERR("life: signal after reaping", pidfd_send(fd, 0, NULL, 0), ESRCH);
	CHECK_ERR("life: waitid after reaping", waitid(P_PIDFD, fd, &si, WEXITED), ECHILD);
	CHECK_ERR("life: open after reaping", pidfd_open(pid, 0), ESRCH);
	CHECK("life: fdinfo after reaping", fdinfo_has(fd, "Pid:\t-1\nNSpid:\t-1\n"));
	close(fd);
	close(nb);
	close(wr);
}

/* Waits that block: waitid and epoll wake when the child exits. */
static void wakeups(void)
{
	int wr;
	pid_t pid = child(&wr, 5);
	int fd = pidfd_open(pid, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN}, got;
	CHECK_OK("wake: epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK_EQ("wake: epoll before", epoll_wait(ep, &got, 1, 0), 0);
	pid_t waker = fork();
	if (waker == 0) {
		usleep(50000);
		_exit(write(wr, "x", 1) == 1 ? 0 : 1);
	}
	CHECK_EQ("wake: epoll", epoll_wait(ep, &got, 1, 5000), 1);
	CHECK_EQ("wake: epoll event", got.events, EPOLLIN);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("wake: waitid", waitid(P_PIDFD, fd, &si, WEXITED));
	CHECK("wake: exit code", si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 5);
	waitpid(waker, NULL, 0);
	close(ep);
	close(fd);
	close(wr);

	/* A blocking waitid returns when the child exits. */
	pid = child(&wr, 6);
	fd = pidfd_open(pid, 0);
	waker = fork();
	if (waker == 0) {
		usleep(50000);
		_exit(write(wr, "x", 1) == 1 ? 0 : 1);
	}
	memset(&si, 0, sizeof(si));
	CHECK_OK("wake: blocking waitid", waitid(P_PIDFD, fd, &si, WEXITED));
	CHECK("wake: blocking waitid result", si.si_pid == pid && si.si_status == 6);
	waitpid(waker, NULL, 0);
	close(fd);
	close(wr);

	int self = pidfd_open(getpid(), 0);
	CHECK_ERR("wait: not a child", waitid(P_PIDFD, self, &si, WEXITED | WNOHANG), ECHILD);
	CHECK_ERR("wait: negative", waitid(P_PIDFD, -1, &si, WEXITED | WNOHANG), EINVAL);
	CHECK_ERR("wait: not a pidfd", waitid(P_PIDFD, 0, &si, WEXITED | WNOHANG), EBADF);
	close(self);
}

static void signals(void)
{
	int status;
	int self = pidfd_open(getpid(), 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct timespec ts = {2, 0};
	siginfo_t si;

	CHECK_OK("send: to self", pidfd_send(self, SIGUSR1, NULL, 0));
	CHECK("send: SI_USER from self", sigtimedwait(&set, &si, &ts) == SIGUSR1 && si.si_code == SI_USER &&
						 si.si_pid == getpid() && si.si_uid == getuid());
	CHECK_OK("send: PIDFD_SIGNAL_THREAD", pidfd_send(self, SIGUSR1, NULL, PIDFD_SIGNAL_THREAD));
	CHECK("send: SI_USER to a thread too", sigtimedwait(&set, &si, &ts) == SIGUSR1 && si.si_code == SI_USER);
	siginfo_t in;
	memset(&in, 0, sizeof(in));
	in.si_signo = SIGUSR1;
	in.si_code = SI_USER;
	in.si_value.sival_int = 42;
	CHECK_OK("send: own siginfo to self", pidfd_send(self, SIGUSR1, &in, 0));
	CHECK("send: own siginfo delivered", sigtimedwait(&set, &si, &ts) == SIGUSR1 && si.si_code == SI_USER &&
						      si.si_value.sival_int == 42);
	in.si_signo = SIGUSR2;
	CHECK_ERR("send: si_signo not sig", pidfd_send(self, SIGUSR1, &in, 0), EINVAL);
	CHECK_ERR("send: bad signal", pidfd_send(self, 65, NULL, 0), EINVAL);
	CHECK_ERR("send: bad flags", pidfd_send(self, 0, NULL, 8), EINVAL);
	CHECK_ERR("send: two flags", pidfd_send(self, 0, NULL, 3), EINVAL);
	CHECK_ERR("send: not a pidfd", pidfd_send(0, 0, NULL, 0), EBADF);
	CHECK_ERR("send: bad fd", pidfd_send(999, 0, NULL, 0), EBADF);
	close(self);
	sigprocmask(SIG_UNBLOCK, &set, NULL);

	int wr;
	pid_t pid = child(&wr, 0);
	int fd = pidfd_open(pid, 0);
	in.si_signo = SIGUSR1;
	in.si_code = SI_USER;
	CHECK_ERR("send: SI_USER to another", pidfd_send(fd, SIGUSR1, &in, 0), EPERM);
	in.si_code = SI_TKILL;
	CHECK_ERR("send: SI_TKILL to another", pidfd_send(fd, SIGUSR1, &in, 0), EPERM);
	CHECK_OK("send: THREAD_GROUP", pidfd_send(fd, 0, NULL, PIDFD_SIGNAL_THREAD_GROUP));
	CHECK_OK("send: THREAD", pidfd_send(fd, 0, NULL, PIDFD_SIGNAL_THREAD));
	CHECK_ERR("send: not a group leader", pidfd_send(fd, 0, NULL, PIDFD_SIGNAL_PROCESS_GROUP), ESRCH);
	in.si_code = SI_QUEUE;
	CHECK_OK("send: SI_QUEUE to another", pidfd_send(fd, SIGUSR1, &in, 0));
	memset(&si, 0, sizeof(si));
	waitid(P_PIDFD, fd, &si, WEXITED);
	CHECK("send: SIGUSR1 ended it", si.si_code == CLD_KILLED && si.si_status == SIGUSR1);
	close(fd);
	close(wr);

	/* So does an open /proc/[pid] directory (and nothing else of /proc). */
	pid = child(&wr, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", pid);
	int dir = open(path, O_RDONLY | O_DIRECTORY);
	CHECK_OK("send: /proc/[pid] as a pidfd", pidfd_send(dir, 0, NULL, 0));
	snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, pid);
	int tdir = open(path, O_RDONLY | O_DIRECTORY);
	CHECK_ERR("send: /proc/[pid]/task/[tid] is not", pidfd_send(tdir, 0, NULL, 0), EBADF);
	close(tdir);
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	tdir = open(path, O_RDONLY | O_DIRECTORY);
	CHECK_ERR("send: /proc/[pid]/fd is not", pidfd_send(tdir, 0, NULL, 0), EBADF);
	close(tdir);
	CHECK_OK("send: SIGKILL through /proc/[pid]", pidfd_send(dir, SIGKILL, NULL, 0));
	CHECK_EQ("send: killed", waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) ? WTERMSIG(status) : -1, SIGKILL);
	CHECK_ERR("send: /proc/[pid] of a reaped process", pidfd_send(dir, 0, NULL, 0), ESRCH);
	close(dir);
	close(wr);

	/* A process group leader's pidfd reaches its group. */
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(pid, pid);
	fd = pidfd_open(pid, 0);
	CHECK_OK("send: PROCESS_GROUP", pidfd_send(fd, SIGKILL, NULL, PIDFD_SIGNAL_PROCESS_GROUP));
	memset(&si, 0, sizeof(si));
	waitid(P_PIDFD, fd, &si, WEXITED);
	CHECK("send: group killed", si.si_code == CLD_KILLED && si.si_status == SIGKILL);
	close(fd);
}

static void getfd(void)
{
	int wr;
	pid_t pid = child(&wr, 0);
	int fd = pidfd_open(pid, 0);
	int d0 = pidfd_getfd(fd, 0, 0);
	CHECK("getfd: fd 0", d0 >= 0);
	close(d0);
	int dup = CHECK_OK("getfd: stdout", pidfd_getfd(fd, 1, 0));
	CHECK_EQ("getfd: close-on-exec", fcntl(dup, F_GETFD), FD_CLOEXEC);
	struct stat a, b;
	CHECK("getfd: same file", fstat(dup, &a) == 0 && fstat(1, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(dup);
	CHECK_ERR("getfd: no such fd", pidfd_getfd(fd, 999, 0), EBADF);
	CHECK_ERR("getfd: flags", pidfd_getfd(fd, 0, 1), EINVAL);
	CHECK_ERR("getfd: not a pidfd", pidfd_getfd(0, 0, 0), EBADF);
	if (write(wr, "x", 1) != 1)
		check_fail("getfd", "write");
	waitpid(pid, NULL, 0);
	close(fd);
	close(wr);
}

static int root_pidfd;

static void as_nobody(void)
{
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(2);
}

static void unprivileged(void)
{
	CHECK_ERR("nobody: getfd of root's process", pidfd_getfd(root_pidfd, 0, 0), EPERM);
	CHECK_ERR("nobody: signal root's process", pidfd_send(root_pidfd, 0, NULL, 0), EPERM);
	int self = pidfd_open(getpid(), 0);
	CHECK_OK("nobody: getfd of itself", pidfd_getfd(self, 0, 0));
}

static void clone_pidfd(void)
{
	int pfd = -1;
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uintptr_t)&pfd;
	ca.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		_exit(3);
	CHECK("clone3: child", pid > 0);
	CHECK("clone3: pidfd", pfd > 2 && fcntl(pfd, F_GETFD) == FD_CLOEXEC);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("clone3: waitid", waitid(P_PIDFD, pfd, &si, WEXITED));
	CHECK("clone3: exit code", si.si_pid == pid && si.si_status == 3);
	close(pfd);

	pfd = -1;
	pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pfd, 0, 0);
	if (pid == 0)
		_exit(4);
	CHECK("clone: pidfd at parent_tid", pid > 0 && pfd > 2);
	memset(&si, 0, sizeof(si));
	CHECK_OK("clone: waitid", waitid(P_PIDFD, pfd, &si, WEXITED));
	CHECK_EQ("clone: exit code", si.si_status, 4);
	close(pfd);

	CHECK_ERR("clone: with PARENT_SETTID", syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pfd, 0, 0),
		  EINVAL);
	CHECK_ERR("clone: with DETACHED", syscall(SYS_clone, CLONE_PIDFD | CLONE_DETACHED | SIGCHLD, 0, &pfd, 0, 0), EINVAL);
	int next = dup(0);
	close(next);
	ca.pidfd = 8; /* not writable */
	CHECK_ERR("clone3: bad pidfd address", syscall(SYS_clone3, &ca, sizeof(ca)), EFAULT);
	int after = dup(0);
	close(after);
	CHECK_EQ("clone3: no descriptor leaked", after, next);
	CHECK_ERR("clone3: no child made", waitpid(-1, NULL, WNOHANG), ECHILD);
}

/* A process whose leader thread exited but whose other thread lives is
 * not done: its pidfd polls nothing, opens and takes signals. */
static void leader_gone(void)
{
	int p[2];
	if (pipe(p))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t th;
		thread_pipe[0] = p[0];
		if (pthread_create(&th, NULL, thread_main, NULL))
			_exit(1);
		syscall(SYS_exit, 0); /* the leader alone */
	}
	close(p[0]);
	int fd = pidfd_open(pid, 0);
	usleep(100000);
	CHECK_EQ("leader gone: polls nothing", revents(fd, 0), 0);
	int again = CHECK_OK("leader gone: open", pidfd_open(pid, 0));
	close(again);
	CHECK_OK("leader gone: signal 0", pidfd_send(fd, 0, NULL, 0));
	if (write(p[1], "x", 1) != 1)
		check_fail("leader gone", "write");
	CHECK_EQ("leader gone: last thread exits", revents(fd, 5000), POLLIN);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_OK("leader gone: waitid", waitid(P_PIDFD, fd, &si, WEXITED));
	CHECK("leader gone: status", si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 0);
	close(fd);
	close(p[1]);
}

int main(void)
{
	open_and_file();
	lifecycle();
	wakeups();
	signals();
	getfd();
	root_pidfd = pidfd_open(getpid(), 0);
	check_in_child("nobody", as_nobody, unprivileged);
	close(root_pidfd);
	clone_pidfd();
	leader_gone();
	return check_done();
}
