/*
 * proc_self: a process reads its own /proc/self: stat, status, cmdline,
 * environ, comm, the exe/cwd/root links, fd/ and fdinfo/, task/, limits and
 * thread-self, and every value agrees with what the syscalls report.
 */
// rampart:args one "two words" three
// rampart:env PROCTEST=yes
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* slurp reads a whole file into buf (NUL-terminated); returns its length or
 * -1. */
static long slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	return n;
}

/* field returns the value of "Key:\t..." in a status text, or NULL. */
static const char *field(const char *text, const char *key)
{
	static char val[256];
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
			const char *v = p + kl + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			size_t l = strcspn(v, "\n");
			if (l >= sizeof(val))
				l = sizeof(val) - 1;
			memcpy(val, v, l);
			val[l] = 0;
			return val;
		}
	}
	return NULL;
}

static char buf[1 << 16];

static void check_stat(void)
{
	REQUIRE("read /proc/self/stat", slurp("/proc/self/stat", buf, sizeof(buf)) > 0);
	int pid = 0;
	sscanf(buf, "%d", &pid);
	CHECK_EQ("stat: field 1 is getpid()", pid, getpid());
	char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
	REQUIRE("stat: comm in parentheses", open_paren && close_paren && close_paren > open_paren);
	char comm[32] = {0};
	prctl(PR_GET_NAME, comm);
	CHECK("stat: comm is PR_GET_NAME", (size_t)(close_paren - open_paren - 1) == strlen(comm) &&
						  strncmp(open_paren + 1, comm, strlen(comm)) == 0);
	char state = 0;
	long ppid = 0, pgrp = 0, sid = 0, tty = -1;
	int n = sscanf(close_paren + 2, "%c %ld %ld %ld %ld", &state, &ppid, &pgrp, &sid, &tty);
	CHECK_EQ("stat: parsed", n, 5);
	CHECK_EQ("stat: state R", state, 'R');
	CHECK_EQ("stat: ppid", ppid, getppid());
	CHECK_EQ("stat: pgrp", pgrp, getpgrp());
	CHECK_EQ("stat: session", sid, getsid(0));
	int fields = 2;
	for (char *p = close_paren + 1; *p; p++)
		if (*p == ' ')
			fields++;
	CHECK_EQ("stat: 52 fields", fields, 52);
	unsigned long long f[53] = {0};
	char *p = close_paren + 2;
	for (int i = 3; i <= 52; i++) {
		if (i == 3) {
			p += 2;
			continue;
		}
		f[i] = strtoull(p, &p, 10);
	}
	CHECK_EQ("stat: num_threads", f[20], 1);
	CHECK("stat: vsize > 0", f[23] > 0);
	CHECK("stat: rss > 0", f[24] > 0);
}

static void check_status(void)
{
	REQUIRE("read /proc/self/status", slurp("/proc/self/status", buf, sizeof(buf)) > 0);
	char comm[32] = {0}, want[128];
	prctl(PR_GET_NAME, comm);
	CHECK("status: first line is Name", strncmp(buf, "Name:\t", 6) == 0);
	const char *v = field(buf, "Name");
	CHECK("status: Name", v && strcmp(v, comm) == 0);
	v = field(buf, "State");
	CHECK("status: State R (running)", v && strcmp(v, "R (running)") == 0);
	v = field(buf, "Tgid");
	CHECK("status: Tgid", v && atoi(v) == getpid());
	v = field(buf, "Pid");
	CHECK("status: Pid", v && atoi(v) == getpid());
	v = field(buf, "PPid");
	CHECK("status: PPid", v && atoi(v) == getppid());
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", r, e, s, e);
	v = field(buf, "Uid");
	CHECK("status: Uid", v && strcmp(v, want) == 0);
	gid_t gr, ge, gs;
	getresgid(&gr, &ge, &gs);
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", gr, ge, gs, ge);
	v = field(buf, "Gid");
	CHECK("status: Gid", v && strcmp(v, want) == 0);
	v = field(buf, "Threads");
	CHECK("status: Threads 1", v && strcmp(v, "1") == 0);
	v = field(buf, "Umask");
	mode_t um = umask(022);
	umask(um);
	snprintf(want, sizeof(want), "%04o", um);
	CHECK("status: Umask", v && strcmp(v, want) == 0);
	const char *keys[] = {"VmSize", "VmRSS", "SigBlk", "SigIgn", "SigCgt", "CapEff", "CapBnd", "Cpus_allowed_list", "NoNewPrivs", "Seccomp"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(want, sizeof(want), "status: has %s", keys[i]);
		CHECK(want, field(buf, keys[i]) != NULL);
	}
	v = field(buf, "VmSize");
	CHECK("status: VmSize in kB", v && strstr(v, " kB") && atol(v) > 0);
}

