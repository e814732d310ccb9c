package kernel

import (
	"sync"
	"sync/atomic"
)

// freezer stops every task of the sandbox at its next return to the run
// loop (runsc pause), as the cgroup freezer does: application code stops
// running, tasks blocked in a syscall stay blocked and stop when it
// returns, and nothing is visible to the application (no signal, no
// job-control stop). SIGKILL still ends a frozen task.
type freezer struct {
	// frozen is read by every pass of every task's run loop.
	frozen atomic.Bool
	mu     sync.Mutex
	thaw   chan struct{} // closed by Thaw; protected by mu
}

// Freeze stops every task; it is idempotent.
func (k *Kernel) Freeze() {
	k.freezer.mu.Lock()
	if k.freezer.thaw == nil {
		k.freezer.thaw = make(chan struct{})
		k.freezer.frozen.Store(true)
	}
	k.freezer.mu.Unlock()
	k.mu.Lock()
	for _, t := range k.root.tasks {
		if c := t.ctx; c != nil {
			c.Interrupt()
		}
	}
	k.mu.Unlock()
}

// Thaw lets every task run again; it is idempotent.
func (k *Kernel) Thaw() {
	k.freezer.mu.Lock()
	if k.freezer.thaw != nil {
		k.freezer.frozen.Store(false)
		close(k.freezer.thaw)
		k.freezer.thaw = nil
	}
	k.freezer.mu.Unlock()
}

// waitThawed blocks t while the sandbox is frozen, until it is thawed or
// t is killed.
func (t *Task) waitThawed() {
	f := &t.k.freezer
	for !t.killed.Load() {
		f.mu.Lock()
		ch := f.thaw
		f.mu.Unlock()
		if ch == nil {
			return
		}
		select {
		case <-ch:
		case <-t.interruptCh:
		}
	}
}
