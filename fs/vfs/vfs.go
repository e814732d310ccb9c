package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// VirtualFilesystem is the sandbox's mount tree and dentry cache.
type VirtualFilesystem struct {
	// renameMu is held for writing by rename (which moves dentries between
	// parents) and for reading by whoever follows Dentry.parent or reads
	// Dentry.name.
	renameMu sync.RWMutex

	// mountMu protects mounts, Mount.parent and Mount.point.
	mountMu sync.RWMutex
	// mounts maps a mount point to the mount on top of it.
	mounts map[mountKey]*Mount
	// root is the root of the mount tree. Immutable after NewRootMount.
	root VirtualDentry

	nextMountID atomic.Uint64
	nextAnonDev atomic.Uint32
	nextAnonIno atomic.Uint64

	// locks are the file locks of every file (locks.go).
	locks lockSpace
	// leases are the file leases and open counts (lease.go).
	leases leaseTable

	// watches are the watched inodes (fsnotify.go); renameCookie numbers
	// renames for IN_MOVED_FROM/IN_MOVED_TO pairs.
	watches      watchTable
	renameCookie atomic.Uint32

	// epollMu serialises adding an epoll file to another (EpollMutex).
	epollMu sync.Mutex
}

type mountKey struct {
	parent *Mount
	point  *Dentry
}

// MountOptions are per-mount flags.
type MountOptions struct {
	// ReadOnly makes every modification through the mount fail with EROFS.
	ReadOnly bool
	// NoSuid makes exec ignore set-user-ID and set-group-ID bits.
	NoSuid bool
	// NoDev makes opening device nodes fail with EACCES.
	NoDev bool
	// NoExec makes exec of files on the mount fail with EACCES.
	NoExec bool

	// Source, Type and Data are how /proc/[pid]/mounts and mountinfo
	// describe the mount: the "device" column, the filesystem type and
	// the filesystem-specific options, as the mount's creator named them
	// (config.json's source and type, a tmpfs's size=). Empty means the
	// filesystem's own defaults. They never change the mount's behaviour.
	Source, Type, Data string
	// FSRoot is where the filesystem's root lies in the tree it comes
	// from, for mountinfo's root field: a gofer filesystem serving the
	// host's /etc is "/etc" (as runc's bind mount shows it). Empty is "/".
	FSRoot string
}

// Per-mount flag bits of Mount.flags.
const (
	mountReadOnly uint32 = 1 << iota
	mountNoSuid
	mountNoDev
	mountNoExec
)

func (o MountOptions) bits() uint32 {
	var b uint32
	if o.ReadOnly {
		b |= mountReadOnly
	}
	if o.NoSuid {
		b |= mountNoSuid
	}
	if o.NoDev {
		b |= mountNoDev
	}
	if o.NoExec {
		b |= mountNoExec
	}
	return b
}

// Mount is a filesystem mounted at a point of the tree.
type Mount struct {
	vfs  *VirtualFilesystem
	fs   Filesystem
	root *Dentry
	id   uint64
	// flags are the mount* bits; remount changes them.
	flags atomic.Uint32
	// source, fstype, data and fsroot are MountOptions' descriptions;
	// immutable.
	source, fstype, data, fsroot string
	// unbindable is MS_UNBINDABLE propagation: a bind mount of anything
	// on this mount is EINVAL, and recursive bind mounts skip it.
	unbindable atomic.Bool

	// parent and point are protected by vfs.mountMu; nil for the root.
	parent *Mount
	point  *Dentry

	// users counts the long-lived references into the mount: open file
	// descriptions and FSContext roots and working directories. A mount
	// in use is EBUSY for umount2 without MNT_DETACH, as on Linux.
	users atomic.Int64
}

// SetUnbindable sets or clears MS_UNBINDABLE propagation on the mount
// (config.json's linux.rootfsPropagation "unbindable" for the root).
func (m *Mount) SetUnbindable(u bool) { m.unbindable.Store(u) }

// Filesystem returns the mounted filesystem.
func (m *Mount) Filesystem() Filesystem { return m.fs }

