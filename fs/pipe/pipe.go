// Package pipe implements pipes: a bounded byte queue with read and write
// ends, PIPE_BUF atomicity, EPIPE/SIGPIPE semantics,
// F_GETPIPE_SZ/F_SETPIPE_SZ, FIONREAD, readiness for poll/select/epoll, and
// blocking that a task's interruption can end. Anonymous pipes (pipe(2))
// come from New; FIFOs (mkfifo) hold a Named, whose one Pipe is shared by
// every description opened on the FIFO while any is open (named.go).
//
// Lock order: Named.mu, then Pipe.mu, then the pipe's vfs.WaitQueue (see
// package vfs). Reads and writes that nobody waits for take Pipe.mu only
// and do not allocate once the ring buffer exists.
package pipe

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Sizes, as Linux's defaults.
const (
	// Buf is PIPE_BUF: writes of at most this many bytes are atomic.
	Buf = 4096
	// DefaultSize is the capacity of a new pipe.
	DefaultSize = 65536
	// MaxSize is /proc/sys/fs/pipe-max-size: the largest F_SETPIPE_SZ
	// without CAP_SYS_RESOURCE.
	MaxSize = 1 << 20
	// pageSize is the unit pipe sizes are rounded to.
	pageSize = 4096
)

// capSysResource is CAP_SYS_RESOURCE.
const capSysResource = 24

// SignalSender is implemented by contexts that can receive SIGPIPE.
type SignalSender interface {
	SendSIGPIPE()
}

// Events a pipe notifies.
const (
	readEvents  = vfs.ReadableEvents
	writeEvents = vfs.WritableEvents
	allEvents   = readEvents | writeEvents | vfs.EventHUp | vfs.EventErr
)

// Pipe is the shared queue of both ends.
type Pipe struct {
	// ino is the inode number of an anonymous pipe. Immutable.
	ino uint64

	// q holds the waiters of both ends: blocked readers and writers,
	// poll, select and epoll.
	q vfs.WaitQueue

	// mu protects everything below.
	mu sync.Mutex
	// data is a ring buffer of len max, allocated by the first write;
	// the queued bytes are size bytes from head on.
	data []byte
	head int
	size int
	max  int
	// readers and writers count the open descriptions that read and
	// write (an O_RDWR FIFO description counts in both), including FIFO
	// opens that still wait for a partner.
	readers int
	writers int
	// rCounter and wCounter count the reader and writer opens ever made
	// (Linux's r_counter and w_counter): a FIFO open that waits for a
	// partner waits for the other side's counter to change, so that an
	// opener that came and left while it slept still releases it; and a
	// FIFO reader opened with O_NONBLOCK and no writer reports no POLLHUP
	// until a writer has come (end.wSeen).
	rCounter uint64
	wCounter uint64
}

