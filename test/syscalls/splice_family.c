/*
 * splice_family: sendfile, splice, vmsplice and copy_file_range (tee: splice_tee) on
 * files in /dev/shm and pipes: data moved, offset semantics (a NULL offset
 * uses and advances the file offset, a given one does not), and the errnos
 * for bad descriptors, wrong file types, bad offsets and flags.
 */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static char path[64], path2[64];

static int mkfile(const char *p, const char *data)
{
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0 && data)
		write(fd, data, strlen(data));
	return fd;
}

int main(void)
{
	snprintf(path, sizeof(path), "/dev/shm/splice.%d", getpid());
	snprintf(path2, sizeof(path2), "/dev/shm/splice2.%d", getpid());
	int in = mkfile(path, "0123456789abcdefghij");
	int out = mkfile(path2, NULL);
	REQUIRE("files", in >= 0 && out >= 0);
	char buf[64];

	/* sendfile with a NULL offset uses and advances the in offset. */
	lseek(in, 5, SEEK_SET);
	CHECK_EQ("sendfile null off", sendfile(out, in, NULL, 4), 4);
	CHECK_EQ("sendfile in offset moved", lseek(in, 0, SEEK_CUR), 9);
	CHECK_EQ("sendfile out offset moved", lseek(out, 0, SEEK_CUR), 4);
	off_t off = 10;
	CHECK_EQ("sendfile with off", sendfile(out, in, &off, 6), 6);
	CHECK_EQ("sendfile off updated", off, 16);
	CHECK_EQ("sendfile in offset kept", lseek(in, 0, SEEK_CUR), 9);
	memset(buf, 0, sizeof(buf));
	pread(out, buf, sizeof(buf), 0);
	CHECK("sendfile data", strcmp(buf, "5678abcdef") == 0);
	off = 18;
	CHECK_EQ("sendfile at eof short", sendfile(out, in, &off, 100), 2);
	off = 100;
	CHECK_EQ("sendfile past eof", sendfile(out, in, &off, 10), 0);
	off = -1;
	CHECK_ERR("sendfile negative off", sendfile(out, in, &off, 1), EINVAL);
	CHECK_ERR("sendfile bad in", sendfile(out, 999, NULL, 1), EBADF);
	CHECK_ERR("sendfile bad out", sendfile(999, in, NULL, 1), EBADF);
	CHECK_ERR("sendfile efault off", sendfile(out, in, (off_t *)1, 1), EFAULT);
	int ro = open(path, O_RDONLY);
	CHECK_ERR("sendfile out not writable", sendfile(ro, in, NULL, 1), EBADF);
	int wo = open(path, O_WRONLY);
	CHECK_ERR("sendfile in not readable", sendfile(out, wo, NULL, 1), EBADF);
	int ap = open(path2, O_WRONLY | O_APPEND);
	CHECK_ERR("sendfile to O_APPEND", sendfile(ap, in, NULL, 1), EINVAL);
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	off = 0;
	CHECK_ERR("sendfile from pipe with off", sendfile(out, p[0], &off, 1), ESPIPE);
	CHECK_EQ("sendfile to pipe", sendfile(p[1], in, &off, 3), 3);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("read pipe", read(p[0], buf, sizeof(buf)), 3);
	CHECK("sendfile to pipe data", strcmp(buf, "012") == 0);

	/* splice */
	CHECK_EQ("splice len 0 bad fds", splice(999, NULL, 998, NULL, 0, 0), 0);
	CHECK_ERR("splice bad flags", splice(in, NULL, p[1], NULL, 1, 0x100), EINVAL);
	CHECK_ERR("splice no pipe", splice(in, NULL, out, NULL, 1, 0), EINVAL);
	CHECK_ERR("splice bad fd", splice(999, NULL, p[1], NULL, 1, 0), EBADF);
	loff_t lo = 2;
	CHECK_ERR("splice off on pipe", splice(p[0], &lo, out, NULL, 1, 0), ESPIPE);
	CHECK_ERR("splice same pipe", splice(p[0], NULL, p[1], NULL, 1, 0), EINVAL);
	lo = 2;
	CHECK_EQ("splice file->pipe", splice(in, &lo, p[1], NULL, 5, 0), 5);
	CHECK_EQ("splice off updated", lo, 7);
	CHECK_EQ("splice in offset kept", lseek(in, 0, SEEK_CUR), 9);
	lo = -5;
	CHECK_ERR("splice negative off", splice(in, &lo, p[1], NULL, 5, 0), EINVAL);
	lseek(out, 0, SEEK_SET);
	ftruncate(out, 0);
	CHECK_EQ("splice pipe->file", splice(p[0], NULL, out, NULL, 100, 0), 5);
	memset(buf, 0, sizeof(buf));
	pread(out, buf, sizeof(buf), 0);
	CHECK("splice data", strcmp(buf, "23456") == 0);
	CHECK_EQ("splice out offset moved", lseek(out, 0, SEEK_CUR), 5);
	CHECK_ERR("splice empty pipe nonblock", splice(p[0], NULL, out, NULL, 10, SPLICE_F_NONBLOCK), EAGAIN);
	CHECK_ERR("splice to O_APPEND", (write(p[1], "x", 1), splice(p[0], NULL, ap, NULL, 1, 0)), EINVAL);
	read(p[0], buf, 1);
	int q[2];
	REQUIRE("pipe2", pipe(q) == 0);
	write(p[1], "pipe-to-pipe", 12);
	CHECK_EQ("splice pipe->pipe", splice(p[0], NULL, q[1], NULL, 100, 0), 12);
	memset(buf, 0, sizeof(buf));
	read(q[0], buf, sizeof(buf));
	CHECK("pipe->pipe data", strcmp(buf, "pipe-to-pipe") == 0);
	CHECK_ERR("splice from wronly", splice(p[1], NULL, q[1], NULL, 1, 0), EBADF);

	/* vmsplice */
	struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
	CHECK_EQ("vmsplice to pipe", vmsplice(p[1], iov, 2, 0), 8);
	memset(buf, 0, sizeof(buf));
	read(p[0], buf, sizeof(buf));
	CHECK("vmsplice data", strcmp(buf, "vmsplice") == 0);
	CHECK_ERR("vmsplice file", vmsplice(out, iov, 2, 0), EBADF);
	CHECK_ERR("vmsplice bad fd", vmsplice(999, iov, 2, 0), EBADF);
	CHECK_ERR("vmsplice bad flags", vmsplice(p[1], iov, 2, 0x100), EINVAL);
	CHECK_ERR("vmsplice efault", vmsplice(p[1], (struct iovec *)8, 1, 0), EFAULT);

	/* copy_file_range */
	lseek(in, 0, SEEK_SET);
	lseek(out, 0, SEEK_SET);
	ftruncate(out, 0);
	CHECK_EQ("cfr null offsets", copy_file_range(in, NULL, out, NULL, 4, 0), 4);
	CHECK_EQ("cfr in moved", lseek(in, 0, SEEK_CUR), 4);
	CHECK_EQ("cfr out moved", lseek(out, 0, SEEK_CUR), 4);
	loff_t oi = 10, oo = 4;
	CHECK_EQ("cfr offsets", copy_file_range(in, &oi, out, &oo, 3, 0), 3);
	CHECK_EQ("cfr oi", oi, 13);
	CHECK_EQ("cfr oo", oo, 7);
	CHECK_EQ("cfr file offsets kept", lseek(in, 0, SEEK_CUR) + lseek(out, 0, SEEK_CUR), 8);
	memset(buf, 0, sizeof(buf));
	pread(out, buf, sizeof(buf), 0);
	CHECK("cfr data", strcmp(buf, "0123abc") == 0);
	CHECK_ERR("cfr flags", copy_file_range(in, NULL, out, NULL, 1, 1), EINVAL);
	oi = 0; oo = 2;
	CHECK_ERR("cfr same file overlap", copy_file_range(in, &oi, in, &oo, 5, 0), EINVAL);
	oi = 0; oo = 30;
	CHECK_EQ("cfr same file apart", copy_file_range(in, &oi, in, &oo, 5, 0), 5);
	CHECK_ERR("cfr pipe", copy_file_range(p[0], NULL, out, NULL, 1, 0), EINVAL);
	int dfd = open("/dev/shm", O_RDONLY | O_DIRECTORY);
	CHECK_ERR("cfr dir", copy_file_range(dfd, NULL, out, NULL, 1, 0), EISDIR);
	CHECK_ERR("cfr bad fd", copy_file_range(999, NULL, out, NULL, 1, 0), EBADF);
	CHECK_ERR("cfr out readonly", copy_file_range(in, NULL, ro, NULL, 1, 0), EBADF);
	CHECK_ERR("cfr out append", copy_file_range(in, NULL, ap, NULL, 1, 0), EBADF);
	oi = -1;
	CHECK_ERR("cfr negative", copy_file_range(in, &oi, out, NULL, 1, 0), EOVERFLOW);
	oi = 1000;
	CHECK_EQ("cfr past eof", copy_file_range(in, &oi, out, NULL, 1, 0), 0);
	CHECK_ERR("cfr efault", copy_file_range(in, (loff_t *)1, out, NULL, 1, 0), EFAULT);

	unlink(path);
	unlink(path2);
	return check_done();
}
