// Package eventfd implements eventfd(2) files: a 64-bit counter that
// write adds to and read takes (all of it, or one in semaphore mode), with
// readiness for poll/select/epoll.
//
// Lock order: file.mu, then the file's vfs.WaitQueue.
package eventfd

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// maxCount is the largest value the counter can hold (2^64-2); a write
// that would pass it blocks.
const maxCount = ^uint64(0) - 1

// eventfd flags (EFD_SEMAPHORE; EFD_CLOEXEC and EFD_NONBLOCK are
// O_CLOEXEC and O_NONBLOCK).
const (
	Semaphore = 1
	Cloexec   = unix.O_CLOEXEC
	Nonblock  = unix.O_NONBLOCK
)

// file is an open eventfd.
type file struct {
	vfs.FileDescriptionDefaultImpl
	vfs.WaitQueue
	fd        *vfs.FileDescription
	ino       uint64
	semaphore bool

	// mu protects count.
	mu    sync.Mutex
	count uint64
}

// New returns an eventfd description with the initial counter value and
// the flags Semaphore and Nonblock (the caller handles Cloexec). ino is its
// inode number, from vfs.VirtualFilesystem.NextAnonIno.
func New(ino, initval uint64, flags uint32) *vfs.FileDescription {
	f := &file{count: initval, semaphore: flags&Semaphore != 0, ino: ino}
	f.fd = vfs.NewFileDescription(f, vfs.VirtualDentry{}, unix.O_RDWR|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	return f.fd
}

func (f *file) nonblocking() bool { return f.fd.StatusFlags()&unix.O_NONBLOCK != 0 }

// Release implements vfs.FileDescriptionImpl.
func (f *file) Release(vfs.Context) {}

// Stat implements vfs.FileDescriptionImpl: an anonymous inode.
func (f *file) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: 0o600, Nlink: 1, Ino: f.ino, Blksize: 4096}, nil
}

// RecordSize implements vfs.RecordReader: the counter's 8 bytes.
func (*file) RecordSize() int { return 8 }

// PRead implements read(2): 8 bytes at least (EINVAL), blocking or
// EAGAIN while the counter is 0.
func (f *file) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) < f.RecordSize() {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	for f.count == 0 {
		if f.nonblocking() {
			f.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := f.WaitLocked(ctx, vfs.ReadableEvents, &f.mu); err != nil {
			f.mu.Unlock()
			return 0, err
		}
	}
	v := f.count
	if f.semaphore {
		v = 1
	}
	f.count -= v
	f.mu.Unlock()
	binary.LittleEndian.PutUint64(dst, v)
	f.Notify(vfs.WritableEvents)
	return 8, nil
}

// PWrite implements write(2): adds an 8-byte value (other sizes and
// 2^64-1 are EINVAL; Linux's eventfd_write takes exactly 8 bytes),
// blocking or EAGAIN while the sum would pass 2^64-2.
func (f *file) PWrite(ctx vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	if len(src) != 8 {
		return 0, off, unix.EINVAL
	}
	v := binary.LittleEndian.Uint64(src)
	if v == ^uint64(0) {
		return 0, off, unix.EINVAL
	}
	f.mu.Lock()
	for maxCount-f.count < v {
		if f.nonblocking() {
			f.mu.Unlock()
			return 0, off, unix.EAGAIN
		}
		if err := f.WaitLocked(ctx, vfs.WritableEvents, &f.mu); err != nil {
			f.mu.Unlock()
			return 0, off, err
		}
	}
	f.count += v
	f.mu.Unlock()
	if v != 0 {
		f.Notify(vfs.ReadableEvents)
	}
	return 8, off, nil
}

// Readiness implements vfs.Waitable: readable with a non-zero counter,
// writable while 1 can still be added, in error at 2^64-1 (unreachable by
// write).
func (f *file) Readiness(mask uint32) uint32 {
	f.mu.Lock()
	c := f.count
	f.mu.Unlock()
	var r uint32
	if c > 0 {
		r |= vfs.ReadableEvents
	}
	if c < maxCount {
		r |= vfs.WritableEvents
	}
	if c == ^uint64(0) {
		r |= vfs.EventErr
	}
	return r & mask
}