// ID returns the mount id (statx's stx_mnt_id).
func (m *Mount) ID() uint64 { return m.id }

// ReadOnly reports whether the mount is read-only.
func (m *Mount) ReadOnly() bool { return m.flags.Load()&mountReadOnly != 0 }

// NoSuid reports whether exec ignores set-ID bits of files on the mount.
func (m *Mount) NoSuid() bool { return m.flags.Load()&mountNoSuid != 0 }

// NoDev reports whether device nodes on the mount may not be opened.
func (m *Mount) NoDev() bool { return m.flags.Load()&mountNoDev != 0 }

// NoExec reports whether files on the mount may not be executed.
func (m *Mount) NoExec() bool { return m.flags.Load()&mountNoExec != 0 }

// Options returns the mount's flags.
func (m *Mount) Options() MountOptions {
	b := m.flags.Load()
	return MountOptions{ReadOnly: b&mountReadOnly != 0, NoSuid: b&mountNoSuid != 0, NoDev: b&mountNoDev != 0, NoExec: b&mountNoExec != 0,
		Source: m.source, Type: m.fstype, Data: m.data, FSRoot: m.fsroot}
}

// New returns an empty VirtualFilesystem; NewRootMount gives it a root.
func New() *VirtualFilesystem {
	return &VirtualFilesystem{mounts: make(map[mountKey]*Mount)}
}

// NewAnonDevMinor allocates a device minor number (major 0) for a
// filesystem without a backing device, as Linux's get_anon_bdev.
func (vfs *VirtualFilesystem) NewAnonDevMinor() uint32 {
	return vfs.nextAnonDev.Add(1) + 16
}

// NextAnonIno allocates an inode number for a file that lives on no
// mounted filesystem: pipes, eventfds, epoll and timerfd instances.
func (vfs *VirtualFilesystem) NextAnonIno() uint64 {
	return vfs.nextAnonIno.Add(1)
}

func (vfs *VirtualFilesystem) newMount(fs Filesystem, opts MountOptions) (*Mount, error) {
	ino, err := fs.Root()
	if err != nil {
		return nil, err
	}
	m := &Mount{vfs: vfs, fs: fs, id: vfs.nextMountID.Add(1), source: opts.Source, fstype: opts.Type, data: opts.Data, fsroot: opts.FSRoot}
	m.flags.Store(opts.bits())
	m.root = newDentry(ino, nil, "")
	m.root.vfs = vfs
	return m, nil
}

// NewRootMount makes fs the root of the tree and returns a reference to it
// (the caller releases it with DecRef). It may be called once.
func (vfs *VirtualFilesystem) NewRootMount(fs Filesystem, opts MountOptions) (VirtualDentry, error) {
	if vfs.root.mount != nil {
		return VirtualDentry{}, unix.EBUSY
	}
	m, err := vfs.newMount(fs, opts)
	if err != nil {
		return VirtualDentry{}, err
	}
	vfs.root = VirtualDentry{m, m.root}
	vfs.root.IncRef()
	return vfs.root, nil
}

// Root returns a new reference to the root of the tree.
func (vfs *VirtualFilesystem) Root() VirtualDentry {
	vfs.root.IncRef()
	return vfs.root
}

// MountAt mounts fs on the directory that path (resolved from root,
// following symlinks) names, on top of whatever is mounted there.
func (vfs *VirtualFilesystem) MountAt(ctx Context, root VirtualDentry, path string, fs Filesystem, opts MountOptions) error {
	target, err := vfs.GetDentryAt(ctx, &PathOperation{Root: root, Start: root, Path: path, Follow: true})
	if err != nil {
		return err
	}
	defer target.DecRef()
	return vfs.Mount(target, fs, opts)
}

