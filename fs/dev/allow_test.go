package dev

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// resetAllowList drops the allow-list (every device allowed).
func resetAllowList() {
	allowList.mu.Lock()
	allowList.rules = nil
	allowList.mu.Unlock()
}

func TestAllowList(t *testing.T) {
	defer resetAllowList()
	SetAllowList([]Rule{
		{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"},
		{Allow: true, Type: 'c', Major: 10, Minor: 200, Access: "rw"},
		{Allow: true, Type: 'c', Major: 10, Minor: 202, Access: "w"},
		{Allow: true, Type: 'b', Major: 8, Minor: -1, Access: "r"},
	})
	for _, c := range []struct {
		mode   uint32
		rdev   uint64
		access byte
		want   bool
	}{
		{unix.S_IFCHR, unix.Mkdev(10, 200), 'r', true},
		{unix.S_IFCHR, unix.Mkdev(10, 200), 'm', false},
		{unix.S_IFCHR, unix.Mkdev(10, 201), 'r', false},
		{unix.S_IFCHR, unix.Mkdev(10, 202), 'r', false},
		{unix.S_IFCHR, unix.Mkdev(10, 202), 'w', true},
		{unix.S_IFBLK, unix.Mkdev(8, 3), 'r', true},
		{unix.S_IFBLK, unix.Mkdev(8, 3), 'w', false},
		{unix.S_IFCHR, unix.Mkdev(8, 3), 'r', false},
		// runc's defaults stay allowed whatever the rules say.
		{unix.S_IFCHR, unix.Mkdev(1, 3), 'w', true},
		{unix.S_IFCHR, unix.Mkdev(136, 7), 'r', true},
	} {
		if got := Allowed(c.mode, c.rdev, c.access); got != c.want {
			t.Errorf("Allowed(%o, %d:%d, %c) = %v, want %v", c.mode, unix.Major(c.rdev), unix.Minor(c.rdev), c.access, got, c.want)
		}
	}
	if err := MayOpen(unix.S_IFCHR, unix.Mkdev(10, 202), unix.O_RDWR); err != unix.EPERM {
		t.Errorf("MayOpen O_RDWR of a write-only device = %v, want EPERM", err)
	}
	if err := MayOpen(unix.S_IFCHR, unix.Mkdev(10, 202), unix.O_WRONLY); err != nil {
		t.Errorf("MayOpen O_WRONLY of a write-only device = %v", err)
	}
	resetAllowList()
	if !Allowed(unix.S_IFBLK, unix.Mkdev(8, 3), 'w') {
		t.Error("without an allow-list every device is allowed")
	}
}

func TestAddNode(t *testing.T) {
	fs := New(1)
	if err := fs.AddNode("test1", unix.S_IFCHR|0o640, unix.Mkdev(10, 666), 5, 6); err != nil {
		t.Fatal(err)
	}
	if err := fs.AddNode("null", unix.S_IFCHR|0o600, unix.Mkdev(1, 3), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := fs.AddNode("pts", unix.S_IFCHR|0o600, unix.Mkdev(1, 3), 0, 0); err != unix.EISDIR {
		t.Errorf("AddNode over a directory = %v, want EISDIR", err)
	}
	if err := fs.AddNode("sock", unix.S_IFSOCK|0o600, 0, 0, 0); err != unix.EINVAL {
		t.Errorf("AddNode of a socket = %v, want EINVAL", err)
	}
	n := fs.root.children["test1"]
	st, _ := n.Stat(nil)
	if st.Mode != unix.S_IFCHR|0o640 || st.Rdev != unix.Mkdev(10, 666) || st.UID != 5 || st.GID != 6 {
		t.Errorf("test1 stat = %+v", st)
	}
	if _, err := n.Open(nil, vfs.VirtualDentry{}, unix.O_RDONLY); err != unix.ENXIO {
		t.Errorf("open of a device without a driver = %v, want ENXIO", err)
	}
	if fs.root.children["null"].kind != kindNull {
		t.Error("a node numbered 1:3 is not the null device")
	}
	var names []string
	(&dirFile{inode: fs.root}).Getdents(nil, 0, func(d *vfs.Dirent) bool { names = append(names, d.Name); return true })
	if names[len(names)-1] != "test1" || len(names) != len(rootOrder)+3 {
		t.Errorf("listing = %v: want the fixed names, then test1 once", names)
	}
}
