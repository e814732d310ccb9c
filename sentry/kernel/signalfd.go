package kernel

import (
	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// What signalfd (fs/signalfd) needs from the signal queues: a signalfd
// reads the pending signals of the task that reads it, and is ready while
// the task that created it has one pending in its mask.

// SignalWaitQueue returns the queue notified whenever a signal is queued
// for t's process or one of its threads.
func (t *Task) SignalWaitQueue() *vfs.WaitQueue { return &t.tg.signalWaiters }

// DequeueSignal takes a signal of set pending for t (thread-directed ones
// first), as signalfd's read does; ok is false when there is none.
func (t *Task) DequeueSignal(set uint64) (info abi.SignalInfo, ok bool) {
	set &^= unblockable
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.dequeueFromSetLocked(set)
}

// HasPendingSignal reports whether a signal of set is pending for t or its
// process.
func (t *Task) HasPendingSignal(set uint64) bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return (t.sig.pending.mask|t.tg.pending.mask)&set != 0
}
