package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
)

// Timers: the itimers of setitimer(2)/alarm(2) and the POSIX timers of
// timer_create(2) share one engine, Timer. A timer on a host clock
// (REALTIME, MONOTONIC, BOOTTIME, TAI) waits on a Go timer; a timer on a
// CPU-time clock is checked by the run loop of the tasks whose time it
// counts (checkCPUTimers, called after each return from application code
// while the process has a CPU timer armed or RLIMIT_CPU set), and a
// per-process ticker interrupts those tasks periodically so that a task
// that spins in user space is still checked.
//
// Lock order: Kernel.mu, then groupTimers.mu, then Timer.mu (then the
// signal handlers' lock, taken by sendSignalLocked). Neither timer lock is
// held while reading a process CPU clock, which takes Kernel.mu.

// sigevent notify values (include/uapi/asm-generic/siginfo.h).
const (
	SigevSignal   = 0
	SigevNone     = 1
	SigevThread   = 2
	SigevThreadID = 4
)

// SigEvent is a decoded struct sigevent.
type SigEvent struct {
	Notify int32
	Signo  int32
	// TID is _sigev_un._tid for SIGEV_THREAD_ID.
	TID ThreadID
	// Value is sigev_value, passed back in si_value.
	Value uint64
}

// cpuTickPeriod is how often a process with a CPU timer armed has its
// running tasks interrupted so that their CPU time is accounted and
// checked (Linux checks at every scheduler tick).
const cpuTickPeriod = 4 * time.Millisecond

// minHostTimerPeriod bounds how often a periodic timer's Go timer fires;
// expirations in between are counted, not lost (see expireLocked).
const minHostTimerPeriod = 50 * time.Microsecond

// Timer is an interval timer of a process.
type Timer struct {
	k     *Kernel
	clock Clock
	// owner is the process the timer belongs to.
	owner *ThreadGroup

	// Immutable after creation: how the timer notifies.
	id     int32 // POSIX timer id; -1 for an itimer
	notify int32 // SigevSignal, SigevNone or SigevThreadID
	signo  int32
	target *Task // SIGEV_THREAD_ID's thread
	value  uint64
	// legacy marks an itimer: its signal has si_code SI_KERNEL and each
	// expiry sends one (a pending one absorbs it); there is no overrun.
	legacy bool

	mu sync.Mutex
	// The fields below are protected by mu.
	armed    bool
	deadline int64 // clock time of the next expiry, when armed
	interval int64 // 0 for a one-shot timer
	host     *time.Timer
	// seq is bumped whenever the timer is set, so that a Go timer that
	// fires for an older setting does nothing.
	seq uint64
	// queued is set while the timer's last signal may still be pending;
	// queuedOverrun is the si_overrun written in it. Expirations while it
	// is pending add to its si_overrun instead of queueing another signal
	// (Linux: send_sigqueue on an already queued timer signal).
	queued        bool
	queuedOverrun int64
	// overrunLast is timer_getoverrun's answer: the si_overrun of the last
	// signal that left the queue.
	overrunLast int64
	dead        bool // deleted, or its process exited
}

// groupTimers are a process' timers, and the CPU timers that count its
// CPU time.
type groupTimers struct {
	mu sync.Mutex
	// The fields below are protected by mu.
	posix  map[int32]*Timer
	nextID int32
	// itimers are ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF, created on
	// first use.
	itimers [3]*Timer
	// cpu holds the armed timers whose clock is this process' CPU clock or
	// one of its threads' (they may belong to another process).
	cpu map[*Timer]struct{}

	// cpuArmed is len(cpu) > 0: with RLIMIT_CPU, the run loop's guard.
	cpuArmed atomic.Bool
	// ticking is set while the process' CPU ticker goroutine runs.
	ticking atomic.Bool
}

// cpuTimersArmed reports whether the run loop must check CPU timers: one
// or two atomic loads.
func (tg *ThreadGroup) cpuTimersArmed() bool {
	return tg.timers.cpuArmed.Load() || tg.limits.cpuLimited.Load()
}

// newTimer makes a disarmed timer.
func (tg *ThreadGroup) newTimer(c Clock, id int32, ev SigEvent, target *Task, legacy bool) *Timer {
	return &Timer{
		k:      tg.k,
		clock:  c,
		owner:  tg,
		id:     id,
		notify: ev.Notify,
		signo:  ev.Signo,
		target: target,
		value:  ev.Value,
		legacy: legacy,
	}
}

// cpuGroup returns the process whose CPU time drives tm, or nil for a host
// clock.
func (tm *Timer) cpuGroup() *ThreadGroup {
	switch {
	case tm.clock.t != nil:
		return tm.clock.t.tg
	case tm.clock.tg != nil:
		return tm.clock.tg
	}
	return nil
}

