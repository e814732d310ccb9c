package vfs

import "golang.org/x/sys/unix"

// Allocator is implemented by FileDescriptionImpls that support
// fallocate(2). mode has been checked against Linux's generic rules
// (valid combinations, offsets, file type); the file decides which modes it
// supports (EOPNOTSUPP otherwise).
type Allocator interface {
	Allocate(ctx Context, mode uint32, off, length int64) error
}

// Allocate implements fallocate(2) on the file after the checks of Linux's
// vfs_fallocate that need the description.
func (fd *FileDescription) Allocate(ctx Context, mode uint32, off, length int64) error {
	if !fd.IsWritable() {
		return unix.EBADF
	}
	st, err := fd.impl.Stat(ctx)
	if err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return unix.ESPIPE
	case unix.S_IFDIR:
		return unix.EISDIR
	case unix.S_IFREG, unix.S_IFBLK:
	default:
		if fd.vd.Ok() || st.Mode&unix.S_IFMT != 0 {
			return unix.ENODEV
		}
		return unix.ESPIPE
	}
	if off+length < off {
		return unix.EFBIG
	}
	if mode&unix.FALLOC_FL_KEEP_SIZE == 0 && st.Mode&unix.S_IFMT == unix.S_IFREG {
		if err := checkNewSize(ctx, uint64(off+length), func() (uint64, error) { return st.Size, nil }); err != nil {
			return err
		}
	}
	a, ok := fd.impl.(Allocator)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return fd.notifyModify(a.Allocate(ctx, mode, off, length))
}

// Peeker is implemented by pipe ends that can copy queued data without
// consuming it, for tee(2). Peek copies up to len(dst) bytes from the
// front of the queue; it blocks (or gives EAGAIN when nonblock) like a read
// while the pipe is empty and has writers, and returns 0 at end of file.
type Peeker interface {
	Peek(ctx Context, dst []byte, nonblock bool) (int, error)
}

// PunchHole frees the file's range [off, off+length) as
// fallocate(FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE) does, for the
// memory manager's madvise(MADV_REMOVE) (it implements mm.HolePuncher):
// the kernel does it for the mapping, not for a task, so no credentials
// or task memory are involved, and the size does not change.
func (fd *FileDescription) PunchHole(off, length uint64) error {
	if int64(off) < 0 || int64(length) < 0 {
		return unix.EINVAL
	}
	return fd.Allocate(KernelContext{}, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(off), int64(length))
}
