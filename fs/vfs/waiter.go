package vfs

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Readiness events: the poll(2) bits, which epoll's EPOLL* event bits equal.
const (
	EventIn     = 0x1
	EventPri    = 0x2
	EventOut    = 0x4
	EventErr    = 0x8
	EventHUp    = 0x10
	EventNVal   = 0x20
	EventRdNorm = 0x40
	EventRdBand = 0x80
	EventWrNorm = 0x100
	EventWrBand = 0x200
	EventRdHUp  = 0x2000

	// ReadableEvents and WritableEvents are what "has data" and "has
	// room" mean to poll.
	ReadableEvents = EventIn | EventRdNorm
	WritableEvents = EventOut | EventWrNorm
	// AlwaysReady is the readiness of a file that cannot block (a regular
	// file, /dev/null): Linux's DEFAULT_POLLMASK.
	AlwaysReady = ReadableEvents | WritableEvents
	// AlwaysReported are reported by poll and epoll whether or not the
	// caller asked for them.
	AlwaysReported = EventErr | EventHUp
)

// Waitable is implemented by a FileDescriptionImpl whose readiness changes
// (pipes, event files, terminals, sockets). Files that do not implement it
// are always readable and writable, like Linux's regular files, and epoll
// refuses them with EPERM.
//
// An implementation embeds a WaitQueue (which provides EventRegister and
// EventUnregister) and calls its Notify whenever readiness may have
// changed.
type Waitable interface {
	// Readiness returns the subset of mask that holds now. It may take
	// the impl's own locks; callers hold no VFS lock that a Notify could
	// need.
	Readiness(mask uint32) uint32
	// EventRegister adds e to the file's wait queue: e is notified of
	// every later change to an event in e.Mask. Check Readiness after
	// registering, so a change between the check and the registration is
	// not lost.
	EventRegister(e *WaitEntry)
	// EventUnregister removes e; e is not notified after it returns.
	EventUnregister(e *WaitEntry)
}

// Waiter is a party that sleeps until one of the queues it registered on
// notifies it. Its channel has room for one wakeup, so a notification that
// arrives before the sleeper blocks is not lost.
type Waiter struct {
	ch chan struct{}
	// single is the entry of SingleEntry.
	single WaitEntry
}

// NewWaiter returns a waiter with an empty wakeup channel.
func NewWaiter() *Waiter { return &Waiter{ch: make(chan struct{}, 1)} }

// C returns the channel that receives a value after a notification.
func (w *Waiter) C() <-chan struct{} { return w.ch }

// SingleEntry returns the waiter's own entry, initialised to wake w for
// mask: a waiter that waits on one queue at a time (a blocking read) needs
// no entry of its own.
func (w *Waiter) SingleEntry(mask uint32) *WaitEntry {
	w.single.Init(w, mask)
	return &w.single
}

// Wake notifies the waiter (without blocking).
func (w *Waiter) Wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Clear drops a pending wakeup.
func (w *Waiter) Clear() {
	select {
	case <-w.ch:
	default:
	}
}

var waiterPool = sync.Pool{New: func() any { return NewWaiter() }}

// GetWaiter returns a waiter from a pool: blocking paths use it so that
// blocking does not allocate in the steady state. Return it with PutWaiter
// after unregistering it everywhere.
func GetWaiter() *Waiter { return waiterPool.Get().(*Waiter) }

// PutWaiter returns w to the pool. w must be registered nowhere.
func PutWaiter(w *Waiter) {
	w.Clear()
	waiterPool.Put(w)
}

// WaitCallback is notified synchronously by WaitQueue.Notify, instead of a
// Waiter (epoll uses it). It runs with the queue's lock held, so it must
// not block, and it must not register or unregister on that queue.
type WaitCallback interface {
	NotifyEvent(e *WaitEntry, ready uint32)
}

// WaitEntry is one registration of a waiter (or callback) on one queue, for
// the events in Mask. The owner sets the fields with Init/InitCallback
// before registering; Mask may only change while unregistered.
type WaitEntry struct {
	// Mask is the events the entry wants to hear about.
	Mask uint32
	// Exclusive entries (EPOLLEXCLUSIVE) are woken one per notification:
	// the first matching exclusive entry only, with every non-exclusive
	// one.
	Exclusive bool

	waiter *Waiter
	cb     WaitCallback

	// queue, prev and next are protected by queue.mu.
	queue      *WaitQueue
	prev, next *WaitEntry
}