// New returns a pipe's read and write descriptions (O_RDONLY/O_WRONLY plus
// O_NONBLOCK from flags). ino is the pipe's inode number, from
// vfs.VirtualFilesystem.NextAnonIno.
func New(ino uint64, flags uint32) (r, w *vfs.FileDescription) {
	p := &Pipe{ino: ino, max: DefaultSize, readers: 1, writers: 1, rCounter: 1, wCounter: 1}
	re := &end{p: p, read: true}
	we := &end{p: p, write: true}
	r = vfs.NewFileDescription(re, vfs.VirtualDentry{}, unix.O_RDONLY|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	w = vfs.NewFileDescription(we, vfs.VirtualDentry{}, unix.O_WRONLY|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	re.fd, we.fd = r, w
	return r, w
}

// readLocked moves up to len(dst) queued bytes into dst. p.mu is held.
func (p *Pipe) readLocked(dst []byte) int {
	n := min(len(dst), p.size)
	first := copy(dst[:n], p.data[p.head:])
	if first < n {
		copy(dst[first:n], p.data)
	}
	p.head = (p.head + n) % len(p.data)
	p.size -= n
	if p.size == 0 {
		p.head = 0
	}
	return n
}

// writeLocked queues src, which fits. p.mu is held.
func (p *Pipe) writeLocked(src []byte) {
	if p.data == nil {
		p.data = make([]byte, p.max)
	}
	tail := (p.head + p.size) % len(p.data)
	first := copy(p.data[tail:], src)
	copy(p.data, src[first:])
	p.size += len(src)
}

// end is an open description of a pipe: the read or write end of an
// anonymous pipe, or a FIFO opened for reading, writing or both.
type end struct {
	vfs.FileDescriptionDefaultImpl
	p           *Pipe
	read, write bool
	// fd is the description, for its O_NONBLOCK flag. Set once, before
	// the description is used.
	fd *vfs.FileDescription
	// named is the FIFO the end was opened on, and node the FIFO's inode
	// (for fstat); both nil for an anonymous pipe. Immutable.
	named *Named
	node  Node
	// wSeen is the pipe's wCounter when a FIFO reader was opened with
	// O_NONBLOCK and no writer (0 otherwise): the end reports no POLLHUP
	// before a writer has come. Immutable.
	wSeen uint64
}

func (e *end) nonblocking() bool { return e.fd != nil && e.fd.StatusFlags()&unix.O_NONBLOCK != 0 }

// IsStream implements vfs.StreamFile: a FIFO has no offset.
func (*end) IsStream() {}

// SetFD implements vfs.DescriptionAware for FIFO descriptions.
func (e *end) SetFD(fd *vfs.FileDescription) { e.fd = fd }

// Release implements vfs.FileDescriptionImpl.
func (e *end) Release(vfs.Context) {
	p := e.p
	p.mu.Lock()
	if e.read {
		p.readers--
	}
	if e.write {
		p.writers--
	}
	p.mu.Unlock()
	p.q.Notify(allEvents)
	if e.named != nil {
		e.named.put()
	}
}

// Stat implements vfs.FileDescriptionImpl: a FIFO reports its inode, an
// anonymous pipe its own.
func (e *end) Stat(ctx vfs.Context) (vfs.Stat, error) {
	if e.node != nil {
		return e.node.Stat(ctx)
	}
	e.p.mu.Lock()
	n := e.p.size
	e.p.mu.Unlock()
	return vfs.Stat{Mode: unix.S_IFIFO | 0o600, Nlink: 1, Ino: e.p.ino, Blksize: Buf, Size: uint64(n)}, nil
}

// PRead implements vfs.FileDescriptionImpl: it returns what is there, blocks
// while the pipe is empty and has writers, and returns 0 at end of file.
func (e *end) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	return e.readQueue(ctx, dst, e.nonblocking(), true)
}

// Peek implements vfs.Peeker for tee(2): PRead without consuming.
func (e *end) Peek(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	return e.readQueue(ctx, dst, nonblock || e.nonblocking(), false)
}

// readQueue copies queued bytes into dst, taking them off the queue if
// consume.
func (e *end) readQueue(ctx vfs.Context, dst []byte, nonblock, consume bool) (int, error) {
	if !e.read {
		return 0, unix.EBADF
	}
	if len(dst) == 0 {
		return 0, nil
	}
	p := e.p
	p.mu.Lock()
	for p.size == 0 {
		if p.writers == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if nonblock {
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := p.q.WaitLocked(ctx, readEvents|vfs.EventHUp, &p.mu); err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	if !consume {
		n := min(len(dst), p.size)
		first := copy(dst[:n], p.data[p.head:])
		if first < n {
			copy(dst[first:n], p.data)
		}
		p.mu.Unlock()
		return n, nil
	}
	n := p.readLocked(dst)
	p.mu.Unlock()
	p.q.Notify(writeEvents)
	return n, nil
}

// PWrite implements vfs.FileDescriptionImpl: writes of at most PIPE_BUF
// bytes are atomic (they wait, or fail with EAGAIN, until all of them
// fit); larger ones may be split. With no reader, EPIPE (and SIGPIPE).
func (e *end) PWrite(ctx vfs.Context, src []byte, _ int64, _ bool) (int, int64, error) {
	if !e.write {
		return 0, 0, unix.EBADF
	}
	p := e.p
	p.mu.Lock()
	done := 0
	for done < len(src) {
		if p.readers == 0 {
			p.mu.Unlock()
			if s, ok := ctx.(SignalSender); ok {
				s.SendSIGPIPE()
			}
			if done > 0 {
				return done, 0, nil
			}
			return 0, 0, unix.EPIPE
		}
		room := p.max - p.size
		rest := len(src) - done
		if room >= rest || (len(src) > Buf && room > 0) {
			n := min(rest, room)
			p.writeLocked(src[done : done+n])
			done += n
			if done < len(src) {
				// Let readers drain while we wait for room.
				p.mu.Unlock()
				p.q.Notify(readEvents)
				p.mu.Lock()
			}
			continue
		}
		if e.nonblocking() {
			p.mu.Unlock()
			if done > 0 {
				return done, 0, nil
			}
			return 0, 0, unix.EAGAIN
		}
		if err := p.q.WaitLocked(ctx, writeEvents|vfs.EventErr, &p.mu); err != nil {
			p.mu.Unlock()
			if done > 0 {
				return done, 0, nil
			}
			return 0, 0, err
		}
	}
	p.mu.Unlock()
	p.q.Notify(readEvents)
	return done, 0, nil
}

// Readiness implements vfs.Waitable, as Linux's pipe_poll: the read end is
// readable with data and hung up without writers (once a writer has been
// seen); the write end is writable with room for an atomic write and in
// error without readers. An O_RDWR FIFO description is both.
func (e *end) Readiness(mask uint32) uint32 {
	p := e.p
	var r uint32
	p.mu.Lock()
	if e.read {
		if p.size > 0 {
			r |= readEvents
		}
		if p.writers == 0 && p.wCounter != e.wSeen {
			r |= vfs.EventHUp
		}
	}
	if e.write {
		if p.max-p.size >= Buf {
			r |= writeEvents
		}
		if p.readers == 0 {
			r |= vfs.EventErr
		}
	}
	p.mu.Unlock()
	return r & mask
}

// EventRegister implements vfs.Waitable.
func (e *end) EventRegister(we *vfs.WaitEntry) { e.p.q.EventRegister(we) }

// EventUnregister implements vfs.Waitable.
func (e *end) EventUnregister(we *vfs.WaitEntry) { e.p.q.EventUnregister(we) }

// Ioctl implements FIONREAD.
func (e *end) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	if cmd != fionread {
		return 0, unix.ENOTTY
	}
	e.p.mu.Lock()
	n := e.p.size
	e.p.mu.Unlock()
	b := [4]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	_, err := ctx.CopyOut(arg, b[:])
	return 0, err
}

// fionread is FIONREAD (TIOCINQ).
const fionread = 0x541b

// Size returns the pipe's capacity (fcntl F_GETPIPE_SZ) if impl is a pipe
// end.
func Size(impl vfs.FileDescriptionImpl) (int, bool) {
	e, ok := impl.(*end)
	if !ok {
		return 0, false
	}
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.max, true
}

// SetSize implements fcntl F_SETPIPE_SZ on a pipe end (EBADF for other
// files): the size is rounded up to a power-of-two number of pages, EPERM
// above MaxSize without CAP_SYS_RESOURCE, EBUSY below the queued data.
// It returns the new capacity.
func SetSize(ctx vfs.Context, impl vfs.FileDescriptionImpl, arg uint32) (int, error) {
	e, ok := impl.(*end)
	if !ok {
		return 0, unix.EBADF
	}
	// Linux: fs/pipe.c round_pipe_size.
	if arg > 1<<31 {
		return 0, unix.EINVAL
	}
	size := pageSize
	for size < int(arg) {
		size <<= 1
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if size > p.max && size > MaxSize {
		if c := ctx.Credentials(); c == nil || !c.HasCapability(capSysResource) {
			return 0, unix.EPERM
		}
	}
	// Linux counts pages in use; a partly used page counts whole.
	if (p.size+pageSize-1)/pageSize > size/pageSize {
		return 0, unix.EBUSY
	}
	if size != p.max {
		if p.data != nil {
			nd := make([]byte, size)
			n := p.size
			p.readLocked(nd)
			p.data, p.head, p.size = nd, 0, n
		}
		p.max = size
	}
	p.mu.Unlock()
	p.q.Notify(writeEvents)
	p.mu.Lock()
	return size, nil
}

// AsyncFile implements vfs.AsyncFile: pipes send SIGIO (pipe_fasync).
func (*end) AsyncFile() {}

// AsyncReason implements vfs.AsyncReasoner: Linux's pipe tells readers
// POLL_IN and writers POLL_OUT, whatever happened (data, room, a close).
func (e *end) AsyncReason(ready uint32) int32 {
	if e.read && (!e.write || ready&(readEvents|vfs.EventHUp) != 0) {
		return vfs.PollIn
	}
	return vfs.PollOut
}
