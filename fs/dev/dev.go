// Package dev is a small devfs for /dev: the memory devices (null, zero,
// full, random, urandom), tty (the caller's controlling terminal, ENXIO
// without one), the directories shm and pts (mount points; devpts is
// mounted on pts), the ptmx symlink to pts/ptmx, and the
// fd/stdin/stdout/stderr symlinks into /proc/self/fd. Its tree is fixed
// for the application (every modification is EROFS); the runtime may add
// config.json's linux.devices with AddNode before the sandbox starts
// (devices.go, which also keeps the registry of the sentry's character
// devices by number, for device nodes on other filesystems).
package dev

import (
	"crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Filesystem is a devfs instance.
type Filesystem struct {
	dev  uint64
	root *inode
	// nextIno is the next inode number. Nodes are added only before
	// the sandbox runs (AddNode), so it needs no lock.
	nextIno uint64
	// added are the names AddNode added, in order (listed after the
	// fixed ones).
	added []string
}

type kind int

const (
	kindDir kind = iota
	kindSymlink
	kindNull
	kindZero
	kindFull
	kindRandom
	kindTTY
	// kindDevice is a node added by AddNode: opening it reaches the
	// sentry's driver for its number (OpenChar).
	kindDevice
	// kindFIFO is a FIFO added by AddNode.
	kindFIFO
)

// New returns a devfs with the given anonymous device minor.
func New(devMinor uint32) *Filesystem {
	fs := &Filesystem{dev: unix.Mkdev(0, devMinor)}
	now := vfs.Now()
	var ino uint64
	mk := func(k kind, mode uint32, rdev uint64, target string) *inode {
		ino++
		return &inode{fs: fs, kind: k, ino: ino, mode: mode, rdev: rdev, target: target, time: now}
	}
	chr := func(k kind, major, minor uint32) *inode {
		return mk(k, unix.S_IFCHR|0o666, unix.Mkdev(major, minor), "")
	}
	root := mk(kindDir, unix.S_IFDIR|0o755, 0, "")
	root.children = map[string]*inode{
		"null":    chr(kindNull, 1, 3),
		"zero":    chr(kindZero, 1, 5),
		"full":    chr(kindFull, 1, 7),
		"random":  chr(kindRandom, 1, 8),
		"urandom": chr(kindRandom, 1, 9),
		"tty":     chr(kindTTY, 5, 0),
		"shm":     mk(kindDir, unix.S_IFDIR|0o1777, 0, ""),
		"pts":     mk(kindDir, unix.S_IFDIR|0o755, 0, ""),
		"ptmx":    mk(kindSymlink, unix.S_IFLNK|0o777, 0, "pts/ptmx"),
		"fd":      mk(kindSymlink, unix.S_IFLNK|0o777, 0, "/proc/self/fd"),
		"stdin":   mk(kindSymlink, unix.S_IFLNK|0o777, 0, "/proc/self/fd/0"),
		"stdout":  mk(kindSymlink, unix.S_IFLNK|0o777, 0, "/proc/self/fd/1"),
		"stderr":  mk(kindSymlink, unix.S_IFLNK|0o777, 0, "/proc/self/fd/2"),
	}
	for _, name := range []string{"shm", "pts"} {
		root.children[name].children = map[string]*inode{}
		root.children[name].parent = root
	}
	root.parent = root
	fs.root = root
	fs.nextIno = ino + 1
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "devtmpfs" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() (vfs.Inode, error) { return fs.root, nil }

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem) StatFS(vfs.Context) (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: 0x01021994, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// inode is a devfs node. All fields are immutable once the sandbox runs
// (the root's children grow only in AddNode, before).
type inode struct {
	vfs.ReadOnlyInode
	fs       *Filesystem
	kind     kind
	ino      uint64
	mode     uint32
	uid      auth.KUID
	gid      auth.KGID
	rdev     uint64
	target   string
	time     unix.Timespec
	parent   *inode
	children map[string]*inode
	// fifo is the pipe of a kindFIFO node.
	fifo *pipe.Named
}

func (i *inode) Perms() (uint32, auth.KUID, auth.KGID) { return i.mode, i.uid, i.gid }

func (i *inode) Stat(vfs.Context) (vfs.Stat, error) {
	st := vfs.Stat{
		Mode: i.mode, Nlink: 1, Blksize: 4096, Ino: i.ino, Dev: i.fs.dev, Rdev: i.rdev,
		UID: i.uid, GID: i.gid,
		Atime: i.time, Mtime: i.time, Ctime: i.time,
	}
	if i.kind == kindDir {
		st.Nlink = 2
	}
	if i.kind == kindSymlink {
		st.Size = uint64(len(i.target))
	}
	return st, nil
}

func (i *inode) Lookup(_ vfs.Context, name string) (vfs.Inode, error) {
	if i.kind != kindDir {
		return nil, unix.ENOTDIR
	}
	c, ok := i.children[name]
	if !ok {
		return nil, unix.ENOENT
	}
	return c, nil
}

func (i *inode) Readlink(vfs.Context) (string, error) {
	if i.kind != kindSymlink {
		return "", unix.EINVAL
	}
	return i.target, nil
}

func (i *inode) Release() {}

// controllingTTYOpener is implemented by contexts (kernel tasks) that may
// have a controlling terminal: /dev/tty opens it.
type controllingTTYOpener interface {
	OpenControllingTTY(flags uint32) (vfs.FileDescriptionImpl, error)
}

func (i *inode) Open(ctx vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	if t := i.mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		if err := MayOpen(i.mode, i.rdev, flags); err != nil {
			return nil, err
		}
	}
	switch i.kind {
	case kindDir:
		return &dirFile{inode: i}, nil
	case kindTTY:
		if c, ok := ctx.(controllingTTYOpener); ok {
			return c.OpenControllingTTY(flags)
		}
		return nil, unix.ENXIO
	case kindSymlink:
		return nil, unix.ELOOP
	case kindRandom:
		return &randomFile{devFile{inode: i}}, nil
	case kindDevice:
		return i.openDevice(ctx, flags)
	case kindFIFO:
		return i.fifo.Open(ctx, flags, i)
	}
	// null, zero and full are always ready and, as on Linux, have no poll
	// method: poll and select see them ready, epoll refuses them (EPERM).
	return &devFile{inode: i}, nil
}

// devFile is an open memory device.
type devFile struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
}

