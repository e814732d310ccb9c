/*
 * inotify_basic: the events of common operations, as a watch on a
 * directory (with the child's name) and a watch on a file itself see them:
 * create/open/modify/access/attrib/close, getdents and IN_ISDIR, links,
 * renames (one cookie per IN_MOVED_FROM/IN_MOVED_TO pair, IN_MOVE_SELF),
 * unlink and rmdir (IN_DELETE_SELF then IN_IGNORED, delayed to the last
 * close of an open file), IN_EXCL_UNLINK, inotify_rm_watch, IN_ONESHOT,
 * IN_MASK_ADD/IN_MASK_CREATE, watch descriptor reuse, IN_UNMOUNT; and the
 * file itself: nonblocking EAGAIN, the short-buffer EINVAL, name padding,
 * poll/epoll readiness, FIONREAD, coalescing of identical events, the
 * queue-overflow event, and blocking reads (woken, and interrupted).
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static int ifd;

static const char *path(const char *name)
{
	static char bufs[4][128];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, 128, "%s/%s", dir, name);
	return b;
}

static const struct {
	uint32_t bit;
	const char *name;
} bits[] = {
	{IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},
	{IN_ATTRIB, "ATTRIB"},         {IN_CLOSE_WRITE, "CLOSE_WRITE"},
	{IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
	{IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
	{IN_CREATE, "CREATE"},         {IN_DELETE, "DELETE"},
	{IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
	{IN_UNMOUNT, "UNMOUNT"},       {IN_Q_OVERFLOW, "Q_OVERFLOW"},
	{IN_IGNORED, "IGNORED"},       {IN_ISDIR, "ISDIR"},
};

static void print_mask(uint32_t m)
{
	const char *sep = "";
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (m & bits[i].bit) {
			printf("%s%s", sep, bits[i].name);
			sep = "|";
			m &= ~bits[i].bit;
		}
	}
	if (m)
		printf("%s%#x", sep, m);
}

/* cookies of the last drain's MOVED_FROM and MOVED_TO events */
static uint32_t from_cookie, to_cookie;

/* drain prints every queued event (ifd is nonblocking). */
static void drain(const char *label)
{
	char buf[8192] __attribute__((aligned(8)));
	printf("%s:\n", label);
	from_cookie = to_cookie = 0;
	for (;;) {
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n < 0) {
			if (errno != EAGAIN)
				check_fail(label, "read: %s", check_errname(errno));
			return;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			printf("  wd=%d ", e->wd);
			print_mask(e->mask);
			if (e->len) {
				if (e->len % sizeof(struct inotify_event) != 0 ||
				    strlen(e->name) >= e->len)
					check_fail(label, "name length %u", e->len);
				printf(" %s", e->name);
			}
			if (e->mask & IN_MOVED_FROM)
				from_cookie = e->cookie;
			else if (e->mask & IN_MOVED_TO)
				to_cookie = e->cookie;
			else if (e->cookie)
				printf(" cookie!");
			printf("\n");
			p += sizeof(*e) + e->len;
		}
	}
}

static void put(const char *p, const char *s)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		check_fail("put", "%s: %s", p, check_errname(errno));
	close(fd);
}

static int readable(int fd)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN | POLLOUT};
	return poll(&pf, 1, 0) < 0 ? -1 : pf.revents;
}

