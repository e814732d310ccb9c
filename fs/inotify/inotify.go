// Package inotify implements inotify(7) instances: the file that
// inotify_init1 returns, its watches (one per watched inode, numbered from
// 1 per instance) and its queue of struct inotify_event records, with
// Linux's coalescing of identical consecutive events, IN_Q_OVERFLOW at the
// queue limit, FIONREAD and readiness for poll/select/epoll.
//
// The VFS finds the watches of an inode and reports events to them
// (fs/vfs/fsnotify.go says which operation reports what); this package
// filters them by each watch's mask and queues them.
//
// Lock order: the VFS's locks (directory locks, renameMu) come before
// Instance.mu, which comes before the instance's WaitQueue. An Instance
// never calls into the VFS with mu held.
package inotify

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Limits and sizes, as Linux.
const (
	// DefaultMaxQueuedEvents is /proc/sys/fs/inotify/max_queued_events:
	// past this many queued events, one IN_Q_OVERFLOW is queued and
	// further events are dropped until the queue drains.
	DefaultMaxQueuedEvents = 16384
	// EventSize is sizeof(struct inotify_event); names are NUL padded to a
	// multiple of it.
	EventSize = 16
)

// inotify_init1 flags.
const (
	Cloexec  = unix.IN_CLOEXEC
	Nonblock = unix.IN_NONBLOCK
)

// The bits inotify_add_watch accepts (Linux's ALL_INOTIFY_BITS).
const (
	// AllBits are the bits a mask may hold; any other is EINVAL.
	AllBits = unix.IN_ALL_EVENTS | unix.IN_UNMOUNT | unix.IN_Q_OVERFLOW | unix.IN_IGNORED |
		unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK | unix.IN_MASK_ADD |
		unix.IN_MASK_CREATE | unix.IN_ISDIR | unix.IN_ONESHOT
	// keptBits are what a watch remembers of the mask it was given.
	keptBits = unix.IN_ALL_EVENTS | unix.IN_EXCL_UNLINK | unix.IN_ONESHOT
)

// event is one queued struct inotify_event.
type event struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

// size is the event's length in a read buffer: the header and the name
// with its NUL, padded to a multiple of EventSize.
func (e *event) size() int {
	if e.name == "" {
		return EventSize
	}
	return EventSize + (len(e.name)+EventSize)/EventSize*EventSize
}

// encode writes the event to b, which has room for e.size() bytes.
func (e *event) encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(e.wd))
	binary.LittleEndian.PutUint32(b[4:], e.mask)
	binary.LittleEndian.PutUint32(b[8:], e.cookie)
	n := e.size()
	binary.LittleEndian.PutUint32(b[12:], uint32(n-EventSize))
	copy(b[EventSize:], e.name)
	clear(b[EventSize+len(e.name) : n])
}

// Instance is an inotify file: its watches and its event queue.
type Instance struct {
	vfs.FileDescriptionDefaultImpl
	vfs.WaitQueue

	fd *vfs.FileDescription
	// tree is the VFS whose inodes the instance watches.
	tree *vfs.VirtualFilesystem
	ino  uint64
	// maxEvents is the queue limit.
	maxEvents int

	// mu protects the fields below and every watch's removed field.
	mu sync.Mutex
	// queue[head:] are the queued events, oldest first.
	queue []event
	head  int
	// bytes is what reading the whole queue would return (FIONREAD).
	bytes int
	// overflowed is set while an IN_Q_OVERFLOW event is queued.
	overflowed bool
	// lastWD is the last watch descriptor handed out; the next one is
	// the first free one above it (wrapping), as Linux's cyclic idr.
	lastWD  int32
	watches map[int32]*watch
	byInode map[vfs.Inode]*watch
	// released is set when the file is closed: no more watches.
	released bool
}

// watch is one watch of an Instance: the vfs.Watcher registered on an
// inode.
type watch struct {
	in  *Instance
	wd  int32
	ino vfs.Inode
	// mask holds keptBits; changed under in.mu, read atomically by
	// NotifyWatch.
	mask atomic.Uint32
	// removed is set (under in.mu) once the watch left the instance; it
	// then ignores events until the VFS forgets it.
	removed bool
}

