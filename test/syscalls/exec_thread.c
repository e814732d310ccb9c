/* exec_thread: execve from a multithreaded process. When a thread other
 * than the leader execs, the other threads die, the process keeps its pid
 * and the exec'ing thread becomes its leader (gettid() == getpid()); the
 * parent is unchanged; close-on-exec descriptors are closed and the others
 * kept. A failed execve leaves every thread running. Also: vfork + exec
 * releases the parent, and execveat with a directory descriptor, with
 * AT_EMPTY_PATH (fexecve) and with AT_SYMLINK_NOFOLLOW (ELOOP), and comm
 * after exec. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Threads that must stay alive block here. */
static int forever;

static char *self;
static pid_t tid_a, tid_b;

static long tgkill0(pid_t pid, pid_t tid)
{
	return syscall(SYS_tgkill, pid, tid, 0);
}

/* After the exec: argv = self phase2 PID PPID TID_A TID_B */
static int phase2(char **argv)
{
	pid_t pid = atoi(argv[2]), ppid = atoi(argv[3]);
	pid_t a = atoi(argv[4]), b = atoi(argv[5]);
	CHECK_EQ("pid kept across exec", getpid(), pid);
	CHECK_EQ("exec'd thread is the leader", syscall(SYS_gettid), pid);
	CHECK_EQ("parent unchanged", getppid(), ppid);
	CHECK_ERR("other thread gone", tgkill0(pid, a), ESRCH);
	if (b != pid)
		CHECK_ERR("exec'ing thread's old tid gone", tgkill0(pid, b), ESRCH);
	CHECK_ERR("close-on-exec descriptor closed", fcntl(20, F_GETFD), EBADF);
	CHECK_OK("other descriptor kept", fcntl(21, F_GETFD));
	char comm[16] = { 0 };
	prctl(PR_GET_NAME, comm);
	CHECK("comm is the file name", strcmp(comm, "exec_thread") == 0);
	return check_done();
}