// set arms (value > 0) or disarms the timer and returns the old setting.
// value is relative to now, or absolute when abs is set; both are in the
// timer's clock. now must have been read by the caller (no locks held).
func (tm *Timer) set(now, value, interval int64, abs bool) (oldValue, oldInterval int64) {
	tm.mu.Lock()
	oldValue, oldInterval = tm.getLocked(now)
	tm.seq++
	if tm.host != nil {
		tm.host.Stop()
		tm.host = nil
	}
	tm.overrunLast = 0
	if tm.dead {
		tm.mu.Unlock()
		return
	}
	tm.armed = value > 0
	if !tm.armed && !(tm.legacy && tm.clock.IsCPU()) {
		// Linux keeps the interval of a disarmed ITIMER_VIRTUAL or
		// ITIMER_PROF (getitimer shows it), of no other timer.
		interval = 0
	}
	tm.interval = interval
	if abs {
		tm.deadline = value
	} else {
		tm.deadline = addSat(now, value)
	}
	armed := tm.armed && tm.notify != SigevNone
	if armed && !tm.clock.IsCPU() {
		tm.scheduleLocked(now)
	}
	tm.mu.Unlock()
	if g := tm.cpuGroup(); g != nil {
		g.timers.registerCPU(tm, armed)
	}
	return
}

// get returns the time to the next expiry (0 when disarmed) and the
// interval, as timer_gettime and getitimer report them.
func (tm *Timer) get(now int64) (value, interval int64) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.getLocked(now)
}

func (tm *Timer) getLocked(now int64) (value, interval int64) {
	if !tm.armed {
		return 0, tm.interval
	}
	if tm.interval > 0 && now >= tm.deadline && tm.notify == SigevNone {
		// Never signalled: the next expiry is the first one after now
		// (Linux forwards it too).
		n := 1 + (now-tm.deadline)/tm.interval
		tm.deadline = addSat(tm.deadline, mulSat(n, tm.interval))
	}
	rem := tm.deadline - now
	if rem <= 0 {
		switch {
		case tm.notify == SigevNone && tm.interval == 0:
			// An expired one-shot SIGEV_NONE timer reads as disarmed.
			tm.armed = false
			return 0, 0
		case tm.legacy && tm.clock.IsCPU():
			rem = tickNS // Linux: "about to fire"
		case tm.legacy:
			rem = int64(time.Microsecond)
		default:
			rem = 1
		}
	}
	return rem, tm.interval
}

// scheduleLocked starts the Go timer for the next expiry of a host-clock
// timer. Preconditions: tm.mu is locked.
func (tm *Timer) scheduleLocked(now int64) {
	d := time.Duration(tm.deadline - now)
	if d < 0 {
		d = 0
	}
	if tm.interval > 0 && d < minHostTimerPeriod {
		d = minHostTimerPeriod
	}
	seq := tm.seq
	tm.host = time.AfterFunc(d, func() { tm.hostFire(seq) })
}

// hostFire runs when a host-clock timer's Go timer fires.
func (tm *Timer) hostFire(seq uint64) {
	now := tm.clock.Now()
	tm.mu.Lock()
	if seq != tm.seq || !tm.armed || tm.dead {
		tm.mu.Unlock()
		return
	}
	tm.host = nil
	if now < tm.deadline {
		// Early: the Go timer runs on CLOCK_MONOTONIC, the timer's clock
		// may run a little slower (REALTIME being slewed).
		tm.scheduleLocked(now)
		tm.mu.Unlock()
		return
	}
	n := tm.expireLocked(now)
	if tm.armed {
		tm.scheduleLocked(now)
	}
	tm.mu.Unlock()
	tm.notifyExpired(n)
}

// expireLocked records the expirations up to now (the deadline has
// passed) and returns how many there were. Periodic timers move to the
// first deadline after now. Preconditions: tm.mu is locked; now >=
// tm.deadline.
func (tm *Timer) expireLocked(now int64) int64 {
	n := int64(1)
	if tm.interval > 0 {
		n += (now - tm.deadline) / tm.interval
		next := addSat(tm.deadline, mulSat(n, tm.interval))
		if next == maxTime {
			tm.armed = false
		}
		tm.deadline = next
	} else {
		tm.armed = false
	}
	return n
}

// infoLocked builds the timer's siginfo. Preconditions: tm.mu is locked.
func (tm *Timer) infoLocked() abi.SignalInfo {
	info := abi.SignalInfo{Signo: tm.signo}
	if tm.legacy {
		info.Code = abi.SI_KERNEL
		return info
	}
	info.Code = abi.SI_TIMER
	info.SetTimerID(tm.id)
	info.SetValue(tm.value)
	return info
}

