package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/timerfd"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerTimerfd installs timerfd_create, timerfd_settime and
// timerfd_gettime.
func registerTimerfd(t *kernel.SyscallTable) {
	t.Register(unix.SYS_TIMERFD_CREATE, TimerfdCreate)
	t.Register(unix.SYS_TIMERFD_SETTIME, TimerfdSettime)
	t.Register(unix.SYS_TIMERFD_GETTIME, TimerfdGettime)
}

// TimerfdCreate implements timerfd_create(2) on CLOCK_REALTIME,
// CLOCK_MONOTONIC and CLOCK_BOOTTIME. The _ALARM clocks need
// CAP_WAKE_ALARM (EPERM without it) and otherwise behave as their base
// clock: the sandbox cannot wake a suspended machine.
func TimerfdCreate(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	clock, flags := a[0].Int(), a[1].Int()
	if flags&^(unix.TFD_CLOEXEC|unix.TFD_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	var host int32
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME:
		host = clock
	case unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		const capWakeAlarm = 35
		if !t.Credentials().HasCapability(capWakeAlarm) {
			return 0, unix.EPERM
		}
		host = unix.CLOCK_REALTIME
		if clock == unix.CLOCK_BOOTTIME_ALARM {
			host = unix.CLOCK_BOOTTIME
		}
	default:
		return 0, unix.EINVAL
	}
	f := timerfd.New(host, uint32(flags))
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: flags&unix.TFD_CLOEXEC != 0}, 0)
	return uintptr(fd), err
}

// getTimerfd returns the file at fd: EBADF if there is none.
func getTimerfd(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, _, err := getFile(t, fd)
	if err != nil {
		return nil, err
	}
	if f.IsOPath() {
		f.DecRef(t)
		return nil, unix.EBADF
	}
	return f, nil
}

// readItimerspec reads a struct itimerspec (EINVAL if a field is out of
// range).
func readItimerspec(t *kernel.Task, addr uint64) (interval, value time.Duration, err error) {
	var b [32]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, err
	}
	var d [2]time.Duration
	for i := range d {
		sec := int64(binary.LittleEndian.Uint64(b[i*16:]))
		nsec := int64(binary.LittleEndian.Uint64(b[i*16+8:]))
		if sec < 0 || nsec < 0 || nsec >= 1e9 {
			return 0, 0, unix.EINVAL
		}
		if sec >= int64(1<<63-1)/int64(time.Second) {
			d[i] = 1<<63 - 1
		} else {
			d[i] = time.Duration(sec)*time.Second + time.Duration(nsec)
		}
	}
	return d[0], d[1], nil
}

// writeItimerspec writes a struct itimerspec.
func writeItimerspec(t *kernel.Task, addr uint64, interval, value time.Duration) error {
	var b [32]byte
	for i, d := range [2]time.Duration{interval, value} {
		binary.LittleEndian.PutUint64(b[i*16:], uint64(d/time.Second))
		binary.LittleEndian.PutUint64(b[i*16+8:], uint64(d%time.Second))
	}
	_, err := t.CopyOut(addr, b[:])
	return err
}

// TimerfdSettime implements timerfd_settime(2).
func TimerfdSettime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, flags, newAddr, oldAddr := a[0].Int(), a[1].Int(), a[2].Pointer(), a[3].Pointer()
	interval, value, err := readItimerspec(t, newAddr)
	if err != nil {
		return 0, err
	}
	if flags&^(timerfd.TimerAbstime|timerfd.TimerCancelOnSet) != 0 {
		return 0, unix.EINVAL
	}
	f, err := getTimerfd(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	oldValue, oldInterval, err := timerfd.SetTime(f.Impl(), uint32(flags), value, interval)
	if err != nil {
		return 0, err
	}
	if oldAddr != 0 {
		return 0, writeItimerspec(t, oldAddr, oldInterval, oldValue)
	}
	return 0, nil
}

// TimerfdGettime implements timerfd_gettime(2).
func TimerfdGettime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, err := getTimerfd(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	value, interval, err := timerfd.GetTime(f.Impl())
	if err != nil {
		return 0, err
	}
	return 0, writeItimerspec(t, a[1].Pointer(), interval, value)
}
