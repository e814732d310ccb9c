package gofer

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// serve starts a server on dir and returns a connected client.
func serve(t *testing.T, dir string, readOnly bool) *Client {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(root, fds[0], readOnly)
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

// tree makes dir/root with files and escape symlinks, and a canary
// outside it.
func tree(t *testing.T) string {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(base, "canary"), []byte("CANARY"), 0o644))
	must(os.MkdirAll(filepath.Join(root, "d/e"), 0o755))
	must(os.WriteFile(filepath.Join(root, "d/f"), []byte("hello"), 0o644))
	must(os.Symlink(filepath.Join(base, "canary"), filepath.Join(root, "abs")))
	must(os.Symlink("../canary", filepath.Join(root, "rel")))
	must(os.Symlink("../../canary", filepath.Join(root, "d/rel2")))
	must(os.Symlink(base, filepath.Join(root, "dirlink")))
	return root
}

func TestReadOnlyOps(t *testing.T) {
	root := tree(t)
	c := serve(t, root, true)
	rfid, ra, err := c.Attach()
	if err != nil || ra.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Fatalf("attach: %v %o", err, ra.Mode)
	}
	res, err := c.Walk(rfid, []string{"d", "f"})
	if err != nil || len(res) != 2 || res[1].Attr.Size != 5 {
		t.Fatalf("walk d/f: %v %+v", err, res)
	}
	fd, err := c.Open(res[1].FID, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _ := unix.Pread(fd, buf, 0)
	unix.Close(fd)
	if string(buf[:n]) != "hello" {
		t.Errorf("read %q", buf[:n])
	}
	if _, err := c.Open(res[1].FID, unix.O_RDWR); err != unix.EROFS {
		t.Errorf("open rw on read-only: %v", err)
	}
	if err := c.Call(&Request{Type: TUnlink, FID: res[0].FID, Name: "f"}); err != unix.EROFS {
		t.Errorf("unlink on read-only: %v", err)
	}
	// Partial walk: the error of the missing component comes back.
	res2, err := c.Walk(rfid, []string{"d", "nope"})
	if err != unix.ENOENT || len(res2) != 1 {
		t.Errorf("partial walk: %v %d", err, len(res2))
	}
	if _, err := c.Walk(rfid, []string{"nope"}); err != unix.ENOENT {
		t.Errorf("walk nope: %v", err)
	}
	// Getdents lists d.
	var names []string
	err = c.Getdents(res[0].FID, 0, 4096, func(b []byte, eof bool) error {
		if !eof {
			t.Error("a small directory did not end in one reply")
		}
		for len(b) >= 19 {
			rl := int(b[16]) | int(b[17])<<8
			name := bytes.TrimRight(b[19:rl], "\x00")
			names = append(names, string(name))
			b = b[rl:]
		}
		return nil
	})
	if err != nil || len(names) != 5 { // . .. e f rel2
		t.Errorf("getdents: %v %v", err, names)
	}
	st, err := c.StatFS(rfid)
	if err != nil || st.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("statfs: %v %x", err, st.Flags)
	}
	c.Clunk(res[1].FID)
	if _, err := c.Stat(res[1].FID); err != unix.EBADF {
		t.Errorf("stat after clunk: %v", err)
	}
}

// TestNoEscape checks that no walk or open leaves the served root.
func TestNoEscape(t *testing.T) {
	root := tree(t)
	c := serve(t, root, true)
	rfid, _, _ := c.Attach()
	for _, name := range []string{"abs", "rel", "dirlink"} {
		fid, a, err := c.Walk1(rfid, name)
		if err != nil {
			t.Fatalf("walk %s: %v", name, err)
		}
		if a.Mode&unix.S_IFMT != unix.S_IFLNK {
			t.Errorf("%s: walked through a symlink (mode %o)", name, a.Mode)
		}
		if fd, err := c.Open(fid, unix.O_RDONLY); err == nil {
			unix.Close(fd)
			t.Errorf("%s: opened a symlink", name)
		}
		if _, _, err := c.Walk1(fid, "canary"); err == nil {
			t.Errorf("%s: walked below a symlink", name)
		}
	}
	// ".." and names with '/' are malformed: the server drops the
	// connection rather than answering.
	c2 := serve(t, root, true)
	r2, _, _ := c2.Attach()
	if _, err := c2.Walk(r2, []string{".."}); err == nil {
		t.Error("walk .. succeeded")
	}
	c3 := serve(t, root, true)
	r3, _, _ := c3.Attach()
	if _, err := c3.Walk(r3, []string{"../canary"}); err == nil {
		t.Error("walk ../canary succeeded")
	}
	if _, err := c3.Stat(r3); err != unix.EIO {
		t.Errorf("connection still up after a malformed message: %v", err)
	}
}

