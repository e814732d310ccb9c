package rootfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/rootfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type testCtx struct{ creds *auth.Credentials }

func (c testCtx) Credentials() *auth.Credentials      { return c.creds }
func (c testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

func TestSandboxRoot(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"tmp", "dev", "proc", "sys", "etc"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "proc/hostsecret"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("box\n"), 0o644)
	mfake := fsutil.NewFakeMemoryFile()
	gfs, err := gofer.NewInProcess(mfake, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gfs.Close()
	v, root, err := rootfs.NewSandboxRoot(mfake, gfs, rootfs.RootOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer root.DecRef()
	ctx := testCtx{auth.NewUserCredentials(1000, 1000, nil)}
	fsc := vfs.NewFSContext(root, root, 0o22)
	defer fsc.Release()
	pop := func(p string) *vfs.PathOperation {
		return &vfs.PathOperation{Root: root, Start: root, Path: p, Follow: true}
	}
	open := func(p string, flags uint32) (*vfs.FileDescription, error) {
		return v.OpenAt(ctx, pop(p), &vfs.OpenOptions{Flags: flags, Mode: 0o644})
	}
	// The host's /proc content is hidden; /proc and /sys are read-only.
	if _, _, err := v.StatAt(ctx, pop("/proc/hostsecret")); err != unix.ENOENT {
		t.Errorf("host /proc visible: %v", err)
	}
	if err := v.MkdirAt(testCtx{auth.NewRootCredentials()}, pop("/sys/x"), 0o755); err != unix.EROFS {
		t.Errorf("mkdir in /sys: %v", err)
	}
	// The host root is read-only.
	if _, err := open("/etc/new", unix.O_CREAT|unix.O_WRONLY); err != unix.EROFS {
		t.Errorf("create in /etc: %v", err)
	}
	// /tmp is a writable sticky tmpfs.
	f, err := open("/tmp/f", unix.O_CREAT|unix.O_RDWR)
	if err != nil {
		t.Fatalf("create in /tmp: %v", err)
	}
	f.Write(ctx, []byte("data"))
	f.DecRef(ctx)
	st, _, _ := v.StatAt(ctx, pop("/tmp"))
	if st.Mode&0o7777 != 0o1777 {
		t.Errorf("/tmp mode %o", st.Mode)
	}
	// /dev devices.
	null, err := open("/dev/null", unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := null.Write(ctx, []byte("abc")); n != 3 || err != nil {
		t.Errorf("write /dev/null: %d %v", n, err)
	}
	if n, err := null.Read(ctx, make([]byte, 4)); n != 0 || err != nil {
		t.Errorf("read /dev/null: %d %v", n, err)
	}
	null.DecRef(ctx)
	zero, _ := open("/dev/zero", unix.O_RDONLY)
	buf := []byte{1, 2, 3}
	if n, _ := zero.Read(ctx, buf); n != 3 || buf[0]|buf[1]|buf[2] != 0 {
		t.Errorf("read /dev/zero: %v", buf)
	}
	zero.DecRef(ctx)
	full, _ := open("/dev/full", unix.O_WRONLY)
	if _, err := full.Write(ctx, []byte("x")); err != unix.ENOSPC {
		t.Errorf("write /dev/full: %v", err)
	}
	full.DecRef(ctx)
	if _, err := open("/dev/tty", unix.O_RDWR); err != unix.ENXIO {
		t.Errorf("open /dev/tty: %v", err)
	}
	st, _, err = v.StatAt(ctx, pop("/dev/urandom"))
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 9 {
		t.Errorf("stat /dev/urandom: %o %x %v", st.Mode, st.Rdev, err)
	}
	if target, err := v.ReadlinkAt(ctx, pop("/dev/stdout")); err != nil || target != "/proc/self/fd/1" {
		t.Errorf("/dev/stdout -> %q %v", target, err)
	}
	shm, err := open("/dev/shm/seg", unix.O_CREAT|unix.O_RDWR)
	if err != nil {
		t.Errorf("create in /dev/shm: %v", err)
	} else {
		shm.DecRef(ctx)
	}
	// /proc/self does not exist yet, so /dev/stdin dangles.
	if _, _, err := v.StatAt(ctx, pop("/dev/stdin")); err != unix.ENOENT {
		t.Errorf("stat /dev/stdin: %v", err)
	}
	// Host files read through the tree.
	hf, err := open("/etc/hostname", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 10)
	if n, _ := hf.Read(ctx, b); string(b[:n]) != "box\n" {
		t.Errorf("read /etc/hostname %q", b[:n])
	}
	hf.DecRef(ctx)

	// Stdio installation.
	tbl := vfs.NewFDTable()
	defer tbl.DecRef(ctx)
	if err := rootfs.InstallStdio(ctx, tbl, [3]int{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if tbl.Len() != 3 {
		t.Errorf("stdio table len %d", tbl.Len())
	}
}

// TestOverlayRoot checks the default root: writable in memory, the host
// directory unchanged, missing mount points made in the overlay.
func TestOverlayRoot(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("box\n"), 0o644)
	mfake := fsutil.NewFakeMemoryFile()
	gfs, err := gofer.NewInProcess(mfake, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gfs.Close()
	v, root, err := rootfs.NewSandboxRoot(mfake, gfs, rootfs.RootOptions{Overlay: true})
	if err != nil {
		t.Fatal(err)
	}
	defer root.DecRef()
	ctx := testCtx{auth.NewRootCredentials()}
	pop := func(p string) *vfs.PathOperation {
		return &vfs.PathOperation{Root: root, Start: root, Path: p, Follow: true}
	}
	f, err := v.OpenAt(ctx, pop("/etc/hostname"), &vfs.OpenOptions{Flags: unix.O_WRONLY | unix.O_TRUNC})
	if err != nil {
		t.Fatalf("open for writing: %v", err)
	}
	f.Write(ctx, []byte("changed\n"))
	f.DecRef(ctx)
	if err := v.MkdirAt(ctx, pop("/etc/new"), 0o755); err != nil {
		t.Errorf("mkdir: %v", err)
	}
	for _, p := range []string{"/tmp", "/dev/null", "/proc", "/sys"} {
		if _, _, err := v.StatAt(ctx, pop(p)); err != nil {
			t.Errorf("stat %s: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/hostname")); string(b) != "box\n" {
		t.Errorf("host file changed: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("host directory changed: %v", ents)
	}
	if sfs, err := v.StatFSAt(ctx, pop("/")); err != nil || sfs.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Errorf("statfs /: %x %v", sfs.Type, err)
	}
	// root.readonly wins over the overlay.
	dir2 := t.TempDir()
	for _, d := range []string{"tmp", "dev", "proc", "sys"} {
		os.Mkdir(filepath.Join(dir2, d), 0o755)
	}
	gfs2, err := gofer.NewInProcess(mfake, dir2)
	if err != nil {
		t.Fatal(err)
	}
	defer gfs2.Close()
	v2, root2, err := rootfs.NewSandboxRoot(mfake, gfs2, rootfs.RootOptions{Overlay: true, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer root2.DecRef()
	if err := v2.MkdirAt(ctx, &vfs.PathOperation{Root: root2, Start: root2, Path: "/x"}, 0o755); err != unix.EROFS {
		t.Errorf("mkdir on a read-only root: %v", err)
	}
}
