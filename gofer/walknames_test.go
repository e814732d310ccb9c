package gofer

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWalkNames: one request looks up siblings, giving each found name a
// fid and its attributes (a symlink as itself, never followed) and each
// other its errno; the fids work as walked ones do.
func TestWalkNames(t *testing.T) {
	root := tree(t)
	c := serve(t, root, true)
	dfid, _, err := c.Walk1(0, "d")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"f", "missing", "e", "rel2"}
	res, err := c.WalkNames(dfid, names, 0, nil)
	if err != nil || len(res) != len(names) {
		t.Fatalf("WalkNames: %v %v", res, err)
	}
	if res[0].Err != 0 || res[0].Attr.Size != 5 || res[0].Attr.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("f: %+v", res[0])
	}
	if res[1].Err != unix.ENOENT {
		t.Errorf("missing: %v", res[1].Err)
	}
	if res[2].Err != 0 || res[2].Attr.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("e: %+v", res[2])
	}
	if res[3].Err != 0 || res[3].Attr.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("rel2: %+v", res[3])
	}
	if tgt, err := c.Readlink(res[3].FID); err != nil || tgt != "../../canary" {
		t.Errorf("readlink of a batch fid: %q %v", tgt, err)
	}
	fd, err := c.Open(res[0].FID, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	n, _ := unix.Pread(fd, buf, 0)
	unix.Close(fd)
	if string(buf[:n]) != "hello" {
		t.Errorf("read through a batch fid: %q", buf[:n])
	}
	if _, err := c.WalkNames(res[0].FID, []string{"x"}, 0, nil); err != unix.ENOTDIR {
		t.Errorf("WalkNames below a file: %v", err)
	}
	// The most names that fit, at NAME_MAX each, make one message.
	var long []string
	for size := 0; len(long) < MaxWalkNames; {
		n := fmt.Sprintf("%03d%s", len(long), strings.Repeat("n", MaxName-3))
		if size+4+len(n) > MaxWalkNamesBytes {
			break
		}
		size += 4 + len(n)
		long = append(long, n)
	}
	res, err = c.WalkNames(dfid, long, 0, nil)
	if err != nil || len(res) != len(long) || res[0].Err != unix.ENOENT {
		t.Errorf("%d long names: %d results, %v", len(long), len(res), err)
	}
	for _, r := range res {
		if r.Err == 0 {
			c.Clunk(r.FID)
		}
	}
	if c.Dead() {
		t.Fatal("connection lost")
	}
}

// TestWalkXattrs: asked for it, a batch says which files have no
// attribute the sandbox can see; a file with a user.* attribute, or one
// the sandbox set (stored under the host prefix), has one. Host-only
// trusted.* names do not count, and without the flag nothing is claimed.
func TestWalkXattrs(t *testing.T) {
	var probe [64]byte
	dir := t.TempDir()
	if _, err := llistxattrAt(unix.AT_FDCWD, dir, probe[:]); err == unix.ENOSYS {
		t.Skip("no listxattrat (Linux 6.13)")
	}
	for _, n := range []string{"plain", "user", "sandbox", "hostonly"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Setxattr(filepath.Join(dir, "user"), "user.k", []byte("v"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	if err := unix.Setxattr(filepath.Join(dir, "sandbox"), hostXattrPrefix+"security.x", []byte("v"), 0); err != nil {
		t.Skipf("no trusted xattrs here: %v", err)
	}
	if err := unix.Setxattr(filepath.Join(dir, "hostonly"), "trusted.other", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	c := serve(t, dir, true)
	names := []string{"plain", "user", "sandbox", "hostonly"}
	want := []bool{true, false, false, true}
	res, err := c.WalkNames(0, names, WalkXattrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != 0 || r.NoXattr != want[i] {
			t.Errorf("%s: err %v, NoXattr %v, want %v", names[i], r.Err, r.NoXattr, want[i])
		}
	}
	res, err = c.WalkNames(0, names, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.NoXattr {
			t.Errorf("%s: NoXattr without WalkXattrs", names[i])
		}
	}
	var listed []NameResult
	for off := int64(0); ; {
		var eof bool
		err := c.GetdentsWalk(0, off, MaxMessage-1024, WalkXattrs, func(b []byte, e bool, r []NameResult) error {
			eof = e
			for len(b) >= 19 {
				off = int64(binary.LittleEndian.Uint64(b[8:]))
				b = b[binary.LittleEndian.Uint16(b[16:]):]
			}
			listed = append(listed, r...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if eof {
			break
		}
	}
	none := 0
	for _, r := range listed {
		if r.NoXattr {
			none++
		}
	}
	if len(listed) != 4 || none != 2 {
		t.Errorf("GetdentsWalk: %d results, %d without attributes", len(listed), none)
	}
}

// TestWalkOpen: Twalkopen of a regular file returns its fid, attributes and
// a descriptor opened as asked; of a directory or a symlink (not
// followed), the fid and attributes without one; of a missing name, its
// errno; an escaping symlink is never opened. A fid walked this way opens
// again with Topen.
func TestWalkOpen(t *testing.T) {
	root := tree(t)
	c := serve(t, root, true)
	rfid, _, err := c.Attach()
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := c.Walk1(rfid, "d")
	if err != nil {
		t.Fatal(err)
	}
	fid, a, fd, err := c.WalkOpen(d, "f", unix.O_RDONLY)
	if err != nil || fd < 0 || a.Size != 5 || a.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("walkopen d/f: fid %d size %d mode %o fd %d: %v", fid, a.Size, a.Mode, fd, err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Pread(fd, buf, 0); err != nil || string(buf[:n]) != "hello" {
		t.Errorf("read through the descriptor: %q, %v", buf[:n], err)
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_ACCMODE != unix.O_RDONLY {
		t.Errorf("descriptor flags %#x, %v; want read-only", fl, err)
	}
	unix.Close(fd)
	fd2, err := c.Open(fid, unix.O_RDONLY)
	if err != nil {
		t.Errorf("Topen of the walked fid: %v", err)
	} else {
		unix.Close(fd2)
	}
	for _, name := range []string{"e", "rel2"} {
		_, a, fd, err := c.WalkOpen(d, name, unix.O_RDONLY)
		if err != nil || fd >= 0 {
			t.Errorf("walkopen d/%s: mode %o fd %d, %v; want a fid and no descriptor", name, a.Mode, fd, err)
		}
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if _, _, fd, err := c.WalkOpen(d, "missing", unix.O_RDONLY); err != unix.ENOENT || fd >= 0 {
		t.Errorf("walkopen of a missing name: fd %d, %v; want ENOENT", fd, err)
	}
	// A read-only server does not open for writing; the walk stands.
	if _, _, fd, err := c.WalkOpen(d, "f", unix.O_RDWR); err != nil || fd >= 0 {
		t.Errorf("walkopen O_RDWR on a read-only server: fd %d, %v; want the walk only", fd, err)
	}
}
