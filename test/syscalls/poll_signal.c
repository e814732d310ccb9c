/* poll_signal: a signal handler interrupts poll, select and epoll_wait
 * with EINTR (even with SA_RESTART), and ppoll, pselect6 and epoll_pwait
 * deliver a pending signal that their temporary mask unblocks, then give
 * the caller its own mask back. */
#define _GNU_SOURCE
// rampart:retries 2
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t handled;

static void on_usr1(int sig) { handled++; }

/* kill_later has a child send SIGUSR1 to the parent after 50 ms. */
static pid_t kill_later(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		usleep(50000);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	return pid;
}

static int usr1_blocked(void)
{
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	return sigismember(&now, SIGUSR1);
}

int main(void)
{
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	REQUIRE("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	REQUIRE("sigaction", sigaction(SIGUSR1, &sa, NULL) == 0);

	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	pid_t k = kill_later();
	CHECK_ERR("poll EINTR despite SA_RESTART", poll(&pf, 1, 10000), EINTR);
	CHECK_EQ("handler ran", handled, 1);
	waitpid(k, NULL, 0);

	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	k = kill_later();
	CHECK_ERR("select EINTR", select(p[0] + 1, &r, NULL, NULL, NULL), EINTR);
	CHECK_EQ("handler ran 2", handled, 2);
	waitpid(k, NULL, 0);

	k = kill_later();
	CHECK_ERR("epoll_wait EINTR", epoll_wait(ep, &ev, 1, 10000), EINTR);
	CHECK_EQ("handler ran 3", handled, 3);
	waitpid(k, NULL, 0);

	/* A blocked pending signal, unblocked by the temporary mask. */
	sigset_t block, empty;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	CHECK_EQ("pending, not handled", handled, 3);
	struct timespec ts = {10, 0};
	CHECK_ERR("ppoll EINTR", ppoll(&pf, 1, &ts, &empty), EINTR);
	CHECK_EQ("handled under ppoll's mask", handled, 4);
	CHECK("mask back after ppoll", usr1_blocked());

	raise(SIGUSR1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	CHECK_ERR("pselect EINTR", pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty), EINTR);
	CHECK_EQ("handled under pselect's mask", handled, 5);
	CHECK("mask back after pselect", usr1_blocked());

	raise(SIGUSR1);
	CHECK_ERR("epoll_pwait EINTR", epoll_pwait(ep, &ev, 1, 10000, &empty), EINTR);
	CHECK_EQ("handled under epoll_pwait's mask", handled, 6);
	CHECK("mask back after epoll_pwait", usr1_blocked());

	/* Ready at once: no signal is taken, the mask is simply restored. */
	write(p[1], "x", 1);
	raise(SIGUSR1);
	CHECK_EQ("ppoll ready with blocked pending signal", ppoll(&pf, 1, &ts, &block), 1);
	CHECK_EQ("not handled", handled, 6);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	CHECK_EQ("handled once unblocked", handled, 7);
	return check_done();
}
