// Package timerfd implements timerfd_create(2) files: a timer on one of
// the clocks REALTIME, MONOTONIC or BOOTTIME whose expirations are counted
// and read as a 64-bit number, with readiness for poll/select/epoll.
//
// Expirations are computed from the clock when the file is read or polled;
// a Go timer only wakes waiters at the next expiry.
//
// Lock order: file.mu, then the file's vfs.WaitQueue.
package timerfd

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Flags of timerfd_settime.
const (
	TimerAbstime     = 1
	TimerCancelOnSet = 2
)

// file is an open timerfd.
type file struct {
	vfs.FileDescriptionDefaultImpl
	vfs.WaitQueue
	fd *vfs.FileDescription
	// clock is the host clock that measures the timer (immutable).
	clock int32
	ino   uint64

	// mu protects everything below.
	mu sync.Mutex
	// next is the clock time (ns) of the next expiry, 0 when disarmed.
	next int64
	// interval is the period (ns), 0 for a one-shot timer.
	interval int64
	// ticks counts the expirations not yet read.
	ticks uint64
	// timer wakes waiters at next; gen tells its callback whether it is
	// still current.
	timer *time.Timer
	gen   uint64
}

// New returns a timerfd on the host clock clock (one of
// CLOCK_REALTIME/MONOTONIC/BOOTTIME; the caller validated it) with
// O_NONBLOCK from flags. ino is its inode number, from
// vfs.VirtualFilesystem.NextAnonIno.
func New(ino uint64, clock int32, flags uint32) *vfs.FileDescription {
	f := &file{clock: clock, ino: ino}
	f.fd = vfs.NewFileDescription(f, vfs.VirtualDentry{}, unix.O_RDWR|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	return f.fd
}

// now reads the timer's clock in ns.
func (f *file) now() int64 {
	var ts unix.Timespec
	unix.ClockGettime(f.clock, &ts)
	return ts.Nano()
}

// updateLocked counts the expirations up to now. f.mu is held.
func (f *file) updateLocked(now int64) {
	if f.next == 0 || now < f.next {
		return
	}
	if f.interval == 0 {
		f.ticks++
		f.next = 0
		return
	}
	k := (now-f.next)/f.interval + 1
	f.ticks += uint64(k)
	f.next += k * f.interval
}

// scheduleLocked arms the wakeup timer for f.next. f.mu is held.
func (f *file) scheduleLocked(now int64) {
	if f.next == 0 {
		return
	}
	d := time.Duration(f.next - now)
	gen := f.gen
	f.timer = time.AfterFunc(d, func() { f.fire(gen) })
}

// fire runs when the wakeup timer expires.
func (f *file) fire(gen uint64) {
	f.mu.Lock()
	if gen != f.gen {
		f.mu.Unlock()
		return
	}
	now := f.now()
	f.updateLocked(now)
	// The Go timer may fire a hair before the clock (REALTIME being
	// slewed); scheduleLocked then simply waits again.
	f.scheduleLocked(now)
	ready := f.ticks > 0
	f.mu.Unlock()
	if ready {
		f.Notify(vfs.ReadableEvents)
	}
}

// Release implements vfs.FileDescriptionImpl.
func (f *file) Release(vfs.Context) {
	f.mu.Lock()
	f.gen++
	if f.timer != nil {
		f.timer.Stop()
	}
	f.mu.Unlock()
}

// Stat implements vfs.FileDescriptionImpl: an anonymous inode.
func (f *file) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: 0o600, Nlink: 1, Ino: f.ino, Blksize: 4096}, nil
}

// RecordSize implements vfs.RecordReader: the expiration count's 8 bytes.
func (*file) RecordSize() int { return 8 }

// PRead implements read(2): the number of expirations since the last
// read, as 8 bytes (EINVAL for a smaller buffer); it blocks, or gives
// EAGAIN, while there are none.
func (f *file) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) < f.RecordSize() {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	for {
		f.updateLocked(f.now())
		if f.ticks > 0 {
			break
		}
		if f.fd.StatusFlags()&unix.O_NONBLOCK != 0 {
			f.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := f.WaitLocked(ctx, vfs.ReadableEvents, &f.mu); err != nil {
			f.mu.Unlock()
			return 0, err
		}
	}
	n := f.ticks
	f.ticks = 0
	f.mu.Unlock()
	binary.LittleEndian.PutUint64(dst, n)
	return 8, nil
}

// Readiness implements vfs.Waitable: readable after an expiration.
func (f *file) Readiness(mask uint32) uint32 {
	f.mu.Lock()
	f.updateLocked(f.now())
	ready := f.ticks > 0
	f.mu.Unlock()
	if ready {
		return mask & vfs.ReadableEvents
	}
	return 0
}

// getLocked returns the time to the next expiry and the interval. f.mu is
// held.
func (f *file) getLocked(now int64) (value, interval time.Duration) {
	f.updateLocked(now)
	if f.next != 0 {
		value = time.Duration(f.next - now)
	}
	return value, time.Duration(f.interval)
}

// GetTime implements timerfd_gettime on impl (EINVAL if it is not a
// timerfd): the time left to the next expiry (0 when disarmed) and the
// interval.
func GetTime(impl vfs.FileDescriptionImpl) (value, interval time.Duration, err error) {
	f, ok := impl.(*file)
	if !ok {
		return 0, 0, unix.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	value, interval = f.getLocked(f.now())
	return value, interval, nil
}

// SetTime implements timerfd_settime on impl (EINVAL if it is not a
// timerfd): it arms the timer to expire after value (at clock time value
// with TimerAbstime) and then every interval, or disarms it when value is
// 0, clears the unread expirations, and returns the old setting as
// GetTime would. Durations are non-negative (the caller checked).
// TimerCancelOnSet is accepted: the sandbox's realtime clock is never set,
// so ECANCELED never happens.
func SetTime(impl vfs.FileDescriptionImpl, flags uint32, value, interval time.Duration) (oldValue, oldInterval time.Duration, err error) {
	f, ok := impl.(*file)
	if !ok {
		return 0, 0, unix.EINVAL
	}
	f.mu.Lock()
	now := f.now()
	oldValue, oldInterval = f.getLocked(now)
	f.gen++
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	f.ticks = 0
	f.next, f.interval = 0, 0
	if value != 0 {
		f.interval = int64(interval)
		if flags&TimerAbstime != 0 {
			f.next = int64(value)
		} else {
			f.next = now + int64(value)
			if f.next < now {
				f.next = 1<<63 - 1
			}
		}
		if f.next <= 0 {
			// An absolute time at or before the clock's epoch has
			// passed; keep "armed" distinct from 0.
			f.next = 1
		}
		f.updateLocked(now)
		f.scheduleLocked(now)
	}
	ready := f.ticks > 0
	f.mu.Unlock()
	if ready {
		f.Notify(vfs.ReadableEvents)
	}
	return oldValue, oldInterval, nil
}