static void on_signal(int sig) { (void)sig; }

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/inotify.%d", getpid());
	REQUIRE("mkdir", mkdir(dir, 0755) == 0);
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	REQUIRE("inotify_init1", ifd >= 0);
	CHECK_EQ("cloexec", fcntl(ifd, F_GETFD), FD_CLOEXEC);
	CHECK_EQ("status flags", fcntl(ifd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDONLY | O_NONBLOCK);
	char buf[4096] __attribute__((aligned(8)));
	CHECK_ERR("empty: EAGAIN", read(ifd, buf, sizeof(buf)), EAGAIN);
	CHECK_EQ("empty: not readable", readable(ifd), 0);
	int avail = -1;
	CHECK_OK("FIONREAD empty", ioctl(ifd, FIONREAD, &avail));
	CHECK_EQ("FIONREAD empty is 0", avail, 0);

	/* A directory watch: wd 1. */
	CHECK_EQ("watch dir: wd 1", inotify_add_watch(ifd, dir, IN_ALL_EVENTS), 1);
	CHECK_EQ("same inode, same wd", inotify_add_watch(ifd, dir, IN_ALL_EVENTS), 1);
	drain("nothing yet");

	int fd = open(path("f"), O_WRONLY | O_CREAT, 0644);
	CHECK("create f", fd >= 0);
	drain("create");
	CHECK_EQ("write", write(fd, "hello", 5), 5);
	CHECK_EQ("write again", write(fd, "!", 1), 1);
	CHECK_EQ("readable", readable(ifd), POLLIN);
	drain("two writes coalesce");
	CHECK_EQ("drained: not readable", readable(ifd), 0);
	close(fd);
	CHECK_OK("FIONREAD", ioctl(ifd, FIONREAD, &avail));
	CHECK_EQ("FIONREAD: header + padded name", avail, 32);
	drain("close after write");

	/* A watch on the file itself: wd 2; both watches see its events,
	 * the directory's first. */
	CHECK_EQ("watch file: wd 2", inotify_add_watch(ifd, path("f"), IN_ALL_EVENTS), 2);
	fd = open(path("f"), O_RDONLY);
	CHECK_EQ("read", read(fd, buf, 2), 2);
	CHECK_EQ("read at end", read(fd, buf + 2, 100), 4);
	CHECK_EQ("read nothing", read(fd, buf, 100), 0);
	close(fd);
	drain("open, reads, close (reading at EOF is silent)");
	fd = open(path("f"), O_RDWR | O_TRUNC);
	close(fd);
	drain("open O_TRUNC");
	CHECK_OK("chmod", chmod(path("f"), 0600));
	drain("chmod");
	CHECK_OK("truncate", truncate(path("f"), 3));
	drain("truncate");
	CHECK_OK("utimes", utimensat(AT_FDCWD, path("f"), NULL, 0));
	drain("utimensat both times");
	struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	CHECK_OK("utimes atime", utimensat(AT_FDCWD, path("f"), ts, 0));
	drain("utimensat atime only");
	CHECK_OK("link", link(path("f"), path("g")));
	drain("link");
	CHECK_OK("unlink link", unlink(path("g")));
	drain("unlink one of two links");

	/* Directories: IN_ISDIR. */
	CHECK_OK("mkdir sub", mkdir(path("sub"), 0755));
	drain("mkdir");
	CHECK_EQ("watch sub: wd 3", inotify_add_watch(ifd, path("sub"), IN_ALL_EVENTS), 3);
	int dfd = open(path("sub"), O_RDONLY | O_DIRECTORY);
	CHECK("getdents", syscall(SYS_getdents64, dfd, buf, sizeof(buf)) > 0);
	close(dfd);
	drain("open, getdents, close of a directory");

	/* Renames: one cookie per pair, IN_MOVE_SELF to the moved inode. */
	CHECK_OK("rename", rename(path("f"), path("h")));
	drain("rename f h");
	CHECK("rename cookie nonzero and shared", from_cookie != 0 && from_cookie == to_cookie);
	uint32_t first = from_cookie;
	CHECK_OK("rename into sub", rename(path("h"), path("sub/h")));
	drain("rename h sub/h");
	CHECK("cross-directory cookie shared and new", from_cookie != 0 && from_cookie == to_cookie && from_cookie != first);
	CHECK_OK("rename back", rename(path("sub/h"), path("f")));
	drain("rename sub/h f");
	put(path("x"), "x");
	drain("create x");
	CHECK_OK("rename over", rename(path("x"), path("f")));
	drain("rename x over the watched f");

	/* rm_watch, then a reused descriptor never comes back. */
	CHECK_OK("rm_watch sub", inotify_rm_watch(ifd, 3));
	drain("rm_watch");
	CHECK_ERR("rm_watch again", inotify_rm_watch(ifd, 3), EINVAL);
	CHECK_OK("rmdir sub", rmdir(path("sub")));
	drain("rmdir unwatched sub");
	CHECK_OK("mkdir sub2", mkdir(path("sub2"), 0755));
	CHECK_EQ("watch sub2: wd 4", inotify_add_watch(ifd, path("sub2"), IN_ALL_EVENTS), 4);
	CHECK_OK("rmdir sub2", rmdir(path("sub2")));
	drain("mkdir, rmdir watched sub2");

	/* Unlink of a watched file: IN_DELETE_SELF waits for the last close. */
	put(path("u"), "u");
	CHECK_EQ("watch u: wd 5", inotify_add_watch(ifd, path("u"), IN_ALL_EVENTS), 5);
	fd = open(path("u"), O_RDWR);
	drain("create u, open");
	CHECK_OK("unlink u", unlink(path("u")));
	drain("unlink open u");
	CHECK_EQ("write unlinked", write(fd, "y", 1), 1);
	drain("write to unlinked u");
	close(fd);
	drain("last close of unlinked u");

	/* IN_EXCL_UNLINK: the directory stops hearing about unlinked files. */
	put(path("e"), "e");
	fd = open(path("e"), O_RDWR);
	CHECK_EQ("EXCL_UNLINK watch", inotify_add_watch(ifd, dir, IN_MODIFY | IN_DELETE | IN_EXCL_UNLINK), 1);
	drain("reopen with EXCL_UNLINK");
	CHECK_OK("unlink e", unlink(path("e")));
	CHECK_EQ("write unlinked e", write(fd, "y", 1), 1);
	close(fd);
	drain("EXCL_UNLINK: unlink e and write");

	/* Masks: replaced, IN_MASK_ADD, IN_MASK_CREATE. */
	CHECK_EQ("mask: create only", inotify_add_watch(ifd, dir, IN_CREATE), 1);
	put(path("m1"), "");
	unlink(path("m1"));
	drain("create only");
	CHECK_EQ("mask add delete", inotify_add_watch(ifd, dir, IN_DELETE | IN_MASK_ADD), 1);
	put(path("m2"), "");
	unlink(path("m2"));
	drain("create plus MASK_ADD delete");
	CHECK_ERR("MASK_CREATE on a watched inode", inotify_add_watch(ifd, dir, IN_CREATE | IN_MASK_CREATE), EEXIST);
	put(path("o"), "");
	CHECK_EQ("MASK_CREATE on a new inode: wd 6", inotify_add_watch(ifd, path("o"), IN_ATTRIB | IN_MASK_CREATE), 6);

	/* IN_ONESHOT: one event, then IN_IGNORED. */
	CHECK_EQ("oneshot (same wd)", inotify_add_watch(ifd, dir, IN_CREATE | IN_ONESHOT), 1);
	drain("create o");
	put(path("o1"), "");
	put(path("o2"), "");
	drain("oneshot: two creates");
	CHECK_ERR("oneshot watch is gone", inotify_rm_watch(ifd, 1), EINVAL);
	CHECK_EQ("new dir watch: wd 7", inotify_add_watch(ifd, dir, IN_CREATE | IN_DELETE), 7);
	CHECK_OK("chmod o", chmod(path("o"), 0600));
	CHECK_OK("chmod o again", chmod(path("o"), 0644));
	drain("two chmods of o coalesce");

	/* Coalescing is of consecutive identical events only. */
	CHECK_EQ("watch o for all: wd 6", inotify_add_watch(ifd, path("o"), IN_ALL_EVENTS), 6);
	fd = open(path("o"), O_RDWR);
	CHECK_EQ("w1", pwrite(fd, "ab", 2, 0), 2);
	CHECK_EQ("r1", pread(fd, buf, 1, 0), 1);
	CHECK_EQ("w2", pwrite(fd, "ab", 2, 0), 2);
	CHECK_EQ("w3", pwrite(fd, "ab", 2, 0), 2);
	drain("write, read, write, write");

	/* Reads: a buffer too small for the first event is EINVAL; a buffer
	 * for one and a half events returns one. */
	put(path("abc"), "");
	drain("create abc");
	unlink(path("abc"));
	CHECK_OK("chmod o", chmod(path("o"), 0600));
	CHECK_OK("FIONREAD two", ioctl(ifd, FIONREAD, &avail));
	CHECK_EQ("FIONREAD two events", avail, 32 + 16);
	CHECK_ERR("buffer of 31 bytes", read(ifd, buf, 31), EINVAL);
	CHECK_EQ("buffer of 40 bytes", read(ifd, buf, 40), 32);
	struct inotify_event *ev = (struct inotify_event *)buf;
	CHECK("first is DELETE abc", ev->wd == 7 && ev->mask == IN_DELETE && ev->len == 16 && strcmp(ev->name, "abc") == 0);
	char *name = ev->name;
	int zeros = 1;
	for (int i = 3; i < 16; i++)
		zeros &= name[i] == 0;
	CHECK("name NUL padded", zeros);
	CHECK_EQ("nameless event fits 16 bytes", read(ifd, buf, 16), 16);
	CHECK("second is ATTRIB on o", ev->wd == 6 && ev->mask == IN_ATTRIB && ev->len == 0);
	close(fd);
	drain("close o");

	/* epoll readiness. */
	int ep = epoll_create1(0);
	struct epoll_event ee = {.events = EPOLLIN}, out;
	CHECK_OK("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, ifd, &ee));
	CHECK_EQ("epoll: empty", epoll_wait(ep, &out, 1, 0), 0);
	put(path("p"), "");
	CHECK_EQ("epoll: readable", epoll_wait(ep, &out, 1, 0), 1);
	CHECK_EQ("epoll: EPOLLIN", out.events, EPOLLIN);
	drain("create p");
	CHECK_EQ("epoll: drained", epoll_wait(ep, &out, 1, 0), 0);
	close(ep);

	/* Overflow: past max_queued_events, one IN_Q_OVERFLOW (wd -1). */
	int max = 16384;
	CHECK_EQ("watch p: wd 8", inotify_add_watch(ifd, path("p"), IN_ACCESS | IN_MODIFY), 8);
	fd = open(path("p"), O_RDWR);
	pwrite(fd, "z", 1, 0);
	for (int i = 0; i < max + 10; i++) {
		if (i % 2)
			pwrite(fd, "z", 1, 0);
		else
			pread(fd, buf, 1, 0);
	}
	close(fd);
	int count = 0, overflow = 0, last_wd = 0;
	for (;;) {
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			count++;
			if (e->mask & IN_Q_OVERFLOW)
				overflow++;
			last_wd = e->wd;
			p += sizeof(*e) + e->len;
		}
	}
	CHECK_EQ("events at the limit", count, max + 1);
	CHECK_EQ("one overflow event", overflow, 1);
	CHECK_EQ("overflow last, wd -1", last_wd, -1);
	CHECK_OK("rm_watch p", inotify_rm_watch(ifd, 8));
	drain("rm_watch p after overflow");

	/* Blocking reads: woken by an event from a child, interrupted by a
	 * signal (no SA_RESTART: EINTR). */
	int bfd = inotify_init();
	REQUIRE("inotify_init", bfd >= 0);
	CHECK_EQ("blocking: wd 1", inotify_add_watch(bfd, dir, IN_CREATE), 1);
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec d = {0, 50 * 1000 * 1000};
		nanosleep(&d, NULL);
		put(path("woken"), "");
		_exit(0);
	}
	ssize_t n = read(bfd, buf, sizeof(buf));
	CHECK_EQ("blocking read woken", n, 32);
	CHECK("woken by CREATE woken", ev->mask == IN_CREATE && strcmp(ev->name, "woken") == 0);
	waitpid(pid, NULL, 0);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGUSR1, &sa, NULL);
	pid_t parent = getpid();
	pid = fork();
	if (pid == 0) {
		struct timespec d = {0, 100 * 1000 * 1000};
		nanosleep(&d, NULL);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	CHECK_ERR("blocking read interrupted", read(bfd, buf, sizeof(buf)), EINTR);
	waitpid(pid, NULL, 0);
	close(bfd);

	/* IN_UNMOUNT: a watch inside a filesystem that goes away. */
	CHECK_OK("mkdir mnt", mkdir(path("mnt"), 0755));
	if (mount("none", path("mnt"), "tmpfs", 0, NULL) == 0) {
		int wm = inotify_add_watch(ifd, path("mnt"), IN_ALL_EVENTS);
		CHECK_EQ("watch mount root: wd 9", wm, 9);
		put(path("mnt/q"), "");
		CHECK_OK("umount", umount(path("mnt")));
		/* Linux queues IN_UNMOUNT when the superblock is shut down,
		 * which a loaded host may defer past umount's return: give it
		 * time so that the events land in this group, not the next. */
		usleep(200 * 1000);
		drain("create in mount, umount");
	} else {
		check_fail("mount", "%s", check_errname(errno));
	}
	rmdir(path("mnt"));
	drain("rmdir mnt");

	/* A watch is on the inode: writes through another link reach it;
	 * the directory hears the name used. RENAME_EXCHANGE is two moves.
	 * Extended attributes are IN_ATTRIB, fallocate IN_MODIFY. */
	put(path("hl1"), "");
	CHECK_OK("hard link", link(path("hl1"), path("hl2")));
	CHECK_EQ("watch hl1: wd 10", inotify_add_watch(ifd, path("hl1"), IN_MODIFY | IN_ATTRIB), 10);
	CHECK_EQ("hl2 is the same inode", inotify_add_watch(ifd, path("hl2"), IN_MODIFY | IN_ATTRIB | IN_MASK_ADD), 10);
	CHECK_EQ("dir watch for modify too", inotify_add_watch(ifd, dir, IN_MODIFY | IN_MASK_ADD), 7);
	fd = open(path("hl2"), O_WRONLY);
	CHECK_EQ("write hl2", write(fd, "x", 1), 1);
	CHECK_OK("fallocate", fallocate(fd, 0, 0, 4096));
	CHECK_OK("setxattr", fsetxattr(fd, "user.k", "v", 1, 0));
	close(fd);
	drain("write, fallocate and setxattr through the other link");
	CHECK_OK("mkdir xd", mkdir(path("xd"), 0755));
	CHECK_EQ("watch xd: wd 11", inotify_add_watch(ifd, path("xd"), IN_ALL_EVENTS), 11);
	CHECK_EQ("dir watch for moves", inotify_add_watch(ifd, dir, IN_MOVE | IN_MOVE_SELF | IN_MASK_ADD), 7);
	drain("setup exchange");
	CHECK_OK("exchange", renameat2(AT_FDCWD, path("hl1"), AT_FDCWD, path("xd"), RENAME_EXCHANGE));
	drain("RENAME_EXCHANGE hl1 xd");
	CHECK_OK("rmdir hl1", rmdir(path("hl1")));
	CHECK_OK("unlink hl2", unlink(path("hl2")));
	CHECK_OK("unlink xd", unlink(path("xd")));
	drain("remove hl1 (the directory), hl2 and xd (the file)");

	/* Clean up: the directory watch hears the deletes, then rmdir of the
	 * watched directory itself. */
	unlink(path("f"));
	unlink(path("o"));
	unlink(path("o1"));
	unlink(path("o2"));
	unlink(path("p"));
	unlink(path("woken"));
	drain("cleanup");
	CHECK_OK("rmdir dir", rmdir(dir));
	drain("rmdir the watched directory");
	CHECK_ERR("rm_watch after IN_IGNORED", inotify_rm_watch(ifd, 7), EINVAL);
	close(ifd);
	return check_done();
}