// notifyExpired sends the timer's signal for n expirations. An itimer
// sends a plain signal (a pending one absorbs it). A POSIX timer whose
// last signal is still pending adds n to that signal's si_overrun;
// otherwise it queues a new one with the n-1 expirations missed since the
// deadline. It takes Kernel.mu and holds no timer lock on entry.
func (tm *Timer) notifyExpired(n int64) {
	if tm.notify == SigevNone || n <= 0 {
		return
	}
	k := tm.k
	if tm.legacy {
		info := abi.SignalInfo{Signo: tm.signo, Code: abi.SI_KERNEL}
		k.SendSignalToGroup(tm.owner, &info)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.dead {
		return
	}
	if e := tm.queuedLocked(); e != nil {
		tm.queuedOverrun = overrunSat(tm.queuedOverrun + n)
		e.SetOverrun(int32(tm.queuedOverrun))
		return
	}
	tm.settleLocked()
	if tm.target != nil {
		if _, ok := tm.owner.tasks[tm.target]; !ok {
			return // the thread is gone: Linux drops the signal too
		}
	}
	info := tm.infoLocked()
	info.SetOverrun(int32(overrunSat(n - 1)))
	k.sendSignalLocked(tm.owner, tm.target, &info, false)
	if tm.queuedLocked() != nil {
		tm.queued, tm.queuedOverrun = true, overrunSat(n-1)
	}
}

// queuedLocked returns the siginfo of the timer's signal if it is still
// pending in its target's queue. Preconditions: Kernel.mu and tm.mu are
// locked.
func (tm *Timer) queuedLocked() *abi.SignalInfo {
	q := &tm.owner.pending
	if tm.target != nil {
		q = &tm.target.sig.pending
	}
	for i := range q.q {
		info := &q.q[i].info
		if info.Signo == tm.signo && info.Code == abi.SI_TIMER && info.TimerID() == tm.id {
			return info
		}
	}
	return nil
}

// settleLocked notes that the timer's last signal has left the queue
// (delivered, or taken by sigwait): its si_overrun becomes
// timer_getoverrun's answer. Preconditions: Kernel.mu and tm.mu are
// locked; the signal is not in the queue.
func (tm *Timer) settleLocked() {
	if tm.queued {
		tm.overrunLast = tm.queuedOverrun
		tm.queued = false
	}
}

// overrun returns timer_getoverrun's answer.
func (tm *Timer) overrun() int32 {
	tm.k.mu.Lock()
	defer tm.k.mu.Unlock()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.queued && tm.queuedLocked() == nil {
		tm.settleLocked()
	}
	return int32(tm.overrunLast)
}

// overrunSat clamps an overrun count to DELAYTIMER_MAX (INT_MAX).
func overrunSat(n int64) int64 {
	if n > 1<<31-1 || n < 0 {
		return 1<<31 - 1
	}
	return n
}

// stop disarms the timer for good (timer_delete, process exit).
func (tm *Timer) stop() {
	tm.mu.Lock()
	tm.dead = true
	tm.armed = false
	tm.seq++
	if tm.host != nil {
		tm.host.Stop()
		tm.host = nil
	}
	tm.mu.Unlock()
}

// mulSat returns a*b for non-negative a and b, saturated at maxTime.
func mulSat(a, b int64) int64 {
	if a != 0 && b > maxTime/a {
		return maxTime
	}
	return a * b
}

// registerCPU adds tm to (armed) or removes it from the CPU timers that
// count this process' CPU time.
func (gt *groupTimers) registerCPU(tm *Timer, armed bool) {
	gt.mu.Lock()
	if armed {
		if gt.cpu == nil {
			gt.cpu = make(map[*Timer]struct{})
		}
		gt.cpu[tm] = struct{}{}
	} else {
		delete(gt.cpu, tm)
	}
	gt.cpuArmed.Store(len(gt.cpu) > 0)
	gt.mu.Unlock()
}

// taskExited is the exit hook's timer part: a thread CPU timer of t can
// never fire again, and when the process is gone all its timers stop.
// Preconditions: Kernel.mu is locked.
func (gt *groupTimers) taskExited(t *Task, last bool) {
	var stop []*Timer
	gt.mu.Lock()
	for tm := range gt.cpu {
		if tm.clock.t == t || last {
			delete(gt.cpu, tm)
		}
	}
	gt.cpuArmed.Store(len(gt.cpu) > 0)
	if last {
		for id, tm := range gt.posix {
			stop = append(stop, tm)
			delete(gt.posix, id)
		}
		for _, tm := range gt.itimers {
			if tm != nil {
				stop = append(stop, tm)
			}
		}
	}
	gt.mu.Unlock()
	for _, tm := range stop {
		tm.stop()
	}
}

// deletePOSIXTimers deletes the process' POSIX timers: execve does it
// (itimers survive an exec).
func (tg *ThreadGroup) deletePOSIXTimers() {
	gt := &tg.timers
	gt.mu.Lock()
	timers := make([]*Timer, 0, len(gt.posix))
	for id, tm := range gt.posix {
		timers = append(timers, tm)
		delete(gt.posix, id)
	}
	gt.mu.Unlock()
	for _, tm := range timers {
		tm.stop()
		if g := tm.cpuGroup(); g != nil {
			g.timers.registerCPU(tm, false)
		}
	}
}

// checkCPUTimers fires the CPU timers of t's process (and of t) whose
// clocks have passed their deadline, and enforces RLIMIT_CPU. The run
// loop calls it between two switches to application code when
// cpuTimersArmed.
func (t *Task) checkCPUTimers() {
	tg := t.tg
	k := t.k
	if tg.timers.ticking.CompareAndSwap(false, true) {
		go tg.cpuTicker()
	}
	self := t.usage()
	k.mu.Lock()
	group := tg.selfUsageLocked()
	k.mu.Unlock()

	if tg.timers.cpuArmed.Load() {
		tg.timers.mu.Lock()
		due := make([]*Timer, 0, len(tg.timers.cpu))
		for tm := range tg.timers.cpu {
			if tm.clock.t == nil || tm.clock.t == t {
				due = append(due, tm)
			}
		}
		tg.timers.mu.Unlock()
		for _, tm := range due {
			u := group
			if tm.clock.t != nil {
				u = self
			}
			now := cpuClockValue(tm.clock.which, u)
			tm.mu.Lock()
			if !tm.armed || tm.dead {
				tm.mu.Unlock()
				tg.timers.registerCPU(tm, false)
				continue
			}
			if now < tm.deadline {
				tm.mu.Unlock()
				continue
			}
			n := tm.expireLocked(now)
			armed := tm.armed
			tm.mu.Unlock()
			if !armed {
				tg.timers.registerCPU(tm, false)
			}
			tm.notifyExpired(n)
		}
	}
	if tg.limits.cpuLimited.Load() {
		tg.checkRlimitCPU(int64(group.User + group.Sys))
	}
}

// checkRlimitCPU enforces RLIMIT_CPU for a process that has used prof ns
// of CPU time: SIGKILL at the hard limit; SIGXCPU at the soft limit, after
// which the soft limit moves on by a second so that SIGXCPU comes again
// every second (Linux: check_process_timers).
func (tg *ThreadGroup) checkRlimitCPU(prof int64) {
	lim := tg.limits.Get(unix.RLIMIT_CPU)
	secs := uint64(prof / int64(time.Second))
	if lim.Max != Infinity && secs >= lim.Max {
		info := abi.SignalInfo{Signo: int32(unix.SIGKILL), Code: abi.SI_KERNEL}
		tg.k.SendSignalToGroup(tg, &info)
		return
	}
	if lim.Cur != Infinity && secs >= lim.Cur {
		if lim.Cur < lim.Max {
			lim.Cur++
			tg.limits.Set(unix.RLIMIT_CPU, lim)
		}
		info := abi.SignalInfo{Signo: int32(unix.SIGXCPU), Code: abi.SI_KERNEL}
		tg.k.SendSignalToGroup(tg, &info)
	}
}

// cpuTicker interrupts tg's tasks every cpuTickPeriod while it has CPU
// timers armed, so that tasks spinning in application code return to the
// run loop to be accounted and checked.
func (tg *ThreadGroup) cpuTicker() {
	tick := time.NewTicker(cpuTickPeriod)
	defer tick.Stop()
	for range tick.C {
		if !tg.kickTasks() {
			tg.timers.ticking.Store(false)
			// Armed again meanwhile by a task that saw ticking set?
			if tg.kickTasks() && tg.timers.ticking.CompareAndSwap(false, true) {
				continue
			}
			return
		}
	}
}

// kickTasks interrupts the tasks of tg that run application code, if tg
// has live tasks and CPU timers armed; it reports whether it did.
func (tg *ThreadGroup) kickTasks() bool {
	k := tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(tg.tasks) == 0 || !tg.cpuTimersArmed() {
		return false
	}
	for t := range tg.tasks {
		if c := t.ctx; c != nil {
			c.Interrupt()
		}
	}
	return true
}
