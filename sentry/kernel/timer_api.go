package kernel

import (
	"golang.org/x/sys/unix"
)

// The syscall-facing side of the timers (timer.go): itimers and POSIX
// timers. Times are nanoseconds of the timer's clock; the syscall layer
// validates and converts timespecs and timevals, saturating huge values.

// itimer kinds of setitimer(2).
const (
	ITimerReal    = 0
	ITimerVirtual = 1
	ITimerProf    = 2
)

// Capabilities checked here (include/uapi/linux/capability.h).
const (
	capSysTime    = 25
	capWakeAlarm  = 35
	maxPOSIXTimer = 1<<31 - 1
)

// itimer returns the process' itimer which, creating it on first use.
func (t *Task) itimer(which int) *Timer {
	tg := t.tg
	gt := &tg.timers
	gt.mu.Lock()
	defer gt.mu.Unlock()
	if tm := gt.itimers[which]; tm != nil {
		return tm
	}
	var (
		c   Clock
		sig unix.Signal
	)
	switch which {
	case ITimerReal:
		// Linux runs ITIMER_REAL on CLOCK_MONOTONIC.
		c, sig = Clock{id: ClockMonotonic, host: ClockMonotonic}, unix.SIGALRM
	case ITimerVirtual:
		c, sig = Clock{id: -1, host: -1, which: cpuClockVirt, tg: tg}, unix.SIGVTALRM
	default:
		c, sig = Clock{id: -1, host: -1, which: cpuClockProf, tg: tg}, unix.SIGPROF
	}
	tm := tg.newTimer(c, -1, SigEvent{Notify: SigevSignal, Signo: int32(sig)}, nil, true)
	gt.itimers[which] = tm
	return tm
}

// GetITimer implements getitimer(2): the time to the next expiry and the
// interval of itimer which (ITimerReal, ITimerVirtual, ITimerProf).
func (t *Task) GetITimer(which int) (value, interval int64, err error) {
	if which < ITimerReal || which > ITimerProf {
		return 0, 0, unix.EINVAL
	}
	tm := t.itimer(which)
	value, interval = tm.get(tm.clock.Now())
	return value, interval, nil
}

// SetITimer implements setitimer(2) and alarm(2): it arms itimer which
// value ns from now (0 disarms) and returns the old setting.
func (t *Task) SetITimer(which int, value, interval int64) (oldValue, oldInterval int64, err error) {
	if which < ITimerReal || which > ITimerProf {
		return 0, 0, unix.EINVAL
	}
	tm := t.itimer(which)
	if which != ITimerReal && value > 0 {
		// Linux adds a tick to a CPU itimer, so that it never fires
		// early for the time already spent in the current tick.
		value = addSat(value, tickNS)
	}
	oldValue, oldInterval = tm.set(tm.clock.Now(), value, interval, false)
	return oldValue, oldInterval, nil
}

// TimerCreate implements timer_create(2) on clock c. A nil ev is the
// default: SIGALRM to the process with the timer id as si_value.
func (t *Task) TimerCreate(c Clock, ev *SigEvent) (int32, error) {
	if !c.CanSleepOn() {
		return 0, unix.EOPNOTSUPP
	}
	var target *Task
	if ev != nil {
		switch ev.Notify {
		case SigevThreadID:
			target = t.ns.TaskWithID(ev.TID)
			if target == nil || target.tg != t.tg {
				return 0, unix.EINVAL
			}
			fallthrough
		case SigevSignal, SigevThread:
			if !ValidSignal(int(ev.Signo)) {
				return 0, unix.EINVAL
			}
		case SigevNone:
		default:
			return 0, unix.EINVAL
		}
	}
	if c.IsAlarm() && !t.Credentials().HasCapability(capWakeAlarm) {
		return 0, unix.EPERM
	}
	tg := t.tg
	gt := &tg.timers
	max := tg.limits.Get(unix.RLIMIT_SIGPENDING).Cur
	gt.mu.Lock()
	defer gt.mu.Unlock()
	if uint64(len(gt.posix)) >= max || len(gt.posix) >= maxPOSIXTimer {
		return 0, unix.EAGAIN
	}
	if gt.posix == nil {
		gt.posix = make(map[int32]*Timer)
	}
	id := gt.nextID
	for {
		if _, used := gt.posix[id]; !used {
			break
		}
		id++
		if id < 0 {
			id = 0
		}
	}
	gt.nextID = id + 1
	if gt.nextID < 0 {
		gt.nextID = 0
	}
	e := SigEvent{Notify: SigevSignal, Signo: int32(unix.SIGALRM), Value: uint64(id)}
	if ev != nil {
		e = *ev
		if e.Notify == SigevThread {
			// The kernel treats SIGEV_THREAD like SIGEV_SIGNAL (libc
			// implements the thread).
			e.Notify = SigevSignal
		}
	}
	gt.posix[id] = tg.newTimer(c, id, e, target, false)
	return id, nil
}

// posixTimer returns the caller's process' timer id, or EINVAL.
func (t *Task) posixTimer(id int32) (*Timer, error) {
	gt := &t.tg.timers
	gt.mu.Lock()
	defer gt.mu.Unlock()
	tm := gt.posix[id]
	if tm == nil {
		return nil, unix.EINVAL
	}
	return tm, nil
}

// TimerSettime implements timer_settime(2): it arms timer id at value
// (relative, or absolute in the timer's clock when abs is set; 0
// disarms) with interval, and returns the old setting.
func (t *Task) TimerSettime(id int32, abs bool, value, interval int64) (oldValue, oldInterval int64, err error) {
	tm, err := t.posixTimer(id)
	if err != nil {
		return 0, 0, err
	}
	oldValue, oldInterval = tm.set(tm.clock.Now(), value, interval, abs)
	return oldValue, oldInterval, nil
}

// TimerGettime implements timer_gettime(2).
func (t *Task) TimerGettime(id int32) (value, interval int64, err error) {
	tm, err := t.posixTimer(id)
	if err != nil {
		return 0, 0, err
	}
	value, interval = tm.get(tm.clock.Now())
	return value, interval, nil
}

// TimerGetoverrun implements timer_getoverrun(2): the overrun count of
// the timer's last delivered signal.
func (t *Task) TimerGetoverrun(id int32) (int32, error) {
	tm, err := t.posixTimer(id)
	if err != nil {
		return 0, err
	}
	return tm.overrun(), nil
}

// TimerDelete implements timer_delete(2).
func (t *Task) TimerDelete(id int32) error {
	gt := &t.tg.timers
	gt.mu.Lock()
	tm := gt.posix[id]
	delete(gt.posix, id)
	gt.mu.Unlock()
	if tm == nil {
		return unix.EINVAL
	}
	tm.stop()
	if g := tm.cpuGroup(); g != nil {
		g.timers.registerCPU(tm, false)
	}
	return nil
}

// CanSetTime reports whether the caller may set the system clock
// (CAP_SYS_TIME); the sandbox still never sets the host's.
func (t *Task) CanSetTime() bool { return t.Credentials().HasCapability(capSysTime) }

// CanWakeAlarm reports whether the caller may use the _ALARM clocks
// (CAP_WAKE_ALARM).
func (t *Task) CanWakeAlarm() bool { return t.Credentials().HasCapability(capWakeAlarm) }
