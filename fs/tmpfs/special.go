package tmpfs

import (
	"crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// openFIFO implements open(2) of a FIFO: the node's named pipe (fs/pipe)
// applies Linux's open rules and gives the description its pipe end, which
// reports this inode to fstat.
func (i *inode) openFIFO(ctx vfs.Context, flags uint32) (vfs.FileDescriptionImpl, error) {
	return i.fifo.Open(ctx, flags, i)
}

// openDevice opens a character device node: the memory devices (null,
// zero, full, random, urandom) here, other numbers through the sentry's
// device registry (fs/dev.OpenChar: tty, ptmx; ENXIO without a driver).
func openDevice(ctx vfs.Context, i *inode, flags uint32) (vfs.FileDescriptionImpl, error) {
	if err := dev.MayOpen(unix.S_IFCHR, i.rdev, flags); err != nil {
		return nil, err
	}
	switch i.rdev {
	case unix.Mkdev(1, 3), unix.Mkdev(1, 5), unix.Mkdev(1, 7), unix.Mkdev(1, 8), unix.Mkdev(1, 9):
		return &memDevice{inode: i}, nil
	}
	return dev.OpenChar(ctx, i.rdev, flags)
}

// PermittedDevice reports whether mknod may create a device node with
// this number: the memory devices and the tty devices, as a container
// runtime's default device list, where the device allow-list
// (fs/dev.Allowed) lets it.
func PermittedDevice(mode uint32, rdev uint64) bool {
	if mode&unix.S_IFMT != unix.S_IFCHR || !dev.Allowed(mode, rdev, 'm') {
		return false
	}
	switch rdev {
	case unix.Mkdev(1, 3), unix.Mkdev(1, 5), unix.Mkdev(1, 7), unix.Mkdev(1, 8), unix.Mkdev(1, 9),
		unix.Mkdev(5, 0), unix.Mkdev(5, 2):
		return true
	}
	return false
}

// memDevice is an open memory device node.
type memDevice struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
}

func (d *memDevice) Release(vfs.Context) {}

func (d *memDevice) Stat(ctx vfs.Context) (vfs.Stat, error) { return d.inode.Stat(ctx) }

func (d *memDevice) PRead(_ vfs.Context, dst []byte, _ int64) (int, error) {
	switch d.inode.rdev {
	case unix.Mkdev(1, 3):
		return 0, nil
	case unix.Mkdev(1, 8), unix.Mkdev(1, 9):
		return rand.Read(dst)
	}
	clear(dst)
	return len(dst), nil
}

func (d *memDevice) PWrite(_ vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	if d.inode.rdev == unix.Mkdev(1, 7) && len(src) > 0 {
		return 0, off, unix.ENOSPC
	}
	return len(src), off, nil
}

func (d *memDevice) Seek(vfs.Context, int64, int64, int) (int64, error) { return 0, nil }