// Mount mounts fs on target, a directory.
func (vfs *VirtualFilesystem) Mount(target VirtualDentry, fs Filesystem, opts MountOptions) error {
	if !target.dentry.IsDir() {
		return unix.ENOTDIR
	}
	m, err := vfs.newMount(fs, opts)
	if err != nil {
		return err
	}
	target.dentry.mu.Lock()
	dead := target.dentry.dead
	target.dentry.mu.Unlock()
	if dead {
		m.root.decRef()
		return unix.ENOENT
	}
	target.dentry.IncRef()
	vfs.mountMu.Lock()
	defer vfs.mountMu.Unlock()
	key := mountKey{target.mount, target.dentry}
	if _, ok := vfs.mounts[key]; ok {
		// The walk follows mounts, so a path never names a covered point.
		target.dentry.decRef()
		m.root.decRef()
		return unix.EBUSY
	}
	m.parent, m.point = target.mount, target.dentry
	vfs.mounts[key] = m
	target.dentry.mounts.Add(1)
	return nil
}

// Umount detaches the mount whose root is vd (EINVAL if vd is not the root
// of a mount, EBUSY if something is mounted below it). Open files keep the
// detached filesystem alive.
func (vfs *VirtualFilesystem) Umount(vd VirtualDentry) error {
	m := vd.mount
	if vd.dentry != m.root || m.parent == nil {
		return unix.EINVAL
	}
	vfs.mountMu.Lock()
	if m.users.Load() != 0 {
		vfs.mountMu.Unlock()
		return unix.EBUSY
	}
	for k := range vfs.mounts {
		if k.parent == m {
			vfs.mountMu.Unlock()
			return unix.EBUSY
		}
	}
	point := m.point
	delete(vfs.mounts, mountKey{m.parent, point})
	point.mounts.Add(-1)
	vfs.mountMu.Unlock()
	vfs.notifyUnmounted(m)
	point.decRef()
	return nil
}

// mountAt returns the mount on top of (m, d), or nil.
func (vfs *VirtualFilesystem) mountAt(m *Mount, d *Dentry) *Mount {
	vfs.mountMu.RLock()
	c := vfs.mounts[mountKey{m, d}]
	vfs.mountMu.RUnlock()
	return c
}

// followMounts moves vd (owned) to the root of the topmost mount on it.
func (vfs *VirtualFilesystem) followMounts(vd VirtualDentry) VirtualDentry {
	for vd.dentry.mounts.Load() != 0 {
		c := vfs.mountAt(vd.mount, vd.dentry)
		if c == nil {
			break
		}
		c.root.IncRef()
		vd.dentry.decRef()
		vd = VirtualDentry{c, c.root}
	}
	return vd
}

// Dentry is a node of the name cache: one name of an Inode in its parent.
// A Dentry stays cached until it is unlinked, renamed over or its
// filesystem unmounted.
//
// Reference counting: the parent's child cache holds one reference, every
// VirtualDentry holder one, and every child one on its parent. When the
// count reaches zero the Inode is released.
type Dentry struct {
	// vfs is the tree the dentry belongs to. Immutable.
	vfs   *VirtualFilesystem
	inode Inode
	// ftype is the S_IFMT bits; a node never changes type.
	ftype uint32
	refs  atomic.Int64
	// mounts counts mounts whose mount point is this dentry.
	mounts atomic.Int32

	// parent and name are protected by VirtualFilesystem.renameMu.
	parent *Dentry
	name   string

	// mu protects children, sweepAt, dead and linkable, and serialises
	// directory modifications of this directory.
	mu       sync.Mutex
	children map[string]*Dentry
	// sweepAt is the size of children at which the next lookup that
	// caches an Expirer sweeps the expired ones out (0: minSweep).
	sweepAt int
	dead    bool
	// linkable marks the dentry of an O_TMPFILE file (without O_EXCL):
	// dead, yet linkat may give it a name once.
	linkable bool
}

func newDentry(ino Inode, parent *Dentry, name string) *Dentry {
	mode, _, _ := ino.Perms()
	d := &Dentry{inode: ino, ftype: mode & unix.S_IFMT, parent: parent, name: name}
	if parent != nil {
		d.vfs = parent.vfs
	}
	d.refs.Store(1)
	if parent != nil {
		parent.IncRef()
	}
	return d
}

// Inode returns the filesystem node.
func (d *Dentry) Inode() Inode { return d.inode }

