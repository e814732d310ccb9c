/*
 * proc_mem: /proc/[pid]/mem reads and writes a process' memory at
 * offsets that are addresses, through page protections, as debuggers use
 * it; an unmapped address is EIO.
 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long target = 0x1122334455667788;

int main(void)
{
	int fd = open("/proc/self/mem", O_RDWR);
	REQUIRE("open /proc/self/mem", fd >= 0);
	long v = 0;
	CHECK_EQ("pread a variable", pread(fd, &v, sizeof(v), (off_t)(uintptr_t)&target), (ssize_t)sizeof(v));
	CHECK("its value", v == 0x1122334455667788);
	v = 42;
	CHECK_EQ("pwrite it", pwrite(fd, &v, sizeof(v), (off_t)(uintptr_t)&target), (ssize_t)sizeof(v));
	CHECK("the variable changed", target == 42);

	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap read-only", ro != MAP_FAILED);
	CHECK_EQ("write through the protection", pwrite(fd, "hi", 2, (off_t)(uintptr_t)ro), 2);
	CHECK("read-only page holds it", ro[0] == 'h' && ro[1] == 'i');
	char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char c = 1;
	CHECK_EQ("read a PROT_NONE page", pread(fd, &c, 1, (off_t)(uintptr_t)none), 1);
	CHECK_EQ("it is zero", c, 0);
	munmap(none, 4096);
	CHECK_ERR("unmapped is EIO", pread(fd, &c, 1, (off_t)(uintptr_t)none), EIO);
	CHECK_EQ("lseek to an address", lseek(fd, (off_t)(uintptr_t)&target, SEEK_SET), (off_t)(uintptr_t)&target);
	CHECK_ERR("SEEK_END", lseek(fd, 0, SEEK_END), EINVAL);

	/* Another process' memory: a child's copy of target. */
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	pid_t ch = fork();
	if (ch == 0) {
		target = 7;
		write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	REQUIRE("fork", ch > 0);
	read(p[0], &c, 1);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)ch);
	int cfd = open(path, O_RDONLY);
	CHECK("open a child's mem", cfd >= 0);
	v = 0;
	CHECK_EQ("pread the child's copy", pread(cfd, &v, sizeof(v), (off_t)(uintptr_t)&target), (ssize_t)sizeof(v));
	CHECK("it is the child's value", v == 7 && target == 42);
	kill(ch, SIGKILL);
	waitpid(ch, NULL, 0);
	close(cfd);
	return check_done();
}
