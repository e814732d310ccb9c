package kernel

// Read-only introspection of the task tree, for procfs and other
// observers (a future `runsc ps`). Nothing here changes kernel state, and
// everything may be called from any goroutine. A process or task may exit
// at any moment: callers check the ok results and treat an exited task as
// gone (ESRCH/ENOENT), never touching its released resources.

import (
	"sort"
	"time"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// ThreadGroups returns every live and zombie process of the sandbox's PID
// namespace, ordered by pid.
func (k *Kernel) ThreadGroups() []*ThreadGroup {
	k.mu.Lock()
	out := make([]*ThreadGroup, 0, len(k.root.groups))
	for _, tg := range k.root.groups {
		out = append(out, tg)
	}
	k.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// sortGroups orders groups by their pid at namespace level.
func sortGroups(gs []*ThreadGroup, level int) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].ids[level] < gs[j].ids[level] })
}

// TaskCounts returns the number of live tasks and the last thread id
// handed out (procfs's procs_running and, approximately, the number of
// forks since boot).
func (k *Kernel) TaskCounts() (live int, lastTID ThreadID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.root.tasks), k.root.last
}

// ProcessState is a snapshot of a thread group's place in the task tree.
type ProcessState struct {
	PID, PPID, PGID, SID ThreadID
	// NumThreads counts the live tasks.
	NumThreads int
	// Exiting is set once the group is dying (exit_group, a fatal signal).
	Exiting bool
	// Zombie: every task exited and the parent has not reaped it.
	Zombie bool
	// Reaped: the group is gone from the PID namespace; nothing else in
	// the snapshot is meaningful then.
	Reaped bool
	// ExitSignal is the signal sent to the parent on exit.
	ExitSignal int
	// Status is the group's wait status once Exiting is set.
	Status WaitStatus
}

// State returns a consistent snapshot of tg's place in the task tree, with
// the ids of the root PID namespace.
func (tg *ThreadGroup) State() ProcessState {
	return tg.StateIn(tg.k.root)
}

// StateIn is State with the ids of ns (0 for those not visible there).
func (tg *ThreadGroup) StateIn(ns *PIDNamespace) ProcessState {
	k := tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	s := ProcessState{
		PID: ns.IDOfThreadGroup(tg), PGID: ns.IDOfThreadGroup(tg.pgrp), SID: ns.IDOfThreadGroup(tg.sess),
		NumThreads: len(tg.tasks),
		Exiting:    tg.exiting, Zombie: tg.zombie, ExitSignal: tg.exitSignal,
		Reaped: k.root.groups[tg.pid] != tg, Status: tg.status,
	}
	if tg.parent != nil {
		s.PPID = ns.IDOfThreadGroup(tg.parent)
	}
	return s
}

// Leader returns the thread group's leader (which may have exited).
func (tg *ThreadGroup) Leader() *Task {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.leader
}

// Kernel returns the kernel tg belongs to.
func (tg *ThreadGroup) Kernel() *Kernel { return tg.k }

// Tasks returns tg's live tasks, ordered by tid.
func (tg *ThreadGroup) Tasks() []*Task {
	tg.k.mu.Lock()
	out := make([]*Task, 0, len(tg.tasks))
	for t := range tg.tasks {
		out = append(out, t)
	}
	tg.k.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].tid < out[j].tid })
	return out
}

// FindTaskInGroup returns tg's live task tid, or nil.
func (tg *ThreadGroup) FindTaskInGroup(tid ThreadID) *Task {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	t := tg.k.root.tasks[tid]
	if t == nil || t.tg != tg {
		return nil
	}
	return t
}

// Alive reports whether t has not exited yet.
func (t *Task) Alive() bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.k.root.tasks[t.tid] == t
}

// StartTime returns when the task was created.
func (t *Task) StartTime() time.Time { return t.startTime }

// TaskResources are a live task's address space, descriptor table and
// filesystem context as observed at one moment.
type TaskResources struct {
	MM  *mm.MemoryManager
	FDs *vfs.FDTable
	FS  *vfs.FSContext
}

// Resources returns t's resources, or ok == false once t has exited (its
// resources are released then). The task may exit right after: the
// objects stay safe to read, but their contents empty out (an empty
// address space, an empty descriptor table, a zero root and cwd), so
// callers must check VirtualDentry.Ok on what FS returns.
func (t *Task) Resources() (r TaskResources, ok bool) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if t.k.root.tasks[t.tid] != t {
		return TaskResources{}, false
	}
	r.MM = t.mm
	if t.fds != nil {
		r.FDs = t.fds.FDTable
	}
	if t.fs != nil {
		r.FS = t.fs.FSContext
	}
	return r, true
}

// PendingSignalSets returns the signals pending for t alone and for its
// whole group (SigPnd and ShdPnd of /proc/[pid]/status).
func (t *Task) PendingSignalSets() (thread, group uint64) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.sig.pending.mask, t.tg.pending.mask
}

// SignalDispositions returns the sets of ignored and caught signals of
// tg (SigIgn and SigCgt of /proc/[pid]/status).
func (tg *ThreadGroup) SignalDispositions() (ignored, caught uint64) {
	h := tg.handlers
	if h == nil {
		return 0, 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sig := 1; sig <= NumSignals; sig++ {
		switch h.actions[sig].Handler {
		case SigDfl:
		case SigIgn:
			ignored |= sigBit(sig)
		default:
			caught |= sigBit(sig)
		}
	}
	return ignored, caught
}

// TracerPID returns the thread id of the task that ptraces t, 0 when none
// (/proc/[pid]/status's TracerPid).
func (t *Task) TracerPID() ThreadID {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.tracerPIDLocked()
}

// Tracer returns the task that ptraces t, nil when none.
func (t *Task) Tracer() *Task {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if tr := t.ptrace.tracer; tr != nil && !t.ptrace.exited {
		return tr
	}
	return nil
}
