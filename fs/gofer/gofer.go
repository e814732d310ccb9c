// Package gofer is the sentry's client filesystem for files served by the
// gofer process (package gofer at the top of the tree): the sentry never
// opens a container file itself, it asks the gofer to walk, stat and open,
// and receives host descriptors of regular files that it then reads on
// directly, without a gofer round trip per read.
//
// Caching (exclusive mode: the sandbox is the only user of the tree, as for
// the read-only host root of `runsc do`): the VFS keeps a dentry per walked
// name, and each node keeps the attributes the walk returned, its symlink
// target, and one read descriptor with a page cache in the memory file for
// mmap, so processes mapping the same library share pages. Lookup costs one
// gofer round trip, the first open one, a batch of directory entries one; stat,
// readlink (after the first), read and page faults cost none, and so does
// every open of a regular file after its first (the node keeps the donated
// read-only descriptor), and so does the lookup of a name already found
// absent (directories remember a bounded set of missing names).
//
// The filesystem is read-only for now: every modification is EROFS (the
// protocol and server support the write set; the client write path comes
// with the root overlay).
package gofer

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Name is the filesystem type reported in /proc/mounts.
const Name = "9p"

// Filesystem is one gofer-served tree.
type Filesystem struct {
	mf    fsutil.MemoryFile
	c     *gproto.Client
	root  uint64
	rattr gproto.Attr
}

// New attaches to the gofer connected on c; the page cache is allocated
// from mf.
func New(mf fsutil.MemoryFile, c *gproto.Client) (*Filesystem, error) {
	fid, a, err := c.Attach()
	if err != nil {
		return nil, err
	}
	return &Filesystem{mf: mf, c: c, root: fid, rattr: a}, nil
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return Name }

// Root implements vfs.Filesystem.Root. The root fid lives as long as the
// connection; each call returns a node sharing it.
func (fs *Filesystem) Root() (vfs.Inode, error) {
	return &inode{fs: fs, fid: fs.root, isRoot: true, stat: fs.rattr.Stat(), hostFD: -1}, nil
}

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem) StatFS(vfs.Context) (unix.Statfs_t, error) { return fs.c.StatFS(fs.root) }

// Close closes the gofer connection.
func (fs *Filesystem) Close() { fs.c.Close() }

// inode is one gofer node. Its attributes are those the walk returned:
// nothing but the sandbox changes the tree.
type inode struct {
	vfs.ReadOnlyInode
	fs     *Filesystem
	fid    uint64
	isRoot bool
	stat   unix.Stat_t // immutable

	// mu protects target, hostFD, cache and missing.
	mu     sync.Mutex
	target string
	// missing caches names of this directory that the gofer reported
	// absent (ENOENT), so that repeated probes (the dynamic loader's
	// library search, $PATH lookups) cost no round trip. At most
	// maxMissing names are kept.
	missing map[string]struct{}
	// hostFD is the read-only host descriptor of a regular file, donated
	// by the gofer on first open (-1 before) and shared by every open
	// file of the node and its page cache: they only use pread, so the
	// shared offset does not matter. Closed by Release, which the VFS
	// calls after the last open file is gone.
	hostFD int
	cache  *fsutil.PageCache
}

func (i *inode) ftype() uint32 { return i.stat.Mode & unix.S_IFMT }

// Perms implements vfs.Inode.Perms.
func (i *inode) Perms() (uint32, auth.KUID, auth.KGID) {
	return i.stat.Mode, auth.KUID(i.stat.Uid), auth.KGID(i.stat.Gid)
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(vfs.Context) (vfs.Stat, error) { return vfs.StatFromHost(&i.stat), nil }

// maxMissing bounds each directory's cache of absent names.
const maxMissing = 1024

// Lookup implements vfs.Inode.Lookup: one gofer walk, unless name is
// known to be absent.
func (i *inode) Lookup(_ vfs.Context, name string) (vfs.Inode, error) {
	if i.ftype() != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	if len(name) > gproto.MaxName {
		return nil, unix.ENAMETOOLONG
	}
	i.mu.Lock()
	_, gone := i.missing[name]
	i.mu.Unlock()
	if gone {
		return nil, unix.ENOENT
	}
	fid, a, err := i.fs.c.Walk1(i.fid, name)
	if err == unix.ENOENT {
		i.mu.Lock()
		if i.missing == nil {
			i.missing = make(map[string]struct{})
		}
		if len(i.missing) < maxMissing {
			i.missing[name] = struct{}{}
		}
		i.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return &inode{fs: i.fs, fid: fid, stat: a.Stat(), hostFD: -1}, nil
}

// Readlink implements vfs.Inode.Readlink.
func (i *inode) Readlink(vfs.Context) (string, error) {
	if i.ftype() != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.target != "" {
		return i.target, nil
	}
	t, err := i.fs.c.Readlink(i.fid)
	if err != nil {
		return "", err
	}
	i.target = t
	return t, nil
}

// Release implements vfs.Inode.Release.
func (i *inode) Release() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cache != nil {
		i.cache.Release()
		i.cache = nil
	}
	if i.hostFD >= 0 {
		unix.Close(i.hostFD)
		i.hostFD = -1
	}
	if !i.isRoot {
		i.fs.c.Clunk(i.fid)
	}
}

// Open implements vfs.Inode.Open.
func (i *inode) Open(_ vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		return nil, unix.EROFS
	}
	switch i.ftype() {
	case unix.S_IFREG:
		i.mu.Lock()
		fd, err := i.hostFDLocked()
		i.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return &regularFile{inode: i, fd: fd}, nil
	case unix.S_IFDIR:
		return &dirFile{inode: i}, nil
	default:
		// Host devices, fifos and sockets are not ours to open.
		return nil, unix.EACCES
	}
}

