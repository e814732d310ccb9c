/*
 * tcp_conn.h: a TCP connection over 127.0.0.1 between this process and a
 * forked child, for the TCP benchmarks (in-sandbox loopback under
 * --network=none, the host's loopback under --network=host).
 */
#ifndef RAMPART_TCP_CONN_H
#define RAMPART_TCP_CONN_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* tcp_conn connects a pair of sockets; *server is the accepted end, to
 * give to the child. */
static int tcp_conn(int *server)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len)) {
		perror("tcp listen");
		exit(1);
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof(a))) {
		perror("tcp connect");
		exit(1);
	}
	*server = accept(l, NULL, NULL);
	if (*server < 0) {
		perror("tcp accept");
		exit(1);
	}
	close(l);
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

#endif
