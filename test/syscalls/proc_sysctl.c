/*
 * proc_sysctl: the writable sysctls a container runtime sets for a container
 * (docker passes net.ipv4.ip_unprivileged_port_start and ping_group_range
 * even without a network) are root-writable files of /proc/sys, shown as
 * Linux shows integer vectors (tab-separated, one newline); root writing a
 * value back reads it back the same; a value that is not a number is EINVAL.
 * Only field counts are printed: the values are the host's natively.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>

static const struct {
	const char *path;
	int fields;
} sysctls[] = {
	{"/proc/sys/net/ipv4/ip_unprivileged_port_start", 1},
	{"/proc/sys/net/ipv4/ping_group_range", 2},
	{"/proc/sys/net/ipv4/ip_local_port_range", 2},
	{"/proc/sys/net/ipv4/ip_forward", 1},
	{"/proc/sys/net/core/somaxconn", 1},
	{"/proc/sys/kernel/shmmni", 1},
	{"/proc/sys/kernel/msgmax", 1},
	{"/proc/sys/kernel/sem", 4},
	{"/proc/sys/fs/mqueue/msg_max", 1},
};

static int slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* fields counts tab-separated decimal fields ending in one newline, -1 if the
 * text is not that. */
static int fields(const char *s)
{
	int n = 0;
	for (;;) {
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
		n++;
		if (*s == '\n')
			return s[1] == 0 ? n : -1;
		if (*s != '\t')
			return -1;
		s++;
	}
}

int main(void)
{
	char name[128], before[256], after[256];
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
		const char *p = sysctls[i].path;
		const char *base = p + strlen("/proc/sys/");
		struct stat st;
		snprintf(name, sizeof(name), "%s is a root-writable file", base);
		CHECK(name, stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644 &&
				    st.st_uid == 0);
		snprintf(name, sizeof(name), "%s has %d field(s)", base, sysctls[i].fields);
		CHECK_EQ(name, slurp(p, before, sizeof(before)) > 0 ? fields(before) : -2, sysctls[i].fields);

		/* The same value written back (with spaces for tabs, as sysctl(8)
		 * users write vectors) reads back unchanged. */
		char spaced[256];
		strcpy(spaced, before);
		for (char *c = spaced; *c; c++)
			if (*c == '\t')
				*c = ' ';
		int fd = open(p, O_WRONLY);
		snprintf(name, sizeof(name), "%s written back", base);
		CHECK_EQ(name, fd >= 0 ? (int)write(fd, spaced, strlen(spaced)) : -1, (int)strlen(spaced));
		if (fd >= 0)
			close(fd);
		snprintf(name, sizeof(name), "%s reads back the same", base);
		CHECK(name, slurp(p, after, sizeof(after)) > 0 && strcmp(before, after) == 0);
	}

	int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_WRONLY);
	CHECK_ERR("a value that is not a number", write(fd, "port\n", 5), EINVAL);
	close(fd);
	return check_done();
}
