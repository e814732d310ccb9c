/*
 * tcp.h: helpers shared by the tcp_* tests.
 */
#ifndef RAMPART_TCP_H
#define RAMPART_TCP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* listener4 returns a socket listening on an ephemeral port of 127.0.0.1
 * (SO_REUSEADDR set), its address in sa, or -1. */
static int listener4(struct sockaddr_in *sa)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(*sa);
	if (bind(l, (struct sockaddr *)sa, sizeof(*sa)) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)sa, &len))
		return -1;
	return l;
}

#endif
