// Package gofer is the sentry's client filesystem for files served by the
// gofer process (package gofer at the top of the tree): the sentry never
// opens a container file itself, it asks the gofer to walk, stat, open and
// modify, and receives host descriptors of regular files that it then
// reads and writes on directly, without a gofer round trip per call.
//
// Nodes. A host file is one inode (type inode) whatever the names that
// reach it (links.go): hard links share it, so inotify watches and file
// locks see one file, and each name keeps its own gofer fid. The state of
// the host file (attributes, symlink target, host descriptors, page cache)
// is a fileState keyed by host device and inode number, shared with any
// inode that still reaches the same file, so that a file reached again
// after its dentry died sees one size, one nlink and one page cache.
//
// Device nodes and whiteouts. The gofer never makes a device node on the
// host (the host would get a device in a directory it may share): a
// device node the sandbox makes (mknod, the 0:0 whiteout of
// renameat2(RENAME_WHITEOUT)) is an empty sticky regular file on the host
// marked with the trusted.rampart.dev attribute, which the gofer serves
// as the device (package gofer's placeholder.go). Opening a device node
// opens the sentry's own driver for its number (device.go), never a host
// device. The host sees an empty file (mode ---------T plus the node's
// permission bits); host users without CAP_SYS_ADMIN can neither make nor
// inspect one.
//
// Extended attributes. user.* are the host file's own; the sandbox's
// trusted.* and security.* are kept on the host under trusted.rampart.*
// (never in the host's own namespaces, where security.capability or
// trusted.overlay.* would act on the host), and the host's own trusted.*,
// security.* and system.* are not shown.
//
// O_TMPFILE. The gofer makes the unnamed file (Ttmpfile) and keeps a
// descriptor of it, through which linkat names it later.
//
// Caching depends on Options.FileAccess:
//   - Exclusive (the default; the sandbox is the only user of the tree, as
//     for the root of `runsc do`): attributes come from the walk and are
//     kept up to date by the sandbox's own changes (size and times after a
//     write, nlink after link and unlink, a parent's times after a name
//     changes, refreshed from the host descriptor or the gofer when marked
//     stale); directories remember a bounded set of names found absent,
//     and those the sandbox made know all their names; a listing lets the
//     lookups of its entries share round trips (prefetch.go). Stat, readlink
//     (after the first), read, write and page faults cost no gofer round
//     trip, nor does an open of a regular file whose host descriptor of
//     that kind (read-only, read-write) is still kept: files keep theirs
//     while open and, once closed, while among the 256 most recently used
//     (beyond that they give them back, bounding the sentry's host
//     descriptors).
//   - Shared (bind mounts that the host also writes): every lookup of a
//     cached name walks it again (vfs.Revalidator: a name now gone or
//     naming another file drops the dentry), stat asks the host, there is
//     no cache of absent names, and an append or SEEK_END asks the host
//     for the size.
//
// Writes (Options.Writable) go to one read-write host descriptor per file,
// opened on the first open for writing and shared by every description of
// the file: they only use pread/pwrite, never the shared offset. O_APPEND
// writes at the end under the file's write lock (Linux's i_rwsem).
//
// mmap. The platform maps only ranges of the memory file, so a gofer file
// cannot be mapped directly; a file gets a page cache in the memory file
// (cache.go) on its first fault. Coherence: from then on reads go through
// the cache and writes go to both the host and the cached pages, so read,
// write and every mapping of the file in the sandbox see the same bytes.
// Pages that a mapping may have changed (those mapped while the file is
// open for writing: mprotect can make a shared mapping writable without a
// new fault) are dirty, and are written back to the host file on msync
// (memmap.Syncer), fsync and fdatasync, and when the file's last
// description is released (which, since a mapping holds its description,
// is after the last munmap and close). Between those points the host does
// not see MAP_SHARED stores (Linux shows them at once, its page cache
// being the file's).
//
// Host unix sockets (socket.go). A socket file on the tree is normally
// the name of a sandbox socket (sentry/socket/unix binds it with mknod and
// keeps the endpoint). With --host-uds, a node also offers HostConnect (a
// host socket connected to a socket file a host process made: Tconnect)
// and a directory HostBind (a host socket bound to a new name, so host
// processes can connect: Tbind); unix finds them by interface and wraps
// the donated descriptor. The gofer enforces the same policy.
//
// A gofer that dies makes every later gofer operation fail with EIO (reads
// and writes on descriptors already donated keep working); the first such
// failure is written once to the sandbox's debug log.
//
// Not supported (Linux differs): FIFOs that were on the host before
// cannot be opened (EACCES); chown or chmod of an unlinked file that is
// still open fails (the gofer reaches files by name); getdents reports a
// device node the sandbox made as DT_REG (the host's type of its
// placeholder); a device node cannot have the sticky bit (it marks the
// placeholder); the sandbox's trusted.* and security.* attribute names
// are 16 bytes shorter at most than Linux allows (the host prefix), and
// on symlinks need a host kernel with getxattrat and the like (6.13;
// EOPNOTSUPP before); in shared mode, a host change to one name of a
// hard-linked file is revalidated through the node's first name only.
//
// Lock order:
//
//	fileState.wmu (writes, truncation)
//	  pageCache.mu
//	    fileState.mu
//	      inode.mu
//	Filesystem.mu is a leaf.
package gofer

