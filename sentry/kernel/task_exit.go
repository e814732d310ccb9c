package kernel

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/platform"
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
	// Robust and PI futexes the thread holds (futex_robust.go).
	t.releaseFutexes()
	t.releaseClearTID()
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
	t.accountExitLocked()
	k.parentThreadExitLocked(t)
	if len(tg.tasks) == 0 {
		if !tg.exiting {
			tg.exiting = true
			tg.status = Exited(0)
		}
		k.exitGroupLocked(tg)
	} else {
		// A group stop may now be complete without this thread.
		k.checkGroupStoppedLocked(tg)
	}
	k.ptraceTaskExitLocked(t)
	// Last: the end of the last task of a dying namespace reports its
	// init's exit.
	k.unregisterTaskLocked(t)
	// The thread's pidfds, and the process' once it is a zombie.
	tg.pidfdWaiters.Notify(vfs.EventIn | vfs.EventRdNorm | vfs.EventHUp)
	k.mu.Unlock()

	if m != nil {
		m.Release()
	}
}

// retire is the task goroutine's last act, after exit and the release of
// its platform context: only then does the task stop counting as live,
// so that Kernel.Wait's caller, which frees the memory file and the
// platform next, never does so under a task still releasing its memory.
// (Counted down in exit, a task still in mm.Release when another closed
// allExited faulted on the unmapped memory file: the sandbox crashed at
// its end.)
func (t *Task) retire() {
	k := t.k
	k.mu.Lock()
	k.liveTasks--
	done := k.initExited && k.liveTasks == 0
	k.mu.Unlock()
	if done {
		close(k.allExited)
	}
}

// parentThreadExitLocked runs when thread t exits: the children it created
// get their parent-death signal (prctl PR_SET_PDEATHSIG), as on Linux even
// if t's process lives on, and another thread becomes their parent thread.
// k.mu must be held.
func (k *Kernel) parentThreadExitLocked(t *Task) {
	var heir *Task
	for o := range t.tg.tasks {
		heir = o
		break
	}
	for c := range t.tg.children {
		if c.creator != t {
			continue
		}
		c.creator = heir
		for ct := range c.tasks {
			if sig := int(ct.pdeathSignal.Load()); sig != 0 {
				info := userSignalInfo(sig, abi.SI_USER, t)
				k.sendSignalLocked(c, nil, &info, false)
			}
		}
	}
}

// exitGroupLocked runs when the last task of tg exited: children are
// reparented (to the nearest child subreaper among tg's ancestors in its
// PID namespace, else to the namespace's init), and tg becomes a zombie for
// its parent, which gets its exit signal, or is reaped at once if the
// parent ignores SIGCHLD or set SA_NOCLDWAIT. When tg is the init of a
// child PID namespace, the namespace dies: its other processes are
// killed, tg's children are reaped as they exit, and tg's parent hears of
// its exit once they are all gone. k.mu must be held.
func (k *Kernel) exitGroupLocked(tg *ThreadGroup) {
	nsInit := tg.isNSInitLocked() && tg.ns != k.root
	if tg == k.init {
		k.initExited = true
		k.initStatus = tg.status
		k.root.dying = true
		// No task comes after (Clone refuses them): the address
		// spaces released from here on are not reused.
		if e, ok := k.Platform.(platform.Ending); ok {
			e.SandboxEnding()
		}
		// Like a pid-namespace init's death: every other process dies.
		for _, o := range k.root.groups {
			if o != tg && !o.zombie {
				k.killGroupLocked(o, Signaled(int(unix.SIGKILL), false))
			}
		}
	}
	if tg.stopping {
		tg.stopping, tg.stopped = false, false
		close(tg.stopCh)
		tg.stopCh = nil
	}
	tg.zombie = true
	if tg.exited != nil {
		close(tg.exited)
	}
	reaper := k.findReaperLocked(tg)
	if nsInit || (reaper != nil && reaper != tg && reaper.zombie) {
		// init has exited and its namespace is ending: nobody adopts
		// (its children map is gone); the orphans are reaped as they
		// exit.
		reaper = nil
	}
	for c := range tg.children {
		c.parent = reaper
		c.creator = nil
		if reaper == nil || reaper == tg {
			if nsInit && c.zombie {
				k.reapLocked(c)
			}
			continue
		}
		c.exitSignal = int(unix.SIGCHLD)
		reaper.children[c] = struct{}{}
		if c.zombie {
			k.notifyParentExitLocked(c)
		}
	}
	tg.children = nil
	if nsInit && k.nsInitExitLocked(tg.ns) {
		return // finishNSInitLocked reports it
	}
	k.reportExitLocked(tg)
}