// IsDir reports whether the node is a directory.
func (d *Dentry) IsDir() bool { return d.ftype == unix.S_IFDIR }

// IsSymlink reports whether the node is a symbolic link.
func (d *Dentry) IsSymlink() bool { return d.ftype == unix.S_IFLNK }

// IsRegular reports whether the node is a regular file.
func (d *Dentry) IsRegular() bool { return d.ftype == unix.S_IFREG }

// IncRef takes a reference.
func (d *Dentry) IncRef() { d.refs.Add(1) }

// decRef drops a reference, releasing the inode (and the reference on the
// parent) at zero.
func (d *Dentry) decRef() {
	for d != nil {
		if d.refs.Add(-1) != 0 {
			return
		}
		d.notifyDeath()
		d.inode.Release()
		d.inode = nil
		// Parent is stable: a dentry without references has been removed
		// from the cache, and nothing can rename it.
		d, d.parent = d.parent, nil
	}
}

// kill removes d from its parent's cache (parent.mu held) and drops the
// cache's reference later, via the returned dentry (decRef it outside the
// lock).
func (d *Dentry) killLocked(parent *Dentry, name string) {
	delete(parent.children, name)
	d.mu.Lock()
	d.dead = true
	d.mu.Unlock()
}

// VirtualDentry is a position in the mount tree: a dentry seen through a
// mount. The zero value is "none".
type VirtualDentry struct {
	mount  *Mount
	dentry *Dentry
}

// Ok reports whether vd is not the zero value.
func (vd VirtualDentry) Ok() bool { return vd.dentry != nil }

// Mount returns the mount.
func (vd VirtualDentry) Mount() *Mount { return vd.mount }

// Dentry returns the dentry.
func (vd VirtualDentry) Dentry() *Dentry { return vd.dentry }

// IncRef takes a reference.
func (vd VirtualDentry) IncRef() {
	if vd.dentry != nil {
		vd.dentry.IncRef()
	}
}

// DecRef drops a reference.
func (vd VirtualDentry) DecRef() {
	if vd.dentry != nil {
		vd.dentry.decRef()
	}
}

// pin and unpin count a long-lived holder of vd (Mount.users).
func (vd VirtualDentry) pin() {
	if vd.mount != nil {
		vd.mount.users.Add(1)
	}
}

func (vd VirtualDentry) unpin() {
	if vd.mount != nil {
		vd.mount.users.Add(-1)
	}
}

// PathnameWithin returns the absolute path of vd as seen from root (for
// getcwd and /proc). If vd is not below root, it returns the path from the
// tree's root; a deleted node gets " (deleted)" appended, as Linux does.
func (vfs *VirtualFilesystem) PathnameWithin(root, vd VirtualDentry) string {
	vfs.renameMu.RLock()
	defer vfs.renameMu.RUnlock()
	var comps []string
	m, d := vd.mount, vd.dentry
	d.mu.Lock()
	deleted := d.dead
	d.mu.Unlock()
	for {
		if m == root.mount && d == root.dentry {
			break
		}
		if d == m.root {
			vfs.mountMu.RLock()
			pm, pd := m.parent, m.point
			vfs.mountMu.RUnlock()
			if pm == nil {
				break
			}
			m, d = pm, pd
			continue
		}
		if d.parent == nil {
			break
		}
		comps = append(comps, d.name)
		d = d.parent
	}
	n := 0
	for _, c := range comps {
		n += len(c) + 1
	}
	buf := make([]byte, 0, n+11)
	for i := len(comps) - 1; i >= 0; i-- {
		buf = append(buf, '/')
		buf = append(buf, comps[i]...)
	}
	if len(buf) == 0 {
		buf = append(buf, '/')
	}
	if deleted {
		buf = append(buf, " (deleted)"...)
	}
	return string(buf)
}

// EpollMutex serialises adding an epoll file to another in this tree, so
// that fs/epoll's loop and depth check sees a stable graph (Linux's
// epnested_mutex; every file of the sandbox is in its one tree).
func (vfs *VirtualFilesystem) EpollMutex() *sync.Mutex { return &vfs.epollMu }
