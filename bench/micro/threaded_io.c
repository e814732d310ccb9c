/* threaded_io: one request/response step of an event loop (a send on a
 * unix datagram socket pair, epoll_wait for it, the recv) in a process
 * with three more threads, blocked in read: the C library's syscall
 * sites as a threaded server runs them (on systrap, sites that span two
 * 16-byte blocks are patched only with the other threads stopped). */
#include "bench.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int ep, sv[2], idle[2];

static void *block(void *arg)
{
	char c;
	if (read(idle[0], &c, 1) < 0)
		perror("read");
	return arg;
}

static void op(long n)
{
	struct epoll_event ev[4];
	char b[8] = "x";
	for (long i = 0; i < n; i++) {
		if (send(sv[1], b, 1, 0) != 1 || epoll_wait(ep, ev, 4, 0) != 1 || recv(sv[0], b, sizeof(b), 0) != 1) {
			perror("threaded_io");
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (pipe(idle) || socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)) {
		perror("pipe");
		return 1;
	}
	ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &e)) {
		perror("epoll");
		return 1;
	}
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		if (pthread_create(&th[i], NULL, block, NULL)) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	}
	int rc = bench_main(argc, argv, "threaded_io", op);
	close(idle[1]);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	return rc;
}
