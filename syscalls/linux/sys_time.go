package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

func registerTime(t *kernel.SyscallTable) {
	t.Register(unix.SYS_CLOCK_GETTIME, clockGettime)
	t.Register(unix.SYS_CLOCK_GETRES, clockGetres)
	t.Register(unix.SYS_CLOCK_SETTIME, clockSettime)
	t.Register(unix.SYS_GETTIMEOFDAY, gettimeofday)
	t.Register(unix.SYS_SETTIMEOFDAY, settimeofday)
	t.Register(unix.SYS_TIME, timeSyscall)
	t.Register(unix.SYS_NANOSLEEP, nanosleep)
	t.Register(unix.SYS_CLOCK_NANOSLEEP, clockNanosleep)
	t.Register(unix.SYS_TIMES, times)
	t.Register(unix.SYS_GETRUSAGE, getrusage)
	t.Register(unix.SYS_ALARM, alarm)
	t.Register(unix.SYS_GETITIMER, getitimer)
	t.Register(unix.SYS_SETITIMER, setitimer)
	registerTimer(t)
}

// maxNS is the largest time in nanoseconds; larger values saturate to it
// (Linux: KTIME_MAX).
const maxNS = int64(^uint64(0) >> 1)

// toNS converts seconds and a sub-second part in nanoseconds, saturating.
func toNS(sec, nsec int64) int64 {
	if sec > (maxNS-nsec)/int64(time.Second) {
		return maxNS
	}
	return sec*int64(time.Second) + nsec
}

// timespecNS decodes a struct timespec at b (16 bytes): EINVAL unless
// tv_sec >= 0 and 0 <= tv_nsec < 1e9 (Linux: timespec64_valid).
func timespecNS(b []byte) (int64, error) {
	sec := int64(binary.LittleEndian.Uint64(b[0:]))
	nsec := int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= int64(time.Second) {
		return 0, unix.EINVAL
	}
	return toNS(sec, nsec), nil
}

// timevalNS decodes a struct timeval at b (16 bytes): EINVAL unless
// tv_sec >= 0 and 0 <= tv_usec < 1e6.
func timevalNS(b []byte) (int64, error) {
	sec := int64(binary.LittleEndian.Uint64(b[0:]))
	usec := int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || usec < 0 || usec >= int64(time.Second/time.Microsecond) {
		return 0, unix.EINVAL
	}
	return toNS(sec, usec*int64(time.Microsecond)), nil
}

func putTimespec(b []byte, ns int64) {
	binary.LittleEndian.PutUint64(b[0:], uint64(ns/int64(time.Second)))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%int64(time.Second)))
}

// putTimeval encodes ns as a struct timeval, truncating to microseconds
// like Linux.
func putTimeval(b []byte, ns int64) {
	binary.LittleEndian.PutUint64(b[0:], uint64(ns/int64(time.Second)))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%int64(time.Second)/int64(time.Microsecond)))
}

// copyInTimespec reads a struct timespec as a duration (saturated; EINVAL
// when invalid). Other syscall files (futex) use it too.
func copyInTimespec(t *kernel.Task, addr uint64) (time.Duration, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	ns, err := timespecNS(b[:])
	return time.Duration(ns), err
}

// monotonicNow reads the host's CLOCK_MONOTONIC (the sandbox shares it).
func monotonicNow() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

func copyOutTimespec(t *kernel.Task, addr uint64, ns int64) error {
	var b [16]byte
	putTimespec(b[:], ns)
	_, err := t.CopyOut(addr, b[:])
	return err
}

func clockGettime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	c, err := t.ClockByID(a[0].Int(), true)
	if err != nil {
		return 0, err
	}
	if ns, ok := t.Kernel().AppClockNow(c.ID()); ok {
		return 0, copyOutTimespec(t, a[1].Pointer(), ns)
	}
	return 0, copyOutTimespec(t, a[1].Pointer(), c.Now())
}

// realtimeNow is CLOCK_REALTIME as the application's vDSO reads it, or
// the host's.
func realtimeNow(t *kernel.Task) int64 {
	if ns, ok := t.Kernel().AppClockNow(kernel.ClockRealtime); ok {
		return ns
	}
	return time.Now().UnixNano()
}

func clockGetres(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	c, err := t.ClockByID(a[0].Int(), false)
	if err != nil {
		return 0, err
	}
	if a[1].Pointer() == 0 {
		return 0, nil
	}
	return 0, copyOutTimespec(t, a[1].Pointer(), c.Resolution())
}