func TestWriteOps(t *testing.T) {
	root := tree(t)
	c := serve(t, root, false)
	rfid, _, _ := c.Attach()
	fid, a, fd, err := c.NewNode(&Request{Type: TCreate, FID: rfid, Name: "new", Flags: unix.O_RDWR, Mode: 0o640, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	if err != nil || fd < 0 || a.Mode&0o777 != 0o640 {
		t.Fatalf("create: %v %d %o", err, fd, a.Mode)
	}
	unix.Pwrite(fd, []byte("data"), 0)
	unix.Close(fd)
	if err := c.Call(&Request{Type: TSetStat, FID: fid, Mask: SetSize | SetMode, Off: 2, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "new")); string(b) != "da" {
		t.Errorf("after truncate: %q", b)
	}
	if _, _, _, err := c.NewNode(&Request{Type: TMkdir, FID: rfid, Name: "sub", Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.NewNode(&Request{Type: TSymlink, FID: rfid, Name: "sl", Name2: "new"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.NewNode(&Request{Type: TLink, FID: rfid, Name: "hl", FID2: fid}); err != nil {
		t.Fatal(err)
	}
	subfid, _, _ := c.Walk1(rfid, "sub")
	if res, err := c.Rename(&Request{Type: TRename, FID: rfid, Name: "hl", FID2: subfid, Name2: "moved"}); err != nil || len(res) != 1 || res[0].Attr.Size != 2 {
		t.Fatalf("rename: %v %+v", err, res)
	}
	os.WriteFile(filepath.Join(root, "x1"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(root, "x22"), []byte("22"), 0o644)
	if res, err := c.Rename(&Request{Type: TRename, FID: rfid, Name: "x1", FID2: rfid, Name2: "x22", Flags: unix.RENAME_EXCHANGE}); err != nil || len(res) != 2 || res[0].Attr.Size != 1 || res[1].Attr.Size != 2 {
		t.Fatalf("exchange: %v %+v", err, res)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "x1")); string(b) != "22" {
		t.Errorf("exchanged: x1 has %q", b)
	}
	if _, err := c.Rename(&Request{Type: TRename, FID: rfid, Name: "x1", FID2: rfid, Name2: "x22", Flags: unix.RENAME_NOREPLACE}); err != unix.EEXIST {
		t.Errorf("RENAME_NOREPLACE over a file: %v", err)
	}
	if _, err := c.Rename(&Request{Type: TRename, FID: rfid, Name: "x1", FID2: rfid, Name2: "x3", Flags: unix.RENAME_WHITEOUT}); err != unix.EINVAL {
		t.Errorf("RENAME_WHITEOUT: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "sub/moved")); string(b) != "da" {
		t.Errorf("renamed link: %q", b)
	}
	if err := c.Call(&Request{Type: TUnlink, FID: rfid, Name: "sub", Flags: unix.AT_REMOVEDIR}); err != unix.ENOTEMPTY {
		t.Errorf("rmdir non-empty: %v", err)
	}
	if _, _, _, err := c.NewNode(&Request{Type: TMknod, FID: rfid, Name: "dev", Mode: unix.S_IFCHR | 0o600, Rdev: 0x103}); err != unix.EPERM {
		t.Errorf("mknod device: %v", err)
	}
}

// TestConcurrent runs many requests in flight at once.
func TestConcurrent(t *testing.T) {
	root := tree(t)
	c := serve(t, root, true)
	rfid, _, _ := c.Attach()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				res, err := c.Walk(rfid, []string{"d", "f"})
				if err != nil || res[1].Attr.Size != 5 {
					t.Errorf("walk: %v", err)
					return
				}
				c.Clunk(res[0].FID)
				c.Clunk(res[1].FID)
			}
		}()
	}
	wg.Wait()
}

// TestGoferDies checks that calls fail with EIO once the server is gone.
func TestGoferDies(t *testing.T) {
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	root, _ := unix.Open(t.TempDir(), unix.O_PATH|unix.O_CLOEXEC, 0)
	s, _ := NewServer(root, fds[0], true)
	go s.Serve()
	c, err := NewClient(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	unix.Shutdown(fds[0], unix.SHUT_RDWR)
	if _, _, err := c.Attach(); err != unix.EIO {
		t.Errorf("attach after death: %v", err)
	}
}

// FuzzDecodeRequest checks that the decoder never panics, and that what it
// accepts re-encodes to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	seeds := []Request{
		{Type: TVersion, Flags: Version, Count: MaxMessage},
		{Type: TAttach},
		{Type: TWalk, FID: 3, Names: []string{"usr", "lib"}},
		{Type: TOpen, FID: 4, Flags: unix.O_RDONLY},
		{Type: TGetdents, FID: 4, Off: 7, Count: 4096},
		{Type: TCreate, FID: 1, Name: "x", Mode: 0o644},
		{Type: TSymlink, FID: 1, Name: "l", Name2: "/etc/passwd"},
		{Type: TRename, FID: 1, Name: "a", FID2: 2, Name2: "b"},
		{Type: TRename, FID: 1, Name: "a", FID2: 2, Name2: "b", Flags: unix.RENAME_EXCHANGE},
		{Type: TSetStat, FID: 1, Mask: SetSize, Off: 10},
		{Type: TSetXattr, FID: 1, Name: "user.x", Value: []byte("v")},
		{Type: TConnect, FID: 5, Flags: unix.SOCK_STREAM},
		{Type: TBind, FID: 1, Name: "s", Flags: unix.SOCK_SEQPACKET, Mode: 0o755, UID: 1, GID: 2},
	}
	for i := range seeds {
		var e Encoder
		if err := EncodeRequest(&e, &seeds[i]); err != nil {
			f.Fatal(err)
		}
		f.Add(e.B)
	}
	f.Add([]byte{12, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0})
	f.Add([]byte{255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var r Request
		if DecodeRequest(pkt, &r) != nil {
			return
		}
		var e Encoder
		if err := EncodeRequest(&e, &r); err != nil {
			t.Fatalf("accepted request does not re-encode: %v", err)
		}
		if !bytes.Equal(e.B, pkt) {
			t.Fatalf("re-encoding differs:\n%x\n%x", e.B, pkt)
		}
	})
}
