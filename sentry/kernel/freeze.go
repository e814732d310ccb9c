package kernel

import (
	"sync"
	"sync/atomic"
)

// freezer stops tasks at their next return to the run loop (runsc pause),
// as the cgroup freezer does: application code stops running, tasks
// blocked in a syscall stay blocked and stop when it returns, and nothing
// is visible to the application (no signal, no job-control stop). SIGKILL
// still ends a frozen task. It freezes every task of the sandbox
// (Freeze: the sandbox container's pause), or those of one container of
// a pod (FreezeContainer: a member's pause); the two are independent, and
// a task runs only when neither holds it.
type freezer struct {
	// frozen is read by every pass of every task's run loop: it is set
	// while the sandbox or any container is frozen, so that the loop
	// pays one atomic load when nothing is.
	frozen atomic.Bool
	// state is what is frozen now, replaced (never changed) under mu,
	// so that a task of a container that is not frozen, while another
	// is, looks it up without a lock. nil while nothing is frozen.
	state atomic.Pointer[freezeState]
	mu    sync.Mutex
}

// freezeState is an immutable picture of what is frozen. Each channel is
// closed when what it holds is thawed.
type freezeState struct {
	all        chan struct{}            // the whole sandbox; nil if not
	containers map[string]chan struct{} // the frozen containers, by id
}

// updateLocked replaces the state with the result of change, applied to a copy;
// f.mu must be held.
func (f *freezer) updateLocked(change func(*freezeState)) {
	n := &freezeState{containers: map[string]chan struct{}{}}
	if old := f.state.Load(); old != nil {
		n.all = old.all
		for id, ch := range old.containers {
			n.containers[id] = ch
		}
	}
	change(n)
	if n.all == nil && len(n.containers) == 0 {
		n = nil
	}
	f.state.Store(n)
	f.frozen.Store(n != nil)
}

// Freeze stops every task; it is idempotent.
func (k *Kernel) Freeze() {
	f := &k.freezer
	f.mu.Lock()
	f.updateLocked(func(s *freezeState) {
		if s.all == nil {
			s.all = make(chan struct{})
		}
	})
	f.mu.Unlock()
	k.interruptTasks(func(*Task) bool { return true })
}

// Thaw lets every task run again, but for those of a container frozen
// by FreezeContainer; it is idempotent.
func (k *Kernel) Thaw() {
	f := &k.freezer
	f.mu.Lock()
	f.updateLocked(func(s *freezeState) {
		if s.all != nil {
			close(s.all)
			s.all = nil
		}
	})
	f.mu.Unlock()
}

// FreezeContainer stops every task of container id (ThreadGroup.
// Container), including those it creates while frozen; it is
// idempotent.
func (k *Kernel) FreezeContainer(id string) {
	f := &k.freezer
	f.mu.Lock()
	f.updateLocked(func(s *freezeState) {
		if s.containers[id] == nil {
			s.containers[id] = make(chan struct{})
		}
	})
	f.mu.Unlock()
	k.interruptTasks(func(t *Task) bool { return t.tg.container == id })
}

// ThawContainer lets the tasks of container id run again (unless the
// whole sandbox is frozen); it is idempotent.
func (k *Kernel) ThawContainer(id string) {
	f := &k.freezer
	f.mu.Lock()
	f.updateLocked(func(s *freezeState) {
		if ch := s.containers[id]; ch != nil {
			close(ch)
			delete(s.containers, id)
		}
	})
	f.mu.Unlock()
}

// ContainerFrozen reports whether container id is frozen by
// FreezeContainer.
func (k *Kernel) ContainerFrozen(id string) bool {
	s := k.freezer.state.Load()
	return s != nil && s.containers[id] != nil
}

// interruptTasks makes the tasks for which match is true leave
// application code, so that their run loop sees the freezer.
func (k *Kernel) interruptTasks(match func(*Task) bool) {
	k.mu.Lock()
	for _, t := range k.root.tasks {
		if c := t.ctx; c != nil && match(t) {
			c.Interrupt()
		}
	}
	k.mu.Unlock()
}

// thawChan returns the channel whose close lets t run again, or nil if
// nothing holds t.
func (f *freezer) thawChan(t *Task) chan struct{} {
	s := f.state.Load()
	switch {
	case s == nil:
		return nil
	case s.all != nil:
		return s.all
	}
	return s.containers[t.tg.container]
}

// waitThawed blocks t while the sandbox or its container is frozen, until
// it is thawed or t is killed. It reports whether t was held at all: the
// run loop goes on without a second look when it was not.
func (t *Task) waitThawed() bool {
	f := &t.k.freezer
	held := false
	for !t.killed.Load() {
		ch := f.thawChan(t)
		if ch == nil {
			return held
		}
		held = true
		t.blockStart()
		select {
		case <-ch:
		case <-t.interruptCh:
		}
		t.blockEnd()
	}
	return held
}
