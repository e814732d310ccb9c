package boot

import (
	"errors"
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// config.json's linux.devices: each is a node in the sandbox's /dev with
// the given type, number, mode and owner, made after the mounts (so on
// the tmpfs a config mounts on /dev, or in the sandbox's own devfs when
// there is none). The node is the sentry's: opening it reaches the
// sentry's own driver for that number (the memory devices, tty, ptmx; see
// fs/dev's registry), and ENXIO for a number it has none for. No host
// device is ever opened for the application.

// Device is one entry of linux.devices, checked.
type Device struct {
	// Path is the cleaned absolute path in the container.
	Path string
	// Mode is the node's type (S_IFCHR, S_IFBLK or S_IFIFO) and
	// permission bits.
	Mode uint32
	// Rdev is the device number (0 for a FIFO).
	Rdev     uint64
	UID, GID uint32
}

// ParseDevices checks config.json's linux.devices: an absolute path
// below /dev, a known type, numbers that fit. A device without a mode is
// 0666 and without an owner root's, as runc makes them.
func ParseDevices(spec *specs.Spec) ([]Device, error) {
	if spec.Linux == nil {
		return nil, nil
	}
	var out []Device
	for _, d := range spec.Linux.Devices {
		p := path.Clean(d.Path)
		if !path.IsAbs(d.Path) || !strings.HasPrefix(p, "/dev/") {
			return nil, fmt.Errorf("linux.devices: %q is not a path below /dev", d.Path)
		}
		dv := Device{Path: p, Mode: 0o666}
		switch d.Type {
		case "c", "u":
			dv.Mode = unix.S_IFCHR
		case "b":
			dv.Mode = unix.S_IFBLK
		case "p":
			dv.Mode = unix.S_IFIFO
		default:
			return nil, fmt.Errorf("linux.devices: %s: unknown type %q", d.Path, d.Type)
		}
		if dv.Mode != unix.S_IFIFO {
			if d.Major < 0 || d.Major > 0xfff || d.Minor < 0 || d.Minor > 0xfffff {
				return nil, fmt.Errorf("linux.devices: %s: bad device number %d:%d", d.Path, d.Major, d.Minor)
			}
			dv.Rdev = unix.Mkdev(uint32(d.Major), uint32(d.Minor))
		}
		perm := uint32(0o666)
		if d.FileMode != nil {
			perm = uint32(d.FileMode.Perm())
		}
		dv.Mode |= perm
		if d.UID != nil {
			dv.UID = *d.UID
		}
		if d.GID != nil {
			dv.GID = *d.GID
		}
		out = append(out, dv)
	}
	return out, nil
}

// makeDevices makes devs in the sandbox's tree. A node that exists is
// replaced, as runc replaces it.
func (f *filesystems) makeDevices(devs []Device) error {
	ctx := bootCtx{auth.NewRootCredentials()}
	r := f.root
	for _, d := range devs {
		pop := &vfs.PathOperation{Root: r, Start: r, Path: d.Path}
		err := f.makeDevice(ctx, pop, d)
		if err != nil {
			return fmt.Errorf("linux.devices: %s: %w", d.Path, err)
		}
	}
	return nil
}

func (f *filesystems) makeDevice(ctx bootCtx, pop *vfs.PathOperation, d Device) error {
	// The sandbox's own devfs (nothing mounted on /dev) takes the node
	// directly: it is otherwise read-only.
	if dir, err := f.vfs.GetDentryAt(ctx, &vfs.PathOperation{Root: pop.Root, Start: pop.Start, Path: path.Dir(d.Path), Follow: true}); err == nil {
		devfs, ok := dir.Mount().Filesystem().(*dev.Filesystem)
		dir.DecRef()
		if ok && path.Dir(d.Path) == "/dev" {
			return devfs.AddNode(path.Base(d.Path), d.Mode, d.Rdev, auth.KUID(d.UID), auth.KGID(d.GID))
		}
	}
	if err := f.vfs.MkdirAt(ctx, &vfs.PathOperation{Root: pop.Root, Start: pop.Start, Path: path.Dir(d.Path)}, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	err := f.vfs.MknodAt(ctx, pop, d.Mode, d.Rdev)
	if errors.Is(err, unix.EEXIST) {
		if err := f.vfs.UnlinkAt(ctx, pop); err != nil {
			return err
		}
		err = f.vfs.MknodAt(ctx, pop, d.Mode, d.Rdev)
	}
	if err != nil {
		return err
	}
	return f.vfs.SetStatAt(ctx, pop, &vfs.SetStatOptions{
		Mask: unix.STATX_MODE | unix.STATX_UID | unix.STATX_GID,
		Mode: d.Mode &^ unix.S_IFMT, UID: auth.KUID(d.UID), GID: auth.KGID(d.GID),
	})
}

// registerPtmx makes a ptmx node (5:2) anywhere, as config.json's
// linux.devices or a tmpfs /dev may have one, open pts's ptmx: a new
// terminal of the sandbox's devpts.
func registerPtmx(pts vfs.Filesystem) {
	dev.RegisterChar(unix.Mkdev(5, 2), func(ctx vfs.Context, flags uint32) (vfs.FileDescriptionImpl, error) {
		root, err := pts.Root()
		if err != nil {
			return nil, unix.ENXIO
		}
		ptmx, err := root.Lookup(ctx, "ptmx")
		if err != nil {
			return nil, unix.ENXIO
		}
		return ptmx.Open(ctx, vfs.VirtualDentry{}, flags)
	})
}
