/* fork_cow: after fork, parent and child write the same pages of private
 * anonymous memory, heap and the data segment, and each sees only its own
 * writes; MAP_SHARED anonymous memory stays shared. Repeated over many
 * rounds, with a second thread of the parent writing during the forks, to
 * stress the memory manager's copy-on-write. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define PAGES 16
#define PG 4096

static char data_seg[PAGES * PG] = { 1 }; /* initialised: .data */
static char bss_seg[PAGES * PG];

static void fill(char *p, size_t n, char v)
{
	for (size_t i = 0; i < n; i += 512)
		p[i] = v;
}

static int all(const char *p, size_t n, char v)
{
	for (size_t i = 0; i < n; i += 512)
		if (p[i] != v)
			return 0;
	return 1;
}

static atomic_int stop;
static char *busy_area;

/* A second thread keeps writing its own page while the main thread forks:
 * its writes must not leak into a child made later, nor crash. */
static void *scribbler(void *arg)
{
	(void)arg;
	unsigned v = 0;
	while (!atomic_load(&stop))
		fill(busy_area, PG, (char)(v++ | 1));
	return NULL;
}

/* One round: returns 1 if every check of the round held. */
static int round_trip(char *anon, char *heap, char *shared, int r)
{
	char base = (char)(r * 7 + 1);
	fill(anon, PAGES * PG, base);
	fill(heap, PAGES * PG, base);
	fill(data_seg, sizeof(data_seg), base);
	fill(bss_seg, sizeof(bss_seg), base);
	fill(shared, PG, 0);
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		int ok = all(anon, PAGES * PG, base) && all(heap, PAGES * PG, base) &&
			 all(data_seg, sizeof(data_seg), base) && all(bss_seg, sizeof(bss_seg), base);
		fill(anon, PAGES * PG, 'c');
		fill(heap, PAGES * PG, 'c');
		fill(data_seg, sizeof(data_seg), 'c');
		fill(bss_seg, sizeof(bss_seg), 'c');
		shared[0] = 'S';
		ok = ok && all(anon, PAGES * PG, 'c') && all(heap, PAGES * PG, 'c') &&
		     all(data_seg, sizeof(data_seg), 'c') && all(bss_seg, sizeof(bss_seg), 'c');
		/* Wait until the parent has written its own values, then check
		 * that they did not reach us. */
		while (__atomic_load_n(&shared[1], __ATOMIC_ACQUIRE) != 'P')
			usleep(100);
		ok = ok && all(anon, PAGES * PG, 'c') && all(heap, PAGES * PG, 'c') &&
		     all(data_seg, sizeof(data_seg), 'c') && all(bss_seg, sizeof(bss_seg), 'c');
		_exit(ok ? 0 : 1);
	}
	fill(anon, PAGES * PG, 'p');
	fill(heap, PAGES * PG, 'p');
	fill(data_seg, sizeof(data_seg), 'p');
	fill(bss_seg, sizeof(bss_seg), 'p');
	__atomic_store_n(&shared[1], 'P', __ATOMIC_RELEASE);
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	ok = ok && all(anon, PAGES * PG, 'p') && all(heap, PAGES * PG, 'p') &&
	     all(data_seg, sizeof(data_seg), 'p') && all(bss_seg, sizeof(bss_seg), 'p');
	ok = ok && shared[0] == 'S'; /* the child's write to shared memory */
	return ok;
}

int main(void)
{
	char *anon = CHECK_MAP("mmap private", mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	char *shared = CHECK_MAP("mmap shared", mmap(NULL, PG, PROT_READ | PROT_WRITE,
						     MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	char *heap = malloc(PAGES * PG);
	REQUIRE("malloc", heap != NULL);

	int good = 0;
	for (int r = 0; r < 20; r++)
		good += round_trip(anon, heap, shared, r);
	CHECK_EQ("single-threaded rounds", good, 20);

	busy_area = CHECK_MAP("mmap busy", mmap(NULL, PG, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	pthread_t th;
	REQUIRE("pthread_create", pthread_create(&th, NULL, scribbler, NULL) == 0);
	good = 0;
	for (int r = 0; r < 20; r++)
		good += round_trip(anon, heap, shared, r);
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	CHECK_EQ("rounds with a thread writing", good, 20);

	/* A child of a child: copy-on-write of memory that is already
	 * copy-on-write. */
	fill(anon, PAGES * PG, 'a');
	pid_t pid = fork();
	REQUIRE("fork", pid >= 0);
	if (pid == 0) {
		fill(anon, PG, 'b');
		pid_t g = fork();
		if (g == 0) {
			int ok = anon[0] == 'b' && anon[PG] == 'a';
			anon[0] = 'g';
			anon[PG] = 'g';
			_exit(ok ? 0 : 1);
		}
		int st;
		waitpid(g, &st, 0);
		_exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 && anon[0] == 'b' && anon[PG] == 'a' ? 0 : 1);
	}
	int st;
	CHECK_EQ("waitpid", waitpid(pid, &st, 0), pid);
	CHECK("grandchild and child saw their own pages", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK("parent kept its pages", all(anon, PAGES * PG, 'a'));
	return check_done();
}