import (
	"container/list"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
)

// Name is the filesystem type reported in /proc/mounts.
const Name = "9p"

// FileAccess says who else may change the served tree.
type FileAccess int

const (
	// Exclusive: only the sandbox changes the tree; everything is cached.
	Exclusive FileAccess = iota
	// Shared: the host may change the tree too; names and attributes are
	// revalidated on each lookup and stat.
	Shared
)

// Options configure a gofer filesystem.
type Options struct {
	// Writable enables the write path; without it every modification is
	// EROFS (the gofer server should then be read-only too).
	Writable bool
	// FileAccess is the caching mode (Exclusive by default).
	FileAccess FileAccess
	// Debugf, if set, receives the one-line report of a lost gofer
	// connection; by default it goes to the debug log of the kernel of
	// the task that met it.
	Debugf func(format string, args ...any)
}

// Filesystem is one gofer-served tree.
type Filesystem struct {
	mf   fsutil.MemoryFile
	c    *gproto.Client
	opts Options
	root *inode

	// mu protects files, nodes, fifos, idle, every fileState's idleElem
	// and every inode's drefs.
	mu sync.Mutex
	// idle lists, least recently used first, the regular files that hold
	// host descriptors but have no open description. Beyond maxIdle the
	// oldest lose theirs (the gofer opens the file again when it is next
	// opened), so that a sandbox that touches many files holds few host
	// descriptors, while the files it keeps reopening (libraries) cost no
	// round trip.
	idle list.List
	// files maps a host file to its state while some inode uses it.
	files map[fileKey]*fileState
	// nodes maps each live non-directory to its one inode, whatever
	// the names that reach it (links.go).
	nodes map[fileKey]*inode
	// fifos are the FIFOs the sandbox made on this filesystem: their
	// opens are pipes of the sentry. A FIFO that was on the host before
	// is not the container's to open (EACCES).
	fifos map[fileKey]struct{}

	deathLogged atomic.Bool
	// pf is the state of listing prefetches (prefetch.go).
	pf fsPrefetch
	// xa is what is known of files without extended attributes
	// (xattr.go).
	xa fsXattrs
}

type fileKey struct{ dev, ino uint64 }

// maxIdle bounds the idle files that keep host descriptors.
const maxIdle = 256