// reportExitLocked makes the zombie tg known to its parent, or reaps it
// when it has none. k.mu must be held.
func (k *Kernel) reportExitLocked(tg *ThreadGroup) {
	p := tg.parent
	if p == nil || p == tg {
		k.reapLocked(tg)
		return
	}
	k.notifyParentExitLocked(tg)
}

// findReaperLocked returns the process that adopts the children of the
// exiting tg: its nearest live ancestor in its PID namespace marked child
// subreaper, else the namespace's init.
func (k *Kernel) findReaperLocked(tg *ThreadGroup) *ThreadGroup {
	init := tg.ns.init
	for p := tg.parent; p != nil && p != init && p != tg && p.ns == tg.ns; p = p.parent {
		if p.childSubreaper && !p.exiting && len(p.tasks) > 0 {
			return p
		}
	}
	return init
}

// notifyParentExitLocked sends the exit signal of the zombie tg to its
// parent and wakes its waiters; the zombie is reaped at once when the
// parent ignores SIGCHLD or set SA_NOCLDWAIT (Linux's do_notify_parent).
// k.mu must be held.
func (k *Kernel) notifyParentExitLocked(tg *ThreadGroup) {
	p := tg.parent
	sig := tg.exitSignal
	autoReap := false
	if sig == int(unix.SIGCHLD) {
		act := p.handlers.Action(sig)
		if act.Handler == SigIgn || act.Flags&saNoCldWait != 0 {
			autoReap = true
		}
		if act.Handler == SigIgn {
			sig = 0
		}
	}
	if sig > 0 && ValidSignal(sig) {
		code, status := exitCodeOf(tg.status)
		info := k.childInfoLocked(tg, code, status)
		info.Signo = int32(sig)
		k.sendSignalLocked(p, nil, &info, true)
	}
	if autoReap {
		k.reapLocked(tg)
	}
	p.notifyChildEvent()
}

// exitCodeOf returns the CLD_* si_code and si_status of a death.
func exitCodeOf(s WaitStatus) (int32, int) {
	switch {
	case s.Signal() == 0:
		return abi.CLD_EXITED, s.ExitCode()
	case s.CoreDumped():
		return abi.CLD_DUMPED, s.Signal()
	default:
		return abi.CLD_KILLED, s.Signal()
	}
}

// reapLocked forgets a zombie (wait counts its CPU time in its parent's
// children usage first: accountReapLocked). k.mu must be held.
func (k *Kernel) reapLocked(tg *ThreadGroup) {
	tg.reaped = true
	tg.pidfdWaiters.Notify(vfs.EventIn | vfs.EventRdNorm | vfs.EventHUp)
	k.unregisterGroupLocked(tg)
	if p := tg.parent; p != nil {
		if p.children != nil {
			delete(p.children, tg)
		}
	}
}

// WaitOptions are wait4/waitid options.
type WaitOptions struct {
	// PID selects children: > 0 that pid, 0 the caller's process group,
	// -1 any, < -1 process group -PID.
	PID ThreadID
	// Exited, Stopped and Continued select the events to report
	// (WEXITED, WUNTRACED/WSTOPPED, WCONTINUED).
	Exited, Stopped, Continued bool
	// NoHang returns at once when no child is ready.
	NoHang bool
	// NoWait leaves the child waitable (waitid WNOWAIT).
	NoWait bool
	// Clone and All select children by exit signal (__WCLONE: those
	// whose exit signal is not SIGCHLD; __WALL: all; neither: SIGCHLD).
	Clone, All bool

	// Target, if ByTarget, is the only child to wait for (waitid's
	// P_PIDFD), PID being ignored; nil matches none.
	Target   *ThreadGroup
	ByTarget bool

	// ns is the caller's PID namespace, in which PID and the results'
	// pids are (set by Wait).
	ns *PIDNamespace
}

