// tcp_bufsize: a TCP socket's buffer sizes, as Linux sets them: SO_SNDBUF
// and SO_RCVBUF start at net.ipv4.tcp_wmem[1] and tcp_rmem[1] (not the
// wmem_default of other sockets); once connected, a send buffer the
// application did not size grows (on loopback to tcp_wmem[2]), so that a
// writer runs far ahead of a reader that does not read; one set with
// SO_SNDBUF keeps its size, and an accepted socket takes its listener's.
// The host's sysctls give the expected values natively; where
// /proc/sys/net/ipv4/tcp_wmem is missing (the sandbox), Linux's defaults.
#include "check.h"
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

// triple reads the three values of a tcp_wmem-style sysctl, or def.
static void triple(const char *path, const long def[3], long out[3])
{
	memcpy(out, def, 3 * sizeof(long));
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	long v[3];
	if (fscanf(f, "%ld %ld %ld", &v[0], &v[1], &v[2]) == 3)
		memcpy(out, v, sizeof(v));
	fclose(f);
}

static int opt(int s, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(s, SOL_SOCKET, name, &v, &l))
		return -1;
	return v;
}

int main(void)
{
	static const long wdef[3] = { 4096, 16384, 4194304 };
	static const long rdef[3] = { 4096, 131072, 6291456 };
	long wmem[3], rmem[3];
	triple("/proc/sys/net/ipv4/tcp_wmem", wdef, wmem);
	triple("/proc/sys/net/ipv4/tcp_rmem", rdef, rmem);

	int s = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE("socket", s >= 0);
	CHECK_EQ("unconnected SO_SNDBUF", opt(s, SO_SNDBUF), wmem[1]);
	CHECK_EQ("unconnected SO_RCVBUF", opt(s, SO_RCVBUF), rmem[1]);
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (s6 >= 0) {
		CHECK_EQ("IPv6 unconnected SO_SNDBUF", opt(s6, SO_SNDBUF), wmem[1]);
		close(s6);
	}

	struct sockaddr_in sa;
	int l = listener4(&sa);
	REQUIRE("listener", l >= 0);
	REQUIRE("connect", connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	int a = accept(l, NULL, NULL);
	REQUIRE("accept", a >= 0);
	int sb = opt(s, SO_SNDBUF), ab = opt(a, SO_SNDBUF);
	CHECK("connected SO_SNDBUF grew", sb > wmem[1] && sb <= wmem[2]);
	CHECK("accepted SO_SNDBUF grew", ab > wmem[1] && ab <= wmem[2]);
	CHECK_EQ("connected SO_RCVBUF", opt(s, SO_RCVBUF), rmem[1]);

	// A writer whose reader does not read: it queues far more than
	// the 212992 bytes of other sockets' buffers before it would block.
	long want = 1 << 20;
	if (want > wmem[2] / 2)
		want = wmem[2] / 2;
	fcntl(s, F_SETFL, O_NONBLOCK);
	static char chunk[65536];
	long queued = 0;
	for (;;) {
		ssize_t n = write(s, chunk, sizeof(chunk));
		int e = errno;
		if (n < 0) {
			CHECK_EQ("full buffer: EAGAIN", e, EAGAIN);
			break;
		}
		queued += n;
		if (queued > 64L << 20) {
			CHECK("write never blocks", 0);
			break;
		}
	}
	CHECK("queued before blocking", queued >= want);
	// The reader gets every byte.
	long got = 0;
	fcntl(a, F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t n = read(a, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		got += n;
	}
	CHECK_EQ("read back", got, queued);
	close(s);
	close(a);
	close(l);

	// Sizes the application set stay, on both sides of the connection.
	int set = 60000, lset = 50000;
	l = listener4(&sa);
	REQUIRE("sized listener", l >= 0);
	CHECK_OK("listener's SO_SNDBUF", setsockopt(l, SOL_SOCKET, SO_SNDBUF, &lset, sizeof(lset)));
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_OK("SO_SNDBUF", setsockopt(s, SOL_SOCKET, SO_SNDBUF, &set, sizeof(set)));
	CHECK_EQ("set SO_SNDBUF doubled", opt(s, SO_SNDBUF), 2 * set);
	REQUIRE("connect sized", connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	a = accept(l, NULL, NULL);
	REQUIRE("accept sized", a >= 0);
	CHECK_EQ("set SO_SNDBUF kept on connect", opt(s, SO_SNDBUF), 2 * set);
	CHECK_EQ("accepted takes the listener's SO_SNDBUF", opt(a, SO_SNDBUF), 2 * lset);
	close(s);
	close(a);
	close(l);
	return check_done();
}
