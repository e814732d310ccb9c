// Package epoll implements epoll instances: an interest list of (file,
// descriptor) registrations and a ready list that the files' wait queues
// feed through callbacks, with level- and edge-triggered reporting,
// EPOLLONESHOT, EPOLLEXCLUSIVE and nesting (an epoll inside another).
//
// A registration does not hold a reference on its file: like Linux, the
// file's last close removes it from every epoll (a vfs.ReleaseHook).
//
// Lock order (see also package vfs):
//
//	EventPoll.nest (epoll_ctl adding an epoll to an epoll)
//	  EventPoll.interestMu
//	    file locks, then the file's vfs.WaitQueue.mu
//	      EventPoll.readyMu
//	        the EventPoll's own vfs.WaitQueue.mu (watchers of this epoll)
//
// Readiness of a file is checked with no epoll lock held; an entry being
// checked is marked busy so that its file's release waits for the check.
package epoll

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// Event flags beyond the poll bits.
const (
	EPOLLET        = 1 << 31
	EPOLLONESHOT   = 1 << 30
	EPOLLWAKEUP    = 1 << 29
	EPOLLEXCLUSIVE = 1 << 28

	flagBits = EPOLLET | EPOLLONESHOT | EPOLLWAKEUP | EPOLLEXCLUSIVE
	// exclusiveOK are the bits allowed with EPOLLEXCLUSIVE.
	exclusiveOK = vfs.EventIn | vfs.EventOut | vfs.EventErr | vfs.EventHUp | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
	// maxNests is Linux's EP_MAX_NESTS.
	maxNests = 4
)

// Event is one reported event: struct epoll_event's contents.
type Event struct {
	Events uint32
	Data   uint64
}

// entry states with respect to the ready lists.
const (
	stateIdle  = iota // on no list
	stateReady        // on the EventPoll's ready list
	stateLocal        // on a collect call's private list
)

type key struct {
	file *vfs.FileDescription
	fd   int32
}

// entry is one registration (epitem).
type entry struct {
	ep   *EventPoll
	key  key
	wait vfs.WaitEntry

	// The fields below are protected by ep.readyMu.
	events   uint32 // requested events and flags
	data     uint64
	disabled bool // EPOLLONESHOT fired: no events until EPOLL_CTL_MOD
	removed  bool
	state    int
	busy     int // collect calls checking the file right now
	prev     *entry
	next     *entry
}

// EventPoll is an epoll instance's file.
type EventPoll struct {
	vfs.FileDescriptionDefaultImpl
	// WaitQueue holds the watchers of this epoll (epoll_wait callers,
	// poll, an outer epoll).
	vfs.WaitQueue
	ino uint64
	// nest serialises adding epolls to epolls in one tree, so the loop
	// check sees a stable graph (Linux's epnested_mutex); it is the
	// tree's (vfs.VirtualFilesystem.EpollMutex).
	nest *sync.Mutex

	// interestMu serialises epoll_ctl and release and protects interest.
	interestMu sync.Mutex
	interest   map[key]*entry

	// readyMu protects the ready list and the entries' mutable fields;
	// busyDone (on readyMu) is broadcast when an entry stops being busy.
	readyMu              sync.Mutex
	busyDone             sync.Cond
	readyHead, readyTail *entry
}

// New returns a new epoll description in tree (its inode number and
// nesting lock come from there); the caller sets O_CLOEXEC on the
// descriptor.
func New(tree *vfs.VirtualFilesystem) *vfs.FileDescription {
	ep := &EventPoll{ino: tree.NextAnonIno(), nest: tree.EpollMutex(), interest: make(map[key]*entry)}
	ep.busyDone.L = &ep.readyMu
	return vfs.NewFileDescription(ep, vfs.VirtualDentry{}, unix.O_RDWR, vfs.FileDescriptionOptions{})
}

// Stat implements vfs.FileDescriptionImpl: an anonymous inode.
func (ep *EventPoll) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: 0o600, Nlink: 1, Ino: ep.ino, Blksize: 4096}, nil
}

// Release implements vfs.FileDescriptionImpl: every registration goes.
func (ep *EventPoll) Release(vfs.Context) {
	ep.interestMu.Lock()
	for k, e := range ep.interest {
		ep.removeLocked(e)
		k.file.RemoveReleaseHook(e)
	}
	ep.interestMu.Unlock()
}