// WaitResult is a child's reported state change.
type WaitResult struct {
	// PID is in the waiter's PID namespace.
	PID ThreadID
	// Status is the wait4 status word.
	Status WaitStatus
	// Code and SigStatus are waitid's si_code (CLD_*) and si_status.
	Code      int32
	SigStatus int32
	UID       uint32
	// UserTime and SysTime are the child's CPU time, with its own reaped
	// children's for an exited child (wait4's rusage).
	UserTime, SysTime time.Duration
}

// Wait implements wait4/waitid. It returns ECHILD when no child matches,
// a zero result with NoHang when none is ready, and ERESTARTSYS when a
// signal interrupts the wait.
func (t *Task) Wait(o WaitOptions) (WaitResult, error) {
	k := t.k
	o.ns = t.ns
	for {
		k.mu.Lock()
		r, ok, found := k.ptraceWaitLocked(t, o) // tracees first
		if ok {
			k.mu.Unlock()
			return r, nil
		}
		for c := range t.tg.children {
			if !t.waitMatchesLocked(c, o) {
				continue
			}
			found = true
			if k.ptraceHidesLocked(c) { // its tracer reports it first
				continue
			}
			if r, ok := k.waitReportLocked(c, o); ok {
				k.mu.Unlock()
				return r, nil
			}
		}
		var event <-chan struct{}
		if found && !o.NoHang {
			event = t.tg.childEventLocked()
		}
		k.mu.Unlock()
		if !found {
			return WaitResult{}, unix.ECHILD
		}
		if o.NoHang {
			return WaitResult{}, nil
		}
		if err := t.Block(event); err != nil {
			return WaitResult{}, err
		}
	}
}

// waitReportLocked collects c's pending event that o asks for, if any.
func (k *Kernel) waitReportLocked(c *ThreadGroup, o WaitOptions) (WaitResult, bool) {
	r := WaitResult{PID: o.ns.IDOfThreadGroup(c), UID: c.realUIDLocked()}
	switch {
	case c.zombie && o.Exited:
		r.Status = c.status
		code, status := exitCodeOf(c.status)
		r.Code, r.SigStatus = code, int32(status)
		u := c.waitUsageLocked()
		r.UserTime, r.SysTime = u.User, u.Sys
		if !o.NoWait {
			k.accountReapLocked(c)
			k.reapLocked(c)
		}
	case c.zombie || c.exiting:
		return r, false
	case o.Stopped && c.stopReport != 0 && c.stopped:
		r.Status = WaitStatus(c.stopReport<<8 | 0x7f)
		r.Code, r.SigStatus = abi.CLD_STOPPED, int32(c.stopReport)
		r.UserTime, r.SysTime = c.cpuTimeLocked()
		if !o.NoWait {
			c.stopReport = 0
		}
	case o.Continued && c.contReport:
		r.Status = 0xffff
		r.Code, r.SigStatus = abi.CLD_CONTINUED, int32(unix.SIGCONT)
		r.UserTime, r.SysTime = c.cpuTimeLocked()
		if !o.NoWait {
			c.contReport = false
		}
	default:
		return r, false
	}
	return r, true
}

func (t *Task) waitMatchesLocked(c *ThreadGroup, o WaitOptions) bool {
	if !o.All && (c.exitSignal == int(unix.SIGCHLD)) == o.Clone {
		return false
	}
	if o.ByTarget {
		return c == o.Target
	}
	switch pid := o.PID; {
	case pid > 0:
		return t.ns.IDOfThreadGroup(c) == pid
	case pid == -1:
		return true
	case pid == 0:
		return c.pgid == t.tg.pgid
	default:
		return t.ns.IDOfThreadGroup(c.pgrp) == -pid
	}
}

// releaseVfork wakes a parent waiting in vfork.
func (t *Task) releaseVfork() {
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}
}

// releaseClearTID handles CLONE_CHILD_CLEARTID as Linux's mm_release does
// when the thread leaves its memory (exit, exec): it zeroes the tid word
// and wakes a joiner, unless the thread is the memory's last user (nobody
// is left to join it).
func (t *Task) releaseClearTID() {
	if t.clearChildTID != 0 && t.mm != nil && !t.mm.SoleUser() && t.putUint32(t.clearChildTID, 0) == nil {
		t.FutexWake(t.clearChildTID, 1, ^uint32(0))
	}
}

// putUint32 writes a little-endian u32 into application memory.
func (t *Task) putUint32(addr uint64, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err := t.CopyOut(addr, b[:])
	return err
}
