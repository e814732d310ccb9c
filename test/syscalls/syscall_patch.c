/* syscall_patch: "mov $NR, %eax; syscall" sites (which systrap rewrites
 * into jumps to a trampoline once they have trapped) keep behaving as
 * syscalls: in a loop, when another path jumps straight to the syscall
 * instruction, when a signal restarts them, from a signal handler, in a
 * vfork child, in a fork child, from many threads, in an mmap'd "JIT" page,
 * and next to code that the program rewrites (and when it rewrites the site
 * itself). */
// rampart:timeout 120s
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Each site is "nop; mov $NR, %eax; syscall" at the start of a 16-byte
 * block: whole instructions, the nop (not a prefix) before the mov. */
long sp_getpid(void);
long sp_jump_site(void);
long sp_jump(long nr);
long sp_read(long fd, void *buf, long n);
long sp_gettid(void);
long sp_smc_site(void);
long sp_smc_nr(void);
long sp_smc_val(void);

__asm__(".text\n"
	".p2align 4\n"
	"sp_getpid: nop\n mov $39, %eax\n syscall\n ret\n"
	".p2align 4\n"
	"sp_jump_site: nop\n mov $39, %eax\n"
	"sp_jump_sys: syscall\n ret\n"
	".p2align 4\n"
	"sp_jump: mov %rdi, %rax\n jmp sp_jump_sys\n"
	".p2align 4\n"
	"sp_read: nop\n mov $0, %eax\n syscall\n ret\n"
	".p2align 4\n"
	"sp_gettid: nop\n mov $186, %eax\n syscall\n ret\n"
	/* A page of its own, which the test makes writable. */
	".p2align 12\n"
	"sp_smc_site: nop\n mov $39, %eax\n syscall\n ret\n"
	".p2align 4\n"
	"sp_smc_nr: nop\n mov $39, %eax\n syscall\n ret\n"
	".p2align 4\n"
	"sp_smc_val: mov $1, %eax\n ret\n"
	".p2align 12\n");

static long raw_getpid(void) { return syscall(SYS_getpid); }
static long raw_gettid(void) { return syscall(SYS_gettid); }

static void test_loop(void)
{
	long pid = raw_getpid(), bad = 0;
	for (int i = 0; i < 20000; i++)
		if (sp_getpid() != pid)
			bad++;
	CHECK_EQ("getpid loop", bad, 0);
}

static void test_jump(void)
{
	long pid = raw_getpid();
	for (int i = 0; i < 3; i++)
		CHECK_EQ("site", sp_jump_site(), pid);
	CHECK_EQ("jump to its syscall: getppid", sp_jump(SYS_getppid), getppid());
	CHECK_EQ("jump to its syscall: gettid", sp_jump(SYS_gettid), raw_gettid());
	CHECK_EQ("site again", sp_jump_site(), pid);
}

