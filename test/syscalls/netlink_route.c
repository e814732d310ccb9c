// netlink_route: interface discovery through a NETLINK_ROUTE socket
// (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE dumps, NLMSG_DONE, NLMSG_ERROR,
// acks, bind and autobind, getsockname) and the SIOCGIF* ioctls. Only lo
// is checked: it looks the same on every Linux host and in the sandbox.
#include "check.h"

#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

static char buf[1 << 16];

static int nl_open(int type)
{
	return socket(AF_NETLINK, type | SOCK_CLOEXEC, NETLINK_ROUTE);
}

static int send_req(int s, int type, int flags, unsigned seq, int family)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
		char pad[3];
	} req;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg));
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | flags;
	req.h.nlmsg_seq = seq;
	req.g.rtgen_family = family;
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	return sendto(s, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k));
}

/* dump reads one dump's replies, calling fn on each message; it returns
 * the number of messages before NLMSG_DONE, or -1 on a protocol error. */
static int dump(int s, unsigned seq, unsigned pid, void (*fn)(struct nlmsghdr *))
{
	int count = 0;
	for (;;) {
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq || h->nlmsg_pid != pid || !(h->nlmsg_flags & NLM_F_MULTI))
				return -1;
			if (h->nlmsg_type == NLMSG_DONE)
				return count;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -1;
			fn(h);
			count++;
		}
	}
}

static int lo_index, lo_flags, lo_mtu, lo_type, lo_named;
static void on_link(struct nlmsghdr *h)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = IFLA_PAYLOAD(h);
	const char *name = NULL;
	int mtu = 0;
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			name = RTA_DATA(a);
		if (a->rta_type == IFLA_MTU)
			mtu = *(int *)RTA_DATA(a);
	}
	if (name && strcmp(name, "lo") == 0) {
		lo_named = 1;
		lo_index = ifi->ifi_index;
		lo_flags = ifi->ifi_flags;
		lo_mtu = mtu;
		lo_type = ifi->ifi_type;
	}
}

static int v4_lo, v6_lo, other_family;
static int want_family;
static void on_addr(struct nlmsghdr *h)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	if (want_family && ifa->ifa_family != want_family)
		other_family = 1;
	if (h->nlmsg_type != RTM_NEWADDR || ifa->ifa_index != (unsigned)lo_index)
		return;
	int len = IFA_PAYLOAD(h);
	for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != IFA_ADDRESS)
			continue;
		if (ifa->ifa_family == AF_INET && ifa->ifa_prefixlen == 8 &&
		    ifa->ifa_scope == RT_SCOPE_HOST &&
		    *(uint32_t *)RTA_DATA(a) == htonl(INADDR_LOOPBACK))
			v4_lo = 1;
		if (ifa->ifa_family == AF_INET6 && ifa->ifa_prefixlen == 128 &&
		    ifa->ifa_scope == RT_SCOPE_HOST &&
		    memcmp(RTA_DATA(a), &in6addr_loopback, 16) == 0)
			v6_lo = 1;
	}
}

static int local_route;
static void on_route(struct nlmsghdr *h)
{
	struct rtmsg *rt = NLMSG_DATA(h);
	if (h->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != AF_INET)
		return;
	int len = RTM_PAYLOAD(h);
	uint32_t dst = 0;
	int oif = 0;
	for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_DST)
			dst = *(uint32_t *)RTA_DATA(a);
		if (a->rta_type == RTA_OIF)
			oif = *(int *)RTA_DATA(a);
	}
	if (rt->rtm_table == RT_TABLE_LOCAL && rt->rtm_type == RTN_LOCAL && rt->rtm_dst_len == 8 &&
	    dst == htonl(0x7f000000) && oif == lo_index)
		local_route = 1;
}

