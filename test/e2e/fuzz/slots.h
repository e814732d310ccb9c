/* slots.h: what the socket fuzzers (sockfuzz, inetfuzz) share: six
 * descriptor slots, the lengths they send and receive, and the calls
 * whose lines do not depend on the family. Include after fuzz.h. */
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define NSLOTS 6

static int slot[NSLOTS] = {-1, -1, -1, -1, -1, -1};

/* put makes fd slot s's descriptor, closing the one it held. */
static void put(int s, int fd)
{
	if (slot[s] >= 0)
		close(slot[s]);
	slot[s] = fd;
}

static size_t random_len(void)
{
	static const size_t l[] = {0, 1, 7, 64, 300, 1000};
	return l[below(6)];
}

/* do_accept accepts a connection on slot s into slot t and prints its
 * peer's address with print. */
static void do_accept(int s, int t, void (*print)(const void *sa, socklen_t len))
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	printf("accept s%d into s%d", s, t);
	int fd = accept4(slot[s], (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		result(-1);
		return;
	}
	printf(" = ok");
	print(&sa, len);
	printf("\n");
	put(t, fd);
}

/* do_poll prints slot s's poll events, with no wait. */
static void do_poll(int s)
{
	struct pollfd p = {slot[s], POLLIN | POLLOUT | POLLRDHUP | POLLPRI, 0};
	printf("poll s%d", s);
	int r = poll(&p, 1, 0);
	if (r < 0)
		result(r);
	else
		printf(" = %d revents %#x\n", r, p.revents);
}

/* do_fionread prints what FIONREAD says slot s holds. */
static void do_fionread(int s)
{
	int v = -1;
	printf("FIONREAD s%d", s);
	int r = ioctl(slot[s], FIONREAD, &v);
	if (r < 0)
		result(r);
	else
		printf(" = %d\n", v);
}
