package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// WaitStatus is a wait(2) status word.
type WaitStatus uint32

// Exited returns the status of a normal exit with code.
func Exited(code int) WaitStatus { return WaitStatus((code & 0xff) << 8) }

// Signaled returns the status of a death by signal sig.
func Signaled(sig int, core bool) WaitStatus {
	s := WaitStatus(sig & 0x7f)
	if core {
		s |= 0x80
	}
	return s
}

// ExitCode returns the status as a shell would report it: the exit code, or
// 128+N for a death by signal N.
func (s WaitStatus) ExitCode() int {
	if s&0x7f == 0 {
		return int(s>>8) & 0xff
	}
	return 128 + int(s&0x7f)
}

// Signal returns the terminating signal, or 0 for a normal exit.
func (s WaitStatus) Signal() int { return int(s & 0x7f) }

// CoreDumped reports whether the process died of a signal that dumps core.
func (s WaitStatus) CoreDumped() bool { return s&0x80 != 0 }

// ThreadGroup is a process: the tasks that share a pid.
type ThreadGroup struct {
	k *Kernel

	// pid is immutable: the leader's tid in the root PID namespace; ids
	// are its pids from the root namespace down to ns, its own
	// (pidns.go). All immutable.
	pid ThreadID
	ids []ThreadID
	ns  *PIDNamespace

	// container is immutable: the id of the pod container the process
	// belongs to (container.go).
	container string

	// signals is shared by CLONE_SIGHAND clones across thread groups; the
	// pending set and per-group state live here.
	handlers *SignalHandlers

	// limits are the resource limits (setrlimit/prlimit64).
	limits *Limits

	// childEvent is closed, and replaced, when a child changes state and
	// childWaited says that a wait4 of the process took it to sleep on:
	// every waiting thread wakes (a token per event, which one waiter
	// took, left the others asleep when events came together). Protected
	// by k.mu.
	childEvent  chan struct{}
	childWaited bool

	// The fields below are protected by k.mu.
	leader     *Task
	tasks      map[*Task]struct{}
	parent     *ThreadGroup
	children   map[*ThreadGroup]struct{}
	exitSignal int // signal sent to the parent on exit (SIGCHLD usually)
	pgid, sid  ThreadID
	// pgrp and sess are the processes whose pids pgid and sid are (they
	// may have been reaped): their ids in every namespace translate the
	// group and session ids for the syscalls, as Linux's struct pid does.
	pgrp, sess *ThreadGroup
	// exiting is set by exit_group, a fatal signal or the last task's exit;
	// status is the group's wait status from then on.
	exiting bool
	status  WaitStatus
	// zombie: all tasks have exited and the parent has not reaped it;
	// reaped: it has been.
	zombie, reaped bool
	// pidfdWaiters is notified when a thread of the process exits and
	// when it is reaped (pidfd readiness, pidfd.go). Notified with k.mu
	// held, like signalWaiters.
	pidfdWaiters vfs.WaitQueue
	// exited, for a process started by StartProcess, is closed when it
	// has exited (status is final then).
	exited chan struct{}

	// pending are the process-wide pending signals.
	pending sigQueue
	// signalWaiters is notified whenever a signal is queued for the
	// process or one of its threads (signalfd readiness, signalfd.go).
	signalWaiters vfs.WaitQueue
	// Job control (task_signals.go): stopping while a group stop for
	// stopSig is in progress or complete (stopped: every thread parked);
	// stopSeq numbers stops, stopCount counts the threads parked in this
	// one, stopCh is closed when it ends.
	stopping, stopped bool
	stopSig           int
	stopSeq           uint64
	stopCount         int
	stopCh            chan struct{}
	// stopReport (a stop signal) and contReport are the stop and continue
	// events not yet collected by the parent's wait (WUNTRACED,
	// WCONTINUED).
	stopReport int
	contReport bool
	// creator is the parent thread: its exit sends the parent-death
	// signal of this process' threads.
	creator *Task

	// execed is set when the process calls execve; setpgid on a child
	// that has exec'd fails with EACCES.
	execed bool

	// usage is the CPU time of exited threads and reaped children
	// (usage.go).
	usage groupUsage

	// timers are the process' itimers and POSIX timers (timer.go); it
	// has its own locks.
	timers groupTimers

	// childSubreaper is prctl(PR_SET_CHILD_SUBREAPER): orphaned
	// descendants are reparented here instead of to init.
	childSubreaper bool
}

// ChildSubreaper reports prctl(PR_GET_CHILD_SUBREAPER).
func (tg *ThreadGroup) ChildSubreaper() bool {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.childSubreaper
}

// SetChildSubreaper implements prctl(PR_SET_CHILD_SUBREAPER); the exit
// path's reparenting honours it.
func (tg *ThreadGroup) SetChildSubreaper(v bool) {
	tg.k.mu.Lock()
	tg.childSubreaper = v
	tg.k.mu.Unlock()
}

// PID returns the process id in the root PID namespace (the kernel's name
// for the process; the application's goes through PIDNamespace).
func (tg *ThreadGroup) PID() ThreadID { return tg.pid }

// Limits returns the group's resource limits.
func (tg *ThreadGroup) Limits() *Limits { return tg.limits }

