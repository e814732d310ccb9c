/*
 * personality: personality(2) queries and sets the execution domain;
 * children inherit it, and ADDR_NO_RANDOMIZE makes execve place the
 * program (its stack and mappings) at the same addresses every time, as
 * debuggers rely on.
 */
#include "check.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

/* layout runs argv[0] with "layout" in a child and returns what it
 * printed: the address of a stack variable and of a fresh mapping. */
static int layout(const char *self, char *buf, size_t n)
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		execl(self, self, "layout", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	ssize_t r = read(p[0], buf, n - 1);
	close(p[0]);
	int st;
	waitpid(c, &st, 0);
	if (r < 0)
		return -1;
	buf[r] = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		int local;
		void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("%p %p\n", (void *)&local, m);
		return 0;
	}
	int cur = personality(0xffffffff);
	CHECK_EQ("default is PER_LINUX", cur, PER_LINUX);
	CHECK_EQ("set returns the old value", personality(PER_LINUX | ADDR_NO_RANDOMIZE), PER_LINUX);
	CHECK_EQ("query", personality(0xffffffff), PER_LINUX | ADDR_NO_RANDOMIZE);
	pid_t c = fork();
	if (c == 0)
		_exit(personality(0xffffffff) == (PER_LINUX | ADDR_NO_RANDOMIZE) ? 0 : 1);
	int st;
	REQUIRE("fork", c > 0 && waitpid(c, &st, 0) == c);
	CHECK("inherited by fork", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	char a[128], b[128];
	REQUIRE("layout 1", layout("/proc/self/exe", a, sizeof(a)) == 0);
	REQUIRE("layout 2", layout("/proc/self/exe", b, sizeof(b)) == 0);
	CHECK("no randomisation: same addresses", strcmp(a, b) == 0);

	personality(PER_LINUX);
	int same = 0;
	for (int i = 0; i < 3; i++) {
		REQUIRE("layout", layout("/proc/self/exe", a, sizeof(a)) == 0);
		REQUIRE("layout", layout("/proc/self/exe", b, sizeof(b)) == 0);
		same += strcmp(a, b) == 0;
	}
	CHECK("randomised again", same < 3);
	return check_done();
}
