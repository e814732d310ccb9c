/* mmap_reuse: anonymous memory mapped again where it was just unmapped
 * reads as zero, however the old pages were used; the unmapped range
 * faults; a file, a read(2), a fork or a narrower protection over the old
 * range see only what they should. (The sentry may keep freed pages to
 * hand them to the next mapping of the same range: mm's parked ranges.) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MB (1 << 20)
#define PG 4096

static sigjmp_buf fault_jmp;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	fault_code = si->si_code;
	siglongjmp(fault_jmp, 1);
}

/* probe reads (or writes) p and returns 0, or the SIGSEGV si_code. */
static int probe(volatile char *p, int write)
{
	fault_code = 0;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
		return 0;
	}
	return fault_code;
}

static char *map_anon(void *hint, size_t n, int prot, int flags)
{
	return mmap(hint, n, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

/* zero_at returns -1 if every byte of [p, p+n) is zero, else the offset
 * of the first that is not. */
static long zero_at(const char *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < n / 8; i++)
		if (w[i] != 0)
			return (long)(i * 8);
	return -1;
}

static void fill(char *p, size_t n, char v)
{
	memset(p, v, n);
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigaction(SIGSEGV, &sa, NULL);

	/* Rounds of map, check, dirty, unmap: each round's mapping reads as
	 * zero whatever the last one wrote. */
	int rounds_ok = 1;
	char *first = NULL;
	for (int r = 0; r < 50; r++) {
		char *p = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
		if (p == MAP_FAILED) {
			rounds_ok = 0;
			break;
		}
		if (r == 0)
			first = p;
		long z = zero_at(p, MB);
		if (z >= 0) {
			check_fail("rounds_zero", "round %d: byte %ld is %d", r, z, p[z]);
			rounds_ok = 0;
		}
		fill(p, MB, (char)(r + 1));
		munmap(p, MB);
	}
	CHECK("rounds_zero", rounds_ok);

	/* The unmapped range faults as unmapped, read or written. */
	char *p = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
	fill(p, MB, 7);
	munmap(p, MB);
	CHECK("unmapped_read_faults", probe(p + 5 * PG, 0) == SEGV_MAPERR);
	CHECK("unmapped_write_faults", probe(p + MB - 1, 1) == SEGV_MAPERR);
	(void)first;

	/* Mapped again read-only: zero, and a write faults as denied. */
	char *q = map_anon(p, MB, PROT_READ, MAP_FIXED_NOREPLACE);
	CHECK("readonly_again", q == p);
	if (q == p) {
		CHECK("readonly_zero", zero_at(q, MB) < 0);
		CHECK("readonly_write_faults", probe(q + 3 * PG, 1) == SEGV_ACCERR);
		munmap(q, MB);
	}

	/* A file mapped over the old range reads the file. */
	char path[] = "/tmp/mmap_reuse_XXXXXX";
	int fd = mkstemp(path);
	CHECK("mkstemp", fd >= 0);
	if (fd >= 0) {
		unlink(path);
		char *buf = malloc(MB);
		fill(buf, MB, 'f');
		CHECK("file_write", write(fd, buf, MB) == MB);
		p = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
		fill(p, MB, 9);
		munmap(p, MB);
		char *f = mmap(p, MB, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
		CHECK("file_over_old", f == p);
		if (f == p) {
			int same = 1;
			for (size_t i = 0; i < MB; i += 511)
				same &= f[i] == 'f';
			CHECK("file_reads_file", same);
			munmap(f, MB);
		}

		/* read(2) into memory mapped where freed memory was: the
		 * file's bytes where it read, zero after. */
		p = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
		fill(p, MB, 3);
		munmap(p, MB);
		char *r = map_anon(p, MB, PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE);
		CHECK("read_target_again", r == p);
		if (r == p) {
			CHECK("read_into", pread(fd, r, MB / 2, 0) == MB / 2);
			int got = 1;
			for (size_t i = 0; i < MB / 2; i += 509)
				got &= r[i] == 'f';
			CHECK("read_into_data", got);
			CHECK("read_into_rest_zero", zero_at(r + MB / 2, MB / 2) < 0);
			munmap(r, MB);
		}
		free(buf);
		close(fd);
	}

	/* A child forked before the parent unmaps keeps its copy; the
	 * parent's next mapping is zero; the parent's data is not the
	 * child's after the child unmaps its copy. */
	p = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
	fill(p, MB, 'p');
	int pipefd[2];
	CHECK("pipe", pipe(pipefd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(pipefd[1]);
		read(pipefd[0], &c, 1); /* the parent has unmapped and remapped */
		int ok = 1;
		for (size_t i = 0; i < MB; i += 4093)
			ok &= p[i] == 'p';
		munmap(p, MB);
		char *c2 = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
		ok &= zero_at(c2, MB) < 0;
		_exit(ok ? 0 : 1);
	}
	close(pipefd[0]);
	munmap(p, MB);
	char *again = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
	CHECK("fork_parent_zero", again != MAP_FAILED && zero_at(again, MB) < 0);
	fill(again, MB, 'n');
	write(pipefd[1], "x", 1);
	close(pipefd[1]);
	int status;
	CHECK("fork_child", waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK("fork_parent_kept", again[MB - 1] == 'n');
	munmap(again, MB);

	/* A sparsely touched range, then a bigger mapping over it and its
	 * neighbour: zero everywhere. */
	p = map_anon(NULL, MB, PROT_READ | PROT_WRITE, 0);
	p[0] = 1;
	p[MB / 2] = 1;
	munmap(p, MB);
	q = map_anon(NULL, 2 * MB, PROT_READ | PROT_WRITE, 0);
	CHECK("bigger_zero", q != MAP_FAILED && zero_at(q, 2 * MB) < 0);
	munmap(q, 2 * MB);

	/* Part of a mapping unmapped and mapped again: the rest keeps its
	 * data, the part reads zero. */
	p = map_anon(NULL, 2 * MB, PROT_READ | PROT_WRITE, 0);
	fill(p, 2 * MB, 'h');
	munmap(p, MB);
	q = map_anon(p, MB, PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE);
	CHECK("half_again", q == p);
	if (q == p)
		CHECK("half_zero", zero_at(q, MB) < 0);
	CHECK("half_kept", p[MB] == 'h' && p[2 * MB - 1] == 'h');
	munmap(p, 2 * MB);

	return check_done();
}
