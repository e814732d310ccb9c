package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// ExitThread ends the calling thread (exit(2)). The group exits with code
// when its last thread does.
func (t *Task) ExitThread(code int) error {
	t.k.mu.Lock()
	if !t.tg.exiting && len(t.tg.tasks) == 1 {
		t.tg.exiting = true
		t.tg.status = Exited(code)
	}
	t.k.mu.Unlock()
	t.killed.Store(true)
	return errExit
}

// ExitGroup ends every thread of the caller's group (exit_group(2)).
func (t *Task) ExitGroup(code int) error {
	t.k.killGroup(t.tg, Exited(code))
	return errExit
}

// exit tears the task down after its goroutine left application code for
// the last time.
func (t *Task) exit() {
	k := t.k
	// CLONE_CHILD_CLEARTID: zero the tid word and wake a joiner.
	if t.clearChildTID != 0 && t.mm != nil {
		var zero [4]byte
		if _, err := t.mm.CopyOut(t.clearChildTID, zero[:]); err == nil {
			k.futexes.wake(t, t.clearChildTID, true, 1, ^uint32(0))
		}
	}
	t.releaseVfork()
	if t.fds != nil {
		t.fds.decRef(t)
	}
	if t.fs != nil {
		t.fs.decRef()
	}
	m := t.mm

	k.mu.Lock()
	tg := t.tg
	delete(tg.tasks, t)
	delete(k.tasks, t.tid)
	t.accountExitLocked()
	var lastInGroup bool
	if len(tg.tasks) == 0 {
		lastInGroup = true
		if !tg.exiting {
			tg.exiting = true
			tg.status = Exited(0)
		}
	}
	var wakeParent *ThreadGroup
	if lastInGroup {
		k.exitGroupLocked(tg)
		if tg.parent != nil {
			wakeParent = tg.parent
		}
	}
	k.liveTasks--
	done := k.initExited && k.liveTasks == 0
	k.mu.Unlock()

	if m != nil {
		m.Release()
	}
	if wakeParent != nil {
		wakeParent.notifyChildEvent()
	}
	if done {
		close(k.allExited)
	}
}

// exitGroupLocked runs when the last task of tg exited: children are
// reparented to init, and tg becomes a zombie for its parent (or is reaped
// at once if the parent ignores SIGCHLD). k.mu must be held.
func (k *Kernel) exitGroupLocked(tg *ThreadGroup) {
	if tg == k.init {
		k.initExited = true
		k.initStatus = tg.status
		// Like a pid-namespace init's death: every other process dies.
		for _, o := range k.groups {
			if o != tg && !o.zombie {
				if !o.exiting {
					o.exiting = true
					o.status = Signaled(int(unix.SIGKILL), false)
				}
				for ot := range o.tasks {
					ot.killed.Store(true)
					ot.interrupt()
				}
			}
		}
	}
	for c := range tg.children {
		c.parent = k.init
		if k.init != nil && k.init != tg {
			k.init.children[c] = struct{}{}
			if c.zombie {
				defer k.init.notifyChildEvent()
			}
		}
	}
	tg.children = nil
	tg.zombie = true
	p := tg.parent
	if p == nil || p == tg {
		k.reapLocked(tg)
		return
	}
	// SIGCHLD ignored or SA_NOCLDWAIT: no zombie.
	if tg.exitSignal == int(unix.SIGCHLD) {
		act := p.handlers.Action(int(unix.SIGCHLD))
		if act.Handler == SigIgn || act.Flags&saNoCldWait != 0 {
			delete(p.children, tg)
			k.reapLocked(tg)
		}
	}
}

// reapLocked forgets a zombie. k.mu must be held.
func (k *Kernel) reapLocked(tg *ThreadGroup) {
	k.accountReapLocked(tg)
	delete(k.groups, tg.pid)
	if tg.parent != nil && tg.parent.children != nil {
		delete(tg.parent.children, tg)
	}
}

// WaitOptions are wait4/waitid options.
type WaitOptions struct {
	// PID selects children: > 0 that pid, 0 the caller's process group,
	// -1 any, < -1 process group -PID.
	PID ThreadID
	// NoHang returns at once when no child is ready.
	NoHang bool
	// NoWait leaves the child a zombie (waitid WNOWAIT).
	NoWait bool
	// Exited selects exited children (always for wait4).
	Exited bool
}

// WaitResult is a reaped child.
type WaitResult struct {
	PID    ThreadID
	Status WaitStatus
	UID    uint32
}

// Wait implements wait4/waitid. It returns ECHILD when no child matches,
// and a zero result with NoHang when none is ready.
func (t *Task) Wait(o WaitOptions) (WaitResult, error) {
	k := t.k
	for {
		k.mu.Lock()
		found := false
		for c := range t.tg.children {
			if !t.waitMatchesLocked(c, o.PID) {
				continue
			}
			found = true
			if c.zombie {
				r := WaitResult{PID: c.pid, Status: c.status}
				if c.leader != nil {
					r.UID = uint32(c.leader.Credentials().RealKUID)
				}
				if !o.NoWait {
					k.reapLocked(c)
				}
				k.mu.Unlock()
				return r, nil
			}
		}
		k.mu.Unlock()
		if !found {
			return WaitResult{}, unix.ECHILD
		}
		if o.NoHang {
			return WaitResult{}, nil
		}
		if err := t.Block(t.tg.childEvent); err != nil {
			return WaitResult{}, err
		}
	}
}

func (t *Task) waitMatchesLocked(c *ThreadGroup, pid ThreadID) bool {
	switch {
	case pid > 0:
		return c.pid == pid
	case pid == -1:
		return true
	case pid == 0:
		return c.pgid == t.tg.pgid
	default:
		return c.pgid == -pid
	}
}

// releaseVfork wakes a parent waiting in vfork.
func (t *Task) releaseVfork() {
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}
}

// putUint32 writes a little-endian u32 into application memory.
func (t *Task) putUint32(addr uint64, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err := t.CopyOut(addr, b[:])
	return err
}
