package gofer

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// openRegular opens a regular file: the node's host descriptors are
// fetched from the gofer on first need and shared afterwards.
func (i *inode) openRegular(ctx vfs.Context, flags uint32) (vfs.FileDescriptionImpl, error) {
	acc := flags & unix.O_ACCMODE
	write := acc == unix.O_WRONLY || acc == unix.O_RDWR
	if write && !i.fs.opts.Writable {
		return nil, unix.EROFS
	}
	st := i.st
	// Count the description first: an idle file's descriptors are only
	// dropped (under wmu) while it has none.
	st.wmu.Lock()
	st.mu.Lock()
	st.opens++
	st.mu.Unlock()
	st.wmu.Unlock()
	i.fs.unidle(st)
	f := &regularFile{inode: i, rfd: -1, wfd: -1}
	err := func() error {
		if write {
			fd, err := i.writeFD(ctx)
			if err != nil {
				return err
			}
			f.wfd = fd
		}
		if acc != unix.O_WRONLY {
			fd, err := i.readFD(ctx)
			if err != nil {
				return err
			}
			f.rfd = fd
		}
		return nil
	}()
	st.mu.Lock()
	if err != nil {
		st.opens--
	} else if f.wfd >= 0 {
		st.wopens++
	}
	idle := st.opens == 0
	st.mu.Unlock()
	if err != nil {
		if idle {
			i.fs.markIdle(st)
		}
		return nil, err
	}
	return f, nil
}

// regularFile is an open regular file: reads and writes go to the node's
// donated host descriptors (owned by the fileState), or through its page
// cache once the file has one.
type regularFile struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
	// rfd and wfd are the host descriptors for reading and writing, -1
	// for an access mode the description does not have.
	rfd, wfd int
}

// cacheAndSize returns the page cache (nil before the first fault) and the
// size the sandbox knows.
func (st *fileState) cacheAndSize() (*pageCache, int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cache, st.attr.Size
}

// Release implements vfs.FileDescriptionImpl.Release: the last description
// of the file writes back the pages its mappings changed.
func (f *regularFile) Release(vfs.Context) {
	st := f.inode.st
	st.wmu.Lock()
	st.mu.Lock()
	st.opens--
	if f.wfd >= 0 {
		st.wopens--
	}
	last, c := st.opens == 0, st.cache
	st.mu.Unlock()
	if last && c != nil {
		c.writeBack(st, true)
	}
	st.wmu.Unlock()
	if last {
		f.inode.fs.markIdle(st)
	}
}

