/*
 * io_pinned: large reads and writes of pipes and sockets, which the sandbox
 * makes straight from and into application memory when the buffer is one
 * range of its memory file (no staging copy). What must hold either way:
 * data arrives whole and in order, a read-only source can be written, a
 * read-only destination fails with EFAULT before anything is consumed, a
 * datagram stays one datagram, and buffers of every kind (heap, fresh
 * mmap, read-only mapping, straddling .data and .bss) work.
 */
#include "check.h"
#include "tcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define N (64 * 1024)

static char data_tail[100] = {1}; /* .data, right before .bss */
static char bss_buf[N];

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed))
			return 0;
	return 1;
}

/* Reads n bytes from fd into dst (with recv if sr, else read) until EOF;
 * returns what it got. */
static size_t read_all(int fd, unsigned char *dst, size_t n, int sr)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = sr ? recv(fd, dst + got, n - got, 0) : read(fd, dst + got, n - got);
		if (k <= 0)
			break;
		got += k;
	}
	return got;
}

/* Sends src (n bytes) through the stream pair fds from a child and reads it
 * into dst, with send and recv if sr, else write and read; reports whether
 * it all arrived intact. */
static int through(int fds[2], const unsigned char *src, unsigned char *dst, size_t n, unsigned seed, int sr)
{
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		size_t done = 0;
		while (done < n) {
			ssize_t k = sr ? send(fds[1], src + done, n - done, 0) : write(fds[1], src + done, n - done);
			if (k <= 0)
				_exit(1);
			done += k;
		}
		_exit(0);
	}
	close(fds[1]);
	size_t got = read_all(fds[0], dst, n, sr);
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	return got == n && same(dst, n, seed) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A connected loopback TCP pair: fds[0] the accepted end, fds[1] the
 * client. */
static int tcp_pair(int fds[2])
{
	struct sockaddr_in a;
	int l = listener4(&a);
	if (l < 0)
		return -1;
	fds[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[1] < 0 || connect(fds[1], (struct sockaddr *)&a, sizeof(a)))
		return -1;
	fds[0] = accept(l, NULL, NULL);
	close(l);
	return fds[0] < 0 ? -1 : 0;
}

