package gofer

import (
	"fmt"
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
	res, err := c.WalkNames(dfid, names, nil)
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
	if _, err := c.WalkNames(res[0].FID, []string{"x"}, nil); err != unix.ENOTDIR {
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
	res, err = c.WalkNames(dfid, long, nil)
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