// markIdle notes that st has no open description left but may hold host
// descriptors, and takes them from the least recently used idle files
// beyond maxIdle. No fileState lock may be held.
func (fs *Filesystem) markIdle(st *fileState) {
	var victims []*fileState
	fs.mu.Lock()
	if st.refs > 0 {
		if st.idleElem != nil {
			fs.idle.MoveToBack(st.idleElem)
		} else {
			st.idleElem = fs.idle.PushBack(st)
		}
	}
	for fs.idle.Len() > maxIdle {
		e := fs.idle.Front()
		v := e.Value.(*fileState)
		fs.idle.Remove(e)
		v.idleElem = nil
		victims = append(victims, v)
	}
	fs.mu.Unlock()
	for _, v := range victims {
		v.dropFDs()
	}
}

// unidle takes st off the idle list (it is being opened).
func (fs *Filesystem) unidle(st *fileState) {
	fs.mu.Lock()
	if st.idleElem != nil {
		fs.idle.Remove(st.idleElem)
		st.idleElem = nil
	}
	fs.mu.Unlock()
}

// dropFDs writes back and drops the page cache and closes the host
// descriptors of st, unless a description was opened meanwhile.
func (st *fileState) dropFDs() {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.Lock()
	busy, c := st.opens > 0, st.cache
	st.mu.Unlock()
	if busy {
		return
	}
	if c != nil {
		c.writeBack(st, true)
		c.release()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cache = nil
	st.closeFDsLocked(true)
}

// closeFDsLocked closes the host descriptors. st.mu is held. With
// keepAttrs, attributes that a write left stale are read from a
// descriptor first, while the file still has one: a later stat then costs
// no gofer round trip (an idle file's descriptors go when it leaves the
// idle list, often right after the sandbox wrote it).
func (st *fileState) closeFDsLocked(keepAttrs bool) {
	if fd := st.anyFDLocked(); keepAttrs && st.stale && fd >= 0 {
		var hs unix.Stat_t
		if unix.Fstat(fd, &hs) == nil {
			st.setAttrLocked(hs)
		}
	}
	if st.roFD >= 0 {
		unix.Close(st.roFD)
		st.roFD = -1
	}
	if st.rwFD >= 0 {
		unix.Close(st.rwFD)
		st.rwFD = -1
	}
}

// New attaches to the gofer connected on c; the page cache is allocated
// from mf. Without options the filesystem is exclusive and follows the
// gofer: writable unless the gofer serves the tree read-only (its statfs
// reports ST_RDONLY), so a caller that starts the gofer read-write gets
// the write path.
func New(mf fsutil.MemoryFile, c *gproto.Client, opts ...Options) (*Filesystem, error) {
	fid, a, err := c.Attach()
	if err != nil {
		return nil, err
	}
	fs := &Filesystem{mf: mf, c: c, files: make(map[fileKey]*fileState), fifos: make(map[fileKey]struct{})}
	if len(opts) > 0 {
		fs.opts = opts[0]
	} else {
		st, err := c.StatFS(fid)
		if err != nil {
			return nil, err
		}
		fs.opts.Writable = st.Flags&unix.ST_RDONLY == 0
	}
	fs.root = fs.newInode(fid, &a, nil, "", -1)
	fs.root.isRoot = true
	return fs, nil
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return Name }

// Root implements vfs.Filesystem.Root. The root fid lives as long as the
// connection; each call returns a node sharing it.
func (fs *Filesystem) Root() (vfs.Inode, error) {
	r := &inode{fs: fs, isRoot: true, st: fs.root.st}
	r.fid.Store(fs.root.fid.Load())
	fs.mu.Lock()
	r.st.refs++
	fs.mu.Unlock()
	return r, nil
}

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem) StatFS(ctx vfs.Context) (unix.Statfs_t, error) {
	st, err := fs.c.StatFS(fs.root.fid.Load())
	if !fs.opts.Writable {
		st.Flags |= unix.ST_RDONLY
	}
	return st, fs.check(ctx, err)
}

// Close closes the gofer connection.
func (fs *Filesystem) Close() { fs.c.Close() }

