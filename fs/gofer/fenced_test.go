package gofer_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// TestWritePathUnderSeccomp drives every write operation through a gofer
// process that dropped its capabilities and installed its seccomp
// allow-list, as `runsc gofer` does: a syscall missing from the list
// would kill it and turn the operations into EIO.
func TestWritePathUnderSeccomp(t *testing.T) {
	if raceEnabled {
		t.Skip("the race runtime needs syscalls outside the allow-list; run without -race")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root (capabilities are dropped from a full set)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644)
	var log logCounter
	cmd, _, gfs := startGofer(t, "fenced", dir, log.logf)
	v := vfs.New()
	root, err := v.NewRootMount(gfs, vfs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer root.DecRef()
	ctx := rootCtx
	p := func(s string) *vfs.PathOperation { return &vfs.PathOperation{Root: root, Start: root, Path: s} }
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v (gofer log: %q)", what, err, log.lines)
		}
	}
	f, err := open(v, root, "/new", unix.O_CREAT|unix.O_RDWR)
	step("create", err)
	_, err = f.Write(ctx, []byte("data"))
	step("write", err)
	step("fsync", f.Sync(ctx))
	f.DecRef(ctx)
	g, err := open(v, root, "/f", unix.O_WRONLY|unix.O_APPEND)
	step("open for writing", err)
	g.Write(ctx, []byte("!"))
	g.DecRef(ctx)
	step("mkdir", v.MkdirAt(ctx, p("/d"), 0o755))
	step("symlink", v.SymlinkAt(ctx, p("/d/sl"), "../f"))
	_, err = v.ReadlinkAt(ctx, p("/d/sl"))
	step("readlink", err)
	step("link", v.LinkAt(ctx, p("/new"), p("/d/hl")))
	step("rename", v.RenameAt(ctx, p("/d/hl"), p("/moved"), 0))
	step("exchange", v.RenameAt(ctx, p("/moved"), p("/f"), unix.RENAME_EXCHANGE))
	step("exchange back", v.RenameAt(ctx, p("/moved"), p("/f"), unix.RENAME_EXCHANGE))
	fa, err := open(v, root, "/f", unix.O_RDWR)
	step("open", err)
	step("fallocate", fa.Allocate(ctx, 0, 0, 4096))
	step("truncate back", v.SetStat(ctx, fa.VirtualDentry(), &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: 6}, true))
	fa.DecRef(ctx)
	step("mknod fifo", v.MknodAt(ctx, p("/fifo"), unix.S_IFIFO|0o600, 0))
	step("chmod", v.SetStatAt(ctx, p("/moved"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o600}))
	step("chown", v.SetStatAt(ctx, p("/moved"), &vfs.SetStatOptions{Mask: unix.STATX_UID | unix.STATX_GID, UID: auth.KUID(1234), GID: auth.KGID(1234)}))
	step("truncate", v.SetStatAt(ctx, p("/f"), &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: 1}))
	step("utimensat", v.SetStatAt(ctx, p("/f"), &vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME, Atime: unix.Timespec{Sec: 1}, Mtime: unix.Timespec{Sec: 2}}))
	vd, err := v.GetDentryAt(ctx, p("/f"))
	step("lookup", err)
	if err := vfs.SetXattr(ctx, vd, "user.a", []byte("b"), 0); err != unix.EOPNOTSUPP {
		step("setxattr", err)
		_, err = vfs.GetXattr(ctx, vd, "user.a")
		step("getxattr", err)
		_, err = vfs.ListXattr(ctx, vd)
		step("listxattr", err)
		step("removexattr", vfs.RemoveXattr(ctx, vd, "user.a"))
	}
	// Privileged attributes (trusted.rampart.* on the host), a
	// symlink's (*xattrat), device placeholders, a whiteout, O_TMPFILE.
	step("setxattr trusted", vfs.SetXattr(ctx, vd, "trusted.t", []byte("v"), 0))
	vd.DecRef()
	sl, err := v.GetDentryAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/d/sl"})
	step("lookup symlink", err)
	if err := vfs.SetXattr(ctx, sl, "trusted.s", []byte("v"), 0); err != unix.EOPNOTSUPP {
		step("setxattr on a symlink", err)
		_, err = vfs.ListXattr(ctx, sl)
		step("listxattr on a symlink", err)
	}
	sl.DecRef()
	step("mknod char device", v.MknodAt(ctx, p("/null"), unix.S_IFCHR|0o666, unix.Mkdev(1, 3)))
	step("chmod device", v.SetStatAt(ctx, p("/null"), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: 0o644}))
	step("whiteout", v.RenameAt(ctx, p("/fifo"), p("/fifo2"), unix.RENAME_WHITEOUT))
	tf, err := v.OpenAt(ctx, p("/"), &vfs.OpenOptions{Flags: unix.O_TMPFILE | unix.O_RDWR, Mode: 0o600})
	step("O_TMPFILE", err)
	_, err = tf.Write(ctx, []byte("tmp"))
	step("write O_TMPFILE", err)
	step("link O_TMPFILE", v.Link(ctx, tf.VirtualDentry(), p("/named")))
	tf.DecRef(ctx)
	if b, err := os.ReadFile(filepath.Join(dir, "named")); err != nil || string(b) != "tmp" {
		t.Errorf("linked O_TMPFILE file on the host: %q %v", b, err)
	}
	step("unlink", v.UnlinkAt(ctx, p("/moved")))
	step("unlink symlink", v.UnlinkAt(ctx, p("/d/sl")))
	step("rmdir", v.RmdirAt(ctx, p("/d")))
	_, err = v.StatFSAt(ctx, p("/"))
	step("statfs", err)
	var hs unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "f"), &hs); err != nil || hs.Size != 1 || hs.Mtim.Sec != 2 {
		t.Errorf("host after the fenced gofer's changes: %+v %v", hs, err)
	}
	if err := unix.Stat(filepath.Join(dir, "new"), &hs); err != nil || hs.Uid != 1234 || hs.Mode&0o777 != 0o600 {
		t.Errorf("chown/chmod through the link: uid %d mode %o %v", hs.Uid, hs.Mode, err)
	}
	if cmd.ProcessState != nil || log.count() != 0 {
		t.Errorf("the gofer died: %q", log.lines)
	}
}
