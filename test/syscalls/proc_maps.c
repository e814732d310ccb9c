/*
 * proc_maps: /proc/self/maps and smaps follow the address space: a fresh
 * mapping shows with its permissions, an mprotect splits it, munmap removes
 * it, a file mapping names its file and inode, and [stack], [heap] and
 * [vdso] are labelled.
 */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[1 << 20];

static long slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	return n;
}

struct line {
	uintptr_t start, end;
	char perms[5];
	unsigned long long off, ino;
	unsigned maj, min;
	char name[PATH_MAX];
};

/* find parses buf (maps text) for the line covering addr. With smaps, line
 * headers are told from the accounting lines by their address range. */
static int find(uintptr_t addr, struct line *out, char **after)
{
	for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		struct line l;
		int name_at = 0;
		memset(&l, 0, sizeof(l));
		if (sscanf(p, "%lx-%lx %4s %llx %x:%x %llu%n", &l.start, &l.end, l.perms, &l.off, &l.maj, &l.min, &l.ino, &name_at) < 7)
			continue;
		if (addr < l.start || addr >= l.end)
			continue;
		while (p[name_at] == ' ')
			name_at++;
		size_t len = strcspn(p + name_at, "\n");
		memcpy(l.name, p + name_at, len);
		l.name[len] = 0;
		*out = l;
		if (after)
			*after = strchr(p, '\n');
		return 1;
	}
	return 0;
}

/* smaps_field returns the value in kB of key in the block that starts at p. */
static long smaps_field(char *p, const char *key)
{
	size_t kl = strlen(key);
	for (p = p ? p + 1 : NULL; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		unsigned long a, b;
		if (sscanf(p, "%lx-%lx ", &a, &b) == 2 && strchr(p, '-') < strchr(p, ' '))
			return -1; /* next vma */
		if (strncmp(p, key, kl) == 0 && p[kl] == ':')
			return atol(p + kl + 1);
	}
	return -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	long pg = sysconf(_SC_PAGESIZE);
	/* A PROT_NONE guard on each side keeps the middle three pages from
	 * merging with neighbours. */
	char *g = CHECK_MAP("mmap 5 pages", mmap(NULL, 5 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	char *a = g + pg;
	REQUIRE("mprotect rw", mprotect(a, 3 * pg, PROT_READ | PROT_WRITE) == 0);
	memset(a, 1, 3 * pg);
	REQUIRE("mprotect middle r", mprotect(a + pg, pg, PROT_READ) == 0);

	REQUIRE("read maps", slurp("/proc/self/maps") > 0);
	struct line l;
	CHECK("maps: first page rw-p", find((uintptr_t)a, &l, NULL) && strcmp(l.perms, "rw-p") == 0 &&
					     l.start == (uintptr_t)a && l.end == (uintptr_t)(a + pg));
	CHECK("maps: anonymous columns", l.off == 0 && l.maj == 0 && l.min == 0 && l.ino == 0 && l.name[0] == 0);
	CHECK("maps: middle page r--p", find((uintptr_t)a + pg, &l, NULL) && strcmp(l.perms, "r--p") == 0 &&
					      l.start == (uintptr_t)(a + pg) && l.end == (uintptr_t)(a + 2 * pg));
	CHECK("maps: last page rw-p", find((uintptr_t)a + 2 * pg, &l, NULL) && strcmp(l.perms, "rw-p") == 0);
	CHECK("maps: guard ---p", find((uintptr_t)g, &l, NULL) && strcmp(l.perms, "---p") == 0 &&
					  l.end == (uintptr_t)a);

	int local = 0;
	CHECK("maps: [stack] covers a local", find((uintptr_t)&local, &l, NULL) && strcmp(l.name, "[stack]") == 0 &&
						     strcmp(l.perms, "rw-p") == 0);
	char *m = malloc(1000);
	m[0] = 1;
	slurp("/proc/self/maps");
	CHECK("maps: [heap] covers malloc'd memory", find((uintptr_t)m, &l, NULL) && strcmp(l.name, "[heap]") == 0);
	CHECK("maps: [vdso]", strstr(buf, " [vdso]\n") != NULL);
	free(m);

	/* A file mapping names its file. */
	char exe[PATH_MAX];
	REQUIRE("realpath", realpath(argv[0], exe) != NULL);
	int fd = open(exe, O_RDONLY);
	struct stat st;
	REQUIRE("open binary", fd >= 0 && fstat(fd, &st) == 0);
	char *f = CHECK_MAP("mmap the binary", mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0));
	close(fd);
	slurp("/proc/self/maps");
	CHECK("maps: file mapping r--p at offset 0", find((uintptr_t)f, &l, NULL) && strcmp(l.perms, "r--p") == 0 && l.off == 0);
	CHECK("maps: names the file", strcmp(l.name, exe) == 0);
	CHECK("maps: file's inode", l.ino == (unsigned long long)st.st_ino);
	CHECK("maps: the program's text is r-xp", find((uintptr_t)&main, &l, NULL) && strcmp(l.perms, "r-xp") == 0 &&
							strcmp(l.name, exe) == 0);
	munmap(f, pg);

	/* smaps of the middle page. */
	REQUIRE("read smaps", slurp("/proc/self/smaps") > 0);
	char *after = NULL;
	CHECK("smaps: middle page header", find((uintptr_t)a + pg, &l, &after) && strcmp(l.perms, "r--p") == 0);
	CHECK_EQ("smaps: Size", smaps_field(after, "Size"), pg / 1024);
	CHECK_EQ("smaps: Rss", smaps_field(after, "Rss"), pg / 1024);
	CHECK_EQ("smaps: Anonymous", smaps_field(after, "Anonymous"), pg / 1024);
	CHECK_EQ("smaps: Swap", smaps_field(after, "Swap"), 0);
	CHECK("smaps: KernelPageSize", smaps_field(after, "KernelPageSize") == pg / 1024);
	CHECK("smaps: VmFlags", strstr(after, "\nVmFlags: rd mr mw me ac") != NULL);

	/* statm counts pages. */
	unsigned long size, res;
	slurp("/proc/self/statm");
	CHECK("statm parses", sscanf(buf, "%lu %lu", &size, &res) == 2 && size >= 5 && res > 0 && res <= size);

	REQUIRE("munmap", munmap(g, 5 * pg) == 0);
	slurp("/proc/self/maps");
	CHECK("maps: unmapped range is gone", !find((uintptr_t)a + pg, &l, NULL));
	return check_done();
}
