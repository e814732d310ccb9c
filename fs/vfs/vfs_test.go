package vfs_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type testCtx struct{ creds *auth.Credentials }

func (c testCtx) Credentials() *auth.Credentials      { return c.creds }
func (c testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

var rootCtx = testCtx{auth.NewRootCredentials()}

type env struct {
	t    *testing.T
	vfs  *vfs.VirtualFilesystem
	root vfs.VirtualDentry
	mf   *fsutil.FakeMemoryFile
}

func newEnv(t *testing.T) *env {
	t.Helper()
	v := vfs.New()
	mf := fsutil.NewFakeMemoryFile()
	root, err := v.NewRootMount(tmpfs.New(mf, tmpfs.Options{RootMode: 0o755, DevMinor: v.NewAnonDevMinor()}), vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.DecRef)
	return &env{t: t, vfs: v, root: root, mf: mf}
}

func (e *env) pop(path string, follow bool) *vfs.PathOperation {
	return &vfs.PathOperation{Root: e.root, Start: e.root, Path: path, Follow: follow}
}

func (e *env) mkdir(ctx vfs.Context, path string, mode uint32) {
	e.t.Helper()
	if err := e.vfs.MkdirAt(ctx, e.pop(path, false), mode); err != nil {
		e.t.Fatalf("mkdir %q: %v", path, err)
	}
}

func (e *env) symlink(target, path string) {
	e.t.Helper()
	if err := e.vfs.SymlinkAt(rootCtx, e.pop(path, false), target); err != nil {
		e.t.Fatalf("symlink %q: %v", path, err)
	}
}

func (e *env) create(ctx vfs.Context, path string, data string) {
	e.t.Helper()
	fd, err := e.vfs.OpenAt(ctx, e.pop(path, true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC, Mode: 0o644})
	if err != nil {
		e.t.Fatalf("create %q: %v", path, err)
	}
	defer fd.DecRef(ctx)
	if n, err := fd.Write(ctx, []byte(data)); err != nil || n != len(data) {
		e.t.Fatalf("write %q: %d, %v", path, n, err)
	}
}

func (e *env) read(ctx vfs.Context, path string) (string, error) {
	fd, err := e.vfs.OpenAt(ctx, e.pop(path, true), &vfs.OpenOptions{Flags: unix.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer fd.DecRef(ctx)
	buf := make([]byte, 1<<16)
	n, err := fd.Read(ctx, buf)
	return string(buf[:n]), err
}

func (e *env) statErr(path string, follow bool) error {
	_, _, err := e.vfs.StatAt(rootCtx, e.pop(path, follow))
	return err
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) && got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestWalkBasics(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/a", 0o755)
	e.mkdir(rootCtx, "/a/b", 0o755)
	e.create(rootCtx, "/a/b/f", "hello")
	for _, p := range []string{"/a/b/f", "a/b/f", "//a///b//f", "/a/./b/../b/f", "/../../a/b/f", "/a/b/../../a/b/f"} {
		if got, err := e.read(rootCtx, p); err != nil || got != "hello" {
			t.Errorf("read %q = %q, %v", p, got, err)
		}
	}
	wantErr(t, "missing", e.statErr("/a/x", true), unix.ENOENT)
	wantErr(t, "file as dir", e.statErr("/a/b/f/x", true), unix.ENOTDIR)
	wantErr(t, "trailing slash on file", e.statErr("/a/b/f/", true), unix.ENOTDIR)
	wantErr(t, "trailing dot on file", e.statErr("/a/b/f/.", true), unix.ENOTDIR)
	wantErr(t, "trailing slash on dir", e.statErr("/a/b/", true), nil)
	wantErr(t, "empty", e.statErr("", true), unix.ENOENT)
	wantErr(t, "long name", e.statErr("/"+strings.Repeat("x", 256), true), unix.ENAMETOOLONG)
	wantErr(t, "255 ok", e.statErr("/"+strings.Repeat("x", 255), true), unix.ENOENT)
	wantErr(t, "long middle", e.statErr("/"+strings.Repeat("x", 256)+"/y", true), unix.ENAMETOOLONG)
}

func TestSymlinks(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/d", 0o755)
	e.create(rootCtx, "/d/f", "data")
	e.symlink("/d/f", "/abs")
	e.symlink("d/f", "/rel")
	e.symlink("../d", "/d/up")
	e.symlink("loop2", "/loop1")
	e.symlink("loop1", "/loop2")
	e.symlink("/nonexistent", "/dangling")
	e.symlink("f", "/d/lf")
	for _, p := range []string{"/abs", "/rel", "/d/up/f", "/d/up/up/up/lf"} {
		if got, err := e.read(rootCtx, p); err != nil || got != "data" {
			t.Errorf("read %q = %q, %v", p, got, err)
		}
	}
	wantErr(t, "loop", e.statErr("/loop1", true), unix.ELOOP)
	wantErr(t, "loop nofollow", e.statErr("/loop1", false), nil)
	wantErr(t, "dangling", e.statErr("/dangling", true), unix.ENOENT)
	wantErr(t, "symlink to file with slash", e.statErr("/abs/", false), unix.ENOTDIR)
	wantErr(t, "symlink to dir with slash nofollow", e.statErr("/d/up/", false), nil)
	st, _, err := e.vfs.StatAt(rootCtx, e.pop("/d/up/", false))
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("trailing slash must follow: %v %o", err, st.Mode)
	}
	st, _, _ = e.vfs.StatAt(rootCtx, e.pop("/abs", false))
	if st.Mode&unix.S_IFMT != unix.S_IFLNK || st.Size != 4 {
		t.Errorf("lstat symlink: mode %o size %d", st.Mode, st.Size)
	}
	// O_NOFOLLOW on a symlink is ELOOP; O_PATH|O_NOFOLLOW opens it.
	_, err = e.vfs.OpenAt(rootCtx, e.pop("/abs", false), &vfs.OpenOptions{Flags: unix.O_RDONLY | unix.O_NOFOLLOW})
	wantErr(t, "O_NOFOLLOW", err, unix.ELOOP)
	fd, err := e.vfs.OpenAt(rootCtx, e.pop("/abs", false), &vfs.OpenOptions{Flags: unix.O_PATH | unix.O_NOFOLLOW})
	if err != nil {
		t.Fatalf("O_PATH|O_NOFOLLOW: %v", err)
	}
	if target, err := vfs.Readlink(rootCtx, fd.VirtualDentry()); err != nil || target != "/d/f" {
		t.Errorf("readlink via O_PATH = %q, %v", target, err)
	}
	if _, err := fd.Read(rootCtx, make([]byte, 1)); err != unix.EBADF {
		t.Errorf("read O_PATH: %v", err)
	}
	fd.DecRef(rootCtx)
	// 40 links are fine, 41 are not.
	prev := "/d/f"
	for i := 0; i < 41; i++ {
		name := "/c" + string(rune('A'+i))
		e.symlink(prev, name)
		prev = name
		err := e.statErr(name, true)
		if i < 40 && err != nil {
			t.Fatalf("chain of %d: %v", i+1, err)
		}
		if i == 40 {
			wantErr(t, "chain of 41", err, unix.ELOOP)
		}
	}
	// Creating through a dangling symlink creates the target.
	e.symlink("/d/new", "/tonew")
	e.create(rootCtx, "/tonew", "x")
	if got, _ := e.read(rootCtx, "/d/new"); got != "x" {
		t.Errorf("create through symlink: %q", got)
	}
	_, err = e.vfs.OpenAt(rootCtx, e.pop("/abs", true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_EXCL | unix.O_WRONLY})
	wantErr(t, "O_EXCL on symlink", err, unix.EEXIST)
	// Readlink of a non-symlink.
	_, err = e.vfs.ReadlinkAt(rootCtx, e.pop("/d", false))
	wantErr(t, "readlink dir", err, unix.EINVAL)
}

func TestMountsAndDotDot(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/mnt", 0o755)
	e.mkdir(rootCtx, "/mnt/hidden", 0o755)
	e.mkdir(rootCtx, "/chroot", 0o755)
	e.create(rootCtx, "/top", "top")
	fs2 := tmpfs.New(e.mf, tmpfs.Options{RootMode: 0o1777, DevMinor: e.vfs.NewAnonDevMinor()})
	if err := e.vfs.MountAt(rootCtx, e.root, "/mnt", fs2, vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "covered", e.statErr("/mnt/hidden", true), unix.ENOENT)
	e.create(rootCtx, "/mnt/inner", "in")
	if got, err := e.read(rootCtx, "/mnt/../top"); err != nil || got != "top" {
		t.Errorf("dotdot across mount: %q %v", got, err)
	}
	st, _, _ := e.vfs.StatAt(rootCtx, e.pop("/mnt", true))
	if st.Mode&0o7777 != 0o1777 {
		t.Errorf("mount root mode %o", st.Mode)
	}
	// A symlink into the mount.
	e.symlink("/mnt/inner", "/lnk")
	if got, _ := e.read(rootCtx, "/lnk"); got != "in" {
		t.Errorf("symlink into mount: %q", got)
	}
	// Hard links and renames across mounts are EXDEV.
	wantErr(t, "link xdev", e.vfs.LinkAt(rootCtx, e.pop("/top", false), e.pop("/mnt/top", false)), unix.EXDEV)
	wantErr(t, "rename xdev", e.vfs.RenameAt(rootCtx, e.pop("/top", false), e.pop("/mnt/top", false), 0), unix.EXDEV)
	wantErr(t, "rmdir mountpoint", e.vfs.RmdirAt(rootCtx, e.pop("/mnt", false)), unix.EBUSY)
	// ".." never goes above a chroot, and absolute symlinks start there.
	croot, err := e.vfs.GetDentryAt(rootCtx, e.pop("/chroot", true))
	if err != nil {
		t.Fatal(err)
	}
	defer croot.DecRef()
	e.create(rootCtx, "/chroot/f", "jail")
	e.symlink("/f", "/chroot/abs")
	cpop := func(p string) *vfs.PathOperation {
		return &vfs.PathOperation{Root: croot, Start: croot, Path: p, Follow: true}
	}
	for _, p := range []string{"/../../f", "../f", "/abs", "../../abs"} {
		vd, err := e.vfs.GetDentryAt(rootCtx, cpop(p))
		if err != nil {
			t.Errorf("chroot walk %q: %v", p, err)
			continue
		}
		if name := e.vfs.PathnameWithin(croot, vd); name != "/f" {
			t.Errorf("chroot walk %q reached %q", p, name)
		}
		vd.DecRef()
	}
	if name := e.vfs.PathnameWithin(e.root, croot); name != "/chroot" {
		t.Errorf("PathnameWithin = %q", name)
	}
	// Umount uncovers the directory.
	mvd, _ := e.vfs.GetDentryAt(rootCtx, e.pop("/mnt", true))
	if err := e.vfs.Umount(mvd); err != nil {
		t.Fatal(err)
	}
	mvd.DecRef()
	wantErr(t, "uncovered", e.statErr("/mnt/hidden", true), nil)
}

func TestReadOnlyMount(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/ro", 0o755)
	ro := tmpfs.New(e.mf, tmpfs.Options{RootMode: 0o555, DevMinor: 99})
	if err := e.vfs.MountAt(rootCtx, e.root, "/ro", ro, vfs.MountOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "mkdir", e.vfs.MkdirAt(rootCtx, e.pop("/ro/x", false), 0o755), unix.EROFS)
	wantErr(t, "mkdir existing", e.vfs.MkdirAt(rootCtx, e.pop("/ro", false), 0o755), unix.EEXIST)
	_, err := e.vfs.OpenAt(rootCtx, e.pop("/ro/x", true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_WRONLY})
	wantErr(t, "creat", err, unix.EROFS)
	wantErr(t, "access W", e.vfs.AccessAt(rootCtx, e.pop("/ro", true), vfs.MayWrite, false), unix.EROFS)
	st, err := e.vfs.StatFSAt(rootCtx, e.pop("/ro", true))
	if err != nil || st.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("statfs: %v flags %x", err, st.Flags)
	}
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	user := testCtx{auth.NewUserCredentials(1000, 1000, []auth.KGID{50})}
	other := testCtx{auth.NewUserCredentials(2000, 2000, nil)}
	e.mkdir(rootCtx, "/home", 0o755)
	e.mkdir(rootCtx, "/home/u", 0o700)
	chown := func(p string, uid, gid uint32) {
		if err := e.vfs.SetStatAt(rootCtx, e.pop(p, false), &vfs.SetStatOptions{Mask: unix.STATX_UID | unix.STATX_GID, UID: auth.KUID(uid), GID: auth.KGID(gid)}); err != nil {
			t.Fatal(err)
		}
	}
	chmod := func(ctx vfs.Context, p string, mode uint32) error {
		return e.vfs.SetStatAt(ctx, e.pop(p, false), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: mode})
	}
	chown("/home/u", 1000, 1000)
	e.create(user, "/home/u/f", "secret")
	wantErr(t, "search denied", e.statErr("/home/u/f", true), nil) // root
	_, err := e.read(other, "/home/u/f")
	wantErr(t, "other search", err, unix.EACCES)
	if got, err := e.read(user, "/home/u/f"); err != nil || got != "secret" {
		t.Errorf("owner read %q %v", got, err)
	}
	// Group bits via a supplementary group.
	e.mkdir(rootCtx, "/g", 0o770)
	chown("/g", 0, 50)
	e.create(user, "/g/f", "grp")
	wantErr(t, "other in /g", e.vfs.MkdirAt(other, e.pop("/g/x", false), 0o755), unix.EACCES)
	// Owner bits take precedence over group bits.
	e.create(rootCtx, "/ownerdeny", "x")
	chown("/ownerdeny", 1000, 50)
	if err := chmod(rootCtx, "/ownerdeny", 0o070); err != nil {
		t.Fatal(err)
	}
	_, err = e.read(user, "/ownerdeny")
	wantErr(t, "owner bits deny", err, unix.EACCES)
	// chmod by a non-owner.
	wantErr(t, "chmod non-owner", chmod(other, "/ownerdeny", 0o777), unix.EPERM)
	wantErr(t, "chown non-root", e.vfs.SetStatAt(user, e.pop("/ownerdeny", false), &vfs.SetStatOptions{Mask: unix.STATX_UID, UID: 2000}), unix.EPERM)
	// Root may read anything but exec only with some x bit.
	e.create(rootCtx, "/noexec", "x")
	if err := chmod(rootCtx, "/noexec", 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "root exec no x", e.vfs.AccessAt(rootCtx, e.pop("/noexec", true), vfs.MayExec, false), unix.EACCES)
	fsc := vfs.NewFSContext(e.root, e.root, 0o22)
	defer fsc.Release()
	_, err = e.vfs.OpenExecutable(rootCtx, fsc, "/noexec")
	wantErr(t, "OpenExecutable no x", err, unix.EACCES)
	_, err = e.vfs.OpenExecutable(rootCtx, fsc, "/home")
	wantErr(t, "OpenExecutable dir", err, unix.EACCES)
	if err := chmod(rootCtx, "/noexec", 0o744); err != nil {
		t.Fatal(err)
	}
	fd, err := e.vfs.OpenExecutable(rootCtx, fsc, "noexec")
	if err != nil {
		t.Fatalf("OpenExecutable: %v", err)
	}
	buf := make([]byte, 10)
	if n, err := fd.ReadAt(rootCtx, buf, 0); n != 1 || err != nil {
		t.Errorf("ReadAt = %d, %v", n, err)
	}
	fd.DecRef(rootCtx)
	_, err = e.vfs.OpenExecutable(other, fsc, "/noexec")
	wantErr(t, "OpenExecutable other", err, unix.EACCES)
	// Sticky /tmp: others may not remove a user's file.
	e.mkdir(rootCtx, "/tmp", 0o777)
	if err := chmod(rootCtx, "/tmp", 0o1777); err != nil {
		t.Fatal(err)
	}
	e.create(user, "/tmp/uf", "u")
	wantErr(t, "sticky unlink", e.vfs.UnlinkAt(other, e.pop("/tmp/uf", false)), unix.EPERM)
	wantErr(t, "sticky rename", e.vfs.RenameAt(other, e.pop("/tmp/uf", false), e.pop("/tmp/of", false), 0), unix.EPERM)
	wantErr(t, "owner unlink", e.vfs.UnlinkAt(user, e.pop("/tmp/uf", false)), nil)
	// Files created in a setgid directory take its group.
	e.mkdir(rootCtx, "/sg", 0o777)
	chown("/sg", 0, 77)
	if err := chmod(rootCtx, "/sg", 0o2777); err != nil {
		t.Fatal(err)
	}
	e.create(user, "/sg/f", "")
	e.mkdir(user, "/sg/d", 0o755)
	st, _, _ := e.vfs.StatAt(rootCtx, e.pop("/sg/f", false))
	if st.GID != 77 || st.UID != 1000 {
		t.Errorf("setgid dir file: uid %d gid %d", st.UID, st.GID)
	}
	st, _, _ = e.vfs.StatAt(rootCtx, e.pop("/sg/d", false))
	if st.GID != 77 || st.Mode&unix.S_ISGID == 0 {
		t.Errorf("setgid dir subdir: gid %d mode %o", st.GID, st.Mode)
	}
	// access(2) uses the real ids.
	c := auth.NewUserCredentials(1000, 1000, nil)
	c.EffectiveKUID, c.FilesystemKUID = 0, 0
	c.EffectiveCaps = auth.AllCapabilities
	wantErr(t, "access real uid", e.vfs.AccessAt(testCtx{c}, e.pop("/home/u/f", true), vfs.MayRead, false), nil)
	wantErr(t, "access other", e.vfs.AccessAt(other, e.pop("/home/u/f", true), 0, false), unix.EACCES)
	wantErr(t, "access eaccess", e.vfs.AccessAt(testCtx{c}, e.pop("/ownerdeny", true), vfs.MayRead, true), nil)
}

