/* sysfuzz throws random system calls with hostile arguments at the kernel
 * it runs on. It is meant for the sandbox only (test/e2e/fuzz.sh): natively,
 * as root, random syscalls could harm the host, which is why it refuses to
 * run unless RAMPART_FUZZ_SANDBOXED=1 is set.
 *
 * usage: sysfuzz SEED WORKERS CALLS [THREADS [PROCS]]
 *
 * Each worker is a forked child that makes CALLS random calls (number and
 * six arguments drawn from seeded choices: small integers, fds it opened or
 * an earlier call returned, flags-like bit patterns, structure sizes,
 * pointers into a random-filled scratch area, kernel and unmapped
 * addresses, path strings, socket addresses, iovecs, message headers with
 * fds to pass, short timeouts) and exits. A worker may
 * die of a signal (it unmaps its own code, say) or hang (the parent kills it
 * after 5 s): those are the application's own business. What must
 * hold is that the kernel survives and still works: a SIGKILL ends a worker
 * within 5 s whatever it is doing, the parent checks basic calls after every
 * worker, and it prints "sysfuzz: ok" at the end, with a digest of the
 * workers' outcomes (how each ended; SYSFUZZ_OUTCOMES=1 lists them), which
 * test/e2e/fuzz.sh compares between platforms: with one thread a worker's
 * calls depend on its seed only (the scratch area is at a fixed address),
 * and so, but for timing, should its end.
 *
 * With PROCS, each worker is a family worker instead (see family_worker):
 * unprivileged, it may also fork, clone, signal, trace and so on, up to
 * PROCS processes.
 *
 * Calls that would reach outside the worker (signals to other processes,
 * ptrace, process_vm_writev), raise its limits, make processes or end it
 * early are left out, and so are the timers the worker's tick needs (see
 * worker) and signals at times of their own. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* rng is each thread's generator. */
static __thread uint64_t rng;
static long calls_per_thread;
static int logfd = -1;

#define RNG rng
#include "fuzz.h"

/* Calls never made: see the comment at the top. */
static const int denied[] = {
	SYS_fork, SYS_vfork, SYS_clone, SYS_clone3, SYS_execve, SYS_execveat,
	SYS_exit, SYS_exit_group, SYS_kill, SYS_tkill, SYS_tgkill,
	SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo, SYS_pidfd_send_signal,
	SYS_ptrace, SYS_process_vm_writev, SYS_process_vm_readv, SYS_reboot,
	SYS_setrlimit, SYS_prlimit64, SYS_alarm, SYS_setitimer, SYS_pause,
	SYS_rt_sigsuspend, SYS_rt_sigreturn, SYS_vhangup, SYS_seccomp,
	SYS_prctl, SYS_arch_prctl, SYS_setsid, SYS_setpgid, SYS_kexec_load,
	SYS_kexec_file_load, SYS_init_module, SYS_finit_module,
	SYS_delete_module, SYS_swapon, SYS_swapoff, SYS_acct, SYS_settimeofday,
	SYS_clock_settime, SYS_adjtimex, SYS_clock_adjtime, SYS_sethostname,
	SYS_setdomainname, SYS_iopl, SYS_ioperm, SYS_mount, SYS_umount2,
	SYS_pivot_root, SYS_chroot, SYS_unshare, SYS_setns, SYS_pidfd_getfd,
	SYS_sched_setscheduler, SYS_sched_setattr, SYS_setpriority,
	SYS_sched_setparam,
	/* Signals at times of their own would make a worker's end depend on
	 * timing (see the outcomes' digest). */
	SYS_timer_create,
};

/* In a family worker (see family_worker) only these are never made: the
 * rest an unprivileged process may make on its own family, or fail. */
static const int family_denied[] = {
	SYS_execve, SYS_execveat, SYS_rt_sigreturn, SYS_timer_create,
};

/* family is set in a family worker. */
static int family;

static int is_denied(long nr)
{
	if (family) {
		for (size_t i = 0; i < sizeof(family_denied) / sizeof(family_denied[0]); i++)
			if (family_denied[i] == nr)
				return 1;
		return 0;
	}
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if (denied[i] == nr)
			return 1;
	return 0;
}

#define SCRATCH (256 << 10)
static char *scratch;
static int fds[24];
static int nfds;