// clockSettime never changes the host's clock: only CLOCK_REALTIME is
// settable on Linux, and the sandbox refuses it with EPERM (what an
// unprivileged caller gets) after Linux's own checks. CPU clocks named by
// a MAKE_*_CPUCLOCK id are EPERM, every other clock EINVAL.
func clockSettime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	id := a[0].Int()
	if id >= 0 && id != kernel.ClockRealtime {
		return 0, unix.EINVAL
	}
	var b [16]byte
	if _, err := t.CopyIn(a[1].Pointer(), b[:]); err != nil {
		return 0, err
	}
	c, err := t.ClockByID(id, false)
	if err != nil {
		return 0, err
	}
	if c.IsCPU() {
		return 0, unix.EPERM
	}
	if _, err := timespecNS(b[:]); err != nil {
		return 0, err
	}
	if !t.CanSetTime() {
		return 0, unix.EPERM
	}
	t.Kernel().Warnf("clock_settime(CLOCK_REALTIME) refused: the sandbox never sets the host's clock")
	return 0, unix.EPERM
}

func gettimeofday(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if tv := a[0].Pointer(); tv != 0 {
		var b [16]byte
		putTimeval(b[:], realtimeNow(t))
		if _, err := t.CopyOut(tv, b[:]); err != nil {
			return 0, err
		}
	}
	if tz := a[1].Pointer(); tz != 0 {
		var b [8]byte
		if _, err := t.CopyOut(tz, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// settimeofday validates like Linux and then refuses to set the time
// (EPERM); setting only the time zone, which nothing reads back, is
// accepted from a privileged caller.
func settimeofday(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	tv, tz := a[0].Pointer(), a[1].Pointer()
	if tv != 0 {
		var b [16]byte
		if _, err := t.CopyIn(tv, b[:]); err != nil {
			return 0, err
		}
		if _, err := timevalNS(b[:]); err != nil {
			return 0, err
		}
	}
	if tz != 0 {
		var b [8]byte
		if _, err := t.CopyIn(tz, b[:]); err != nil {
			return 0, err
		}
		if mw := int32(binary.LittleEndian.Uint32(b[:])); mw > 15*60 || mw < -15*60 {
			return 0, unix.EINVAL
		}
	}
	if !t.CanSetTime() || tv != 0 {
		return 0, unix.EPERM
	}
	return 0, nil
}

func timeSyscall(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	now := realtimeNow(t) / 1e9
	if p := a[0].Pointer(); p != 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(now))
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return uintptr(now), nil
}

// sleepRestart is what restart_syscall resumes when a relative sleep was
// interrupted by a signal that ran no handler: the same deadline, and the
// same remaining-time buffer (Linux: hrtimer_nanosleep_restart).
type sleepRestart struct {
	clock    kernel.Clock
	deadline int64
	rem      uint64
}

// Restart resumes the sleep.
func (r *sleepRestart) Restart(t *kernel.Task) (uintptr, error) {
	return sleepUntil(t, r.clock, r.deadline, r.rem)
}

// sleepUntil sleeps on c until deadline. When interrupted, a relative
// sleep (rem != 0 or restartable) writes the time left to rem and asks for
// a restart through restart_syscall, which the run loop turns into EINTR
// when a handler runs.
func sleepUntil(t *kernel.Task, c kernel.Clock, deadline int64, rem uint64) (uintptr, error) {
	if err := t.SleepUntil(c, deadline); err == nil {
		return 0, nil
	}
	if rem != 0 {
		left := deadline - c.Now()
		if left < 0 {
			left = 0
		}
		if err := copyOutTimespec(t, rem, left); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, restartWith(t, &sleepRestart{clock: c, deadline: deadline, rem: rem})
}

// restartWith arranges for restart_syscall to resume r and returns the
// error that asks for it.
func restartWith(t *kernel.Task, r *sleepRestart) error {
	t.SetRestartBlock(r.Restart)
	return kernel.ERESTART_BLOCK
}

func nanosleep(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	d, err := copyInTimespec(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	c, _ := t.ClockByID(kernel.ClockMonotonic, false)
	return sleepUntil(t, c, addNS(c.Now(), int64(d)), a[1].Pointer())
}

func addNS(a, b int64) int64 {
	if a > maxNS-b {
		return maxNS
	}
	return a + b
}

func clockNanosleep(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	id, flags := a[0].Int(), a[1].Int()
	c, err := t.ClockByID(id, false)
	if err != nil {
		return 0, err
	}
	if !c.CanSleepOn() || id == kernel.ClockThreadCPUTimeID {
		return 0, unix.EOPNOTSUPP
	}
	if c.IsAlarm() {
		if flags&^unix.TIMER_ABSTIME != 0 {
			return 0, unix.EINVAL
		}
		if !t.CanWakeAlarm() {
			return 0, unix.EPERM
		}
	}
	d, err := copyInTimespec(t, a[2].Pointer())
	if err != nil {
		return 0, err
	}
	if c.IsThreadCPU() && c.Thread() == t {
		// A thread cannot sleep until its own CPU clock moves.
		return 0, unix.EINVAL
	}
	if flags&unix.TIMER_ABSTIME != 0 {
		if err := t.SleepUntil(c, int64(d)); err != nil {
			// The same absolute deadline: restart the call as it was.
			return 0, kernel.ERESTARTNOHAND
		}
		return 0, nil
	}
	return sleepUntil(t, c, addNS(c.Now(), int64(d)), a[3].Pointer())
}

// userHZ is USER_HZ, the unit of clock_t (times(2), /proc).
const userHZ = 100

// nsToClockT converts nanoseconds to clock ticks, truncating.
func nsToClockT(ns int64) int64 { return ns / int64(time.Second/userHZ) }

func times(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if p := a[0].Pointer(); p != 0 {
		tg := t.ThreadGroup()
		user, sys := tg.CPUUsage()
		ch := tg.ChildrenUsage()
		var b [32]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(nsToClockT(int64(user))))
		binary.LittleEndian.PutUint64(b[8:], uint64(nsToClockT(int64(sys))))
		binary.LittleEndian.PutUint64(b[16:], uint64(nsToClockT(int64(ch.User))))
		binary.LittleEndian.PutUint64(b[24:], uint64(nsToClockT(int64(ch.Sys))))
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	// Linux returns jiffies since boot, started at INITIAL_JIFFIES (five
	// minutes before wrapping a 32-bit counter), in clock ticks.
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	const hz = 250
	const initialJiffies = 1<<32 - 300*hz
	jiffies := uint64(initialJiffies) + uint64(ts.Nano())/uint64(time.Second/hz)
	return uintptr(jiffies * userHZ / hz), nil
}

// getrusage's who values.
const (
	rusageSelf     = 0
	rusageChildren = -1
	rusageThread   = 1
)

func getrusage(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var u kernel.Usage
	switch a[0].Int() {
	case rusageSelf:
		u = t.ThreadGroup().SelfUsage()
	case rusageChildren:
		u = t.ThreadGroup().ChildrenUsage()
	case rusageThread:
		u = t.ThreadUsage()
	default:
		return 0, unix.EINVAL
	}
	var b [144]byte
	PutRusage(b[:], u)
	_, err := t.CopyOut(a[1].Pointer(), b[:])
	return 0, err
}

// PutRusage encodes u as a struct rusage (144 bytes); wait4 uses it too.
// Counters the sandbox does not track are zero.
func PutRusage(b []byte, u kernel.Usage) {
	clear(b[:144])
	putTimeval(b[0:], int64(u.User))
	putTimeval(b[16:], int64(u.Sys))
	binary.LittleEndian.PutUint64(b[32:], u.MaxRSS/1024) // ru_maxrss, KiB
}

func alarm(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	secs := int64(a[0].Uint())
	old, _, err := t.SetITimer(kernel.ITimerReal, secs*int64(time.Second), 0)
	if err != nil {
		return 0, err
	}
	// Linux rounds the old alarm to the nearest second, and never
	// reports a pending alarm as 0.
	sec, usec := old/int64(time.Second), old%int64(time.Second)/int64(time.Microsecond)
	if (sec == 0 && usec != 0) || usec >= 500000 {
		sec++
	}
	return uintptr(sec), nil
}

// itimerval is struct itimerval: it_interval then it_value, timevals.
func putItimerval(t *kernel.Task, addr uint64, value, interval int64) error {
	var b [32]byte
	putTimeval(b[0:], interval)
	putTimeval(b[16:], value)
	_, err := t.CopyOut(addr, b[:])
	return err
}

func getitimer(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	value, interval, err := t.GetITimer(int(a[0].Int()))
	if err != nil {
		return 0, err
	}
	return 0, putItimerval(t, a[1].Pointer(), value, interval)
}

func setitimer(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var value, interval int64
	if p := a[1].Pointer(); p != 0 {
		var b [32]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		var err error
		if interval, err = timevalNS(b[0:]); err != nil {
			return 0, err
		}
		if value, err = timevalNS(b[16:]); err != nil {
			return 0, err
		}
	}
	// A NULL new value disarms (a Linux misfeature programs rely on).
	oldValue, oldInterval, err := t.SetITimer(int(a[0].Int()), value, interval)
	if err != nil {
		return 0, err
	}
	if p := a[2].Pointer(); p != 0 {
		return 0, putItimerval(t, p, oldValue, oldInterval)
	}
	return 0, nil
}
