/*
 * append_concurrent: two processes append 2,000 records each with
 * O_APPEND to one tmpfs file; no write is lost or torn.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 2000
#define REC 64

int main(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/dev/shm/append.%d", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE("open", fd >= 0);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			int f = open(path, O_WRONLY | O_APPEND);
			char rec[REC];
			memset(rec, 'a' + k, REC);
			rec[REC - 1] = '\n';
			for (int i = 0; i < N; i++)
				if (write(f, rec, REC) != REC)
					_exit(1);
			_exit(0);
		}
	}
	int ok = 1;
	for (int k = 0; k < 2; k++) {
		int st;
		waitpid(kids[k], &st, 0);
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	CHECK("writers", ok);
	struct stat st;
	fstat(fd, &st);
	CHECK_EQ("size", st.st_size, 2 * N * REC);
	int counts[2] = {0, 0}, torn = 0;
	char rec[REC];
	for (int i = 0; i < 2 * N; i++) {
		if (pread(fd, rec, REC, (off_t)i * REC) != REC)
			break;
		int c = rec[0] - 'a';
		for (int j = 1; j < REC - 1; j++)
			torn += rec[j] != rec[0];
		if (c == 0 || c == 1)
			counts[c]++;
	}
	CHECK_EQ("records of a", counts[0], N);
	CHECK_EQ("records of b", counts[1], N);
	CHECK_EQ("torn", torn, 0);
	unlink(path);
	return check_done();
}
