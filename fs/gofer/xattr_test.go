package gofer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// TestKnownNoXattr: once the sandbox asks for attributes, files walked by
// listings and batches that the gofer found without attributes answer
// getxattr and listxattr without a round trip; a file with one, or one
// the sandbox sets one on, still shows it; and a walk's answer is not used
// once a setxattr came after the walk began.
func TestKnownNoXattr(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{})
	ctx := rootCtx
	name, _ := unix.BytePtrFromString(dir)
	if _, _, e := unix.Syscall6(unix.SYS_LISTXATTRAT, ^uintptr(99) /* AT_FDCWD */, uintptr(unsafe.Pointer(name)), unix.AT_SYMLINK_NOFOLLOW, 0, 0, 0); e == unix.ENOSYS {
		t.Skip("no listxattrat (Linux 6.13)")
	}
	for _, d := range []string{"x", "y"} {
		os.Mkdir(filepath.Join(dir, "d", d), 0o755)
		for i := 0; i < 60; i++ {
			os.WriteFile(filepath.Join(dir, "d", d, fmt.Sprintf("f%02d", i)), nil, 0o644)
		}
	}
	if err := unix.Setxattr(filepath.Join(dir, "d/x/f07"), "user.k", []byte("v"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	dentry := func(p string) vfs.VirtualDentry {
		t.Helper()
		vd, err := v.GetDentryAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: p})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(vd.DecRef)
		return vd
	}
	gfs := root.Mount().Filesystem().(*gofer.Filesystem)
	// The first question goes to the gofer, and makes walks ask.
	if _, err := vfs.GetXattr(ctx, dentry("/f"), "security.selinux"); err != unix.ENODATA {
		t.Fatalf("getxattr: %v", err)
	}
	calls := gofer.XattrCalls(gfs)
	for _, name := range list(t, v, root, "/d/x") {
		if name != "." && name != ".." {
			stat(t, v, root, "/d/x/"+name)
		}
	}
	for i := 0; i < 60; i++ {
		p := fmt.Sprintf("/d/x/f%02d", i)
		b, err := vfs.GetXattr(ctx, dentry(p), "user.k")
		if i == 7 {
			if err != nil || string(b) != "v" {
				t.Errorf("%s: %q %v", p, b, err)
			}
		} else if err != unix.ENODATA {
			t.Errorf("%s: %v", p, err)
		}
	}
	if names, err := vfs.ListXattr(ctx, dentry("/d/x/f01")); err != nil || len(names) != 0 {
		t.Errorf("listxattr: %v %v", names, err)
	}
	// Walked before the first question, or with an attribute: a few.
	if n := gofer.XattrCalls(gfs) - calls; n > 4 {
		t.Errorf("%d of 61 attribute requests went to the gofer", n)
	}
	// A file the sandbox sets an attribute on shows it.
	f01 := dentry("/d/x/f01")
	if err := vfs.SetXattr(ctx, f01, "user.n", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if b, err := vfs.GetXattr(ctx, f01, "user.n"); err != nil || string(b) != "1" {
		t.Errorf("after setxattr: %q %v", b, err)
	}
	// Walked (listing and batch), then a setxattr elsewhere: what the
	// walk said is not used.
	list(t, v, root, "/d/y")
	stat(t, v, root, "/d/y/f00")
	stat(t, v, root, "/d/y/f01")
	if err := vfs.SetXattr(ctx, dentry("/d/x/f02"), "user.n", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	calls = gofer.XattrCalls(gfs)
	for _, name := range list(t, v, root, "/d/y") {
		if name != "." && name != ".." && name != "f00" && name != "f01" {
			if _, err := vfs.GetXattr(ctx, dentry("/d/y/"+name), "user.k"); err != unix.ENODATA {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	if gofer.XattrCalls(gfs) == calls {
		t.Error("answers of walks older than a setxattr were used")
	}
}
