package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// Linux clock ids (include/uapi/linux/time.h).
const (
	ClockRealtime         = 0
	ClockMonotonic        = 1
	ClockProcessCPUTimeID = 2
	ClockThreadCPUTimeID  = 3
	ClockMonotonicRaw     = 4
	ClockRealtimeCoarse   = 5
	ClockMonotonicCoarse  = 6
	ClockBoottime         = 7
	ClockRealtimeAlarm    = 8
	ClockBoottimeAlarm    = 9
	ClockTAI              = 11
)

// CPU-time clock kinds, the low two bits of a CPU clock id (Linux:
// CPUCLOCK_PROF, CPUCLOCK_VIRT, CPUCLOCK_SCHED). Bit 2 marks a thread
// clock; the rest is ~pid << 3 (MAKE_PROCESS_CPUCLOCK).
const (
	cpuClockProf      = 0
	cpuClockVirt      = 1
	cpuClockSched     = 2
	cpuClockPerThread = 4
)

// tickNS is the length of a scheduler tick of the Linux the sandbox
// imitates (HZ=250): the resolution of the coarse clocks and of the
// PROF/VIRT CPU clocks.
const tickNS = int64(time.Second / 250)

// Clock is a clock named by a clock id: a host clock the sandbox shares
// (the sandbox never sets it) or a CPU-time clock of one of its threads or
// processes. Clocks are values; a CPU clock keeps its thread or process
// alive only as a pointer (its time freezes when it exits).
type Clock struct {
	// id is the Linux clock id the clock was named by.
	id int32
	// host is the host clock id read for host clocks, -1 for CPU clocks.
	host int32
	// which is a CPU clock's kind (cpuClockProf/Virt/Sched).
	which int
	// tg is a process CPU clock's process; t a thread CPU clock's thread.
	tg *ThreadGroup
	t  *Task
}

// ClockByID resolves a clock id as clock_gettime(2) and timer_create(2) do,
// including the CPU clocks of other threads and processes
// (MAKE_PROCESS_CPUCLOCK/MAKE_THREAD_CPUCLOCK). A thread clock must name a
// thread of the caller's process; a process clock a live or zombie
// process. gettime relaxes the latter like Linux: clock_gettime may name
// the process by the tid of the calling thread. Unknown or dead clocks
// are EINVAL.
func (t *Task) ClockByID(id int32, gettime bool) (Clock, error) {
	switch id {
	case ClockRealtime, ClockMonotonic, ClockMonotonicRaw, ClockRealtimeCoarse,
		ClockMonotonicCoarse, ClockBoottime, ClockTAI:
		return Clock{id: id, host: id}, nil
	case ClockRealtimeAlarm:
		return Clock{id: id, host: ClockRealtime}, nil
	case ClockBoottimeAlarm:
		return Clock{id: id, host: ClockBoottime}, nil
	case ClockProcessCPUTimeID:
		return Clock{id: id, host: -1, which: cpuClockSched, tg: t.tg}, nil
	case ClockThreadCPUTimeID:
		return Clock{id: id, host: -1, which: cpuClockSched, t: t}, nil
	}
	if id >= 0 {
		return Clock{}, unix.EINVAL
	}
	which := int(id & 3)
	if which == 3 {
		// 3 is not a CPU clock kind; with bit 2 clear it would name a
		// dynamic (PTP) clock descriptor, which the sandbox has none of.
		return Clock{}, unix.EINVAL
	}
	pid := ThreadID(^(id >> 3))
	c := Clock{id: id, host: -1, which: which}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if id&cpuClockPerThread != 0 {
		if pid == 0 {
			c.t = t
			return c, nil
		}
		o := t.ns.tasks[pid]
		if o == nil || o.tg != t.tg {
			return Clock{}, unix.EINVAL
		}
		c.t = o
		return c, nil
	}
	switch {
	case pid == 0:
		c.tg = t.tg
	case gettime && pid == t.ids[t.ns.level]:
		c.tg = t.tg
	default:
		c.tg = t.ns.groups[pid]
		if c.tg == nil {
			return Clock{}, unix.EINVAL
		}
	}
	return c, nil
}

// ID returns the clock id the clock was named by.
func (c Clock) ID() int32 { return c.id }

// IsCPU reports whether c is a CPU-time clock.
func (c Clock) IsCPU() bool { return c.host < 0 }

// IsThreadCPU reports whether c is a thread's CPU-time clock.
func (c Clock) IsThreadCPU() bool { return c.t != nil }

// Thread returns a thread CPU clock's thread.
func (c Clock) Thread() *Task { return c.t }

// IsAlarm reports whether c is one of the _ALARM clocks, whose timers and
// sleeps need CAP_WAKE_ALARM.
func (c Clock) IsAlarm() bool { return c.id == ClockRealtimeAlarm || c.id == ClockBoottimeAlarm }

// CanSleepOn reports whether clock_nanosleep and timers accept c (the raw
// and coarse clocks have neither: EOPNOTSUPP).
func (c Clock) CanSleepOn() bool {
	switch c.id {
	case ClockMonotonicRaw, ClockRealtimeCoarse, ClockMonotonicCoarse:
		return false
	}
	return true
}

// Now returns the clock's time in nanoseconds. For a process CPU clock it
// takes Kernel.mu: callers must not hold it or any timer lock.
func (c Clock) Now() int64 {
	if c.host >= 0 {
		return hostNow(c.host)
	}
	var u Usage
	if c.t != nil {
		u = c.t.usage()
	} else {
		c.tg.k.mu.Lock()
		u = c.tg.selfUsageLocked()
		c.tg.k.mu.Unlock()
	}
	return cpuClockValue(c.which, u)
}

// cpuClockValue is the reading of a CPU clock of kind which for usage u.
func cpuClockValue(which int, u Usage) int64 {
	if which == cpuClockVirt {
		return int64(u.User)
	}
	return int64(u.User + u.Sys)
}

// Resolution returns clock_getres(2)'s answer in nanoseconds.
func (c Clock) Resolution() int64 {
	switch {
	case c.id == ClockRealtimeCoarse || c.id == ClockMonotonicCoarse:
		return tickNS
	case c.IsCPU() && c.which != cpuClockSched:
		return tickNS
	}
	return 1
}

// hostNow reads host clock id in nanoseconds.
func hostNow(id int32) int64 {
	var ts unix.Timespec
	if unix.ClockGettime(id, &ts) != nil {
		return 0
	}
	return ts.Nano()
}

// addSat returns a+b for non-negative b, saturated at the largest int64
// (Linux's KTIME_MAX): huge timer values never wrap.
func addSat(a, b int64) int64 {
	if b > 0 && a > maxTime-b {
		return maxTime
	}
	return a + b
}

// maxTime is the largest time in nanoseconds (KTIME_MAX).
const maxTime = int64(^uint64(0) >> 1)
