// Package kernfs is the machinery shared by the sentry's synthetic
// filesystems (procfs, sysfs, the cgroup view), like Linux's kernfs: trees
// of nodes that describe kernel state rather than store data.
//
// It owns:
//   - nodes (Inode) and their stable inode numbers, derived from the
//     parent's number and the name, so a node keeps its number however
//     often it is rebuilt;
//   - directories whose children are fixed (StaticDir) or listed by the
//     owner (DirOps), and their getdents order and offsets ("." and ".."
//     first, then the children by key);
//   - regular files whose text is generated when read from offset 0 and
//     served from that snapshot for the reads that follow, like Linux's
//     seq_file, and that may accept writes;
//   - symlinks whose target is computed, and magic links (vfs.MagicLink)
//     that jump to an object;
//   - the errnos of a fixed tree: nothing can be created, linked, unlinked,
//     renamed, chmodded or chowned.
//
// What the nodes describe is the owner's business. Each node carries a
// payload of the owner's type P (procfs: the process and thread it
// describes), copied to the children it builds, and Hooks give nodes an
// owner, timestamps and a lifetime: a node whose object is gone (a reaped
// process) leaves the dentry cache, its lookups give ENOENT and reads of
// files already open give ESRCH.
//
// Lock order: kernfs has one lock, openFile.mu, held while a file's
// content is generated; generators take the owner's locks below it.
package kernfs

import (
	"hash/fnv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Hooks let the owner of a tree tie nodes to the objects they describe.
// Every hook may be nil.
type Hooks[P any] struct {
	// Owner returns the node's owner (root when nil). It is called on
	// every path walk through the node, so it must be cheap.
	Owner func(n *Inode[P]) (auth.KUID, auth.KGID)
	// Time returns the node's timestamps (the filesystem's Time when nil
	// or zero).
	Time func(n *Inode[P]) time.Time
	// Gone reports that the object the node describes no longer exists
	// (never when nil).
	Gone func(n *Inode[P]) bool
}

// Options configure a tree.
type Options[P any] struct {
	// Name is the filesystem type ("proc", "sysfs").
	Name string
	// Magic is statfs's f_type.
	Magic int64
	// DevMinor is the anonymous device minor of the instance.
	DevMinor uint32
	// RootMode is the root directory's permission bits.
	RootMode uint32
	// Time is the nodes' timestamp unless Hooks.Time gives one (now when
	// zero).
	Time time.Time
	// FileSize is st_size of regular files (sysfs reports a page; procfs
	// 0), and BlockSize st_blksize of every node (1024 when zero).
	FileSize  uint64
	BlockSize uint32
	// WriteOpenNeedsWriter makes opening a file that accepts no writes
	// for writing fail with EACCES, whatever the caller's capabilities, as
	// sysfs does (Linux: kernfs_fop_open). Otherwise the open succeeds and
	// write(2) gives EINVAL, as procfs does.
	WriteOpenNeedsWriter bool
	Hooks                Hooks[P]
}

// Filesystem is one synthetic tree. It implements vfs.Filesystem.
type Filesystem[P any] struct {
	opts Options[P]
	dev  uint64
	root *Inode[P]
}

// New returns a tree whose root directory lists rootDir and carries data.
func New[P any](opts Options[P], rootDir DirOps[P], data P) *Filesystem[P] {
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = 1024
	}
	fs := &Filesystem[P]{opts: opts, dev: unix.Mkdev(0, opts.DevMinor)}
	fs.root = &Inode[P]{fs: fs, ino: 1, parentIno: 1, mode: unix.S_IFDIR | opts.RootMode&0o7777, Dir: rootDir, Data: data}
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem[P]) Name() string { return fs.opts.Name }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem[P]) Root() (vfs.Inode, error) { return fs.root, nil }

// RootInode returns the root node, to build nodes below it.
func (fs *Filesystem[P]) RootInode() *Inode[P] { return fs.root }

// Dev returns the instance's device number.
func (fs *Filesystem[P]) Dev() uint64 { return fs.dev }

