// Package vfs is the sentry's virtual filesystem: the mount tree, the
// dentry cache, the path walk, open file descriptions, per-process
// descriptor tables and filesystem contexts (root, cwd, umask), plus the
// permission checks that Linux applies to each of them.
//
// Filesystems plug in behind two interfaces: Inode (a node of a
// filesystem, reached by Lookup from its parent) and FileDescriptionImpl
// (an open file). The walk, mounts, symlink resolution and permission
// checks live here, so that a new filesystem (tmpfs, a gofer client, procfs,
// pipes, sockets) only implements those interfaces.
//
// Lock order:
//
//	VirtualFilesystem.renameMu
//	  Dentry.mu (of a parent directory; rename locks two, serialised by renameMu)
//	    filesystem-internal locks
//	VirtualFilesystem.mountMu is a leaf, as are FileDescription.offMu,
//	FDTable.mu and FSContext.mu.
//
// Readiness (waiter.go): a file's own locks (e.g. the pipe's mutex) come
// before its WaitQueue.mu, which Notify holds while it runs WaitCallbacks;
// epoll's callback takes the epoll's ready-list lock and then notifies the
// epoll's own WaitQueue, so for nested epolls the inner instance's locks
// come before the outer's (loops are refused with ELOOP):
//
//	epoll interest lock (epoll_ctl; taken before a file's locks)
//	  file impl locks (pipe mutex, eventfd mutex, …)
//	    WaitQueue.mu of the file
//	      epoll ready-list lock
//	      WaitQueue.mu of that epoll (then its watchers, and so on)
//
// Readiness is never called with a WaitQueue.mu or a ready-list lock held.
// FileDescription.hooksMu is a leaf; release hooks run without it.
package vfs

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
)

// Context is what the VFS needs from the calling task. kernel.Task
// implements it.
type Context interface {
	Credentials() *auth.Credentials
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyOut(addr uint64, src []byte) (int, error)
}

// KernelContext is the Context of work the kernel does on files for no
// task (the overlay's copy-ups and whiteouts, procfs's housekeeping,
// MADV_REMOVE's punch): it acts as root and has no memory.
type KernelContext struct{}

var kernelCreds = auth.NewRootCredentials()

func (KernelContext) Credentials() *auth.Credentials      { return kernelCreds }
func (KernelContext) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (KernelContext) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

// Filesystem is one instance of a filesystem, mountable at one or more
// points of the tree.
type Filesystem interface {
	// Name is the filesystem type, e.g. "tmpfs".
	Name() string
	// Root returns the root inode. Each call returns a new reference
	// (released with Inode.Release).
	Root() (Inode, error)
	// StatFS implements statfs(2).
	StatFS(ctx Context) (unix.Statfs_t, error)
}

// CreateOptions describe a new node for Inode.Create.
type CreateOptions struct {
	// Mode is the file type (S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, …) and
	// permission bits, with the umask already applied.
	Mode uint32
	UID  auth.KUID
	GID  auth.KGID
	// Target is the target of a symlink.
	Target string
	// Rdev is the device number of a device node.
	Rdev uint64
}

// OpenLookuper is implemented by an Inode whose lookup of a child that is
// about to be opened can prepare the open in the same step (a remote
// filesystem walks and opens the name in one round trip). The resolver of
// an open(2) without O_CREAT or O_PATH calls LookupOpen, with the open's
// flags, instead of Lookup for the last component of the path when it is
// not cached (and for the last component of each symlink target it
// follows there). The open itself still goes through the child's
// Inode.Open, after the permission checks; LookupOpen must return what
// Lookup would.
type OpenLookuper interface {
	LookupOpen(ctx Context, name string, flags uint32) (Inode, error)
}

// PathLookuper is implemented by an Inode whose lookup of a child can
// also walk the names below it that the resolver will look up next, in the
// same step (a remote filesystem walks a path in one round trip, where
// each component would be one). The resolver calls LookupAhead instead of
// Lookup for a component that is not cached and that more components
// follow, with ahead, the names it will look up below it in order (never
// "." or "..", nor the path's last component, at most a few). It still
// looks each of them up, checking permissions and crossing mounts and
// symlinks as usual: LookupAhead must return what Lookup would, and
// keep what it learned of the names ahead for their own lookups, for as
// long as it may trust it.
type PathLookuper interface {
	LookupAhead(ctx Context, name string, ahead []string) (Inode, error)
}

