// proc_net: /proc/net/{tcp,tcp6,udp,udp6,unix,dev} list the caller's own
// sockets in Linux's format, found by inode; /proc/net is self/net.
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

struct row {
	char local[40], remote[40];
	unsigned lport, rport, st, uid;
	unsigned long ino;
	int len; /* the line's length with its newline */
};

static unsigned long ino_of(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return st.st_ino;
}

/* find looks for the line of inode ino in an inet file. */
static int find(const char *file, unsigned long ino, struct row *r, char *header, size_t hlen)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	char line[512];
	int found = 0;
	if (fgets(line, sizeof(line), f) && header)
		memcpy(header, line, hlen), header[hlen - 1] = 0;
	while (fgets(line, sizeof(line), f)) {
		struct row x;
		memset(&x, 0, sizeof(x));
		if (sscanf(line, "%*d: %39[0-9A-F]:%X %39[0-9A-F]:%X %X %*X:%*X %*X:%*X %*X %u %*d %lu",
			   x.local, &x.lport, x.remote, &x.rport, &x.st, &x.uid, &x.ino) != 7)
			continue;
		x.len = strlen(line);
		if (x.ino == ino) {
			*r = x;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static int tcp_listener(int family, const void *addr, unsigned *port)
{
	int s = socket(family, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t l;
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;
		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, addr, 4);
		l = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;
		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, addr, 16);
		l = sizeof(*a);
	}
	bind(s, (struct sockaddr *)&ss, l);
	listen(s, 4);
	getsockname(s, (struct sockaddr *)&ss, &l);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return s;
}

int main(void)
{
	char link[64] = {0};
	CHECK_EQ("/proc/net is a link", readlink("/proc/net", link, sizeof(link) - 1), 8);
	CHECK("to self/net", strcmp(link, "self/net") == 0);

	struct in_addr lo4 = {htonl(INADDR_LOOPBACK)};
	unsigned port, cport;
	int l = tcp_listener(AF_INET, &lo4, &port);
	struct row r;
	char header[256];
	CHECK("listener listed", find("/proc/net/tcp", ino_of(l), &r, header, sizeof(header)));
	CHECK("tcp header", strncmp(header, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ", 97) == 0);
	CHECK_EQ("tcp header length", strlen(header), 150);
	CHECK("listener local", strcmp(r.local, "0100007F") == 0 && r.lport == port);
	CHECK("listener remote", strcmp(r.remote, "00000000") == 0 && r.rport == 0);
	CHECK_EQ("listener state", r.st, 0x0A);
	CHECK_EQ("listener uid", r.uid, getuid());
	CHECK_EQ("tcp line length", r.len, 150);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = lo4};
	connect(c, (struct sockaddr *)&sa, sizeof(sa));
	int a = accept(l, NULL, NULL);
	socklen_t sl = sizeof(sa);
	getsockname(c, (struct sockaddr *)&sa, &sl);
	cport = ntohs(sa.sin_port);
	CHECK("client listed", find("/proc/net/tcp", ino_of(c), &r, NULL, 0));
	CHECK("client ends", r.lport == cport && r.rport == port && strcmp(r.remote, "0100007F") == 0);
	CHECK_EQ("client established", r.st, 1);
	CHECK("accepted listed", find("/proc/net/tcp", ino_of(a), &r, NULL, 0));
	CHECK("accepted ends", r.lport == port && r.rport == cport);
	CHECK_EQ("accepted established", r.st, 1);
	int bound = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_port = 0;
	bind(bound, (struct sockaddr *)&sa, sizeof(sa));
	CHECK("bound-only tcp not listed", !find("/proc/net/tcp", ino_of(bound), &r, NULL, 0));

	int l6 = tcp_listener(AF_INET6, &in6addr_loopback, &port);
	CHECK("tcp6 listener listed", find("/proc/net/tcp6", ino_of(l6), &r, header, sizeof(header)));
	CHECK("tcp6 header", strcmp(header, "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n") == 0);
	CHECK("tcp6 local ::1", strcmp(r.local, "00000000000000000000000001000000") == 0 && r.lport == port);
	CHECK("tcp6 not in tcp", !find("/proc/net/tcp", ino_of(l6), &r, NULL, 0));

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_port = 0;
	bind(u, (struct sockaddr *)&sa, sizeof(sa));
	CHECK("udp listed", find("/proc/net/udp", ino_of(u), &r, header, sizeof(header)));
	CHECK_EQ("udp header length", strlen(header), 128);
	CHECK_EQ("udp unconnected", r.st, 7);
	CHECK_EQ("udp line length", r.len, 128);
	int u2 = socket(AF_INET, SOCK_DGRAM, 0);
	sl = sizeof(sa);
	getsockname(u, (struct sockaddr *)&sa, &sl);
	connect(u2, (struct sockaddr *)&sa, sizeof(sa));
	CHECK("connected udp listed", find("/proc/net/udp", ino_of(u2), &r, NULL, 0));
	CHECK_EQ("udp connected state", r.st, 1);
	CHECK("udp connected ends", strcmp(r.local, "0100007F") == 0 && r.rport == ntohs(sa.sin_port));
	int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bind(u6, (struct sockaddr *)&s6, sizeof(s6));
	CHECK("udp6 listed", find("/proc/net/udp6", ino_of(u6), &r, NULL, 0));
	int unb = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK("unbound udp not listed", !find("/proc/net/udp", ino_of(unb), &r, NULL, 0));

	/* unix: a listener on an abstract name and a socketpair. */
	int ul = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	/* The pid keeps concurrent native runs apart. */
	char want[64];
	int nl = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "rampart-proc-net-%d", getpid());
	un.sun_path[nl + 1] = 0, un.sun_path[nl + 2] = 'x';
	snprintf(want, sizeof(want), "@rampart-proc-net-%d@x", getpid());
	CHECK_EQ("bind abstract", bind(ul, (struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path) + nl + 3), 0);
	listen(ul, 1);
	int sv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	FILE *f = fopen("/proc/net/unix", "r");
	char line[512];
	fgets(line, sizeof(line), f);
	CHECK("unix header", strcmp(line, "Num       RefCount Protocol Flags    Type St Inode Path\n") == 0);
	int seen_l = 0, seen_p = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned flags, type, st;
		unsigned long ino;
		char path[128] = "";
		if (sscanf(line, "%*[0-9a-f]: %*X %*X %X %X %X %lu %127s", &flags, &type, &st, &ino, path) < 4)
			continue;
		if (ino == ino_of(ul))
			seen_l = flags == 0x10000 && type == SOCK_STREAM && st == 1 && strcmp(path, want) == 0;
		if (ino == ino_of(sv[0]))
			seen_p = flags == 0 && type == SOCK_DGRAM && st == 3 && path[0] == 0;
	}
	fclose(f);
	CHECK("unix listener line", seen_l);
	CHECK("unix pair line", seen_p);

	f = fopen("/proc/net/dev", "r");
	int lo = 0, n = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strncmp(line, "    lo:", 7) == 0)
			lo = 1;
	}
	fclose(f);
	CHECK("dev has lo", lo && n >= 3);
	return check_done();
}
