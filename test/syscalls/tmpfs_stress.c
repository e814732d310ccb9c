/*
 * tmpfs_stress: create, rename and delete 100,000 files in a tree of 100
 * directories, then check every survivor's content and every directory's
 * listing, and that the removed names are gone.
 */
// rampart:timeout 120s
// The linkage changes nothing the file system sees, and each linkage's run
// took 15-123 s of a CI on a loaded host (18 runs, half its test time):
// dynamic only.
// rampart:variants dynamic
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NDIRS 100
#define NFILES 1000

static char top[64];

/* The fate of file j of directory i:
 *   j % 5 == 0: deleted;
 *   else j % 3 == 0: moved to directory (i + 1) % NDIRS as m<i>_<j>;
 *   else j % 3 == 1: renamed in place to r<j>;
 *   else: kept as f<j>.
 * Directories i % 10 == 0 are then renamed from d<i> to D<i>. */
static int deleted(int j) { return j % 5 == 0; }

/* dirname returns the final name of directory i. */
static void dirname_of(char *out, size_t n, int i)
{
	snprintf(out, n, "%s/%c%02d", top, i % 10 == 0 ? 'D' : 'd', i);
}

/* final_path is where file j of directory i ends up. */
static void final_path(char *out, size_t n, int i, int j)
{
	char d[96];
	if (j % 3 == 0) {
		dirname_of(d, sizeof(d), (i + 1) % NDIRS);
		snprintf(out, n, "%s/m%d_%d", d, i, j);
	} else if (j % 3 == 1) {
		dirname_of(d, sizeof(d), i);
		snprintf(out, n, "%s/r%d", d, j);
	} else {
		dirname_of(d, sizeof(d), i);
		snprintf(out, n, "%s/f%d", d, j);
	}
}

/* content fills buf with the data of file (i, j); its length varies. */
static int content(char *buf, int i, int j)
{
	int n = snprintf(buf, 64, "file %d/%d:", i, j);
	int len = n + (i * 7 + j * 13) % 97;
	for (int k = n; k < len; k++)
		buf[k] = 'a' + (i + j + k) % 26;
	return len;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int count_entries(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	char buf[8192];
	int n = 0;
	long r;
	while ((r = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < r;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			off += d->d_reclen;
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				n++;
		}
	close(fd);
	return r < 0 ? -1 : n;
}

int main(void)
{
	char path[160], path2[160], buf[256], want[256];
	snprintf(top, sizeof(top), "/dev/shm/tmpfs_stress.%d", getpid());
	REQUIRE("mkdir the top", mkdir(top, 0755) == 0);

	int bad = 0;
	for (int i = 0; i < NDIRS; i++) {
		snprintf(path, sizeof(path), "%s/d%02d", top, i);
		if (mkdir(path, 0755))
			bad++;
	}
	CHECK_EQ("mkdir 100 directories", bad, 0);

	/* Create. */
	long created = 0;
	for (int i = 0; i < NDIRS; i++)
		for (int j = 0; j < NFILES; j++) {
			snprintf(path, sizeof(path), "%s/d%02d/f%d", top, i, j);
			int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (fd < 0)
				continue;
			int len = content(buf, i, j);
			if (write(fd, buf, len) == len)
				created++;
			close(fd);
		}
	CHECK_EQ("create 100000 files", created, NDIRS * NFILES);

	/* Delete and rename. */
	long removed = 0, moved = 0, renamed = 0;
	for (int i = 0; i < NDIRS; i++)
		for (int j = 0; j < NFILES; j++) {
			snprintf(path, sizeof(path), "%s/d%02d/f%d", top, i, j);
			if (deleted(j)) {
				removed += unlink(path) == 0;
			} else if (j % 3 == 0) {
				snprintf(path2, sizeof(path2), "%s/d%02d/m%d_%d", top, (i + 1) % NDIRS, i, j);
				moved += rename(path, path2) == 0;
			} else if (j % 3 == 1) {
				snprintf(path2, sizeof(path2), "%s/d%02d/r%d", top, i, j);
				renamed += rename(path, path2) == 0;
			}
		}
	printf("removed %ld, moved %ld, renamed in place %ld\n", removed, moved, renamed);
	int dirs_renamed = 0;
	for (int i = 0; i < NDIRS; i += 10) {
		snprintf(path, sizeof(path), "%s/d%02d", top, i);
		dirname_of(path2, sizeof(path2), i);
		dirs_renamed += rename(path, path2) == 0;
	}
	CHECK_EQ("rename 10 full directories", dirs_renamed, 10);

	/* Check every survivor's content, and that the deleted and old names
	 * are gone. */
	long good = 0, wrong = 0, missing = 0, ghosts = 0;
	struct stat st;
	for (int i = 0; i < NDIRS; i++)
		for (int j = 0; j < NFILES; j++) {
			if (deleted(j)) {
				final_path(path, sizeof(path), i, j);
				if (stat(path, &st) == 0)
					ghosts++;
				continue;
			}
			final_path(path, sizeof(path), i, j);
			int fd = open(path, O_RDONLY);
			if (fd < 0) {
				if (missing++ < 5)
					printf("missing %s\n", path + strlen(top));
				continue;
			}
			int len = content(want, i, j);
			int n = read(fd, buf, sizeof(buf));
			close(fd);
			if (n == len && memcmp(buf, want, len) == 0) {
				good++;
			} else if (wrong++ < 5) {
				printf("wrong content in %s\n", path + strlen(top));
			}
			if (j % 3 != 2) {
				char old[160];
				char d[96];
				dirname_of(d, sizeof(d), i);
				snprintf(old, sizeof(old), "%s/f%d", d, j);
				if (stat(old, &st) == 0)
					ghosts++;
			}
		}
	printf("survivors %ld\n", good);
	CHECK_EQ("every survivor has its content", good, NDIRS * NFILES - NDIRS * NFILES / 5);
	CHECK_EQ("no survivor missing", missing, 0);
	CHECK_EQ("no survivor with wrong content", wrong, 0);
	CHECK_EQ("removed and old names are gone", ghosts, 0);

	/* Each directory lists its own survivors plus those moved in. */
	int listed_ok = 0;
	int per_dir = 0;
	for (int j = 0; j < NFILES; j++)
		if (!deleted(j))
			per_dir++;
	for (int i = 0; i < NDIRS; i++) {
		dirname_of(path, sizeof(path), i);
		if (count_entries(path) == per_dir)
			listed_ok++;
	}
	CHECK_EQ("every directory lists its survivors", listed_ok, NDIRS);
	CHECK_EQ("the top lists 100 directories", count_entries(top), NDIRS);
	CHECK_EQ("st_nlink of the top", (stat(top, &st), st.st_nlink), NDIRS + 2);

	/* Remove it all: every directory empties. */
	long unlinked = 0;
	int rmdirs = 0;
	for (int i = 0; i < NDIRS; i++) {
		dirname_of(path, sizeof(path), i);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			unlinked += unlinkat(dirfd(d), e->d_name, 0) == 0;
		}
		if (d)
			closedir(d);
		rmdirs += rmdir(path) == 0;
	}
	printf("unlinked %ld\n", unlinked);
	CHECK_EQ("every directory empties", rmdirs, NDIRS);
	CHECK("remove the top", rmdir(top) == 0);
	return check_done();
}
