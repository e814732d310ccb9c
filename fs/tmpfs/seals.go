package tmpfs

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// File seals (fcntl F_ADD_SEALS), as Linux's.
const (
	sealSeal        = 0x0001
	sealShrink      = 0x0002
	sealGrow        = 0x0004
	sealWrite       = 0x0008
	sealFutureWrite = 0x0010
	sealsAll        = sealSeal | sealShrink | sealGrow | sealWrite | sealFutureWrite
)

// checkWrite applies the seals to a write of length bytes at off (or at
// the end, if appendMode).
func (i *inode) checkWrite(off, length int64, appendMode bool) error {
	if length == 0 {
		return nil
	}
	i.fs.mu.Lock()
	seals := i.seals
	i.fs.mu.Unlock()
	if seals&(sealWrite|sealFutureWrite|sealGrow) == 0 {
		return nil
	}
	if seals&(sealWrite|sealFutureWrite) != 0 {
		return unix.EPERM
	}
	size := i.data.Size()
	if appendMode {
		off = size
	}
	if off+length > size {
		return unix.EPERM
	}
	return nil
}

// checkResizeLocked applies F_SEAL_SHRINK and F_SEAL_GROW to a truncate.
// fs.mu is held.
func (i *inode) checkResizeLocked(size int64) error {
	cur := i.data.Size()
	if size < cur && i.seals&sealShrink != 0 || size > cur && i.seals&sealGrow != 0 {
		return unix.EPERM
	}
	return nil
}

// Allocate implements vfs.Allocator as Linux's shmem_fallocate: mode 0,
// FALLOC_FL_KEEP_SIZE and FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE;
// everything else is EOPNOTSUPP.
func (f *regularFile) Allocate(_ vfs.Context, mode uint32, off, length int64) error {
	i := f.inode
	if mode&^(unix.FALLOC_FL_KEEP_SIZE|unix.FALLOC_FL_PUNCH_HOLE) != 0 {
		return unix.EOPNOTSUPP
	}
	i.fs.mu.Lock()
	seals := i.seals
	i.fs.mu.Unlock()
	if mode&unix.FALLOC_FL_PUNCH_HOLE != 0 {
		if seals&(sealWrite|sealFutureWrite) != 0 {
			return unix.EPERM
		}
		i.data.PunchHole(off, length)
		// Shared mappings translate the freed pages again (and
		// read zeros).
		if i.mappable != nil {
			first, _ := usermem.PageRoundUp(uint64(off))
			last := usermem.PageRoundDown(uint64(off + length))
			if first < last {
				i.mappable.maps.Invalidate(i.mappable, first, last, false)
			}
		}
	} else {
		if seals&sealGrow != 0 && off+length > i.data.Size() {
			return unix.EPERM
		}
		if err := i.data.Fallocate(off, length, mode&unix.FALLOC_FL_KEEP_SIZE != 0); err != nil {
			return err
		}
	}
	i.fs.mu.Lock()
	now := vfs.Now()
	i.ctime = now
	if mode&unix.FALLOC_FL_PUNCH_HOLE != 0 {
		i.mtime = now
	}
	i.fs.mu.Unlock()
	return nil
}

// fileInode returns the tmpfs regular file behind impl.
func fileInode(impl vfs.FileDescriptionImpl) (*inode, bool) {
	f, ok := impl.(*regularFile)
	if !ok {
		return nil, false
	}
	return f.inode, true
}

// GetSeals implements fcntl(F_GET_SEALS): EINVAL for files that are not
// tmpfs regular files.
func GetSeals(impl vfs.FileDescriptionImpl) (uint32, error) {
	i, ok := fileInode(impl)
	if !ok {
		return 0, unix.EINVAL
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	return i.seals, nil
}

// AddSeals implements fcntl(F_ADD_SEALS); writable says whether the
// description was opened for writing (EPERM otherwise, as Linux).
func AddSeals(impl vfs.FileDescriptionImpl, seals uint32, writable bool) error {
	i, ok := fileInode(impl)
	if !ok {
		return unix.EINVAL
	}
	if seals&^sealsAll != 0 {
		return unix.EINVAL
	}
	if !writable {
		return unix.EPERM
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if i.seals&sealSeal != 0 {
		return unix.EPERM
	}
	if seals&sealWrite != 0 && i.seals&sealWrite == 0 && i.writableMaps > 0 {
		return unix.EBUSY
	}
	i.seals |= seals
	return nil
}

// MMapHook is called by mmap of a file whose Mappable is m, before the
// mapping is made: shared says MAP_SHARED, write that PROT_WRITE is asked
// and mayWrite that the file allows it. For a sealed tmpfs file it refuses
// writable shared mappings (EPERM) or clears mayWrite; for a shared
// mapping that may write it returns a hold function that counts the
// mapping (call it with true/false as vmas refer to the file and stop), so
// that F_SEAL_WRITE can give EBUSY. Other Mappables: (mayWrite, nil, nil).
func MMapHook(m memmap.Mappable, shared, write, mayWrite bool) (bool, func(bool), error) {
	mp, ok := m.(*mappable)
	if !ok || !shared {
		return mayWrite, nil, nil
	}
	i := mp.i
	i.fs.mu.Lock()
	seals := i.seals
	i.fs.mu.Unlock()
	if seals&(sealWrite|sealFutureWrite) != 0 {
		if write {
			return false, nil, unix.EPERM
		}
		mayWrite = false
	}
	if !mayWrite {
		return false, nil, nil
	}
	return true, func(inc bool) {
		i.fs.mu.Lock()
		if inc {
			i.writableMaps++
		} else {
			i.writableMaps--
		}
		i.fs.mu.Unlock()
	}, nil
}

// CreateTmpfile implements vfs.TmpfileCreator.
func (i *inode) CreateTmpfile(_ vfs.Context, opts *vfs.CreateOptions) (vfs.Inode, uint64, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if i.byName == nil {
		return nil, 0, unix.ENOTDIR
	}
	if i.nlink == 0 {
		return nil, 0, unix.ENOENT
	}
	c, err := i.fs.newInodeChecked(unix.S_IFREG|opts.Mode&0o7777, opts.UID, opts.GID)
	if err != nil {
		return nil, 0, err
	}
	c.nlink = 0
	c.linkable = true
	return c, c.ino, nil
}

// AllowSealing clears F_SEAL_SEAL of the regular file behind impl (a
// memfd created with MFD_ALLOW_SEALING).
func AllowSealing(impl vfs.FileDescriptionImpl) {
	if i, ok := fileInode(impl); ok {
		i.fs.mu.Lock()
		i.seals &^= sealSeal
		i.fs.mu.Unlock()
	}
}
