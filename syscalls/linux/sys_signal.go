package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

func registerSignal(t *kernel.SyscallTable) {
	t.Register(unix.SYS_RT_SIGACTION, rtSigaction)
	t.Register(unix.SYS_RT_SIGPROCMASK, rtSigprocmask)
	t.Register(unix.SYS_SIGALTSTACK, sigaltstack)
	t.Register(unix.SYS_KILL, kill)
	t.Register(unix.SYS_TKILL, tkill)
	t.Register(unix.SYS_TGKILL, tgkill)
}

const sigsetSize = 8

func rtSigaction(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	sig := int(a[0].Int())
	if a[3].Uint64() != sigsetSize || !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	var act *kernel.SigAction
	if p := a[1].Pointer(); p != 0 {
		var b [32]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		act = &kernel.SigAction{
			Handler:  binary.LittleEndian.Uint64(b[0:]),
			Flags:    binary.LittleEndian.Uint64(b[8:]),
			Restorer: binary.LittleEndian.Uint64(b[16:]),
			Mask:     binary.LittleEndian.Uint64(b[24:]),
		}
	}
	old, err := t.ThreadGroup().Handlers().SetAction(sig, act)
	if err != nil {
		return 0, err
	}
	if p := a[2].Pointer(); p != 0 {
		var b [32]byte
		binary.LittleEndian.PutUint64(b[0:], old.Handler)
		binary.LittleEndian.PutUint64(b[8:], old.Flags)
		binary.LittleEndian.PutUint64(b[16:], old.Restorer)
		binary.LittleEndian.PutUint64(b[24:], old.Mask)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func rtSigprocmask(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	how, setp, oldp := a[0].Int(), a[1].Pointer(), a[2].Pointer()
	if a[3].Uint64() != sigsetSize {
		return 0, unix.EINVAL
	}
	old := t.SignalMask()
	if setp != 0 {
		var b [8]byte
		if _, err := t.CopyIn(setp, b[:]); err != nil {
			return 0, err
		}
		set := binary.LittleEndian.Uint64(b[:])
		switch how {
		case unix.SIG_BLOCK:
			t.SetSignalMask(old | set)
		case unix.SIG_UNBLOCK:
			t.SetSignalMask(old &^ set)
		case unix.SIG_SETMASK:
			t.SetSignalMask(set)
		default:
			return 0, unix.EINVAL
		}
	}
	if oldp != 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], old)
		if _, err := t.CopyOut(oldp, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sigaltstack records nothing yet (delivery is a later issue) but answers
// as a task with no alternate stack would, after validating arguments.
func sigaltstack(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if p := a[0].Pointer(); p != 0 {
		var b [24]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		flags := binary.LittleEndian.Uint32(b[8:])
		if flags&^(ssDisable|1<<31) != 0 {
			return 0, unix.EINVAL
		}
		if flags&ssDisable == 0 && binary.LittleEndian.Uint64(b[16:]) < 2048 {
			return 0, unix.ENOMEM
		}
	}
	if p := a[1].Pointer(); p != 0 {
		var b [24]byte
		binary.LittleEndian.PutUint32(b[8:], ssDisable)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func kill(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pid, sig := kernel.ThreadID(a[0].Int()), int(a[1].Int())
	if sig != 0 && !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	k := t.Kernel()
	switch {
	case pid > 0:
		tg := k.FindThreadGroup(pid)
		if tg == nil {
			return 0, unix.ESRCH
		}
		k.SendSignal(tg, sig, t)
	case pid == 0:
		return 0, k.SignalProcessGroup(t.ThreadGroup().PGID(), sig, t)
	case pid == -1:
		return 0, k.SignalAll(sig, t)
	default:
		if pid == -0x80000000 {
			return 0, unix.ESRCH
		}
		return 0, k.SignalProcessGroup(-pid, sig, t)
	}
	return 0, nil
}

func tkill(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	tid, sig := kernel.ThreadID(a[0].Int()), int(a[1].Int())
	if tid <= 0 || (sig != 0 && !kernel.ValidSignal(sig)) {
		return 0, unix.EINVAL
	}
	target := t.Kernel().FindTask(tid)
	if target == nil {
		return 0, unix.ESRCH
	}
	t.Kernel().SendSignal(target.ThreadGroup(), sig, t)
	return 0, nil
}

func tgkill(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	tgid, tid, sig := kernel.ThreadID(a[0].Int()), kernel.ThreadID(a[1].Int()), int(a[2].Int())
	if tgid <= 0 || tid <= 0 || (sig != 0 && !kernel.ValidSignal(sig)) {
		return 0, unix.EINVAL
	}
	target := t.Kernel().FindTask(tid)
	if target == nil || target.ThreadGroup().PID() != tgid {
		return 0, unix.ESRCH
	}
	t.Kernel().SendSignal(target.ThreadGroup(), sig, t)
	return 0, nil
}

// ssDisable is SS_DISABLE of sigaltstack.
const ssDisable = 2