// removeLocked takes e off its file's queue and the ready list and waits
// until no collect is checking it. ep.interestMu is held.
func (ep *EventPoll) removeLocked(e *entry) {
	delete(ep.interest, e.key)
	e.key.file.EventUnregister(&e.wait)
	ep.readyMu.Lock()
	e.removed = true
	if e.state == stateReady {
		ep.unlinkLocked(e)
	}
	for e.busy > 0 {
		ep.busyDone.Wait()
	}
	ep.readyMu.Unlock()
}

// FileReleased implements vfs.ReleaseHook: the registered file's last
// reference is gone.
func (e *entry) FileReleased(*vfs.FileDescription) {
	ep := e.ep
	ep.interestMu.Lock()
	if ep.interest[e.key] == e {
		ep.removeLocked(e)
	}
	ep.interestMu.Unlock()
}

// NotifyEvent implements vfs.WaitCallback: the file may have become ready.
func (e *entry) NotifyEvent(_ *vfs.WaitEntry, _ uint32) {
	ep := e.ep
	ep.readyMu.Lock()
	if e.removed || e.disabled || e.state != stateIdle {
		ep.readyMu.Unlock()
		return
	}
	ep.pushLocked(e)
	ep.readyMu.Unlock()
	ep.Notify(vfs.ReadableEvents)
}

// pushLocked appends e to the ready list. ep.readyMu is held.
func (ep *EventPoll) pushLocked(e *entry) {
	e.state = stateReady
	e.next = nil
	e.prev = ep.readyTail
	if ep.readyTail != nil {
		ep.readyTail.next = e
	} else {
		ep.readyHead = e
	}
	ep.readyTail = e
}

// unlinkLocked removes e from the ready list. ep.readyMu is held.
func (ep *EventPoll) unlinkLocked(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		ep.readyHead = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		ep.readyTail = e.prev
	}
	e.prev, e.next = nil, nil
	e.state = stateIdle
}

// mask is what e asks of its file. ep.readyMu is held.
func (e *entry) mask() uint32 {
	return e.events&^flagBits | vfs.AlwaysReported
}

// collect checks the ready list and fills dst with events, as
// epoll_wait: level-triggered entries that are still ready go back on the
// list, edge-triggered ones wait for the next notification, one-shot ones
// are disabled. With peek it stops at the first ready entry and consumes
// nothing (readiness of the epoll itself). It returns the events found.
func (ep *EventPoll) collect(dst []Event, peek bool) int {
	ep.readyMu.Lock()
	head := ep.readyHead
	ep.readyHead, ep.readyTail = nil, nil
	for e := head; e != nil; e = e.next {
		e.state = stateLocal
	}
	n := 0
	for head != nil && n < len(dst) && !(peek && n > 0) {
		e := head
		head = e.next
		if head != nil {
			head.prev = nil
		}
		e.prev, e.next = nil, nil
		e.state = stateIdle
		if e.removed || e.disabled {
			continue
		}
		mask := e.mask()
		e.busy++
		ep.readyMu.Unlock()
		r := e.key.file.Readiness(mask) & mask
		ep.readyMu.Lock()
		e.busy--
		if e.removed {
			if e.busy == 0 {
				ep.busyDone.Broadcast()
			}
			continue
		}
		// A concurrent EPOLL_CTL_MOD may have changed the mask.
		r &= e.mask()
		if r == 0 || e.disabled {
			continue
		}
		if peek {
			if e.state == stateIdle {
				ep.pushLocked(e)
			}
			n++
			continue
		}
		dst[n] = Event{Events: r, Data: e.data}
		n++
		switch {
		case e.events&EPOLLONESHOT != 0:
			e.disabled = true
		case e.events&EPOLLET == 0:
			if e.state == stateIdle {
				ep.pushLocked(e)
			}
		}
	}
	// Entries not looked at go back to the front, in order.
	if head != nil {
		tail := head
		for e := head; e != nil; e = e.next {
			e.state = stateReady
			tail = e
		}
		tail.next = ep.readyHead
		if ep.readyHead != nil {
			ep.readyHead.prev = tail
		} else {
			ep.readyTail = tail
		}
		ep.readyHead = head
	}
	ep.readyMu.Unlock()
	return n
}

// Readiness implements vfs.Waitable: an epoll is readable when one of its
// ready entries really is ready.
func (ep *EventPoll) Readiness(mask uint32) uint32 {
	var one [1]Event
	if ep.collect(one[:], true) > 0 {
		return mask & vfs.ReadableEvents
	}
	return 0
}

