// Package tmpfs is an in-memory filesystem (for /tmp, /dev/shm and empty
// placeholder directories). Regular file data lives in the memory file
// through a fsutil.PageCache, so files are mappable and mmap is coherent
// with read and write.
package tmpfs

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
)

// tmpfsMagic is TMPFS_MAGIC for statfs.
const tmpfsMagic = 0x01021994

// bogoDirentSize is what Linux's tmpfs counts per entry in a directory's
// size.
const bogoDirentSize = 20

// Options configure a new tmpfs.
type Options struct {
	// RootMode is the permission bits of the root directory (e.g. 01777).
	RootMode uint32
	RootUID  auth.KUID
	RootGID  auth.KGID
	// DevMinor is the anonymous device minor (vfs.NewAnonDevMinor).
	DevMinor uint32
	// Size bounds the file data in bytes (size=); 0 is DefaultSize.
	Size uint64
	// NrInodes bounds the number of nodes (nr_inodes=); 0 is
	// DefaultNrInodes.
	NrInodes uint64
}

// Filesystem is one tmpfs instance.
type Filesystem struct {
	mf  fsutil.MemoryFile
	dev uint64

	// maxPages and maxInodes are the size= and nr_inodes= limits;
	// usedPages counts the pages of file data (Charge/Uncharge).
	maxPages  int64
	maxInodes uint64
	usedPages atomic.Int64

	// mu protects the directory structure and the non-atomic attributes of
	// every inode of this filesystem.
	mu      sync.Mutex
	nextIno uint64
	// inodes counts live nodes (named or open).
	inodes uint64
	root   *inode
}

// New returns a tmpfs whose file data is allocated from mf.
func New(mf fsutil.MemoryFile, opts Options) *Filesystem {
	fs := &Filesystem{mf: mf, dev: unix.Mkdev(0, opts.DevMinor)}
	fs.setLimits(opts.Size, opts.NrInodes)
	fs.mu.Lock()
	fs.root = fs.newInodeLocked(unix.S_IFDIR|opts.RootMode&0o7777, opts.RootUID, opts.RootGID)
	fs.root.parent = fs.root
	fs.mu.Unlock()
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "tmpfs" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() (vfs.Inode, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.root.refs++
	return fs.root, nil
}

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem) StatFS(vfs.Context) (unix.Statfs_t, error) {
	fs.mu.Lock()
	files, maxInodes := fs.inodes, fs.maxInodes
	fs.mu.Unlock()
	blocks := uint64(fs.maxPages)
	free := blocks - min(blocks, uint64(fs.usedPages.Load()))
	return unix.Statfs_t{
		Type: tmpfsMagic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax,
		Blocks: blocks, Bfree: free, Bavail: free,
		Files: maxInodes, Ffree: maxInodes - min(maxInodes, files),
	}, nil
}