int main(void)
{
	int fds[2];
	unsigned char *heap = aligned_alloc(4096, N), *heap2 = aligned_alloc(4096, N);
	REQUIRE("aligned_alloc", heap && heap2);

	fill(heap, N, 1);
	REQUIRE("pipe", pipe(fds) == 0);
	CHECK("pipe: 64 KiB from the heap into the heap", through(fds, heap, heap2, N, 1, 0));

	unsigned char *ro = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", ro != MAP_FAILED);
	fill(ro, N, 2);
	CHECK_EQ("mprotect read-only", mprotect(ro, N, PROT_READ), 0);
	unsigned char *fresh = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", fresh != MAP_FAILED);
	REQUIRE("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
	CHECK("unix stream: 64 KiB from a read-only mapping into untouched pages", through(fds, ro, fresh, N, 2, 0));

	fill((unsigned char *)bss_buf, N, 3);
	data_tail[0] = 2;
	REQUIRE("pipe", pipe(fds) == 0);
	CHECK("pipe: 64 KiB from .bss into the heap", through(fds, (unsigned char *)bss_buf, heap2, N, 3, 0));

	/* TCP, with .bss (whose first page is .data's last) as the source and
	 * then as the destination: a buffer in several pieces. */
	fill((unsigned char *)bss_buf, N, 10);
	REQUIRE("tcp pair", tcp_pair(fds) == 0);
	CHECK("tcp: 64 KiB from .bss into the heap", through(fds, (unsigned char *)bss_buf, heap2, N, 10, 0));
	fill(heap, N, 11);
	REQUIRE("tcp pair", tcp_pair(fds) == 0);
	CHECK("tcp: 64 KiB from the heap into .bss", through(fds, heap, (unsigned char *)bss_buf, N, 11, 0));
	fill((unsigned char *)bss_buf, N, 12);
	REQUIRE("tcp pair", tcp_pair(fds) == 0);
	CHECK("tcp: 64 KiB by send and recv from .bss", through(fds, (unsigned char *)bss_buf, heap2, N, 12, 1));
	fill(heap, N, 13);
	REQUIRE("tcp pair", tcp_pair(fds) == 0);
	CHECK("tcp: 64 KiB by send and recv into .bss", through(fds, heap, (unsigned char *)bss_buf, N, 13, 1));

	/* A read into read-only memory fails and leaves the data queued. */
	REQUIRE("pipe", pipe(fds) == 0);
	fill(heap, 8192, 4);
	CHECK_EQ("pipe: write 8 KiB", write(fds[1], heap, 8192), 8192);
	CHECK_ERR("pipe: read 8 KiB into read-only memory is EFAULT", read(fds[0], ro, 8192), EFAULT);
	memset(heap2, 0, 8192);
	CHECK_EQ("pipe: the data is still there", read_all(fds[0], heap2, 8192, 0), 8192);
	CHECK("pipe: and intact", same(heap2, 8192, 4));
	close(fds[0]);
	close(fds[1]);

	/* A write whose source runs into an unmapped page. */
	unsigned char *half = mmap(NULL, 2 * 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", half != MAP_FAILED);
	fill(half, 8192, 5);
	munmap(half + 8192, 8192);
	REQUIRE("pipe", pipe(fds) == 0);
	ssize_t k = write(fds[1], half, 2 * 8192);
	CHECK("pipe: a write running into a hole writes the mapped part or fails",
	      k == 8192 || (k < 0 && errno == EFAULT));
	close(fds[0]);
	close(fds[1]);

	/* A UDP datagram of 8 KiB from the heap stays one datagram. */
	int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE("socket", u >= 0 && v >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	REQUIRE("bind", bind(v, (struct sockaddr *)&a, sizeof(a)) == 0);
	REQUIRE("getsockname", getsockname(v, (struct sockaddr *)&a, &al) == 0);
	REQUIRE("connect", connect(u, (struct sockaddr *)&a, sizeof(a)) == 0);
	fill(heap, 8192, 6);
	CHECK_EQ("udp: write 8 KiB", write(u, heap, 8192), 8192);
	CHECK_EQ("udp: write 5 KiB", write(u, heap, 5000), 5000);
	memset(heap2, 0, N);
	CHECK_EQ("udp: the first read is the first datagram", read(v, heap2, N), 8192);
	CHECK("udp: intact", same(heap2, 8192, 6));
	CHECK_EQ("udp: the second read is the second datagram", read(v, heap2, N), 5000);

	/* The same through send and recv. */
	fill(heap, 8192, 7);
	CHECK_EQ("udp: send 8 KiB", send(u, heap, 8192, 0), 8192);
	memset(heap2, 0, N);
	CHECK_EQ("udp: recv with MSG_PEEK sees the datagram", recv(v, heap2, N, MSG_PEEK), 8192);
	CHECK_EQ("udp: recv 100 bytes of it with MSG_TRUNC gives its length", recv(v, heap2, 100, MSG_TRUNC), 8192);
	fill(heap, 8192, 8);
	CHECK_EQ("udp: send another", send(u, heap, 8192, 0), 8192);
	CHECK_EQ("udp: recv it whole", recv(v, heap2, N, 0), 8192);
	CHECK("udp: intact after recv", same(heap2, 8192, 8));
	close(u);
	close(v);

	REQUIRE("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
	fill(heap, N, 9);
	unsigned char *fresh2 = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE("mmap", fresh2 != MAP_FAILED);
	CHECK("unix stream: 64 KiB by send and recv, intact", through(fds, heap, fresh2, N, 9, 1));
	return check_done();
}
