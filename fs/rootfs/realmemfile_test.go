package rootfs_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/rootfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// TestRealMemoryFile checks tmpfs and gofer-served data through the real memfd.
func TestRealMemoryFile(t *testing.T) {
	mf, err := memfile.New("rootfs-test")
	if err != nil {
		t.Skipf("memfile: %v", err)
	}
	defer mf.Close()
	dir := t.TempDir()
	for _, d := range []string{"tmp", "dev", "proc", "sys"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "lib"), []byte("ELF-ish"), 0o755)
	gfs, err := gofer.NewInProcess(mf, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gfs.Close()
	v, root, err := rootfs.NewSandboxRoot(mf, gfs, rootfs.RootOptions{Overlay: true})
	if err != nil {
		t.Fatal(err)
	}
	defer root.DecRef()
	ctx := testCtx{auth.NewRootCredentials()}
	pop := func(p string) *vfs.PathOperation {
		return &vfs.PathOperation{Root: root, Start: root, Path: p, Follow: true}
	}
	f, err := v.OpenAt(ctx, pop("/tmp/x"), &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	f.PWrite(ctx, []byte("tmpdata"), 5000)
	fr, err := f.Mappable().Translate(4096, 4096, usermem.Read)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(mf.Slice(fr)[904:911]); got != "tmpdata" {
		t.Errorf("tmpfs page %q", got)
	}
	mf.DecRef(fr)
	f.DecRef(ctx)
	fsc := vfs.NewFSContext(root, root, 0o22)
	defer fsc.Release()
	lib, err := v.OpenExecutable(ctx, fsc, "/lib")
	if err != nil {
		t.Fatal(err)
	}
	defer lib.DecRef(ctx)
	fr, err = lib.Mappable().Translate(0, 4096, usermem.Read)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(mf.Slice(fr)[:7]); got != "ELF-ish" {
		t.Errorf("gofer page %q", got)
	}
	mf.DecRef(fr)
}
