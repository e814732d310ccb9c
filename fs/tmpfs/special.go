package tmpfs

import (
	"crypto/rand"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// A FIFO node joins its openers through an anonymous pipe (fs/pipe, used
// only through pipe.New and the generic description calls): the node
// holds the pipe's read end while it has readers and its write end while
// it has writers, so end of file and EPIPE follow from the pipe itself.
// Both ends are non-blocking; a blocking FIFO description waits itself.
//
// Until pipes expose readiness to other packages, a blocked FIFO read or
// write re-polls the pipe every few milliseconds (and at once when an end
// opens or closes). A pipe whose writers all left while data was still
// queued is replaced when a new writer comes: that data is lost (Linux
// keeps it).
type fifo struct {
	// mu protects everything below.
	mu      sync.Mutex
	r, w    *vfs.FileDescription
	readers int
	writers int
	// rgen and wgen count reader and writer opens: a blocked open waits
	// for the other side's count to change, so that an opener that came
	// and went while it slept still releases it (as Linux's r_counter).
	rgen, wgen uint64
	// changed is closed and replaced when an end opens or closes.
	changed chan struct{}
}

// errRestart is ERESTARTSYS.
const errRestart = unix.Errno(512)

type interruptible interface {
	InterruptChan() <-chan struct{}
}

// notifyLocked wakes openers and blocked transfers. f.mu is held.
func (f *fifo) notifyLocked() {
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

// wait blocks until the FIFO's ends change, poll passes (if > 0), or ctx
// is interrupted. f.mu is held on entry and on return.
func (f *fifo) wait(ctx vfs.Context, poll time.Duration) error {
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	ch := f.changed
	f.mu.Unlock()
	defer f.mu.Lock()
	var intr <-chan struct{}
	if in, ok := ctx.(interruptible); ok {
		intr = in.InterruptChan()
	}
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTimer(poll)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-ch:
	case <-tick:
	case <-intr:
		return errRestart
	}
	return nil
}

// ensurePipeLocked makes sure the pipe has the ends the counts need.
func (f *fifo) ensurePipeLocked(ctx vfs.Context, dev uint64) {
	if (f.readers > 0 && f.r == nil) || (f.writers > 0 && f.w == nil) {
		if f.r != nil {
			f.r.DecRef(ctx)
		}
		if f.w != nil {
			f.w.DecRef(ctx)
		}
		f.r, f.w = pipe.New(dev, unix.O_NONBLOCK)
	}
	if f.readers == 0 && f.r != nil {
		f.r.DecRef(ctx)
		f.r = nil
	}
	if f.writers == 0 && f.w != nil {
		f.w.DecRef(ctx)
		f.w = nil
	}
}

// openFIFO implements open(2) of a FIFO, with Linux's rules: a read-only
// open waits for a writer, a write-only open waits for a reader (or is
// ENXIO with O_NONBLOCK), O_RDWR never waits.
func (i *inode) openFIFO(ctx vfs.Context, flags uint32) (vfs.FileDescriptionImpl, error) {
	f := i.fifo
	nonblock := flags&unix.O_NONBLOCK != 0
	f.mu.Lock()
	defer f.mu.Unlock()
	file := &fifoFile{inode: i, f: f}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		file.read = true
		f.readers++
		f.rgen++
		f.ensurePipeLocked(ctx, i.fs.dev)
		f.notifyLocked()
		for gen := f.wgen; !nonblock && f.writers == 0 && f.wgen == gen; {
			if err := f.wait(ctx, 0); err != nil {
				f.readers--
				f.ensurePipeLocked(ctx, i.fs.dev)
				return nil, err
			}
		}
	case unix.O_WRONLY:
		if nonblock && f.readers == 0 {
			return nil, unix.ENXIO
		}
		file.write = true
		f.writers++
		f.wgen++
		f.ensurePipeLocked(ctx, i.fs.dev)
		f.notifyLocked()
		for gen := f.rgen; f.readers == 0 && f.rgen == gen; {
			if err := f.wait(ctx, 0); err != nil {
				f.writers--
				f.ensurePipeLocked(ctx, i.fs.dev)
				return nil, err
			}
		}
	default:
		file.read, file.write = true, true
		f.readers++
		f.writers++
		f.rgen++
		f.wgen++
		f.ensurePipeLocked(ctx, i.fs.dev)
		f.notifyLocked()
	}
	return file, nil
}

// fifoFile is an open FIFO.
type fifoFile struct {
	vfs.FileDescriptionDefaultImpl
	inode       *inode
	f           *fifo
	read, write bool
	// fd is the description, for its O_NONBLOCK flag; set by SetFD.
	fd *vfs.FileDescription
}

// IsStream implements vfs.StreamFile.
func (*fifoFile) IsStream() {}

