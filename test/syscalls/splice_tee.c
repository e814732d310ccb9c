/*
 * splice_tee: tee(2) copies a pipe's data to another pipe without
 * consuming it; both ends must be pipes. (In the sandbox this needs the
 * pipe to implement vfs.Peeker.)
 */
#include "check.h"

#include <fcntl.h>
#include <unistd.h>

int main(void)
{
	int p[2], q[2];
	REQUIRE("pipes", pipe2(p, O_NONBLOCK) == 0 && pipe2(q, O_NONBLOCK) == 0);
	char buf[64];
	write(p[1], "teedata", 7);
	CHECK_EQ("tee", tee(p[0], q[1], 100, 0), 7);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("tee copy read", read(q[0], buf, sizeof(buf)), 7);
	CHECK("tee copy data", strcmp(buf, "teedata") == 0);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("tee source kept", read(p[0], buf, sizeof(buf)), 7);
	CHECK_ERR("tee file", tee(open("/proc/self/exe", O_RDONLY), q[1], 1, 0), EINVAL);
	CHECK_ERR("tee same pipe", tee(p[0], p[1], 1, 0), EINVAL);
	CHECK_ERR("tee nonblock empty", tee(p[0], q[1], 1, SPLICE_F_NONBLOCK), EAGAIN);
	CHECK_ERR("tee bad flags", tee(p[0], q[1], 1, 0x40), EINVAL);
	CHECK_ERR("tee bad fd", tee(999, q[1], 1, 0), EBADF);
	CHECK_EQ("tee zero len", tee(p[0], q[1], 0, 0), 0);
	return check_done();
}
