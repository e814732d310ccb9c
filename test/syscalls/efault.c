/*
 * efault: bad user pointers passed to syscalls fail with EFAULT and never
 * take the process (or the kernel) down. Raw syscall(2) is used where libc
 * would otherwise touch the pointer itself (or use the vDSO).
 */
#include "check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Opaque to the compiler, so that it does not reject the calls below. */
static void *volatile bad_ptr = (void *)1;
#define BAD (bad_ptr)

int main(void)
{
	/* An address that was mapped and is now a hole. */
	void *hole = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap a page", hole != MAP_FAILED);
	REQUIRE("munmap it", munmap(hole, 4096) == 0);
	/* A kernel address. */
	void *kern = (void *)0xffffffffff600000UL - 0x100000;

	CHECK_ERR("write from (void*)1", write(1, BAD, 10), EFAULT);
	CHECK_ERR("write from a hole", write(1, hole, 10), EFAULT);
	CHECK_ERR("write from a kernel address", write(1, kern, 10), EFAULT);
	CHECK_ERR("write from NULL", syscall(SYS_write, 1, NULL, 10), EFAULT);

	int pfd[2];
	REQUIRE("pipe", pipe(pfd) == 0);
	CHECK_EQ("fill the pipe", write(pfd[1], "abcdef", 6), 6);
	CHECK_ERR("read into NULL", syscall(SYS_read, pfd[0], NULL, 3), EFAULT);
	CHECK_ERR("read into a hole", read(pfd[0], hole, 3), EFAULT);
	CHECK_ERR("read into a kernel address", read(pfd[0], kern, 3), EFAULT);

	struct iovec bad_iov = {.iov_base = BAD, .iov_len = 4};
	CHECK_ERR("writev with a bad iovec array", syscall(SYS_writev, 1, BAD, 1), EFAULT);
	CHECK_ERR("writev with a bad iov_base", writev(1, &bad_iov, 1), EFAULT);

	CHECK_ERR("open with a bad path", syscall(SYS_open, BAD, O_RDONLY), EFAULT);
	CHECK_ERR("openat with a path in a hole", syscall(SYS_openat, AT_FDCWD, hole, O_RDONLY), EFAULT);
	CHECK_ERR("stat with a bad path", syscall(SYS_stat, BAD, hole), EFAULT);
	CHECK_ERR("stat with a bad buffer", syscall(SYS_stat, "/", BAD), EFAULT);
	CHECK_ERR("fstat with a bad buffer", syscall(SYS_fstat, 0, hole), EFAULT);
	CHECK_ERR("newfstatat with a bad buffer", syscall(SYS_newfstatat, AT_FDCWD, "/", BAD, 0), EFAULT);
	CHECK_ERR("access with a bad path", syscall(SYS_access, hole, F_OK), EFAULT);
	CHECK_ERR("readlink with a bad buffer", syscall(SYS_readlink, BAD, hole, 10), EFAULT);
	CHECK_ERR("getcwd into a bad buffer", syscall(SYS_getcwd, BAD, 100), EFAULT);
	CHECK_ERR("uname into a bad buffer", syscall(SYS_uname, hole), EFAULT);
	CHECK_ERR("pipe into a bad array", syscall(SYS_pipe, BAD), EFAULT);
	CHECK_ERR("clock_gettime into a bad buffer", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BAD), EFAULT);
	CHECK_ERR("gettimeofday into a bad buffer", syscall(SYS_gettimeofday, hole, NULL), EFAULT);
	CHECK_ERR("nanosleep with a bad request", syscall(SYS_nanosleep, BAD, NULL), EFAULT);
	CHECK_ERR("rt_sigaction with a bad action", syscall(SYS_rt_sigaction, 10, BAD, NULL, 8), EFAULT);
	CHECK_ERR("rt_sigprocmask with a bad set", syscall(SYS_rt_sigprocmask, 0, hole, NULL, 8), EFAULT);

	/* The process is intact: the pipe still holds its data. */
	char buf[8] = {0};
	CHECK_EQ("read the pipe afterwards", read(pfd[0], buf, 6), 6);
	CHECK("pipe data intact", memcmp(buf, "abcdef", 6) == 0);
	struct stat st;
	CHECK_EQ("fstat works afterwards", fstat(pfd[0], &st), 0);
	CHECK("it is a FIFO", S_ISFIFO(st.st_mode));
	return check_done();
}
