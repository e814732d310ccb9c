package gofer

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serve starts a server on dir and returns a connected client.
func serve(t *testing.T, dir string, readOnly bool) *Client {
	t.Helper()
	_, c := serveServer(t, dir, readOnly)
	return c
}

// serveServer is serve that returns the server too.
func serveServer(t *testing.T, dir string, readOnly bool) (*Server, *Client) {
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
	return s, c
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
	// A whiteout is made by the sentry (rename, then a 0:0 device node,
	// a placeholder): the server itself refuses RENAME_WHITEOUT.
	if _, err := c.Rename(&Request{Type: TRename, FID: rfid, Name: "x1", FID2: rfid, Name2: "x3", Flags: unix.RENAME_WHITEOUT}); err != unix.EINVAL {
		t.Errorf("RENAME_WHITEOUT: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "sub/moved")); string(b) != "da" {
		t.Errorf("renamed link: %q", b)
	}
	if err := c.Call(&Request{Type: TUnlink, FID: rfid, Name: "sub", Flags: unix.AT_REMOVEDIR}); err != unix.ENOTEMPTY {
		t.Errorf("rmdir non-empty: %v", err)
	}
	// A device node is a placeholder: the client sees the device, the
	// host an empty regular file, and its open is refused.
	dfid, da, _, err := c.NewNode(&Request{Type: TMknod, FID: rfid, Name: "dev", Mode: unix.S_IFCHR | 0o620, Rdev: unix.Mkdev(1, 3)})
	if err != nil {
		t.Fatalf("mknod device: %v", err)
	}
	if da.Mode != unix.S_IFCHR|0o620 || da.Rdev != unix.Mkdev(1, 3) || da.Size != 0 {
		t.Errorf("device attributes: mode %o rdev %x size %d", da.Mode, da.Rdev, da.Size)
	}
	var hst unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "dev"), &hst); err != nil || hst.Mode&unix.S_IFMT != unix.S_IFREG || hst.Rdev != 0 {
		t.Errorf("host sees mode %o rdev %x (%v), want a regular file", hst.Mode, hst.Rdev, err)
	}
	if fd, err := c.Open(dfid, unix.O_RDWR); err != unix.EACCES {
		t.Errorf("open of a placeholder: fd %d, %v", fd, err)
	}
	if err := c.Call(&Request{Type: TSetStat, FID: dfid, Mask: SetMode, Mode: 0o640}); err != nil {
		t.Errorf("chmod of a device: %v", err)
	}
	if res, err := c.Walk(rfid, []string{"dev"}); err != nil || res[0].Attr.Mode != unix.S_IFCHR|0o640 || res[0].Attr.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("walk to the device after chmod: %+v %v", res, err)
	}
	// The sandbox can neither forge nor reach the marker.
	if err := c.Call(&Request{Type: TSetXattr, FID: rfid, Name: "trusted.rampart.dev", Value: []byte("c 1 3")}); err != nil {
		t.Errorf("setxattr trusted.*: %v", err)
	}
	if _, err := c.Bytes(&Request{Type: TGetXattr, FID: dfid, Name: "trusted.rampart.dev", Count: 64}); err != unix.ENODATA {
		t.Errorf("the marker is visible as trusted.rampart.dev: %v", err)
	}
	if _, err := c.Bytes(&Request{Type: TGetXattr, FID: rfid, Name: "system.posix_acl_access", Count: 64}); err != unix.EOPNOTSUPP {
		t.Errorf("system.* reached: %v", err)
	}
	if _, _, _, err := c.NewNode(&Request{Type: TMknod, FID: rfid, Name: "bad", Mode: unix.S_IFDIR | 0o600}); err != unix.EINVAL {
		t.Errorf("mknod of a directory: %v", err)
	}
}

