package gofer_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/gofer"
)

// TestSharedSeesHostChanges: with FileAccess Shared the sandbox sees what
// the host does to the tree between its own calls.
func TestSharedSeesHostChanges(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{FileAccess: gofer.Shared})
	ctx := rootCtx
	// No negative cache: a name the host creates later is found.
	if _, err := readAll(t, v, root, "/later"); err != unix.ENOENT {
		t.Fatalf("absent file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "later"), []byte("now"), 0o644)
	if s, err := readAll(t, v, root, "/later"); err != nil || s != "now" {
		t.Errorf("file created by the host: %q %v", s, err)
	}
	// Attributes are revalidated on stat.
	if st := stat(t, v, root, "/f"); st.Size != 5 {
		t.Fatalf("size %d", st.Size)
	}
	hf, _ := os.OpenFile(filepath.Join(dir, "f"), os.O_APPEND|os.O_WRONLY, 0)
	hf.WriteString(" from the host")
	if st := stat(t, v, root, "/f"); st.Size != 19 {
		t.Errorf("size after a host append: %d", st.Size)
	}
	// An open file too, and O_APPEND appends after the host's data.
	f := mustOpen(t, v, root, "/f", unix.O_RDWR|unix.O_APPEND)
	defer f.DecRef(ctx)
	hf.WriteString("!")
	hf.Close()
	if st, _ := f.Stat(ctx); st.Size != 20 {
		t.Errorf("fstat after a host append: %d", st.Size)
	}
	f.Write(ctx, []byte("?"))
	if got := hostFile(t, filepath.Join(dir, "f")); got != "hello from the host!?" {
		t.Errorf("append after the host's: %q", got)
	}
	if off, _ := f.Seek(ctx, 0, unix.SEEK_END); off != 21 {
		t.Errorf("SEEK_END %d", off)
	}
	// A cached name the host removed is gone; one it replaced is the
	// new file.
	if err := os.Remove(filepath.Join(dir, "later")); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, v, root, "/later"); err != unix.ENOENT {
		t.Errorf("file removed by the host: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "g"), []byte("one"), 0o644)
	if s, _ := readAll(t, v, root, "/g"); s != "one" {
		t.Fatalf("g: %q", s)
	}
	os.WriteFile(filepath.Join(dir, "g2"), []byte("two"), 0o644)
	os.Rename(filepath.Join(dir, "g2"), filepath.Join(dir, "g"))
	if s, err := readAll(t, v, root, "/g"); err != nil || s != "two" {
		t.Errorf("file replaced by the host: %q %v", s, err)
	}
	// A directory replaced by a file.
	os.Mkdir(filepath.Join(dir, "x"), 0o755)
	if st := stat(t, v, root, "/x"); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Fatal("x not a directory")
	}
	os.Remove(filepath.Join(dir, "x"))
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o600)
	if st := stat(t, v, root, "/x"); st.Mode != unix.S_IFREG|0o600 {
		t.Errorf("directory replaced by a file: mode %o", st.Mode)
	}
	// A directory renamed by the host: its old name is gone.
	os.Mkdir(filepath.Join(dir, "y"), 0o755)
	os.WriteFile(filepath.Join(dir, "y/in"), []byte("in"), 0o644)
	if s, _ := readAll(t, v, root, "/y/in"); s != "in" {
		t.Fatal("y/in")
	}
	os.Rename(filepath.Join(dir, "y"), filepath.Join(dir, "z"))
	if _, err := readAll(t, v, root, "/y/in"); err != unix.ENOENT {
		t.Errorf("directory renamed by the host: %v", err)
	}
	if s, err := readAll(t, v, root, "/z/in"); err != nil || s != "in" {
		t.Errorf("its new name: %q %v", s, err)
	}
}

// TestExclusiveCaches: in exclusive mode (the default) the same host
// changes are not seen: attributes come from the cache.
func TestExclusiveCaches(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	if st := stat(t, v, root, "/f"); st.Size != 5 {
		t.Fatalf("size %d", st.Size)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("longer contents"), 0o644)
	if st := stat(t, v, root, "/f"); st.Size != 5 {
		t.Errorf("exclusive mode asked the host: size %d", st.Size)
	}
}

func TestParseFileAccess(t *testing.T) {
	for s, want := range map[string]gofer.FileAccess{"exclusive": gofer.Exclusive, "": gofer.Exclusive, "shared": gofer.Shared} {
		if got, err := gofer.ParseFileAccess(s); err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := gofer.ParseFileAccess("bogus"); err == nil {
		t.Error("bogus accepted")
	}
}
