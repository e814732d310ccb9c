package vfs_test

import (
	"testing"

	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// A second tree in the same VFS (a pod container's root: a disconnected
// mount with mounts of its own) lists its own mounts, and the first tree
// keeps listing only its own.
func TestMountsOneTree(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/a", 0o755)
	newFS := func() vfs.Filesystem {
		return tmpfs.New(e.mf, tmpfs.Options{RootMode: 0o755, DevMinor: e.vfs.NewAnonDevMinor()})
	}
	if err := e.vfs.MountAt(rootCtx, e.root, "/a", newFS(), vfs.MountOptions{Source: "first"}); err != nil {
		t.Fatal(err)
	}
	other, err := e.vfs.NewDisconnectedMount(newFS(), vfs.MountOptions{Source: "other-root"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.DecRef()
	pop := &vfs.PathOperation{Root: other, Start: other, Path: "/b"}
	if err := e.vfs.MkdirAt(rootCtx, pop, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.vfs.MountAt(rootCtx, other, "/b", newFS(), vfs.MountOptions{Source: "second"}); err != nil {
		t.Fatal(err)
	}
	points := func(root vfs.VirtualDentry) []string {
		var out []string
		for _, m := range e.vfs.Mounts(root) {
			out = append(out, m.Point+"="+m.Source)
		}
		return out
	}
	if got := points(e.root); len(got) != 2 || got[0] != "/=" || got[1] != "/a=first" {
		t.Errorf("first tree: %v", got)
	}
	if got := points(other); len(got) != 2 || got[0] != "/=other-root" || got[1] != "/b=second" {
		t.Errorf("second tree: %v", got)
	}
}
