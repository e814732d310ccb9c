package gofer_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// setupRW serves a fresh host directory writable, with opts.
func setupRW(t *testing.T, opts gofer.Options) (*vfs.VirtualFilesystem, vfs.VirtualDentry, string, *fsutil.FakeMemoryFile) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	mf := fsutil.NewFakeMemoryFile()
	opts.Writable = true
	gfs, err := gofer.NewInProcess(mf, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gfs.Close)
	v := vfs.New()
	rd, err := v.NewRootMount(gfs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.DecRef)
	return v, rd, dir, mf
}

var rootCtx = testCtx{auth.NewRootCredentials()}

func hostFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("host read %s: %v", p, err)
	}
	return string(b)
}

func mustOpen(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, p string, flags uint32) *vfs.FileDescription {
	t.Helper()
	f, err := open(v, root, p, flags)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	return f
}

func stat(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, p string) vfs.Stat {
	t.Helper()
	st, _, err := v.StatAt(rootCtx, &vfs.PathOperation{Root: root, Start: root, Path: p})
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return st
}

func TestCreateWriteRead(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	f := mustOpen(t, v, root, "/new", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY)
	if n, err := f.Write(ctx, []byte("abcdef")); n != 6 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if got := hostFile(t, filepath.Join(dir, "new")); got != "abcdef" {
		t.Errorf("host sees %q", got)
	}
	if st, err := f.Stat(ctx); err != nil || st.Size != 6 || st.Mode != unix.S_IFREG|0o644 {
		t.Errorf("fstat: %+v %v", st, err)
	}
	if _, err := f.Read(ctx, make([]byte, 4)); err != unix.EBADF {
		t.Errorf("read on O_WRONLY: %v", err)
	}
	f.DecRef(ctx)
	// A file created read-only is still writable through the creating
	// descriptor, as on Linux.
	ro, err := v.OpenAt(ctx, pop(root, "/ro"), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o444})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ro.Write(ctx, []byte("x")); n != 1 || err != nil {
		t.Errorf("write to a new 0444 file: %d %v", n, err)
	}
	ro.DecRef(ctx)

	// Append, pwrite, read back, seek.
	f = mustOpen(t, v, root, "/f", unix.O_RDWR|unix.O_APPEND)
	defer f.DecRef(ctx)
	if _, err := f.Write(ctx, []byte(" world")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PWrite(ctx, []byte("!"), 0); err != nil { // appends too
		t.Fatal(err)
	}
	if got := hostFile(t, filepath.Join(dir, "f")); got != "hello world!" {
		t.Errorf("after appends host has %q", got)
	}
	buf := make([]byte, 32)
	if n, err := f.PRead(ctx, buf, 6); err != nil || string(buf[:n]) != "world!" {
		t.Errorf("pread: %q %v", buf[:n], err)
	}
	if off, err := f.Seek(ctx, 0, unix.SEEK_END); off != 12 || err != nil {
		t.Errorf("SEEK_END: %d %v", off, err)
	}
	if st := stat(t, v, root, "/f"); st.Size != 12 {
		t.Errorf("stat size after append: %d", st.Size)
	}
	if err := f.Sync(ctx); err != nil {
		t.Errorf("fsync: %v", err)
	}
	// O_TRUNC on open.
	g := mustOpen(t, v, root, "/f", unix.O_WRONLY|unix.O_TRUNC)
	g.DecRef(ctx)
	if st := stat(t, v, root, "/f"); st.Size != 0 || hostFile(t, filepath.Join(dir, "f")) != "" {
		t.Errorf("O_TRUNC: size %d", st.Size)
	}
	// Sparse: a write past the end leaves a hole that SEEK_DATA skips.
	if _, err := f.PWrite(ctx, []byte("z"), 0); err != nil {
		t.Fatal(err)
	}
	h := mustOpen(t, v, root, "/sparse", unix.O_CREAT|unix.O_RDWR)
	defer h.DecRef(ctx)
	if _, err := h.PWrite(ctx, []byte("end"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, v, root, "/sparse"); st.Size != 1<<20+3 {
		t.Errorf("sparse size %d", st.Size)
	}
	if off, err := h.Seek(ctx, 0, unix.SEEK_DATA); err != nil || off == 0 {
		t.Logf("SEEK_DATA: %d %v (host filesystem may not report holes)", off, err)
	}
}

func TestNamespaceOps(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	p := func(s string) *vfs.PathOperation { return &vfs.PathOperation{Root: root, Start: root, Path: s} }
	if err := v.MkdirAt(ctx, p("/d/sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "d/sub")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("host mkdir: %v %v", fi, err)
	}
	if st := stat(t, v, root, "/d"); st.Nlink != 3 {
		t.Errorf("parent nlink after mkdir: %d", st.Nlink)
	}
	if err := v.MkdirAt(ctx, p("/d/sub"), 0o750); err != unix.EEXIST {
		t.Errorf("mkdir again: %v", err)
	}
	if err := v.SymlinkAt(ctx, p("/d/sl"), "../f"); err != nil {
		t.Fatal(err)
	}
	if tgt, err := v.ReadlinkAt(ctx, p("/d/sl")); err != nil || tgt != "../f" {
		t.Errorf("readlink: %q %v", tgt, err)
	}
	if s, err := readAll(t, v, root, "/d/sl"); err != nil || s != "hello" {
		t.Errorf("read through new symlink: %q %v", s, err)
	}
	// Hard links share attributes.
	if err := v.LinkAt(ctx, p("/f"), p("/d/hl")); err != nil {
		t.Fatal(err)
	}
	if a, b := stat(t, v, root, "/f"), stat(t, v, root, "/d/hl"); a.Nlink != 2 || b.Nlink != 2 || a.Ino != b.Ino {
		t.Errorf("after link: nlink %d/%d ino %d/%d", a.Nlink, b.Nlink, a.Ino, b.Ino)
	}
	w := mustOpen(t, v, root, "/d/hl", unix.O_WRONLY)
	w.PWrite(ctx, []byte("HELLO, LINK"), 0)
	w.DecRef(ctx)
	if st := stat(t, v, root, "/f"); st.Size != 11 {
		t.Errorf("size through the other link: %d", st.Size)
	}
	if err := v.UnlinkAt(ctx, p("/d/hl")); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, v, root, "/f"); st.Nlink != 1 {
		t.Errorf("nlink after unlink: %d", st.Nlink)
	}
	if _, err := os.Lstat(filepath.Join(dir, "d/hl")); !os.IsNotExist(err) {
		t.Errorf("host still has the link: %v", err)
	}
	// FIFOs made here are pipes of the sandbox; sockets cannot be opened;
	// devices cannot be made.
	if err := v.MknodAt(ctx, p("/fifo"), unix.S_IFIFO|0o600, 0); err != nil {
		t.Fatal(err)
	}
	pf := mustOpen(t, v, root, "/fifo", unix.O_RDWR)
	if n, err := pf.Write(ctx, []byte("pipe")); n != 4 || err != nil {
		t.Errorf("fifo write: %d %v", n, err)
	}
	buf := make([]byte, 8)
	if n, err := pf.Read(ctx, buf); string(buf[:n]) != "pipe" || err != nil {
		t.Errorf("fifo read: %q %v", buf[:n], err)
	}
	pf.DecRef(ctx)
	if err := v.MknodAt(ctx, p("/sock"), unix.S_IFSOCK|0o600, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := open(v, root, "/sock", unix.O_RDWR); err != unix.ENXIO {
		t.Errorf("open socket file: %v", err)
	}
	// A device node: the sentry's driver behind a host placeholder,
	// never a host device node.
	if err := v.MknodAt(ctx, p("/null"), unix.S_IFCHR|0o666, unix.Mkdev(1, 3)); err != nil {
		t.Fatalf("mknod char device: %v", err)
	}
	if st := stat(t, v, root, "/null"); st.Mode != unix.S_IFCHR|0o666 || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device node: mode %o rdev %x", st.Mode, st.Rdev)
	}
	nf := mustOpen(t, v, root, "/null", unix.O_RDWR)
	if n, err := nf.Write(ctx, []byte("abc")); n != 3 || err != nil {
		t.Errorf("write to null: %d %v", n, err)
	}
	if n, err := nf.Read(ctx, make([]byte, 8)); n != 0 || err != nil {
		t.Errorf("read of null: %d %v", n, err)
	}
	nf.DecRef(ctx)
	var hst unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "null"), &hst); err != nil || hst.Mode&unix.S_IFMT != unix.S_IFREG || hst.Size != 0 {
		t.Errorf("host sees mode %o size %d (%v), want an empty regular file", hst.Mode, hst.Size, err)
	}
	if err := v.SetStatAt(ctx, p("/null"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}); err != nil {
		t.Errorf("chmod of a device node: %v", err)
	}
	if st := stat(t, v, root, "/null"); st.Mode != unix.S_IFCHR|0o600 {
		t.Errorf("device node after chmod: mode %o", st.Mode)
	}
	if err := v.UnlinkAt(ctx, p("/null")); err != nil {
		t.Errorf("unlink device node: %v", err)
	}
	// Rename, over an existing file, keeping open files working.
	if err := os.WriteFile(filepath.Join(dir, "victim"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	stat(t, v, root, "/victim")
	keep := mustOpen(t, v, root, "/f", unix.O_RDWR)
	defer keep.DecRef(ctx)
	if err := v.RenameAt(ctx, p("/f"), p("/d/sub/g"), 0); err != nil {
		t.Fatal(err)
	}
	if err := v.RenameAt(ctx, p("/d/sub/g"), p("/victim"), 0); err != nil {
		t.Fatal(err)
	}
	if got := hostFile(t, filepath.Join(dir, "victim")); got != "HELLO, LINK" {
		t.Errorf("renamed-over file has %q", got)
	}
	if _, err := readAll(t, v, root, "/f"); err != unix.ENOENT {
		t.Errorf("old name: %v", err)
	}
	keep.PWrite(ctx, []byte("J"), 0)
	if got := hostFile(t, filepath.Join(dir, "victim")); got != "JELLO, LINK" {
		t.Errorf("write through a descriptor opened before the rename: %q", got)
	}
	// The moved node is still reachable by the gofer under its new name.
	if err := v.SetStatAt(ctx, p("/victim"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}); err != nil {
		t.Errorf("chmod after rename: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "victim")); fi.Mode().Perm() != 0o600 {
		t.Errorf("host mode after chmod: %o", fi.Mode().Perm())
	}
	// rmdir: not empty, then empty.
	if err := v.RmdirAt(ctx, p("/d")); err != unix.ENOTEMPTY {
		t.Errorf("rmdir non-empty: %v", err)
	}
	if err := v.RmdirAt(ctx, p("/d/sub")); err != nil {
		t.Errorf("rmdir: %v", err)
	}
	if st := stat(t, v, root, "/d"); st.Nlink != 2 {
		t.Errorf("parent nlink after rmdir: %d", st.Nlink)
	}
	// Names found absent earlier are found once created.
	if _, err := readAll(t, v, root, "/later"); err != unix.ENOENT {
		t.Fatal(err)
	}
	mustOpen(t, v, root, "/later", unix.O_CREAT|unix.O_WRONLY).DecRef(ctx)
	if _, err := readAll(t, v, root, "/later"); err != nil {
		t.Errorf("created after a negative lookup: %v", err)
	}
	// Unlinked but open: still readable and its size can change.
	u := mustOpen(t, v, root, "/later", unix.O_RDWR)
	defer u.DecRef(ctx)
	if err := v.UnlinkAt(ctx, p("/later")); err != nil {
		t.Fatal(err)
	}
	u.Write(ctx, []byte("ghost"))
	if st, err := u.Stat(ctx); err != nil || st.Nlink != 0 || st.Size != 5 {
		t.Errorf("fstat of an unlinked file: %+v %v", st, err)
	}
	if err := v.SetStat(ctx, u.VirtualDentry(), &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: 2}, true); err != nil {
		t.Errorf("ftruncate of an unlinked file: %v", err)
	}
	if n, _ := u.PRead(ctx, buf, 0); string(buf[:n]) != "gh" {
		t.Errorf("after ftruncate: %q", buf[:n])
	}
}

func TestSetStatAndXattrs(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	p := &vfs.PathOperation{Root: root, Start: root, Path: "/f"}
	if err := v.SetStatAt(ctx, p, &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: 2}); err != nil {
		t.Fatal(err)
	}
	if got := hostFile(t, filepath.Join(dir, "f")); got != "he" {
		t.Errorf("truncate: host has %q", got)
	}
	if err := v.SetStatAt(ctx, p, &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: 4096}); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, v, root, "/f"); st.Size != 4096 {
		t.Errorf("extend: %d", st.Size)
	}
	atime := unix.Timespec{Sec: 1000, Nsec: 5}
	mtime := unix.Timespec{Sec: 2000, Nsec: 7}
	if err := v.SetStatAt(ctx, p, &vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME, Atime: atime, Mtime: mtime}); err != nil {
		t.Fatal(err)
	}
	var hs unix.Stat_t
	unix.Stat(filepath.Join(dir, "f"), &hs)
	if hs.Atim != atime || hs.Mtim != mtime {
		t.Errorf("host times %v %v", hs.Atim, hs.Mtim)
	}
	if st := stat(t, v, root, "/f"); st.Atime != atime || st.Mtime != mtime {
		t.Errorf("cached times %v %v", st.Atime, st.Mtime)
	}
	// UTIME_OMIT leaves atime; UTIME_NOW sets mtime to about now.
	if err := v.SetStatAt(ctx, p, &vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME,
		Atime: unix.Timespec{Nsec: unix.UTIME_OMIT}, Mtime: unix.Timespec{Nsec: unix.UTIME_NOW}}); err != nil {
		t.Fatal(err)
	}
	unix.Stat(filepath.Join(dir, "f"), &hs)
	if hs.Atim != atime || hs.Mtim.Sec < 1e9 {
		t.Errorf("UTIME_OMIT/NOW: host %v %v", hs.Atim, hs.Mtim)
	}
	if err := v.SetStatAt(ctx, p, &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o4711}); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, v, root, "/f"); st.Mode != unix.S_IFREG|0o4711 {
		t.Errorf("mode %o", st.Mode)
	}
	uid := os.Getuid()
	if err := v.SetStatAt(ctx, p, &vfs.SetStatOptions{Mask: unix.STATX_UID | unix.STATX_GID, UID: auth.KUID(uid), GID: auth.KGID(os.Getgid())}); err != nil {
		t.Errorf("chown to self: %v", err)
	}

	vd, err := v.GetDentryAt(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer vd.DecRef()
	if err := vfs.SetXattr(ctx, vd, "user.k", []byte("v1"), 0); err != nil {
		if err == unix.EOPNOTSUPP {
			t.Skip("host filesystem has no user xattrs")
		}
		t.Fatal(err)
	}
	if b, err := vfs.GetXattr(ctx, vd, "user.k"); err != nil || string(b) != "v1" {
		t.Errorf("getxattr: %q %v", b, err)
	}
	if b := make([]byte, 8); true {
		if n, err := unix.Getxattr(filepath.Join(dir, "f"), "user.k", b); err != nil || string(b[:n]) != "v1" {
			t.Errorf("host xattr: %q %v", b[:n], err)
		}
	}
	if err := vfs.SetXattr(ctx, vd, "user.k", []byte("v2"), unix.XATTR_CREATE); err != unix.EEXIST {
		t.Errorf("XATTR_CREATE on existing: %v", err)
	}
	vfs.SetXattr(ctx, vd, "user.j", nil, 0)
	names, err := vfs.ListXattr(ctx, vd)
	sort.Strings(names)
	if err != nil || strings.Join(names, ",") != "user.j,user.k" {
		t.Errorf("listxattr: %v %v", names, err)
	}
	if err := vfs.RemoveXattr(ctx, vd, "user.k"); err != nil {
		t.Error(err)
	}
	if _, err := vfs.GetXattr(ctx, vd, "user.k"); err != unix.ENODATA {
		t.Errorf("after removexattr: %v", err)
	}
	// trusted.* and security.* are the sandbox's own, never the host's.
	if err := vfs.SetXattr(ctx, vd, "trusted.k", []byte("x"), 0); err != nil {
		t.Errorf("trusted xattr: %v", err)
	}
	if err := vfs.SetXattr(ctx, vd, "security.capability", []byte("caps"), 0); err != nil {
		t.Errorf("security xattr: %v", err)
	}
	if b := make([]byte, 8); true {
		if _, err := unix.Getxattr(filepath.Join(dir, "f"), "security.capability", b); err != unix.ENODATA {
			t.Errorf("the host's security.capability was set: %v", err)
		}
		if n, err := unix.Getxattr(filepath.Join(dir, "f"), "trusted.rampart.trusted.k", b); err != nil || string(b[:n]) != "x" {
			t.Errorf("host keeps trusted.k as %q %v", b[:n], err)
		}
	}
	if err := unix.Setxattr(filepath.Join(dir, "f"), "trusted.hostonly", []byte("h"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := vfs.GetXattr(ctx, vd, "trusted.hostonly"); err != unix.ENODATA {
		t.Errorf("the host's trusted.hostonly is visible: %v", err)
	}
	names, _ = vfs.ListXattr(ctx, vd)
	sort.Strings(names)
	if strings.Join(names, ",") != "security.capability,trusted.k,user.j" {
		t.Errorf("listxattr with privileged names: %v", names)
	}
}

// TestReadOnlyOption: without Writable every change is EROFS, even on a
// writable mount.
func TestReadOnlyOption(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	gfs, err := gofer.NewInProcess(fsutil.NewFakeMemoryFile(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gfs.Close()
	v := vfs.New()
	root, _ := v.NewRootMount(gfs, vfs.MountOptions{})
	defer root.DecRef()
	if _, err := open(v, root, "/f", unix.O_WRONLY); err != unix.EROFS {
		t.Errorf("open for writing: %v", err)
	}
	if _, err := open(v, root, "/g", unix.O_CREAT|unix.O_WRONLY); err != unix.EROFS {
		t.Errorf("create: %v", err)
	}
	if err := v.SetStatAt(rootCtx, pop(root, "/f"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}); err != unix.EROFS {
		t.Errorf("chmod: %v", err)
	}
	if st, err := v.StatFSAt(rootCtx, pop(root, "/")); err != nil || st.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("statfs: %x %v", st.Flags, err)
	}
}

// TestMmapShared: pages changed through a shared writable mapping reach
// the host at fsync and at the last close, and read/write see them.
func TestMmapShared(t *testing.T) {
	v, root, dir, mf := setupRW(t, gofer.Options{})
	ctx := rootCtx
	host := filepath.Join(dir, "m")
	if err := os.WriteFile(host, bytes.Repeat([]byte("a"), 2*4096+10), 0o644); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, v, root, "/m", unix.O_RDWR)
	m := f.Mappable()
	fr, err := m.Translate(4096, 4096, usermem.ReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	page := mf.Slice(fr)
	copy(page, "MAPPED")
	// read(2) sees the mapping's store at once.
	buf := make([]byte, 6)
	if n, err := f.PRead(ctx, buf, 4096); string(buf[:n]) != "MAPPED" || err != nil {
		t.Errorf("read after store: %q %v", buf[:n], err)
	}
	// write(2) is seen by the mapping.
	f.PWrite(ctx, []byte("W"), 4096+10)
	if page[10] != 'W' {
		t.Errorf("mapping did not see write: %q", page[:11])
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := hostFile(t, host)[4096:4102]; got != "MAPPED" {
		t.Errorf("host after fsync: %q", got)
	}
	// A page first mapped for reading may be stored to after mprotect:
	// it is written back as well.
	fr0, err := m.Translate(0, 4096, usermem.Read)
	if err != nil {
		t.Fatal(err)
	}
	copy(mf.Slice(fr0), "PROT")
	mf.DecRef(fr0)
	// msync writes back too.
	copy(page[30:], "MSYNC")
	if err := m.(memmap.Syncer).Sync(); err != nil {
		t.Fatal(err)
	}
	if got := hostFile(t, host)[4096+30 : 4096+35]; got != "MSYNC" {
		t.Errorf("host after msync: %q", got)
	}
	if got := hostFile(t, host)[:4]; got != "PROT" {
		t.Errorf("store after mprotect: host has %q", got)
	}
	// A store after fsync reaches the host when the last description
	// (and hence mapping) goes.
	copy(page[20:], "LATE")
	mf.DecRef(fr)
	f.DecRef(ctx)
	if got := hostFile(t, host)[4096+20 : 4096+24]; got != "LATE" {
		t.Errorf("host after last close: %q", got)
	}
	// The tail page: no write back past EOF, and truncate is seen.
	if st, _ := os.Stat(host); st.Size() != 2*4096+10 {
		t.Errorf("write back changed the size: %d", st.Size())
	}
	f = mustOpen(t, v, root, "/m", unix.O_RDWR)
	defer f.DecRef(ctx)
	if _, err := f.Mappable().Translate(3*4096, 4096, usermem.Read); err == nil {
		t.Error("translate past EOF succeeded")
	}
	if err := v.SetStat(ctx, f.VirtualDentry(), &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: 4096 + 2}, true); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.PRead(ctx, make([]byte, 100), 4096); n != 2 {
		t.Errorf("read after truncate got %d bytes", n)
	}
}

// TestConcurrentWriters: writers of disjoint ranges, appenders and
// readers at once (run with -race).
func TestConcurrentWriters(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	mustOpen(t, v, root, "/c", unix.O_CREAT|unix.O_WRONLY).DecRef(ctx)
	mustOpen(t, v, root, "/log", unix.O_CREAT|unix.O_WRONLY).DecRef(ctx)
	const writers, chunks, size = 8, 32, 512
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			f, err := open(v, root, "/c", unix.O_RDWR)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.DecRef(ctx)
			b := bytes.Repeat([]byte{byte('A' + w)}, size)
			for c := 0; c < chunks; c++ {
				if _, err := f.PWrite(ctx, b, int64((c*writers+w)*size)); err != nil {
					t.Error(err)
					return
				}
				f.PRead(ctx, make([]byte, 64), int64(c*size))
				f.Stat(ctx)
			}
		}()
		go func() {
			defer wg.Done()
			f, err := open(v, root, "/log", unix.O_WRONLY|unix.O_APPEND)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.DecRef(ctx)
			for c := 0; c < chunks; c++ {
				if _, err := f.Write(ctx, []byte(fmt.Sprintf("w%d-%03d\n", w, c))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := hostFile(t, filepath.Join(dir, "c"))
	if len(got) != writers*chunks*size {
		t.Fatalf("size %d", len(got))
	}
	for k := 0; k < writers*chunks; k++ {
		want := byte('A' + k%writers)
		if s := got[k*size : (k+1)*size]; strings.Count(s, string(want)) != size {
			t.Fatalf("chunk %d corrupt", k)
		}
	}
	lines := strings.Split(strings.TrimSuffix(hostFile(t, filepath.Join(dir, "log")), "\n"), "\n")
	if len(lines) != writers*chunks {
		t.Errorf("appenders: %d lines, want %d", len(lines), writers*chunks)
	}
	if st := stat(t, v, root, "/log"); st.Size != uint64(writers*chunks*7) {
		t.Errorf("appended size %d", st.Size)
	}
}

// TestWritableFollowsGofer: New without options is writable exactly when
// the gofer serves the tree read-write.
func TestWritableFollowsGofer(t *testing.T) {
	for _, ro := range []bool{true, false} {
		dir := t.TempDir()
		fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		rootFD, _ := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		s, err := gproto.NewServer(rootFD, fds[0], ro)
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		c, err := gproto.NewClient(fds[1])
		if err != nil {
			t.Fatal(err)
		}
		gfs, err := gofer.New(fsutil.NewFakeMemoryFile(), c)
		if err != nil {
			t.Fatal(err)
		}
		v := vfs.New()
		root, _ := v.NewRootMount(gfs, vfs.MountOptions{})
		err = v.MkdirAt(rootCtx, pop(root, "/d"), 0o755)
		if ro && err != unix.EROFS || !ro && err != nil {
			t.Errorf("gofer read-only %v: mkdir: %v", ro, err)
		}
		root.DecRef()
		gfs.Close()
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestHostFDsBounded: files no description has open give their host
// descriptors back beyond a bound, so that making or reading many files
// does not run the sentry out of descriptors.
func TestHostFDsBounded(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	before := openFDs(t)
	for k := 0; k < 2000; k++ {
		f := mustOpen(t, v, root, fmt.Sprintf("/n%d", k), unix.O_CREAT|unix.O_RDWR)
		f.Write(ctx, []byte(fmt.Sprint(k)))
		f.DecRef(ctx)
	}
	if err := v.MknodAt(ctx, pop(root, "/plain"), unix.S_IFREG|0o644, 0); err != nil {
		t.Fatal(err)
	}
	// The in-process server's descriptors count too; files hold none.
	if n := openFDs(t) - before; n > 600 {
		t.Errorf("%d descriptors open after making 2000 files", n)
	}
	// Files whose descriptors went are opened again.
	if s, err := readAll(t, v, root, "/n7"); err != nil || s != "7" {
		t.Errorf("reopen: %q %v", s, err)
	}
	f := mustOpen(t, v, root, "/n8", unix.O_WRONLY|unix.O_APPEND)
	f.Write(ctx, []byte("+"))
	f.DecRef(ctx)
	if got := hostFile(t, filepath.Join(dir, "n8")); got != "8+" {
		t.Errorf("append after reopen: %q", got)
	}
}

// TestExchangeAndNewDirectories: RENAME_EXCHANGE swaps two names (the
// nodes keep working under their new names), and a directory made by the
// sandbox answers lookups of names it never made without the gofer.
func TestExchangeAndNewDirectories(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	p := func(s string) *vfs.PathOperation { return &vfs.PathOperation{Root: root, Start: root, Path: s} }
	os.WriteFile(filepath.Join(dir, "a"), []byte("AAA"), 0o644)
	if err := v.RenameAt(ctx, p("/a"), p("/d"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a")); err != nil || !fi.IsDir() {
		t.Errorf("host a after exchange: %v %v", fi, err)
	}
	if s, err := readAll(t, v, root, "/d"); err != nil || s != "AAA" {
		t.Errorf("d after exchange: %q %v", s, err)
	}
	if err := v.SetStatAt(ctx, p("/d"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}); err != nil {
		t.Errorf("chmod of an exchanged file: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "d")); fi.Mode().Perm() != 0o600 {
		t.Errorf("host mode: %o", fi.Mode().Perm())
	}
	if err := v.RenameAt(ctx, p("/f"), p("/d"), unix.RENAME_NOREPLACE); err != unix.EEXIST {
		t.Errorf("RENAME_NOREPLACE: %v", err)
	}
	// RENAME_WHITEOUT leaves a 0:0 character device: a placeholder on
	// the host.
	if err := v.RenameAt(ctx, p("/f"), p("/w"), unix.RENAME_WHITEOUT); err != nil {
		t.Fatalf("RENAME_WHITEOUT: %v", err)
	}
	if st := stat(t, v, root, "/f"); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout: mode %o rdev %x", st.Mode, st.Rdev)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "f")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("host whiteout: %v %v", fi, err)
	}
	if err := v.UnlinkAt(ctx, p("/f")); err != nil {
		t.Fatal(err)
	}
	if err := v.RenameAt(ctx, p("/w"), p("/f"), 0); err != nil {
		t.Fatal(err)
	}

	if err := v.MkdirAt(ctx, p("/new"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, v, root, "/new/x", unix.O_CREAT|unix.O_WRONLY).DecRef(ctx)
	if err := v.RenameAt(ctx, p("/f"), p("/new/f"), 0); err != nil {
		t.Fatal(err)
	}
	if err := v.MkdirAt(ctx, p("/new/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := v.RenameAt(ctx, p("/new/x"), p("/new/sub/x"), 0); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]error{"/new/f": nil, "/new/sub/x": nil, "/new/x": unix.ENOENT, "/new/nope": unix.ENOENT} {
		if _, _, err := v.StatAt(ctx, p(name)); err != want {
			t.Errorf("stat %s: %v, want %v", name, err, want)
		}
	}
	if s, err := readAll(t, v, root, "/new/f"); err != nil || s != "hello" {
		t.Errorf("file moved into a new directory: %q %v", s, err)
	}
	f := mustOpen(t, v, root, "/new", unix.O_RDONLY|unix.O_DIRECTORY)
	defer f.DecRef(ctx)
	var names []string
	f.Getdents(ctx, func(d *vfs.Dirent) bool { names = append(names, d.Name); return true })
	sort.Strings(names)
	if strings.Join(names, " ") != ". .. f sub" {
		t.Errorf("listing: %v", names)
	}
}

// TestFallocate: fallocate reaches the host file, and a punched hole is
// seen by the file's mappings.
func TestFallocate(t *testing.T) {
	v, root, dir, mf := setupRW(t, gofer.Options{})
	ctx := rootCtx
	f := mustOpen(t, v, root, "/f", unix.O_RDWR)
	defer f.DecRef(ctx)
	if err := f.Allocate(ctx, 0, 0, 3*4096); err != nil {
		if err == unix.EOPNOTSUPP {
			t.Skip("host filesystem has no fallocate")
		}
		t.Fatal(err)
	}
	if st, _ := f.Stat(ctx); st.Size != 3*4096 {
		t.Errorf("size after fallocate: %d", st.Size)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "f")); fi.Size() != 3*4096 {
		t.Errorf("host size: %d", fi.Size())
	}
	fr, err := f.Mappable().Translate(0, 4096, usermem.Read)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.DecRef(fr)
	if string(mf.Slice(fr)[:5]) != "hello" {
		t.Fatalf("mapped %q", mf.Slice(fr)[:5])
	}
	if err := f.Allocate(ctx, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096); err != nil {
		t.Skipf("punch hole: %v", err)
	}
	if b := mf.Slice(fr)[:5]; string(b) != "\x00\x00\x00\x00\x00" {
		t.Errorf("mapping after punch: %q", b)
	}
}
