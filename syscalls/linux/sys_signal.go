package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

func registerSignal(t *kernel.SyscallTable) {
	t.Register(unix.SYS_RT_SIGACTION, rtSigaction)
	t.Register(unix.SYS_RT_SIGPROCMASK, rtSigprocmask)
	t.Register(unix.SYS_RT_SIGRETURN, rtSigreturn)
	t.Register(unix.SYS_RT_SIGPENDING, rtSigpending)
	t.Register(unix.SYS_RT_SIGSUSPEND, rtSigsuspend)
	t.Register(unix.SYS_RT_SIGTIMEDWAIT, rtSigtimedwait)
	t.Register(unix.SYS_RT_SIGQUEUEINFO, rtSigqueueinfo)
	t.Register(unix.SYS_RT_TGSIGQUEUEINFO, rtTgsigqueueinfo)
	t.Register(unix.SYS_SIGALTSTACK, sigaltstack)
	t.Register(unix.SYS_PAUSE, pause)
	t.Register(unix.SYS_RESTART_SYSCALL, restartSyscall)
	t.Register(unix.SYS_KILL, kill)
	t.Register(unix.SYS_TKILL, tkill)
	t.Register(unix.SYS_TGKILL, tgkill)
	// wait4 and waitid live in sys_wait.go; they belong to the same
	// family (child state changes are SIGCHLD's).
	registerWait(t)
}

// sigsetSize is sizeof(sigset_t) in the kernel ABI.
const sigsetSize = 8

// sizeofSigaction is the kernel's struct sigaction on amd64: handler,
// flags, restorer, mask.
const sizeofSigaction = 32