func (fs *Filesystem) shared() bool { return fs.opts.FileAccess == Shared }

// check passes err through, noting in the debug log, once, that the gofer
// is gone when err is the EIO of a dead connection.
func (fs *Filesystem) check(ctx vfs.Context, err error) error {
	if err == unix.EIO && fs.c.Dead() && fs.deathLogged.CompareAndSwap(false, true) {
		const msg = "gofer: connection to the gofer lost; file operations on its filesystem fail with EIO"
		if fs.opts.Debugf != nil {
			fs.opts.Debugf(msg)
		} else if t, ok := ctx.(*kernel.Task); ok {
			t.Kernel().Debugf(msg)
		}
	}
	return err
}

// fileState is what the sandbox knows of one host file, shared by all the
// inodes (names) that reach it.
type fileState struct {
	key   fileKey
	ftype uint32
	// refs counts the inodes using the state; it is protected by
	// Filesystem.mu.
	refs int

	// wmu serialises writes and size changes of a regular file.
	wmu sync.Mutex

	// mu protects the fields below.
	mu   sync.Mutex
	attr unix.Stat_t
	// stale says that attr may lag behind the host (after a write or a
	// change of the directory) and is refreshed on the next Stat.
	stale  bool
	target string
	// missing caches names of this directory that the gofer reported
	// absent, in exclusive mode, so that repeated probes (the dynamic
	// loader's library search, $PATH lookups) cost no round trip. At
	// most maxMissing names are kept.
	missing map[string]struct{}
	// roFD and rwFD are host descriptors of a regular file, donated by
	// the gofer on first need (-1 before): read-only, and for writing
	// (read-write, or write-only when the gofer could not open it for
	// reading; rwReadable says which). They are shared by every open
	// file of the node and its page cache and closed when the last
	// inode goes.
	roFD, rwFD int
	rwReadable bool
	// cache is the page cache, made on the first page fault.
	cache *pageCache
	// pre is what a directory's listing prefetched (prefetch.go).
	pre *prefetch
	// noXattr says that the file has no extended attribute the sandbox
	// can see (exclusive mode; xattr.go).
	noXattr bool
	// opens counts the open descriptions of a regular file, wopens
	// those open for writing.
	opens, wopens int

	// fifo is the pipe of a FIFO made by the sandbox.
	fifo pipe.Named

	// idleElem is st's place in Filesystem.idle, or nil.
	idleElem *list.Element
}

// maxMissing bounds each directory's cache of absent names.
const maxMissing = 1024

// stateFor returns the state of the host file with attributes a, with a
// reference for the caller; fresh attributes replace known ones.
func (fs *Filesystem) stateFor(a *gproto.Attr) *fileState {
	key := fileKey{a.Dev, a.Ino}
	fs.mu.Lock()
	st := fs.files[key]
	if st != nil && st.ftype != a.Mode&unix.S_IFMT {
		// The host reused the inode number for another file: the old
		// state stays with the nodes that still use it.
		st = nil
	}
	if st == nil {
		st = &fileState{key: key, ftype: a.Mode & unix.S_IFMT, attr: a.Stat(), roFD: -1, rwFD: -1}
		fs.files[key] = st
		st.refs++
		fs.mu.Unlock()
		return st
	}
	st.refs++
	fs.mu.Unlock()
	st.mu.Lock()
	st.setAttrLocked(a.Stat())
	st.mu.Unlock()
	return st
}