// hostFDLocked returns the node's host descriptor, asking the gofer for it
// on first use. i.mu must be held.
func (i *inode) hostFDLocked() (int, error) {
	if i.hostFD >= 0 {
		return i.hostFD, nil
	}
	fd, err := i.fs.c.Open(i.fid, unix.O_RDONLY)
	if err != nil {
		return -1, err
	}
	i.hostFD = fd
	return fd, nil
}

// pageCache returns the node's page cache, creating it on first use.
func (i *inode) pageCache() (*fsutil.PageCache, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cache != nil {
		return i.cache, nil
	}
	fd, err := i.hostFDLocked()
	if err != nil {
		return nil, err
	}
	i.cache = fsutil.NewPageCache(i.fs.mf, func(dst []byte, off int64) error {
		for done := 0; done < len(dst); {
			n, err := unix.Pread(fd, dst[done:], off+int64(done))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return unix.EIO
			}
			if n == 0 {
				break
			}
			done += n
		}
		return nil
	})
	i.cache.SetSizeNoTruncate(i.stat.Size)
	return i.cache, nil
}

// regularFile is an open regular file: reads go to the node's donated host
// descriptor (owned by the node).
type regularFile struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
	fd    int
}

func (f *regularFile) Release(vfs.Context) {}

func (f *regularFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

func (f *regularFile) PRead(_ vfs.Context, dst []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(f.fd, dst, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

func (f *regularFile) PWrite(vfs.Context, []byte, int64, bool) (int, int64, error) {
	return 0, 0, unix.EBADF
}

func (f *regularFile) Seek(_ vfs.Context, cur, offset int64, whence int) (int64, error) {
	return vfs.GenericSeek(cur, offset, whence, f.inode.stat.Size)
}

func (f *regularFile) Mappable() memmap.Mappable { return mappable{f.inode} }

// mappable gives the page cache of a file, created on first fault.
type mappable struct{ i *inode }

// MappingIdentity implements mm.MappingIdentity: /proc/[pid]/maps shows
// the host file's device and inode, as stat(2) reports them.
func (m mappable) MappingIdentity() (uint32, uint32, uint64) {
	return unix.Major(m.i.stat.Dev), unix.Minor(m.i.stat.Dev), m.i.stat.Ino
}

func (m mappable) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	c, err := m.i.pageCache()
	if err != nil {
		return memfile.Range{}, err
	}
	return c.Translate(off, maxLen, at)
}

// dirFile is an open directory, listed through gofer getdents requests
// that carry the host's directory offsets.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	inode *inode
}

func (f *dirFile) Release(vfs.Context) {}

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

// getdentsBuf is the size of one getdents request's reply.
const getdentsBuf = gproto.MaxMessage - 1024

// Getdents implements vfs.FileDescriptionImpl.Getdents.
func (f *dirFile) Getdents(_ vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	for {
		more := false
		err := f.inode.fs.c.Getdents(f.inode.fid, off, getdentsBuf, func(b []byte, eof bool) error {
			if len(b) == 0 {
				return nil
			}
			for len(b) >= 19 {
				reclen := int(le16(b[16:]))
				if reclen < 19 || reclen > len(b) {
					return unix.EIO
				}
				name := b[19:reclen]
				for k, c := range name {
					if c == 0 {
						name = name[:k]
						break
					}
				}
				d := vfs.Dirent{Name: string(name), Ino: le64(b[0:]), NextOff: int64(le64(b[8:])), Type: b[18]}
				if !cb(&d) {
					return nil
				}
				off = d.NextOff
				b = b[reclen:]
			}
			more = !eof
			return nil
		})
		if err != nil || !more {
			return err
		}
	}
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// NewInProcess serves hostDir read-only from a gofer server running in
// this process (goroutines on a socketpair) and returns a client
// filesystem on it. It is for tests: the sandbox itself always talks to a
// separate `runsc gofer` process.
func NewInProcess(mf fsutil.MemoryFile, hostDir string) (*Filesystem, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	rootFD, err := unix.Open(hostDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	s, err := gproto.NewServer(rootFD, fds[0], true)
	if err != nil {
		unix.Close(rootFD)
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	go s.Serve()
	c, err := gproto.NewClient(fds[1])
	if err != nil {
		return nil, err
	}
	return New(mf, c)
}
