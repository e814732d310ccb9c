/*
 * dnotify: directory change notification with fcntl(F_NOTIFY), as Linux
 * does it (fcntl(2) "File and directory change notification").
 *
 * F_NOTIFY with no event (DN_MULTISHOT at most, as CPython's test_fcntl
 * does) removes the notification and works on any file; with an event
 * it wants a directory (ENOTDIR). It makes the caller the owner if the
 * file has none. An event in the directory then signals the owner: SIGIO
 * with si_code SI_KERNEL, or the F_SETSIG signal with si_code POLL_MSG,
 * si_fd the directory's fd and si_band POLLIN|POLLRDNORM|POLLMSG. Once,
 * unless DN_MULTISHOT; every event queues its own real-time signal (a
 * rename within the directory is three: DN_RENAME, DN_DELETE and
 * DN_CREATE; a rename out of it is no DN_RENAME). A second F_NOTIFY on
 * the same open file adds to the mask, and its fd becomes si_fd. Closing
 * any fd of the open file in this process removes the notification; a
 * child's close does not. Events in a subdirectory are not reported.
 */
#include "sigio.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#define BAND_MSG (POLLIN | POLLRDNORM | POLLMSG)

static char dir[] = "/tmp/dnotifyXXXXXX";
static int rt2;

/* path gives dir/name (four at a time). */
static const char *path(const char *name)
{
	static char bufs[4][64];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, 64, "%s/%s", dir, name);
	return b;
}

/* touch creates dir/name. */
static void touch(const char *name)
{
	close(open(path(name), O_CREAT | O_WRONLY, 0644));
}

/* watch opens dir, sets its signal to rt2 and asks F_NOTIFY for mask. */
static int watch(unsigned long mask)
{
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	if (fcntl(d, F_SETSIG, rt2) || fcntl(d, F_NOTIFY, mask))
		check_fail("watch", "F_NOTIFY %#lx: %s", mask, check_errname(errno));
	return d;
}

/* expect checks that rt2 comes within 2 s as POLL_MSG for fd. */
static void expect(const char *name, int fd)
{
	sigio_expect(name, rt2, POLL_MSG, fd, BAND_MSG);
}

/* renamed watches dir for mask, renames from to to, and checks that one
 * signal comes (none when want is 0). */
static void renamed(const char *name, unsigned long mask, const char *from, const char *to, int want)
{
	int d = watch(mask);
	rename(path(from), path(to));
	if (want)
		expect(name, d);
	else
		sigio_quiet(name);
	close(d);
}

static void setup_errors(void)
{
	int f = open(path("f"), O_CREAT | O_RDWR, 0644);
	CHECK_EQ("multishot only on a file", fcntl(f, F_NOTIFY, DN_MULTISHOT), 0);
	CHECK_EQ("0 on a file", fcntl(f, F_NOTIFY, 0), 0);
	CHECK_ERR("dn_create on a file", fcntl(f, F_NOTIFY, DN_CREATE), ENOTDIR);
	CHECK_EQ("no owner set", fcntl(f, F_GETOWN), 0);
	close(f);

	int d = open(dir, O_RDONLY | O_DIRECTORY);
	siginfo_t si;
	CHECK_EQ("dn_create on a dir", fcntl(d, F_NOTIFY, DN_CREATE), 0);
	CHECK_EQ("makes the caller owner", fcntl(d, F_GETOWN), getpid());
	touch("a");
	CHECK("a create sends sigio", sigio_wait(SIGIO, &si, 2000) && si.si_code == SI_KERNEL);
	touch("b");
	sigio_quiet("one-shot: not again");
	CHECK_EQ("the owner stays", fcntl(d, F_GETOWN), getpid());
	close(d);

	d = open(dir, O_RDONLY | O_DIRECTORY);
	struct f_owner_ex ex = {F_OWNER_TID, gettid()};
	fcntl(d, F_SETOWN_EX, &ex);
	fcntl(d, F_NOTIFY, DN_CREATE);
	ex.type = -1;
	CHECK("an owner already set is kept",
	      fcntl(d, F_GETOWN_EX, &ex) == 0 && ex.type == F_OWNER_TID && ex.pid == gettid());
	fcntl(d, F_SETSIG, rt2);
	touch("c");
	expect("and gets it", d);
	close(d);
}