// New returns an inotify file watching inodes of tree, with the flags
// Nonblock (the caller handles Cloexec) and the given queue limit.
func New(tree *vfs.VirtualFilesystem, flags uint32, maxEvents int) *vfs.FileDescription {
	in := &Instance{
		tree:      tree,
		ino:       tree.NextAnonIno(),
		maxEvents: maxEvents,
		watches:   make(map[int32]*watch),
		byInode:   make(map[vfs.Inode]*watch),
	}
	in.fd = vfs.NewFileDescription(in, vfs.VirtualDentry{}, unix.O_RDONLY|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	return in.fd
}

// FromFile returns the Instance behind f, or nil if f is not an inotify
// file.
func FromFile(f *vfs.FileDescription) *Instance {
	in, _ := f.Impl().(*Instance)
	return in
}

// AddWatch implements inotify_add_watch(2) on vd, which the caller
// resolved and checked for read permission; mask has passed the syscall's
// checks. It returns the watch descriptor: the inode's existing one
// (whose mask is replaced, or extended with IN_MASK_ADD; EEXIST with
// IN_MASK_CREATE) or a new one.
func (in *Instance) AddWatch(ctx vfs.Context, vd vfs.VirtualDentry, mask uint32) (int32, error) {
	ino := vd.Dentry().Inode()
	kept := mask & keptBits
	in.mu.Lock()
	if in.released {
		in.mu.Unlock()
		return 0, unix.EBADF
	}
	if w := in.byInode[ino]; w != nil {
		defer in.mu.Unlock()
		if mask&unix.IN_MASK_CREATE != 0 {
			return 0, unix.EEXIST
		}
		if mask&unix.IN_MASK_ADD != 0 {
			kept |= w.mask.Load()
		}
		w.mask.Store(kept)
		return w.wd, nil
	}
	wd, ok := in.allocWDLocked()
	if !ok {
		in.mu.Unlock()
		return 0, unix.ENOSPC
	}
	w := &watch{in: in, wd: wd, ino: ino}
	w.mask.Store(kept)
	in.watches[wd] = w
	in.byInode[ino] = w
	in.mu.Unlock()

	// Register outside mu (the VFS reports events with its locks held);
	// an rm_watch or close that came in between left w removed.
	vfs.AddWatch(ctx, vd, w)
	in.mu.Lock()
	removed := w.removed
	in.mu.Unlock()
	if removed {
		in.tree.RemoveWatch(ino, w)
	}
	return wd, nil
}

// allocWDLocked returns the first free descriptor after lastWD.
func (in *Instance) allocWDLocked() (int32, bool) {
	if len(in.watches) >= math.MaxInt32-1 {
		return 0, false
	}
	wd := in.lastWD
	for {
		if wd == math.MaxInt32 {
			wd = 1
		} else {
			wd++
		}
		if in.watches[wd] == nil {
			in.lastWD = wd
			return wd, true
		}
	}
}

// RemoveWatch implements inotify_rm_watch(2): the watch goes, with an
// IN_IGNORED event (EINVAL if wd is not a watch of the instance).
func (in *Instance) RemoveWatch(wd int32) error {
	in.mu.Lock()
	w := in.watches[wd]
	if w == nil {
		in.mu.Unlock()
		return unix.EINVAL
	}
	in.dropLocked(w)
	in.mu.Unlock()
	in.Notify(vfs.ReadableEvents)
	in.tree.RemoveWatch(w.ino, w)
	return nil
}

// dropLocked takes w out of the instance and queues its IN_IGNORED.
func (in *Instance) dropLocked(w *watch) {
	w.removed = true
	delete(in.watches, w.wd)
	delete(in.byInode, w.ino)
	in.queueLocked(event{wd: w.wd, mask: unix.IN_IGNORED})
}

// NotifyWatch implements vfs.Watcher.
func (w *watch) NotifyWatch(ev vfs.WatchEvent) {
	in := w.in
	mask := ev.Mask
	if mask != unix.IN_IGNORED {
		m := w.mask.Load()
		if mask&(m|unix.IN_UNMOUNT) == 0 || ev.Unlinked && m&unix.IN_EXCL_UNLINK != 0 {
			return
		}
		// Linux never reported IN_ISDIR with these two, and keeps it so.
		if mask&(unix.IN_MOVE_SELF|unix.IN_DELETE_SELF) != 0 {
			mask &^= unix.IN_ISDIR
		}
		in.mu.Lock()
		if w.removed {
			in.mu.Unlock()
			return
		}
		in.queueLocked(event{wd: w.wd, mask: mask, cookie: ev.Cookie, name: ev.Name})
		oneshot := m&unix.IN_ONESHOT != 0
		if oneshot {
			in.dropLocked(w)
		}
		in.mu.Unlock()
		in.Notify(vfs.ReadableEvents)
		if oneshot {
			in.tree.RemoveWatch(w.ino, w)
		}
		return
	}
	// The VFS dropped the watch (inode deleted or unmounted).
	in.mu.Lock()
	if w.removed {
		in.mu.Unlock()
		return
	}
	in.dropLocked(w)
	in.mu.Unlock()
	in.Notify(vfs.ReadableEvents)
}

// queueLocked appends e, merging it with an identical last event and
// replacing it with IN_Q_OVERFLOW at the limit, as Linux's
// fsnotify_insert_event.
func (in *Instance) queueLocked(e event) {
	if in.released {
		return
	}
	n := len(in.queue) - in.head
	if n >= in.maxEvents {
		if in.overflowed {
			return
		}
		in.overflowed = true
		e = event{wd: -1, mask: unix.IN_Q_OVERFLOW}
	} else if n > 0 {
		last := &in.queue[len(in.queue)-1]
		if last.mask == e.mask && last.wd == e.wd && last.name == e.name && last.mask&unix.IN_IGNORED == 0 {
			return
		}
	}
	if in.head > 0 && in.head == len(in.queue) {
		in.queue = in.queue[:0]
		in.head = 0
	}
	in.queue = append(in.queue, e)
	in.bytes += e.size()
}

// popLocked removes the oldest event.
func (in *Instance) popLocked() {
	e := &in.queue[in.head]
	in.bytes -= e.size()
	if e.mask == unix.IN_Q_OVERFLOW && e.wd == -1 {
		in.overflowed = false
	}
	*e = event{}
	in.head++
	if in.head == len(in.queue) {
		in.queue = in.queue[:0]
		in.head = 0
	} else if in.head >= 64 && in.head*2 >= len(in.queue) {
		k := copy(in.queue, in.queue[in.head:])
		clear(in.queue[k:])
		in.queue = in.queue[:k]
		in.head = 0
	}
}

// Release implements vfs.FileDescriptionImpl: every watch goes, silently.
func (in *Instance) Release(vfs.Context) {
	in.mu.Lock()
	in.released = true
	ws := make([]*watch, 0, len(in.watches))
	for _, w := range in.watches {
		w.removed = true
		ws = append(ws, w)
	}
	in.watches, in.byInode = nil, nil
	in.queue, in.head, in.bytes = nil, 0, 0
	in.mu.Unlock()
	for _, w := range ws {
		in.tree.RemoveWatch(w.ino, w)
	}
}

// Stat implements vfs.FileDescriptionImpl: an anonymous inode.
func (in *Instance) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: 0o600, Nlink: 1, Ino: in.ino, Blksize: 4096}, nil
}

