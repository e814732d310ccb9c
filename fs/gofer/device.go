package gofer

import (
	"crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Device nodes. The gofer serves a device node the sandbox made (mknod,
// or the whiteout of renameat2(RENAME_WHITEOUT)) as a placeholder file on
// the host (see package gofer's placeholder.go); here it is a character
// or block device whose open reaches the sentry's own drivers, as a
// device node on tmpfs does: the memory devices (null, zero, full,
// random, urandom) and tty (the caller's controlling terminal). Other
// numbers have no driver (ENXIO). The host file is never opened.

// controllingTTYOpener is implemented by contexts (kernel tasks) that may
// have a controlling terminal.
type controllingTTYOpener interface {
	OpenControllingTTY(flags uint32) (vfs.FileDescriptionImpl, error)
}

// openDevice opens the device node i.
func (i *inode) openDevice(ctx vfs.Context, flags uint32) (vfs.FileDescriptionImpl, error) {
	if i.ftype() != unix.S_IFCHR {
		return nil, unix.ENXIO
	}
	i.st.mu.Lock()
	rdev := i.st.attr.Rdev
	i.st.mu.Unlock()
	switch rdev {
	case unix.Mkdev(1, 3), unix.Mkdev(1, 5), unix.Mkdev(1, 7):
		return &memDevice{inode: i, rdev: rdev}, nil
	case unix.Mkdev(1, 8), unix.Mkdev(1, 9):
		return &randomDevice{memDevice{inode: i, rdev: rdev}}, nil
	case unix.Mkdev(5, 0):
		if c, ok := ctx.(controllingTTYOpener); ok {
			return c.OpenControllingTTY(flags)
		}
	}
	return nil, unix.ENXIO
}

// memDevice is an open memory device (null, zero, full). As on Linux, it
// has no poll method.
type memDevice struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
	rdev  uint64
}

func (d *memDevice) Release(vfs.Context) {}

func (d *memDevice) Stat(ctx vfs.Context) (vfs.Stat, error) { return d.inode.Stat(ctx) }

func (d *memDevice) PRead(_ vfs.Context, dst []byte, _ int64) (int, error) {
	switch d.rdev {
	case unix.Mkdev(1, 3):
		return 0, nil
	case unix.Mkdev(1, 8), unix.Mkdev(1, 9):
		return rand.Read(dst)
	}
	clear(dst)
	return len(dst), nil
}

func (d *memDevice) PWrite(_ vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	if d.rdev == unix.Mkdev(1, 7) && len(src) > 0 {
		return 0, off, unix.ENOSPC
	}
	return len(src), off, nil
}

// Seek implements vfs.FileDescriptionImpl.Seek: offsets are ignored and
// lseek reports 0, as Linux's memory devices.
func (d *memDevice) Seek(vfs.Context, int64, int64, int) (int64, error) { return 0, nil }

// randomDevice is an open random or urandom device: always ready.
type randomDevice struct{ memDevice }

// Readiness implements vfs.Waitable.
func (d *randomDevice) Readiness(mask uint32) uint32 { return mask & vfs.AlwaysReady }

// EventRegister implements vfs.Waitable.
func (d *randomDevice) EventRegister(*vfs.WaitEntry) {}

// EventUnregister implements vfs.Waitable.
func (d *randomDevice) EventUnregister(*vfs.WaitEntry) {}
