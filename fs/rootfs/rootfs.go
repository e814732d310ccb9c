// Package rootfs assembles the sandbox's initial mount tree for
// `runsc do`: a read-only root filesystem at / (the gofer-served host
// directory), tmpfs on /tmp and
// /dev/shm, devfs on /dev and empty read-only directories hiding the host's
// /proc and /sys (procfs and sysfs come later).
package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/host"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// bootContext is the Context of the boot code: root credentials, no
// application memory.
type bootContext struct{ creds *auth.Credentials }

func (c bootContext) Credentials() *auth.Credentials      { return c.creds }
func (c bootContext) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c bootContext) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

// NewSandboxRoot builds the mount tree: rootFS read-only at / (normally a
// fs/gofer filesystem), tmpfs (mode 1777) at /tmp and /dev/shm, devfs at
// /dev, empty read-only tmpfs at /proc and /sys. rootFS must contain the
// directory dev; tmp, proc and sys are skipped where missing. mf is normally the kernel's *memfile.MemoryFile. The returned root
// carries a reference for the caller (pass it to vfs.NewFSContext, then
// DecRef it).
func NewSandboxRoot(mf fsutil.MemoryFile, rootFS vfs.Filesystem) (*vfs.VirtualFilesystem, vfs.VirtualDentry, error) {
	v := vfs.New()
	root, err := v.NewRootMount(rootFS, vfs.MountOptions{ReadOnly: true})
	if err != nil {
		return nil, vfs.VirtualDentry{}, err
	}
	ctx := bootContext{auth.NewRootCredentials()}
	mounts := []struct {
		path string
		fs   vfs.Filesystem
		opts vfs.MountOptions
	}{
		{"/tmp", tmpfs.New(mf, tmpfs.Options{RootMode: 0o1777, DevMinor: v.NewAnonDevMinor()}), vfs.MountOptions{}},
		{"/dev", dev.New(v.NewAnonDevMinor()), vfs.MountOptions{}},
		{"/dev/shm", tmpfs.New(mf, tmpfs.Options{RootMode: 0o1777, DevMinor: v.NewAnonDevMinor()}), vfs.MountOptions{}},
		{"/proc", tmpfs.New(mf, tmpfs.Options{RootMode: 0o555, DevMinor: v.NewAnonDevMinor()}), vfs.MountOptions{ReadOnly: true}},
		{"/sys", tmpfs.New(mf, tmpfs.Options{RootMode: 0o555, DevMinor: v.NewAnonDevMinor()}), vfs.MountOptions{ReadOnly: true}},
	}
	for _, m := range mounts {
		err := v.MountAt(ctx, root, m.path, m.fs, m.opts)
		if err == unix.ENOENT && m.path != "/dev" {
			// A rootfs without the directory (an OCI bundle's) gets
			// no default mount there; config.json may mount one.
			continue
		}
		if err != nil {
			root.DecRef()
			return nil, vfs.VirtualDentry{}, fmt.Errorf("mounting %s on %s: %w", m.fs.Name(), m.path, err)
		}
	}
	return v, root, nil
}

// InstallStdio installs host descriptors 0, 1 and 2 (as donated files, see
// host.NewFile) at descriptors 0, 1 and 2 of t.
func InstallStdio(ctx vfs.Context, t *vfs.FDTable, hostFDs [3]int) error {
	for i, hfd := range hostFDs {
		f, err := host.NewFile(hfd)
		if err != nil {
			return fmt.Errorf("host fd %d: %w", hfd, err)
		}
		err = t.InstallAt(ctx, int32(i), f, vfs.FDFlags{})
		f.DecRef(ctx)
		if err != nil {
			return err
		}
	}
	return nil
}
