/*
 * signalfd: reading takes blocked pending signals as signalfd_siginfo
 * records; poll and epoll see them; the mask can be changed; errors.
 */
#include "check.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGCHLD);
	REQUIRE("block", sigprocmask(SIG_BLOCK, &set, NULL) == 0);

	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	REQUIRE("signalfd", fd >= 0);
	struct signalfd_siginfo si[4];
	CHECK_ERR("nothing pending", read(fd, si, sizeof(si)), EAGAIN);
	CHECK_ERR("short buffer", read(fd, si, 100), EINVAL);
	CHECK_ERR("null read", read(fd, si, 0), EINVAL);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	CHECK_EQ("not readable", poll(&p, 1, 0), 0);

	CHECK_OK("kill self", kill(getpid(), SIGUSR1));
	CHECK_EQ("readable", poll(&p, 1, 0), 1);
	CHECK_EQ("read one", read(fd, si, sizeof(si)), (ssize_t)sizeof(si[0]));
	CHECK_EQ("ssi_signo", si[0].ssi_signo, SIGUSR1);
	CHECK_EQ("ssi_code", si[0].ssi_code, SI_USER);
	CHECK("ssi_pid", si[0].ssi_pid == (uint32_t)getpid());
	CHECK("ssi_uid", si[0].ssi_uid == getuid());

	union sigval v = {.sival_int = 42};
	CHECK_OK("sigqueue 1", sigqueue(getpid(), SIGRTMIN, v));
	v.sival_int = 43;
	CHECK_OK("sigqueue 2", sigqueue(getpid(), SIGRTMIN, v));
	CHECK_EQ("read both", read(fd, si, sizeof(si)), (ssize_t)(2 * sizeof(si[0])));
	CHECK("queued in order", si[0].ssi_int == 42 && si[1].ssi_int == 43);
	CHECK_EQ("SI_QUEUE", si[0].ssi_code, SI_QUEUE);

	pid_t c = fork();
	if (c == 0)
		_exit(7);
	REQUIRE("fork", c > 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN};
	CHECK_OK("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	CHECK_EQ("epoll sees SIGCHLD", epoll_wait(ep, &ev, 1, 5000), 1);
	CHECK_EQ("read SIGCHLD", read(fd, si, sizeof(si)), (ssize_t)sizeof(si[0]));
	CHECK("SIGCHLD record", si[0].ssi_signo == SIGCHLD && si[0].ssi_code == CLD_EXITED &&
				       si[0].ssi_status == 7 && si[0].ssi_pid == (uint32_t)c);
	waitpid(c, NULL, 0);

	/* A blocking read waits for the signal. */
	int bfd = signalfd(-1, &set, 0);
	c = fork();
	if (c == 0) {
		usleep(50000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	REQUIRE("fork 2", c > 0);
	CHECK_EQ("blocking read", read(bfd, si, sizeof(si[0])), (ssize_t)sizeof(si[0]));
	CHECK_EQ("woken by SIGUSR1", si[0].ssi_signo, SIGUSR1);
	waitpid(c, NULL, 0);
	sigset_t none;
	sigemptyset(&none);
	CHECK_EQ("drain SIGCHLD", read(fd, si, sizeof(si)), (ssize_t)sizeof(si[0]));

	/* Changing the mask. */
	CHECK_EQ("new mask", signalfd(fd, &none, 0), fd);
	kill(getpid(), SIGUSR1);
	CHECK_ERR("masked out", read(fd, si, sizeof(si)), EAGAIN);
	CHECK_EQ("back", signalfd(fd, &set, 0), fd);
	CHECK_EQ("now read", read(fd, si, sizeof(si)), (ssize_t)sizeof(si[0]));

	CHECK_ERR("bad flags", signalfd(-1, &set, 0x10), EINVAL);
	CHECK_ERR("not a signalfd", signalfd(ep, &set, 0), EINVAL);
	CHECK_ERR("bad fd", signalfd(999, &set, 0), EBADF);
	CHECK_ERR("bad size", syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL);
	CHECK_ERR("bad mask pointer", syscall(SYS_signalfd4, -1, (void *)8, 8, 0), EFAULT);
	CHECK_ERR("not writable", write(fd, si, sizeof(si[0])), EINVAL);
	return check_done();
}
