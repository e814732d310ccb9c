package hostro_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/hostro"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

type testCtx struct{ creds *auth.Credentials }

func (c testCtx) Credentials() *auth.Credentials      { return c.creds }
func (c testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

var ctx = testCtx{auth.NewRootCredentials()}

func setup(t *testing.T) (*vfs.VirtualFilesystem, vfs.VirtualDentry, *fsutil.FakeMemoryFile, string) {
	t.Helper()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	dir := filepath.Join(base, "root")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub/deeper"), 0o755))
	must(os.WriteFile(outside, []byte("escaped"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub/file"), []byte("inside"), 0o644))
	big := make([]byte, 3*4096+100)
	for i := range big {
		big[i] = byte(i % 251)
	}
	must(os.WriteFile(filepath.Join(dir, "big"), big, 0o755))
	must(os.Symlink(outside, filepath.Join(dir, "abs-out")))
	must(os.Symlink("../../outside", filepath.Join(dir, "sub/rel-out")))
	must(os.Symlink("file", filepath.Join(dir, "sub/rel-in")))
	must(os.Symlink("/sub/file", filepath.Join(dir, "abs-in")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o666))
	if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Logf("no device node test: %v", err)
	}
	mf := fsutil.NewFakeMemoryFile()
	fs, err := hostro.New(mf, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	v := vfs.New()
	root, err := v.NewRootMount(fs, vfs.MountOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.DecRef)
	return v, root, mf, dir
}

func open(v *vfs.VirtualFilesystem, root vfs.VirtualDentry, path string, flags uint32) (*vfs.FileDescription, error) {
	return v.OpenAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: path, Follow: true}, &vfs.OpenOptions{Flags: flags})
}

func readAll(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, path string) (string, error) {
	t.Helper()
	fd, err := open(v, root, path, unix.O_RDONLY)
	if err != nil {
		return "", err
	}
	defer fd.DecRef(ctx)
	buf := make([]byte, 100)
	n, err := fd.Read(ctx, buf)
	return string(buf[:n]), err
}

func TestWalkAndSymlinks(t *testing.T) {
	v, root, _, _ := setup(t)
	for path, want := range map[string]string{
		"/sub/file": "inside", "sub/rel-in": "inside", "/abs-in": "inside",
		"/sub/deeper/../file": "inside", "/../../sub/file": "inside",
	} {
		if got, err := readAll(t, v, root, path); err != nil || got != want {
			t.Errorf("%s: %q, %v", path, got, err)
		}
	}
	// Symlinks pointing outside the root resolve inside it (and find nothing).
	for _, path := range []string{"/abs-out", "/sub/rel-out"} {
		if got, err := readAll(t, v, root, path); err != unix.ENOENT {
			t.Errorf("%s escaped: %q, %v", path, got, err)
		}
	}
	st, _, err := v.StatAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/abs-out", Follow: false})
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("lstat symlink: %o %v", st.Mode, err)
	}
	target, err := v.ReadlinkAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/sub/rel-out"})
	if err != nil || target != "../../outside" {
		t.Errorf("readlink = %q, %v", target, err)
	}
}

func TestRefusals(t *testing.T) {
	v, root, _, dir := setup(t)
	done := make(chan error, 1)
	go func() {
		_, err := open(v, root, "/fifo", unix.O_RDONLY)
		done <- err
	}()
	select {
	case err := <-done:
		if err != unix.EACCES {
			t.Errorf("open fifo: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a host fifo blocked")
	}
	if _, err := os.Lstat(filepath.Join(dir, "null")); err == nil {
		if _, err := open(v, root, "/null", unix.O_RDONLY); err != unix.EACCES {
			t.Errorf("open device node: %v", err)
		}
	}
	if _, err := open(v, root, "/sub/file", unix.O_RDWR); err != unix.EROFS {
		t.Errorf("open for write: %v", err)
	}
	if _, err := open(v, root, "/new", unix.O_CREAT|unix.O_WRONLY); err != unix.EROFS {
		t.Errorf("create: %v", err)
	}
	pop := &vfs.PathOperation{Root: root, Start: root, Path: "/sub/file"}
	if err := v.UnlinkAt(ctx, pop); err != unix.EROFS {
		t.Errorf("unlink: %v", err)
	}
	if err := v.MkdirAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/d"}, 0o755); err != unix.EROFS {
		t.Errorf("mkdir: %v", err)
	}
}

func TestGetdentsAndMmap(t *testing.T) {
	v, root, mf, dir := setup(t)
	fd, err := open(v, root, "/", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef(ctx)
	var names []string
	for {
		k := 0
		// One entry per call, to exercise resumption.
		err := fd.Getdents(ctx, func(d *vfs.Dirent) bool {
			if k == 1 {
				return false
			}
			k++
			names = append(names, d.Name)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	sort.Strings(names)
	ents, _ := os.ReadDir(dir)
	want := []string{".", ".."}
	for _, e := range ents {
		want = append(want, e.Name())
	}
	sort.Strings(want)
	if len(names) != len(want) {
		t.Fatalf("getdents %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("getdents %v, want %v", names, want)
		}
	}

	f, err := open(v, root, "/big", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef(ctx)
	m := f.Mappable()
	if m == nil {
		t.Fatal("regular file not mappable")
	}
	fr, err := m.Translate(2*usermem.PageSize, usermem.PageSize, usermem.Read)
	if err != nil {
		t.Fatal(err)
	}
	page := mf.Slice(fr)
	for i := range page {
		if page[i] != byte((2*4096+i)%251) {
			t.Fatalf("page byte %d = %d", i, page[i])
		}
	}
	mf.DecRef(fr)
	// The last partial page is zero past EOF; beyond it is ErrBeyondEOF.
	fr, err = m.Translate(3*usermem.PageSize, usermem.PageSize, usermem.Read)
	if err != nil {
		t.Fatal(err)
	}
	if p := mf.Slice(fr); p[99] != byte((3*4096+99)%251) || p[100] != 0 {
		t.Errorf("tail page wrong: %d %d", p[99], p[100])
	}
	mf.DecRef(fr)
	if _, err := m.Translate(4*usermem.PageSize, usermem.PageSize, usermem.Read); err == nil {
		t.Error("translate past EOF succeeded")
	}
	// A second mapping shares the cached page.
	before := mf.Allocated()
	fr, _ = m.Translate(0, usermem.PageSize, usermem.Read)
	fr2, _ := f.Mappable().Translate(0, usermem.PageSize, usermem.Read)
	if fr != fr2 || mf.Allocated() != before+1 {
		t.Errorf("page cache not shared: %v %v (%d -> %d)", fr, fr2, before, mf.Allocated())
	}
	mf.DecRef(fr)
	mf.DecRef(fr2)
	if st, _ := f.Stat(ctx); st.Size != 3*4096+100 {
		t.Errorf("size %d", st.Size)
	}
	buf := make([]byte, 10)
	if n, err := f.ReadAt(ctx, buf, 3*4096+95); n != 5 || err != nil {
		t.Errorf("ReadAt at tail = %d, %v", n, err)
	}
}