static volatile int alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static void one_shot(long usec)
{
	struct itimerval it = {.it_value = {.tv_usec = usec}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void test_restart(void)
{
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	char c = 0;
	/* Trap (and patch) the site first. */
	CHECK_EQ("write", write(p[1], "a", 1), 1);
	CHECK_EQ("read", sp_read(p[0], &c, 1), 1);
	CHECK_EQ("read data", c, 'a');

	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	sigaction(SIGALRM, &sa, NULL);
	pid_t w = fork();
	REQUIRE("fork writer", w >= 0);
	if (w == 0) {
		usleep(400000);
		write(p[1], "b", 1);
		_exit(0);
	}
	alarms = 0;
	one_shot(50000);
	CHECK_EQ("restarted read", sp_read(p[0], &c, 1), 1);
	CHECK_EQ("restarted read data", c, 'b');
	CHECK_EQ("one alarm", alarms, 1);
	waitpid(w, NULL, 0);

	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	one_shot(50000);
	CHECK_EQ("interrupted read", sp_read(p[0], &c, 1), -EINTR);
	CHECK_EQ("two alarms", alarms, 2);
	close(p[0]);
	close(p[1]);
}

static volatile long handler_bad, handler_calls;
static long the_pid;
static void on_tick(int sig)
{
	(void)sig;
	handler_calls++;
	if (sp_getpid() != the_pid)
		handler_bad++;
}

static void test_handler(void)
{
	the_pid = raw_getpid();
	struct sigaction sa = {.sa_handler = on_tick, .sa_flags = SA_RESTART};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_interval = {.tv_usec = 1000}, .it_value = {.tv_usec = 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	long bad = 0;
	for (long i = 0; handler_calls < 20 && i < 50000000; i++)
		if (sp_getpid() != the_pid)
			bad++;
	struct itimerval off = {0};
	setitimer(ITIMER_REAL, &off, NULL);
	CHECK("handler ran", handler_calls >= 20);
	CHECK_EQ("in the handler", handler_bad, 0);
	CHECK_EQ("around the handler", bad, 0);
	signal(SIGALRM, SIG_DFL);
}

static volatile long vfork_seen;

static void test_vfork(void)
{
	pid_t c = vfork();
	if (c == 0) {
		vfork_seen = sp_getpid();
		_exit(0);
	}
	REQUIRE("vfork", c > 0);
	int st;
	CHECK_EQ("wait vfork child", waitpid(c, &st, 0), c);
	CHECK_EQ("vfork child's getpid", vfork_seen, c);
	CHECK_EQ("parent's getpid after", sp_getpid(), raw_getpid());
}

static void test_fork(void)
{
	pid_t c = fork();
	REQUIRE("fork", c >= 0);
	if (c == 0) {
		long bad = 0;
		for (int i = 0; i < 1000; i++)
			if (sp_getpid() != raw_getpid() || sp_gettid() != raw_gettid())
				bad++;
		_exit(bad ? 1 : 0);
	}
	int st = 0;
	CHECK_EQ("wait fork child", waitpid(c, &st, 0), c);
	CHECK("fork child's syscalls", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ("parent after fork", sp_getpid(), raw_getpid());
}

#define NTHREADS 64
static void *thread_main(void *arg)
{
	(void)arg;
	long tid = raw_gettid(), bad = 0;
	for (int i = 0; i < 2000; i++)
		if (sp_gettid() != tid)
			bad++;
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		REQUIRE("pthread_create", pthread_create(&th[i], NULL, thread_main, NULL) == 0);
	long bad = 0;
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	CHECK_EQ("threads", bad, 0);
}

static void test_jit(void)
{
	unsigned char *page = CHECK_MAP("mmap rwx", mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
							 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	static const unsigned char code[] = {0x90, 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};
	memcpy(page + 16, code, sizeof(code));
	long (*f)(void) = (long (*)(void))(page + 16);
	long bad = 0;
	for (int i = 0; i < 100; i++)
		if (f() != raw_getpid())
			bad++;
	CHECK_EQ("jit page syscalls", bad, 0);
	CHECK("jit page unchanged", memcmp(page + 16, code, sizeof(code)) == 0);
	/* The program rewrites its code: getppid now. */
	page[16 + 2] = SYS_getppid;
	CHECK_EQ("rewritten jit code", f(), getppid());
	munmap(page, 4096);
}

static void test_smc(void)
{
	long pid = raw_getpid();
	for (int i = 0; i < 3; i++) {
		CHECK_EQ("smc page site", sp_smc_site(), pid);
		CHECK_EQ("smc page site 2", sp_smc_nr(), pid);
	}
	uintptr_t page = (uintptr_t)sp_smc_site & ~(uintptr_t)4095;
	REQUIRE("same page", ((uintptr_t)sp_smc_val & ~(uintptr_t)4095) == page);
	REQUIRE("mprotect rwx", mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0);
	/* Rewrite code next to the sites... */
	int two = 2;
	memcpy((char *)sp_smc_val + 1, &two, 4);
	CHECK_EQ("rewritten neighbour", sp_smc_val(), 2);
	CHECK_EQ("site next to it", sp_smc_site(), pid);
	/* ...and the number of a site. */
	int nr = SYS_getppid;
	memcpy((char *)sp_smc_nr + 2, &nr, 4);
	CHECK_EQ("rewritten site", sp_smc_nr(), getppid());
	REQUIRE("mprotect rx", mprotect((void *)page, 4096, PROT_READ | PROT_EXEC) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ("rewritten site again", sp_smc_nr(), getppid());
		CHECK_EQ("site next to it again", sp_smc_site(), pid);
	}
}

/* exec: a fork child that patched its sites execs this program afresh,
 * whose sites are the file's again (and get patched again). */
static void test_exec(void)
{
	pid_t c = fork();
	REQUIRE("fork for exec", c >= 0);
	if (c == 0) {
		for (int i = 0; i < 10; i++)
			sp_getpid();
		execl("/proc/self/exe", "syscall_patch", "exec", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	CHECK_EQ("wait exec child", waitpid(c, &st, 0), c);
	CHECK("exec child's syscalls", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		long bad = 0;
		for (int i = 0; i < 1000; i++)
			if (sp_getpid() != raw_getpid() || sp_jump(SYS_gettid) != raw_gettid())
				bad++;
		return bad ? 1 : 0;
	}
	test_loop();
	test_jump();
	test_restart();
	test_handler();
	test_vfork();
	test_fork();
	test_threads();
	test_jit();
	test_smc();
	test_exec();
	return check_done();
}
