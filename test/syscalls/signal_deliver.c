/* signal_deliver: handlers, siginfo from kill/tgkill/sigqueue, delivery
 * order of standard and real-time signals, masks while handlers run
 * (sa_mask, SA_NODEFER, SA_RESETHAND), sigpending, sigtimedwait, sigsuspend,
 * pause and the argument checks of rt_sigaction and kill.
 *
 * Handlers run in the sandbox's pid 1 too (only default actions are
 * ignored there), so everything is done in the main process. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile int count;
static siginfo_t last;
static int order[32], norder, values[32];
static sigset_t maskin;

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	last = *si;
	count++;
	sigprocmask(SIG_BLOCK, NULL, &maskin);
}

static void on_order(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (norder < 32) {
		values[norder] = si->si_code == SI_QUEUE ? si->si_value.sival_int : -1;
		order[norder++] = sig;
	}
}

static void set(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	if (mask)
		sa.sa_mask = *mask;
	else
		sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		check_fail("sigaction", "%s", strerror(errno));
}

static void print_order(const char *what)
{
	printf("%s:", what);
	for (int i = 0; i < norder; i++) {
		int s = order[i];
		if (s >= SIGRTMIN)
			printf(" RTMIN+%d", s - SIGRTMIN);
		else
			printf(" %s", sigabbrev_np(s));
		if (values[i] >= 0)
			printf("(%d)", values[i]);
	}
	printf("\n");
}

static void queue_all(void)
{
	union sigval v;
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR1); /* coalesces */
	for (int i = 1; i <= 3; i++) {
		v.sival_int = i;
		sigqueue(getpid(), SIGRTMIN + 1, v);
	}
	v.sival_int = 9;
	sigqueue(getpid(), SIGRTMIN, v);
	kill(getpid(), SIGINT);
}

