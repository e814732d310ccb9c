/*
 * sysfs: /sys describes the CPUs the process can run on consistently with
 * sysconf (the online/possible/present lists, one cpuN directory per CPU,
 * a topology per CPU), has the shape of a real sysfs (modes, owners,
 * statfs type, the top-level directories, transparent_hugepage), reads
 * like a sysfs attribute (snapshot per read, pread, SEEK_END from the
 * attribute's page size) and refuses writes, mkdir and unlink.
 *
 * What the host has besides (its devices, its cgroup hierarchy) is not
 * printed: /sys/fs/cgroup is only checked to be a directory.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CPU "/sys/devices/system/cpu"

static char buf[65536];

static long slurp(const char *path, char *b, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, b + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	b[n] = 0;
	return n;
}

/* parse_list parses a CPU list ("0-3,5\n") into set (up to max CPUs) and
 * returns how many CPUs it names, or -1 if it is malformed. */
static int parse_list(const char *s, char *set, int max)
{
	int count = 0;
	memset(set, 0, max);
	if (*s == '\n' && s[1] == 0)
		return 0;
	for (;;) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0)
			return -1;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a)
				return -1;
			s = end;
		}
		for (long i = a; i <= b; i++) {
			if (i < max)
				set[i] = 1;
			count++;
		}
		if (*s == ',') {
			s++;
			continue;
		}
		return (s[0] == '\n' && s[1] == 0) ? count : -1;
	}
}

/* read_list reads a CPU-list attribute. */
static int read_list(const char *path, char *set, int max)
{
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return -1;
	return parse_list(buf, set, max);
}

/* read_int reads an attribute holding one decimal number and a newline. */
static long read_int(const char *path)
{
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return -1;
	char *end;
	long v = strtol(buf, &end, 10);
	if (end == buf || strcmp(end, "\n") != 0)
		return -1;
	return v;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* list_dir prints a directory's entries (without . and ..), sorted. */
static void list_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		check_fail("opendir", "%s: %s", path, check_errname(errno));
		return;
	}
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp);
	printf("%s:", path);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

/* has_entry reports whether dir lists name. */
static int has_entry(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	int found = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, name) == 0)
			found = 1;
	closedir(d);
	return found;
}

/* count_cpu_dirs counts the cpuN entries of /sys/devices/system/cpu. */
static int count_cpu_dirs(void)
{
	DIR *d = opendir(CPU);
	if (!d)
		return -1;
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		const char *s = e->d_name;
		if (strncmp(s, "cpu", 3) || !s[3])
			continue;
		int digits = 1;
		for (const char *p = s + 3; *p; p++)
			if (*p < '0' || *p > '9')
				digits = 0;
		if (digits && e->d_type == DT_DIR)
			n++;
	}
	closedir(d);
	return n;
}

static int refused(int r)
{
	return r == -1 && (errno == EACCES || errno == EPERM || errno == EROFS);
}

#define MAXCPU 4096
static char online[MAXCPU], possible[MAXCPU], present[MAXCPU], set[MAXCPU], set2[MAXCPU];

static void check_topology(int cpu)
{
	char path[256], name[128];
	snprintf(path, sizeof(path), CPU "/cpu%d/topology/core_id", cpu);
	snprintf(name, sizeof(name), "cpu%d core_id parses", cpu);
	CHECK(name, read_int(path) >= 0);
	snprintf(path, sizeof(path), CPU "/cpu%d/topology/physical_package_id", cpu);
	snprintf(name, sizeof(name), "cpu%d physical_package_id parses", cpu);
	CHECK(name, read_int(path) >= 0);
	snprintf(path, sizeof(path), CPU "/cpu%d/topology/thread_siblings_list", cpu);
	int nthreads = read_list(path, set, MAXCPU);
	snprintf(name, sizeof(name), "cpu%d is its own thread sibling", cpu);
	CHECK(name, nthreads >= 1 && set[cpu]);
	snprintf(path, sizeof(path), CPU "/cpu%d/topology/core_siblings_list", cpu);
	int ncore = read_list(path, set2, MAXCPU);
	snprintf(name, sizeof(name), "cpu%d core siblings include its threads", cpu);
	int sub = ncore >= nthreads;
	for (int i = 0; i < MAXCPU; i++)
		if (set[i] && !set2[i])
			sub = 0;
	CHECK(name, sub && set2[cpu]);
	/* thread_siblings is the same set as a mask: bit cpu is set. */
	snprintf(path, sizeof(path), CPU "/cpu%d/topology/thread_siblings", cpu);
	snprintf(name, sizeof(name), "cpu%d thread_siblings mask has its bit", cpu);
	int ok = slurp(path, buf, sizeof(buf)) > 0;
	if (ok) {
		/* Walk the hex digits from the least significant one. */
		char *end = strchr(buf, '\n');
		ok = end && end[1] == 0;
		int bit = 0, found = 0;
		for (char *p = end ? end - 1 : buf; ok && p >= buf; p--) {
			if (*p == ',')
				continue;
			int v = (*p >= '0' && *p <= '9') ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : -1;
			if (v < 0) {
				ok = 0;
				break;
			}
			if (cpu >= bit && cpu < bit + 4 && (v >> (cpu - bit)) & 1)
				found = 1;
			bit += 4;
		}
		ok = ok && found;
	}
	CHECK(name, ok);
}

