/* bpffuzz: random seccomp filters, each installed by a child of its own,
 * which then calls getppid with random arguments. It prints one line a
 * filter: what seccomp(2) said of it (refused, with the errno), else how
 * the getppid ended (its result or errno, the SIGSYS of SECCOMP_RET_TRAP
 * with its si_code, si_errno and si_syscall, or the signal that killed
 * the child). The lines depend only on the seed, so fuzz.sh runs it
 * natively and in the sandbox and compares them: the sentry's verifier,
 * its BPF interpreter and its handling of each SECCOMP_RET_* action must
 * answer as Linux does, for filters no test would write: loads from every
 * offset of seccomp_data (the instruction pointer and arguments too),
 * scratch memory read before it is written, every ALU operation (division
 * by a zero X, shifts past 31), jumps past the end, returns of any action
 * and data.
 *
 * A child installs one filter, or a stack of two or three, where the
 * action of highest precedence must win. Each filter is a prologue that
 * lets every other syscall through (write and exit must work), then a
 * random body of up to 30 instructions that sees only getppid: "ld nr; jeq
 * getppid, 0, body_len; body...; ret ALLOW". It is safe to run natively: a
 * child filters only itself, and only its getppid.
 *
 * Usage: bpffuzz SEED FILTERS */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t rng;
#define RNG rng
#include "fuzz.h"

#define MAXBODY 30

/* The actions a return may carry, with random data. */
static const uint32_t actions[] = {
	SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
	SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW,
};

static uint32_t retval(void)
{
	uint32_t data = below(4) == 0 ? (uint32_t)below(0x10000) : (uint32_t)below(40);
	if (below(16) == 0)
		return (uint32_t)next(); /* any number: an unknown action */
	return actions[below(sizeof(actions) / sizeof(actions[0]))] | data;
}

/* word returns a constant: small, an edge of 32 bits, or any. */
static uint32_t word(void)
{
	switch (below(4)) {
	case 0:
		return (uint32_t)below(8);
	case 1:
		return 0xffffffffu - (uint32_t)below(3);
	case 2:
		return 0x80000000u + (uint32_t)below(3) - 1;
	}
	return (uint32_t)next();
}

static uint64_t arg(void)
{
	switch (below(4)) {
	case 0:
		return below(8);
	case 1:
		return (uint64_t)word() << 32 | word();
	case 2:
		return ~0ULL - below(2);
	}
	return next();
}

/* rare is true for one instruction in about 40: one that seccomp refuses. */
static int rare(void) { return below(40) == 0; }

/* stored has bit k set once a body instruction before this one stored
 * M[k]: loads mostly read those (the kernel refuses a load that some path
 * reaches before a store). */
static uint32_t stored;

/* mem returns a scratch slot to load from. */
static uint32_t mem(void)
{
	if (!stored && !rare())
		return 17; /* a constant instead (see insn) */
	if (stored && below(8)) {
		uint32_t k;
		do
			k = (uint32_t)below(16);
		while (!(stored & 1u << k));
		return k;
	}
	return (uint32_t)below(17); /* 16: out of range */
}

/* insn returns a random instruction at body index p of n: mostly ones
 * seccomp accepts, sometimes ones it refuses. */
static struct sock_filter insn(int p, int n)
{
	/* (seccomp refuses BPF_MOD, and BPF_NEG with BPF_X) */
	static const uint16_t alu[] = {BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_XOR};
	static const uint16_t jmp[] = {BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET};
	int left = n - p - 1; /* instructions after this one, the final ALLOW included */
	struct sock_filter f = {0};
	uint32_t off = (uint32_t)below(16) * 4;
	switch (below(11)) {
	case 0: case 1: case 2:
		/* ld: seccomp_data words (rarely another size, or a
		 * misaligned or out-of-range offset), its length, a
		 * constant, scratch memory. */
		if (rare()) {
			switch (below(3)) {
			case 0:
				f = (struct sock_filter)BPF_STMT(BPF_LD | (below(2) ? BPF_H : BPF_B) | BPF_ABS, off);
				break;
			case 1:
				f = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off + 1 + (uint32_t)below(3));
				break;
			default:
				f = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off + 64);
			}
			break;
		}
		switch (below(8)) {
		case 0:
			f = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0);
			break;
		case 1:
			f = (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, word());
			break;
		case 2: {
			uint32_t k = mem();
			f = k == 17 ? (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, word()) : (struct sock_filter)BPF_STMT(BPF_LD | BPF_MEM, k);
			break;
		}
		default:
			f = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off);
		}
		break;
	case 3:
		switch (below(rare() ? 4 : 3)) {
		case 0:
			f = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_W | BPF_LEN, 0);
			break;
		case 1: {
			uint32_t k = mem();
			f = k == 17 ? (struct sock_filter)BPF_STMT(BPF_LDX | BPF_IMM, word()) : (struct sock_filter)BPF_STMT(BPF_LDX | BPF_MEM, k);
			break;
		}
		case 3:
			f = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, off);
			break;
		default:
			f = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_IMM, word());
		}
		break;
	case 4: case 5: {
		uint32_t k = rare() ? 16 : (uint32_t)below(16);
		if (k < 16)
			stored |= 1u << k;
		f = (struct sock_filter)BPF_STMT((below(2) ? BPF_ST : BPF_STX), k);
		break;
	}
	case 6: case 7: {
		uint16_t op = rare() ? BPF_MOD : alu[below(sizeof(alu) / sizeof(alu[0]))];
		uint32_t k = word();
		if ((op == BPF_LSH || op == BPF_RSH) && below(2))
			k = (uint32_t)below(rare() ? 40 : 32);
		if ((op == BPF_DIV || op == BPF_MOD) && k == 0 && !rare())
			k = 1;
		f = (struct sock_filter)BPF_STMT(BPF_ALU | op | ((op != BPF_NEG || rare()) && below(2) ? BPF_X : BPF_K), k);
		break;
	}
	case 8:
		f = (struct sock_filter)BPF_STMT(BPF_MISC | (below(2) ? BPF_TAX : BPF_TXA), 0);
		break;
	case 9: {
		/* Jumps stay inside the filter but rarely. */
		int far = rare();
		if (below(4) == 0) {
			f = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, far ? (uint32_t)left + (uint32_t)below(3) : (uint32_t)below(left), 0, 0);
		} else {
			uint16_t op = jmp[below(sizeof(jmp) / sizeof(jmp[0]))];
			uint8_t jt = far ? (uint8_t)(left + below(3)) : (uint8_t)below(left), jf = (uint8_t)below(left);
			f = (struct sock_filter)BPF_JUMP(BPF_JMP | op | (below(4) == 0 ? BPF_X : BPF_K), word(), jt, jf);
		}
		break;
	}
	default:
		f = below(3) ? (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, retval()) : (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
	}
	return f;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "sigsys code %d errno %d syscall %d\n", si->si_code, si->si_errno, si->si_syscall);
	write(1, buf, n);
	_exit(0);
}

