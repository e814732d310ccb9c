package kernel

import (
	"sync/atomic"
	"time"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// Usage is the resource usage that getrusage(2), times(2) and wait4(2)
// report for a thread, a process or its reaped children.
type Usage struct {
	// User and Sys are CPU time in user and system mode, as the run loop
	// accounts it (task.go: userTime, sysTime).
	User, Sys time.Duration
	// MaxRSS is the largest resident set seen, in bytes (ru_maxrss is in
	// KiB; the syscall layer converts). It is sampled when asked for and
	// when a process' last thread exits, not at every fault.
	MaxRSS uint64
}

// add accumulates o into u; MaxRSS is a maximum, not a sum, as in Linux.
func (u *Usage) add(o Usage) {
	u.User += o.User
	u.Sys += o.Sys
	if o.MaxRSS > u.MaxRSS {
		u.MaxRSS = o.MaxRSS
	}
}

// groupUsage is a process' accounting of what is no longer visible in its
// live tasks. All fields are protected by Kernel.mu.
type groupUsage struct {
	// exited is the usage of the group's threads that have exited.
	exited Usage
	// children is the usage of reaped children, their own reaped
	// children included (Linux: signal_struct.cutime/cstime).
	children Usage
}

// CPUUsage returns the process' CPU time: its live threads plus the
// threads that have exited. It works on a zombie too (wait4's rusage).
func (tg *ThreadGroup) CPUUsage() (user, sys time.Duration) {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	u := tg.selfUsageLocked()
	return u.User, u.Sys
}

// ChildrenUsage returns the usage of the process' children that have been
// reaped by wait (RUSAGE_CHILDREN, times' tms_cutime/tms_cstime).
// Children reaped automatically because SIGCHLD is ignored are not
// counted, as in Linux.
func (tg *ThreadGroup) ChildrenUsage() Usage {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.usage.children
}

// SelfUsage returns the process' own usage (RUSAGE_SELF). For a zombie
// it is the usage at its death; wait4 reports SelfUsage plus
// ChildrenUsage of the reaped child.
func (tg *ThreadGroup) SelfUsage() Usage {
	tg.k.mu.Lock()
	u := tg.selfUsageLocked()
	var m *mm.MemoryManager
	for t := range tg.tasks {
		if m = t.mm; m != nil {
			break
		}
	}
	tg.k.mu.Unlock()
	if m != nil {
		if rss := m.ResidentSize(); rss > u.MaxRSS {
			u.MaxRSS = rss
		}
	}
	return u
}

// selfUsageLocked sums the live threads and the exited ones.
// Preconditions: k.mu is locked.
func (tg *ThreadGroup) selfUsageLocked() Usage {
	u := tg.usage.exited
	for t := range tg.tasks {
		u.add(t.usage())
	}
	return u
}

// ThreadUsage returns the calling thread's usage (RUSAGE_THREAD).
func (t *Task) ThreadUsage() Usage {
	u := t.usage()
	if m := t.mm; m != nil {
		u.MaxRSS = m.ResidentSize()
	}
	return u
}

// usage returns what the task accounts itself, without memory.
func (t *Task) usage() Usage {
	user, sys := t.CPUTime()
	return Usage{User: user, Sys: sys}
}

// accountExitLocked is the thread-exit hook (task_exit.go): t has just
// been removed from its group's tasks, so its time moves to the group's
// exited usage; when it was the last thread, the group's timers stop.
// Preconditions: k.mu is locked.
func (t *Task) accountExitLocked() {
	tg := t.tg
	u := t.usage()
	if m := t.mm; m != nil && len(tg.tasks) == 0 {
		// The last thread: its address space is the process' final one.
		// ResidentSize takes only mm locks, which are below k.mu.
		u.MaxRSS = m.ResidentSize()
	}
	tg.usage.exited.add(u)
	tg.timers.taskExited(t, len(tg.tasks) == 0)
}

// accountReapLocked is the reap hook of wait (task_exit.go): when a
// zombie is reaped by its parent's wait, its usage and its children's move
// to the parent's children usage. A zombie released because its parent
// ignores SIGCHLD is not counted, as in Linux (only wait_task_zombie adds
// to cutime), which is why the hook is in wait and not in reapLocked.
// Preconditions: k.mu is locked.
func (k *Kernel) accountReapLocked(tg *ThreadGroup) {
	p := tg.parent
	if p == nil || p == tg {
		return
	}
	if _, ok := p.children[tg]; !ok {
		return
	}
	p.usage.children.add(tg.selfUsageLocked())
	p.usage.children.add(tg.usage.children)
}

// System time is the task goroutine's time outside Switch and outside
// its blocking waits (blockStart, blockEnd), on the clock of cpuTicks:
// sys(now) = now - start - user(now) - blocked(now). The goroutine is not
// tied to one OS thread (a platform whose threads are reusable needs no
// lock, and a task woken by another then runs on the waker's thread at
// once, instead of waiting for its own to wake up), so no thread CPU clock
// can tell. Like user time, it includes time the goroutine was runnable
// but waiting for a CPU. The blocked time is an intervalClock like the
// user time, so that no word is written on the syscall path.

// startSysClock starts the task's system time. Called by the task
// goroutine before the task runs.
func (t *Task) startSysClock() {
	t.sysStart.Store(cpuTicks())
}

// stopSysClock records the task's final system time: its goroutine is
// about to end.
func (t *Task) stopSysClock() {
	if start := t.sysStart.Load(); start != 0 {
		t.sysTime.Store(ticksToNS(t.sysTicks(start, cpuTicks())))
		t.sysStart.Store(0)
	}
}

// sysClock returns the task's system time so far, in nanoseconds.
func (t *Task) sysClock() int64 {
	if start := t.sysStart.Load(); start != 0 {
		return ticksToNS(t.sysTicks(start, cpuTicks()))
	}
	return t.sysTime.Load()
}

// sysTicks is the system time from start to now, in cpuTicks ticks.
func (t *Task) sysTicks(start, now int64) int64 {
	return max(now-start-t.user.at(now)-t.blocked.at(now), 0)
}

// blockStart and blockEnd bracket a wait of the task goroutine (Block,
// Sleep, a stop, a freeze): its time there is not system time. Called by
// the task goroutine only, in pairs, which may nest (a group stop that
// becomes a ptrace stop): the outermost pair counts.
func (t *Task) blockStart() {
	t.blockDepth++
	if t.blockDepth == 1 {
		t.blocked.start(cpuTicks())
	}
}

func (t *Task) blockEnd() {
	t.blockDepth--
	if t.blockDepth == 0 {
		t.blocked.stop(cpuTicks())
	}
}

// User time is the time the task goroutine spends in the platform's
// Switch, on the clock of cpuTicks: an intervalClock (below), which
// readers on other threads load without a lock, and whose start and stop
// are one atomic store each (Switch is the syscall hot path).

// tscClock says whether cpuTicks is the time-stamp counter (else the
// monotonic clock in nanoseconds).
var tscClock = arch.InvariantTSC()

// cpuTicks reads the user-time clock.
func cpuTicks() int64 {
	if tscClock {
		return arch.Rdtsc()
	}
	return monoNow()
}

// ticksToNS converts cpuTicks ticks to nanoseconds.
func ticksToNS(ticks int64) int64 {
	if tscClock {
		return arch.TSCToNS(ticks)
	}
	return max(ticks, 0)
}

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow is a monotonic time in nanoseconds.
func monoNow() int64 { return int64(time.Since(monoBase)) }

// enterUser records that the task goroutine switches to application code
// now. Called by the task goroutine only.
func (t *Task) enterUser() { t.user.start(cpuTicks()) }

// leaveUser adds the switch that enterUser began to the task's user time.
// Called by the task goroutine only.
func (t *Task) leaveUser() { t.user.stop(cpuTicks()) }

// cpuTime returns the task's CPU time, counting a switch in progress up
// to now, so that other threads see a spinning thread's clock move.
func (t *Task) cpuTime() (user, sys time.Duration) {
	return time.Duration(ticksToNS(t.user.at(cpuTicks()))), time.Duration(t.sysClock())
}

// intervalClock sums intervals of cpuTicks, started and stopped by one
// goroutine and read by any: word>>1 is the sum outside an interval, and
// the sum minus the interval's start inside one, marked by the low bit,
// so that the sum at time now is word>>1 + now then. Starting or stopping
// is one atomic store (the user clock's are on the syscall path).
// total and in, the sum outside an interval and the interval's start,
// are the writer's own, so that it never reads back the shared word.
type intervalClock struct {
	word      atomic.Int64
	total, in int64
}

func (c *intervalClock) start(now int64) {
	c.in = now
	c.word.Store((c.total-now)<<1 | 1)
}

// stop ends the interval. One that seems to end before it began (the OS
// thread moved to a CPU whose counter is behind) adds nothing, so the sum
// never goes back.
func (c *intervalClock) stop(now int64) {
	if d := now - c.in; d > 0 {
		c.total += d
	}
	c.word.Store(c.total << 1)
}

// at returns the sum at time now.
func (c *intervalClock) at(now int64) int64 {
	w := c.word.Load()
	if w&1 != 0 {
		return w>>1 + now
	}
	return w >> 1
}

// waitUsageLocked returns what wait4(2) reports for the reaped child tg:
// its own usage and its reaped children's (Linux: getrusage(RUSAGE_BOTH)).
// Preconditions: k.mu is locked.
func (tg *ThreadGroup) waitUsageLocked() Usage {
	u := tg.selfUsageLocked()
	u.add(tg.usage.children)
	return u
}
