package gofer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// list lists directory p to its end through one description.
func list(t *testing.T, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, p string) []string {
	t.Helper()
	f := mustOpen(t, v, root, p, unix.O_RDONLY|unix.O_DIRECTORY)
	defer f.DecRef(rootCtx)
	var names []string
	for {
		k := 0
		if err := f.Getdents(rootCtx, func(d *vfs.Dirent) bool {
			k++
			names = append(names, d.Name)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			return names
		}
	}
}

// TestListThenStat: after a listing, every entry's lookup (served from the
// batch walk) gives its own attributes, in both modes, including for
// directories larger than one batch and names of every length.
func TestListThenStat(t *testing.T) {
	for _, mode := range []gofer.FileAccess{gofer.Exclusive, gofer.Shared} {
		v, root, dir, _ := setupRW(t, gofer.Options{FileAccess: mode})
		const n = 700
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("e%d-%s", i, strings.Repeat("n", i%240))
			if err := os.WriteFile(filepath.Join(dir, "d", name), make([]byte, i), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		os.Mkdir(filepath.Join(dir, "d", "sub"), 0o700)
		os.Symlink("e1-n", filepath.Join(dir, "d", "link"))
		names := list(t, v, root, "/d")
		if len(names) != n+4 {
			t.Fatalf("listed %d names", len(names))
		}
		for _, name := range names {
			if name == "." || name == ".." {
				continue
			}
			var want unix.Stat_t
			if err := unix.Lstat(filepath.Join(dir, "d", name), &want); err != nil {
				t.Fatal(err)
			}
			st, _, err := v.StatAt(rootCtx, &vfs.PathOperation{Root: root, Start: root, Path: "/d/" + name})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if int64(st.Size) != want.Size || st.Mode != want.Mode || st.Ino != want.Ino {
				t.Fatalf("mode %v: %s: size %d mode %o ino %d, host %d %o %d", mode, name, st.Size, st.Mode, st.Ino, want.Size, want.Mode, want.Ino)
			}
		}
	}
}

// TestListedNamesChange: what a listing prefetched never outlives a change
// of the directory's names by the sandbox, nor hides a change of a file
// through another of its names.
func TestListedNamesChange(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	p := func(s string) *vfs.PathOperation { return &vfs.PathOperation{Root: root, Start: root, Path: s} }
	for _, name := range []string{"a", "b", "c", "x"} {
		os.WriteFile(filepath.Join(dir, "d", name), []byte(name), 0o644)
	}
	// A hard link of x outside the directory, held open.
	if err := os.Link(filepath.Join(dir, "d", "x"), filepath.Join(dir, "xl")); err != nil {
		t.Fatal(err)
	}
	w := mustOpen(t, v, root, "/xl", unix.O_WRONLY)
	defer w.DecRef(ctx)

	list(t, v, root, "/d")
	// The lookup of a walks b, c and x too.
	if st := stat(t, v, root, "/d/a"); st.Size != 1 {
		t.Fatalf("a: size %d", st.Size)
	}
	// x grows through its other name: its prefetched size is stale.
	if _, err := w.PWrite(ctx, []byte("longer"), 0); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, v, root, "/d/x"); st.Size != 6 {
		t.Errorf("x after a write through its other name: size %d", st.Size)
	}
	// b is replaced by a new file (no dentry for it yet).
	os.Remove(filepath.Join(dir, "other"))
	f := mustOpen(t, v, root, "/other", unix.O_WRONLY|unix.O_CREAT)
	f.PWrite(ctx, []byte("a longer file"), 0)
	f.DecRef(ctx)
	if err := v.RenameAt(ctx, p("/other"), p("/d/b"), 0); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, v, root, "/d/b"); st.Size != 13 {
		t.Errorf("b after a rename over it: size %d", st.Size)
	}
	// c, listed and prefetched, is removed and made again.
	list(t, v, root, "/d")
	stat(t, v, root, "/d/a")
	if err := v.UnlinkAt(ctx, p("/d/c")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.StatAt(ctx, p("/d/c")); err != unix.ENOENT {
		t.Errorf("c after unlink: %v", err)
	}
	f = mustOpen(t, v, root, "/d/c", unix.O_WRONLY|unix.O_CREAT)
	f.PWrite(ctx, []byte("cc"), 0)
	f.DecRef(ctx)
	if st := stat(t, v, root, "/d/c"); st.Size != 2 {
		t.Errorf("c made again: size %d", st.Size)
	}
	// A listing that reached its end sees names made after it.
	names := list(t, v, root, "/d")
	if err := v.MkdirAt(ctx, p("/d/new"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := list(t, v, root, "/d"); len(got) != len(names)+1 {
		t.Errorf("listing after mkdir: %d names, before %d", len(got), len(names))
	}
}

// TestListedNameRemoved: a name the dentry cache already holds is walked
// again by a batch; removed through its dentry, it must not come back
// from that batch.
func TestListedNameRemoved(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	p := func(s string) *vfs.PathOperation { return &vfs.PathOperation{Root: root, Start: root, Path: s} }
	for _, name := range []string{"a", "b"} {
		os.WriteFile(filepath.Join(dir, "d", name), []byte(name), 0o644)
	}
	stat(t, v, root, "/d/a")
	list(t, v, root, "/d")
	stat(t, v, root, "/d/b") // walks a too
	if err := v.UnlinkAt(rootCtx, p("/d/a")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.StatAt(rootCtx, p("/d/a")); err != unix.ENOENT {
		t.Errorf("a after unlink: %v", err)
	}
}

// TestSharedListSeesHost: in shared mode nothing from a listing is kept: a
// file the host changes after the listing shows its new attributes.
func TestSharedListSeesHost(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{FileAccess: gofer.Shared})
	for _, name := range []string{"a", "b"} {
		os.WriteFile(filepath.Join(dir, "d", name), []byte(name), 0o644)
	}
	list(t, v, root, "/d")
	stat(t, v, root, "/d/a")
	os.WriteFile(filepath.Join(dir, "d", "b"), []byte("bigger"), 0o644)
	if st := stat(t, v, root, "/d/b"); st.Size != 6 {
		t.Errorf("b after a host write: size %d", st.Size)
	}
	os.Remove(filepath.Join(dir, "d", "a"))
	os.WriteFile(filepath.Join(dir, "d", "new"), nil, 0o644)
	if got := list(t, v, root, "/d"); len(got) != 4 {
		t.Errorf("listing after host changes: %v", got)
	}
}

// TestPrefetchBounded: what listings note and walk ahead is bounded and
// given back: a listing that is not followed by lookups keeps only names,
// a lookup walks one batch, a listing followed by lookups walks as it
// goes, and the directory's names changing gives everything back.
func TestPrefetchBounded(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	for i := 0; i < 1500; i++ {
		os.WriteFile(filepath.Join(dir, "d", fmt.Sprintf("f%04d", i)), nil, 0o644)
	}
	gfs := root.Mount().Filesystem().(*gofer.Filesystem)
	list(t, v, root, "/d")
	if l, r := gofer.PrefetchCounts(gfs); l != 1500 || r != 0 {
		t.Fatalf("after a listing: %d listed, %d ready", l, r)
	}
	list(t, v, root, "/d")
	if l, r := gofer.PrefetchCounts(gfs); l != 1500 || r != 0 {
		t.Fatalf("after a second listing: %d listed, %d ready", l, r)
	}
	stat(t, v, root, "/d/f0000")
	if l, r := gofer.PrefetchCounts(gfs); l != 1500-1 || r != 0 {
		t.Fatalf("after one lookup: %d listed, %d ready", l, r)
	}
	// A scan in name order, not the listing's (ls -l): batches grow
	// with the lookups, filling the room that the lookups leave.
	for i := 1; i < 1500; i++ {
		if st := stat(t, v, root, fmt.Sprintf("/d/f%04d", i)); st.Size != 0 {
			t.Fatal("size")
		}
		if _, r := gofer.PrefetchCounts(gfs); r > 512 {
			t.Fatalf("%d ready entries", r)
		}
	}
	if w, u := gofer.PrefetchWalked(gfs); 3*u < w {
		t.Fatalf("a scan looked up %d of the %d names walked ahead", u, w)
	}
	if l, r := gofer.PrefetchCounts(gfs); l != 0 || r != 0 {
		t.Fatalf("after every lookup: %d listed, %d ready", l, r)
	}
	// Now listings walk as they go: at most maxReady (512) kept.
	list(t, v, root, "/d")
	if l, r := gofer.PrefetchCounts(gfs); r != 512 || l+r != 1500 {
		t.Fatalf("after a walking listing: %d listed, %d ready", l, r)
	}
	list(t, v, root, "/d")
	if err := v.MkdirAt(rootCtx, &vfs.PathOperation{Root: root, Start: root, Path: "/d/new"}, 0o755); err != nil {
		t.Fatal(err)
	}
	if l, r := gofer.PrefetchCounts(gfs); l != 0 || r != 0 {
		t.Fatalf("after a change of the directory: %d listed, %d ready", l, r)
	}
}

// TestPrefetchScattered: lookups of a few scattered names of a listing
// (an interpreter's imports) walk at most one other name each, and do not
// make later listings walk their entries; a scan in listing order (ls -l)
// looks its names up in a few batches, and does.
func TestPrefetchScattered(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	for _, d := range []string{"a", "b", "c"} {
		os.Mkdir(filepath.Join(dir, "d", d), 0o755)
		for i := 0; i < 300; i++ {
			os.WriteFile(filepath.Join(dir, "d", d, fmt.Sprintf("f%03d", i)), nil, 0o644)
		}
	}
	gfs := root.Mount().Filesystem().(*gofer.Filesystem)
	names := list(t, v, root, "/d/a")
	m := 0
	for k := 2; k < len(names); k += 37 {
		stat(t, v, root, "/d/a/"+names[k])
		m++
	}
	// The k-th lookup walks at most k-1 other names.
	waste := int64(m * (m - 1) / 2)
	if _, r := gofer.PrefetchCounts(gfs); r > waste {
		t.Fatalf("%d scattered lookups left %d ready entries", m, r)
	}
	list(t, v, root, "/d/b")
	if _, r := gofer.PrefetchCounts(gfs); r > waste {
		t.Fatalf("a listing after scattered lookups walked: %d ready", r)
	}
	for _, name := range list(t, v, root, "/d/b") {
		if name != "." && name != ".." {
			stat(t, v, root, "/d/b/"+name)
		}
	}
	if _, r := gofer.PrefetchCounts(gfs); r > waste+256 {
		t.Fatalf("a scan left %d ready entries", r)
	}
	list(t, v, root, "/d/c")
	if _, r := gofer.PrefetchCounts(gfs); r < 300 {
		t.Fatalf("a listing after a scan walked %d entries (%d ready)", r, r)
	}
}

// TestOpenUncachedOneTrip: open(2) read-only of a name not looked up yet
// costs one round trip (Twalkopen), and what it reads is the file's; a
// directory's the same (no descriptor); a read-write open, and a second
// open of the cached name, go on as before (a Topen each, the second
// none: the read descriptor is shared).
// mountWritable mounts dir, served writable by an in-process gofer, as
// the root of a new VFS, until the test ends.
func mountWritable(t *testing.T, dir string) (*vfs.VirtualFilesystem, vfs.VirtualDentry, *gofer.Filesystem) {
	t.Helper()
	gfs, err := gofer.NewInProcess(fsutil.NewFakeMemoryFile(), dir, gofer.Options{Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gfs.Close)
	v := vfs.New()
	root, err := v.NewRootMount(gfs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(root.DecRef)
	return v, root, gfs
}

// tripCounter returns a check that f costs gfs want round trips.
func tripCounter(t *testing.T, gfs *gofer.Filesystem) func(what string, want int64, f func()) {
	return func(what string, want int64, f func()) {
		t.Helper()
		before := gfs.RoundTrips()
		f()
		if got := gfs.RoundTrips() - before; got != want {
			t.Errorf("%s: %d round trips, want %d", what, got, want)
		}
	}
}

func TestOpenUncachedOneTrip(t *testing.T) {
	dir := t.TempDir()
	mustOK(t, os.MkdirAll(filepath.Join(dir, "d", "sub"), 0o755))
	for _, n := range []string{"a", "b"} {
		mustOK(t, os.WriteFile(filepath.Join(dir, "d", n), []byte("file "+n), 0o644))
	}
	v, root, gfs := mountWritable(t, dir)
	stat(t, v, root, "/d") // the directory is cached from here on
	trips := tripCounter(t, gfs)
	var fd *vfs.FileDescription
	trips("open(d/a, O_RDONLY), uncached", 1, func() { fd = mustOpen(t, v, root, "/d/a", unix.O_RDONLY) })
	buf := make([]byte, 32)
	trips("reading it", 0, func() {
		if n, err := fd.PRead(rootCtx, buf, 0); err != nil || string(buf[:n]) != "file a" {
			t.Errorf("read %q, %v", buf[:n], err)
		}
	})
	fd.DecRef(rootCtx)
	trips("open(d/a, O_RDONLY) again", 0, func() { mustOpen(t, v, root, "/d/a", unix.O_RDONLY).DecRef(rootCtx) })
	trips("open(d/sub, O_RDONLY), uncached", 1, func() { mustOpen(t, v, root, "/d/sub", unix.O_RDONLY).DecRef(rootCtx) })
	trips("open(d/b, O_RDWR), uncached", 2, func() { mustOpen(t, v, root, "/d/b", unix.O_RDWR).DecRef(rootCtx) })
	if _, err := open(v, root, "/d/missing", unix.O_RDONLY); err != unix.ENOENT {
		t.Errorf("open of a missing name: %v, want ENOENT", err)
	}
}

// TestPathAheadOneTrip: a path whose directories are not cached yet is
// walked in one round trip (vfs.PathLookuper), whatever its depth; the
// lookups that follow take the walk's results, a missing name included,
// and a symlink on the way is still followed.
func TestPathAheadOneTrip(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "p", "q", "r", "s")
	mustOK(t, os.MkdirAll(deep, 0o755))
	mustOK(t, os.WriteFile(filepath.Join(deep, "f"), []byte("deep"), 0o644))
	mustOK(t, os.MkdirAll(filepath.Join(dir, "m", "a"), 0o755))
	mustOK(t, os.MkdirAll(filepath.Join(dir, "t", "u"), 0o755))
	mustOK(t, os.Symlink("../../p/q", filepath.Join(dir, "t", "u", "l")))
	mustOK(t, os.Symlink("../p", filepath.Join(dir, "t", "l2")))
	v, root, gfs := mountWritable(t, dir)
	trips := tripCounter(t, gfs)
	var st vfs.Stat
	trips("stat(p/q/r/s/f), uncached", 2, func() { st = stat(t, v, root, "/p/q/r/s/f") })
	if st.Size != 4 {
		t.Errorf("p/q/r/s/f has size %d, want 4", st.Size)
	}
	trips("stat(p/q/r/s) again", 0, func() { stat(t, v, root, "/p/q/r/s") })
	trips("open(p/q/r/s/f) again", 1, func() { mustOpen(t, v, root, "/p/q/r/s/f", unix.O_RDONLY).DecRef(rootCtx) })
	trips("stat(m/a/missing/x), uncached", 1, func() {
		if _, _, err := v.StatAt(rootCtx, &vfs.PathOperation{Root: root, Start: root, Path: "/m/a/missing/x"}); err != unix.ENOENT {
			t.Errorf("stat of a path through a missing name: %v, want ENOENT", err)
		}
	})
	trips("stat(m/a/missing/y), the missing name noted", 0, func() {
		if _, _, err := v.StatAt(rootCtx, &vfs.PathOperation{Root: root, Start: root, Path: "/m/a/missing/y"}); err != unix.ENOENT {
			t.Errorf("stat of a path through a missing name: %v, want ENOENT", err)
		}
	})
	// Through symlinks: the walk stops at each, the resolver follows it.
	if got := stat(t, v, root, "/t/u/l/r/s/f"); got.Ino != st.Ino {
		t.Errorf("t/u/l/r/s/f is inode %d, want p/q/r/s/f's %d", got.Ino, st.Ino)
	}
	if got := stat(t, v, root, "/t/l2/q/r/s/f"); got.Ino != st.Ino {
		t.Errorf("t/l2/q/r/s/f is inode %d, want %d", got.Ino, st.Ino)
	}
	// A name created where a walk found none is found.
	mustOK(t, v.MkdirAt(rootCtx, &vfs.PathOperation{Root: root, Start: root, Path: "/m/a/missing"}, 0o755))
	stat(t, v, root, "/m/a/missing")
}
