package gofer_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// TestHardLinksAreOneInode checks that every name of one host file is one
// sandbox inode (inotify and file locks key by it), whether the link was
// made on the host before or by the sandbox, in both caching modes, and
// that it stays one node after a name goes or moves.
func TestHardLinksAreOneInode(t *testing.T) {
	t.Run("host removes the first name", testHostUnlinksFirstName)
	for _, mode := range []gofer.FileAccess{gofer.Exclusive, gofer.Shared} {
		v, root, dir, _ := setupRW(t, gofer.Options{FileAccess: mode})
		ctx := rootCtx
		if err := os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "d", "host-link")); err != nil {
			t.Fatal(err)
		}
		inode := func(p string) vfs.Inode {
			t.Helper()
			vd, err := v.GetDentryAt(ctx, pop(root, p))
			if err != nil {
				t.Fatalf("mode %d: %s: %v", mode, p, err)
			}
			defer vd.DecRef()
			return vd.Dentry().Inode()
		}
		f := inode("/f")
		if inode("/d/host-link") != f {
			t.Errorf("mode %d: a host hard link is another inode", mode)
		}
		if err := v.LinkAt(ctx, pop(root, "/f"), pop(root, "/g")); err != nil {
			t.Fatal(err)
		}
		if inode("/g") != f {
			t.Errorf("mode %d: the sandbox's link is another inode", mode)
		}
		if st := stat(t, v, root, "/g"); st.Nlink != 3 {
			t.Errorf("mode %d: nlink %d, want 3", mode, st.Nlink)
		}
		// The first name goes: the others still reach the file
		// through their own fids (stat asks the gofer in shared mode).
		if err := v.UnlinkAt(ctx, pop(root, "/f")); err != nil {
			t.Fatal(err)
		}
		if inode("/g") != f || inode("/d/host-link") != f {
			t.Errorf("mode %d: unlink of one name split the node", mode)
		}
		if st := stat(t, v, root, "/g"); st.Nlink != 2 || st.Size != 5 {
			t.Errorf("mode %d: after unlink: nlink %d size %d", mode, st.Nlink, st.Size)
		}
		// A rename keeps the node; writes through one name are seen
		// through the other.
		if err := v.RenameAt(ctx, pop(root, "/g"), pop(root, "/h"), 0); err != nil {
			t.Fatal(err)
		}
		if inode("/h") != f {
			t.Errorf("mode %d: rename split the node", mode)
		}
		w := mustOpen(t, v, root, "/d/host-link", unix.O_WRONLY|unix.O_TRUNC)
		w.Write(ctx, []byte("new"))
		w.DecRef(ctx)
		if s, err := readAll(t, v, root, "/h"); err != nil || s != "new" {
			t.Errorf("mode %d: read through the other name: %q %v", mode, s, err)
		}
		if err := v.UnlinkAt(ctx, pop(root, "/h")); err != nil {
			t.Fatal(err)
		}
		if st := stat(t, v, root, "/d/host-link"); st.Nlink != 1 {
			t.Errorf("mode %d: last name: nlink %d", mode, st.Nlink)
		}
	}
}

// testHostUnlinksFirstName: in shared mode the host removes the name
// through which the node's fid went; the file stays reachable and
// correct through its other name.
func testHostUnlinksFirstName(t *testing.T) {
	v, root, dir, _ := setupRW(t, gofer.Options{FileAccess: gofer.Shared})
	if err := v.LinkAt(rootCtx, pop(root, "/f"), pop(root, "/g")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.StatAt(rootCtx, pop(root, "/f")); err != unix.ENOENT {
		t.Errorf("stat of the name the host removed: %v", err)
	}
	if st := stat(t, v, root, "/g"); st.Nlink != 1 || st.Size != 5 {
		t.Errorf("other name: nlink %d size %d", st.Nlink, st.Size)
	}
	if err := v.SetStatAt(rootCtx, pop(root, "/g"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}); err != nil {
		t.Errorf("chmod through the other name: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "g")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host after chmod: %v %v", fi, err)
	}
}