static void *sleeper(void *arg)
{
	(void)arg;
	tid_a = syscall(SYS_gettid);
	for (;;)
		for (;;)
		syscall(SYS_futex, &forever, FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

static void exec_phase2(pid_t ppid)
{
	char s[4][16];
	snprintf(s[0], 16, "%d", getpid());
	snprintf(s[1], 16, "%d", ppid);
	snprintf(s[2], 16, "%d", tid_a);
	snprintf(s[3], 16, "%d", tid_b);
	char *args[] = { self, "phase2", s[0], s[1], s[2], s[3], NULL };
	fflush(stdout);
	execv(self, args);
}

static void *execer(void *arg)
{
	pid_t ppid = *(pid_t *)arg;
	tid_b = syscall(SYS_gettid);
	char *bad[] = { "nope", NULL };
	CHECK_ERR("exec of a missing file", execv("/nonexistent/program", bad), ENOENT);
	CHECK_OK("failed exec left the other thread", tgkill0(getpid(), tid_a));
	exec_phase2(ppid);
	printf("FAIL exec: %s\n", check_errname(errno));
	_exit(1);
}

static void setup_fds(void)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int b = open("/dev/null", O_RDONLY);
	dup3(a, 20, O_CLOEXEC);
	dup2(b, 21);
	close(a);
	close(b);
}

/* In a child: a non-leader thread execs (leader = 0) or the leader does. */
static int threaded_exec(int leader)
{
	pid_t ppid = getppid();
	setup_fds();
	pthread_t ta, tb;
	pthread_create(&ta, NULL, sleeper, NULL);
	while (__atomic_load_n(&tid_a, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);
	if (leader) {
		tid_b = getpid();
		exec_phase2(ppid);
		return 1;
	}
	pthread_create(&tb, NULL, execer, &ppid);
	pthread_join(tb, NULL); /* never returns: the exec kills us */
	return 1;
}

static int run_child(int (*fn)(int), int arg)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* argv = self code COMM: exits with code, +50 if comm is not COMM. */
static int exit_code(char **argv)
{
	char comm[16] = { 0 };
	prctl(PR_GET_NAME, comm);
	return atoi(argv[2]) + (strncmp(comm, argv[3], 15) == 0 ? 0 : 50);
}

static int try_execveat(int dirfd, const char *path, int flags, const char *code, const char *comm)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = { self, "code", (char *)code, (char *)comm, NULL };
		syscall(SYS_execveat, dirfd, path, args, environ, flags);
		_exit(100 + errno);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile int vfork_marker;

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc >= 6 && strcmp(argv[1], "phase2") == 0)
		return phase2(argv);
	if (argc >= 4 && strcmp(argv[1], "code") == 0)
		return exit_code(argv);
	REQUIRE("absolute argv[0]", self[0] == '/');

	CHECK_EQ("non-leader thread execs", run_child(threaded_exec, 0), 0);
	CHECK_EQ("leader execs with a thread running", run_child(threaded_exec, 1), 0);

	/* vfork: the parent runs again once the child has exec'd. */
	vfork_marker = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		vfork_marker = 1;
		char *args[] = { self, "code", "7", "exec_thread", NULL };
		execv(self, args);
		_exit(127);
	}
	CHECK_EQ("vfork child ran before the parent", vfork_marker, 1);
	int st;
	CHECK_EQ("vfork+exec waitpid", waitpid(pid, &st, 0), pid);
	CHECK_EQ("vfork+exec exit status", WEXITSTATUS(st), 7);

	/* execveat. */
	char dir[4096], base[256];
	snprintf(dir, sizeof(dir), "%s", self);
	snprintf(base, sizeof(base), "%s", basename(self));
	int dirfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
	REQUIRE("open the test's directory", dirfd >= 0);
	CHECK_EQ("execveat dirfd + relative name", try_execveat(dirfd, base, 0, "11", "exec_thread"), 11);
	int fd = open(self, O_RDONLY);
	REQUIRE("open self", fd >= 0);
	CHECK_EQ("execveat AT_EMPTY_PATH (fexecve)", try_execveat(fd, "", AT_EMPTY_PATH, "12", "exec_thread"), 12);
	CHECK_EQ("execveat absolute path ignores dirfd", try_execveat(fd, self, 0, "13", "exec_thread"), 13);
	CHECK_EQ("execveat file dirfd + relative name", try_execveat(fd, "x", 0, "0", ""), 100 + ENOTDIR);
	CHECK_EQ("execveat empty path without AT_EMPTY_PATH", try_execveat(fd, "", 0, "0", ""), 100 + ENOENT);
	CHECK_EQ("execveat AT_EMPTY_PATH on a directory", try_execveat(dirfd, "", AT_EMPTY_PATH, "0", ""),
		 100 + EACCES);
	CHECK_EQ("execveat bad flags", try_execveat(AT_FDCWD, self, 0x1, "0", ""), 100 + EINVAL);
	CHECK_EQ("execveat bad dirfd", try_execveat(999, base, 0, "0", ""), 100 + EBADF);

	char link[64];
	snprintf(link, sizeof(link), "/tmp/exlink%d", getpid());
	REQUIRE("symlink", symlink(self, link) == 0);
	CHECK_EQ("execveat AT_SYMLINK_NOFOLLOW on a symlink", try_execveat(AT_FDCWD, link, AT_SYMLINK_NOFOLLOW, "0", ""),
		 100 + ELOOP);
	/* comm is the name that was executed, not the link's target. */
	CHECK_EQ("execveat through a symlink", try_execveat(AT_FDCWD, link, 0, "14", basename(link)), 14);
	CHECK_EQ("execveat AT_SYMLINK_NOFOLLOW on a file", try_execveat(AT_FDCWD, self, AT_SYMLINK_NOFOLLOW, "15",
									 "exec_thread"),
		 15);
	unlink(link);
	return check_done();
}