func (f *devFile) Release(vfs.Context) {}

func (f *devFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

func (f *devFile) PRead(_ vfs.Context, dst []byte, _ int64) (int, error) {
	switch f.inode.kind {
	case kindNull:
		return 0, nil
	case kindRandom:
		return rand.Read(dst)
	default:
		clear(dst)
		return len(dst), nil
	}
}

func (f *devFile) PWrite(_ vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	if f.inode.kind == kindFull && len(src) > 0 {
		return 0, off, unix.ENOSPC
	}
	return len(src), off, nil
}

// Seek implements vfs.FileDescriptionImpl.Seek: the memory devices ignore
// offsets, and lseek reports 0, as Linux's null/zero.
func (f *devFile) Seek(vfs.Context, int64, int64, int) (int64, error) { return 0, nil }

// randomFile is an open random or urandom device. Linux gives it a poll
// method (so epoll accepts it); the sandbox's entropy never runs out, so
// it is always ready.
type randomFile struct {
	devFile
}

// Readiness implements vfs.Waitable.
func (f *randomFile) Readiness(mask uint32) uint32 { return mask & vfs.AlwaysReady }

// EventRegister implements vfs.Waitable: readiness never changes.
func (f *randomFile) EventRegister(*vfs.WaitEntry) {}

// EventUnregister implements vfs.Waitable.
func (f *randomFile) EventUnregister(*vfs.WaitEntry) {}

// dirFile is an open devfs directory.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	inode *inode
}

func (f *dirFile) Release(vfs.Context) {}

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

var rootOrder = []string{"null", "zero", "full", "random", "urandom", "tty", "shm", "pts", "ptmx", "fd", "stdin", "stdout", "stderr"}

func (f *dirFile) Getdents(_ vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	i := f.inode
	names := []string{".", ".."}
	if i == i.fs.root {
		names = append(names, rootOrder...)
		names = append(names, i.fs.added...)
	}
	for k := off; k < int64(len(names)); k++ {
		var c *inode
		switch names[k] {
		case ".":
			c = i
		case "..":
			c = i.parent
		default:
			c = i.children[names[k]]
		}
		d := vfs.Dirent{Name: names[k], Ino: c.ino, Type: vfs.DirentType(c.mode), NextOff: k + 1}
		if !cb(&d) {
			return nil
		}
	}
	return nil
}
