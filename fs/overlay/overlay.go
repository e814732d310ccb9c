// Package overlay is the container's root filesystem: a writable upper
// layer in sentry memory (an fs/tmpfs instance) over a read-only lower
// filesystem (normally the gofer-served image, fs/gofer), with the
// semantics of Linux's overlayfs (Documentation/filesystems/overlayfs.rst,
// default options: redirect_dir=off, index=on, xino=off). The lower
// filesystem is never modified.
//
//   - Lookups merge the layers: a name in the upper directory hides the
//     lower one; a whiteout (a character device 0:0 in the upper layer, as
//     Linux's) hides a removed lower name; a directory with the opaque mark
//     (xattr trusted.overlay.opaque=y on the upper directory) hides the
//     whole lower directory.
//   - The first modification of a lower node copies it up (copyup.go): its
//     parents first, then the node (data, mode, owner, times, xattrs,
//     symlink target, device number).
//   - Hard links: lower non-directories with more than one link share a
//     node keyed by their lower (st_dev, st_ino); the first copy-up makes
//     one upper inode, and every other name of it is linked to that inode
//     when it is first modified (an index directory of the upper tmpfs
//     holds a link, as Linux's index=on does), and reads the copied-up data
//     before that. A name made by link(2) shares its target's node, so the
//     VFS sees one file (locks, inotify); the names of a lower hard link
//     are separate VFS nodes that share data and attributes only.
//   - Renaming a directory that has a lower layer is EXDEV (Linux without
//     redirect_dir; mv falls back to copying).
//   - Inode numbers follow Linux with xino=off and layers on different
//     filesystems: a non-directory reports the st_dev and st_ino of the
//     layer that holds it (so they change on copy-up); a directory reports
//     the overlay's own st_dev with the lower directory's st_ino (the
//     upper's, with bit 62 set, if it has no lower), stable across copy-up
//     (Documentation/filesystems/overlayfs.rst, "Overlay objects").
//   - A file opened read-only before copy-up keeps its lower description
//     (reads and mmap go to the gofer's descriptor and page cache, as on
//     Linux); opens after copy-up, and every open for writing, get the
//     upper file.
//   - statfs reports the upper layer.
//
// Lock order: inode.mu of a child, then of its parent (copy-up walks up
// the tree holding the child's lock); node.mu after the inode.mu of any
// name of the node; tmpfs's and the lower filesystem's own locks last. No
// inode.mu is held while calling the VFS.
package overlay

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Name is the filesystem type reported in /proc/mounts.
const Name = "overlay"

// opaqueXattr marks an upper directory that hides its lower directory.
const opaqueXattr = "trusted.overlay.opaque"

// privateXattrPrefix names the attributes the overlay keeps for itself;
// they are hidden from the application, as Linux's.
const privateXattrPrefix = "trusted.overlay."

// dirInoUpperBit marks the inode numbers of directories that exist only in
// the upper layer, so that they do not collide with lower directories'.
const dirInoUpperBit = 1 << 62

// Options configure a new overlay.
type Options struct {
	// DevMinor is the anonymous device minor of the overlay itself (the
	// st_dev of its directories); UpperDevMinor that of the upper tmpfs.
	DevMinor      uint32
	UpperDevMinor uint32
	// UpperSize bounds the upper layer's file data in bytes (0 is tmpfs's
	// default, half of the memory).
	UpperSize uint64
}

// Filesystem is one overlay instance.
type Filesystem struct {
	lower vfs.Filesystem
	upper *tmpfs.Filesystem
	dev   uint64

	// upperRoot is the directory of the upper tmpfs that is the upper
	// layer of the overlay's root; index holds one link to each copied-up
	// hard-linked file. Both are immutable after New.
	upperRoot vfs.Inode
	index     vfs.Inode

	// nodesMu protects nodes: the hard-linked lower files seen so far, by
	// lower identity. Entries are kept for the life of the filesystem
	// (the number is bounded by the lower tree's hard-linked files).
	nodesMu sync.Mutex
	nodes   map[nodeKey]*node
}

type nodeKey struct{ dev, ino uint64 }

