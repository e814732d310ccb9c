/*
 * mknod_fifo: mknod of FIFOs, sockets and device nodes on tmpfs; FIFO
 * open rules (nonblocking write open without a reader is ENXIO, a blocking
 * read open waits for a writer), data through the FIFO and end of file;
 * chroot into a tmpfs directory.
 */
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	char d[64], f[128], s[128], n[128], z[128];
	snprintf(d, sizeof(d), "/dev/shm/mk.%d", getpid());
	REQUIRE("mkdir", mkdir(d, 0755) == 0);
	snprintf(f, sizeof(f), "%s/fifo", d);
	snprintf(s, sizeof(s), "%s/sock", d);
	snprintf(n, sizeof(n), "%s/null", d);
	snprintf(z, sizeof(z), "%s/bad", d);
	CHECK_OK("mkfifo", mknod(f, S_IFIFO | 0600, 0));
	CHECK_ERR("mkfifo exists", mknod(f, S_IFIFO | 0600, 0), EEXIST);
	struct stat st;
	CHECK("fifo type", stat(f, &st) == 0 && S_ISFIFO(st.st_mode));
	CHECK_OK("mksock", mknod(s, S_IFSOCK | 0600, 0));
	CHECK_ERR("open socket node", open(s, O_RDONLY), ENXIO);
	CHECK_OK("mknod null", mknod(n, S_IFCHR | 0666, makedev(1, 3)));
	CHECK("null rdev", stat(n, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
	int nfd = open(n, O_RDWR);
	CHECK_EQ("null write", write(nfd, "abc", 3), 3);
	CHECK_ERR("mknod dir", mknod(z, S_IFDIR | 0755, 0), EPERM);
	CHECK_ERR("mknod bad type", mknod(z, 0170000 | 0644, 0), EINVAL);

	CHECK_ERR("nonblock write no reader", open(f, O_WRONLY | O_NONBLOCK), ENXIO);
	int r = open(f, O_RDONLY | O_NONBLOCK);
	CHECK("nonblock read open", r >= 0);
	char buf[16];
	CHECK_EQ("read no writer is eof", read(r, buf, sizeof(buf)), 0);
	int w = open(f, O_WRONLY | O_NONBLOCK);
	CHECK("nonblock write with reader", w >= 0);
	CHECK_ERR("read empty with writer", read(r, buf, sizeof(buf)), EAGAIN);
	CHECK_EQ("write", write(w, "hi", 2), 2);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ("read", read(r, buf, sizeof(buf)), 2);
	CHECK("data", strcmp(buf, "hi") == 0);
	CHECK_ERR("lseek fifo", lseek(r, 0, SEEK_SET), ESPIPE);
	close(w);
	CHECK_EQ("eof after writer closed", read(r, buf, sizeof(buf)), 0);
	close(r);

	pid_t pid = fork();
	if (pid == 0) {
		int wr = open(f, O_WRONLY); /* waits for the parent's reader */
		write(wr, "child", 5);
		_exit(0);
	}
	r = open(f, O_RDONLY); /* waits for the child's writer */
	CHECK("blocking open", r >= 0);
	memset(buf, 0, sizeof(buf));
	int got = 0;
	for (int k; got < 5 && (k = read(r, buf + got, sizeof(buf) - got)) > 0;)
		got += k;
	CHECK("blocking data", strcmp(buf, "child") == 0);
	CHECK_EQ("eof after child", read(r, buf, sizeof(buf)), 0);
	int status;
	waitpid(pid, &status, 0);
	close(r);
	int rw = open(f, O_RDWR);
	CHECK("rdwr never blocks", rw >= 0);
	close(rw);

	/* chroot in a child. */
	pid = fork();
	if (pid == 0) {
		char inner[160];
		snprintf(inner, sizeof(inner), "%s/root", d);
		mkdir(inner, 0755);
		snprintf(buf, sizeof(buf), "x");
		if (chroot(inner) != 0)
			_exit(1);
		if (chdir("/") != 0)
			_exit(2);
		int fd = open("/marker", O_CREAT | O_WRONLY, 0600);
		if (fd < 0)
			_exit(3);
		if (access("/dev/shm", F_OK) == 0)
			_exit(4);
		if (chdir("../..") != 0 || access("marker", F_OK) != 0)
			_exit(5);
		if (chroot("/marker") == 0 || errno != ENOTDIR)
			_exit(6);
		if (setuid(65534) == 0 && (chroot("/") == 0 || errno != EPERM))
			_exit(7);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK_EQ("chroot child", WEXITSTATUS(status), 0);
	char marker[200];
	snprintf(marker, sizeof(marker), "%s/root/marker", d);
	CHECK_OK("marker outside", access(marker, F_OK));
	unlink(marker);
	snprintf(marker, sizeof(marker), "%s/root", d);
	rmdir(marker);
	unlink(f); unlink(s); unlink(n);
	CHECK_OK("cleanup", rmdir(d));
	return check_done();
}