// TestTmpfile: Ttmpfile makes an unnamed file whose fid works (stat, open,
// chmod) and that Tlink names; with O_EXCL the host refuses the link.
func TestTmpfile(t *testing.T) {
	root := tree(t)
	c := serve(t, root, false)
	rfid, _, _ := c.Attach()
	tfid, a, fd, err := c.NewNode(&Request{Type: TTmpfile, FID: rfid, Mode: 0o640})
	if err != nil {
		t.Fatalf("tmpfile: %v", err)
	}
	if a.Mode != unix.S_IFREG|0o640 || a.Nlink != 0 || fd < 0 {
		t.Fatalf("tmpfile: mode %o nlink %d fd %d", a.Mode, a.Nlink, fd)
	}
	unix.Write(fd, []byte("tmp"))
	unix.Close(fd)
	if fd2, err := c.Open(tfid, unix.O_RDONLY); err != nil {
		t.Errorf("open of the unnamed file: %v", err)
	} else {
		b := make([]byte, 8)
		if n, _ := unix.Pread(fd2, b, 0); string(b[:n]) != "tmp" {
			t.Errorf("read %q", b[:n])
		}
		unix.Close(fd2)
	}
	if err := c.Call(&Request{Type: TSetStat, FID: tfid, Mask: SetMode, Mode: 0o600}); err != nil {
		t.Errorf("chmod of the unnamed file: %v", err)
	}
	if _, la, _, err := c.NewNode(&Request{Type: TLink, FID: rfid, Name: "named", FID2: tfid}); err != nil || la.Nlink != 1 || la.Ino != a.Ino {
		t.Errorf("link of the unnamed file: %+v %v", la, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "named")); err != nil || string(b) != "tmp" {
		t.Errorf("host sees %q %v", b, err)
	}
	if st, err := c.Stat(tfid); err != nil || st.Mode != unix.S_IFREG|0o600 || st.Nlink != 1 {
		t.Errorf("stat after link: %+v %v", st, err)
	}
	xfid, _, xfd, err := c.NewNode(&Request{Type: TTmpfile, FID: rfid, Flags: unix.O_EXCL, Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(xfd)
	if _, _, _, err := c.NewNode(&Request{Type: TLink, FID: rfid, Name: "named2", FID2: xfid}); err != unix.ENOENT {
		t.Errorf("link of an O_EXCL unnamed file: %v", err)
	}
	ffid, _, _ := c.Walk1(rfid, "named")
	if _, _, _, err := c.NewNode(&Request{Type: TTmpfile, FID: ffid, Mode: 0o600}); err != unix.ENOTDIR {
		t.Errorf("tmpfile in a file: %v", err)
	}
	ro := serve(t, root, true)
	rr, _, _ := ro.Attach()
	if _, _, _, err := ro.NewNode(&Request{Type: TTmpfile, FID: rr, Mode: 0o600}); err != unix.EROFS {
		t.Errorf("tmpfile on a read-only server: %v", err)
	}
}

// TestStatAt: Tstatat stats a name without making a fid, and shows a
// placeholder as its device.
func TestStatAt(t *testing.T) {
	root := tree(t)
	c := serve(t, root, false)
	rfid, _, _ := c.Attach()
	dfid, _, err := c.Walk1(rfid, "d")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.StatAt(dfid, "f"); err != nil || a.Size != 5 || a.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("statat d/f: %+v %v", a, err)
	}
	if a, err := c.StatAt(rfid, "abs"); err != nil || a.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("statat of a symlink follows it: %+v %v", a, err)
	}
	if _, err := c.StatAt(dfid, "missing"); err != unix.ENOENT {
		t.Errorf("statat missing: %v", err)
	}
	ffid, _, _ := c.Walk1(dfid, "f")
	if _, err := c.StatAt(ffid, "x"); err != unix.ENOTDIR {
		t.Errorf("statat in a file: %v", err)
	}
	if _, _, _, err := c.NewNode(&Request{Type: TMknod, FID: rfid, Name: "zero", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 5)}); err != nil {
		t.Fatal(err)
	}
	if a, err := c.StatAt(rfid, "zero"); err != nil || a.Mode != unix.S_IFCHR|0o666 || a.Rdev != unix.Mkdev(1, 5) {
		t.Errorf("statat of a placeholder: %+v %v", a, err)
	}
}

