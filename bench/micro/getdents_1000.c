/* getdents_1000: reading a 1,000-entry directory in /tmp from the start. */
#include "bench.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char dir[] = "/tmp/rampart-bench-XXXXXX";
static int dfd;

static void op(long n)
{
	static char buf[32768];
	for (long i = 0; i < n; i++) {
		lseek(dfd, 0, SEEK_SET);
		long total = 0, r;
		while ((r = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
			total += r;
		if (r < 0 || total == 0) {
			perror("getdents64");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char p[128];
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "%s/f%04d", dir, i);
		close(open(p, O_CREAT | O_WRONLY, 0600));
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int r = bench_main(argc, argv, "getdents_1000", op);
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof(p), "%s/f%04d", dir, i);
		unlink(p);
	}
	rmdir(dir);
	return r;
}