func (ff *fifoFile) Release(ctx vfs.Context) {
	f := ff.f
	f.mu.Lock()
	if ff.read {
		f.readers--
	}
	if ff.write {
		f.writers--
	}
	f.ensurePipeLocked(ctx, ff.inode.fs.dev)
	f.notifyLocked()
	f.mu.Unlock()
}

func (ff *fifoFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return ff.inode.Stat(ctx) }

// end returns a reference to the pipe's read or write end.
func (ff *fifoFile) end(read bool) *vfs.FileDescription {
	e := ff.f.w
	if read {
		e = ff.f.r
	}
	if e != nil {
		e.IncRef()
	}
	return e
}

// fifoPoll is how often a blocked FIFO transfer re-polls its pipe.
const fifoPoll = 2 * time.Millisecond

func (ff *fifoFile) nonblocking(flags uint32) bool { return flags&unix.O_NONBLOCK != 0 }

func (ff *fifoFile) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	f := ff.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		e := ff.end(true)
		f.mu.Unlock()
		n, err := e.Read(ctx, dst)
		e.DecRef(ctx)
		f.mu.Lock()
		if err != unix.EAGAIN || ff.nonblockNow() {
			return n, err
		}
		if err := f.wait(ctx, fifoPoll); err != nil {
			return 0, err
		}
	}
}

func (ff *fifoFile) PWrite(ctx vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	f := ff.f
	f.mu.Lock()
	defer f.mu.Unlock()
	done := 0
	for done < len(src) || len(src) == 0 {
		e := ff.end(false)
		f.mu.Unlock()
		n, err := e.Write(ctx, src[done:])
		e.DecRef(ctx)
		f.mu.Lock()
		done += n
		if len(src) == 0 || err != nil && err != unix.EAGAIN {
			if done > 0 {
				return done, off, nil
			}
			return 0, off, err
		}
		if err == unix.EAGAIN {
			if ff.nonblockNow() {
				if done > 0 {
					return done, off, nil
				}
				return 0, off, unix.EAGAIN
			}
			if err := f.wait(ctx, fifoPoll); err != nil {
				if done > 0 {
					return done, off, nil
				}
				return 0, off, err
			}
		}
	}
	return done, off, nil
}

// nonblockNow reports whether the description is in O_NONBLOCK mode.
func (ff *fifoFile) nonblockNow() bool {
	return ff.fd != nil && ff.nonblocking(ff.fd.StatusFlags())
}

// SetFD implements vfs.DescriptionAware: the FIFO learns its description.
func (ff *fifoFile) SetFD(fd *vfs.FileDescription) { ff.fd = fd }

func (ff *fifoFile) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	ff.f.mu.Lock()
	e := ff.end(true)
	ff.f.mu.Unlock()
	if e == nil {
		return 0, unix.ENOTTY
	}
	defer e.DecRef(ctx)
	return e.Ioctl(ctx, cmd, arg)
}

// openDevice opens a character device node: the memory devices (null,
// zero, full, random, urandom); other numbers have no driver (ENXIO).
func openDevice(i *inode, flags uint32) (vfs.FileDescriptionImpl, error) {
	switch i.rdev {
	case unix.Mkdev(1, 3), unix.Mkdev(1, 5), unix.Mkdev(1, 7), unix.Mkdev(1, 8), unix.Mkdev(1, 9):
		return &memDevice{inode: i}, nil
	}
	return nil, unix.ENXIO
}

// PermittedDevice reports whether mknod may create a device node with
// this number: the memory devices and the tty devices, as a container
// runtime's default device list.
func PermittedDevice(mode uint32, rdev uint64) bool {
	if mode&unix.S_IFMT != unix.S_IFCHR {
		return false
	}
	switch rdev {
	case unix.Mkdev(1, 3), unix.Mkdev(1, 5), unix.Mkdev(1, 7), unix.Mkdev(1, 8), unix.Mkdev(1, 9),
		unix.Mkdev(5, 0), unix.Mkdev(5, 2):
		return true
	}
	return false
}

// memDevice is an open memory device node.
type memDevice struct {
	vfs.FileDescriptionDefaultImpl
	inode *inode
}

func (d *memDevice) Release(vfs.Context) {}

func (d *memDevice) Stat(ctx vfs.Context) (vfs.Stat, error) { return d.inode.Stat(ctx) }

func (d *memDevice) PRead(_ vfs.Context, dst []byte, _ int64) (int, error) {
	switch d.inode.rdev {
	case unix.Mkdev(1, 3):
		return 0, nil
	case unix.Mkdev(1, 8), unix.Mkdev(1, 9):
		return rand.Read(dst)
	}
	clear(dst)
	return len(dst), nil
}

func (d *memDevice) PWrite(_ vfs.Context, src []byte, off int64, _ bool) (int, int64, error) {
	if d.inode.rdev == unix.Mkdev(1, 7) && len(src) > 0 {
		return 0, off, unix.ENOSPC
	}
	return len(src), off, nil
}

func (d *memDevice) Seek(vfs.Context, int64, int64, int) (int64, error) { return 0, nil }