func TestCreateRemoveRename(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/d", 0o755)
	wantErr(t, "mkdir exists", e.vfs.MkdirAt(rootCtx, e.pop("/d", false), 0o755), unix.EEXIST)
	wantErr(t, "mkdir /", e.vfs.MkdirAt(rootCtx, e.pop("/", false), 0o755), unix.EEXIST)
	wantErr(t, "mkdir trailing", e.vfs.MkdirAt(rootCtx, e.pop("/d/e/", false), 0o755), nil)
	wantErr(t, "mkdir noent parent", e.vfs.MkdirAt(rootCtx, e.pop("/x/y", false), 0o755), unix.ENOENT)
	e.create(rootCtx, "/d/f", "abc")
	wantErr(t, "rmdir nonempty", e.vfs.RmdirAt(rootCtx, e.pop("/d", false)), unix.ENOTEMPTY)
	wantErr(t, "rmdir file", e.vfs.RmdirAt(rootCtx, e.pop("/d/f", false)), unix.ENOTDIR)
	wantErr(t, "unlink dir", e.vfs.UnlinkAt(rootCtx, e.pop("/d/e", false)), unix.EISDIR)
	wantErr(t, "unlink file/", e.vfs.UnlinkAt(rootCtx, e.pop("/d/f/", false)), unix.ENOTDIR)
	wantErr(t, "rmdir .", e.vfs.RmdirAt(rootCtx, e.pop("/d/e/.", false)), unix.EINVAL)
	wantErr(t, "rmdir ..", e.vfs.RmdirAt(rootCtx, e.pop("/d/e/..", false)), unix.ENOTEMPTY)
	wantErr(t, "rmdir /", e.vfs.RmdirAt(rootCtx, e.pop("/", false)), unix.EBUSY)
	_, err := e.vfs.OpenAt(rootCtx, e.pop("/d/new/", true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_WRONLY})
	wantErr(t, "creat trailing slash", err, unix.EISDIR)
	_, err = e.vfs.OpenAt(rootCtx, e.pop("/d", true), &vfs.OpenOptions{Flags: unix.O_WRONLY})
	wantErr(t, "open dir for write", err, unix.EISDIR)
	_, err = e.vfs.OpenAt(rootCtx, e.pop("/d/f", true), &vfs.OpenOptions{Flags: unix.O_DIRECTORY})
	wantErr(t, "O_DIRECTORY on file", err, unix.ENOTDIR)

	// Hard links share data; unlink keeps open descriptors valid.
	if err := e.vfs.LinkAt(rootCtx, e.pop("/d/f", false), e.pop("/d/g", false)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "link exists", e.vfs.LinkAt(rootCtx, e.pop("/d/f", false), e.pop("/d/g", false)), unix.EEXIST)
	wantErr(t, "link dir", e.vfs.LinkAt(rootCtx, e.pop("/d/e", false), e.pop("/d/h", false)), unix.EPERM)
	st, _, _ := e.vfs.StatAt(rootCtx, e.pop("/d/g", false))
	if st.Nlink != 2 {
		t.Errorf("nlink %d", st.Nlink)
	}
	fd, err := e.vfs.OpenAt(rootCtx, e.pop("/d/f", true), &vfs.OpenOptions{Flags: unix.O_RDWR})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.UnlinkAt(rootCtx, e.pop("/d/f", false)); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.UnlinkAt(rootCtx, e.pop("/d/g", false)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "unlinked gone", e.statErr("/d/f", false), unix.ENOENT)
	if _, err := fd.PWrite(rootCtx, []byte("XYZW"), 1); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, _ := fd.PRead(rootCtx, buf, 0)
	if string(buf[:n]) != "aXYZW" {
		t.Errorf("unlinked data %q", buf[:n])
	}
	st, _ = fd.Stat(rootCtx)
	if st.Nlink != 0 {
		t.Errorf("unlinked nlink %d", st.Nlink)
	}
	before := e.mf.Allocated()
	fd.DecRef(rootCtx)
	if e.mf.Allocated() >= before {
		t.Errorf("data of unlinked file not freed on close: %d -> %d pages", before, e.mf.Allocated())
	}

	// Renames.
	e.create(rootCtx, "/d/a", "A")
	e.create(rootCtx, "/d/b", "B")
	if err := e.vfs.RenameAt(rootCtx, e.pop("/d/a", false), e.pop("/d/b", false), unix.RENAME_NOREPLACE); err != unix.EEXIST {
		t.Errorf("NOREPLACE: %v", err)
	}
	if err := e.vfs.RenameAt(rootCtx, e.pop("/d/a", false), e.pop("/d/b", false), 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.read(rootCtx, "/d/b"); got != "A" {
		t.Errorf("rename over: %q", got)
	}
	wantErr(t, "old gone", e.statErr("/d/a", false), unix.ENOENT)
	e.mkdir(rootCtx, "/d/e/sub", 0o755)
	wantErr(t, "dir into itself", e.vfs.RenameAt(rootCtx, e.pop("/d/e", false), e.pop("/d/e/sub/x", false), 0), unix.EINVAL)
	wantErr(t, "dir over file", e.vfs.RenameAt(rootCtx, e.pop("/d/e", false), e.pop("/d/b", false), 0), unix.ENOTDIR)
	wantErr(t, "file over dir", e.vfs.RenameAt(rootCtx, e.pop("/d/b", false), e.pop("/d/e", false), 0), unix.EISDIR)
	wantErr(t, "rename dot", e.vfs.RenameAt(rootCtx, e.pop("/d/.", false), e.pop("/x", false), 0), unix.EBUSY)
	wantErr(t, "rename over nonempty", e.vfs.RenameAt(rootCtx, e.pop("/d/e/sub", false), e.pop("/d/e", false), 0), unix.ENOTEMPTY)
	e.mkdir(rootCtx, "/z", 0o755)
	// cwd inside a moved directory follows it.
	cwd, _ := e.vfs.GetDentryAt(rootCtx, e.pop("/d/e/sub", true))
	defer cwd.DecRef()
	if err := e.vfs.RenameAt(rootCtx, e.pop("/d/e", false), e.pop("/z/moved", false), 0); err != nil {
		t.Fatal(err)
	}
	if name := e.vfs.PathnameWithin(e.root, cwd); name != "/z/moved/sub" {
		t.Errorf("after rename cwd is %q", name)
	}
	vd, err := e.vfs.GetDentryAt(rootCtx, &vfs.PathOperation{Root: e.root, Start: cwd, Path: "../..", Follow: true})
	if err != nil || e.vfs.PathnameWithin(e.root, vd) != "/z" {
		t.Errorf("dotdot after rename: %v", err)
	}
	vd.DecRef()
	st, _, _ = e.vfs.StatAt(rootCtx, e.pop("/z", false))
	if st.Nlink != 3 {
		t.Errorf("/z nlink after dir moved in = %d", st.Nlink)
	}
	// rmdir of the cwd: getcwd then reports it deleted.
	if err := e.vfs.RmdirAt(rootCtx, e.pop("/z/moved/sub", false)); err != nil {
		t.Fatal(err)
	}
	if !cwd.Dentry().IsDeleted() {
		t.Error("removed cwd not deleted")
	}
	_, err = e.vfs.OpenAt(rootCtx, &vfs.PathOperation{Root: e.root, Start: cwd, Path: "x", Follow: true}, &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_WRONLY})
	wantErr(t, "create in removed dir", err, unix.ENOENT)
}