/* child installs the nf filters of f in order and calls getppid with
 * args; it prints its line (without the filter's number) and exits. */
static void child(struct sock_fprog *f, int nf, const uint64_t *args)
{
	struct rlimit no = {0, 0};
	setrlimit(RLIMIT_CORE, &no);
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigaction(SIGSYS, &sa, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		printf("no_new_privs failed: %s\n", strerror(errno));
		_exit(0);
	}
	for (int j = 0; j < nf; j++) {
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f[j]) != 0) {
			printf("refused: filter %d of %d, errno %d\n", j + 1, nf, errno);
			_exit(0);
		}
	}
	long r = syscall(SYS_getppid, args[0], args[1], args[2], args[3], args[4], args[5]);
	if (r < 0)
		printf("getppid: errno %d\n", errno);
	else
		printf("getppid: ran\n");
	_exit(0);
}

/* gen writes a random filter into prog (room for 2 + MAXBODY + 1) and
 * returns its length. */
static int gen(struct sock_filter *prog)
{
	int n = 1 + (int)below(MAXBODY);
	prog[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
	prog[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, n);
	stored = 0;
	for (int p = 0; p < n; p++)
		prog[2 + p] = insn(p, n + 1);
	if (below(4))
		prog[1 + n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, retval());
	prog[2 + n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return 3 + n;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bpffuzz SEED FILTERS\n");
		return 2;
	}
	rng = seed_from(argv[1]);
	long filters = atol(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	long refused = 0, ran = 0, errnos = 0, trapped = 0, killed = 0;
	for (long i = 0; i < filters; i++) {
		/* One filter, or up to three stacked: the kernel runs them
		 * all and the action of highest precedence wins (the data of
		 * the newest filter that returned it). */
		struct sock_filter prog[3][2 + MAXBODY + 1];
		struct sock_fprog f[3];
		int nf = below(4) ? 1 : 2 + (int)below(2);
		for (int j = 0; j < nf; j++)
			f[j] = (struct sock_fprog){.len = (unsigned short)gen(prog[j]), .filter = prog[j]};
		uint64_t args[6];
		for (int a = 0; a < 6; a++)
			args[a] = arg();
		printf("%ld: ", i);
		fflush(stdout);
		int fds[2];
		if (pipe(fds)) {
			perror("bpffuzz: pipe");
			return 1;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("bpffuzz: fork");
			return 1;
		}
		if (pid == 0) {
			dup2(fds[1], 1);
			close(fds[0]);
			close(fds[1]);
			child(f, nf, args);
		}
		close(fds[1]);
		char out[128];
		ssize_t got = read(fds[0], out, sizeof(out) - 1);
		close(fds[0]);
		out[got > 0 ? got : 0] = 0;
		int st;
		if (waitpid(pid, &st, 0) != pid) {
			perror("bpffuzz: waitpid");
			return 1;
		}
		if (WIFSIGNALED(st)) {
			printf("killed by signal %d\n", WTERMSIG(st));
			killed++;
			continue;
		}
		fputs(out, stdout);
		refused += strncmp(out, "refused", 7) == 0;
		ran += strcmp(out, "getppid: ran\n") == 0;
		errnos += strncmp(out, "getppid: errno", 14) == 0;
		trapped += strncmp(out, "sigsys", 6) == 0;
	}
	printf("bpffuzz: ok: %ld filters: %ld refused, %ld ran getppid, %ld made it fail, %ld trapped, %ld killed\n",
	       filters, refused, ran, errnos, trapped, killed);
	return 0;
}