static void check_ifreq(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq r;
	memset(&r, 0, sizeof(r));
	strcpy(r.ifr_name, "lo");
	CHECK_EQ("SIOCGIFFLAGS", ioctl(s, SIOCGIFFLAGS, &r), 0);
	CHECK_EQ("lo flags", r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_BROADCAST),
		 IFF_UP | IFF_LOOPBACK | IFF_RUNNING);
	CHECK_EQ("SIOCGIFINDEX", ioctl(s, SIOCGIFINDEX, &r), 0);
	CHECK_EQ("lo index matches netlink", r.ifr_ifindex, lo_index);
	int idx = r.ifr_ifindex;
	memset(&r, 0, sizeof(r));
	r.ifr_ifindex = idx;
	CHECK_EQ("SIOCGIFNAME", ioctl(s, SIOCGIFNAME, &r), 0);
	CHECK("name is lo", strcmp(r.ifr_name, "lo") == 0);
	CHECK_EQ("SIOCGIFMTU", ioctl(s, SIOCGIFMTU, &r), 0);
	CHECK_EQ("lo mtu", r.ifr_mtu, 65536);
	CHECK_EQ("SIOCGIFADDR", ioctl(s, SIOCGIFADDR, &r), 0);
	struct sockaddr_in *sin = (struct sockaddr_in *)&r.ifr_addr;
	CHECK_EQ("addr family", sin->sin_family, AF_INET);
	CHECK_EQ("addr 127.0.0.1", sin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	CHECK_EQ("SIOCGIFNETMASK", ioctl(s, SIOCGIFNETMASK, &r), 0);
	CHECK_EQ("mask 255.0.0.0", sin->sin_addr.s_addr, htonl(0xff000000));
	CHECK_EQ("SIOCGIFHWADDR", ioctl(s, SIOCGIFHWADDR, &r), 0);
	static const char zero[6];
	CHECK_EQ("hw type", r.ifr_hwaddr.sa_family, ARPHRD_LOOPBACK);
	CHECK("hw addr zero", memcmp(r.ifr_hwaddr.sa_data, zero, 6) == 0);

	strcpy(r.ifr_name, "nosuchif0");
	CHECK_ERR("unknown name", ioctl(s, SIOCGIFFLAGS, &r), ENODEV);
	r.ifr_ifindex = 999999;
	CHECK_ERR("unknown index", ioctl(s, SIOCGIFNAME, &r), ENODEV);
	CHECK_ERR("bad pointer", ioctl(s, SIOCGIFFLAGS, (void *)8), EFAULT);

	/* SIOCGIFCONF: the length first, then the entries; lo is there. */
	struct ifconf c = {.ifc_len = 0, .ifc_buf = NULL};
	CHECK_EQ("SIOCGIFCONF size", ioctl(s, SIOCGIFCONF, &c), 0);
	CHECK("size is whole ifreqs", c.ifc_len > 0 && c.ifc_len % sizeof(struct ifreq) == 0);
	struct ifreq reqs[64];
	c.ifc_len = sizeof(reqs);
	c.ifc_req = reqs;
	CHECK_EQ("SIOCGIFCONF", ioctl(s, SIOCGIFCONF, &c), 0);
	int found = 0;
	for (unsigned i = 0; i < c.ifc_len / sizeof(struct ifreq); i++) {
		struct sockaddr_in *a = (struct sockaddr_in *)&reqs[i].ifr_addr;
		if (strcmp(reqs[i].ifr_name, "lo") == 0 && a->sin_family == AF_INET &&
		    a->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
			found = 1;
	}
	CHECK("SIOCGIFCONF has lo", found);
	c.ifc_len = sizeof(struct ifreq) - 1;
	CHECK_EQ("SIOCGIFCONF short buffer", ioctl(s, SIOCGIFCONF, &c), 0);
	CHECK_EQ("nothing fits", c.ifc_len, 0);
	/* A unix socket answers them too. */
	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(r.ifr_name, "lo");
	CHECK_EQ("SIOCGIFINDEX on unix socket", ioctl(u, SIOCGIFINDEX, &r), 0);
	close(u);
	close(s);
}

int main(void)
{
	CHECK_ERR("stream type", socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT);
	CHECK_ERR("bad protocol", socket(AF_NETLINK, SOCK_RAW, 99), EPROTONOSUPPORT);
	int d = nl_open(SOCK_DGRAM);
	CHECK("dgram socket", d >= 0);
	close(d);

	int s = nl_open(SOCK_RAW);
	CHECK("raw socket", s >= 0);
	struct sockaddr_nl a;
	socklen_t l = sizeof(a);
	CHECK_EQ("getsockname unbound", getsockname(s, (struct sockaddr *)&a, &l), 0);
	CHECK_EQ("len", l, sizeof(a));
	CHECK_EQ("family", a.nl_family, AF_NETLINK);
	CHECK_EQ("pid 0 before bind", a.nl_pid, 0);
	CHECK_ERR("short bind", bind(s, (struct sockaddr *)&a, 4), EINVAL);
	struct sockaddr_nl bad = {.nl_family = AF_INET};
	CHECK_ERR("wrong family bind", bind(s, (struct sockaddr *)&bad, sizeof(bad)), EINVAL);
	memset(&a, 0, sizeof(a));
	a.nl_family = AF_NETLINK;
	CHECK_EQ("bind autoassign", bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	l = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &l);
	CHECK_EQ("pid is the process's", a.nl_pid, getpid());
	unsigned pid = a.nl_pid;

	int s2 = nl_open(SOCK_RAW);
	struct sockaddr_nl taken = {.nl_family = AF_NETLINK, .nl_pid = pid};
	CHECK_ERR("explicit pid in use", bind(s2, (struct sockaddr *)&taken, sizeof(taken)), EADDRINUSE);
	/* Sending autobinds to a negative port id when the pid is taken. */
	CHECK("send autobinds", send_req(s2, RTM_GETLINK, NLM_F_DUMP, 7, AF_UNSPEC) > 0);
	l = sizeof(a);
	getsockname(s2, (struct sockaddr *)&a, &l);
	CHECK("second port negative", (int)a.nl_pid < 0);
	close(s2);

	CHECK("GETLINK dump", send_req(s, RTM_GETLINK, NLM_F_DUMP, 100, AF_UNSPEC) > 0);
	CHECK("links", dump(s, 100, pid, on_link) >= 1);
	CHECK("lo listed", lo_named);
	CHECK_EQ("lo flags", lo_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP),
		 IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP);
	CHECK_EQ("lo mtu", lo_mtu, 65536);
	CHECK_EQ("lo type", lo_type, ARPHRD_LOOPBACK);

	want_family = AF_INET;
	CHECK("GETADDR v4", send_req(s, RTM_GETADDR, NLM_F_DUMP, 101, AF_INET) > 0);
	CHECK("v4 addrs", dump(s, 101, pid, on_addr) >= 1);
	CHECK("127.0.0.1/8 on lo", v4_lo);
	CHECK("only v4", !other_family);
	want_family = AF_INET6;
	CHECK("GETADDR v6", send_req(s, RTM_GETADDR, NLM_F_DUMP, 102, AF_INET6) > 0);
	CHECK("v6 addrs", dump(s, 102, pid, on_addr) >= 1);
	CHECK("::1/128 on lo", v6_lo);
	CHECK("only v6", !other_family);

	CHECK("GETROUTE", send_req(s, RTM_GETROUTE, NLM_F_DUMP, 103, AF_INET) > 0);
	CHECK("routes", dump(s, 103, pid, on_route) >= 1);
	CHECK("local 127.0.0.0/8 route", local_route);

	/* MSG_PEEK|MSG_TRUNC tells the size of the next datagram. */
	send_req(s, RTM_GETLINK, NLM_F_DUMP, 104, AF_UNSPEC);
	char small[16];
	ssize_t full = recv(s, small, sizeof(small), MSG_PEEK | MSG_TRUNC);
	ssize_t got = recv(s, buf, sizeof(buf), 0);
	CHECK("peek trunc length", full > (ssize_t)sizeof(small) && full == got);
	dump(s, 104, pid, on_link);

	/* An unsupported message type gets NLMSG_ERROR with EOPNOTSUPP and
	 * the request echoed. */
	send_req(s, 200, 0, 105, AF_UNSPEC);
	ssize_t n = recv(s, buf, sizeof(buf), 0);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct nlmsgerr *e = NLMSG_DATA(h);
	CHECK_EQ("error type", h->nlmsg_type, NLMSG_ERROR);
	CHECK_EQ("error seq", h->nlmsg_seq, 105);
	CHECK_EQ("error errno", e->error, -EOPNOTSUPP);
	CHECK_EQ("echoed type", e->msg.nlmsg_type, 200);
	CHECK_EQ("error length", n, NLMSG_LENGTH(sizeof(*e) + sizeof(struct rtgenmsg)) + 3);

	/* NLM_F_ACK on a no-op gets error 0 with the header only. */
	send_req(s, NLMSG_NOOP, NLM_F_ACK, 106, AF_UNSPEC);
	n = recv(s, buf, sizeof(buf), 0);
	CHECK_EQ("ack type", h->nlmsg_type, NLMSG_ERROR);
	CHECK_EQ("ack errno", e->error, 0);
	CHECK_EQ("ack seq", e->msg.nlmsg_seq, 106);
	CHECK_EQ("ack capped", h->nlmsg_flags & NLM_F_CAPPED, NLM_F_CAPPED);
	CHECK_EQ("ack length", n, NLMSG_LENGTH(sizeof(*e)));

	/* A message without NLM_F_REQUEST is ignored. */
	struct {
		struct nlmsghdr h;
		char pad[4];
	} noreq = {.h = {.nlmsg_len = NLMSG_LENGTH(4), .nlmsg_type = RTM_GETLINK, .nlmsg_seq = 108}};
	send(s, &noreq, noreq.h.nlmsg_len, 0);
	CHECK_ERR("not a request: no reply", recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);

	check_ifreq();
	close(s);
	return check_done();
}
