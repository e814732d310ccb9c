/*
 * getdents_concurrent: directory iteration with getdents64 (small buffers,
 * many calls) while another process adds and removes entries. Every entry
 * that exists throughout a pass is seen exactly once, no name twice, and a
 * saved directory offset (d_off, telldir) stays valid across changes and
 * across descriptors: seeking back to it resumes after the same entry.
 *
 * The directory is on tmpfs (/dev/shm natively and in the sandbox), whose
 * offsets are stable per entry.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSTABLE 400
#define PASSES 30

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static char dir[64];

/* seen[i] counts how often stable entry s%03d was returned in a pass. */
static int seen[NSTABLE];

/* Transient names are "t" plus a counter that never repeats, so no name may
 * be returned twice in one pass. They are remembered for the duplicate
 * check in a small open hash set. */
#define TSET 65536
static long tset[TSET];
static int tset_used;

static void tset_clear(void)
{
	memset(tset, 0, sizeof(tset));
	tset_used = 0;
}

/* tset_add returns 0 if n was already present. */
static int tset_add(long n)
{
	unsigned long h = (unsigned long)n * 2654435761u % TSET;
	while (tset[h] != 0) {
		if (tset[h] == n + 1)
			return 0;
		h = (h + 1) % TSET;
	}
	if (tset_used >= TSET - 1)
		return 1; /* full: stop checking rather than loop */
	tset[h] = n + 1;
	tset_used++;
	return 1;
}

struct pass {
	int dups;       /* names returned twice */
	int bad;        /* names that are neither stable nor transient */
	int dots;       /* "." and ".." */
	int stable_ok;  /* stable names seen exactly once */
	int calls;      /* getdents64 calls */
	int64_t mark;   /* d_off just after stable entry MARK_AT */
	int after[NSTABLE]; /* stable entries seen after the mark (1) */
};

#define MARK_AT 150

/* read_pass reads the directory fd from its current offset to the end with
 * buffers of bufsize bytes, counting what it sees into p. When from_mark,
 * it only fills p->after-like counts in seen[] (used after a seek). */
static void read_pass(int fd, size_t bufsize, struct pass *p)
{
	char buf[4096];
	int marked = 0;
	memset(seen, 0, sizeof(seen));
	tset_clear();
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, bufsize);
		if (n < 0) {
			printf("FAIL getdents64 returned %s\n", check_errname(errno));
			check_failures++;
			return;
		}
		p->calls++;
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			off += d->d_reclen;
			const char *name = d->d_name;
			if (!strcmp(name, ".") || !strcmp(name, "..")) {
				p->dots++;
				continue;
			}
			char *end;
			long k = strtol(name + 1, &end, 10);
			if (*end != 0) {
				p->bad++;
				continue;
			}
			if (name[0] == 's' && k >= 0 && k < NSTABLE) {
				if (seen[k]++)
					p->dups++;
				if (marked)
					p->after[k] = 1;
				if (k == MARK_AT) {
					p->mark = d->d_off;
					marked = 1;
				}
			} else if (name[0] == 't') {
				if (!tset_add(k))
					p->dups++;
			} else {
				p->bad++;
			}
		}
	}
	for (int i = 0; i < NSTABLE; i++)
		if (seen[i] == 1)
			p->stable_ok++;
}