func TestGetdents(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/d", 0o755)
	want := map[string]bool{".": true, "..": true}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		e.create(rootCtx, "/d/"+n, "")
		want[n] = true
	}
	fd, err := e.vfs.OpenAt(rootCtx, e.pop("/d", true), &vfs.OpenOptions{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(rootCtx)
	got := map[string]bool{}
	// Accept two entries per call to exercise resumption.
	for {
		k := 0
		err := fd.Getdents(rootCtx, func(d *vfs.Dirent) bool {
			if k == 2 {
				return false
			}
			k++
			if got[d.Name] {
				t.Errorf("duplicate %q", d.Name)
			}
			got[d.Name] = true
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	if len(got) != len(want) {
		t.Errorf("getdents got %v", got)
	}
	if _, err := fd.Seek(rootCtx, 0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	n := 0
	fd.Getdents(rootCtx, func(*vfs.Dirent) bool { n++; return true })
	if n != 7 {
		t.Errorf("after rewind: %d entries", n)
	}
	if _, err := fd.Read(rootCtx, make([]byte, 4)); err != unix.EISDIR {
		t.Errorf("read dir: %v", err)
	}
}

func TestFileOffsetsAndTruncate(t *testing.T) {
	e := newEnv(t)
	fd, err := e.vfs.OpenAt(rootCtx, e.pop("/f", true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(rootCtx)
	fd.Write(rootCtx, []byte("hello"))
	if off, _ := fd.Seek(rootCtx, 0, unix.SEEK_CUR); off != 5 {
		t.Errorf("offset %d", off)
	}
	// Sparse write far away.
	if _, err := fd.PWrite(rootCtx, []byte("Z"), 3*4096+10); err != nil {
		t.Fatal(err)
	}
	st, _ := fd.Stat(rootCtx)
	if st.Size != 3*4096+11 || st.Blocks != 2*8 {
		t.Errorf("sparse size %d blocks %d", st.Size, st.Blocks)
	}
	buf := make([]byte, 4)
	fd.PRead(rootCtx, buf, 4096)
	if string(buf) != "\x00\x00\x00\x00" {
		t.Errorf("hole reads %q", buf)
	}
	if off, err := fd.Seek(rootCtx, -1, unix.SEEK_END); err != nil || off != 3*4096+10 {
		t.Errorf("SEEK_END: %d %v", off, err)
	}
	if _, err := fd.Seek(rootCtx, -100, unix.SEEK_SET); err != unix.EINVAL {
		t.Errorf("negative seek: %v", err)
	}
	// Truncate down then up: the tail reads as zeros.
	vd := fd.VirtualDentry()
	for _, size := range []uint64{3, 10} {
		if err := e.vfs.SetStat(rootCtx, vd, &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: size}, true); err != nil {
			t.Fatal(err)
		}
	}
	buf = make([]byte, 20)
	n, _ := fd.PRead(rootCtx, buf, 0)
	if string(buf[:n]) != "hel\x00\x00\x00\x00\x00\x00\x00" {
		t.Errorf("after truncate %q", buf[:n])
	}
	// O_APPEND writes at the end and moves the offset there.
	fd.SetStatusFlags(unix.O_APPEND)
	fd.Seek(rootCtx, 0, unix.SEEK_SET)
	fd.Write(rootCtx, []byte("++"))
	if off, _ := fd.Seek(rootCtx, 0, unix.SEEK_CUR); off != 12 {
		t.Errorf("append offset %d", off)
	}
	// O_TRUNC on open.
	fd2, err := e.vfs.OpenAt(rootCtx, e.pop("/f", true), &vfs.OpenOptions{Flags: unix.O_WRONLY | unix.O_TRUNC})
	if err != nil {
		t.Fatal(err)
	}
	fd2.DecRef(rootCtx)
	if st, _ := fd.Stat(rootCtx); st.Size != 0 {
		t.Errorf("O_TRUNC size %d", st.Size)
	}
	if _, err := fd2.Read(rootCtx, buf); err != unix.EBADF {
		t.Errorf("read on O_WRONLY: %v", err)
	}
	// Mappable data is coherent with writes.
	fd.Write(rootCtx, []byte("mapped"))
	m := fd.Mappable()
	fr, err := m.Translate(0, 4096, usermemRead)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.mf.Slice(fr)[:6]); got != "mapped" {
		t.Errorf("translate sees %q", got)
	}
	e.mf.DecRef(fr)
	if _, err := m.Translate(4096, 4096, usermemRead); err == nil {
		t.Error("translate beyond EOF succeeded")
	}
}

func TestOpenCreateOnDir(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/d", 0o755)
	_, err := e.vfs.OpenAt(rootCtx, e.pop("/d", true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDONLY})
	wantErr(t, "O_CREAT on dir", err, unix.EISDIR)
	_, err = e.vfs.OpenAt(rootCtx, e.pop("/d", true), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_DIRECTORY})
	wantErr(t, "O_CREAT|O_DIRECTORY", err, unix.EINVAL)
	// tmpfs supports O_TMPFILE: an unnamed file below the directory.
	f, err := e.vfs.OpenAt(rootCtx, e.pop("/d", true), &vfs.OpenOptions{Flags: unix.O_TMPFILE | unix.O_RDWR, Mode: 0o600})
	if err != nil {
		t.Fatalf("O_TMPFILE: %v", err)
	}
	if st, err := f.Stat(rootCtx); err != nil || st.Nlink != 0 || st.Mode != unix.S_IFREG|0o600 {
		t.Errorf("O_TMPFILE file: %+v, %v", st, err)
	}
	if !f.VirtualDentry().Dentry().IsDeleted() {
		t.Error("O_TMPFILE file has a name")
	}
	f.DecRef(rootCtx)
	if x, err := e.vfs.OpenAt(rootCtx, e.pop("/d/x", false), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o600}); err == nil {
		x.DecRef(rootCtx)
	}
	_, err = e.vfs.OpenAt(rootCtx, e.pop("/d/x", true), &vfs.OpenOptions{Flags: unix.O_TMPFILE | unix.O_RDWR})
	wantErr(t, "O_TMPFILE on a file", err, unix.ENOTDIR)
}
