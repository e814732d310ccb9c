package overlay_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/overlay"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type testCtx struct{ creds *auth.Credentials }

func (c testCtx) Credentials() *auth.Credentials      { return c.creds }
func (c testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

var root = testCtx{auth.NewRootCredentials()}

// tree is a VFS whose root is an overlay.
type tree struct {
	t    *testing.T
	v    *vfs.VirtualFilesystem
	root vfs.VirtualDentry
	ofs  *overlay.Filesystem
}

func (tr *tree) pop(p string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: tr.root, Start: tr.root, Path: p, Follow: true}
}

func (tr *tree) open(p string, flags uint32) (*vfs.FileDescription, error) {
	return tr.v.OpenAt(root, tr.pop(p), &vfs.OpenOptions{Flags: flags, Mode: 0o644})
}

func (tr *tree) mustOpen(p string, flags uint32) *vfs.FileDescription {
	tr.t.Helper()
	fd, err := tr.open(p, flags)
	if err != nil {
		tr.t.Fatalf("open %s: %v", p, err)
	}
	return fd
}

func (tr *tree) read(p string) string {
	tr.t.Helper()
	fd := tr.mustOpen(p, unix.O_RDONLY)
	defer fd.DecRef(root)
	return readAll(tr.t, fd)
}

func readAll(t *testing.T, fd *vfs.FileDescription) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for off := int64(0); ; {
		n, err := fd.PRead(root, buf, off)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
}

func (tr *tree) write(p string, flags uint32, data string) {
	tr.t.Helper()
	fd := tr.mustOpen(p, unix.O_WRONLY|flags)
	defer fd.DecRef(root)
	if _, err := fd.Write(root, []byte(data)); err != nil {
		tr.t.Fatalf("write %s: %v", p, err)
	}
}

func (tr *tree) stat(p string) vfs.Stat {
	tr.t.Helper()
	st, _, err := tr.v.StatAt(root, tr.pop(p))
	if err != nil {
		tr.t.Fatalf("stat %s: %v", p, err)
	}
	return st
}

func (tr *tree) lstatErr(p string) error {
	pop := tr.pop(p)
	pop.Follow = false
	_, _, err := tr.v.StatAt(root, pop)
	return err
}

func (tr *tree) list(p string) []string {
	tr.t.Helper()
	fd := tr.mustOpen(p, unix.O_RDONLY|unix.O_DIRECTORY)
	defer fd.DecRef(root)
	var names []string
	if err := fd.Getdents(root, func(d *vfs.Dirent) bool {
		names = append(names, d.Name)
		return true
	}); err != nil {
		tr.t.Fatalf("getdents %s: %v", p, err)
	}
	sort.Strings(names)
	return names
}

var past = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// newGoferTree builds a host directory, serves it read-only through an
// in-process gofer and mounts an overlay over it. It returns the tree and
// the host directory.
func newGoferTree(t *testing.T) (*tree, string) {
	dir := t.TempDir()
	mk := func(p string, data string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, p), mode)
	}
	for _, d := range []string{"d", "d/sub", "empty", "etc"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("a", "lower a\n", 0o640)
	mk("b", "lower b\n", 0o644)
	mk("d/x", "x\n", 0o644)
	mk("d/y", "y\n", 0o644)
	mk("d/sub/z", "z\n", 0o600)
	mk("h1", "linked\n", 0o644)
	if err := os.Link(filepath.Join(dir, "h1"), filepath.Join(dir, "d/h2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../a", filepath.Join(dir, "d/link")); err != nil {
		t.Fatal(err)
	}
	os.Chown(filepath.Join(dir, "b"), 1234, 5678)
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error {
		os.Chtimes(p, past, past)
		return nil
	})
	mf := fsutil.NewFakeMemoryFile()
	gfs, err := gofer.NewInProcess(mf, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gfs.Close)
	return mount(t, mf, gfs), dir
}

