/* signal_roundtrip: kill(getpid(), SIGUSR1) with a handler installed: the
 * signal is queued, delivered on the way out of kill (a signal frame is
 * built), the handler runs and rt_sigreturn restores the context. */
#include "bench.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t hits;

static void handler(int sig)
{
	(void)sig;
	hits++;
}

static void op(long n)
{
	pid_t me = getpid();
	for (long i = 0; i < n; i++)
		kill(me, SIGUSR1);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = handler };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return 1;
	int r = bench_main(argc, argv, "signal_roundtrip", op);
	if (hits == 0) {
		fprintf(stderr, "signal_roundtrip: the handler never ran\n");
		return 1;
	}
	return r;
}
