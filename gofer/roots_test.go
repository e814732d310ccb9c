package gofer

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// serveFile starts a file server on dir/name and returns a connected
// client.
func serveFile(t *testing.T, dir, name string, readOnly bool) *Client {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewFileServer(dfd, name, fds[0], readOnly)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(); close(done) }()
	c, err := NewClient(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); <-done })
	return c
}

// A file root is stat'ed and opened like any file; nothing below or beside
// it (its parent directory, a sibling) is reachable, and read-only is
// enforced.
func TestFileRoot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sibling"), []byte("CANARY"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := serveFile(t, dir, "f", true)
	fid, a, err := c.Attach()
	if err != nil || a.Mode&unix.S_IFMT != unix.S_IFREG || a.Size != 5 {
		t.Fatalf("attach: %v %+v", err, a)
	}
	fd, err := c.Open(fid, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _ := unix.Pread(fd, buf, 0)
	unix.Close(fd)
	if string(buf[:n]) != "hello" {
		t.Errorf("read %q", buf[:n])
	}
	if _, err := c.Open(fid, unix.O_RDWR); err != unix.EROFS {
		t.Errorf("open rw of a read-only file root: %v, want EROFS", err)
	}
	if _, err := c.Walk(fid, []string{"sibling"}); err != unix.ENOTDIR {
		t.Errorf("walk from a file root: %v, want ENOTDIR", err)
	}
	if err := c.Call(&Request{Type: TUnlink, FID: fid, Name: "sibling"}); err == nil {
		t.Errorf("unlink beside a file root succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "sibling")); err != nil {
		t.Errorf("sibling: %v", err)
	}
	if _, err := c.StatFS(fid); err != nil {
		t.Errorf("statfs: %v", err)
	}

	// A writable file root opens for writing.
	w := serveFile(t, dir, "f", false)
	wfid, _, err := w.Attach()
	if err != nil {
		t.Fatal(err)
	}
	fd, err = w.Open(wfid, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		t.Fatalf("open for writing: %v", err)
	}
	unix.Pwrite(fd, []byte("bye"), 0)
	unix.Close(fd)
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "bye" {
		t.Errorf("file now %q", b)
	}
}

// A file root swapped on the host for another file after it was served is
// refused rather than followed.
func TestFileRootSwapped(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := serveFile(t, dir, "f", true)
	fid, _, err := c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f)
	if err := os.Symlink("/etc/passwd", f); err != nil {
		t.Fatal(err)
	}
	if fd, err := c.Open(fid, unix.O_RDONLY); err == nil {
		unix.Close(fd)
		t.Fatal("opened a file root swapped for a symlink")
	}
}

func TestNewFileServerRefusesDirs(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	for _, name := range []string{"d", "..", "a/b", "missing"} {
		dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewFileServer(dfd, name, -1, true); err == nil {
			t.Errorf("NewFileServer(%q) succeeded", name)
		}
	}
}