// Init makes e wake w for the events in mask.
func (e *WaitEntry) Init(w *Waiter, mask uint32) {
	e.waiter, e.cb, e.Mask = w, nil, mask
}

// InitCallback makes e call cb for the events in mask.
func (e *WaitEntry) InitCallback(cb WaitCallback, mask uint32) {
	e.waiter, e.cb, e.Mask = nil, cb, mask
}

// WaitQueue is the list of entries waiting on one object. The zero value
// is an empty queue. Notify costs one atomic load when nobody waits, so
// read/write paths may call it unconditionally.
type WaitQueue struct {
	// n counts registered entries; Notify skips the lock when it is 0.
	n atomic.Int32

	// mu protects the list and the entries' links.
	mu         sync.Mutex
	head, tail *WaitEntry
}

// EventRegister implements Waitable.EventRegister. e must not be
// registered anywhere.
func (q *WaitQueue) EventRegister(e *WaitEntry) {
	q.mu.Lock()
	e.queue = q
	e.next = nil
	e.prev = q.tail
	if q.tail != nil {
		q.tail.next = e
	} else {
		q.head = e
	}
	q.tail = e
	q.n.Add(1)
	q.mu.Unlock()
}

// EventUnregister implements Waitable.EventUnregister. Unregistering an
// entry that is not on q does nothing.
func (q *WaitQueue) EventUnregister(e *WaitEntry) {
	q.mu.Lock()
	if e.queue == q {
		if e.prev != nil {
			e.prev.next = e.next
		} else {
			q.head = e.next
		}
		if e.next != nil {
			e.next.prev = e.prev
		} else {
			q.tail = e.prev
		}
		e.queue, e.prev, e.next = nil, nil, nil
		q.n.Add(-1)
	}
	q.mu.Unlock()
}

// HasWaiters reports whether any entry is registered.
func (q *WaitQueue) HasWaiters() bool { return q.n.Load() != 0 }

// Notify wakes the entries interested in any event of mask. It may be
// called with the owner's locks held (they come before WaitQueue.mu in
// the lock order).
func (q *WaitQueue) Notify(mask uint32) {
	if q.n.Load() == 0 {
		return
	}
	q.mu.Lock()
	exclusiveDone := false
	for e := q.head; e != nil; e = e.next {
		if e.Mask&mask == 0 {
			continue
		}
		if e.Exclusive {
			if exclusiveDone {
				continue
			}
			exclusiveDone = true
		}
		if e.cb != nil {
			e.cb.NotifyEvent(e, mask&e.Mask)
		} else {
			e.waiter.Wake()
		}
	}
	q.mu.Unlock()
}

// Blocker is implemented by contexts (kernel tasks) that know how to
// sleep: they wake early, with ErrInterrupted, only when a signal is
// deliverable or the task must stop or die, and check that before
// sleeping.
type Blocker interface {
	Block(ch <-chan struct{}) error
	BlockTimeout(ch <-chan struct{}, d time.Duration) error
}

// Interruptible is implemented by contexts whose blocking can be ended
// early by a channel; Block uses it for contexts that are not Blockers.
type Interruptible interface {
	InterruptChan() <-chan struct{}
}

// ErrInterrupted is ERESTARTSYS: a blocking file operation ended by an
// interruption. The kernel restarts the syscall or fails it with EINTR.
const ErrInterrupted = unix.Errno(512)

// Block waits for w to be woken, or for ctx to be interrupted
// (ErrInterrupted). A context that can neither block nor be interrupted
// waits for w only.
func Block(ctx Context, w *Waiter) error {
	if b, ok := ctx.(Blocker); ok {
		return b.Block(w.ch)
	}
	if in, ok := ctx.(Interruptible); ok {
		select {
		case <-w.ch:
			return nil
		case <-in.InterruptChan():
			return ErrInterrupted
		}
	}
	<-w.ch
	return nil
}