static const char *const paths[] = {
	"/tmp/fuzz-a", "/tmp/fuzz-dir", "/proc/self/status", "/proc/self/maps",
	"/dev/null", "/dev/zero", ".", "/", "/tmp", "/proc/self/fd/0",
	"/etc/passwd", "/sys/kernel", "", "/tmp/fuzz-a/../fuzz-b",
	"/proc/self/mem", "/dev/ptmx", "/proc/self/fdinfo/3",
};

/* place writes a path string somewhere in the scratch area and returns it. */
static uint64_t place(void)
{
	const char *p = paths[below(sizeof(paths) / sizeof(paths[0]))];
	size_t n = strlen(p) + 1;
	char *at = scratch + 4096 + below(SCRATCH - 8192);
	memcpy(at, p, n);
	return (uint64_t)at;
}

/* scratch_at returns n bytes at a random 8-byte aligned place of the
 * scratch area's middle part. */
static char *scratch_at(size_t n)
{
	return scratch + 4096 + (below(SCRATCH - 8192 - n) & ~7UL);
}

/* place_iovec builds an array of up to 4 iovecs over scratch bytes. */
static uint64_t place_iovec(void)
{
	struct iovec *iov = (struct iovec *)scratch_at(4 * sizeof(*iov));
	for (int i = 0; i < 4; i++) {
		iov[i].iov_len = below(3) ? below(512) : below(65536);
		iov[i].iov_base = scratch_at(iov[i].iov_len);
	}
	return (uint64_t)iov;
}

/* place_sockaddr builds an address of a family the sandbox has. */
static uint64_t place_sockaddr(void)
{
	static const uint16_t ports[] = {7, 80, 5000, 5001, 0};
	char *at = scratch_at(sizeof(struct sockaddr_storage));
	switch (below(4)) {
	case 0: {
		struct sockaddr_in *a = (struct sockaddr_in *)at;
		a->sin_family = AF_INET;
		a->sin_port = htons(ports[below(5)]);
		a->sin_addr.s_addr = below(2) ? htonl(INADDR_LOOPBACK) : htonl(INADDR_ANY);
		break;
	}
	case 1: {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)at;
		memset(a, 0, sizeof(*a));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(ports[below(5)]);
		a->sin6_addr = in6addr_loopback;
		break;
	}
	case 2: {
		struct sockaddr_un *a = (struct sockaddr_un *)at;
		a->sun_family = AF_UNIX;
		if (below(2))
			strcpy(a->sun_path, "/tmp/fuzz-sock");
		else
			memcpy(a->sun_path, "\0fuzz", 6); /* abstract */
		break;
	}
	default:
		((struct sockaddr *)at)->sa_family = next() & 0xff;
	}
	return (uint64_t)at;
}

/* place_msghdr builds a message header with an address, iovecs and, now
 * and then, fds to pass. */
static uint64_t place_msghdr(void)
{
	struct msghdr *m = (struct msghdr *)scratch_at(sizeof(*m));
	m->msg_name = below(2) ? (void *)place_sockaddr() : NULL;
	m->msg_namelen = below(2) ? sizeof(struct sockaddr_in6) : below(128);
	m->msg_iov = (struct iovec *)place_iovec();
	m->msg_iovlen = below(5);
	m->msg_control = NULL;
	m->msg_controllen = 0;
	if (below(3) == 0) {
		size_t n = CMSG_SPACE(3 * sizeof(int));
		struct cmsghdr *c = (struct cmsghdr *)scratch_at(n);
		c->cmsg_len = CMSG_LEN(below(4) * sizeof(int));
		c->cmsg_level = below(4) ? SOL_SOCKET : next() & 0xff;
		c->cmsg_type = below(2) ? SCM_RIGHTS : SCM_CREDENTIALS;
		for (int i = 0; i < 3; i++)
			((int *)CMSG_DATA(c))[i] = nfds ? fds[below(nfds)] : i;
		m->msg_control = c;
		m->msg_controllen = below(4) ? n : below(64);
	}
	m->msg_flags = 0;
	return (uint64_t)m;
}

/* place_timespec builds a timespec of at most 10 ms, or a bad one. */
static uint64_t place_timespec(void)
{
	struct timespec *ts = (struct timespec *)scratch_at(sizeof(*ts));
	ts->tv_sec = below(8) ? 0 : (long)next();
	ts->tv_nsec = below(8) ? (long)below(10000000) : (long)next();
	return (uint64_t)ts;
}

