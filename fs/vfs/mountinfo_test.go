package vfs_test

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Mounts reports each mount's descriptions (source, type, data, as its
// creator named them), flags and root within its filesystem, in mount
// order; a bind mount without descriptions of its own shows its source's.
func TestMountsDescriptions(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/a", 0o755)
	e.mkdir(rootCtx, "/b", 0o755)
	e.mkdir(rootCtx, "/c", 0o755)
	fs := tmpfs.New(e.mf, tmpfs.Options{RootMode: 0o755, DevMinor: e.vfs.NewAnonDevMinor()})
	if err := e.vfs.MountAt(rootCtx, e.root, "/a", fs, vfs.MountOptions{NoExec: true, Source: "shm", Type: "mqueue", Data: "size=1k"}); err != nil {
		t.Fatal(err)
	}
	e.mkdir(rootCtx, "/a/sub", 0o755)
	src, err := e.vfs.GetDentryAt(rootCtx, e.pop("/a/sub", true))
	if err != nil {
		t.Fatal(err)
	}
	defer src.DecRef()
	for _, p := range []string{"/b", "/c"} {
		dst, err := e.vfs.GetDentryAt(rootCtx, e.pop(p, true))
		if err != nil {
			t.Fatal(err)
		}
		opts := vfs.MountOptions{ReadOnly: true}
		if p == "/c" {
			opts.Source, opts.FSRoot = "/host/dir", "/host"
		}
		if err := e.vfs.BindMount(src, dst, false, opts); err != nil {
			t.Fatal(err)
		}
		dst.DecRef()
	}
	ms := e.vfs.Mounts(e.root)
	if len(ms) != 4 {
		t.Fatalf("%d mounts: %+v", len(ms), ms)
	}
	want := []struct {
		point, source, typ, data, fsroot string
		ro, noexec                       bool
	}{
		{"/", "", "", "", "/", false, false},
		{"/a", "shm", "mqueue", "size=1k", "/", false, true},
		{"/b", "shm", "mqueue", "size=1k", "/sub", true, false},
		{"/c", "/host/dir", "", "", "/host/sub", true, false},
	}
	for i, w := range want {
		m := ms[i]
		if m.Point != w.point || m.Source != w.source || m.Type != w.typ || m.Data != w.data || m.FSRoot != w.fsroot ||
			m.ReadOnly != w.ro || m.Options.NoExec != w.noexec {
			t.Errorf("mount %d: %+v, want %+v", i, m, w)
		}
	}
}

// A recursive bind of a tree onto a directory inside it copies the tree's
// mounts once (mount --rbind / /target), not itself.
func TestRecursiveBindIntoItself(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/a", 0o755)
	e.mkdir(rootCtx, "/target", 0o755)
	fs := tmpfs.New(e.mf, tmpfs.Options{RootMode: 0o755, DevMinor: e.vfs.NewAnonDevMinor()})
	if err := e.vfs.MountAt(rootCtx, e.root, "/a", fs, vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	dst, err := e.vfs.GetDentryAt(rootCtx, e.pop("/target", true))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.DecRef()
	if err := e.vfs.BindMount(e.root, dst, true, vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, m := range e.vfs.Mounts(e.root) {
		points = append(points, m.Point)
	}
	if got := strings.Join(points, " "); got != "/ /a /target /target/a" {
		t.Fatalf("mounts: %s", got)
	}
}

// An unbindable mount cannot be bound (EINVAL) and a recursive bind of a
// tree leaves it out.
func TestUnbindable(t *testing.T) {
	e := newEnv(t)
	e.mkdir(rootCtx, "/a", 0o755)
	e.mkdir(rootCtx, "/t", 0o755)
	fs := tmpfs.New(e.mf, tmpfs.Options{RootMode: 0o755, DevMinor: e.vfs.NewAnonDevMinor()})
	if err := e.vfs.MountAt(rootCtx, e.root, "/a", fs, vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := e.vfs.GetDentryAt(rootCtx, e.pop("/a", true))
	if err != nil {
		t.Fatal(err)
	}
	defer a.DecRef()
	dst, err := e.vfs.GetDentryAt(rootCtx, e.pop("/t", true))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.DecRef()
	a.Mount().SetUnbindable(true)
	if err := e.vfs.BindMount(a, dst, false, vfs.MountOptions{}); err != unix.EINVAL {
		t.Fatalf("bind of an unbindable mount: %v, want EINVAL", err)
	}
	if err := e.vfs.BindMount(e.root, dst, true, vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, m := range e.vfs.Mounts(e.root) {
		points = append(points, m.Point)
	}
	if got := strings.Join(points, " "); got != "/ /a /t" {
		t.Fatalf("mounts: %s", got)
	}
	e.root.Mount().SetUnbindable(true)
	if err := e.vfs.BindMount(e.root, a, true, vfs.MountOptions{}); err != unix.EINVAL {
		t.Fatalf("rbind of an unbindable root: %v, want EINVAL", err)
	}
}
