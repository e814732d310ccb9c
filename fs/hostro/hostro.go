// Package hostro is a temporary read-only filesystem presenting a host
// directory tree, until the gofer client replaces it.
//
// It walks host paths one component at a time, relative to the parent's
// host descriptor, with O_PATH|O_NOFOLLOW: it never resolves a host symlink
// itself (symlinks are handed back to the VFS walk as symlinks), so it
// cannot be led outside its root by a symlink or "..". It refuses to open
// host device nodes, fifos and sockets (EACCES) and every modification
// (EROFS). Regular files are mappable through a per-node page cache in the
// memory file, filled by pread on first use, so processes mapping the same
// library share pages.
package hostro

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Filesystem presents one host directory tree.
type Filesystem struct {
	mf     fsutil.MemoryFile
	rootFD int // O_PATH descriptor of the host root; owned
}

// New opens hostRoot (which must be a directory) as the root of a read-only
// filesystem whose page cache is allocated from mf.
func New(mf fsutil.MemoryFile, hostRoot string) (*Filesystem, error) {
	fd, err := unix.Open(hostRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Filesystem{mf: mf, rootFD: fd}, nil
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "hostro" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() (vfs.Inode, error) {
	fd, err := unix.FcntlInt(uintptr(fs.rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	i := &inode{fs: fs, fd: fd}
	if err := unix.Fstatat(fd, "", &i.stat, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return i, nil
}

// StatFS implements vfs.Filesystem.StatFS.
func (fs *Filesystem) StatFS(vfs.Context) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := unix.Fstatfs(fs.rootFD, &st)
	st.Flags |= unix.ST_RDONLY
	return st, err
}

// Close releases the root descriptor. Inodes keep their own.
func (fs *Filesystem) Close() error { return unix.Close(fs.rootFD) }

// inode is one host file. Its attributes are cached at lookup: the host
// tree is read-only for us.
type inode struct {
	vfs.ReadOnlyInode
	fs *Filesystem

	// fd is an O_PATH descriptor for directories (used as the base of
	// lookups in them), -1 for other files, which are reached by name
	// from parent.
	fd     int
	parent *inode
	name   string
	stat   unix.Stat_t // immutable

	// mu protects target, cache and readFD.
	mu     sync.Mutex
	target string
	cache  *fsutil.PageCache
	readFD int // O_RDONLY descriptor filling cache; valid if cache != nil
}

func (i *inode) ftype() uint32 { return i.stat.Mode & unix.S_IFMT }

// Perms implements vfs.Inode.Perms.
func (i *inode) Perms() (uint32, auth.KUID, auth.KGID) {
	return i.stat.Mode, auth.KUID(i.stat.Uid), auth.KGID(i.stat.Gid)
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(vfs.Context) (vfs.Stat, error) { return vfs.StatFromHost(&i.stat), nil }

// Lookup implements vfs.Inode.Lookup.
func (i *inode) Lookup(_ vfs.Context, name string) (vfs.Inode, error) {
	if i.fd < 0 {
		return nil, unix.ENOTDIR
	}
	fd, err := openatRetry(i.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	c := &inode{fs: i.fs, fd: -1, parent: i, name: name}
	if err := unix.Fstatat(fd, "", &c.stat, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if c.ftype() == unix.S_IFDIR {
		c.fd = fd
	} else {
		unix.Close(fd)
	}
	return c, nil
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
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(i.parent.fd, i.name, buf)
	if err != nil {
		return "", err
	}
	i.target = string(buf[:n])
	return i.target, nil
}

// Release implements vfs.Inode.Release.
func (i *inode) Release() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.fd >= 0 {
		unix.Close(i.fd)
		i.fd = -1
	}
	if i.cache != nil {
		i.cache.Release()
		unix.Close(i.readFD)
		i.cache = nil
	}
}

// openHost opens the host file read-only, checking that it is still the
// node we looked up.
func (i *inode) openHost() (int, error) {
	var fd int
	var err error
	if i.fd >= 0 {
		fd, err = openatRetry(i.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	} else {
		fd, err = openatRetry(i.parent.fd, i.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != i.stat.Ino || st.Dev != i.stat.Dev || st.Mode&unix.S_IFMT != i.ftype() {
		unix.Close(fd)
		return -1, unix.EACCES
	}
	return fd, nil
}

// Open implements vfs.Inode.Open.
func (i *inode) Open(_ vfs.Context, _ vfs.VirtualDentry, flags uint32) (vfs.FileDescriptionImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		return nil, unix.EROFS
	}
	switch i.ftype() {
	case unix.S_IFREG:
		fd, err := i.openHost()
		if err != nil {
			return nil, err
		}
		return &regularFile{inode: i, fd: fd}, nil
	case unix.S_IFDIR:
		fd, err := i.openHost()
		if err != nil {
			return nil, err
		}
		return &dirFile{inode: i, fd: fd}, nil
	default:
		// Host devices, fifos and sockets are not ours to open.
		return nil, unix.EACCES
	}
}

// pageCache returns the node's page cache, creating it on first use.
func (i *inode) pageCache() (*fsutil.PageCache, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cache != nil {
		return i.cache, nil
	}
	fd, err := i.openHost()
	if err != nil {
		return nil, err
	}
	i.readFD = fd
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

func openatRetry(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// regularFile is an open host regular file.
type regularFile struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
	fd    int
}

func (f *regularFile) Release(vfs.Context) { unix.Close(f.fd) }

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

// mappable gives the page cache of a host file, created on first fault.
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

// dirFile is an open host directory, listed with getdents64 on its own
// host descriptor.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	inode *inode
	fd    int
	// pos is the host directory offset; buf stages getdents64 output.
	// Both are serialised by the VFS's offset lock.
	pos int64
	buf []byte
}

func (f *dirFile) Release(vfs.Context) { unix.Close(f.fd) }

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

// Getdents implements vfs.FileDescriptionImpl.Getdents.
func (f *dirFile) Getdents(_ vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	if off != f.pos {
		if _, err := unix.Seek(f.fd, off, unix.SEEK_SET); err != nil {
			return err
		}
		f.pos = off
	}
	if f.buf == nil {
		f.buf = make([]byte, 8192)
	}
	for {
		n, err := unix.Getdents(f.fd, f.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		b := f.buf[:n]
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
				// Rewind the host so that the next call starts here.
				if _, err := unix.Seek(f.fd, f.pos, unix.SEEK_SET); err != nil {
					return err
				}
				return nil
			}
			f.pos = d.NextOff
			b = b[reclen:]
		}
	}
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