int main(void)
{
	struct statfs sfs;
	REQUIRE("statfs /sys", statfs("/sys", &sfs) == 0);
	CHECK_EQ("/sys is a sysfs", (long)sfs.f_type, 0x62656572);

	long nonln = sysconf(_SC_NPROCESSORS_ONLN), nconf = sysconf(_SC_NPROCESSORS_CONF);
	int n_online = read_list(CPU "/online", online, MAXCPU);
	CHECK("online parses", n_online > 0);
	CHECK_EQ("online count is _SC_NPROCESSORS_ONLN", n_online, nonln);
	int n_possible = read_list(CPU "/possible", possible, MAXCPU);
	int n_present = read_list(CPU "/present", present, MAXCPU);
	CHECK("possible parses and covers online", n_possible >= n_online);
	CHECK("present parses and covers online", n_present >= n_online);
	int covered = 1;
	for (int i = 0; i < MAXCPU; i++)
		if (online[i] && (!possible[i] || !present[i]))
			covered = 0;
	CHECK("online CPUs are possible and present", covered);
	CHECK("cpu0 is online", online[0]);
	CHECK_EQ("one cpuN directory per present CPU", count_cpu_dirs(), n_present);
	CHECK_EQ("cpuN directories are _SC_NPROCESSORS_CONF", count_cpu_dirs(), nconf);
	CHECK("kernel_max parses", read_int(CPU "/kernel_max") >= n_possible - 1);
	CHECK("offline parses", read_list(CPU "/offline", set, MAXCPU) >= 0);

	int checked = 0;
	for (int i = 0; i < MAXCPU && checked < 4; i++) {
		if (online[i]) {
			check_topology(i);
			checked++;
		}
	}
	list_dir(CPU "/cpu0/topology");
	struct stat st;
	CHECK_ERR("cpu0 has no online attribute", stat(CPU "/cpu0/online", &st), ENOENT);
	if (online[1]) {
		CHECK_EQ("cpu1/online reads 1", read_int(CPU "/cpu1/online"), 1);
		CHECK("stat cpu1/online", stat(CPU "/cpu1/online", &st) == 0 && st.st_mode == (S_IFREG | 0644));
	}
	char link[256];
	ssize_t ln = readlink(CPU "/cpu0/node0", link, sizeof(link) - 1);
	CHECK("cpu0/node0 links to its node", ln > 0 && (link[ln] = 0, strcmp(link, "../../node/node0") == 0));
	CHECK("node0 cpulist includes cpu0", read_list("/sys/devices/system/node/node0/cpulist", set, MAXCPU) > 0 && set[0]);
	CHECK("node online includes node 0", read_list("/sys/devices/system/node/online", set, MAXCPU) > 0 && set[0]);

	/* Shape: modes, owners, sizes. */
	CHECK("stat /sys", stat("/sys", &st) == 0 && st.st_mode == (S_IFDIR | 0555) && st.st_uid == 0);
	CHECK("stat cpu dir", stat(CPU, &st) == 0 && st.st_mode == (S_IFDIR | 0755) && st.st_uid == 0 && st.st_gid == 0);
	CHECK("stat online", stat(CPU "/online", &st) == 0 && st.st_mode == (S_IFREG | 0444) && st.st_uid == 0);
	CHECK_EQ("attribute size is a page", st.st_size, 4096);
	CHECK("/sys/fs/cgroup is a directory", stat("/sys/fs/cgroup", &st) == 0 && S_ISDIR(st.st_mode));
	const char *top[] = {"block", "bus", "class", "dev", "devices", "firmware", "fs", "kernel", "module", "power"};
	for (unsigned i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "/sys lists %s", top[i]);
		CHECK(name, has_entry("/sys", top[i]));
	}

	/* Transparent huge pages: one of the choices is selected. */
	const char *thp = "/sys/kernel/mm/transparent_hugepage/enabled";
	CHECK("thp enabled has one selected choice",
	      slurp(thp, buf, sizeof(buf)) > 0 &&
		      (strstr(buf, "[always]") || strstr(buf, "[madvise]") || strstr(buf, "[never]")) &&
		      strchr(buf, '[') == strrchr(buf, '['));
	CHECK("stat thp enabled", stat(thp, &st) == 0 && st.st_mode == (S_IFREG | 0644));
	CHECK_EQ("hpage_pmd_size", read_int("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"), 2097152);

	/* Reading: a byte at a time gives the same text; pread continues. */
	char whole[256];
	long len = slurp(CPU "/online", whole, sizeof(whole));
	int fd = open(CPU "/online", O_RDONLY);
	REQUIRE("open online", fd >= 0);
	char one[256];
	size_t got = 0;
	char c;
	while (got < sizeof(one) - 1 && read(fd, &c, 1) == 1)
		one[got++] = c;
	one[got] = 0;
	CHECK("bytewise read is the whole text", (long)got == len && strcmp(one, whole) == 0);
	char part[256] = {0};
	CHECK("pread at 1", pread(fd, part, sizeof(part) - 1, 1) == len - 1 && strcmp(part, whole + 1) == 0);
	CHECK_EQ("SEEK_END counts from the page size", lseek(fd, 5, SEEK_END), 4101);
	CHECK_EQ("SEEK_SET", lseek(fd, 2, SEEK_SET), 2);
	close(fd);

	/* Writes, creation and removal are refused. */
	CHECK("open online for writing is refused", refused(open(CPU "/online", O_WRONLY)));
	CHECK("open core_id for writing is refused", refused(open(CPU "/cpu0/topology/core_id", O_RDWR)));
	CHECK("mkdir is refused", refused(mkdir(CPU "/newdir", 0755)));
	CHECK("unlink is refused", refused(unlink(CPU "/online")));
	CHECK("creat is refused", open(CPU "/newfile", O_CREAT | O_WRONLY, 0644) == -1);
	return check_done();
}
