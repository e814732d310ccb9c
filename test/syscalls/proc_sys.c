/*
 * proc_sys: the system files of /proc describe the machine the process runs
 * on consistently with the syscalls: osrelease/ostype/hostname match uname,
 * cpuinfo has one entry per online CPU, meminfo, stat, uptime, loadavg,
 * version, filesystems, mounts and the common sysctls parse.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static long slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	return n;
}

static char buf[1 << 20];

/* line_is checks that a one-line file holds want followed by a newline. */
static void line_is(const char *path, const char *want)
{
	char name[256], w[512];
	snprintf(name, sizeof(name), "%s is uname's", path);
	snprintf(w, sizeof(w), "%s\n", want);
	CHECK(name, slurp(path, buf, sizeof(buf)) > 0 && strcmp(buf, w) == 0);
}

static long number(const char *path)
{
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atol(buf);
}

int main(void)
{
	struct utsname u;
	REQUIRE("uname", uname(&u) == 0);
	line_is("/proc/sys/kernel/osrelease", u.release);
	line_is("/proc/sys/kernel/ostype", u.sysname);
	line_is("/proc/sys/kernel/hostname", u.nodename);
	line_is("/proc/sys/kernel/version", u.version);

	REQUIRE("read version", slurp("/proc/version", buf, sizeof(buf)) > 0);
	char want[512];
	snprintf(want, sizeof(want), "Linux version %s ", u.release);
	CHECK("version starts with the release", strncmp(buf, want, strlen(want)) == 0);

	REQUIRE("read cpuinfo", slurp("/proc/cpuinfo", buf, sizeof(buf)) > 0);
	int cpus = 0, models = 0, flags = 0;
	for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		cpus += strncmp(p, "processor\t: ", 12) == 0;
		models += strncmp(p, "model name\t: ", 13) == 0;
		flags += strncmp(p, "flags\t\t: ", 9) == 0;
	}
	CHECK_EQ("cpuinfo: one entry per online CPU", cpus, sysconf(_SC_NPROCESSORS_ONLN));
	CHECK_EQ("cpuinfo: model name per CPU", models, cpus);
	CHECK_EQ("cpuinfo: flags per CPU", flags, cpus);

	REQUIRE("read meminfo", slurp("/proc/meminfo", buf, sizeof(buf)) > 0);
	unsigned long total = 0, free_kb = 0, avail = 0;
	CHECK("meminfo: MemTotal first", sscanf(buf, "MemTotal: %lu kB", &total) == 1 && total > 0);
	char *p = strstr(buf, "\nMemFree:");
	CHECK("meminfo: MemFree", p && sscanf(p, "\nMemFree: %lu kB", &free_kb) == 1 && free_kb <= total);
	p = strstr(buf, "\nMemAvailable:");
	CHECK("meminfo: MemAvailable", p && sscanf(p, "\nMemAvailable: %lu kB", &avail) == 1 && avail <= total);
	CHECK("meminfo: aligned columns", strncmp(buf, "MemTotal:       ", 16) == 0);

	REQUIRE("read stat", slurp("/proc/stat", buf, sizeof(buf)) > 0);
	CHECK("stat: cpu line", strncmp(buf, "cpu  ", 5) == 0);
	int cpulines = 0;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		cpulines += strncmp(p, "cpu", 3) == 0 && p[3] >= '0' && p[3] <= '9';
	CHECK_EQ("stat: one line per CPU", cpulines, cpus);
	p = strstr(buf, "\nbtime ");
	long btime = p ? atol(p + 7) : 0;
	CHECK("stat: btime in the past", btime > 0 && btime <= time(NULL));
	CHECK("stat: processes", strstr(buf, "\nprocesses ") != NULL);
	CHECK("stat: procs_running", strstr(buf, "\nprocs_running ") != NULL);

	double up = -1, idle = -1;
	slurp("/proc/uptime", buf, sizeof(buf));
	CHECK("uptime: two numbers", sscanf(buf, "%lf %lf", &up, &idle) == 2 && up >= 0 && idle >= 0);
	double l1, l5, l15;
	int run, tot, last;
	slurp("/proc/loadavg", buf, sizeof(buf));
	CHECK("loadavg parses", sscanf(buf, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run, &tot, &last) == 6 &&
					run >= 1 && tot >= run);

	slurp("/proc/filesystems", buf, sizeof(buf));
	CHECK("filesystems lists proc", strstr(buf, "nodev\tproc\n") != NULL);
	CHECK("filesystems lists tmpfs", strstr(buf, "nodev\ttmpfs\n") != NULL);

	char link[64] = {0};
	CHECK("/proc/mounts -> self/mounts", readlink("/proc/mounts", link, sizeof(link) - 1) > 0 &&
						   strcmp(link, "self/mounts") == 0);
	slurp("/proc/mounts", buf, sizeof(buf));
	CHECK("mounts: proc on /proc", strstr(buf, " /proc proc rw,") != NULL);
	slurp("/proc/self/mountinfo", buf, sizeof(buf));
	CHECK("mountinfo: proc on /proc", strstr(buf, " /proc rw,") != NULL && strstr(buf, " - proc proc rw") != NULL);
	struct statfs sfs;
	CHECK("statfs /proc is procfs", statfs("/proc", &sfs) == 0 && sfs.f_type == 0x9fa0);

	/* sysctls */
	CHECK_EQ("pid_max", number("/proc/sys/kernel/pid_max") > 0, 1);
	CHECK_EQ("ngroups_max", number("/proc/sys/kernel/ngroups_max"), sysconf(_SC_NGROUPS_MAX));
	CHECK("cap_last_cap", number("/proc/sys/kernel/cap_last_cap") >= 36);
	CHECK_EQ("overflowuid", number("/proc/sys/kernel/overflowuid"), 65534);
	CHECK_EQ("overflowgid", number("/proc/sys/kernel/overflowgid"), 65534);
	long oc = number("/proc/sys/vm/overcommit_memory");
	CHECK("overcommit_memory", oc >= 0 && oc <= 2);
	CHECK("max_map_count", number("/proc/sys/vm/max_map_count") > 0);
	CHECK("mmap_min_addr", number("/proc/sys/vm/mmap_min_addr") >= 0);
	CHECK("file-max", number("/proc/sys/fs/file-max") > 0);
	CHECK("nr_open", number("/proc/sys/fs/nr_open") >= 1024);
	CHECK("pipe-max-size", number("/proc/sys/fs/pipe-max-size") >= 4096);
	CHECK("somaxconn", number("/proc/sys/net/core/somaxconn") > 0);

	char id1[64] = {0}, id2[64] = {0};
	slurp("/proc/sys/kernel/random/boot_id", id1, sizeof(id1));
	slurp("/proc/sys/kernel/random/boot_id", id2, sizeof(id2));
	CHECK("boot_id is a stable uuid", strlen(id1) == 37 && id1[8] == '-' && strcmp(id1, id2) == 0);
	slurp("/proc/sys/kernel/random/uuid", id1, sizeof(id1));
	slurp("/proc/sys/kernel/random/uuid", id2, sizeof(id2));
	CHECK("uuid is new each read", strlen(id1) == 37 && id1[14] == '4' && strcmp(id1, id2) != 0);

	struct stat st;
	CHECK("/proc/sys/kernel is a directory", stat("/proc/sys/kernel", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_ERR("unknown sysctl", open("/proc/sys/kernel/no_such_sysctl", O_RDONLY), ENOENT);
	CHECK_ERR("no pid 0", open("/proc/0/stat", O_RDONLY), ENOENT);
	CHECK_ERR("no leading zeros", open("/proc/01/stat", O_RDONLY), ENOENT);
	return check_done();
}