// Exited returns a channel closed when a process started by StartProcess
// has exited (nil for any other process).
func (tg *ThreadGroup) Exited() <-chan struct{} { return tg.exited }

// ExitStatus returns the wait status of a process that has exited.
func (tg *ThreadGroup) ExitStatus() WaitStatus {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.status
}

// Handlers returns the signal handlers.
func (tg *ThreadGroup) Handlers() *SignalHandlers { return tg.handlers }

// PPID returns the parent's pid in t's namespace (getppid): 0 for init
// and for a parent outside the namespace.
func (t *Task) PPID() ThreadID {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.ns.IDOfThreadGroup(t.tg.parent)
}

// PGID returns the process group id in the root namespace.
func (tg *ThreadGroup) PGID() ThreadID {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.pgid
}

// PGIDIn returns the process group id in ns (0 if it is not visible).
func (tg *ThreadGroup) PGIDIn(ns *PIDNamespace) ThreadID {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return ns.IDOfThreadGroup(tg.pgrp)
}

// SID returns the session id in the root namespace.
func (tg *ThreadGroup) SID() ThreadID {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.sid
}

// cpuTimeLocked returns the CPU time of tg's tasks, live and exited
// (usage.go keeps the accounts). k.mu must be held.
func (tg *ThreadGroup) cpuTimeLocked() (user, sys time.Duration) {
	u := tg.selfUsageLocked()
	return u.User, u.Sys
}

// notifyChildEvent wakes the waits of tg for its children. k.mu must be
// held.
func (tg *ThreadGroup) notifyChildEvent() {
	if tg.childWaited {
		close(tg.childEvent)
		tg.childEvent = make(chan struct{})
		tg.childWaited = false
	}
}

// childEventLocked returns the channel that the next change of a child of
// tg closes. k.mu must be held.
func (tg *ThreadGroup) childEventLocked() <-chan struct{} {
	tg.childWaited = true
	return tg.childEvent
}

// Limits are a process' resource limits.
type Limits struct {
	mu sync.Mutex
	l  [numLimits]unix.Rlimit
	// cpuLimited mirrors "RLIMIT_CPU's soft limit is finite", so that the
	// run loop's CPU-timer check (timer.go) costs one atomic load.
	cpuLimited atomic.Bool
	// fsize mirrors RLIMIT_FSIZE's soft limit, plus one (0: infinite, so
	// that the zero value has no limit), for every write to a regular file
	// (FileSize).
	fsize atomic.Uint64
}

// FileSize returns RLIMIT_FSIZE's soft limit (Infinity: none) without the
// lock.
func (l *Limits) FileSize() uint64 {
	if v := l.fsize.Load(); v != 0 {
		return v - 1
	}
	return Infinity
}

// Infinity is RLIM_INFINITY.
const Infinity = ^uint64(0)

// DefaultLimits returns Linux's defaults for a new init process.
func DefaultLimits() *Limits {
	l := &Limits{}
	for i := range l.l {
		l.l[i] = unix.Rlimit{Cur: Infinity, Max: Infinity}
	}
	l.l[unix.RLIMIT_STACK] = unix.Rlimit{Cur: 8 << 20, Max: Infinity}
	l.l[unix.RLIMIT_CORE] = unix.Rlimit{Cur: 0, Max: Infinity}
	l.l[unix.RLIMIT_NOFILE] = unix.Rlimit{Cur: 1024, Max: 1048576}
	l.l[unix.RLIMIT_MEMLOCK] = unix.Rlimit{Cur: 8 << 20, Max: 8 << 20}
	l.l[unix.RLIMIT_NPROC] = unix.Rlimit{Cur: 127431, Max: 127431}
	l.l[unix.RLIMIT_SIGPENDING] = unix.Rlimit{Cur: 127431, Max: 127431}
	l.l[unix.RLIMIT_MSGQUEUE] = unix.Rlimit{Cur: 819200, Max: 819200}
	l.l[unix.RLIMIT_NICE] = unix.Rlimit{Cur: 0, Max: 0}
	l.l[unix.RLIMIT_RTPRIO] = unix.Rlimit{Cur: 0, Max: 0}
	return l
}

// Get returns limit r.
func (l *Limits) Get(r int) unix.Rlimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.l[r]
}

// Set replaces limit r. Raising the hard limit needs CAP_SYS_RESOURCE,
// which the caller checks.
func (l *Limits) Set(r int, v unix.Rlimit) {
	l.mu.Lock()
	l.setLocked(r, v)
	l.mu.Unlock()
}

// setLocked replaces limit r and what mirrors it. l.mu must be held.
func (l *Limits) setLocked(r int, v unix.Rlimit) {
	l.l[r] = v
	switch r {
	case unix.RLIMIT_CPU:
		l.cpuLimited.Store(v.Cur != Infinity)
	case unix.RLIMIT_FSIZE:
		if v.Cur == Infinity {
			l.fsize.Store(0)
		} else {
			l.fsize.Store(v.Cur + 1)
		}
	}
}

// Copy returns an independent copy (fork).
func (l *Limits) Copy() *Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := &Limits{l: l.l}
	n.cpuLimited.Store(l.cpuLimited.Load())
	n.fsize.Store(l.fsize.Load())
	return n
}

// numLimits is RLIM_NLIMITS.
const numLimits = 16
