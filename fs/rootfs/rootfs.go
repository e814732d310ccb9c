// Package rootfs assembles the sandbox's initial mount tree: the root
// filesystem at / (the gofer-served image, normally under the in-memory
// overlay of fs/overlay so that the image is never modified), tmpfs on
// /tmp and /dev/shm, devfs on /dev and empty read-only directories hiding
// the host's /proc and /sys (the boot code mounts procfs and sysfs there).
package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/host"
	"github.com/rampart-sandbox/rampart/fs/overlay"
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

// RootOptions say how the root filesystem is mounted.
type RootOptions struct {
	// Overlay puts a writable layer in sentry memory over the root
	// filesystem (fs/overlay): the application may change every file and
	// the image never changes. Without it, writes go to the root
	// filesystem itself.
	Overlay bool
	// ReadOnly mounts the root read-only (EROFS), whatever Overlay says
	// (config.json's root.readonly).
	ReadOnly bool
	// TmpOnRoot mounts no tmpfs on /tmp and binds the root's /tmp on
	// /dev/shm, so that files made in either live on the root filesystem
	// (for running the file tests on it).
	TmpOnRoot bool
	// OverlaySize bounds the overlay's file data in bytes (0: half of the
	// memory, tmpfs's default).
	OverlaySize uint64
}

// mountPoints are the directories NewSandboxRoot mounts on.
var mountPoints = []string{"/tmp", "/dev", "/proc", "/sys"}

// NewSandboxRoot builds the mount tree: rootFS at / (normally a fs/gofer
// filesystem) as opts say, tmpfs (mode 1777) at /tmp and /dev/shm, devfs
// at /dev, empty read-only tmpfs at /proc and /sys. rootFS must contain the
// directory dev, unless the overlay creates it in its upper layer; tmp,
// proc and sys are skipped where missing (an OCI bundle's rootfs may lack
// them; config.json may mount them). mf is normally the kernel's *memfile.MemoryFile. The
// returned root carries a reference for the caller (pass it to
// vfs.NewFSContext, then DecRef it).
func NewSandboxRoot(mf fsutil.MemoryFile, rootFS vfs.Filesystem, opts RootOptions) (*vfs.VirtualFilesystem, vfs.VirtualDentry, error) {
	v := vfs.New()
	root, err := newRoot(v, mf, rootFS, opts, v.NewRootMount)
	return v, root, err
}

// NewContainerRoot builds the mount tree of another container of a pod in
// v, the sandbox's: as NewSandboxRoot, but its root is a mount of its own,
// attached to nothing (the container's processes have it as their root,
// and v.Mounts lists its tree alone). The caller owns the returned
// reference.
func NewContainerRoot(v *vfs.VirtualFilesystem, mf fsutil.MemoryFile, rootFS vfs.Filesystem, opts RootOptions) (vfs.VirtualDentry, error) {
	return newRoot(v, mf, rootFS, opts, v.NewDisconnectedMount)
}

func newRoot(v *vfs.VirtualFilesystem, mf fsutil.MemoryFile, rootFS vfs.Filesystem, opts RootOptions,
	mount func(vfs.Filesystem, vfs.MountOptions) (vfs.VirtualDentry, error)) (vfs.VirtualDentry, error) {
	top := rootFS
	if opts.Overlay && !opts.ReadOnly {
		ofs, err := overlay.New(mf, rootFS, overlay.Options{DevMinor: v.NewAnonDevMinor(), UpperDevMinor: v.NewAnonDevMinor(), UpperSize: opts.OverlaySize})
		if err != nil {
			return vfs.VirtualDentry{}, fmt.Errorf("making the root overlay: %w", err)
		}
		top = ofs
	}
	root, err := mount(top, vfs.MountOptions{ReadOnly: opts.ReadOnly})
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	ctx := bootContext{auth.NewRootCredentials()}
	if top != rootFS {
		// An image without the mount points gets them in the overlay.
		for _, p := range mountPoints {
			err := v.MkdirAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: p}, 0o755)
			if err != nil && err != unix.EEXIST {
				root.DecRef()
				return vfs.VirtualDentry{}, fmt.Errorf("making the mount point %s: %w", p, err)
			}
		}
	}
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
		if (m.path == "/tmp" || m.path == "/dev/shm") && opts.TmpOnRoot {
			continue
		}
		err := v.MountAt(ctx, root, m.path, m.fs, m.opts)
		if err == unix.ENOENT && m.path != "/dev" {
			// A rootfs without the directory (an OCI bundle's) gets
			// no default mount there; config.json may mount one.
			continue
		}
		if err != nil {
			root.DecRef()
			return vfs.VirtualDentry{}, fmt.Errorf("mounting %s on %s: %w", m.fs.Name(), m.path, err)
		}
	}
	if opts.TmpOnRoot {
		if err := bindTmpOnShm(ctx, v, root); err != nil {
			root.DecRef()
			return vfs.VirtualDentry{}, err
		}
	}
	return root, nil
}

// bindTmpOnShm bind-mounts the root's /tmp on /dev/shm.
func bindTmpOnShm(ctx vfs.Context, v *vfs.VirtualFilesystem, root vfs.VirtualDentry) error {
	src, err := v.GetDentryAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/tmp", Follow: true})
	if err != nil {
		return fmt.Errorf("binding /tmp on /dev/shm: %w", err)
	}
	defer src.DecRef()
	dst, err := v.GetDentryAt(ctx, &vfs.PathOperation{Root: root, Start: root, Path: "/dev/shm", Follow: true})
	if err != nil {
		return fmt.Errorf("binding /tmp on /dev/shm: %w", err)
	}
	defer dst.DecRef()
	if err := v.BindMount(src, dst, false, vfs.MountOptions{}); err != nil {
		return fmt.Errorf("binding /tmp on /dev/shm: %w", err)
	}
	return nil
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
