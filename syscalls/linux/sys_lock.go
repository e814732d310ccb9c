package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// File locks: flock(2) and fcntl's record locks. The lock tables live in
// fs/vfs (locks.go); this file decodes the ABI.

func registerLock(t *kernel.SyscallTable) {
	t.Register(unix.SYS_FLOCK, Flock)
}

// sizeofFlock is sizeof(struct flock) on amd64: l_type and l_whence
// (int16), padding, l_start and l_len (int64), l_pid (int32), padding.
const sizeofFlock = 32

// Flock implements flock(2).
func Flock(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, op := a[0].Int(), int(a[1].Int())
	f, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	var block vfs.BlockFunc = t.Block
	if op&unix.LOCK_NB != 0 {
		block = nil
	}
	return 0, f.Flock(op&^unix.LOCK_NB, block)
}

// fcntlLock implements fcntl's F_GETLK, F_SETLK, F_SETLKW and their OFD
// variants on f, whose struct flock is at addr.
func fcntlLock(t *kernel.Task, f *vfs.FileDescription, cmd int32, addr uint64) (uintptr, error) {
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	var b [sizeofFlock]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	typ := int16(le.Uint16(b[0:]))
	whence := int16(le.Uint16(b[2:]))
	start := int64(le.Uint64(b[8:]))
	length := int64(le.Uint64(b[16:]))
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	if ofd && le.Uint32(b[24:]) != 0 {
		// Linux: l_pid must be 0 for open file description locks.
		return 0, unix.EINVAL
	}
	r, err := lockRange(t, f, whence, start, length)
	if err != nil {
		return 0, err
	}
	switch cmd {
	case unix.F_GETLK, unix.F_OFD_GETLK:
		l, err := f.GetRecordLock(t.FDTable(), ofd, typ, r)
		if err != nil {
			return 0, err
		}
		le.PutUint16(b[0:], uint16(l.Type))
		if l.Type != unix.F_UNLCK {
			le.PutUint16(b[2:], unix.SEEK_SET)
			le.PutUint64(b[8:], uint64(l.Range.Start))
			n := int64(0)
			if l.Range.End != vfs.LockEOF {
				n = l.Range.End - l.Range.Start + 1
			}
			le.PutUint64(b[16:], uint64(n))
			le.PutUint32(b[24:], uint32(t.PIDNamespace().IDOfRootID(kernel.ThreadID(l.PID))))
		}
		_, err = t.CopyOut(addr, b[:])
		return 0, err
	}
	var block vfs.BlockFunc
	if cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW {
		block = t.Block
	}
	return 0, f.SetRecordLock(t.FDTable(), int32(t.ThreadGroup().PID()), ofd, typ, r, block)
}

// lockRange turns a struct flock's whence, start and length into a byte
// range, as Linux's flock_to_posix_lock does: a negative length counts
// backwards from start, zero means "to the end of the file, however far".
func lockRange(t *kernel.Task, f *vfs.FileDescription, whence int16, start, length int64) (vfs.LockRange, error) {
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off, err := f.Seek(t, 0, unix.SEEK_CUR)
		if err != nil {
			off = 0
		}
		base = off
	case unix.SEEK_END:
		st, err := f.Stat(t)
		if err != nil {
			return vfs.LockRange{}, err
		}
		base = int64(st.Size)
	default:
		return vfs.LockRange{}, unix.EINVAL
	}
	if start > 0 && base > vfs.LockEOF-start {
		return vfs.LockRange{}, unix.EOVERFLOW
	}
	start += base
	if start < 0 {
		return vfs.LockRange{}, unix.EINVAL
	}
	switch {
	case length > 0:
		if length-1 > vfs.LockEOF-start {
			return vfs.LockRange{}, unix.EOVERFLOW
		}
		return vfs.LockRange{Start: start, End: start + length - 1}, nil
	case length < 0:
		end := start - 1
		start += length
		if start < 0 {
			return vfs.LockRange{}, unix.EINVAL
		}
		return vfs.LockRange{Start: start, End: end}, nil
	}
	return vfs.LockRange{Start: start, End: vfs.LockEOF}, nil
}
