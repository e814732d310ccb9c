package gofer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

type testCtx struct{ creds *auth.Credentials }

func (c testCtx) Credentials() *auth.Credentials      { return c.creds }
func (c testCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c testCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

// setup serves base/root through an in-process gofer; base/canary is
// outside it.
func setup(t *testing.T) (*vfs.VirtualFilesystem, vfs.VirtualDentry, string) {
	v, root, base, _ := setupMF(t)
	return v, root, base
}

func setupMF(t *testing.T) (*vfs.VirtualFilesystem, vfs.VirtualDentry, string, *fsutil.FakeMemoryFile) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	mustOK(t, os.MkdirAll(filepath.Join(root, "big"), 0o755))
	mustOK(t, os.MkdirAll(filepath.Join(root, "a/b"), 0o755))
	mustOK(t, os.WriteFile(filepath.Join(base, "canary"), []byte("CANARY"), 0o644))
	mustOK(t, os.WriteFile(filepath.Join(root, "a/b/file"), []byte("contents"), 0o644))
	mustOK(t, os.Symlink("/canary", filepath.Join(root, "abs")))
	mustOK(t, os.Symlink("../../../../canary", filepath.Join(root, "a/rel")))
	mustOK(t, os.Symlink("b/file", filepath.Join(root, "a/inside")))
	mustOK(t, unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	big := make([]byte, 3*4096+100)
	for i := range big {
		big[i] = byte(i % 251)
	}
	mustOK(t, os.WriteFile(filepath.Join(root, "bigfile"), big, 0o644))
	// Enough entries that a listing takes several getdents requests.
	for i := 0; i < 1500; i++ {
		mustOK(t, os.WriteFile(filepath.Join(root, "big", fmt.Sprintf("entry-with-a-long-name-%04d", i)), nil, 0o644))
	}
	mf := fsutil.NewFakeMemoryFile()
	gfs, err := gofer.NewInProcess(mf, root)
	mustOK(t, err)
	t.Cleanup(gfs.Close)
	v := vfs.New()
	rd, err := v.NewRootMount(gfs, vfs.MountOptions{ReadOnly: true})
	mustOK(t, err)
	t.Cleanup(rd.DecRef)
	return v, rd, base, mf
}

func pop(root vfs.VirtualDentry, p string) *vfs.PathOperation {
	return &vfs.PathOperation{Root: root, Start: root, Path: p, Follow: true}
}

func readAll(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, p string) (string, error) {
	ctx := testCtx{auth.NewRootCredentials()}
	f, err := v.OpenAt(ctx, pop(root, p), &vfs.OpenOptions{Flags: unix.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer f.DecRef(ctx)
	buf := make([]byte, 64)
	n, err := f.PRead(ctx, buf, 0)
	return string(buf[:n]), err
}

func TestReadAndMap(t *testing.T) {
	v, root, _ := setup(t)
	ctx := testCtx{auth.NewRootCredentials()}
	if s, err := readAll(t, v, root, "/a/inside"); err != nil || s != "contents" {
		t.Fatalf("read through a relative symlink: %q %v", s, err)
	}
	st, _, err := v.StatAt(ctx, pop(root, "/a/b/file"))
	if err != nil || st.Size != 8 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("stat: %+v %v", st, err)
	}
	if tgt, err := v.ReadlinkAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/abs"}); err != nil || tgt != "/canary" {
		t.Errorf("readlink: %q %v", tgt, err)
	}
	f, err := v.OpenAt(ctx, pop(root, "/a/b/file"), &vfs.OpenOptions{Flags: unix.O_RDONLY})
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef(ctx)
	if _, err := v.OpenAt(ctx, pop(root, "/a/b/file"), &vfs.OpenOptions{Flags: unix.O_RDWR}); err != unix.EROFS {
		t.Errorf("open for writing: %v", err)
	}
	if _, err := f.Mappable().Translate(0, 4096, usermem.Read); err != nil {
		t.Errorf("translate: %v", err)
	}
}

// TestNoEscape: symlinks pointing out of the root resolve inside the
// sandbox's root, where there is no canary.
func TestNoEscape(t *testing.T) {
	v, root, base := setup(t)
	if b, err := os.ReadFile(filepath.Join(base, "canary")); err != nil || string(b) != "CANARY" {
		t.Fatal("canary not in place")
	}
	for _, p := range []string{"/abs", "/a/rel", "/../canary", "/a/../../canary", "/a/b/../../../../canary"} {
		if s, err := readAll(t, v, root, p); err == nil {
			t.Errorf("%s: read %q", p, s)
		} else if err != unix.ENOENT {
			t.Errorf("%s: %v, want ENOENT", p, err)
		}
	}
}

func TestGetdents(t *testing.T) {
	v, root, _ := setup(t)
	ctx := testCtx{auth.NewRootCredentials()}
	f, err := v.OpenAt(ctx, pop(root, "/big"), &vfs.OpenOptions{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef(ctx)
	var names []string
	// Stop every 100 entries to check that listing resumes at the offset.
	for {
		k := 0
		if err := f.Getdents(ctx, func(d *vfs.Dirent) bool {
			if k == 100 {
				return false
			}
			k++
			names = append(names, d.Name)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	sort.Strings(names)
	if len(names) != 1502 || names[0] != "." || names[1] != ".." || names[1501] != "entry-with-a-long-name-1499" {
		t.Errorf("listed %d entries: %v…", len(names), names[:3])
	}
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			t.Fatalf("%q listed twice", names[i])
		}
	}
}

func open(v *vfs.VirtualFilesystem, root vfs.VirtualDentry, p string, flags uint32) (*vfs.FileDescription, error) {
	ctx := testCtx{auth.NewRootCredentials()}
	return v.OpenAt(ctx, pop(root, p), &vfs.OpenOptions{Flags: flags, Mode: 0o644})
}

// openRO opens p read-only until the test ends.
func openRO(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, p string) *vfs.FileDescription {
	t.Helper()
	f, err := open(v, root, p, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.DecRef(testCtx{auth.NewRootCredentials()}) })
	return f
}

func TestRefusals(t *testing.T) {
	v, root, _ := setup(t)
	ctx := testCtx{auth.NewRootCredentials()}
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
	if _, err := open(v, root, "/a/b/file", unix.O_RDWR); err != unix.EROFS {
		t.Errorf("open for write: %v", err)
	}
	if _, err := open(v, root, "/new", unix.O_CREAT|unix.O_WRONLY); err != unix.EROFS {
		t.Errorf("create: %v", err)
	}
	if err := v.UnlinkAt(ctx, pop(root, "/a/b/file")); err != unix.EROFS {
		t.Errorf("unlink: %v", err)
	}
	if err := v.MkdirAt(ctx, pop(root, "/d"), 0o755); err != unix.EROFS {
		t.Errorf("mkdir: %v", err)
	}
}

func TestPageCache(t *testing.T) {
	v, root, _, mf := setupMF(t)
	ctx := testCtx{auth.NewRootCredentials()}
	f := openRO(t, v, root, "/bigfile")
	m := f.Mappable()
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
	// The last partial page is zero past EOF; beyond it is an error.
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
	// A second open of the same file shares the cached page.
	f2 := openRO(t, v, root, "/bigfile")
	before := mf.Allocated()
	fr, _ = m.Translate(0, usermem.PageSize, usermem.Read)
	fr2, _ := f2.Mappable().Translate(0, usermem.PageSize, usermem.Read)
	if fr != fr2 || mf.Allocated() != before+1 {
		t.Errorf("page cache not shared: %v %v (%d -> %d)", fr, fr2, before, mf.Allocated())
	}
	mf.DecRef(fr)
	mf.DecRef(fr2)
	buf := make([]byte, 10)
	if n, err := f.ReadAt(ctx, buf, 3*4096+95); n != 5 || err != nil {
		t.Errorf("ReadAt at tail = %d, %v", n, err)
	}
}

// TestNegativeCache: in exclusive mode a name found absent stays absent
// without asking the gofer again, even if the host creates it later.
func TestNegativeCache(t *testing.T) {
	v, root, base := setup(t)
	if _, err := readAll(t, v, root, "/a/later"); err != unix.ENOENT {
		t.Fatalf("absent file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(base, "root/a/later"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, v, root, "/a/later"); err != unix.ENOENT {
		t.Errorf("second lookup asked the gofer: %v", err)
	}
	if s, err := readAll(t, v, root, "/a/b/file"); err != nil || s != "contents" {
		t.Errorf("present file: %q %v", s, err)
	}
}

// TestPageCacheRuns: a translation of several absent pages reads them in
// one run, contiguous in the memory file, up to the file's last page and
// the length asked for; cached pages come back as far as they follow
// each other in the memory file, and a run of absent pages stops at the
// next cached one.
func TestPageCacheRuns(t *testing.T) {
	const pg = usermem.PageSize
	check := func(mf *fsutil.FakeMemoryFile, fr memfile.Range, first uint64) {
		t.Helper()
		b := mf.Slice(fr)
		for i := range b {
			off := first*pg + uint64(i)
			want := byte(off % 251)
			if off >= 3*pg+100 {
				want = 0
			}
			if b[i] != want {
				t.Fatalf("byte %d of the file = %d, want %d", off, b[i], want)
			}
		}
	}
	v, root, _, mf := setupMF(t)
	m := openRO(t, v, root, "/bigfile").Mappable()

	// Page 2 alone, then from page 0: pages 0 and 1 in one run.
	before := mf.Allocated()
	fr2, err := m.Translate(2*pg, pg, usermem.Read)
	if err != nil || fr2.Length() != pg {
		t.Fatalf("page 2: %v, %v", fr2, err)
	}
	check(mf, fr2, 2)
	fr, err := m.Translate(0, 16*pg, usermem.Read)
	if err != nil || fr.Length() != 2*pg {
		t.Fatalf("from page 0: %v (%d pages), %v; want the 2 absent pages", fr, fr.Length()/pg, err)
	}
	check(mf, fr, 0)
	mf.DecRef(fr)
	// Page 2 is cached apart from page 3, which is absent: page 2 alone,
	// then page 3 (the last, partial) alone.
	fr, err = m.Translate(2*pg, 16*pg, usermem.Read)
	if err != nil || fr != fr2 {
		t.Fatalf("from page 2: %v, %v; want %v", fr, err, fr2)
	}
	mf.DecRef(fr)
	mf.DecRef(fr2)
	fr, err = m.Translate(3*pg, 16*pg, usermem.Read)
	if err != nil || fr.Length() != pg {
		t.Fatalf("page 3: %v, %v", fr, err)
	}
	check(mf, fr, 3)
	mf.DecRef(fr)
	if got := mf.Allocated() - before; got != 4 {
		t.Errorf("%d pages allocated for a 4-page file", got)
	}

	// Another file read from page 0 in one go: one run of all 4 pages,
	// and later translations of its cached pages get the rest of it.
	v, root, _, mf = setupMF(t)
	m = openRO(t, v, root, "/bigfile").Mappable()
	all, err := m.Translate(0, 16*pg, usermem.Read)
	if err != nil || all.Length() != 4*pg {
		t.Fatalf("whole file: %v, %v", all, err)
	}
	check(mf, all, 0)
	fr, err = m.Translate(pg, 2*pg, usermem.Read)
	if err != nil || fr.Start != all.Start+pg || fr.Length() != 2*pg {
		t.Errorf("pages 1-2: %v, %v; want [%#x, %#x)", fr, err, all.Start+pg, all.Start+3*pg)
	}
	mf.DecRef(fr)
	mf.DecRef(all)
}

// mustOK fails the test at once if err is not nil (test set-up).
func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
