/*
 * proc_pid: /proc/[pid] of other processes: a child's stat and status while
 * it sleeps, Z while it is an unreaped zombie, gone (ENOENT, ESRCH on an
 * already open file) once reaped; /proc lists pids in numeric order after the
 * system entries; threads appear under task/; another user's environ needs
 * ptrace access.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* stat_state returns the state letter and ppid of /proc/pid/stat. */
static char stat_state(int pid, long *ppid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	char st = 0;
	sscanf(p + 2, "%c %ld", &st, ppid);
	return st;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

static void check_child(void)
{
	int go[2];
	REQUIRE("pipe", pipe(go) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(go[1]);
		read(go[0], &c, 1);
		_exit(7);
	}
	REQUIRE("fork", pid > 0);
	close(go[0]);
	char path[64], buf[4096];
	long ppid = 0;
	char st = 0;
	/* Wait until the child is blocked in read. */
	for (int i = 0; i < 500; i++) {
		st = stat_state(pid, &ppid);
		if (st == 'S')
			break;
		sleep_ms(10);
	}
	CHECK_EQ("child: state S while blocked", st, 'S');
	CHECK_EQ("child: ppid is us", ppid, getpid());
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	slurp(path, buf, sizeof(buf));
	CHECK_EQ("child: stat field 1", atoi(buf), pid);

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	REQUIRE("child: read status", slurp(path, buf, sizeof(buf)) > 0);
	char want[64];
	snprintf(want, sizeof(want), "\nPPid:\t%d\n", getpid());
	CHECK("child: status PPid", strstr(buf, want) != NULL);
	snprintf(want, sizeof(want), "\nTgid:\t%d\n", pid);
	CHECK("child: status Tgid", strstr(buf, want) != NULL);
	CHECK("child: status State S", strstr(buf, "\nState:\tS (sleeping)\n") != NULL);

	char mine[4096], theirs[4096];
	long a = slurp("/proc/self/cmdline", mine, sizeof(mine));
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	long b = slurp(path, theirs, sizeof(theirs));
	CHECK("child: cmdline is the parent's", a > 0 && a == b && memcmp(mine, theirs, a) == 0);

	/* /proc lists the child; pids come after every named entry, in
	 * numeric order. */
	DIR *d = opendir("/proc");
	REQUIRE("opendir /proc", d != NULL);
	struct dirent *de;
	int seen_child = 0, seen_self = 0, in_pids = 0, ordered = 1, last = -1;
	while ((de = readdir(d)) != NULL) {
		int numeric = de->d_name[0] >= '0' && de->d_name[0] <= '9';
		if (numeric) {
			int v = atoi(de->d_name);
			in_pids = 1;
			if (v <= last)
				ordered = 0;
			last = v;
			seen_child |= v == pid;
			seen_self |= v == getpid();
			if (de->d_type != DT_DIR)
				ordered = 0;
		} else if (in_pids) {
			ordered = 0;
		}
	}
	closedir(d);
	CHECK("/proc lists the child", seen_child);
	CHECK("/proc lists us", seen_self);
	CHECK("/proc: pids last, in numeric order", ordered);

	/* Let it exit; it stays a zombie until we reap it. */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int held = open(path, O_RDONLY);
	CHECK("open child's stat", held >= 0);
	write(go[1], "x", 1);
	close(go[1]);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	CHECK_EQ("waitid WNOWAIT", waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
	st = stat_state(pid, &ppid);
	CHECK_EQ("zombie: state Z", st, 'Z');
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	slurp(path, buf, sizeof(buf));
	CHECK("zombie: status State Z", strstr(buf, "\nState:\tZ (zombie)\n") != NULL);
	CHECK("zombie: no VmSize", strstr(buf, "VmSize") == NULL);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	CHECK_EQ("zombie: empty cmdline", slurp(path, buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	CHECK_ERR("zombie: exe unreadable", readlink(path, buf, sizeof(buf)), ENOENT);

	int status = 0;
	CHECK_EQ("reap", waitpid(pid, &status, 0), pid);
	CHECK("exit 7", WIFEXITED(status) && WEXITSTATUS(status) == 7);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	CHECK_ERR("reaped: stat gone", open(path, O_RDONLY), ENOENT);
	snprintf(path, sizeof(path), "/proc/%d", pid);
	struct stat sb;
	CHECK_ERR("reaped: directory gone", stat(path, &sb), ENOENT);
	CHECK_ERR("reaped: open file gives ESRCH", pread(held, buf, sizeof(buf), 0), ESRCH);
	close(held);
}

static pthread_barrier_t bar;
static volatile long thread_tid;

static void *thread_main(void *arg)
{
	(void)arg;
	thread_tid = syscall(SYS_gettid);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	return NULL;
}

static void check_threads(void)
{
	pthread_t th;
	pthread_barrier_init(&bar, NULL, 2);
	REQUIRE("pthread_create", pthread_create(&th, NULL, thread_main, NULL) == 0);
	pthread_barrier_wait(&bar);
	DIR *d = opendir("/proc/self/task");
	REQUIRE("opendir task", d != NULL);
	struct dirent *de;
	int n = 0, found = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		found += atol(de->d_name) == thread_tid;
	}
	closedir(d);
	CHECK_EQ("task/ lists two threads", n, 2);
	CHECK("task/ lists the new thread", found == 1);
	char path[96], buf[4096];
	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", thread_tid);
	REQUIRE("read thread's stat", slurp(path, buf, sizeof(buf)) > 0);
	CHECK_EQ("thread stat field 1 is its tid", atol(buf), thread_tid);
	slurp("/proc/self/status", buf, sizeof(buf));
	CHECK("status Threads 2", strstr(buf, "\nThreads:\t2\n") != NULL);
	snprintf(path, sizeof(path), "/proc/%d/task/%ld/status", getpid(), thread_tid);
	slurp(path, buf, sizeof(buf));
	char want[64];
	snprintf(want, sizeof(want), "\nPid:\t%ld\n", thread_tid);
	CHECK("thread status Pid is its tid", strstr(buf, want) != NULL);
	snprintf(want, sizeof(want), "\nTgid:\t%d\n", getpid());
	CHECK("thread status Tgid is the pid", strstr(buf, want) != NULL);
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
}

/* Another user's process: environ needs ptrace access. */
static void check_other_user(void)
{
	if (geteuid() != 0) {
		printf("not root: other-user checks skipped\n");
		return;
	}
	int ready[2];
	pipe(ready);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
			_exit(2);
		char path[64], buf[256];
		int bad = 0;
		snprintf(path, sizeof(path), "/proc/%d/environ", getppid());
		errno = 0;
		if (open(path, O_RDONLY) != -1 || errno != EACCES)
			bad |= 1;
		snprintf(path, sizeof(path), "/proc/%d/stat", getppid());
		if (slurp(path, buf, sizeof(buf)) <= 0)
			bad |= 2;
		snprintf(path, sizeof(path), "/proc/%d/fd", getppid());
		errno = 0;
		if (opendir(path) != NULL || errno != EACCES)
			bad |= 4;
		snprintf(path, sizeof(path), "/proc/%d/cwd", getppid());
		errno = 0;
		if (readlink(path, buf, sizeof(buf)) != -1 || errno != EACCES)
			bad |= 8;
		struct stat sb;
		if (stat("/proc/self", &sb) != 0 || sb.st_uid != 65534)
			bad |= 32;
		_exit(bad);
	}
	REQUIRE("fork", pid > 0);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK("other user: child ran", WIFEXITED(status));
	int bad = WEXITSTATUS(status);
	CHECK("other user: environ EACCES", !(bad & 1));
	CHECK("other user: stat readable", !(bad & 2));
	CHECK("other user: fd/ EACCES", !(bad & 4));
	CHECK("other user: cwd EACCES", !(bad & 8));
	CHECK("other user: /proc/self owned by new uid", !(bad & 32));
}

int main(void)
{
	check_child();
	check_threads();
	check_other_user();
	return check_done();
}
