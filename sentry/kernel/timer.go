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
// Lock order: Kernel.mu, then groupTimers.mu, then Timer.mu. Neither
// timer lock is held while reading a process CPU clock (it takes
// Kernel.mu) or while sending a signal.

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
	// pending is set while the timer's signal is queued and not yet
	// delivered; expirations meanwhile are overruns. A host timer stops
	// while its signal is pending and catches up when it is delivered.
	pending     bool
	overrun     int64 // expirations not signalled since the pending signal
	overrunLast int64 // timer_getoverrun: the last delivered signal's overrun
	dead        bool  // deleted, or its process exited
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
	tm.overrun, tm.overrunLast = 0, 0
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
	if armed && !tm.clock.IsCPU() && !tm.pending {
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
	if tm.interval > 0 && now >= tm.deadline && (tm.pending || tm.notify == SigevNone) {
		// Stopped behind a pending signal, or never signalled: the next
		// expiry is the first one after now (Linux forwards it too).
		n := 1 + (now-tm.deadline)/tm.interval
		if tm.pending {
			tm.overrun = addSat(tm.overrun, n)
		}
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
	send := tm.expireLocked(now)
	if tm.armed && (tm.legacy || !tm.pending) {
		tm.scheduleLocked(now)
	}
	info := tm.infoLocked()
	tm.mu.Unlock()
	if send {
		tm.sendSignal(&info)
	}
}

// expireLocked records the expirations up to now (the deadline has
// passed) and reports whether a signal must be sent. Periodic timers move
// to the first deadline after now; the expirations skipped are overruns.
// Preconditions: tm.mu is locked; now >= tm.deadline.
func (tm *Timer) expireLocked(now int64) bool {
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
	if tm.notify == SigevNone {
		return false
	}
	if tm.legacy {
		return true
	}
	if tm.pending {
		tm.overrun = addSat(tm.overrun, n)
		return false
	}
	tm.overrun = addSat(tm.overrun, n-1)
	tm.pending = true
	return true
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

// sendSignal queues the timer's signal. It holds no timer lock.
func (tm *Timer) sendSignal(info *abi.SignalInfo) {
	var err error
	if tm.target != nil {
		err = tm.k.SendSignalToTask(tm.target, info)
	} else {
		err = tm.k.SendSignalToGroup(tm.owner, info)
	}
	if !tm.legacy && (err != nil || !timerSignalQueued) {
		// Not queued: nothing will report its delivery, so the timer
		// must not wait for it.
		tm.delivered(info)
	}
}

// timerSignalQueued is false while SendSignalToGroup/SendSignalToTask do
// not queue signals (signal_api.go's placeholders): a timer then takes its
// signal as delivered at once.
const timerSignalQueued = false

// TimerSignalDelivered is called by signal delivery when it dequeues a
// signal with si_code SI_TIMER for a task of tg (so before the handler's
// frame is built): it fills in si_overrun and lets the timer go on, as
// Linux's posixtimer_rearm does. A signal of a deleted timer is left as
// is.
func (tg *ThreadGroup) TimerSignalDelivered(info *abi.SignalInfo) {
	tg.timers.mu.Lock()
	tm := tg.timers.posix[info.TimerID()]
	tg.timers.mu.Unlock()
	if tm != nil {
		tm.delivered(info)
	}
}

// delivered records that the timer's pending signal reached the
// application and sets its si_overrun.
func (tm *Timer) delivered(info *abi.SignalInfo) {
	var now int64
	if !tm.clock.IsCPU() {
		now = tm.clock.Now()
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if !tm.pending {
		return
	}
	tm.pending = false
	if tm.armed && !tm.clock.IsCPU() && !tm.dead {
		// A host timer stopped behind its signal: count what it missed
		// and start it again.
		if now >= tm.deadline && tm.interval > 0 {
			n := 1 + (now-tm.deadline)/tm.interval
			tm.overrun = addSat(tm.overrun, n)
			tm.deadline = addSat(tm.deadline, mulSat(n, tm.interval))
		}
		if tm.host == nil {
			tm.scheduleLocked(now)
		}
	}
	o := tm.overrun
	if o > 1<<31-1 {
		o = 1<<31 - 1 // DELAYTIMER_MAX
	}
	info.SetOverrun(int32(o))
	tm.overrunLast = o
	tm.overrun = 0
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
			send := tm.expireLocked(now)
			armed := tm.armed
			info := tm.infoLocked()
			tm.mu.Unlock()
			if !armed {
				tg.timers.registerCPU(tm, false)
			}
			if send {
				tm.sendSignal(&info)
			}
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