// Charge implements fsutil.Accounter: the size= limit.
func (fs *Filesystem) Charge(n int64) bool {
	for {
		used := fs.usedPages.Load()
		if used+n > fs.maxPages {
			return false
		}
		if fs.usedPages.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Uncharge implements fsutil.Accounter.
func (fs *Filesystem) Uncharge(n int64) { fs.usedPages.Add(-n) }

// dirent is one directory entry.
type dirent struct {
	name   string
	inode  *inode
	serial int64
}

// inode is a tmpfs node.
type inode struct {
	fs  *Filesystem
	ino uint64
	// OpenCounts counts the file's opens for leases.
	vfs.OpenCounts

	// mode, uid and gid are atomic so that Perms (called for every
	// directory walked) takes no lock. Writers hold fs.mu.
	mode atomic.Uint32
	uid  atomic.Uint32
	gid  atomic.Uint32

	// The rest is protected by fs.mu.
	nlink                      uint32
	refs                       int // dentries referring to this node
	atime, mtime, ctime, btime unix.Timespec

	// Directories.
	parent     *inode
	entries    []*dirent // in serial order
	byName     map[string]*dirent
	nextSerial int64

	// Regular files. data and mappable are immutable after creation.
	data     *fsutil.PageCache
	mappable *mappable
	// seals are the memfd seals (F_SEAL_*); files not made by
	// memfd_create(MFD_ALLOW_SEALING) have F_SEAL_SEAL.
	seals uint32
	// writableMaps counts shared mappings that may write (VM_SHARED with
	// VM_MAYWRITE), which F_SEAL_WRITE refuses with EBUSY.
	writableMaps int
	// linkable is set on an O_TMPFILE file that linkat may name.
	linkable bool
	// freed is set once a node with no names and no dentries is gone.
	freed bool

	// xattrs are the extended attributes (xattr.go).
	xattrs map[string][]byte

	// Device nodes. Immutable.
	rdev uint64

	// FIFOs (special.go): the pipe every open of the FIFO shares.
	fifo *pipe.Named

	// Symlinks. Immutable.
	target string
}

// newInodeChecked is newInodeLocked within the nr_inodes limit (ENOSPC).
func (fs *Filesystem) newInodeChecked(mode uint32, uid auth.KUID, gid auth.KGID) (*inode, error) {
	if fs.inodes >= fs.maxInodes {
		return nil, unix.ENOSPC
	}
	return fs.newInodeLocked(mode, uid, gid), nil
}

func (fs *Filesystem) newInodeLocked(mode uint32, uid auth.KUID, gid auth.KGID) *inode {
	fs.nextIno++
	fs.inodes++
	now := vfs.Now()
	i := &inode{fs: fs, ino: fs.nextIno, nlink: 1, refs: 1, atime: now, mtime: now, ctime: now, btime: now}
	i.mode.Store(mode)
	i.uid.Store(uint32(uid))
	i.gid.Store(uint32(gid))
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		i.nlink = 2
		i.byName = make(map[string]*dirent)
		i.nextSerial = 3 // below are ".", ".." and dirOffsetFirst
	case unix.S_IFREG:
		i.data = fsutil.NewPageCache(fs.mf, nil)
		i.data.SetAccounter(fs)
		i.mappable = &mappable{PageCache: i.data, i: i}
		i.seals = sealSeal
	case unix.S_IFIFO:
		i.fifo = &pipe.Named{}
	}
	return i
}

func (i *inode) isDir() bool { return i.mode.Load()&unix.S_IFMT == unix.S_IFDIR }

// Perms implements vfs.Inode.Perms.
func (i *inode) Perms() (uint32, auth.KUID, auth.KGID) {
	return i.mode.Load(), auth.KUID(i.uid.Load()), auth.KGID(i.gid.Load())
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(vfs.Context) (vfs.Stat, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	return i.statLocked(), nil
}

func (i *inode) statLocked() vfs.Stat {
	st := vfs.Stat{
		Mode: i.mode.Load(), Nlink: i.nlink, UID: auth.KUID(i.uid.Load()), GID: auth.KGID(i.gid.Load()),
		Blksize: 4096, Ino: i.ino, Dev: i.fs.dev, Rdev: i.rdev,
		Atime: i.atime, Mtime: i.mtime, Ctime: i.ctime, Btime: i.btime,
	}
	switch {
	case i.data != nil:
		st.Size = uint64(i.data.Size())
		st.Blocks = i.data.Blocks()
	case i.byName != nil:
		st.Size = uint64(len(i.entries)+2) * bogoDirentSize
	case i.mode.Load()&unix.S_IFMT == unix.S_IFLNK:
		st.Size = uint64(len(i.target))
	}
	return st
}

// SetStat implements vfs.Inode.SetStat. A truncation then drops the
// mappings' translations of the pages past the new end (the file's pages
// and private copies of them: an access there is SIGBUS, as on Linux),
// after the filesystem's lock is released: a memory manager takes it
// with its own held (MMapHook's hold).
func (i *inode) SetStat(ctx vfs.Context, opts *vfs.SetStatOptions) error {
	err := i.setStat(ctx, opts)
	if err == nil && opts.Mask&unix.STATX_SIZE != 0 && i.mappable != nil {
		i.mappable.maps.Truncated(i.mappable, opts.Size)
	}
	return err
}

func (i *inode) setStat(_ vfs.Context, opts *vfs.SetStatOptions) error {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	now := vfs.Now()
	if opts.Mask&unix.STATX_SIZE != 0 {
		if i.data == nil {
			return unix.EINVAL
		}
		if opts.Size > 1<<63-1 {
			return unix.EFBIG
		}
		if err := i.checkResizeLocked(int64(opts.Size)); err != nil {
			return err
		}
		i.data.Truncate(int64(opts.Size))
		i.mtime = now
	}
	if opts.Mask&unix.STATX_MODE != 0 {
		i.mode.Store(i.mode.Load()&unix.S_IFMT | opts.Mode&0o7777)
	}
	if opts.Mask&unix.STATX_UID != 0 {
		i.uid.Store(uint32(opts.UID))
	}
	if opts.Mask&unix.STATX_GID != 0 {
		i.gid.Store(uint32(opts.GID))
	}
	if opts.Mask&unix.STATX_ATIME != 0 {
		i.atime = opts.Atime
	}
	if opts.Mask&unix.STATX_MTIME != 0 {
		i.mtime = opts.Mtime
	}
	i.ctime = now
	return nil
}

// Lookup implements vfs.Inode.Lookup.
func (i *inode) Lookup(_ vfs.Context, name string) (vfs.Inode, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if i.byName == nil {
		return nil, unix.ENOTDIR
	}
	d, ok := i.byName[name]
	if !ok {
		return nil, unix.ENOENT
	}
	d.inode.refs++
	return d.inode, nil
}

// Readlink implements vfs.Inode.Readlink.
func (i *inode) Readlink(vfs.Context) (string, error) {
	if i.mode.Load()&unix.S_IFMT != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	return i.target, nil
}

// addLocked links child into directory i as name.
func (i *inode) addLocked(name string, child *inode) {
	if i.nextSerial == dirOffsetEOD {
		i.nextSerial++
	}
	d := &dirent{name: name, inode: child, serial: i.nextSerial}
	i.nextSerial++
	i.entries = append(i.entries, d)
	i.byName[name] = d
	now := vfs.Now()
	i.mtime, i.ctime = now, now
}

// removeLocked unlinks name from directory i.
func (i *inode) removeLocked(name string) *dirent {
	d := i.byName[name]
	delete(i.byName, name)
	k := sort.Search(len(i.entries), func(k int) bool { return i.entries[k].serial >= d.serial })
	i.entries = append(i.entries[:k], i.entries[k+1:]...)
	now := vfs.Now()
	i.mtime, i.ctime = now, now
	return d
}

// Create implements vfs.Inode.Create.
func (i *inode) Create(_ vfs.Context, name string, opts *vfs.CreateOptions) (vfs.Inode, error) {
	switch opts.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK, unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
	default:
		return nil, unix.EPERM
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if i.byName == nil {
		return nil, unix.ENOTDIR
	}
	if i.nlink == 0 {
		return nil, unix.ENOENT
	}
	if _, ok := i.byName[name]; ok {
		return nil, unix.EEXIST
	}
	child, err := i.fs.newInodeChecked(opts.Mode, opts.UID, opts.GID)
	if err != nil {
		return nil, err
	}
	child.rdev = opts.Rdev
	if child.byName != nil {
		child.parent = i
		i.nlink++
	}
	child.target = opts.Target
	i.addLocked(name, child)
	return child, nil
}

// Link implements vfs.Inode.Link.
func (i *inode) Link(_ vfs.Context, name string, target vfs.Inode) (vfs.Inode, error) {
	t, ok := target.(*inode)
	if !ok || t.fs != i.fs {
		return nil, unix.EXDEV
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if i.nlink == 0 || t.nlink == 0 && !t.linkable {
		return nil, unix.ENOENT
	}
	if _, ok := i.byName[name]; ok {
		return nil, unix.EEXIST
	}
	t.linkable = false
	t.nlink++
	t.refs++
	t.ctime = vfs.Now()
	i.addLocked(name, t)
	return t, nil
}

// Unlink implements vfs.Inode.Unlink.
func (i *inode) Unlink(_ vfs.Context, name string, child vfs.Inode) error {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	d, ok := i.byName[name]
	if !ok || d.inode != child {
		return unix.ENOENT
	}
	i.removeLocked(name)
	c := d.inode
	c.nlink--
	c.ctime = vfs.Now()
	c.maybeFreeLocked()
	return nil
}

// Rmdir implements vfs.Inode.Rmdir.
func (i *inode) Rmdir(_ vfs.Context, name string, child vfs.Inode) error {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	d, ok := i.byName[name]
	if !ok || d.inode != child {
		return unix.ENOENT
	}
	c := d.inode
	if len(c.entries) != 0 {
		return unix.ENOTEMPTY
	}
	i.removeLocked(name)
	c.nlink = 0
	i.nlink--
	c.maybeFreeLocked()
	return nil
}

// Rename implements vfs.Inode.Rename.
func (i *inode) Rename(_ vfs.Context, oldName string, child vfs.Inode, newParent vfs.Inode, newName string, replaced vfs.Inode) error {
	np, ok := newParent.(*inode)
	if !ok || np.fs != i.fs {
		return unix.EXDEV
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	d, ok := i.byName[oldName]
	if !ok || d.inode != child {
		return unix.ENOENT
	}
	c := d.inode
	if np.nlink == 0 {
		return unix.ENOENT
	}
	if r, ok := np.byName[newName]; ok {
		if replaced == nil || r.inode != replaced {
			return unix.EEXIST
		}
		ri := r.inode
		if ri.byName != nil {
			if len(ri.entries) != 0 {
				return unix.ENOTEMPTY
			}
			ri.nlink = 0
			np.nlink--
			ri.maybeFreeLocked()
		} else {
			ri.nlink--
		}
		ri.ctime = vfs.Now()
		np.removeLocked(newName)
		ri.maybeFreeLocked()
	}
	i.removeLocked(oldName)
	np.addLocked(newName, c)
	if c.byName != nil && np != i {
		i.nlink--
		np.nlink++
		c.parent = np
	}
	c.ctime = vfs.Now()
	return nil
}

// Release implements vfs.Inode.Release.
func (i *inode) Release() {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	i.refs--
	i.maybeFreeLocked()
}

// maybeFreeLocked frees a node (a regular file's data, its place in
// nr_inodes) once it has no names and no dentries (hence no open files).
func (i *inode) maybeFreeLocked() {
	if i.nlink != 0 || i.refs != 0 || i.freed {
		return
	}
	i.freed = true
	i.fs.inodes--
	if i.data != nil {
		i.data.Release()
	}
	i.xattrs = nil
}

// Open implements vfs.Inode.Open.
func (i *inode) Open(ctx vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	switch i.mode.Load() & unix.S_IFMT {
	case unix.S_IFREG:
		return &regularFile{inode: i}, nil
	case unix.S_IFDIR:
		return &dirFile{inode: i}, nil
	case unix.S_IFIFO:
		return i.openFIFO(ctx, flags)
	case unix.S_IFCHR:
		return openDevice(ctx, i, flags)
	default:
		// Sockets (nothing listens on a socket node opened as a file)
		// and block devices.
		return nil, unix.ENXIO
	}
}

// regularFile is an open regular file.
type regularFile struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
}

func (f *regularFile) Release(vfs.Context) {}

func (f *regularFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

func (f *regularFile) PRead(_ vfs.Context, dst []byte, off int64) (int, error) {
	return f.inode.data.ReadAt(dst, off)
}

func (f *regularFile) PWrite(_ vfs.Context, src []byte, off int64, appendMode bool) (int, int64, error) {
	if err := f.inode.checkWrite(off, int64(len(src)), appendMode); err != nil {
		return 0, off, err
	}
	if len(src) == 0 {
		if appendMode {
			return 0, f.inode.data.Size(), nil
		}
		return 0, off, nil
	}
	var (
		n   int
		end int64
		err error
	)
	if appendMode {
		n, end, err = f.inode.data.Append(src)
	} else {
		if off+int64(len(src)) < off {
			return 0, off, unix.EFBIG
		}
		n, err = f.inode.data.WriteAt(src, off)
		end = off + int64(n)
	}
	if n > 0 {
		f.inode.fs.mu.Lock()
		now := vfs.Now()
		f.inode.mtime, f.inode.ctime = now, now
		f.inode.fs.mu.Unlock()
	}
	return n, end, err
}

func (f *regularFile) Seek(_ vfs.Context, cur, offset int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_DATA:
		return f.inode.data.SeekData(offset)
	case unix.SEEK_HOLE:
		return f.inode.data.SeekHole(offset)
	}
	return vfs.GenericSeek(cur, offset, whence, f.inode.data.Size())
}

func (f *regularFile) Mappable() memmap.Mappable { return f.inode.mappable }

// mappable is a regular file's pages as a memmap.Mappable: one per node, so
// that its identity names the file (futex keys, /proc/[pid]/maps).
type mappable struct {
	*fsutil.PageCache
	i *inode
	// maps are the memory managers that map the file, told when its
	// pages go (truncation, a punched hole).
	maps memmap.Mappings
}

// Mappings implements memmap.Tracked.
func (m *mappable) Mappings() *memmap.Mappings { return &m.maps }

// MappingIdentity implements mm.MappingIdentity.
func (m *mappable) MappingIdentity() (uint32, uint32, uint64) {
	return unix.Major(m.i.fs.dev), unix.Minor(m.i.fs.dev), m.i.ino
}

// dirFile is an open directory.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	inode *inode
}

func (f *dirFile) Release(vfs.Context) {}

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

// Directory offsets, as Linux's tmpfs (libfs's simple_offset): each entry
// gets the next serial of its directory when it is linked (rename gives a
// new one), offsets 0 and 1 are "." and "..", 2 is the newest entry, and
// dirOffsetEOD is the end. Entries are listed newest first and an entry's
// d_off is the serial of the next older one, so that a saved offset stays
// valid however the directory changes (reading resumes at the entry with the
// largest serial at or below it: the saved one, or the next older if it is
// gone), and entries created during a listing are not returned by it (a
// program that creates a file per entry it reads terminates).
const (
	dirOffsetFirst = 2
	dirOffsetEOD   = 1<<31 - 1
)

// Getdents implements vfs.FileDescriptionImpl.Getdents. cb runs with the
// filesystem locked and must not call into it.
func (f *dirFile) Getdents(_ vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	i := f.inode
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if off == dirOffsetEOD {
		return nil
	}
	// next returns the offset of the entry below entries[k] (k is
	// decreasing), or the end.
	next := func(k int) int64 {
		if k < 0 {
			return dirOffsetEOD
		}
		return i.entries[k].serial
	}
	var d vfs.Dirent
	if off < 1 {
		d = vfs.Dirent{Name: ".", Ino: i.ino, Type: unix.DT_DIR, NextOff: 1}
		if !cb(&d) {
			return nil
		}
	}
	if off < dirOffsetFirst {
		d = vfs.Dirent{Name: "..", Ino: i.parent.ino, Type: unix.DT_DIR, NextOff: next(len(i.entries) - 1)}
		if !cb(&d) {
			return nil
		}
	}
	if off <= dirOffsetFirst {
		off = math.MaxInt64
	}
	// The newest entry at or below off.
	k := sort.Search(len(i.entries), func(k int) bool { return i.entries[k].serial > off }) - 1
	for ; k >= 0; k-- {
		e := i.entries[k]
		d = vfs.Dirent{Name: e.name, Ino: e.inode.ino, Type: vfs.DirentType(e.inode.mode.Load()), NextOff: next(k - 1)}
		if !cb(&d) {
			return nil
		}
	}
	return nil
}