static uint64_t arg_value(void)
{
	static const uint64_t sizes[] = {4, 8, 16, 24, 28, 56, 110, 128, 4096};
	switch (below(21)) {
	case 0: return 0;
	case 1: return below(8);
	case 2:
	case 15: {
		int n = __atomic_load_n(&nfds, __ATOMIC_RELAXED);
		return n ? (uint64_t)__atomic_load_n(&fds[below(n)], __ATOMIC_RELAXED) : 0;
	}
	case 16: return place_iovec();
	case 17: return place_sockaddr();
	case 18: return place_msghdr();
	case 19: return place_timespec();
	case 20: return sizes[below(sizeof(sizes) / sizeof(sizes[0]))];
	case 3: return (uint64_t)-1;
	case 4: return (uint64_t)(int64_t)-(int64_t)below(4096);
	case 5: return 1ULL << below(64);
	case 6: return next() & 0xffff;
	case 7: return next();
	case 8: return (uint64_t)scratch + below(SCRATCH);
	case 9: return (uint64_t)scratch + (below(SCRATCH / 4096)) * 4096;
	case 10: return (uint64_t)scratch + SCRATCH - below(64);
	case 11: return place();
	case 12: return 0xffffffff80000000ULL + below(1 << 20);
	case 13: return 0x00007ffffffff000ULL + below(0x2000);
	case 14: return below(1 << 20) * 4096;
	default:
		return next() & 0xffffffff;
	}
}

static void setup_fds(void)
{
	int p[2];
	nfds = 0;
	fds[nfds++] = open("/tmp/fuzz-a", O_RDWR | O_CREAT, 0644);
	fds[nfds++] = open("/tmp/fuzz-dir", O_RDONLY | O_DIRECTORY);
	if (pipe(p) == 0) {
		fds[nfds++] = p[0];
		fds[nfds++] = p[1];
	}
	fds[nfds++] = eventfd(0, EFD_NONBLOCK);
	fds[nfds++] = epoll_create1(0);
	fds[nfds++] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	fds[nfds++] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	fds[nfds++] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	fds[nfds++] = open("/proc/self/status", O_RDONLY);
	fds[nfds++] = memfd_create("fuzz", 0);
	fds[nfds++] = open("/dev/null", O_RDWR);
}

/* returns_fd reports whether a successful call nr returns a new fd. */
static int returns_fd(long nr)
{
	switch (nr) {
	case SYS_open: case SYS_openat: case SYS_openat2: case SYS_creat:
	case SYS_socket: case SYS_accept: case SYS_accept4: case SYS_dup:
	case SYS_dup2: case SYS_dup3: case SYS_fcntl: case SYS_eventfd:
	case SYS_eventfd2: case SYS_epoll_create: case SYS_epoll_create1:
	case SYS_timerfd_create: case SYS_signalfd: case SYS_signalfd4:
	case SYS_inotify_init: case SYS_inotify_init1: case SYS_memfd_create:
	case SYS_pidfd_open: case SYS_open_tree: case SYS_fsopen:
	case SYS_fsmount: case SYS_userfaultfd: case SYS_io_uring_setup:
	case SYS_perf_event_open: case SYS_fanotify_init:
		return 1;
	}
	return 0;
}

/* add_fd puts fd in the table of fds the calls use, in a random place
 * once it is full. */
