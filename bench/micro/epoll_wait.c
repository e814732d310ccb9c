/* epoll_wait: epoll_wait on an instance with 1,000 registered descriptors
 * (both ends of 500 pipes, under the default RLIMIT_NOFILE), one of which
 * is ready (level-triggered, never drained). */
#include "bench.h"

#include <sys/epoll.h>
#include <unistd.h>

static int ep;

static void op(long n)
{
	struct epoll_event ev[8];
	for (long i = 0; i < n; i++) {
		if (epoll_wait(ep, ev, 8, 0) != 1) {
			perror("epoll_wait");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	ep = epoll_create1(0);
	if (ep < 0) {
		perror("epoll_create1");
		return 1;
	}
	int ready = -1;
	for (int i = 0; i < 500; i++) {
		int p[2];
		if (pipe(p)) {
			perror("pipe");
			return 1;
		}
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e) || epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &e)) {
			perror("epoll_ctl");
			return 1;
		}
		if (i == 250)
			ready = p[1];
	}
	if (write(ready, "x", 1) != 1) {
		perror("write");
		return 1;
	}
	return bench_main(argc, argv, "epoll_wait_1000", op);
}