func rtSigaction(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	sig := int(a[0].Int())
	if a[3].Uint64() != sigsetSize || !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	var act *kernel.SigAction
	if p := a[1].Pointer(); p != 0 {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			return 0, unix.EINVAL
		}
		var b [sizeofSigaction]byte
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
	old, err := t.SetSignalAction(sig, act)
	if err != nil {
		return 0, err
	}
	if p := a[2].Pointer(); p != 0 {
		var b [sizeofSigaction]byte
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

// copyInSigset reads a sigset_t.
func copyInSigset(t *kernel.Task, addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// copyOutSigset writes a sigset_t.
func copyOutSigset(t *kernel.Task, addr, set uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], set)
	_, err := t.CopyOut(addr, b[:])
	return err
}

func rtSigprocmask(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	how, setp, oldp := a[0].Int(), a[1].Pointer(), a[2].Pointer()
	if a[3].Uint64() != sigsetSize {
		return 0, unix.EINVAL
	}
	old := t.SignalMask()
	if setp != 0 {
		set, err := copyInSigset(t, setp)
		if err != nil {
			return 0, err
		}
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
		if err := copyOutSigset(t, oldp, old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func rtSigreturn(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return 0, t.SignalReturn()
}

func rtSigpending(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	size := a[1].Uint64()
	if size > sigsetSize {
		return 0, unix.EINVAL
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], t.PendingSignals())
	if _, err := t.CopyOut(a[0].Pointer(), b[:size]); err != nil {
		return 0, err
	}
	return 0, nil
}

func rtSigsuspend(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[1].Uint64() != sigsetSize {
		return 0, unix.EINVAL
	}
	mask, err := copyInSigset(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	return 0, t.SignalSuspend(mask)
}

func pause(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return 0, t.Pause()
}

func rtSigtimedwait(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[3].Uint64() != sigsetSize {
		return 0, unix.EINVAL
	}
	set, err := copyInSigset(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	timeout := time.Duration(-1)
	if p := a[2].Pointer(); p != 0 {
		if timeout, err = copyInTimespec(t, p); err != nil {
			return 0, err
		}
	}
	info, err := t.SignalTimedWait(set, timeout)
	if err != nil {
		return 0, err
	}
	if p := a[1].Pointer(); p != 0 {
		var b [abi.SizeofSignalInfo]byte
		info.Bytes(&b)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return uintptr(info.Signo), nil
}

// copyInSiginfo reads the siginfo of rt_sigqueueinfo/rt_tgsigqueueinfo for
// sig, and refuses (EPERM) to let a task impersonate the kernel or kill()
// (si_code >= 0 or SI_TKILL) towards anyone but itself (self: the caller's
// tid).
func copyInSiginfo(t *kernel.Task, addr uint64, sig int, self bool) (abi.SignalInfo, error) {
	var b [abi.SizeofSignalInfo]byte
	var info abi.SignalInfo
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return info, err
	}
	info.FromBytes(&b)
	if (info.Code >= 0 || info.Code == abi.SI_TKILL) && !self {
		return info, unix.EPERM
	}
	info.Signo = int32(sig)
	return info, nil
}

func rtSigqueueinfo(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pid, sig := kernel.ThreadID(a[0].Int()), int(a[1].Int())
	info, err := copyInSiginfo(t, a[2].Pointer(), sig, pid == t.Gettid())
	if err != nil {
		return 0, err
	}
	if sig != 0 && !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	k := t.Kernel()
	tg := t.FindThreadGroup(pid)
	if pid <= 0 || tg == nil {
		return 0, unix.ESRCH
	}
	if !k.MayKill(t, tg, sig) {
		return 0, unix.EPERM
	}
	if sig == 0 {
		return 0, nil
	}
	return 0, k.SendSignalToGroupFrom(tg, &info, t)
}

func rtTgsigqueueinfo(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	tgid, tid, sig := kernel.ThreadID(a[0].Int()), kernel.ThreadID(a[1].Int()), int(a[2].Int())
	if tgid <= 0 || tid <= 0 {
		return 0, unix.EINVAL
	}
	info, err := copyInSiginfo(t, a[3].Pointer(), sig, tid == t.Gettid())
	if err != nil {
		return 0, err
	}
	if sig != 0 && !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	return 0, signalThread(t, tgid, tid, sig, &info)
}

// signalThread sends info (sig 0: only checks) to thread tid of process
// tgid (tgid 0: any process), after kill's permission check.
func signalThread(t *kernel.Task, tgid, tid kernel.ThreadID, sig int, info *abi.SignalInfo) error {
	k := t.Kernel()
	target := t.FindTask(tid)
	if target == nil || (tgid > 0 && t.PIDNamespace().IDOfThreadGroup(target.ThreadGroup()) != tgid) {
		return unix.ESRCH
	}
	if !k.MayKill(t, target.ThreadGroup(), sig) {
		return unix.EPERM
	}
	if sig == 0 {
		return nil
	}
	return k.SendSignalToTaskFrom(target, info, t)
}

// sizeofStackT is sizeof(stack_t).
const sizeofStackT = 24

func sigaltstack(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var ss *arch.SignalStack
	if p := a[0].Pointer(); p != 0 {
		var b [sizeofStackT]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		s := arch.GetSignalStack(b[:])
		ss = &s
	}
	old := t.AltStack(t.Regs().Rsp)
	if ss != nil {
		if err := t.SetAltStack(ss); err != nil {
			return 0, err
		}
	}
	if p := a[1].Pointer(); p != 0 {
		var b [sizeofStackT]byte
		arch.PutSignalStack(b[:], old)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func restartSyscall(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return t.RestartSyscall()
}

func kill(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pid, sig := kernel.ThreadID(a[0].Int()), int(a[1].Int())
	if sig != 0 && !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	k := t.Kernel()
	switch {
	case pid > 0:
		tg := t.FindThreadGroup(pid)
		if tg == nil {
			return 0, unix.ESRCH
		}
		if !k.MayKill(t, tg, sig) {
			return 0, unix.EPERM
		}
		k.SendSignal(tg, sig, t)
		return 0, nil
	case pid == 0:
		return 0, t.SignalProcessGroupOf(0, sig)
	case pid == -1:
		return 0, k.SignalAll(sig, t)
	default:
		if pid == -0x80000000 {
			return 0, unix.ESRCH
		}
		return 0, t.SignalProcessGroupOf(-pid, sig)
	}
}

// tkillInfo is the siginfo of tkill/tgkill: SI_TKILL with the sender.
func tkillInfo(t *kernel.Task, sig int) abi.SignalInfo {
	info := abi.SignalInfo{Signo: int32(sig), Code: abi.SI_TKILL}
	info.SetPID(int32(t.ThreadGroup().PID()))
	info.SetUID(uint32(t.Credentials().RealKUID))
	return info
}

func tkill(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	tid, sig := kernel.ThreadID(a[0].Int()), int(a[1].Int())
	if tid <= 0 || (sig != 0 && !kernel.ValidSignal(sig)) {
		return 0, unix.EINVAL
	}
	info := tkillInfo(t, sig)
	return 0, signalThread(t, 0, tid, sig, &info)
}

func tgkill(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	tgid, tid, sig := kernel.ThreadID(a[0].Int()), kernel.ThreadID(a[1].Int()), int(a[2].Int())
	if tgid <= 0 || tid <= 0 || (sig != 0 && !kernel.ValidSignal(sig)) {
		return 0, unix.EINVAL
	}
	info := tkillInfo(t, sig)
	return 0, signalThread(t, tgid, tid, sig, &info)
}
