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
	t.Register(unix.SYS_GETTIMEOFDAY, gettimeofday)
	t.Register(unix.SYS_TIME, timeSyscall)
	t.Register(unix.SYS_NANOSLEEP, nanosleep)
	t.Register(unix.SYS_CLOCK_NANOSLEEP, clockNanosleep)
}

// monotonicNow reads the host's CLOCK_MONOTONIC (the sandbox shares it).
func monotonicNow() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

func copyInTimespec(t *kernel.Task, addr uint64) (time.Duration, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	sec := int64(binary.LittleEndian.Uint64(b[0:]))
	nsec := int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, unix.EINVAL
	}
	if sec > (1<<63-1)/int64(time.Second)-1 {
		return time.Duration(1<<63 - 1), nil
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec), nil
}

func copyOutTimespec(t *kernel.Task, addr uint64, d int64) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(d/1e9))
	binary.LittleEndian.PutUint64(b[8:], uint64(d%1e9))
	_, err := t.CopyOut(addr, b[:])
	return err
}

// clockNow returns the time of clock id in ns. CPU-time clocks report the
// sandbox's own accounting later; for now the host thread's time serves.
func clockNow(t *kernel.Task, id int32) (int64, error) {
	var hostID int32
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC,
		unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_BOOTTIME,
		unix.CLOCK_TAI, unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		hostID = id
		if id == unix.CLOCK_REALTIME_ALARM {
			hostID = unix.CLOCK_REALTIME
		}
		if id == unix.CLOCK_BOOTTIME_ALARM {
			hostID = unix.CLOCK_BOOTTIME
		}
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		// TODO(processes issue): per-task CPU accounting.
		hostID = unix.CLOCK_MONOTONIC
	default:
		return 0, unix.EINVAL
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(hostID, &ts); err != nil {
		return 0, unix.EINVAL
	}
	return ts.Nano(), nil
}

func clockGettime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	ns, err := clockNow(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	return 0, copyOutTimespec(t, a[1].Pointer(), ns)
}

func clockGetres(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	id := a[0].Int()
	if _, err := clockNow(t, id); err != nil {
		return 0, err
	}
	if a[1].Pointer() == 0 {
		return 0, nil
	}
	res := int64(1)
	if id == unix.CLOCK_REALTIME_COARSE || id == unix.CLOCK_MONOTONIC_COARSE {
		res = 4000000
	}
	return 0, copyOutTimespec(t, a[1].Pointer(), res)
}

func gettimeofday(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if tv := a[0].Pointer(); tv != 0 {
		now := time.Now().UnixNano()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(now/1e9))
		binary.LittleEndian.PutUint64(b[8:], uint64(now%1e9/1e3))
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

func timeSyscall(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	now := time.Now().Unix()
	if p := a[0].Pointer(); p != 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(now))
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return uintptr(now), nil
}

func nanosleep(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	d, err := copyInTimespec(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	left, err := t.Sleep(d)
	if err != nil {
		if rem := a[1].Pointer(); rem != 0 {
			copyOutTimespec(t, rem, int64(left))
		}
		return 0, unix.EINTR
	}
	return 0, nil
}

func clockNanosleep(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	id, flags := a[0].Int(), a[1].Int()
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI, unix.CLOCK_PROCESS_CPUTIME_ID:
	case unix.CLOCK_THREAD_CPUTIME_ID:
		return 0, unix.EINVAL
	default:
		if _, err := clockNow(t, id); err != nil {
			return 0, err
		}
		return 0, unix.ENOTSUP
	}
	d, err := copyInTimespec(t, a[2].Pointer())
	if err != nil {
		return 0, err
	}
	if flags&unix.TIMER_ABSTIME != 0 {
		now, err := clockNow(t, id)
		if err != nil {
			return 0, err
		}
		d -= time.Duration(now)
		_, err = t.Sleep(d)
		if err != nil {
			return 0, unix.EINTR
		}
		return 0, nil
	}
	left, err := t.Sleep(d)
	if err != nil {
		if rem := a[3].Pointer(); rem != 0 {
			copyOutTimespec(t, rem, int64(left))
		}
		return 0, unix.EINTR
	}
	return 0, nil
}