// BlockDeadline is Block with an absolute deadline on the monotonic clock
// of package time: it returns ETIMEDOUT when the deadline passes.
func BlockDeadline(ctx Context, w *Waiter, deadline time.Time) error {
	d := time.Until(deadline)
	if d <= 0 {
		select {
		case <-w.ch:
			return nil
		default:
			return unix.ETIMEDOUT
		}
	}
	if b, ok := ctx.(Blocker); ok {
		return b.BlockTimeout(w.ch, d)
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	var intr <-chan struct{}
	if in, ok := ctx.(Interruptible); ok {
		intr = in.InterruptChan()
	}
	select {
	case <-w.ch:
		return nil
	case <-intr:
		return ErrInterrupted
	case <-tm.C:
		return unix.ETIMEDOUT
	}
}

// ReleaseHook is told when the last reference to a file description is
// dropped, before the impl is released. epoll uses it to forget the
// registrations of a file that is gone.
type ReleaseHook interface {
	FileReleased(fd *FileDescription)
}

// Readiness returns the events of mask that hold for the file now. Files
// that do not implement Waitable are always readable and writable.
func (fd *FileDescription) Readiness(mask uint32) uint32 {
	if w, ok := fd.impl.(Waitable); ok {
		return w.Readiness(mask)
	}
	return mask & AlwaysReady
}

// Waitable returns the file's readiness interface, or nil for a file whose
// readiness never changes (epoll gives EPERM for those).
func (fd *FileDescription) Waitable() Waitable {
	if fd.opath {
		return nil
	}
	w, _ := fd.impl.(Waitable)
	return w
}

// EventRegister registers e with the file if it is Waitable and reports
// whether it did.
func (fd *FileDescription) EventRegister(e *WaitEntry) bool {
	if w, ok := fd.impl.(Waitable); ok {
		w.EventRegister(e)
		return true
	}
	return false
}

// EventUnregister undoes EventRegister.
func (fd *FileDescription) EventUnregister(e *WaitEntry) {
	if w, ok := fd.impl.(Waitable); ok {
		w.EventUnregister(e)
	}
}

// TryIncRef takes a reference unless the file is already being released.
// Holders of a pointer without a reference (epoll's registrations) use it.
func (fd *FileDescription) TryIncRef() bool {
	for {
		n := fd.refs.Load()
		if n <= 0 {
			return false
		}
		if fd.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// AddReleaseHook asks for h.FileReleased to be called when the file is
// released. Adding the same hook twice adds it once.
func (fd *FileDescription) AddReleaseHook(h ReleaseHook) {
	fd.hooksMu.Lock()
	if fd.hooks == nil {
		fd.hooks = make(map[ReleaseHook]struct{})
	}
	fd.hooks[h] = struct{}{}
	fd.hooksMu.Unlock()
}

// RemoveReleaseHook undoes AddReleaseHook.
func (fd *FileDescription) RemoveReleaseHook(h ReleaseHook) {
	fd.hooksMu.Lock()
	delete(fd.hooks, h)
	fd.hooksMu.Unlock()
}

// runReleaseHooks calls the release hooks, without hooksMu held.
func (fd *FileDescription) runReleaseHooks() {
	fd.hooksMu.Lock()
	hooks := fd.hooks
	fd.hooks = nil
	fd.hooksMu.Unlock()
	for h := range hooks {
		h.FileReleased(fd)
	}
}

// WaitLocked blocks until q notifies an event of mask or ctx is
// interrupted (ErrInterrupted). The caller holds mu, which protects the
// condition it waits for: mu is released while blocking and held again on
// return, and the waiter is registered before mu is released, so a
// notification between the caller's check and the sleep is not lost. The
// caller rechecks its condition afterwards.
func (q *WaitQueue) WaitLocked(ctx Context, mask uint32, mu sync.Locker) error {
	return q.WaitLockedDeadline(ctx, mask, mu, time.Time{})
}

// WaitLockedDeadline is WaitLocked that also returns ETIMEDOUT when
// deadline passes; the zero time means no deadline.
func (q *WaitQueue) WaitLockedDeadline(ctx Context, mask uint32, mu sync.Locker, deadline time.Time) error {
	w := GetWaiter()
	e := w.SingleEntry(mask)
	q.EventRegister(e)
	mu.Unlock()
	var err error
	if deadline.IsZero() {
		err = Block(ctx, w)
	} else {
		err = BlockDeadline(ctx, w, deadline)
	}
	q.EventUnregister(e)
	PutWaiter(w)
	mu.Lock()
	return err
}