// node is the identity shared by the names of one hard-linked lower file.
type node struct {
	mu sync.Mutex
	// upper is the copied-up inode (the index holds a link and a
	// reference); nil before the first copy-up. Protected by mu.
	upper vfs.Inode
	// lowerNlink is the lower file's link count; gone counts its lower
	// names that were linked up or removed. Protected by mu.
	lowerNlink uint32
	gone       uint32
}

// New returns an overlay of a fresh tmpfs (its data allocated from mf)
// over lower, which the overlay never modifies (it may be read-only).
func New(mf fsutil.MemoryFile, lower vfs.Filesystem, opts Options) (*Filesystem, error) {
	lroot, err := lower.Root()
	if err != nil {
		return nil, err
	}
	defer lroot.Release()
	ctx := vfs.KernelContext{}
	st, err := lroot.Stat(ctx)
	if err != nil {
		return nil, err
	}
	up := tmpfs.New(mf, tmpfs.Options{RootMode: 0o700, DevMinor: opts.UpperDevMinor, Size: opts.UpperSize})
	top, err := up.Root()
	if err != nil {
		return nil, err
	}
	defer top.Release()
	fs := &Filesystem{lower: lower, upper: up, dev: unix.Mkdev(0, opts.DevMinor), nodes: make(map[nodeKey]*node)}
	if fs.upperRoot, err = top.Create(ctx, "root", &vfs.CreateOptions{Mode: st.Mode, UID: st.UID, GID: st.GID}); err != nil {
		return nil, err
	}
	if fs.index, err = top.Create(ctx, "index", &vfs.CreateOptions{Mode: unix.S_IFDIR | 0o700}); err != nil {
		return nil, err
	}
	if err := fs.upperRoot.SetStat(ctx, &vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME, Atime: st.Atime, Mtime: st.Mtime}); err != nil {
		return nil, err
	}
	return fs, nil
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return Name }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() (vfs.Inode, error) {
	l, err := fs.lower.Root()
	if err != nil {
		return nil, err
	}
	// Take a reference on the upper root through its parent.
	top, err := fs.upper.Root()
	if err != nil {
		l.Release()
		return nil, err
	}
	u, err := top.Lookup(vfs.KernelContext{}, "root")
	top.Release()
	if err != nil {
		l.Release()
		return nil, err
	}
	mode, _, _ := l.Perms()
	return newInode(&inode{fs: fs, ftype: mode & unix.S_IFMT, upper: u, lower: l}), nil
}

// StatFS implements vfs.Filesystem.StatFS: the upper layer's figures, as
// Linux's overlayfs.
func (fs *Filesystem) StatFS(ctx vfs.Context) (unix.Statfs_t, error) {
	st, err := fs.upper.StatFS(ctx)
	st.Type = unix.OVERLAYFS_SUPER_MAGIC
	return st, err
}

// Upper returns the upper tmpfs (for tests and accounting).
func (fs *Filesystem) Upper() *tmpfs.Filesystem { return fs.upper }

// nodeFor returns the shared node of a hard-linked lower file.
func (fs *Filesystem) nodeFor(st *vfs.Stat) *node {
	k := nodeKey{st.Dev, st.Ino}
	fs.nodesMu.Lock()
	defer fs.nodesMu.Unlock()
	n, ok := fs.nodes[k]
	if !ok {
		n = &node{lowerNlink: st.Nlink}
		fs.nodes[k] = n
	}
	return n
}

func indexName(st *vfs.Stat) string { return fmt.Sprintf("%x-%x", st.Dev, st.Ino) }

// isWhiteout reports whether an upper node is a whiteout.
func isWhiteout(i vfs.Inode) bool {
	mode, _, _ := i.Perms()
	if mode&unix.S_IFMT != unix.S_IFCHR {
		return false
	}
	st, err := i.Stat(vfs.KernelContext{})
	return err == nil && st.Rdev == 0
}

// isOpaque reports whether an upper directory hides its lower directory.
func isOpaque(u vfs.Inode) bool {
	x, ok := u.(vfs.XattrInode)
	if !ok {
		return false
	}
	v, err := x.GetXattr(vfs.KernelContext{}, opaqueXattr)
	return err == nil && string(v) == "y"
}

func setOpaque(u vfs.Inode) error {
	x, ok := u.(vfs.XattrInode)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return x.SetXattr(vfs.KernelContext{}, opaqueXattr, []byte("y"), 0)
}