// TestPlaceholderMarker checks the decoding of device placeholders' marker
// and of attribute names between the sandbox and the host.
func TestPlaceholderMarker(t *testing.T) {
	for _, c := range []struct {
		v  string
		ok bool
		p  placeholder
	}{
		{"c 1 3", true, placeholder{unix.S_IFCHR, unix.Mkdev(1, 3)}},
		{"b 8 1", true, placeholder{unix.S_IFBLK, unix.Mkdev(8, 1)}},
		{"c 0 0", true, placeholder{unix.S_IFCHR, 0}},
		{"p 1 3", false, placeholder{}},
		{"c 1", false, placeholder{}},
		{"c 1 3 4", false, placeholder{}},
		{"c -1 3", false, placeholder{}},
		{"c 99999999999 3", false, placeholder{}},
		{"", false, placeholder{}},
	} {
		p, ok := parsePlaceholder(c.v)
		if ok != c.ok || (ok && p != c.p) {
			t.Errorf("parse %q: %+v %v", c.v, p, ok)
		}
		if ok && placeholderValue(p.ftype, p.rdev) != c.v {
			t.Errorf("encode %+v: %q", p, placeholderValue(p.ftype, p.rdev))
		}
	}
	for _, n := range []string{"user.a", "trusted.a", "security.selinux"} {
		h, ok := hostXattrName(n)
		if !ok {
			t.Fatalf("%s refused", n)
		}
		if back, ok := sandboxXattrName(h); !ok || back != n {
			t.Errorf("%s -> %s -> %s %v", n, h, back, ok)
		}
	}
	for _, n := range []string{"system.posix_acl_access", "foo.bar", ""} {
		if _, ok := hostXattrName(n); ok {
			t.Errorf("%q accepted", n)
		}
	}
	host := []byte("user.a\x00trusted.overlay.x\x00security.capability\x00trusted.rampart.dev\x00trusted.rampart.trusted.t\x00trusted.rampart.security.s\x00")
	if got := string(sandboxXattrList(host)); got != "user.a\x00trusted.t\x00security.s\x00" {
		t.Errorf("list: %q", got)
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
		{Type: TMknod, FID: 1, Name: "null", Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 3)},
		{Type: TTmpfile, FID: 1, Flags: unix.O_EXCL, Mode: 0o600, UID: 1000, GID: 1000},
		{Type: TStatAt, FID: 2, Name: "f"},
		{Type: TWalkNames, FID: 3, Names: []string{"a", "bb", "c"}},
		{Type: TClunks, FIDs: []uint64{3, 9, 1 << 40}},
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

// serveHooked serves tree(t) with testHookServe set to hook and returns
// the server, a client and the root's fid.
func serveHooked(t *testing.T, hook func(*Request)) (*Server, *Client, uint64) {
	t.Helper()
	testHookServe.Store(&hook)
	t.Cleanup(func() { testHookServe.Store(nil) })
	s, c := serveServer(t, tree(t), true)
	rfid, _, err := c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	return s, c, rfid
}

// TestServeWhileBusy: a listing keeps its server goroutine busy, and a
// request sent meanwhile is served by another (a helper); requests sent
// together all come back; no helper outlives the work.
func TestServeWhileBusy(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	s, c, rfid := serveHooked(t, func(r *Request) {
		if r.Type == TGetdents {
			entered <- struct{}{}
			<-release
		}
	})
	listed := make(chan error, 1)
	go func() {
		listed <- c.Getdents(rfid, 0, 4096, func([]byte, bool) error { return nil })
	}()
	<-entered // the stat is sent after the listing is taken
	stat := make(chan error, 1)
	go func() { _, err := c.Stat(rfid); stat <- err }()
	select {
	case err := <-stat:
		if err != nil {
			t.Fatalf("stat while a listing is served: %v", err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("a stat waited for a listing being served")
	}
	close(release)
	if err := <-listed; err != nil {
		t.Fatalf("getdents: %v", err)
	}
	d, err := c.Walk(rfid, []string{"d"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, err := c.StatAt(d[0].FID, "f"); err != nil || a.Size != 5 {
				t.Errorf("statat: %v %d", err, a.Size)
			}
		}()
	}
	wg.Wait()
	// At most the helper started for the listing, if it still waits
	// for a request, is left.
	waitHelpers(t, s, 1)
}

// waitHelpers waits up to 10 s for s's helpers to end, but max.
func waitHelpers(t *testing.T, s *Server, max int32) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.helpers.Load() > max; {
		if time.Now().After(deadline) {
			t.Fatalf("%d helpers left after the work", s.helpers.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeWhileSlow: a short request whose host operation stalls (a
// stat on a hung NFS mount) keeps the receiver; after slowRequest another
// goroutine reads the socket (the watch), so a request for another file
// sent meanwhile is answered while the first still waits, and the helper
// ends once the work is done.
func TestServeWhileSlow(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	s, c, rfid := serveHooked(t, func(r *Request) {
		if r.Type == TStat {
			once.Do(func() {
				entered <- struct{}{}
				<-release
			})
		}
	})
	slow := make(chan error, 1)
	go func() { _, err := c.Stat(rfid); slow <- err }()
	<-entered
	walked := make(chan error, 1)
	go func() { _, err := c.Walk(rfid, []string{"d"}); walked <- err }()
	select {
	case err := <-walked:
		if err != nil {
			t.Fatalf("walk while a stat stalls: %v", err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("a walk waited for a stalled stat")
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("stat: %v", err)
	}
	waitHelpers(t, s, 0)
}

// TestClunkLater: fids released with ClunkLater are gone once a batch is
// sent, and not before (the gofer keeps them until then).
func TestClunkLater(t *testing.T) {
	c := serve(t, tree(t), true)
	rfid, _, _ := c.Attach()
	var fids []uint64
	for i := 0; i < clunkBatch; i++ {
		res, err := c.Walk(rfid, []string{"d"})
		if err != nil {
			t.Fatal(err)
		}
		fids = append(fids, res[0].FID)
	}
	for _, fid := range fids[:clunkBatch-1] {
		c.ClunkLater(fid)
	}
	if _, err := c.Stat(fids[0]); err != nil {
		t.Fatalf("stat of a fid not yet sent for clunking: %v", err)
	}
	c.ClunkLater(fids[clunkBatch-1])
	for _, fid := range fids {
		if _, err := c.Stat(fid); err != unix.EBADF {
			t.Fatalf("stat of fid %d after its batch: %v, want EBADF", fid, err)
		}
	}
	if _, err := c.Stat(rfid); err != nil {
		t.Errorf("the root after a batch: %v", err)
	}
}

// TestLargeRepliesConcurrent: many callers whose replies are large fill
// the client's receive queue; the server must keep receiving while a
// reply waits for room (the client's callers first finish sending, then
// read), or both ends block.
func TestLargeRepliesConcurrent(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 1500; i++ {
		name := filepath.Join(dir, "a-rather-long-file-name-to-make-records-bigger-"+strconv.Itoa(i))
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := serve(t, dir, true)
	rfid, _, _ := c.Attach()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				err := c.Getdents(rfid, 0, MaxMessage-1024, func(b []byte, eof bool) error {
					if len(b) < 32768 {
						t.Errorf("short listing: %d bytes", len(b))
					}
					return nil
				})
				if err != nil {
					t.Errorf("getdents: %v", err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("concurrent large replies did not come back")
	}
}
