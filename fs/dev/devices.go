package dev

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Device nodes by number: config.json's linux.devices may name any
// number, and a node may also live on a tmpfs (a config's /dev). Opening
// such a node reaches the sentry's own driver for the number: the memory
// devices and tty here, and whatever the sandbox registers (the ptmx of
// its devpts); any other number is ENXIO, as Linux's open of a node
// without a driver. A block device is never opened (ENXIO).

// Opener opens a character device of the sentry with open(2) flags.
type Opener func(ctx vfs.Context, flags uint32) (vfs.FileDescriptionImpl, error)

var registry struct {
	mu sync.RWMutex
	// openers is protected by mu.
	openers map[uint64]Opener
}

// RegisterChar makes open of a character device node numbered rdev call
// open. The sandbox registers its drivers before it runs; a later
// registration of the same number replaces the earlier one.
func RegisterChar(rdev uint64, open Opener) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.openers == nil {
		registry.openers = make(map[uint64]Opener)
	}
	registry.openers[rdev] = open
}

// OpenChar opens the character device numbered rdev: tty (5:0) is the
// caller's controlling terminal (ENXIO without one), a registered number
// its driver, anything else ENXIO. The memory devices are the caller's to
// serve (each filesystem's node reports its own stat).
func OpenChar(ctx vfs.Context, rdev uint64, flags uint32) (vfs.FileDescriptionImpl, error) {
	if rdev == unix.Mkdev(5, 0) {
		if c, ok := ctx.(controllingTTYOpener); ok {
			return c.OpenControllingTTY(flags)
		}
		return nil, unix.ENXIO
	}
	registry.mu.RLock()
	open := registry.openers[rdev]
	registry.mu.RUnlock()
	if open == nil {
		return nil, unix.ENXIO
	}
	return open(ctx, flags)
}

// memoryKinds are the memory devices by number.
var memoryKinds = map[uint64]kind{
	unix.Mkdev(1, 3): kindNull, unix.Mkdev(1, 5): kindZero, unix.Mkdev(1, 7): kindFull,
	unix.Mkdev(1, 8): kindRandom, unix.Mkdev(1, 9): kindRandom,
}

// AddNode adds a device node (mode: S_IFCHR, S_IFBLK or S_IFIFO and the
// permission bits) called name to the root of fs, owned by uid and gid,
// replacing a fixed node of that name. It must be called before the
// sandbox runs: the tree is not locked.
func (fs *Filesystem) AddNode(name string, mode uint32, rdev uint64, uid auth.KUID, gid auth.KGID) error {
	if name == "" || name == "." || name == ".." || len(name) > vfs.NameMax {
		return unix.EINVAL
	}
	n := &inode{fs: fs, kind: kindDevice, ino: fs.nextIno, mode: mode, uid: uid, gid: gid, rdev: rdev, time: vfs.Now(), parent: fs.root}
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if k, ok := memoryKinds[rdev]; ok {
			n.kind = k
		}
	case unix.S_IFBLK:
	case unix.S_IFIFO:
		n.kind, n.rdev, n.fifo = kindFIFO, 0, &pipe.Named{}
	default:
		return unix.EINVAL
	}
	if old, ok := fs.root.children[name]; ok && old.kind == kindDir {
		return unix.EISDIR
	}
	fs.nextIno++
	if _, ok := fs.root.children[name]; !ok {
		fs.added = append(fs.added, name)
	}
	fs.root.children[name] = n
	return nil
}

// openDevice opens a kindDevice node.
func (i *inode) openDevice(ctx vfs.Context, flags uint32) (vfs.FileDescriptionImpl, error) {
	if i.mode&unix.S_IFMT != unix.S_IFCHR {
		return nil, unix.ENXIO
	}
	return OpenChar(ctx, i.rdev, flags)
}
