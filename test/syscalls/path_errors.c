/*
 * path_errors: which error Linux reports when a path call has several
 * reasons to fail, in a directory under /tmp (fsfuzz found each of these
 * answered otherwise in the sandbox): linkat reports the new name's
 * problems (its parent missing, EEXIST, "." as a name) before EPERM for a
 * directory, and the old path's walk before an empty new path; renameat2
 * with RENAME_NOREPLACE refuses the file itself and "." with EEXIST, and
 * moving a directory below itself is EINVAL before any type mismatch;
 * open(O_CREAT) refuses O_DIRECTORY before it reads the path, says EEXIST
 * for "." with O_EXCL and ENOTDIR for "file/.."; pread and pwrite check a
 * negative offset first; a null read of a directory is EISDIR; a removed
 * directory lists nothing (ENOENT).
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	char top[64];
	snprintf(top, sizeof(top), "/tmp/path_errors.%d", getpid());
	REQUIRE("mkdir", mkdir(top, 0755) == 0);
	int d = open(top, O_RDONLY | O_DIRECTORY);
	REQUIRE("open dir", d >= 0);
	REQUIRE("mkdir sub", mkdirat(d, "sub", 0755) == 0);
	REQUIRE("mkdir sub/in", mkdirat(d, "sub/in", 0755) == 0);
	int f = openat(d, "file", O_RDWR | O_CREAT, 0644);
	REQUIRE("create file", f >= 0);
	REQUIRE("symlink loop", symlinkat("loop", d, "loop") == 0);

	/* linkat: the new name first, EPERM for a directory last. */
	CHECK_ERR("link dir over existing", linkat(d, "sub", d, "file", 0), EEXIST);
	CHECK_ERR("link dir to dot", linkat(d, "sub", d, ".", 0), EEXIST);
	CHECK_ERR("link dot to dot", linkat(d, ".", d, ".", 0), EEXIST);
	CHECK_ERR("link dir into missing dir", linkat(d, "sub", d, "none/x", 0), ENOENT);
	CHECK_ERR("link dir to new name", linkat(d, "sub", d, "new", 0), EPERM);
	CHECK_ERR("link bad old, empty new", linkat(d, "loop/x", d, "", 0), ELOOP);
	CHECK_ERR("link missing old, empty new", linkat(d, "none", d, "", 0), ENOENT);

	/* renameat2. */
	CHECK_ERR("noreplace onto itself", syscall(SYS_renameat2, d, "file", d, "file", RENAME_NOREPLACE), EEXIST);
	CHECK("rename onto itself", renameat(d, "file", d, "file") == 0);
	CHECK_ERR("noreplace onto dot", syscall(SYS_renameat2, d, "file", d, ".", RENAME_NOREPLACE), EEXIST);
	CHECK_ERR("rename onto dot", renameat(d, "file", d, "."), EBUSY);
	REQUIRE("file in sub/in", close(openat(d, "sub/in/f", O_RDWR | O_CREAT, 0644)) == 0);
	CHECK_ERR("dir below itself over a file", renameat(d, "sub", d, "sub/in/f"), EINVAL);
	CHECK_ERR("dir below itself", renameat(d, "sub", d, "sub/in/new"), EINVAL);
	CHECK_ERR("file over its ancestor", renameat(d, "sub/in/f", d, "sub"), ENOTEMPTY);
	CHECK_ERR("rename bad old, empty new", renameat(d, "loop/x", d, ""), ELOOP);

	/* open with O_CREAT. */
	CHECK_ERR("creat directory, empty path", openat(d, "", O_RDWR | O_CREAT | O_DIRECTORY, 0644), EINVAL);
	CHECK_ERR("creat excl dot", openat(d, ".", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	CHECK_ERR("creat dot", openat(d, ".", O_WRONLY | O_CREAT, 0644), EISDIR);
	CHECK_ERR("creat file/..", openat(d, "file/..", O_RDWR | O_CREAT | O_TRUNC, 0644), ENOTDIR);
	CHECK_ERR("creat file/x", openat(d, "file/x", O_RDWR | O_CREAT, 0644), ENOTDIR);

	/* pread, pwrite and read. */
	int ro = openat(d, "file", O_RDONLY);
	REQUIRE("open read-only", ro >= 0);
	char b[8];
	CHECK_ERR("pwrite read-only at -1", pwrite(ro, b, 1, -1), EINVAL);
	CHECK_ERR("pwrite read-only", pwrite(ro, b, 1, 0), EBADF);
	CHECK_ERR("pread bad fd at -1", pread(-1, b, 1, -1), EINVAL);
	int p[2];
	REQUIRE("pipe", pipe(p) == 0);
	CHECK_ERR("pread write end of a pipe", pread(p[1], b, 1, 0), ESPIPE);
	CHECK_ERR("null read of a directory", read(d, b, 0), EISDIR);
	CHECK_ERR("read of a directory", read(d, b, sizeof(b)), EISDIR);

	/* A removed directory lists nothing. */
	REQUIRE("mkdir gone", mkdirat(d, "gone", 0755) == 0);
	int g = openat(d, "gone", O_RDONLY | O_DIRECTORY);
	REQUIRE("open gone", g >= 0);
	char dents[512];
	CHECK("list empty dir", syscall(SYS_getdents64, g, dents, sizeof(dents)) > 0);
	REQUIRE("rmdir gone", unlinkat(d, "gone", AT_REMOVEDIR) == 0);
	lseek(g, 0, SEEK_SET);
	CHECK_ERR("list removed dir", syscall(SYS_getdents64, g, dents, sizeof(dents)), ENOENT);

	unlinkat(d, "sub/in/f", 0);
	unlinkat(d, "sub/in", AT_REMOVEDIR);
	unlinkat(d, "sub", AT_REMOVEDIR);
	unlinkat(d, "file", 0);
	unlinkat(d, "loop", 0);
	rmdir(top);
	return check_done();
}