// Wait implements epoll_wait: it fills dst with ready events, waiting
// until there is one, the deadline passes (0 events), or ctx is
// interrupted (vfs.ErrInterrupted). A zero deadline waits forever;
// immediate does not wait.
func (ep *EventPoll) Wait(ctx vfs.Context, dst []Event, deadline time.Time, immediate bool) (int, error) {
	if n := ep.collect(dst, false); n > 0 || immediate {
		return n, nil
	}
	w := vfs.GetWaiter()
	we := w.SingleEntry(vfs.ReadableEvents)
	ep.EventRegister(we)
	defer func() {
		ep.EventUnregister(we)
		vfs.PutWaiter(w)
	}()
	for {
		if n := ep.collect(dst, false); n > 0 {
			return n, nil
		}
		var err error
		if deadline.IsZero() {
			err = vfs.Block(ctx, w)
		} else {
			err = vfs.BlockDeadline(ctx, w, deadline)
		}
		if err == unix.ETIMEDOUT {
			return ep.collect(dst, false), nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// Add implements EPOLL_CTL_ADD of file (at descriptor fd) with ev.
func (ep *EventPoll) Add(file *vfs.FileDescription, fd int32, ev Event) error {
	if file.Waitable() == nil {
		return unix.EPERM
	}
	target, isEpoll := file.Impl().(*EventPoll)
	if ev.Events&EPOLLEXCLUSIVE != 0 && (isEpoll || ev.Events&^exclusiveOK != 0) {
		return unix.EINVAL
	}
	if isEpoll {
		if target == ep {
			return unix.EINVAL
		}
		ep.nest.Lock()
		defer ep.nest.Unlock()
		if target.reaches(ep, 1) {
			return unix.ELOOP
		}
	}
	ep.interestMu.Lock()
	defer ep.interestMu.Unlock()
	k := key{file, fd}
	if ep.interest[k] != nil {
		return unix.EEXIST
	}
	e := &entry{ep: ep, key: k, events: ev.Events, data: ev.Data}
	e.wait.InitCallback(e, e.mask())
	e.wait.Exclusive = ev.Events&EPOLLEXCLUSIVE != 0
	ep.interest[k] = e
	file.AddReleaseHook(e)
	file.EventRegister(&e.wait)
	ep.checkNow(e)
	return nil
}

// reaches reports whether other is ep or an epoll nested in ep, or the
// nesting below ep is deeper than Linux allows. ep.nest is held.
func (ep *EventPoll) reaches(other *EventPoll, depth int) bool {
	if ep == other || depth > maxNests {
		return true
	}
	ep.interestMu.Lock()
	var children []*EventPoll
	for k := range ep.interest {
		if c, ok := k.file.Impl().(*EventPoll); ok {
			children = append(children, c)
		}
	}
	ep.interestMu.Unlock()
	for _, c := range children {
		if c.reaches(other, depth+1) {
			return true
		}
	}
	return false
}

// checkNow queues e if its file is ready already (after ADD or MOD).
// ep.interestMu is held.
func (ep *EventPoll) checkNow(e *entry) {
	ep.readyMu.Lock()
	mask := e.mask()
	ep.readyMu.Unlock()
	if e.key.file.Readiness(mask)&mask != 0 {
		e.NotifyEvent(&e.wait, 0)
	}
}

// Modify implements EPOLL_CTL_MOD.
func (ep *EventPoll) Modify(file *vfs.FileDescription, fd int32, ev Event) error {
	ep.interestMu.Lock()
	defer ep.interestMu.Unlock()
	e := ep.interest[key{file, fd}]
	if e == nil {
		return unix.ENOENT
	}
	if ev.Events&EPOLLEXCLUSIVE != 0 || e.wait.Exclusive {
		return unix.EINVAL
	}
	file.EventUnregister(&e.wait)
	ep.readyMu.Lock()
	e.events, e.data, e.disabled = ev.Events, ev.Data, false
	e.wait.Mask = e.mask()
	ep.readyMu.Unlock()
	file.EventRegister(&e.wait)
	ep.checkNow(e)
	return nil
}

// Delete implements EPOLL_CTL_DEL.
func (ep *EventPoll) Delete(file *vfs.FileDescription, fd int32) error {
	ep.interestMu.Lock()
	defer ep.interestMu.Unlock()
	e := ep.interest[key{file, fd}]
	if e == nil {
		return unix.ENOENT
	}
	ep.removeLocked(e)
	file.RemoveReleaseHook(e)
	return nil
}