static void check_cmdline_environ(int argc, char **argv)
{
	long n = slurp("/proc/self/cmdline", buf, sizeof(buf));
	REQUIRE("read /proc/self/cmdline", n > 0);
	long want = 0;
	for (int i = 0; i < argc; i++)
		want += strlen(argv[i]) + 1;
	CHECK_EQ("cmdline: length", n, want);
	int same = 1;
	char *p = buf;
	for (int i = 0; i < argc && same; i++) {
		same = strcmp(p, argv[i]) == 0;
		p += strlen(p) + 1;
	}
	CHECK("cmdline: argv round-trips", same);
	printf("cmdline argv[2]=%s\n", buf + strlen(buf) + 1 + strlen(argv[1]) + 1);

	n = slurp("/proc/self/environ", buf, sizeof(buf));
	REQUIRE("read /proc/self/environ", n > 0);
	int found = 0;
	for (p = buf; p < buf + n; p += strlen(p) + 1)
		if (strcmp(p, "PROCTEST=yes") == 0)
			found = 1;
	CHECK("environ: has PROCTEST=yes", found);
	CHECK_EQ("environ: ends with NUL", buf[n - 1], 0);
}

static void check_links(char **argv)
{
	char want[PATH_MAX], got[PATH_MAX];
	REQUIRE("realpath argv[0]", realpath(argv[0], want) != NULL);
	ssize_t n = readlink("/proc/self/exe", got, sizeof(got) - 1);
	CHECK("readlink exe", n > 0);
	got[n > 0 ? n : 0] = 0;
	CHECK("exe is the test binary", strcmp(got, want) == 0);
	struct stat st1, st2;
	CHECK("stat exe follows to the binary", stat("/proc/self/exe", &st1) == 0 && stat(want, &st2) == 0 &&
							st1.st_ino == st2.st_ino);
	struct stat lst;
	CHECK("lstat exe is a symlink", lstat("/proc/self/exe", &lst) == 0 && S_ISLNK(lst.st_mode));

	REQUIRE("getcwd", getcwd(want, sizeof(want)) != NULL);
	n = readlink("/proc/self/cwd", got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	CHECK("cwd link is getcwd()", strcmp(got, want) == 0);
	n = readlink("/proc/self/root", got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	CHECK("root link is /", strcmp(got, "/") == 0);

	snprintf(want, sizeof(want), "%d", getpid());
	n = readlink("/proc/self", got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	CHECK("/proc/self is the pid", strcmp(got, want) == 0);
	snprintf(want, sizeof(want), "%d/task/%ld", getpid(), (long)syscall(SYS_gettid));
	n = readlink("/proc/thread-self", got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	CHECK("/proc/thread-self is pid/task/tid", strcmp(got, want) == 0);

	struct stat ps;
	CHECK("/proc/self owned by euid", stat("/proc/self", &ps) == 0 && ps.st_uid == geteuid() && S_ISDIR(ps.st_mode));
}

static int cmpint(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void check_fds(void)
{
	/* Descriptors the caller may have leaked to us would show up too. */
	REQUIRE("close_range", syscall(SYS_close_range, 3, ~0U, 0) == 0);
	int a = open("/dev/null", O_RDONLY);
	int p[2];
	REQUIRE("open and pipe", a == 3 && pipe(p) == 0);
	REQUIRE("dup2 to 20", dup2(a, 20) == 20);
	fcntl(20, F_SETFD, FD_CLOEXEC);
	DIR *d = opendir("/proc/self/fd");
	REQUIRE("opendir /proc/self/fd", d != NULL);
	int fds[64], nfds = 0;
	struct dirent *de;
	int dots = 0;
	while ((de = readdir(d)) != NULL && nfds < 64) {
		if (de->d_name[0] == '.') {
			dots++;
			continue;
		}
		fds[nfds++] = atoi(de->d_name);
		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			printf("FAIL fd %s: d_type %d\n", de->d_name, de->d_type);
	}
	int dfd = dirfd(d);
	closedir(d);
	CHECK_EQ("fd: . and ..", dots, 2);
	int want[] = {0, 1, 2, a, p[0], p[1], 20, dfd};
	qsort(fds, nfds, sizeof(int), cmpint);
	qsort(want, 8, sizeof(int), cmpint);
	CHECK("fd: exactly the open descriptors", nfds == 8 && memcmp(fds, want, sizeof(want)) == 0);
	if (nfds != 8 || memcmp(fds, want, sizeof(want)) != 0) {
		for (int i = 0; i < nfds; i++)
			printf("  listed %d\n", fds[i]);
	}

	char got[256], path[64];
	ssize_t n = readlink("/proc/self/fd/3", got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	CHECK("fd/3 -> /dev/null", strcmp(got, "/dev/null") == 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	n = readlink(path, got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = 0;
	CHECK("pipe link is pipe:[ino]", strncmp(got, "pipe:[", 6) == 0 && got[n - 1] == ']');
	struct stat pst;
	fstat(p[0], &pst);
	char wantlink[64];
	snprintf(wantlink, sizeof(wantlink), "pipe:[%lu]", (unsigned long)pst.st_ino);
	CHECK("pipe link names the pipe's inode", strcmp(got, wantlink) == 0);
	struct stat lst;
	CHECK("fd/N is a symlink", lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode));
	CHECK_ERR("fd/99 does not exist", readlink("/proc/self/fd/99", got, sizeof(got)), ENOENT);

	int r = open("/proc/self/fd/3", O_RDONLY);
	CHECK("open through fd/3", r >= 0);
	if (r >= 0) {
		struct stat s1, s2;
		fstat(r, &s1);
		stat("/dev/null", &s2);
		CHECK("it is /dev/null", s1.st_rdev == s2.st_rdev);
		close(r);
	}

	REQUIRE("read fdinfo/20", slurp("/proc/self/fdinfo/20", buf, sizeof(buf)) > 0);
	const char *v = field(buf, "pos");
	CHECK("fdinfo: pos 0", v && strcmp(v, "0") == 0);
	v = field(buf, "flags");
	long fl = v ? strtol(v, NULL, 8) : -1;
	CHECK("fdinfo: flags octal with leading 0", v && v[0] == '0');
	CHECK_EQ("fdinfo: O_RDONLY", fl & O_ACCMODE, O_RDONLY);
	CHECK("fdinfo: O_CLOEXEC", (fl & O_CLOEXEC) != 0);
	CHECK("fdinfo: mnt_id", field(buf, "mnt_id") != NULL);

	int f = open("/proc/self/status", O_RDONLY);
	lseek(f, 0, SEEK_SET);
	char tmp[10];
	read(f, tmp, 10);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", f);
	slurp(path, buf, sizeof(buf));
	v = field(buf, "pos");
	CHECK("fdinfo: pos follows reads", v && strcmp(v, "10") == 0);
	close(f);
	close(p[0]);
	close(p[1]);
	close(20);
	close(a);
}

static void check_comm(void)
{
	char comm[32] = {0}, want[40];
	prctl(PR_GET_NAME, comm);
	snprintf(want, sizeof(want), "%s\n", comm);
	slurp("/proc/self/comm", buf, sizeof(buf));
	CHECK("comm is PR_GET_NAME", strcmp(buf, want) == 0);
	int fd = open("/proc/self/comm", O_WRONLY);
	CHECK("open comm for writing", fd >= 0);
	CHECK_EQ("write comm", write(fd, "renamed", 7), 7);
	close(fd);
	memset(comm, 0, sizeof(comm));
	prctl(PR_GET_NAME, comm);
	CHECK("PR_GET_NAME sees the new comm", strcmp(comm, "renamed") == 0);
	slurp("/proc/self/comm", buf, sizeof(buf));
	CHECK("comm reads back", strcmp(buf, "renamed\n") == 0);
	prctl(PR_SET_NAME, "proc_self");
}

static void check_misc(void)
{
	DIR *d = opendir("/proc/self/task");
	REQUIRE("opendir task", d != NULL);
	struct dirent *de;
	int n = 0, self = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		self += atoi(de->d_name) == getpid();
	}
	closedir(d);
	CHECK("task/ has just this thread", n == 1 && self == 1);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", getpid());
	REQUIRE("read task/tid/stat", slurp(path, buf, sizeof(buf)) > 0);
	CHECK_EQ("task stat field 1", atoi(buf), getpid());

	REQUIRE("read limits", slurp("/proc/self/limits", buf, sizeof(buf)) > 0);
	CHECK("limits: header", strncmp(buf, "Limit                     Soft Limit           Hard Limit           Units     \n", 79) == 0);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	char want[128];
	snprintf(want, sizeof(want), "Max open files            %-20lu %-20lu files     \n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
	CHECK("limits: Max open files row", strstr(buf, want) != NULL);
	rl.rlim_cur = 200;
	setrlimit(RLIMIT_NOFILE, &rl);
	slurp("/proc/self/limits", buf, sizeof(buf));
	snprintf(want, sizeof(want), "Max open files            200                  %-20lu files     \n", (unsigned long)rl.rlim_max);
	CHECK("limits: follows setrlimit", strstr(buf, want) != NULL);

	int fd = open("/proc/self/oom_score_adj", O_RDWR);
	CHECK("open oom_score_adj", fd >= 0);
	CHECK_EQ("write oom_score_adj", write(fd, "500\n", 4), 4);
	char b[16] = {0};
	CHECK_EQ("pread oom_score_adj", pread(fd, b, sizeof(b) - 1, 0), 4);
	CHECK("oom_score_adj reads back", strcmp(b, "500\n") == 0);
	close(fd);

	REQUIRE("read uid_map", slurp("/proc/self/uid_map", buf, sizeof(buf)) > 0);
	unsigned long a, bb, c;
	CHECK("uid_map parses", sscanf(buf, "%lu %lu %lu", &a, &bb, &c) == 3);

	/* Opening a read-only file for writing needs CAP_DAC_OVERRIDE; the write
	 * itself then fails. */
	fd = open("/proc/self/stat", O_WRONLY);
	if (fd >= 0) {
		CHECK_ERR("write to stat is refused", write(fd, "x", 1), EINVAL);
		close(fd);
	} else {
		CHECK_EQ("write to stat is refused", errno, EACCES);
	}
	CHECK_ERR("creating in /proc/self fails", open("/proc/self/newfile", O_CREAT | O_WRONLY, 0644), ENOENT);
}

int main(int argc, char **argv)
{
	prctl(PR_SET_NAME, "proc_self");
	check_stat();
	check_status();
	check_cmdline_environ(argc, argv);
	check_links(argv);
	check_fds();
	check_comm();
	check_misc();
	return check_done();
}
