/* hello: the smallest program: write(2) to stdout and exit 0. */
#include "check.h"

#include <unistd.h>

int main(void)
{
	static const char msg[] = "hello, world\n";
	ssize_t n = write(1, msg, sizeof(msg) - 1);
	CHECK_EQ("write returns its length", n, sizeof(msg) - 1);
	CHECK_EQ("write of 0 bytes returns 0", write(1, msg, 0), 0);
	CHECK_ERR("write to a closed fd is EBADF", write(999, msg, 1), EBADF);
	return check_done();
}
