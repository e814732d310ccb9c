// Package pipe implements anonymous pipes: a bounded byte queue with a read
// end and a write end, PIPE_BUF atomicity, EPIPE/SIGPIPE semantics and
// blocking that a task's interruption can end.
package pipe

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Sizes, as Linux's defaults.
const (
	// Buf is PIPE_BUF: writes of at most this many bytes are atomic.
	Buf = 4096
	// DefaultSize is the capacity of a new pipe.
	DefaultSize = 65536
)

// Interruptible is implemented by contexts (kernel tasks) whose blocking
// can be ended early; the pipe then returns ERESTARTSYS.
type Interruptible interface {
	InterruptChan() <-chan struct{}
}

// SignalSender is implemented by contexts that can receive SIGPIPE.
type SignalSender interface {
	SendSIGPIPE()
}

// errRestart is ERESTARTSYS: the kernel restarts or fails the syscall.
const errRestart = unix.Errno(512)

// Pipe is the shared queue of both ends.
type Pipe struct {
	ino uint64
	dev uint64

	// mu protects everything below.
	mu      sync.Mutex
	buf     []byte
	max     int
	readers int
	writers int
	// changed is closed and replaced whenever data, space or the ends
	// change, waking all waiters.
	changed chan struct{}
}

var nextIno atomic.Uint64

// New returns a pipe's read and write descriptions (O_RDONLY/O_WRONLY plus
// O_NONBLOCK from flags).
func New(dev uint64, flags uint32) (r, w *vfs.FileDescription) {
	p := &Pipe{ino: nextIno.Add(1), dev: dev, max: DefaultSize, readers: 1, writers: 1, changed: make(chan struct{})}
	re := &end{p: p, read: true}
	we := &end{p: p}
	r = vfs.NewFileDescription(re, vfs.VirtualDentry{}, unix.O_RDONLY|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	w = vfs.NewFileDescription(we, vfs.VirtualDentry{}, unix.O_WRONLY|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	re.fd, we.fd = r, w
	return r, w
}

// notifyLocked wakes every waiter. p.mu must be held.
func (p *Pipe) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// wait blocks until the pipe changes; p.mu is held on entry and on return.
func (p *Pipe) wait(ctx vfs.Context) error {
	ch := p.changed
	p.mu.Unlock()
	defer p.mu.Lock()
	if in, ok := ctx.(Interruptible); ok {
		select {
		case <-ch:
			return nil
		case <-in.InterruptChan():
			return errRestart
		}
	}
	<-ch
	return nil
}

// end is one end of a pipe.
type end struct {
	vfs.FileDescriptionDefaultImpl
	p    *Pipe
	read bool
	fd   *vfs.FileDescription
}

func (e *end) nonblocking() bool { return e.fd.StatusFlags()&unix.O_NONBLOCK != 0 }

// Release implements vfs.FileDescriptionImpl.
func (e *end) Release(vfs.Context) {
	p := e.p
	p.mu.Lock()
	if e.read {
		p.readers--
	} else {
		p.writers--
	}
	p.notifyLocked()
	p.mu.Unlock()
}

// Stat implements vfs.FileDescriptionImpl.
func (e *end) Stat(vfs.Context) (vfs.Stat, error) {
	e.p.mu.Lock()
	n := len(e.p.buf)
	e.p.mu.Unlock()
	return vfs.Stat{Mode: unix.S_IFIFO | 0o600, Nlink: 1, Ino: e.p.ino, Dev: e.p.dev, Blksize: Buf, Size: uint64(n)}, nil
}

// PRead implements vfs.FileDescriptionImpl: it returns what is there, blocks
// while the pipe is empty and has writers, and returns 0 at end of file.
func (e *end) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if !e.read {
		return 0, unix.EBADF
	}
	if len(dst) == 0 {
		return 0, nil
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		if p.writers == 0 {
			return 0, nil
		}
		if e.nonblocking() {
			return 0, unix.EAGAIN
		}
		if err := p.wait(ctx); err != nil {
			return 0, err
		}
	}
	n := copy(dst, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	p.notifyLocked()
	return n, nil
}

// PWrite implements vfs.FileDescriptionImpl: writes of at most PIPE_BUF
// bytes are atomic; larger ones may be split. With no reader, EPIPE (and
// SIGPIPE).
func (e *end) PWrite(ctx vfs.Context, src []byte, _ int64, _ bool) (int, int64, error) {
	if e.read {
		return 0, 0, unix.EBADF
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for done < len(src) {
		if p.readers == 0 {
			if s, ok := ctx.(SignalSender); ok {
				s.SendSIGPIPE()
			}
			if done > 0 {
				return done, 0, nil
			}
			return 0, 0, unix.EPIPE
		}
		room := p.max - len(p.buf)
		rest := len(src) - done
		if room >= rest || (rest > Buf && room > 0) {
			n := rest
			if n > room {
				n = room
			}
			p.buf = append(p.buf, src[done:done+n]...)
			done += n
			p.notifyLocked()
			continue
		}
		if e.nonblocking() {
			if done > 0 {
				return done, 0, nil
			}
			return 0, 0, unix.EAGAIN
		}
		if err := p.wait(ctx); err != nil {
			if done > 0 {
				return done, 0, nil
			}
			return 0, 0, err
		}
	}
	return done, 0, nil
}

// Ioctl implements FIONREAD.
func (e *end) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	if cmd != fionread {
		return 0, unix.ENOTTY
	}
	e.p.mu.Lock()
	n := len(e.p.buf)
	e.p.mu.Unlock()
	b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	_, err := ctx.CopyOut(arg, b)
	return 0, err
}

// fionread is FIONREAD (TIOCINQ).
const fionread = 0x541b
