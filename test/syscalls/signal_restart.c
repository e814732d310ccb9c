/* signal_restart: a read blocked on an empty pipe and interrupted by a
 * signal is restarted with SA_RESTART and fails with EINTR without it; the
 * signal comes from a child process or from another thread. A signal with
 * no handler (ignored, or SIGCHLD by default) never interrupts it. */
#define _GNU_SOURCE
// rampart:retries 2
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile int handled;
static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR) {
	}
}

static int fds[2];
static pid_t main_tid;

/* The sender: signal the reader, then feed the pipe. */
static void send_then_write(int sig, int use_thread, pid_t target)
{
	sleep_ms(100);
	if (use_thread)
		syscall(SYS_tgkill, getpid(), main_tid, sig);
	else
		kill(target, sig);
	sleep_ms(100);
	if (write(fds[1], "x", 1) != 1)
		_exit(3);
}

static int thread_sig;
static void *thread_main(void *arg)
{
	(void)arg;
	send_then_write(thread_sig, 1, 0);
	return NULL;
}

static void run(const char *name, int flags, int sig, int use_thread, int want_ret, int want_errno, int want_handled)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sa.sa_flags = flags;
	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(fds))
		return;
	handled = 0;
	pid_t child = -1;
	pthread_t th;
	if (use_thread) {
		thread_sig = sig;
		pthread_create(&th, NULL, thread_main, NULL);
	} else {
		pid_t parent = getpid();
		child = fork();
		if (child == 0) {
			send_then_write(sig, 0, parent);
			_exit(0);
		}
	}
	char c;
	errno = 0;
	ssize_t n = read(fds[0], &c, 1);
	int e = errno;
	char buf[128];
	snprintf(buf, sizeof buf, "%s: read", name);
	if (want_ret < 0)
		CHECK_ERR(buf, (errno = e, n), want_errno);
	else
		CHECK_EQ(buf, n, want_ret);
	snprintf(buf, sizeof buf, "%s: handler ran", name);
	CHECK_EQ(buf, handled, want_handled);
	if (use_thread)
		pthread_join(th, NULL);
	else
		waitpid(child, NULL, 0);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	main_tid = gettid();
	run("child SA_RESTART", SA_RESTART, SIGUSR1, 0, 1, 0, 1);
	run("child no SA_RESTART", 0, SIGUSR1, 0, -1, EINTR, 1);
	run("thread SA_RESTART", SA_RESTART, SIGUSR1, 1, 1, 0, 1);
	run("thread no SA_RESTART", 0, SIGUSR1, 1, -1, EINTR, 1);
	/* No handler runs: the read is restarted transparently. */
	signal(SIGUSR2, SIG_IGN);
	run("ignored signal", 0, SIGUSR2, 1, 1, 0, 0);
	run("default-ignored SIGURG", 0, SIGURG, 1, 1, 0, 0);
	return check_done();
}
