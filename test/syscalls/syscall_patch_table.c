/* syscall_patch_table: a program that maps memory at 2 GiB - 3.25 MiB
 * (0x7fcc0000, where systrap keeps the pointer table its patched syscall
 * sites jump through) and fills it, as a brk heap of about 2 GiB or a
 * MAP_FIXED mapping may, reads its own bytes there and keeps making
 * syscalls from sites that were patched before (static "mov $NR, %eax;
 * syscall" sites and glibc's syscall(2)), in the process and in a fork
 * child; and so does a child whose mapping grows into it with mremap, and
 * children that unmap a range around it where nothing is mapped. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

long pt_getpid(void);

__asm__(".text\n"
	".p2align 4\n"
	"pt_getpid: nop\n mov $39, %eax\n syscall\n ret\n");

/* calls makes n syscalls from each kind of site and counts wrong results. */
static long calls(int n)
{
	long pid = getpid(), bad = 0;
	for (int i = 0; i < n; i++) {
		bad += pt_getpid() != pid;
		bad += syscall(SYS_getpid) != pid;
		bad += syscall(SYS_getppid) != getppid();
	}
	return bad;
}

/* map_at maps a private read-write page (or more) exactly at addr. */
static unsigned char *map_at(unsigned long addr, size_t len)
{
	return mmap((void *)addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

/* grow_into: in a fork child (an address space of its own, with the
 * parent's patches), a mapping just below the range grows into it with
 * mremap. */
static void grow_into(void)
{
	unsigned char *p = map_at(0x7fcb0000, 0x10000);
	REQUIRE("mapped below the table", p == (void *)0x7fcb0000);
	memset(p, 0x42, 0x10000);
	REQUIRE("mremap grows it in place", mremap(p, 0x10000, 0x20000, 0) == p);
	int bad = 0;
	for (int i = 0; i < 0x20000; i++)
		bad += p[i] != (i < 0x10000 ? 0x42 : 0);
	CHECK_EQ("a mapping grown into it by mremap reads its own bytes", bad, 0);
	CHECK_EQ("calls work after the mremap", calls(2000), 0);
}

/* unmap_around: fork children, one after the other, whose calls were
 * patched, munmap a range around the table and the Go view (0x48fa8000),
 * with memory of theirs at its ends but none at those two places; their
 * calls go on working, and so do those of the children after them, which
 * may get the address space (the stub) the one before left. */
static void unmap_around(void)
{
	CHECK_EQ("calls before the munmap", calls(2000), 0);
	/* Pages at both ends, so that the range has memory to unmap. */
	REQUIRE("a page at 1 GiB", map_at(0x40000000, 4096) == (void *)0x40000000);
	REQUIRE("a page below 3 GiB", map_at(0xbffff000, 4096) == (void *)0xbffff000);
	*(volatile char *)0x40000000 = 1;
	*(volatile char *)0xbffff000 = 1;
	CHECK_OK("munmap around the table", munmap((void *)0x40000000, 0x80000000));
	CHECK_EQ("calls work after an munmap around the table", calls(2000), 0);
}

int main(void)
{
	/* Trap, and be patched (in the sandbox). */
	CHECK_EQ("calls before", calls(2000), 0);
	check_in_child("mremap into the table (child)", NULL, grow_into);
	for (int i = 0; i < 4; i++)
		check_in_child("munmap around the table (child)", NULL, unmap_around);

	void *want = (void *)0x7fcc0000;
	void *p = CHECK_MAP("mmap at 0x7fcc0000",
			    mmap(want, 0x10000, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	REQUIRE("mapped where asked", p == want);
	long nonzero = 0;
	for (int i = 0; i < 0x10000; i++)
		nonzero += ((unsigned char *)p)[i] != 0;
	CHECK_EQ("a fresh mapping reads zeros", nonzero, 0);
	memset(p, 0x41, 0x10000);

	CHECK_EQ("calls after", calls(2000), 0);
	pid_t c = fork();
	REQUIRE("fork", c >= 0);
	if (c == 0)
		_exit(calls(2000) == 0 ? 0 : 1);
	int st;
	CHECK_EQ("waitpid", waitpid(c, &st, 0), c);
	CHECK("child's calls", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("the mapping kept its data", ((unsigned char *)p)[0x8000] == 0x41);
	return check_done();
}