static void events(void)
{
	int d = watch(DN_CREATE);
	touch("d");
	expect("create with setsig: poll_msg", d);
	close(d);
	d = watch(DN_CREATE | DN_MULTISHOT);
	touch("e");
	touch("g");
	expect("multishot: first create", d);
	expect("multishot: second create", d);
	sigio_quiet("and no third");
	mkdir(path("sub"), 0755);
	expect("mkdir is a create", d);
	touch("sub/x");
	sigio_quiet("not in a subdirectory");
	close(d);

	int f = open(path("f"), O_RDWR);
	char b[4];
	d = watch(DN_DELETE);
	unlink(path("a"));
	expect("unlink: dn_delete", d);
	close(d);
	d = watch(DN_MODIFY);
	write(f, "abc", 3);
	expect("write: dn_modify", d);
	close(d);
	d = watch(DN_ATTRIB);
	chmod(path("f"), 0600);
	expect("chmod: dn_attrib", d);
	close(d);
	d = watch(DN_ACCESS);
	pread(f, b, 1, 0);
	expect("read: dn_access", d);
	close(d);
	d = watch(DN_ATTRIB);
	chmod(dir, 0700);
	expect("chmod of the dir itself", d);
	close(d);
	d = watch(DN_DELETE);
	touch("h");
	sigio_quiet("create outside the mask: none");
	close(d);
	close(f);

	renamed("rename within: dn_rename", DN_RENAME, "b", "b2", 1);
	renamed("rename within: dn_create", DN_CREATE, "b2", "b", 1);
	renamed("rename within: dn_delete", DN_DELETE, "b", "b2", 1);
	d = watch(DN_RENAME | DN_CREATE | DN_DELETE | DN_MULTISHOT);
	rename(path("b2"), path("b"));
	expect("rename, all three: one", d);
	expect("two", d);
	expect("three", d);
	sigio_quiet("and no fourth");
	close(d);
	renamed("rename out: no dn_rename", DN_RENAME | DN_MULTISHOT, "b", "sub/b", 0);
	renamed("rename out: dn_delete", DN_DELETE, "g", "sub/g", 1);
	renamed("rename in: dn_create", DN_CREATE, "sub/g", "g", 1);
}

/* child_close closes the notified fd in a child and exits. */
static int child_fd;
static void child_close(void)
{
	close(child_fd);
}

static void lifetime(void)
{
	int d = watch(DN_CREATE | DN_MULTISHOT);
	close(d);
	touch("i");
	sigio_quiet("closed: none");

	d = watch(DN_CREATE | DN_MULTISHOT);
	close(dup(d));
	touch("j");
	sigio_quiet("a dup closed: none");
	close(d);

	d = watch(DN_CREATE | DN_MULTISHOT);
	child_fd = d;
	check_in_child("child", NULL, child_close);
	touch("k");
	expect("a child's close keeps it", d);
	close(d);

	d = watch(DN_CREATE | DN_MULTISHOT);
	CHECK_EQ("multishot only again", fcntl(d, F_NOTIFY, DN_MULTISHOT), 0);
	touch("l");
	sigio_quiet("removes it");
	close(d);

	d = watch(DN_CREATE | DN_MULTISHOT);
	fcntl(d, F_SETOWN, 0);
	touch("m");
	sigio_quiet("owner 0: none");
	close(d);

	d = watch(DN_CREATE);
	CHECK_EQ("dn_delete on the same fd", fcntl(d, F_NOTIFY, DN_DELETE), 0);
	touch("n");
	expect("adds: create still fires", d);
	unlink(path("n"));
	sigio_quiet("still one-shot");
	close(d);
	d = watch(DN_CREATE | DN_MULTISHOT);
	fcntl(d, F_NOTIFY, DN_DELETE);
	touch("n");
	expect("added to multishot: create", d);
	unlink(path("n"));
	expect("and delete", d);
	close(d);

	d = watch(DN_CREATE);
	int d2 = dup(d);
	fcntl(d2, F_NOTIFY, DN_DELETE);
	touch("o");
	expect("f_notify on a dup: its fd", d2);
	close(d2);
	close(d);

	siginfo_t s1, s2;
	d = watch(DN_CREATE);
	d2 = watch(DN_CREATE);
	touch("p");
	CHECK("two fds: one signal each", sigio_wait(rt2, &s1, 2000) && sigio_wait(rt2, &s2, 2000) &&
						  s1.si_fd + s2.si_fd == d + d2 && s1.si_fd != s2.si_fd);
	close(d);
	close(d2);
}

/* cleanup removes everything made in dir. */
static void cleanup(void)
{
	const char *files[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l",
			       "m", "n", "o", "p", "sub/x", "sub/b"};
	for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(path(files[i]));
	rmdir(path("sub"));
	rmdir(dir);
}

int main(void)
{
	rt2 = SIGRTMIN + 2;
	sigio_block(rt2);
	REQUIRE("mkdtemp", mkdtemp(dir) != NULL);

	setup_errors();
	events();
	lifetime();
	cleanup();
	return check_done();
}
