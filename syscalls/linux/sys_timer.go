package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// POSIX timers: timer_create, timer_settime, timer_gettime,
// timer_getoverrun, timer_delete (the engine is sentry/kernel/timer.go).

func registerTimer(t *kernel.SyscallTable) {
	t.Register(unix.SYS_TIMER_CREATE, timerCreate)
	t.Register(unix.SYS_TIMER_SETTIME, timerSettime)
	t.Register(unix.SYS_TIMER_GETTIME, timerGettime)
	t.Register(unix.SYS_TIMER_GETOVERRUN, timerGetoverrun)
	t.Register(unix.SYS_TIMER_DELETE, timerDelete)
}

// sizeofSigevent is sizeof(struct sigevent) on amd64.
const sizeofSigevent = 64

func timerCreate(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	c, err := t.ClockByID(a[0].Int(), false)
	if err != nil {
		return 0, err
	}
	var ev *kernel.SigEvent
	if p := a[1].Pointer(); p != 0 {
		var b [sizeofSigevent]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		// sigev_value at 0, sigev_signo at 8, sigev_notify at 12, then
		// the union whose _tid is at 16.
		ev = &kernel.SigEvent{
			Value:  binary.LittleEndian.Uint64(b[0:]),
			Signo:  int32(binary.LittleEndian.Uint32(b[8:])),
			Notify: int32(binary.LittleEndian.Uint32(b[12:])),
			TID:    kernel.ThreadID(int32(binary.LittleEndian.Uint32(b[16:]))),
		}
	}
	id, err := t.TimerCreate(c, ev)
	if err != nil {
		return 0, err
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(id))
	if _, err := t.CopyOut(a[2].Pointer(), b[:]); err != nil {
		t.TimerDelete(id)
		return 0, err
	}
	return 0, nil
}

// itimerspec is struct itimerspec: it_interval then it_value, timespecs.
func putItimerspec(t *kernel.Task, addr uint64, value, interval int64) error {
	var b [32]byte
	putTimespec(b[0:], interval)
	putTimespec(b[16:], value)
	_, err := t.CopyOut(addr, b[:])
	return err
}

func timerSettime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	id, flags := a[0].Int(), a[1].Int()
	var b [32]byte
	if _, err := t.CopyIn(a[2].Pointer(), b[:]); err != nil {
		return 0, err
	}
	interval, err := timespecNS(b[0:])
	if err != nil {
		return 0, err
	}
	value, err := timespecNS(b[16:])
	if err != nil {
		return 0, err
	}
	oldValue, oldInterval, err := t.TimerSettime(id, flags&unix.TIMER_ABSTIME != 0, value, interval)
	if err != nil {
		return 0, err
	}
	if p := a[3].Pointer(); p != 0 {
		return 0, putItimerspec(t, p, oldValue, oldInterval)
	}
	return 0, nil
}

func timerGettime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	value, interval, err := t.TimerGettime(a[0].Int())
	if err != nil {
		return 0, err
	}
	return 0, putItimerspec(t, a[1].Pointer(), value, interval)
}

func timerGetoverrun(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	n, err := t.TimerGetoverrun(a[0].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

func timerDelete(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.TimerDelete(a[0].Int())
}