static void add_fd(int fd)
{
	int n = __atomic_load_n(&nfds, __ATOMIC_RELAXED);
	if (n < (int)(sizeof(fds) / sizeof(fds[0])) && __atomic_compare_exchange_n(&nfds, &n, n + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		__atomic_store_n(&fds[n], fd, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&fds[below(n)], fd, __ATOMIC_RELAXED);
}

/* fuzz makes a thread's share of a worker's calls. */
static void *fuzz(void *arg)
{
	long calls = (long)arg;
	for (long i = 0; i < calls; i++) {
		long nr;
		do
			nr = below(460);
		while (is_denied(nr));
		uint64_t a[6];
		for (int j = 0; j < 6; j++)
			a[j] = arg_value();
		/* The tick's handler stays: a SIGALRM that kills, or runs
		 * garbage, would end the worker at a time of its own. */
		if (nr == SYS_rt_sigaction && (a[0] & 0xffffffff) == SIGALRM)
			a[0] = SIGUSR1;
		if (logfd >= 0)
			dprintf(logfd, "[%ld] %ld(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)", (long)syscall(SYS_gettid), nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (r >= 3 && r < 256 && returns_fd(nr))
			add_fd(r);
		/* A new process or thread goes on with calls of its own, with
		 * a tick of its own (a child inherits no interval timer; a
		 * vfork parent waits for its child). */
		if (r == 0 && (nr == SYS_fork || nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3)) {
			rng ^= (uint64_t)syscall(SYS_gettid) * 0x9e3779b97f4a7c15ULL;
			struct itimerval it = {{0, 20000}, {0, 20000}};
			syscall(SYS_setitimer, ITIMER_REAL, &it, NULL);
		}
		if (logfd >= 0)
			dprintf(logfd, " = %ld (%d) [%ld]\n", r, r < 0 ? errno : 0, (long)syscall(SYS_gettid));
		/* Refill the scratch now and then: calls write into it. */
		if ((i & 63) == 63)
			for (size_t k = 0; k < SCRATCH; k += 4096)
				*(uint64_t *)(scratch + k + (below(512) << 3)) = next();
	}
	return NULL;
}

/* start seeds a thread's generator and runs its calls. */
static void *start(void *seed)
{
	rng = (uint64_t)(uintptr_t)seed * 0x9e3779b97f4a7c15ULL + 1;
	return fuzz((void *)calls_per_thread);
}

static void on_tick(int sig) { (void)sig; }

static void worker(uint64_t seed, long calls, int threads)
{
	struct rlimit as = {1UL << 30, 1UL << 30}, fsz = {16 << 20, 16 << 20};
	struct rlimit nofile = {256, 256};
	setrlimit(RLIMIT_AS, &as);
	setrlimit(RLIMIT_FSIZE, &fsz);
	setrlimit(RLIMIT_NOFILE, &nofile);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	/* A call that blocks (a read of an empty pipe, a poll without a
	 * timeout) is interrupted by the next tick of a 20 ms timer, whose
	 * handler does nothing, and fails with EINTR. */
	struct sigaction tick = {.sa_handler = on_tick};
	sigaction(SIGALRM, &tick, NULL);
	struct itimerval it = {{0, 20000}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	/* At a fixed address, so that a seed makes the same calls in every
	 * run (pointer arguments are into the scratch area, and the bytes
	 * there may be read as pointers). */
	scratch = mmap((void *)0x200000000000ULL, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (scratch == MAP_FAILED)
		_exit(3);
	for (size_t i = 0; i < SCRATCH; i += 8)
		*(uint64_t *)(scratch + i) = next();
	/* Random writes to the standard fds would land in the harness's log;
	 * verbose mode logs on a copy of stderr (which a call may close). */
	logfd = getenv("SYSFUZZ_VERBOSE") ? dup(2) : -1;
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd);
	setup_fds();
	/* Threads share the fds and the memory the calls work on, so that
	 * the kernel's paths run concurrently on the same objects; each draws
	 * from its own generator. */
	calls_per_thread = calls;
	for (int i = 1; i < threads; i++) {
		pthread_t t;
		pthread_create(&t, NULL, start, (void *)(uintptr_t)(seed * 131 + i));
	}
	fuzz((void *)calls);
	/* Others may be blocked for good: the exit ends them. */
	_exit(0);
}

/* family_worker is a worker that may make processes and threads, signal
 * and trace them, and so on, as an unprivileged user (65534) in a process
 * group of its own, with at most procs processes: calls on anything outside
 * its family fail for want of privilege. The parent (the sandbox's init)
 * kills every process but itself after each one. */
static void family_worker(uint64_t seed, long calls, int procs)
{
	struct rlimit np = {procs, procs};
	family = 1;
	setpgid(0, 0);
	setrlimit(RLIMIT_NPROC, &np);
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(3);
	worker(seed, calls, 1);
}

/* sane checks that the kernel still does its basic work. */
static int sane(void)
{
	char buf[64];
	int fd = open("/tmp/fuzz-sane", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "sane", 4) != 4 || pread(fd, buf, 4, 0) != 4 || memcmp(buf, "sane", 4) != 0)
		return 0;
	close(fd);
	return getpid() == getpid() && unlink("/tmp/fuzz-sane") == 0;
}

/* proc_state returns the state letter of process pid (/proc/PID/stat). */
static char proc_state(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/* end_family kills every process but the caller, the sandbox's init, and
 * reaps them; they must all be gone within 5 s. */
static int end_family(long w, uint64_t seed)
{
	kill(-1, SIGKILL);
	for (int waited = 0; waited < 500; waited++) {
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			;
		if (errno == ECHILD)
			return 1;
		usleep(10000);
	}
	fprintf(stderr, "sysfuzz: processes of worker %ld (seed %#lx) still there 5 s after SIGKILL\n", w, (unsigned long)seed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: sysfuzz SEED WORKERS CALLS [THREADS [PROCS]]\n");
		return 2;
	}
	require_sandbox("sysfuzz");
	uint64_t seed = strtoull(argv[1], NULL, 0);
	long workers = atol(argv[2]), calls = atol(argv[3]);
	int threads = argc >= 5 ? atoi(argv[4]) : 1;
	int procs = argc == 6 ? atoi(argv[5]) : 0;
	if (procs > 0 && getpid() != 1) {
		fprintf(stderr, "sysfuzz: PROCS needs to run as the sandbox's init (pid 1)\n");
		return 2;
	}
	mkdir("/tmp/fuzz-dir", 0755);
	int died = 0, hung = 0;
	/* A worker is killed as hung after 5 s, a family worker after 1 s
	 * (a SIGSTOP to its own group is a likely end of one). */
	int hang_limit = procs > 0 ? 100 : 500;
	uint64_t digest = 0xcbf29ce484222325ULL;
	/* outcomes lists each worker's end on stderr (SYSFUZZ_OUTCOMES=1, or
	 * with each call: SYSFUZZ_VERBOSE=1). */
	int outcomes = getenv("SYSFUZZ_VERBOSE") || getenv("SYSFUZZ_OUTCOMES");
	for (long w = 0; w < workers; w++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("sysfuzz: fork");
			return 1;
		}
		if (pid == 0) {
			if (procs > 0)
				family_worker(seed + w, calls, procs);
			worker(seed + w, calls, threads);
		}
		int st = 0, waited = 0;
		for (;;) {
			pid_t r = waitpid(pid, &st, WNOHANG);
			if (r == pid)
				break;
			if (r < 0 && errno != EINTR) {
				perror("sysfuzz: waitpid");
				return 1;
			}
			if (++waited == hang_limit) {
				if (outcomes)
					fprintf(stderr, "sysfuzz: worker %ld: hung in state %c\n", w, proc_state(pid));
				/* The worker blocked where its tick cannot
				 * reach (a thread that masked it, say): its own
				 * business, but a SIGKILL must end it. */
				kill(pid, SIGKILL);
				hung++;
				if (getenv("SYSFUZZ_VERBOSE"))
					fprintf(stderr, "sysfuzz: worker %ld: hung\n", w);
			} else if (waited == hang_limit + 500) {
				fprintf(stderr, "sysfuzz: worker %ld (seed %#lx) still there 5 s after SIGKILL\n", w, (unsigned long)(seed + w));
				return 1;
			}
			usleep(10000);
		}
		/* The outcomes' digest (FNV-1a over each worker's status):
		 * with one thread a seed makes the same calls on any kernel,
		 * so two platforms of one kernel must agree on it. */
		for (int b = 0; b < 4; b++) {
			digest ^= (uint8_t)(st >> (8 * b));
			digest *= 0x100000001b3ULL;
		}
		if (WIFSIGNALED(st)) {
			died++;
			if (outcomes)
				fprintf(stderr, "sysfuzz: worker %ld: signal %d\n", w, WTERMSIG(st));
		} else if (outcomes) {
			fprintf(stderr, "sysfuzz: worker %ld: status %#x\n", w, st);
		}
		if (procs > 0 && !end_family(w, seed + w))
			return 1;
		if (!sane()) {
			fprintf(stderr, "sysfuzz: the kernel fails basic calls after worker %ld (seed %#lx)\n", w, (unsigned long)(seed + w));
			return 1;
		}
	}
	printf("sysfuzz: ok: %ld workers of %ld calls, %d ended by a signal, %d killed as hung; outcomes %016llx\n",
	       workers, calls, died, hung, (unsigned long long)digest);
	return 0;
}