/* churn adds and removes transient entries until killed. */
static void churn(void)
{
	char path[128];
	long next = 0, oldest = 0;
	for (;;) {
		for (int i = 0; i < 7; i++) {
			snprintf(path, sizeof(path), "%s/t%ld", dir, next++);
			int fd = open(path, O_CREAT | O_WRONLY, 0644);
			if (fd >= 0)
				close(fd);
		}
		for (int i = 0; i < 5 && oldest < next; i++) {
			snprintf(path, sizeof(path), "%s/t%ld", dir, oldest++);
			unlink(path);
		}
		/* Keep the directory from growing without bound: remove a
		 * recent one too (out of creation order). */
		snprintf(path, sizeof(path), "%s/t%ld", dir, next - 3);
		unlink(path);
		if (next - oldest > 2000) {
			while (next - oldest > 200) {
				snprintf(path, sizeof(path), "%s/t%ld", dir, oldest++);
				unlink(path);
			}
		}
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/dev/shm/getdents_concurrent.%d", getpid());
	REQUIRE("mkdir", mkdir(dir, 0755) == 0);
	char path[128];
	int made = 0;
	for (int i = 0; i < NSTABLE; i++) {
		snprintf(path, sizeof(path), "%s/s%03d", dir, i);
		int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
		if (fd >= 0) {
			made++;
			close(fd);
		}
	}
	CHECK_EQ("create the stable entries", made, NSTABLE);

	/* A quiet pass first: exactly the stable entries and the dots. */
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	REQUIRE("open the directory", fd >= 0);
	static struct pass quiet;
	read_pass(fd, 200, &quiet);
	CHECK_EQ("quiet pass: every entry once", quiet.stable_ok, NSTABLE);
	CHECK_EQ("quiet pass: no duplicates", quiet.dups, 0);
	CHECK_EQ("quiet pass: . and ..", quiet.dots, 2);
	CHECK("quiet pass: small buffers took many calls", quiet.calls > 50);
	close(fd);

	pid_t child = fork();
	if (child == 0) {
		churn();
		_exit(0);
	}
	REQUIRE("fork", child > 0);

	int all_once = 1, no_dups = 1, no_bad = 1, dots = 1, resumed = 1, reopen = 1;
	static struct pass p;
	for (int round = 0; round < PASSES; round++) {
		memset(&p, 0, sizeof(p));
		p.mark = -1;
		fd = open(dir, O_RDONLY | O_DIRECTORY);
		if (fd < 0) {
			all_once = 0;
			break;
		}
		/* Buffers of 80 to 300 bytes: one to a dozen entries a call. */
		read_pass(fd, 80 + (round * 37) % 220, &p);
		if (p.stable_ok != NSTABLE) {
			if (all_once)
				printf("round %d: %d of %d stable entries seen once\n", round, p.stable_ok, NSTABLE);
			all_once = 0;
		}
		if (p.dups)
			no_dups = 0;
		if (p.bad)
			no_bad = 0;
		if (p.dots != 2)
			dots = 0;

		/* Seek back to the saved offset (after more changes have
		 * happened): the stable entries after the mark are exactly
		 * those seen after it before. */
		static struct pass q;
		for (int k = 0; k < 2; k++) {
			int f = fd;
			if (k == 1)
				f = open(dir, O_RDONLY | O_DIRECTORY);
			memset(&q, 0, sizeof(q));
			if (f < 0 || p.mark < 0 || lseek(f, p.mark, SEEK_SET) != p.mark) {
				resumed = 0;
				continue;
			}
			read_pass(f, 128, &q);
			int same = q.dups == 0 && q.dots == 0;
			for (int i = 0; i < NSTABLE; i++)
				if ((seen[i] != 0) != (p.after[i] != 0) || seen[i] > 1)
					same = 0;
			if (!same) {
				if (k == 0 ? resumed : reopen)
					printf("round %d: resume from the mark %s differs\n", round,
					       k == 0 ? "on the same fd" : "on a new fd");
				if (k == 0)
					resumed = 0;
				else
					reopen = 0;
			}
			if (k == 1)
				close(f);
		}
		close(fd);
	}
	CHECK("under churn: every stable entry seen exactly once", all_once);
	CHECK("under churn: no name returned twice", no_dups);
	CHECK("under churn: only names that were created", no_bad);
	CHECK("under churn: . and .. once each", dots);
	CHECK("under churn: seek to a saved d_off resumes after the same entry", resumed);
	CHECK("under churn: a saved d_off is valid on a new descriptor", reopen);

	/* telldir/seekdir through libc, with changes in between: the stable
	 * entry that followed s200 follows it again (the order itself is the
	 * filesystem's business). */
	DIR *d = opendir(dir);
	REQUIRE("opendir", d != NULL);
	long pos = -1;
	struct dirent *e;
	char after_name[256] = "";
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, "s200")) {
			pos = telldir(d);
			e = readdir(d);
			while (e && e->d_name[0] != 's')
				e = readdir(d);
			if (e)
				snprintf(after_name, sizeof(after_name), "%s", e->d_name);
			break;
		}
	}
	CHECK("telldir after s200", pos != -1);
	CHECK("a stable entry follows s200", after_name[0] == 's');
	usleep(20000);
	int same_next = pos != -1;
	for (int i = 0; i < 3 && pos != -1; i++) {
		seekdir(d, pos);
		e = readdir(d);
		while (e && e->d_name[0] != 's')
			e = readdir(d);
		if (!e || strcmp(e->d_name, after_name))
			same_next = 0;
		usleep(10000);
	}
	CHECK("seekdir to the telldir cookie resumes at the same entry every time", same_next);
	closedir(d);

	kill(child, SIGKILL);
	int st;
	CHECK("reap the churner", waitpid(child, &st, 0) == child && WIFSIGNALED(st));

	/* Deterministic interleaving in one process: remove an entry not yet
	 * reached (it is not returned), remove one already returned and add
	 * new ones (the rest still come exactly once). */
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	REQUIRE("reopen", fd >= 0);
	char buf[256];
	memset(seen, 0, sizeof(seen));
	int dup2x = 0, calls = 0;
	int gone[2] = {-1, -1}, gone_seen = 0, early = -1;
	long next_new = 1000000;
	for (;;) {
		long nr = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (nr <= 0)
			break;
		if (calls > 2000) {
			/* The listing keeps returning the entries made
			 * during it: it would never end. */
			printf("FAIL interleaved: the listing does not end\n");
			check_failures++;
			break;
		}
		for (long off = 0; off < nr;) {
			struct linux_dirent64 *de = (void *)(buf + off);
			off += de->d_reclen;
			if (de->d_name[0] != 's')
				continue;
			int k = atoi(de->d_name + 1);
			if (seen[k]++)
				dup2x++;
			if (k == gone[0] || k == gone[1])
				gone_seen = 1;
		}
		if (calls++ == 3) {
			/* Two stable entries not yet returned, and one that was
			 * (if any). */
			for (int k = 0, g = 0; k < NSTABLE; k++) {
				if (seen[k] == 0 && g < 2)
					gone[g++] = k;
				else if (seen[k] == 1 && early < 0)
					early = k;
			}
			for (int g = 0; g < 2; g++) {
				snprintf(path, sizeof(path), "%s/s%03d", dir, gone[g]);
				unlink(path);
			}
			if (early >= 0) {
				snprintf(path, sizeof(path), "%s/s%03d", dir, early);
				unlink(path);
			}
		}
		snprintf(path, sizeof(path), "%s/t%ld", dir, next_new++);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	int missing = 0;
	for (int i = 0; i < NSTABLE; i++)
		if (i != gone[0] && i != gone[1] && seen[i] != 1)
			missing++;
	CHECK("interleaved: stable entries were left to remove", gone[1] >= 0);
	CHECK_EQ("interleaved: entries that stayed (or went after being read) are seen once", missing, 0);
	CHECK_EQ("interleaved: no duplicates", dup2x, 0);
	CHECK("interleaved: entries removed before being reached are not returned", !gone_seen);
	close(fd);

	/* Clean up. */
	d = opendir(dir);
	int left = 0;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			left++;
	}
	if (d)
		closedir(d);
	CHECK("the directory empties", rmdir(dir) == 0);
	(void)left;
	return check_done();
}