// Inode is a filesystem's node. The VFS caches one Dentry per (parent,
// name) and keeps the Inode that Lookup or Create returned for it; it calls
// Release once when the dentry dies (unlinked or never again reachable and
// unreferenced). Hard links are several dentries sharing one node; how the
// filesystem counts them is its business.
//
// The VFS has done all permission checks (search, write, sticky, mount
// read-only) before calling a method; the filesystem checks what only it
// can know (ENOTEMPTY, EROFS of a read-only backing store, ENOSPC).
// Methods that take a name are called with the parent dentry locked, so a
// filesystem sees one directory-modifying operation per directory at a
// time.
type Inode interface {
	// Perms returns the mode (type and permission bits) and owner. It is
	// called for every directory walked, so it must be cheap.
	Perms() (mode uint32, uid auth.KUID, gid auth.KGID)
	// Stat returns the node's attributes.
	Stat(ctx Context) (Stat, error)
	// SetStat changes the attributes in opts.Mask.
	SetStat(ctx Context, opts *SetStatOptions) error
	// Lookup returns the child called name (never "." or ".."), or ENOENT.
	Lookup(ctx Context, name string) (Inode, error)
	// Open opens the node. flags are the open(2) flags; O_CREAT, O_EXCL
	// and O_TRUNC were handled by the VFS.
	Open(ctx Context, vd VirtualDentry, flags uint32) (FileDescriptionImpl, error)
	// Readlink returns a symlink's target (EINVAL for other nodes).
	Readlink(ctx Context) (string, error)
	// Create makes a new child name (which does not exist).
	Create(ctx Context, name string, opts *CreateOptions) (Inode, error)
	// Link makes name a new hard link to target (a non-directory of the
	// same filesystem) and returns the node the new dentry refers to.
	Link(ctx Context, name string, target Inode) (Inode, error)
	// Unlink removes the non-directory child name.
	Unlink(ctx Context, name string, child Inode) error
	// Rmdir removes the directory child name (ENOTEMPTY if it is not).
	Rmdir(ctx Context, name string, child Inode) error
	// Rename moves child from this directory's oldName to newParent's
	// newName, replacing replaced (nil if newName does not exist; the VFS
	// has checked that its type is compatible).
	Rename(ctx Context, oldName string, child Inode, newParent Inode, newName string, replaced Inode) error
	// Release drops the dentry's reference on the node.
	Release()
}

// Dirent is one directory entry reported by FileDescriptionImpl.Getdents.
type Dirent struct {
	Name string
	Ino  uint64
	// Type is a DT_* constant.
	Type uint8
	// NextOff is the directory offset just after this entry; reading
	// resumes there.
	NextOff int64
}

// FileDescriptionImpl is a filesystem's open file. The VFS keeps the file
// offset and status flags and serialises offset-based calls on one
// description, so implementations only see explicit offsets.
type FileDescriptionImpl interface {
	// Release is called once when the last reference to the description
	// is dropped.
	Release(ctx Context)
	// Stat returns the file's attributes (fstat).
	Stat(ctx Context) (Stat, error)
	// PRead reads at off (ignored for non-seekable files).
	PRead(ctx Context, dst []byte, off int64) (int, error)
	// PWrite writes at off, or at the end of the file if appendMode; it
	// returns the bytes written and the offset just after them.
	PWrite(ctx Context, src []byte, off int64, appendMode bool) (int, int64, error)
	// Seek returns the new offset of a seekable file for lseek(offset,
	// whence) from the current offset cur.
	Seek(ctx Context, cur, offset int64, whence int) (int64, error)
	// Getdents calls cb for each entry from directory offset off on, in
	// order, until cb returns false or the directory ends.
	Getdents(ctx Context, off int64, cb func(*Dirent) bool) error
	// Ioctl implements ioctl(2) requests other than the generic ones
	// (FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC) that the VFS handles.
	Ioctl(ctx Context, cmd uint32, arg uint64) (uintptr, error)
	// Mappable returns the file's pages for mmap, or nil (ENODEV).
	Mappable() memmap.Mappable
	// Sync implements fsync/fdatasync.
	Sync(ctx Context) error
}

// FileDescriptionDefaultImpl gives the Linux answers for a file that does
// not support an operation. Embed it and override what the file supports.
type FileDescriptionDefaultImpl struct{}

// PRead implements FileDescriptionImpl.PRead.
func (FileDescriptionDefaultImpl) PRead(Context, []byte, int64) (int, error) { return 0, unix.EINVAL }

// PWrite implements FileDescriptionImpl.PWrite.
func (FileDescriptionDefaultImpl) PWrite(Context, []byte, int64, bool) (int, int64, error) {
	return 0, 0, unix.EINVAL
}