int main(void)
{
	sigset_t all, none, s;
	sigfillset(&all);
	sigemptyset(&none);

	/* kill to self: delivered before kill returns. */
	set(SIGUSR1, on_info, 0, NULL);
	CHECK_OK("kill self", kill(getpid(), SIGUSR1));
	CHECK_EQ("handler ran", count, 1);
	CHECK_EQ("si_signo", last.si_signo, SIGUSR1);
	CHECK_EQ("si_code SI_USER", last.si_code, SI_USER);
	CHECK("si_pid", last.si_pid == getpid());
	CHECK("si_uid", last.si_uid == getuid());
	CHECK("sig blocked in handler", sigismember(&maskin, SIGUSR1));
	sigprocmask(SIG_BLOCK, NULL, &s);
	CHECK("unblocked after", !sigismember(&s, SIGUSR1));

	CHECK_OK("tgkill", syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1));
	CHECK_EQ("tgkill si_code", last.si_code, SI_TKILL);
	CHECK("tgkill si_pid", last.si_pid == getpid());

	union sigval v = {.sival_int = 42};
	CHECK_OK("sigqueue", sigqueue(getpid(), SIGUSR1, v));
	CHECK_EQ("sigqueue si_code", last.si_code, SI_QUEUE);
	CHECK_EQ("sigqueue si_value", last.si_value.sival_int, 42);

	/* rt_sigqueueinfo with si_code >= 0 to another process: EPERM. */
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	siginfo_t si = {0};
	si.si_code = SI_USER;
	si.si_signo = SIGUSR1;
	CHECK_ERR("queueinfo SI_USER to other", syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si), EPERM);
	si.si_code = SI_QUEUE;
	CHECK_OK("queueinfo SI_QUEUE to self", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si));
	si.si_code = SI_USER;
	CHECK_OK("queueinfo SI_USER to self", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/* Mask while handling: sa_mask and the signal itself; SA_NODEFER. */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	set(SIGUSR1, on_info, 0, &s);
	kill(getpid(), SIGUSR1);
	CHECK("sa_mask applied", sigismember(&maskin, SIGUSR2) && sigismember(&maskin, SIGUSR1));
	set(SIGUSR1, on_info, SA_NODEFER, NULL);
	kill(getpid(), SIGUSR1);
	CHECK("SA_NODEFER", !sigismember(&maskin, SIGUSR1));

	/* SA_RESETHAND: one shot, then SIG_DFL. */
	set(SIGUSR1, on_info, SA_RESETHAND, NULL);
	count = 0;
	kill(getpid(), SIGUSR1);
	CHECK_EQ("resethand ran", count, 1);
	CHECK("resethand: not deferred... blocked in handler", sigismember(&maskin, SIGUSR1));
	struct sigaction old;
	sigaction(SIGUSR1, NULL, &old);
	CHECK("reset to SIG_DFL", old.sa_handler == SIG_DFL);

	/* Delivery order: all pending at once, every handler masking all. */
	sigprocmask(SIG_BLOCK, &all, NULL);
	set(SIGUSR1, on_order, 0, &all);
	set(SIGUSR2, on_order, 0, &all);
	set(SIGINT, on_order, 0, &all);
	set(SIGRTMIN, on_order, 0, &all);
	set(SIGRTMIN + 1, on_order, 0, &all);
	queue_all();
	sigpending(&s);
	CHECK("pending USR1", sigismember(&s, SIGUSR1) && sigismember(&s, SIGRTMIN + 1) && !sigismember(&s, SIGTERM));
	norder = 0;
	sigprocmask(SIG_SETMASK, &none, NULL);
	print_order("order masked");

	/* Same without sa_mask: handlers nest, the last delivered runs first. */
	sigprocmask(SIG_BLOCK, &all, NULL);
	set(SIGUSR1, on_order, 0, NULL);
	set(SIGUSR2, on_order, 0, NULL);
	set(SIGINT, on_order, 0, NULL);
	set(SIGRTMIN, on_order, 0, NULL);
	set(SIGRTMIN + 1, on_order, 0, NULL);
	queue_all();
	norder = 0;
	sigprocmask(SIG_SETMASK, &none, NULL);
	print_order("order nested");

	/* sigtimedwait. */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	struct timespec zero = {0, 0}, short_ = {0, 10 * 1000 * 1000};
	CHECK_ERR("sigtimedwait poll", sigtimedwait(&s, &si, &zero), EAGAIN);
	CHECK_ERR("sigtimedwait timeout", sigtimedwait(&s, &si, &short_), EAGAIN);
	v.sival_int = 7;
	sigqueue(getpid(), SIGRTMIN + 2, v);
	kill(getpid(), SIGUSR1);
	CHECK_EQ("sigtimedwait USR1 first", sigtimedwait(&s, &si, &zero), SIGUSR1);
	CHECK_EQ("sigtimedwait info", si.si_code, SI_USER);
	CHECK_EQ("sigwaitinfo RT", sigwaitinfo(&s, &si), SIGRTMIN + 2);
	CHECK_EQ("sigwaitinfo value", si.si_value.sival_int, 7);
	sigpending(&s);
	CHECK("nothing pending", !sigismember(&s, SIGUSR1));

	/* sigsuspend: a child's signal arrives while suspended. */
	set(SIGUSR1, on_info, 0, NULL);
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	count = 0;
	child = fork();
	if (child == 0) {
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	CHECK_ERR("sigsuspend", sigsuspend(&none), EINTR);
	CHECK_EQ("sigsuspend handler", count, 1);
	CHECK_EQ("sigsuspend si_pid", last.si_pid, child);
	sigprocmask(SIG_BLOCK, NULL, &s);
	CHECK("mask restored", sigismember(&s, SIGUSR1));
	waitpid(child, NULL, 0);

	/* pause. */
	sigprocmask(SIG_SETMASK, &none, NULL);
	count = 0;
	child = fork();
	if (child == 0) {
		usleep(20000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	CHECK_ERR("pause", pause(), EINTR);
	CHECK_EQ("pause handler", count, 1);
	waitpid(child, NULL, 0);

	/* Argument checks. */
	struct sigaction sa = {0};
	sa.sa_handler = SIG_IGN;
	CHECK_ERR("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL), EINVAL);
	CHECK_ERR("sigaction SIGSTOP", sigaction(SIGSTOP, &sa, NULL), EINVAL);
	CHECK_OK("sigaction SIGKILL query", sigaction(SIGKILL, NULL, &old));
	CHECK_ERR("sigaction 0", syscall(SYS_rt_sigaction, 0, NULL, &old, 8), EINVAL);
	CHECK_ERR("sigaction 65", syscall(SYS_rt_sigaction, 65, NULL, &old, 8), EINVAL);
	CHECK_ERR("sigaction sigsetsize", syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4), EINVAL);
	CHECK_ERR("sigprocmask how", syscall(SYS_rt_sigprocmask, 7, &s, NULL, 8), EINVAL);
	CHECK_ERR("sigprocmask size", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &s, NULL, 16), EINVAL);
	CHECK_ERR("sigaction EFAULT", syscall(SYS_rt_sigaction, SIGUSR1, (void *)8, NULL, 8), EFAULT);
	CHECK_ERR("kill bad sig", kill(getpid(), 65), EINVAL);
	CHECK_OK("kill 0", kill(getpid(), 0));
	CHECK_ERR("kill ESRCH", kill(4000000, 0), ESRCH);
	CHECK_ERR("tgkill bad tgid", syscall(SYS_tgkill, getpid() + 100000, gettid(), 0), ESRCH);
	CHECK_ERR("tkill 0", syscall(SYS_tkill, 0, SIGUSR1), EINVAL);
	return check_done();
}
