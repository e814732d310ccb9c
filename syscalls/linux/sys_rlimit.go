package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Resource limits: getrlimit, setrlimit and prlimit64. The rules and their
// enforcement live in the kernel (Task.PrLimit).

func registerRlimit(t *kernel.SyscallTable) {
	t.Register(unix.SYS_GETRLIMIT, getrlimit)
	t.Register(unix.SYS_SETRLIMIT, setrlimit)
	t.Register(unix.SYS_PRLIMIT64, prlimit64)
}

func copyInRlimit(t *kernel.Task, addr uint64) (unix.Rlimit, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return unix.Rlimit{}, err
	}
	return unix.Rlimit{Cur: binary.LittleEndian.Uint64(b[0:]), Max: binary.LittleEndian.Uint64(b[8:])}, nil
}

func copyOutRlimit(t *kernel.Task, addr uint64, l unix.Rlimit) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], l.Cur)
	binary.LittleEndian.PutUint64(b[8:], l.Max)
	_, err := t.CopyOut(addr, b[:])
	return err
}

func getrlimit(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	old, err := t.PrLimit(t.ThreadGroup(), uint64(a[0].Uint()), nil)
	if err != nil {
		return 0, err
	}
	return 0, copyOutRlimit(t, a[1].Pointer(), old)
}

func setrlimit(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	nl, err := copyInRlimit(t, a[1].Pointer())
	if err != nil {
		return 0, err
	}
	_, err = t.PrLimit(t.ThreadGroup(), uint64(a[0].Uint()), &nl)
	return 0, err
}

// prlimit64 reads and/or sets the limits of any process (pid may be any of
// its threads' tids; 0 is the caller).
func prlimit64(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var nl *unix.Rlimit
	if p := a[2].Pointer(); p != 0 {
		l, err := copyInRlimit(t, p)
		if err != nil {
			return 0, err
		}
		nl = &l
	}
	tg := t.ThreadGroup()
	if pid := kernel.ThreadID(a[0].Int()); pid != 0 {
		if o := t.FindTask(pid); o != nil {
			tg = o.ThreadGroup()
		} else if tg = t.FindThreadGroup(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	old, err := t.PrLimit(tg, uint64(a[1].Uint()), nl)
	if err != nil {
		return 0, err
	}
	if p := a[3].Pointer(); p != 0 {
		return 0, copyOutRlimit(t, p, old)
	}
	return 0, nil
}