// Seek implements FileDescriptionImpl.Seek.
func (FileDescriptionDefaultImpl) Seek(Context, int64, int64, int) (int64, error) {
	return 0, unix.ESPIPE
}

// Getdents implements FileDescriptionImpl.Getdents.
func (FileDescriptionDefaultImpl) Getdents(Context, int64, func(*Dirent) bool) error {
	return unix.ENOTDIR
}

// Ioctl implements FileDescriptionImpl.Ioctl.
func (FileDescriptionDefaultImpl) Ioctl(Context, uint32, uint64) (uintptr, error) {
	return 0, unix.ENOTTY
}

// Mappable implements FileDescriptionImpl.Mappable.
func (FileDescriptionDefaultImpl) Mappable() memmap.Mappable { return nil }

// Sync implements FileDescriptionImpl.Sync.
func (FileDescriptionDefaultImpl) Sync(Context) error { return nil }

// DirectoryFileDefaultImpl is FileDescriptionDefaultImpl for directories:
// read and write give EISDIR.
type DirectoryFileDefaultImpl struct{ FileDescriptionDefaultImpl }

// PRead implements FileDescriptionImpl.PRead.
func (DirectoryFileDefaultImpl) PRead(Context, []byte, int64) (int, error) { return 0, unix.EISDIR }

// PWrite implements FileDescriptionImpl.PWrite.
func (DirectoryFileDefaultImpl) PWrite(Context, []byte, int64, bool) (int, int64, error) {
	return 0, 0, unix.EISDIR
}

// Seek implements FileDescriptionImpl.Seek: directories accept SEEK_SET to
// an offset reported by Getdents, and SEEK_CUR.
func (DirectoryFileDefaultImpl) Seek(_ Context, cur, offset int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		offset += cur
	default:
		return 0, unix.EINVAL
	}
	if offset < 0 {
		return 0, unix.EINVAL
	}
	return offset, nil
}

// ReadOnlyInode gives EROFS for every modification. Embed it in the nodes
// of a read-only filesystem.
type ReadOnlyInode struct{}

// SetStat implements Inode.SetStat.
func (ReadOnlyInode) SetStat(Context, *SetStatOptions) error { return unix.EROFS }

// Create implements Inode.Create.
func (ReadOnlyInode) Create(Context, string, *CreateOptions) (Inode, error) { return nil, unix.EROFS }

// Link implements Inode.Link.
func (ReadOnlyInode) Link(Context, string, Inode) (Inode, error) { return nil, unix.EROFS }

// Unlink implements Inode.Unlink.
func (ReadOnlyInode) Unlink(Context, string, Inode) error { return unix.EROFS }

// Rmdir implements Inode.Rmdir.
func (ReadOnlyInode) Rmdir(Context, string, Inode) error { return unix.EROFS }

// Rename implements Inode.Rename.
func (ReadOnlyInode) Rename(Context, string, Inode, Inode, string, Inode) error { return unix.EROFS }

// GenericSeek computes lseek's result for a file of the given size (regular
// files of in-memory filesystems). SEEK_DATA/SEEK_HOLE treat the whole file
// as data. A result past the largest offset is EINVAL, as Linux's
// generic_file_llseek (EOVERFLOW is only for 32-bit off_t).
func GenericSeek(cur, offset int64, whence int, size int64) (int64, error) {
	var n int64
	switch whence {
	case unix.SEEK_SET:
		n = offset
	case unix.SEEK_CUR:
		n = cur + offset
		if (offset > 0 && n < cur) || (offset < 0 && n > cur) {
			return 0, unix.EINVAL
		}
	case unix.SEEK_END:
		n = size + offset
		if offset > 0 && n < size {
			return 0, unix.EINVAL
		}
	case unix.SEEK_DATA:
		if offset < 0 || offset >= size {
			return 0, unix.ENXIO
		}
		n = offset
	case unix.SEEK_HOLE:
		if offset < 0 || offset >= size {
			return 0, unix.ENXIO
		}
		n = size
	default:
		return 0, unix.EINVAL
	}
	if n < 0 {
		return 0, unix.EINVAL
	}
	return n, nil
}

// RecordReader is implemented by files that read whole records of one size
// (eventfd and timerfd: an 8-byte count, signalfd: a signalfd_siginfo): a
// read with room for none, a null read included, is EINVAL, as Linux's
// read of them checks before anything else.
type RecordReader interface {
	RecordSize() int
}