// Time returns the instance's default timestamp.
func (fs *Filesystem[P]) Time() time.Time { return fs.opts.Time }

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem[P]) StatFS(vfs.Context) (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: fs.opts.Magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// Inode is a node of a tree: a directory (Dir set), a regular file (File
// set) or a symlink (Target set, and Magic for a magic link). The fields are
// set by whoever builds the node, before a lookup returns it, and are
// immutable afterwards.
type Inode[P any] struct {
	fs        *Filesystem[P]
	ino       uint64
	parentIno uint64
	mode      uint32
	// OpenCounts counts the node's opens for leases.
	vfs.OpenCounts

	// Data is the owner's payload, copied from the parent by NewChild.
	Data P

	Dir  DirOps[P]
	File *FileOps[P]
	// Target is a symlink's target.
	Target LinkFunc[P]
	// Magic, if not nil, makes the symlink a vfs.MagicLink: following it
	// jumps to the object Magic returns rather than walking Target's path.
	Magic MagicFunc[P]
}

// DirOps are the contents of a directory.
type DirOps[P any] interface {
	// Lookup returns the child name (never "." or ".."), or ENOENT.
	Lookup(ctx vfs.Context, d *Inode[P], name string) (*Inode[P], error)
	// Entries lists the children (without "." and ".."), ordered by key.
	Entries(ctx vfs.Context, d *Inode[P]) ([]DirEntry[P], error)
}

// DirEntry is one child in a listing. Key orders entries and is the
// getdents offset at which the entry is returned: it must grow along the
// listing and be stable while the entry exists, so that a listing read in
// several calls neither repeats nor skips entries that stay.
type DirEntry[P any] struct {
	Name string
	Key  int64
	Node *Inode[P]
}

// FileOps generate and accept a regular file's content.
type FileOps[P any] struct {
	// Gen returns the whole content.
	Gen func(ctx vfs.Context, n *Inode[P]) ([]byte, error)
	// Write, if not nil, accepts a write (of the whole buffer at once).
	Write func(ctx vfs.Context, n *Inode[P], data []byte) error
	// MayOpen, if not nil, checks an open with the open(2) flags (after
	// the VFS's permission checks).
	MayOpen func(ctx vfs.Context, n *Inode[P], flags uint32) error
	// Open, if not nil, opens the file with its own implementation (a
	// file that is not generated text, like /proc/[pid]/mem), after
	// MayOpen; Gen and Write are then unused.
	Open func(ctx vfs.Context, n *Inode[P], flags uint32) (vfs.FileDescriptionImpl, error)
}

// LinkFunc returns a symlink's target.
type LinkFunc[P any] func(ctx vfs.Context, n *Inode[P]) (string, error)

// MagicFunc returns a magic link's object: a referenced dentry or, for a
// file without a path, a referenced description.
type MagicFunc[P any] func(ctx vfs.Context, n *Inode[P]) (vfs.VirtualDentry, *vfs.FileDescription, error)

// ChildIno derives a stable inode number for name below the directory
// with inode number parent.
func ChildIno(parent uint64, name string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(parent >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(name))
	ino := h.Sum64() &^ (1 << 63)
	if ino < 2 {
		ino += 2
	}
	return ino
}

// NewChild returns a node named name below d with mode (type and
// permission bits), carrying d's payload. The caller sets its kind (Dir,
// File or Link).
func (d *Inode[P]) NewChild(name string, mode uint32) *Inode[P] {
	return &Inode[P]{fs: d.fs, ino: ChildIno(d.ino, name), parentIno: d.ino, mode: mode, Data: d.Data}
}

// FS returns the tree the node belongs to.
func (n *Inode[P]) FS() *Filesystem[P] { return n.fs }

// Ino returns the node's inode number.
func (n *Inode[P]) Ino() uint64 { return n.ino }

// ParentIno returns the inode number of the node's parent directory.
func (n *Inode[P]) ParentIno() uint64 { return n.parentIno }

// Mode returns the node's type and permission bits.
func (n *Inode[P]) Mode() uint32 { return n.mode }

// gone reports whether the object the node describes no longer exists.
func (n *Inode[P]) gone() bool {
	return n.fs.opts.Hooks.Gone != nil && n.fs.opts.Hooks.Gone(n)
}

// Perms implements vfs.Inode.Perms.
func (n *Inode[P]) Perms() (uint32, auth.KUID, auth.KGID) {
	if h := n.fs.opts.Hooks.Owner; h != nil {
		uid, gid := h(n)
		return n.mode, uid, gid
	}
	return n.mode, 0, 0
}

// Valid implements vfs.Revalidator: the nodes of a gone object leave the
// dentry cache.
func (n *Inode[P]) Valid(vfs.Context) bool { return !n.gone() }

// Expired implements vfs.Expirer: the dentry cache sweeps out the nodes of
// gone objects that no one looks up again.
func (n *Inode[P]) Expired() bool { return n.gone() }

// Stat implements vfs.Inode.Stat.
func (n *Inode[P]) Stat(ctx vfs.Context) (vfs.Stat, error) {
	if n.gone() {
		return vfs.Stat{}, unix.ENOENT
	}
	mode, uid, gid := n.Perms()
	t := n.fs.opts.Time
	if h := n.fs.opts.Hooks.Time; h != nil {
		if ht := h(n); !ht.IsZero() {
			t = ht
		}
	}
	ts := unix.NsecToTimespec(t.UnixNano())
	st := vfs.Stat{
		Mode: mode, Nlink: 1, UID: uid, GID: gid, Blksize: n.fs.opts.BlockSize, Ino: n.ino, Dev: n.fs.dev,
		Atime: ts, Mtime: ts, Ctime: ts,
	}
	switch {
	case n.Dir != nil:
		st.Nlink = 2
	case n.File != nil:
		st.Size = n.fs.opts.FileSize
	}
	return st, nil
}

// Lookup implements vfs.Inode.Lookup.
func (n *Inode[P]) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	if n.Dir == nil {
		return nil, unix.ENOTDIR
	}
	if n.gone() {
		return nil, unix.ENOENT
	}
	c, err := n.Dir.Lookup(ctx, n, name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Readlink implements vfs.Inode.Readlink.
func (n *Inode[P]) Readlink(ctx vfs.Context) (string, error) {
	if n.Target == nil {
		return "", unix.EINVAL
	}
	if n.gone() {
		return "", unix.ENOENT
	}
	return n.Target(ctx, n)
}

// MagicTarget implements vfs.MagicLink.
func (n *Inode[P]) MagicTarget(ctx vfs.Context) (vfs.VirtualDentry, *vfs.FileDescription, bool, error) {
	if n.Magic == nil {
		return vfs.VirtualDentry{}, nil, false, nil
	}
	if n.gone() {
		return vfs.VirtualDentry{}, nil, true, unix.ENOENT
	}
	vd, f, err := n.Magic(ctx, n)
	return vd, f, true, err
}

// Release implements vfs.Inode.Release.
func (n *Inode[P]) Release() {}

// The tree is fixed: modifications fail with Linux's errnos for procfs.

// SetStat implements vfs.Inode.SetStat: mode and owner changes are
// refused (EPERM); truncation and time changes are accepted and ignored.
func (n *Inode[P]) SetStat(_ vfs.Context, opts *vfs.SetStatOptions) error {
	if opts.Mask&(unix.STATX_MODE|unix.STATX_UID|unix.STATX_GID) != 0 {
		return unix.EPERM
	}
	return nil
}

// Create implements vfs.Inode.Create.
func (n *Inode[P]) Create(vfs.Context, string, *vfs.CreateOptions) (vfs.Inode, error) {
	return nil, unix.ENOENT
}

// Link implements vfs.Inode.Link.
func (n *Inode[P]) Link(vfs.Context, string, vfs.Inode) (vfs.Inode, error) {
	return nil, unix.ENOENT
}

// Unlink implements vfs.Inode.Unlink.
func (n *Inode[P]) Unlink(vfs.Context, string, vfs.Inode) error { return unix.EPERM }

// Rmdir implements vfs.Inode.Rmdir.
func (n *Inode[P]) Rmdir(vfs.Context, string, vfs.Inode) error { return unix.EPERM }

// Rename implements vfs.Inode.Rename.
func (n *Inode[P]) Rename(vfs.Context, string, vfs.Inode, vfs.Inode, string, vfs.Inode) error {
	return unix.ENOENT
}

// Open implements vfs.Inode.Open.
func (n *Inode[P]) Open(ctx vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	if n.gone() {
		return nil, unix.ENOENT
	}
	switch {
	case n.Dir != nil:
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			return nil, unix.EISDIR
		}
		return &dirFile[P]{n: n}, nil
	case n.Target != nil:
		return nil, unix.ELOOP
	}
	if n.fs.opts.WriteOpenNeedsWriter && n.File.Write == nil && flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EACCES
	}
	if n.File.MayOpen != nil {
		if err := n.File.MayOpen(ctx, n, flags); err != nil {
			return nil, err
		}
	}
	if n.File.Open != nil {
		return n.File.Open(ctx, n, flags)
	}
	return &openFile[P]{n: n}, nil
}