func (f *regularFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

func (f *regularFile) PRead(_ vfs.Context, dst []byte, off int64) (int, error) {
	if c, size := f.inode.st.cacheAndSize(); c != nil {
		return c.readAt(dst, off, size)
	}
	for {
		n, err := unix.Pread(f.rfd, dst, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// PWrite implements vfs.FileDescriptionImpl.PWrite: straight to the host
// descriptor (and into cached pages), under the file's write lock.
//
// The host clears S_ISUID and S_ISGID on the sentry's write (the sentry
// has no CAP_FSETID); the VFS has already cleared those Linux would for
// the caller (file_remove_privs), so those still set are put back through
// the gofer. Only files with either bit pay that round trip.
func (f *regularFile) PWrite(ctx vfs.Context, src []byte, off int64, appendMode bool) (int, int64, error) {
	st := f.inode.st
	st.mu.Lock()
	priv := st.attr.Mode & (unix.S_ISUID | unix.S_ISGID)
	mode := st.attr.Mode & 0o7777
	st.mu.Unlock()
	n, noff, err := f.pwrite(ctx, src, off, appendMode)
	if n > 0 && priv != 0 {
		f.inode.SetStat(ctx, &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: mode})
	}
	return n, noff, err
}

// pwrite is PWrite without the restoring of S_ISUID and S_ISGID.
func (f *regularFile) pwrite(ctx vfs.Context, src []byte, off int64, appendMode bool) (int, int64, error) {
	st := f.inode.st
	st.wmu.Lock()
	defer st.wmu.Unlock()
	if appendMode {
		if f.inode.fs.shared() {
			// The host may have appended too.
			if err := f.inode.refresh(ctx); err != nil {
				return 0, off, err
			}
		}
		_, off = st.cacheAndSize()
	}
	if off < 0 {
		return 0, off, unix.EINVAL
	}
	if off+int64(len(src)) < off {
		return 0, off, unix.EFBIG
	}
	c, _ := st.cacheAndSize()
	if c != nil {
		// Hold the cache so that no page is filled from the host
		// between the write and its copy into the cache.
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	n, err := pwriteFull(f.wfd, src, off)
	if n > 0 {
		if c != nil {
			c.wroteLocked(src[:n], off)
		}
		now := vfs.Now()
		st.mu.Lock()
		if end := off + int64(n); end > st.attr.Size {
			st.attr.Size = end
		}
		st.attr.Mtim, st.attr.Ctim = now, now
		// Blocks and the host's own times come with the next stat.
		st.stale = true
		st.mu.Unlock()
		err = nil
	}
	return n, off + int64(n), err
}

// Seek implements vfs.FileDescriptionImpl.Seek. SEEK_DATA and SEEK_HOLE
// ask the host file, which knows its holes (the descriptors are only used
// with pread/pwrite, so moving their offset is harmless).
func (f *regularFile) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		fd := f.rfd
		if fd < 0 {
			fd = f.wfd
		}
		for {
			n, err := unix.Seek(fd, offset, whence)
			if err == unix.EINTR {
				continue
			}
			return n, err
		}
	case unix.SEEK_END:
		if f.inode.fs.shared() {
			if err := f.inode.refresh(ctx); err != nil {
				return 0, err
			}
		}
	}
	_, size := f.inode.st.cacheAndSize()
	return vfs.GenericSeek(cur, offset, whence, size)
}

// Sync implements fsync and fdatasync: dirty pages of mappings first, then
// the host's own fsync on the donated descriptor.
func (f *regularFile) Sync(vfs.Context) error {
	st := f.inode.st
	st.wmu.Lock()
	c, _ := st.cacheAndSize()
	var err error
	if c != nil {
		err = c.writeBack(st, false)
	}
	st.wmu.Unlock()
	fd := f.wfd
	if fd < 0 {
		fd = f.rfd
	}
	if e := unix.Fsync(fd); e != nil && err == nil {
		err = e
	}
	if err != nil && err != unix.ENOSPC && err != unix.EDQUOT && err != unix.EROFS {
		err = unix.EIO
	}
	return err
}

// Allocate implements vfs.Allocator: fallocate(2) on the host file, whose
// filesystem decides which modes it supports. Cached pages are read again
// after a mode that changes contents (punch, zero, collapse, insert).
func (f *regularFile) Allocate(ctx vfs.Context, mode uint32, off, length int64) error {
	st := f.inode.st
	st.wmu.Lock()
	defer st.wmu.Unlock()
	c, _ := st.cacheAndSize()
	if c != nil {
		if err := c.writeBack(st, false); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	for {
		err := unix.Fallocate(f.wfd, mode, off, length)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if c != nil && mode&^unix.FALLOC_FL_KEEP_SIZE != 0 {
		c.reloadLocked()
	}
	var hs unix.Stat_t
	if err := unix.Fstat(f.wfd, &hs); err == nil {
		st.mu.Lock()
		st.setAttrLocked(hs)
		st.mu.Unlock()
	}
	return nil
}

func (f *regularFile) Mappable() memmap.Mappable { return mappable{f.inode} }

var (
	_ memmap.Syncer             = mappable{}
	_ memmap.FaultHistoryHolder = mappable{}
	_ memmap.Tracked            = mappable{}
)

// FaultHistory implements memmap.FaultHistoryHolder.
func (m mappable) FaultHistory() *memmap.FaultHistory { return &m.i.faults }

// Mappings implements memmap.Tracked.
func (m mappable) Mappings() *memmap.Mappings { return &m.i.maps }

// mappable gives the page cache of a file, created on first fault.
type mappable struct{ i *inode }

// MappingIdentity implements mm.MappingIdentity: /proc/[pid]/maps shows
// the host file's device and inode, as stat(2) reports them.
func (m mappable) MappingIdentity() (uint32, uint32, uint64) {
	return unix.Major(m.i.st.key.dev), unix.Minor(m.i.st.key.dev), m.i.st.key.ino
}

func (m mappable) Translate(off, maxLen uint64, at usermem.AccessType) (memfile.Range, error) {
	c, err := m.i.pageCache()
	if err != nil {
		return memfile.Range{}, err
	}
	st := m.i.st
	st.mu.Lock()
	size := st.attr.Size
	// A page mapped while the file is open for writing may be stored
	// to: if not through this mapping (at.Write), then through one made
	// writable later by mprotect, which translates nothing again.
	mayWrite := at.Write || st.wopens > 0
	st.mu.Unlock()
	return c.translate(off, maxLen, mayWrite, size)
}

// Sync implements memmap.Syncer: msync writes the pages of shared
// writable mappings back to the host file.
func (m mappable) Sync() error {
	st := m.i.st
	st.wmu.Lock()
	defer st.wmu.Unlock()
	c, _ := st.cacheAndSize()
	if c == nil {
		return nil
	}
	return c.writeBack(st, false)
}

// pageCache returns the node's page cache, creating it on first use.
func (i *inode) pageCache() (*pageCache, error) {
	st := i.st
	if c, _ := st.cacheAndSize(); c != nil {
		return c, nil
	}
	fd, err := i.readFD(nil)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cache == nil {
		st.cache = newPageCache(i.fs.mf, fd)
	}
	return st.cache, nil
}

// dirFile is an open directory, listed through gofer getdents requests
// that carry the host's directory offsets.
type dirFile struct {
	vfs.DirectoryFileDefaultImpl
	inode *inode
	// keptOff, keptRecs and keptEOF are what the last gofer reply held
	// past what the caller took: the records from host offset keptOff
	// (maybe none), and whether the directory ends after them; they are
	// good while the directory's prefetch is keptPre (prefetch.go).
	// They are protected by inode.st.mu.
	keptOff  int64
	keptRecs []byte
	keptEOF  bool
	keptPre  *prefetch
	// walking says that the current listing looks its entries up as it
	// goes (TGetdentsWalk); it is protected by inode.st.mu.
	walking bool
}

func (f *dirFile) Release(vfs.Context) {}

func (f *dirFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.inode.Stat(ctx) }

// getdentsBuf is the size of one getdents request's reply.
const getdentsBuf = gproto.MaxMessage - 1024

// Getdents implements vfs.FileDescriptionImpl.Getdents. One gofer request
// fetches up to getdentsBuf bytes of records; in exclusive mode what the
// caller's buffer could not take is kept for its next call (as is the
// end of the directory), until the directory's names change.
func (f *dirFile) Getdents(ctx vfs.Context, off int64, cb func(*vfs.Dirent) bool) error {
	st, fs := f.inode.st, f.inode.fs
	if off == 0 {
		st.beginListing(fs)
	} else if rest, eof, ok := f.kept(off); ok {
		if len(rest) == 0 && eof {
			return nil
		}
		more, err := f.emit(rest, eof, &off, cb)
		if err != nil || !more {
			return err
		}
	}
	walk := f.walkListing(off)
	for {
		more := false
		var err error
		if walk {
			flags, seq := fs.walkFlags(), fs.xa.seq.Load()
			err = fs.c.GetdentsWalk(f.inode.fid.Load(), off, getdentsBuf, flags, func(b []byte, eof bool, res []gproto.NameResult) error {
				fs.walked(flags, len(res))
				if err := st.readyListed(fs, b, res, seq); err != nil {
					return err
				}
				var err error
				more, err = f.emit(b, eof, &off, cb)
				return err
			})
		} else {
			err = fs.c.Getdents(f.inode.fid.Load(), off, getdentsBuf, func(b []byte, eof bool) error {
				var err error
				more, err = f.emit(b, eof, &off, cb)
				return err
			})
		}
		if err != nil || !more {
			return fs.check(ctx, err)
		}
	}
}

// emit passes the records in b to cb, advancing *off past each one cb
// takes; it reports whether the caller should fetch more. Records cb does
// not take are kept for the next call (exclusive mode).
func (f *dirFile) emit(b []byte, eof bool, off *int64, cb func(*vfs.Dirent) bool) (more bool, err error) {
	st, fs := f.inode.st, f.inode.fs
	for len(b) >= 19 {
		reclen := int(le16(b[16:]))
		if reclen < 19 || reclen > len(b) {
			return false, unix.EIO
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
			f.keep(*off, b, eof)
			return false, nil
		}
		st.noteListed(fs, d.Name)
		*off = d.NextOff
		b = b[reclen:]
	}
	if eof {
		f.keep(*off, nil, true)
	}
	return !eof, nil
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