// PRead implements read(2): as many whole events as fit in dst (EINVAL if
// not even the first does), blocking or EAGAIN while the queue is empty.
func (in *Instance) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	in.mu.Lock()
	for in.head == len(in.queue) {
		if in.fd.StatusFlags()&unix.O_NONBLOCK != 0 {
			in.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := in.WaitLocked(ctx, vfs.ReadableEvents, &in.mu); err != nil {
			in.mu.Unlock()
			return 0, err
		}
	}
	n := 0
	for in.head < len(in.queue) {
		e := &in.queue[in.head]
		sz := e.size()
		if sz > len(dst)-n {
			break
		}
		e.encode(dst[n:])
		n += sz
		in.popLocked()
	}
	in.mu.Unlock()
	if n == 0 {
		return 0, unix.EINVAL
	}
	return n, nil
}

// Readiness implements vfs.Waitable: readable while events are queued.
func (in *Instance) Readiness(mask uint32) uint32 {
	in.mu.Lock()
	empty := in.head == len(in.queue)
	in.mu.Unlock()
	if empty {
		return 0
	}
	return mask & vfs.ReadableEvents
}

// fionread is FIONREAD on amd64.
const fionread = 0x541b

// Ioctl implements FIONREAD: the bytes a read of the whole queue returns.
func (in *Instance) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	if cmd != fionread {
		return 0, unix.ENOTTY
	}
	in.mu.Lock()
	n := in.bytes
	in.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	_, err := ctx.CopyOut(arg, b[:])
	return 0, err
}

// AsyncFile implements vfs.AsyncFile: an instance sends SIGIO when events
// are queued (inotify_fasync).
func (*Instance) AsyncFile() {}
