/*
 * mmap_truncate: a memfd and a file in /tmp truncated under their
 * mappings. A
 * shared mapping must stay the file: after a truncation and a regrowth it
 * reads the zeros the file now holds, and its stores reach the file; a
 * private mapping (even one whose page was copied by a store) gets
 * SIGBUS past the new end; a punched hole reads as zeros through a
 * shared mapping. (Before, the mappings kept the old pages: the stores
 * went nowhere.)
 */
#include "check.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096

/* touch reads (or writes) p in a child and returns the signal that ended
 * it, or 0. */
static int touch(volatile char *p, int write)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void run(const char *what, int fd);

int main(void)
{
	int fd = memfd_create("mmap_truncate", 0);
	REQUIRE("memfd", fd >= 0);
	run("memfd", fd);
	/* A file in /tmp: the sandbox's tmpfs, or a gofer-served directory
	 * in the file tests' gofer run. */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/mmap_truncate.%d", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE("open /tmp file", fd >= 0);
	run("/tmp file", fd);
	unlink(path);
	return check_done();
}

static void run(const char *what, int fd)
{
	printf("%s\n", what);
	REQUIRE("size", ftruncate(fd, 2 * PG) == 0);
	char *sh = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE("mmap shared", sh != MAP_FAILED);
	sh[0] = 'A';
	sh[PG] = 'C';
	CHECK_OK("truncate to 0", ftruncate(fd, 0));
	CHECK_EQ("past the end: SIGBUS", touch(sh, 0), SIGBUS);
	CHECK_OK("grow again", ftruncate(fd, 2 * PG));
	CHECK_EQ("shared mapping reads the new zeros", sh[0], 0);
	sh[0] = 'B';
	char c = 0;
	CHECK_EQ("pread", pread(fd, &c, 1, 0), 1);
	CHECK_EQ("store through the mapping reaches the file", c, 'B');

	/* A private mapping: its file page, and a copy of it, both go. */
	char *pr = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	REQUIRE("mmap private", pr != MAP_FAILED);
	CHECK_EQ("private reads the file", pr[0], 'B');
	pr[PG] = 'P'; /* a private copy of page 1 */
	CHECK_OK("truncate to 1 page", ftruncate(fd, PG));
	CHECK_EQ("private copy past the end: SIGBUS", touch(pr + PG, 0), SIGBUS);
	CHECK_EQ("private page inside still there", pr[0], 'B');
	CHECK_EQ("shared page past the end: SIGBUS", touch(sh + PG, 1), SIGBUS);

	/* A punched hole reads as zeros through the shared mapping. */
	CHECK_OK("grow", ftruncate(fd, 2 * PG));
	sh[PG] = 'D';
	CHECK_OK("punch page 1", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG, PG));
	CHECK_EQ("shared reads the hole", sh[PG], 0);
	CHECK_EQ("file reads the hole", pread(fd, &c, 1, PG) == 1 ? c : -1, 0);
	munmap(sh, 2 * PG);
	munmap(pr, 2 * PG);
	close(fd);
}