func mount(t *testing.T, mf fsutil.MemoryFile, lower vfs.Filesystem) *tree {
	ofs, err := overlay.New(mf, lower, overlay.Options{DevMinor: 100, UpperDevMinor: 101})
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New()
	r, err := v.NewRootMount(ofs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.DecRef)
	return &tree{t: t, v: v, root: r, ofs: ofs}
}

// hostSum describes every file of dir (names, types, modes, owners,
// sizes, mtimes, contents).
func hostSum(t *testing.T, dir string) string {
	var b bytes.Buffer
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		b.WriteString(p)
		b.WriteString(fi.Mode().String())
		b.WriteString(fi.ModTime().String())
		b.Write([]byte{byte(st.Uid), byte(st.Gid), byte(st.Nlink), byte(st.Size)})
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		b.WriteByte('\n')
		return nil
	})
	return b.String()
}

func TestCopyUpDataAndMetadata(t *testing.T) {
	tr, dir := newGoferTree(t)
	before := hostSum(t, dir)
	lst := tr.stat("/b")
	dst := tr.stat("/d")
	if got := tr.read("/b"); got != "lower b\n" {
		t.Fatalf("read before copy-up: %q", got)
	}
	// chmod copies up data and metadata, and keeps the times.
	if err := tr.v.SetStatAt(root, tr.pop("/b"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	st := tr.stat("/b")
	if st.Mode != unix.S_IFREG|0o600 || st.UID != 1234 || st.GID != 5678 || st.Mtime != lst.Mtime || st.Size != lst.Size {
		t.Errorf("after chmod: %+v, lower %+v", st, lst)
	}
	if got := tr.read("/b"); got != "lower b\n" {
		t.Errorf("data after copy-up: %q", got)
	}
	// Linux, xino=off: a non-directory's st_dev/st_ino are the layer's.
	if st.Dev == lst.Dev && st.Ino == lst.Ino {
		t.Errorf("st_dev/st_ino did not change on copy-up: %d/%d", st.Dev, st.Ino)
	}
	// Append, then truncate, a file deep in a lower directory.
	tr.write("/d/sub/z", unix.O_APPEND, "more\n")
	if got := tr.read("/d/sub/z"); got != "z\nmore\n" {
		t.Errorf("append: %q", got)
	}
	if err := tr.v.SetStatAt(root, tr.pop("/a"), &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if got := tr.read("/a"); got != "low" {
		t.Errorf("truncate: %q", got)
	}
	tr.write("/a", unix.O_TRUNC, "new")
	if got := tr.read("/a"); got != "new" {
		t.Errorf("O_TRUNC: %q", got)
	}
	if got := tr.stat("/a").Mode; got != unix.S_IFREG|0o640 {
		t.Errorf("mode after O_TRUNC copy-up: %o", got)
	}
	// A directory keeps its inode number across copy-up, and the
	// parent's times are not changed by copying up a child.
	tr.write("/d/new", unix.O_CREAT, "n")
	if st := tr.stat("/d"); st.Ino != dst.Ino || st.Dev != dst.Dev {
		t.Errorf("directory ino changed: %d/%d -> %d/%d", dst.Dev, dst.Ino, st.Dev, st.Ino)
	}
	tr.write("/d/sub/z", 0, "Z")
	if st := tr.stat("/d/sub"); st.Mtime != lst.Mtime {
		t.Errorf("copy-up changed the parent's mtime: %v", st.Mtime)
	}
	// Symlinks are copied up with their target.
	if err := tr.v.SetStatAt(root, &vfs.PathOperation{Root: tr.root, Start: tr.root, Path: "/d/link"},
		&vfs.SetStatOptions{Mask: unix.STATX_UID, UID: 7}); err != nil {
		t.Fatal(err)
	}
	if tgt, err := tr.v.ReadlinkAt(root, tr.pop("/d/link")); err != nil || tgt != "../a" {
		t.Errorf("readlink after copy-up: %q %v", tgt, err)
	}
	if got := tr.read("/d/link"); got != "new" {
		t.Errorf("through symlink: %q", got)
	}
	if sfs, err := tr.v.StatFSAt(root, tr.pop("/")); err != nil || sfs.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Errorf("statfs: %x %v", sfs.Type, err)
	}
	if after := hostSum(t, dir); after != before {
		t.Errorf("the lower directory changed:\n%s\n---\n%s", before, after)
	}
}

func TestOpenBeforeCopyUp(t *testing.T) {
	tr, _ := newGoferTree(t)
	old := tr.mustOpen("/a", unix.O_RDONLY)
	defer old.DecRef(root)
	tr.write("/a", unix.O_TRUNC, "rewritten\n")
	if got := readAll(t, old); got != "lower a\n" {
		t.Errorf("fd opened before copy-up reads %q", got)
	}
	if got := tr.read("/a"); got != "rewritten\n" {
		t.Errorf("new open reads %q", got)
	}
}

func TestHardLinks(t *testing.T) {
	tr, _ := newGoferTree(t)
	if a, b := tr.stat("/h1"), tr.stat("/d/h2"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Fatalf("lower links: %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	tr.write("/h1", unix.O_APPEND, "via h1\n")
	if got := tr.read("/d/h2"); got != "linked\nvia h1\n" {
		t.Errorf("other name after copy-up: %q", got)
	}
	a, b := tr.stat("/h1"), tr.stat("/d/h2")
	if a.Ino != b.Ino || a.Dev != b.Dev || a.Nlink != 2 || b.Nlink != 2 {
		t.Errorf("after copy-up: ino %d/%d nlink %d/%d", a.Ino, b.Ino, a.Nlink, b.Nlink)
	}
	// Modifying the second name links it to the same upper inode.
	if err := tr.v.SetStatAt(root, tr.pop("/d/h2"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if st := tr.stat("/h1"); st.Mode&0o777 != 0o600 || st.Ino != tr.stat("/d/h2").Ino || st.Nlink != 2 {
		t.Errorf("chmod through the second name: %+v", st)
	}
	if err := tr.v.UnlinkAt(root, tr.pop("/h1")); err != nil {
		t.Fatal(err)
	}
	if st := tr.stat("/d/h2"); st.Nlink != 1 {
		t.Errorf("nlink after unlink: %d", st.Nlink)
	}
	if got := tr.read("/d/h2"); got != "linked\nvia h1\n" {
		t.Errorf("after unlink: %q", got)
	}
	// A new link of a lower file.
	if err := tr.v.LinkAt(root, tr.pop("/b"), tr.pop("/d/b2")); err != nil {
		t.Fatal(err)
	}
	tr.write("/d/b2", unix.O_APPEND, "+")
	if got := tr.read("/b"); got != "lower b\n+" {
		t.Errorf("link of a lower file: %q", got)
	}
}

func TestHardLinkUnlinkedBeforeOtherName(t *testing.T) {
	tr, _ := newGoferTree(t)
	tr.write("/h1", unix.O_APPEND, "x")
	if err := tr.v.UnlinkAt(root, tr.pop("/h1")); err != nil {
		t.Fatal(err)
	}
	// The index keeps the copied-up inode for the remaining lower name.
	tr.write("/d/h2", unix.O_APPEND, "y")
	if got := tr.read("/d/h2"); got != "linked\nxy" {
		t.Errorf("remaining name: %q", got)
	}
}

func TestWhiteoutsAndOpaqueDirs(t *testing.T) {
	tr, _ := newGoferTree(t)
	if err := tr.v.UnlinkAt(root, tr.pop("/a")); err != nil {
		t.Fatal(err)
	}
	if err := tr.lstatErr("/a"); err != unix.ENOENT {
		t.Errorf("stat of removed lower file: %v", err)
	}
	for _, n := range tr.list("/") {
		if n == "a" {
			t.Errorf("readdir shows the whiteout")
		}
	}
	tr.write("/a", unix.O_CREAT|unix.O_EXCL, "again")
	if got := tr.read("/a"); got != "again" {
		t.Errorf("recreated: %q", got)
	}
	if err := tr.v.UnlinkAt(root, tr.pop("/a")); err != nil {
		t.Fatal(err)
	}
	if err := tr.lstatErr("/a"); err != unix.ENOENT {
		t.Errorf("stat of removed recreated file: %v", err)
	}
	// rmdir of a non-empty lower directory; then empty it.
	if err := tr.v.RmdirAt(root, tr.pop("/d/sub")); err != unix.ENOTEMPTY {
		t.Errorf("rmdir non-empty: %v", err)
	}
	if err := tr.v.UnlinkAt(root, tr.pop("/d/sub/z")); err != nil {
		t.Fatal(err)
	}
	if got := tr.list("/d/sub"); len(got) != 2 {
		t.Errorf("emptied dir lists %v", got)
	}
	if err := tr.v.RmdirAt(root, tr.pop("/d/sub")); err != nil {
		t.Fatal(err)
	}
	if err := tr.lstatErr("/d/sub"); err != unix.ENOENT {
		t.Errorf("removed dir: %v", err)
	}
	// A new directory in place of a removed lower one is opaque.
	if err := tr.v.MkdirAt(root, tr.pop("/d/sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if got := tr.list("/d/sub"); len(got) != 2 {
		t.Errorf("opaque dir lists %v", got)
	}
	if err := tr.lstatErr("/d/sub/z"); err != unix.ENOENT {
		t.Errorf("lower file visible in opaque dir: %v", err)
	}
	// A lower file replaced by a directory.
	if err := tr.v.UnlinkAt(root, tr.pop("/b")); err != nil {
		t.Fatal(err)
	}
	if err := tr.v.MkdirAt(root, tr.pop("/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if st := tr.stat("/b"); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("b: %o", st.Mode)
	}
	// The overlay's private xattrs are hidden.
	if names, err := vfs.ListXattr(root, mustVD(tr, "/d/sub")); err != nil || len(names) != 0 {
		t.Errorf("listxattr of an opaque dir: %v %v", names, err)
	}
}

func mustVD(tr *tree, p string) vfs.VirtualDentry {
	vd, err := tr.v.GetDentryAt(root, tr.pop(p))
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.t.Cleanup(vd.DecRef)
	return vd
}

func TestReaddirMerge(t *testing.T) {
	tr, _ := newGoferTree(t)
	tr.write("/d/x", 0, "X") // copied up: in both layers
	tr.write("/d/new", unix.O_CREAT, "n")
	if err := tr.v.UnlinkAt(root, tr.pop("/d/y")); err != nil {
		t.Fatal(err)
	}
	want := []string{".", "..", "h2", "link", "new", "sub", "x"}
	if got := tr.list("/d"); !equal(got, want) {
		t.Errorf("merged listing %v, want %v", got, want)
	}
	// Inode numbers in the listing match stat for non-directories.
	fd := tr.mustOpen("/d", unix.O_RDONLY)
	defer fd.DecRef(root)
	fd.Getdents(root, func(d *vfs.Dirent) bool {
		if d.Type != unix.DT_DIR {
			if st := tr.stat("/d/" + d.Name); d.Name != "link" && st.Ino != d.Ino {
				t.Errorf("%s: d_ino %d, st_ino %d", d.Name, d.Ino, st.Ino)
			}
		}
		return true
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRename(t *testing.T) {
	tr, dir := newGoferTree(t)
	before := hostSum(t, dir)
	if err := tr.v.RenameAt(root, tr.pop("/a"), tr.pop("/d/a2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := tr.lstatErr("/a"); err != unix.ENOENT {
		t.Errorf("old name: %v", err)
	}
	if got := tr.read("/d/a2"); got != "lower a\n" {
		t.Errorf("new name: %q", got)
	}
	// Over a lower file.
	if err := tr.v.RenameAt(root, tr.pop("/d/a2"), tr.pop("/b"), 0); err != nil {
		t.Fatal(err)
	}
	if got := tr.read("/b"); got != "lower a\n" {
		t.Errorf("renamed over: %q", got)
	}
	if got := tr.list("/"); !equal(got, []string{".", "..", "b", "d", "empty", "etc", "h1"}) {
		t.Errorf("root after renames: %v", got)
	}
	// A lower directory: EXDEV, as Linux without redirect_dir.
	if err := tr.v.RenameAt(root, tr.pop("/d"), tr.pop("/d2"), 0); err != unix.EXDEV {
		t.Errorf("rename of a lower dir: %v", err)
	}
	// A new directory moves, also over an empty lower one, which it
	// then hides.
	if err := tr.v.MkdirAt(root, tr.pop("/n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr.write("/n/f", unix.O_CREAT, "f")
	if err := tr.v.RenameAt(root, tr.pop("/n"), tr.pop("/empty"), 0); err != nil {
		t.Fatal(err)
	}
	if got := tr.list("/empty"); !equal(got, []string{".", "..", "f"}) {
		t.Errorf("moved dir: %v", got)
	}
	if err := tr.lstatErr("/n"); err != unix.ENOENT {
		t.Errorf("old dir name: %v", err)
	}
	// A lower symlink.
	if err := tr.v.RenameAt(root, tr.pop("/d/link"), tr.pop("/link"), 0); err != nil {
		t.Fatal(err)
	}
	if tgt, err := tr.v.ReadlinkAt(root, tr.pop("/link")); err != nil || tgt != "../a" {
		t.Errorf("moved symlink: %q %v", tgt, err)
	}
	if after := hostSum(t, dir); after != before {
		t.Errorf("the lower directory changed")
	}
}

// TestConcurrentCopyUp copies one file (and the two names of a hard link)
// up from many goroutines at once; run with -race.
func TestConcurrentCopyUp(t *testing.T) {
	tr, _ := newGoferTree(t)
	var wg sync.WaitGroup
	const n = 8
	for k := 0; k < n; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			fd, err := tr.open("/d/x", unix.O_RDWR)
			if err != nil {
				t.Error(err)
				return
			}
			defer fd.DecRef(root)
			if _, err := fd.PWrite(root, []byte{byte('a' + k)}, int64(2+k)); err != nil {
				t.Error(err)
			}
			name := "/h1"
			if k%2 == 1 {
				name = "/d/h2"
			}
			if err := tr.v.SetStatAt(root, tr.pop(name), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o640}); err != nil {
				t.Error(err)
			}
		}(k)
	}
	wg.Wait()
	if got := tr.read("/d/x"); got != "x\nabcdefgh" {
		t.Errorf("concurrent writes: %q", got)
	}
	tr.write("/h1", unix.O_APPEND, "!")
	if got := tr.read("/d/h2"); got != "linked\n!" {
		t.Errorf("hard link after concurrent copy-ups: %q", got)
	}
	if a, b := tr.stat("/h1"), tr.stat("/d/h2"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link: %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
}

// TestXattrCopyUp uses a tmpfs as the lower layer (the gofer has no
// xattrs).
func TestXattrCopyUp(t *testing.T) {
	mf := fsutil.NewFakeMemoryFile()
	low := tmpfs.New(mf, tmpfs.Options{RootMode: 0o755, DevMinor: 50})
	lv := vfs.New()
	lr, err := lv.NewRootMount(low, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lr.DecRef()
	lt := &tree{t: t, v: lv, root: lr}
	lt.write("/f", unix.O_CREAT, "data")
	if err := vfs.SetXattr(root, mustVD(lt, "/f"), "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	tr := mount(t, mf, low)
	tr.write("/f", unix.O_APPEND, "+")
	if v, err := vfs.GetXattr(root, mustVD(tr, "/f"), "user.k"); err != nil || string(v) != "v" {
		t.Errorf("xattr after copy-up: %q %v", v, err)
	}
	if err := vfs.SetXattr(root, mustVD(tr, "/f"), "trusted.overlay.opaque", []byte("y"), 0); err == nil {
		t.Errorf("setting a private xattr succeeded")
	}
	if got := lt.read("/f"); got != "data" {
		t.Errorf("lower changed: %q", got)
	}
	// A FIFO is copied up and opened in the upper layer.
	if err := lv.MknodAt(root, lt.pop("/fifo"), unix.S_IFIFO|0o644, 0); err != nil {
		t.Fatal(err)
	}
	fd, err := tr.open("/fifo", unix.O_RDWR|unix.O_NONBLOCK)
	if err != nil {
		t.Fatalf("open fifo: %v", err)
	}
	fd.DecRef(root)
}

func TestExchange(t *testing.T) {
	tr, _ := newGoferTree(t)
	if err := tr.v.RenameAt(root, tr.pop("/a"), tr.pop("/d/x"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	if a, x := tr.read("/a"), tr.read("/d/x"); a != "x\n" || x != "lower a\n" {
		t.Errorf("after exchange: a %q, d/x %q", a, x)
	}
	if err := tr.v.RenameAt(root, tr.pop("/a"), tr.pop("/d"), unix.RENAME_EXCHANGE); err != unix.EXDEV {
		t.Errorf("exchange with a lower directory: %v", err)
	}
	// link(2) gives the VFS one node for both names.
	if err := tr.v.LinkAt(root, tr.pop("/a"), tr.pop("/a2")); err != nil {
		t.Fatal(err)
	}
	if mustVD(tr, "/a").Dentry().Inode() != mustVD(tr, "/a2").Dentry().Inode() {
		t.Errorf("hard links made by link(2) are two nodes")
	}
}

// lowerFile mounts an overlay over a gofer-served lower directory holding
// the file x ("x\n") in the directories dirs, one inside the other.
func lowerFile(t *testing.T, dirs ...string) (*tree, *gofer.Filesystem) {
	t.Helper()
	dir := t.TempDir()
	d := filepath.Join(append([]string{dir}, dirs...)...)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "x"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mf := fsutil.NewFakeMemoryFile()
	gfs, err := gofer.NewInProcess(mf, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gfs.Close)
	return mount(t, mf, gfs), gfs
}

// readTrips reads p in tr, which must hold "x\n", and returns the gofer
// round trips that took.
func readTrips(t *testing.T, tr *tree, gfs *gofer.Filesystem, p string) int64 {
	t.Helper()
	before := gfs.RoundTrips()
	if got := tr.read(p); got != "x\n" {
		t.Errorf("read %q", got)
	}
	return gfs.RoundTrips() - before
}

// TestOpenLooksUpLowerOnce: an overlay passes an open's intent to its
// lower layer's lookup (vfs.OpenLookuper): a read-only open of an
// uncached lower file costs the gofer one round trip, walk and open
// together, and reads the lower file.
func TestOpenLooksUpLowerOnce(t *testing.T) {
	tr, gfs := lowerFile(t, "d")
	tr.stat("/d")
	if n := readTrips(t, tr, gfs, "/d/x"); n != 1 {
		t.Errorf("open and read of an uncached lower file: %d round trips, want 1", n)
	}
}

// TestPathLooksUpLowerAhead: an overlay passes the names ahead of a lookup
// to its lower layer's (vfs.PathLookuper): an open of a file three
// uncached directories down costs the gofer two round trips, the walk of
// the directories and the walk and open of the file.
func TestPathLooksUpLowerAhead(t *testing.T) {
	tr, gfs := lowerFile(t, "d1", "d2", "d3")
	if n := readTrips(t, tr, gfs, "/d1/d2/d3/x"); n != 2 {
		t.Errorf("open and read of a file three uncached lower directories down: %d round trips, want 2", n)
	}
}
