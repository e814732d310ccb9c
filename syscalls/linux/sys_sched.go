package linux

import (
	"encoding/binary"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Scheduling: sched_yield, CPU affinity, nice values, scheduling policies
// and getcpu. The sentry's Go runtime schedules the tasks; these calls
// record and report what the application asked for (see
// sentry/kernel/sched.go).

func registerSched(t *kernel.SyscallTable) {
	t.Register(unix.SYS_SCHED_YIELD, schedYield)
	t.Register(unix.SYS_SCHED_GETAFFINITY, schedGetaffinity)
	t.Register(unix.SYS_SCHED_SETAFFINITY, schedSetaffinity)
	t.Register(unix.SYS_GETPRIORITY, getpriority)
	t.Register(unix.SYS_SETPRIORITY, setpriority)
	t.Register(unix.SYS_SCHED_GETSCHEDULER, schedGetscheduler)
	t.Register(unix.SYS_SCHED_SETSCHEDULER, schedSetscheduler)
	t.Register(unix.SYS_SCHED_GETPARAM, schedGetparam)
	t.Register(unix.SYS_SCHED_SETPARAM, schedSetparam)
	t.Register(unix.SYS_SCHED_GET_PRIORITY_MAX, schedGetPriorityMax)
	t.Register(unix.SYS_SCHED_GET_PRIORITY_MIN, schedGetPriorityMin)
	t.Register(unix.SYS_SCHED_RR_GET_INTERVAL, schedRRGetInterval)
	t.Register(unix.SYS_GETCPU, getcpu)
}

func schedYield(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	runtime.Gosched()
	return 0, nil
}

// schedTarget resolves the pid argument of the sched_* calls: EINVAL when
// negative, ESRCH when no such thread exists.
func schedTarget(t *kernel.Task, pid int32) (*kernel.Task, error) {
	if pid < 0 {
		return nil, unix.EINVAL
	}
	o := t.TaskByTID(kernel.ThreadID(pid))
	if o == nil {
		return nil, unix.ESRCH
	}
	return o, nil
}

// schedGetaffinity needs a buffer of whole longs covering every CPU, and
// returns how many bytes of the mask it wrote.
func schedGetaffinity(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	size := uint64(a[1].Uint())
	if size*8 < uint64(t.Kernel().NumCPU()) || size&7 != 0 {
		return 0, unix.EINVAL
	}
	o := t.TaskByTID(kernel.ThreadID(a[0].Int()))
	if o == nil {
		return 0, unix.ESRCH
	}
	mask := o.Affinity()
	n := uint64(t.Kernel().CPUMaskSize())
	if size < n {
		n = size
	}
	b := make([]byte, 8*len(mask))
	for i, w := range mask {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	if _, err := t.CopyOut(a[2].Pointer(), b[:n]); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// schedSetaffinity reads up to the kernel's mask size (a shorter buffer
// leaves the rest of the mask empty).
func schedSetaffinity(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	msize := t.Kernel().CPUMaskSize()
	size := int(a[1].Uint())
	if uint64(a[1].Uint()) > uint64(msize) {
		size = msize
	}
	b := make([]byte, msize)
	if _, err := t.CopyIn(a[2].Pointer(), b[:size]); err != nil {
		return 0, err
	}
	o := t.TaskByTID(kernel.ThreadID(a[0].Int()))
	if o == nil {
		return 0, unix.ESRCH
	}
	mask := make([]uint64, msize/8)
	for i := range mask {
		mask[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return 0, t.SetAffinity(o, mask)
}

// getpriority returns 20-nice (1..40), as the raw syscall does; the C
// library turns it back into a nice value.
func getpriority(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	v, err := t.GetPriority(int(a[0].Int()), int(a[1].Int()))
	return uintptr(v), err
}

func setpriority(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.SetPriority(int(a[0].Int()), int(a[1].Int()), int(a[2].Int()))
}

func schedGetscheduler(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	o, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	return uintptr(o.Scheduler().Policy), nil
}

// setScheduler is sched_setscheduler (policy >= 0) and sched_setparam
// (policy -1).
func setScheduler(t *kernel.Task, pid int32, policy int, param uint64) error {
	if param == 0 || pid < 0 {
		return unix.EINVAL
	}
	var b [4]byte
	if _, err := t.CopyIn(param, b[:]); err != nil {
		return err
	}
	o := t.TaskByTID(kernel.ThreadID(pid))
	if o == nil {
		return unix.ESRCH
	}
	return t.SetScheduler(o, policy, int64(int32(binary.LittleEndian.Uint32(b[:]))))
}

func schedSetscheduler(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	policy := int(a[1].Int())
	if policy < 0 {
		return 0, unix.EINVAL
	}
	return 0, setScheduler(t, a[0].Int(), policy, a[2].Pointer())
}

func schedSetparam(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setScheduler(t, a[0].Int(), -1, a[1].Pointer())
}

func schedGetparam(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[1].Pointer() == 0 {
		return 0, unix.EINVAL
	}
	o, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(o.Scheduler().Priority))
	_, err = t.CopyOut(a[1].Pointer(), b[:])
	return 0, err
}

func schedGetPriorityMax(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	switch a[0].Int() {
	case kernel.SchedFIFO, kernel.SchedRR:
		return 99, nil
	case kernel.SchedNormal, kernel.SchedBatch, kernel.SchedIdle, kernel.SchedDeadline:
		return 0, nil
	}
	return 0, unix.EINVAL
}

func schedGetPriorityMin(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	switch a[0].Int() {
	case kernel.SchedFIFO, kernel.SchedRR:
		return 1, nil
	case kernel.SchedNormal, kernel.SchedBatch, kernel.SchedIdle, kernel.SchedDeadline:
		return 0, nil
	}
	return 0, unix.EINVAL
}

func schedRRGetInterval(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	o, err := schedTarget(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	ns := o.RRInterval()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(ns/1e9))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%1e9))
	_, err = t.CopyOut(a[1].Pointer(), b[:])
	return 0, err
}

// getcpu reports a CPU from the task's affinity mask and NUMA node 0.
func getcpu(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var b [4]byte
	if p := a[0].Pointer(); p != 0 {
		binary.LittleEndian.PutUint32(b[:], uint32(t.CurrentCPU()))
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	if p := a[1].Pointer(); p != 0 {
		binary.LittleEndian.PutUint32(b[:], 0)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}