// putState drops a reference on st, closing its descriptors at zero
// after writing back its dirty pages.
func (fs *Filesystem) putState(st *fileState) {
	fs.mu.Lock()
	st.refs--
	last := st.refs == 0
	if last && fs.files[st.key] == st {
		delete(fs.files, st.key)
	}
	if last && st.idleElem != nil {
		fs.idle.Remove(st.idleElem)
		st.idleElem = nil
	}
	fs.mu.Unlock()
	if !last {
		return
	}
	st.dropPrefetch(fs)
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.Lock()
	c := st.cache
	st.mu.Unlock()
	if c != nil {
		c.writeBack(st, true)
		c.release()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cache = nil
	st.closeFDsLocked(false)
}

// setAttrLocked takes attributes fresh from the host. st.mu is held.
func (st *fileState) setAttrLocked(a unix.Stat_t) {
	st.attr = a
	st.stale = false
}

// anyFDLocked returns a host descriptor of the file, or -1. st.mu is held.
func (st *fileState) anyFDLocked() int {
	if st.roFD >= 0 {
		return st.roFD
	}
	return st.rwFD
}

// inode is one name of a gofer file: a dentry's node.
type inode struct {
	fs     *Filesystem
	st     *fileState
	isRoot bool
	// OpenCounts counts the name's opens for leases.
	vfs.OpenCounts
	// maps are the memory managers that map the file (memmap.Tracked),
	// told when a truncation takes pages away.
	maps memmap.Mappings
	// fid names the file at the gofer.
	fid atomic.Uint64
	// complete is set, in exclusive mode, on a directory this dentry
	// tree made: each of its entries was made through the tree and is in
	// the VFS's dentry cache (which keeps children until they are
	// removed), so a name not cached does not exist and its lookup costs
	// no round trip (create in a new directory: one, not two).
	complete atomic.Bool

	// drefs counts the dentries that hold the node (hard links share
	// it); it is protected by Filesystem.mu.
	drefs int

	// mu protects parent, name, names and oldFIDs.
	mu sync.Mutex
	// parent and name are where fid reaches the node, for revalidation
	// in shared mode; rename updates them.
	parent *inode
	name   string
	// names are the node's names with their fids (links.go).
	names []nameRef
	// oldFIDs are fids replaced by a rename, clunked at Release (a
	// concurrent call may still use one).
	oldFIDs []uint64

	// faults is the file's fault history (memmap.FaultHistory), kept
	// with the node as long as the dentry cache keeps it.
	faults memmap.FaultHistory
}

// newInode makes the node of a fid just walked or created; fd, if >= 0,
// is a read-write host descriptor donated by Tcreate.
func (fs *Filesystem) newInode(fid uint64, a *gproto.Attr, parent *inode, name string, fd int) *inode {
	st := fs.stateFor(a)
	if fd >= 0 {
		st.mu.Lock()
		if st.rwFD < 0 {
			st.rwFD, st.rwReadable = fd, true
		} else {
			unix.Close(fd)
		}
		st.mu.Unlock()
	}
	if i := fs.sharedInode(st, fid, parent, name); i != nil {
		if fd >= 0 {
			fs.markIdle(st)
		}
		return i
	}
	i := &inode{fs: fs, st: st, parent: parent, name: name}
	i.fid.Store(fid)
	if parent != nil {
		i.names = []nameRef{{parent: parent, name: name, fid: fid}}
	}
	fs.register(i)
	if fd >= 0 {
		// Until it is opened (open(O_CREAT) does at once).
		fs.markIdle(st)
	}
	return i
}

func (i *inode) ftype() uint32 { return i.st.ftype }

// Perms implements vfs.Inode.Perms.
func (i *inode) Perms() (uint32, auth.KUID, auth.KGID) {
	i.st.mu.Lock()
	defer i.st.mu.Unlock()
	return i.st.attr.Mode, auth.KUID(i.st.attr.Uid), auth.KGID(i.st.attr.Gid)
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := i.st
	st.mu.Lock()
	refresh := st.stale || i.fs.shared()
	st.mu.Unlock()
	if refresh {
		if err := i.refresh(ctx); err != nil {
			return vfs.Stat{}, err
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return vfs.StatFromHost(&st.attr), nil
}

// refresh reads the attributes again from the host: from a host
// descriptor if the file has one (no gofer round trip, and right for an
// unlinked file), else from the gofer.
func (i *inode) refresh(ctx vfs.Context) error {
	st := i.st
	var hs unix.Stat_t
	// The descriptor is used under st.mu: an idle file may lose it.
	st.mu.Lock()
	fd := st.anyFDLocked()
	if fd >= 0 {
		err := unix.Fstat(fd, &hs)
		st.mu.Unlock()
		if err != nil {
			return unix.EIO
		}
	} else {
		st.mu.Unlock()
		a, err := i.fs.c.Stat(i.fid.Load())
		if err != nil {
			return i.fs.check(ctx, err)
		}
		if a.Ino != st.key.ino || a.Dev != st.key.dev {
			// The name now holds another file (shared mode): keep
			// what we knew; the next lookup drops this dentry.
			return nil
		}
		hs = a.Stat()
	}
	st.mu.Lock()
	st.setAttrLocked(hs)
	st.mu.Unlock()
	return nil
}

// markStale notes that the host's attributes changed in ways the sandbox
// does not compute (a directory's times after a change of its names).
func (i *inode) markStale() {
	i.st.mu.Lock()
	i.st.stale = true
	i.st.mu.Unlock()
	i.st.dropPrefetch(i.fs)
}

// Lookup implements vfs.Inode.Lookup: one gofer walk, unless name is
// known to be absent.
func (i *inode) Lookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	return i.lookup(ctx, name, false)
}

// LookupOpen implements vfs.OpenLookuper: a name about to be opened
// read-only is walked and opened in one round trip (TWalkOpen), and the
// descriptor becomes the file's read descriptor, which the open then
// finds (readFD). Python opens each module's cached bytecode by a name
// it never looked up: two round trips each before, about 80 of them at
// its start. Other opens look up as Lookup does.
func (i *inode) LookupOpen(ctx vfs.Context, name string, flags uint32) (vfs.Inode, error) {
	return i.lookupAhead(ctx, name, flags&unix.O_ACCMODE == unix.O_RDONLY && flags&unix.O_TRUNC == 0, nil)
}

// LookupAhead implements vfs.PathLookuper: in exclusive mode, name and the
// names ahead of it are walked in one round trip (a TWalk of the path),
// and what the walk reached below name waits as ready entries (see
// walkAhead) for the lookups that follow. A path of n components not
// cached yet costs one round trip instead of n: Python's start walks
// /root/.pyenv/versions/3.11.7/lib/python3.11 one name at a time.
func (i *inode) LookupAhead(ctx vfs.Context, name string, ahead []string) (vfs.Inode, error) {
	return i.lookupAhead(ctx, name, false, ahead)
}

// lookup is Lookup, walking and opening the name for reading in one round
// trip if open is set.
func (i *inode) lookup(ctx vfs.Context, name string, open bool) (vfs.Inode, error) {
	return i.lookupAhead(ctx, name, open, nil)
}

// lookupAhead is lookup, walking the names ahead of name too unless open is
// set or the filesystem is shared.
func (i *inode) lookupAhead(ctx vfs.Context, name string, open bool, ahead []string) (vfs.Inode, error) {
	if i.ftype() != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	if len(name) > gproto.MaxName {
		return nil, unix.ENAMETOOLONG
	}
	st := i.st
	if i.complete.Load() {
		return nil, unix.ENOENT
	}
	if !i.fs.shared() {
		st.mu.Lock()
		_, gone := st.missing[name]
		st.mu.Unlock()
		if gone {
			return nil, unix.ENOENT
		}
	}
	if c, ok := i.lookupPrefetched(name); ok {
		return c, nil
	}
	var fid uint64
	var a gproto.Attr
	var err error
	fd := -1
	switch {
	case open:
		fid, a, fd, err = i.fs.c.WalkOpen(i.fid.Load(), name, unix.O_RDONLY)
	case len(ahead) > 0 && !i.fs.shared() && i.fs.pf.ready.Load() < maxReadyAll:
		return i.walkAhead(ctx, name, ahead)
	default:
		fid, a, err = i.fs.c.Walk1(i.fid.Load(), name)
	}
	if err == unix.ENOENT {
		st.noteMissing(i.fs, name)
	}
	if err != nil {
		return nil, i.fs.check(ctx, err)
	}
	c := i.fs.newInode(fid, &a, i, name, -1)
	if fd >= 0 {
		c.adoptReadFD(fd)
	}
	return c, nil
}

// adoptReadFD makes fd, opened read-only by TWalkOpen, the file's read
// descriptor, unless it has one; the file is idle until it is opened, so
// that the descriptor goes if it never is (a failed permission check).
func (i *inode) adoptReadFD(fd int) {
	st := i.st
	st.mu.Lock()
	if st.roFD < 0 {
		st.roFD, fd = fd, -1
	}
	idle := st.opens == 0
	st.mu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
		return
	}
	if idle {
		i.fs.markIdle(st)
	}
}

// walkAhead looks name up together with the names ahead of it, in one
// TWalk, in exclusive mode. The nodes the walk reached below name, and
// the name it found missing if it stopped at one, go with name's node
// (putAhead): the resolver's next lookups, of those very names, take them
// there without a round trip.
func (i *inode) walkAhead(ctx vfs.Context, name string, ahead []string) (vfs.Inode, error) {
	names := make([]string, 0, 1+len(ahead))
	names = append(append(names, name), ahead...)
	res, err := i.fs.c.Walk(i.fid.Load(), names)
	if len(res) == 0 {
		if err == nil {
			err = unix.EIO
		}
		if err == unix.ENOENT {
			i.st.noteMissing(i.fs, name)
		}
		return nil, i.fs.check(ctx, err)
	}
	c := i.fs.newInode(res[0].FID, &res[0].Attr, i, name, -1)
	if len(res) > 1 || err == unix.ENOENT {
		c.st.putAhead(i.fs, pathAhead{names: ahead, res: res[1:], missing: err == unix.ENOENT})
	}
	return c, nil
}

// noteMissing notes, in exclusive mode, that the directory has no entry
// name (at most maxMissing of them).
func (st *fileState) noteMissing(fs *Filesystem, name string) {
	if fs.shared() {
		return
	}
	st.mu.Lock()
	if st.missing == nil {
		st.missing = make(map[string]struct{})
	}
	if len(st.missing) < maxMissing {
		st.missing[name] = struct{}{}
	}
	st.mu.Unlock()
}

// forgetMissing drops name from the cache of absent names (it exists
// now).
func (i *inode) forgetMissing(name string) {
	i.st.mu.Lock()
	delete(i.st.missing, name)
	i.st.mu.Unlock()
}

// Valid implements vfs.Revalidator. In shared mode it walks the node's
// name again: the dentry stays if the name still holds the same file
// (whose attributes it refreshes), and is dropped if the host removed or
// replaced it. In exclusive mode nothing else changes the tree.
func (i *inode) Valid(ctx vfs.Context) bool {
	if !i.fs.shared() {
		return true
	}
	i.mu.Lock()
	parent, name := i.parent, i.name
	i.mu.Unlock()
	if parent == nil {
		return true
	}
	a, err := i.fs.c.StatAt(parent.fid.Load(), name)
	if err != nil {
		if err == unix.ENOENT {
			i.dropName(parent, name) // another name takes over
		}
		i.fs.check(ctx, err)
		return false
	}
	st := i.st
	if a.Dev != st.key.dev || a.Ino != st.key.ino || a.Mode&unix.S_IFMT != st.ftype {
		i.dropName(parent, name)
		return false
	}
	st.mu.Lock()
	st.setAttrLocked(a.Stat())
	st.mu.Unlock()
	return true
}

// Readlink implements vfs.Inode.Readlink.
func (i *inode) Readlink(ctx vfs.Context) (string, error) {
	if i.ftype() != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	st := i.st
	st.mu.Lock()
	t := st.target
	st.mu.Unlock()
	if t != "" {
		return t, nil
	}
	t, err := i.fs.c.Readlink(i.fid.Load())
	if err != nil {
		return "", i.fs.check(ctx, err)
	}
	st.mu.Lock()
	st.target = t
	st.mu.Unlock()
	return t, nil
}

// Release implements vfs.Inode.Release: at the last dentry of the node
// (hard links share it), its fids go and its state is dropped.
func (i *inode) Release() {
	if !i.releaseDentry() {
		return
	}
	i.releaseFIDs()
	i.fs.putState(i.st)
}

// Open implements vfs.Inode.Open.
func (i *inode) Open(ctx vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	switch i.ftype() {
	case unix.S_IFREG:
		return i.openRegular(ctx, flags)
	case unix.S_IFDIR:
		return &dirFile{inode: i}, nil
	case unix.S_IFIFO:
		i.fs.mu.Lock()
		_, ours := i.fs.fifos[i.st.key]
		i.fs.mu.Unlock()
		if ours {
			return i.st.fifo.Open(ctx, flags, i)
		}
		// A host FIFO is not the container's to open.
		return nil, unix.EACCES
	case unix.S_IFSOCK:
		// As Linux: a socket file cannot be opened.
		return nil, unix.ENXIO
	case unix.S_IFCHR, unix.S_IFBLK:
		// The sentry's driver for the number (device.go): of the
		// sandbox's own device nodes (placeholders on the host) and of
		// those in the host's tree alike; the host device never opens.
		return i.openDevice(ctx, flags)
	default:
		return nil, unix.EACCES
	}
}

// readFD returns a host descriptor that can be read, asking the gofer for
// a read-only one on first use.
func (i *inode) readFD(ctx vfs.Context) (int, error) {
	st := i.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.roFD >= 0 {
		return st.roFD, nil
	}
	if st.rwFD >= 0 && st.rwReadable {
		return st.rwFD, nil
	}
	fd, err := i.fs.c.Open(i.fid.Load(), unix.O_RDONLY)
	if err != nil {
		return -1, i.fs.check(ctx, err)
	}
	st.roFD = fd
	return fd, nil
}

// writeFD returns the host descriptor for writing, asking the gofer for
// it on first use: read-write, or write-only if the host refuses reading.
func (i *inode) writeFD(ctx vfs.Context) (int, error) {
	if !i.fs.opts.Writable {
		return -1, unix.EROFS
	}
	st := i.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.rwFD >= 0 {
		return st.rwFD, nil
	}
	fd, err := i.fs.c.Open(i.fid.Load(), unix.O_RDWR)
	readable := true
	if err == unix.EACCES {
		fd, err = i.fs.c.Open(i.fid.Load(), unix.O_WRONLY)
		readable = false
	}
	if err != nil {
		return -1, i.fs.check(ctx, err)
	}
	st.rwFD, st.rwReadable = fd, readable
	return fd, nil
}

// ParseFileAccess parses the value of --file-access: "exclusive" or
// "shared".
func ParseFileAccess(s string) (FileAccess, error) {
	switch s {
	case "exclusive", "":
		return Exclusive, nil
	case "shared":
		return Shared, nil
	}
	return Exclusive, fmt.Errorf("file access %q: want exclusive or shared", s)
}

// RoundTrips returns how many requests the filesystem has sent the gofer
// and had answered: what an operation costs, for tests and diagnostics.
func (fs *Filesystem) RoundTrips() int64 { return fs.c.RoundTrips() }

// Compile-time checks of the interfaces the node implements.
var (
	_ vfs.Inode        = (*inode)(nil)
	_ vfs.XattrInode   = (*inode)(nil)
	_ vfs.Revalidator  = (*inode)(nil)
	_ vfs.OpenLookuper = (*inode)(nil)
)
