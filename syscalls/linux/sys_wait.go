package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

func registerWait(t *kernel.SyscallTable) {
	t.Register(unix.SYS_WAIT4, wait4)
	t.Register(unix.SYS_WAITID, waitid)
}

// Wait option bits.
const (
	wNoHang    = 0x1
	wUntraced  = 0x2 // WSTOPPED for waitid
	wExited    = 0x4
	wContinued = 0x8
	wNoWait    = 0x1000000
	wNoThread  = 0x20000000
	wAll       = 0x40000000
	wClone     = 0x80000000
)

// idtype values of waitid.
const (
	pAll   = 0
	pPID   = 1
	pPGID  = 2
	pPIDFD = 3
)

func wait4(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pid := kernel.ThreadID(a[0].Int())
	opts := a[2].Uint()
	if opts&^(wNoHang|wUntraced|wContinued|wNoThread|wAll|wClone) != 0 {
		return 0, unix.EINVAL
	}
	if pid == -0x80000000 {
		return 0, unix.ESRCH
	}
	r, err := t.Wait(kernel.WaitOptions{
		PID:       pid,
		Exited:    true,
		Stopped:   opts&wUntraced != 0,
		Continued: opts&wContinued != 0,
		NoHang:    opts&wNoHang != 0,
		Clone:     opts&wClone != 0,
		All:       opts&wAll != 0,
	})
	if err != nil {
		return 0, err
	}
	if r.PID == 0 {
		return 0, nil
	}
	if addr := a[1].Pointer(); addr != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(r.Status))
		if _, err := t.CopyOut(addr, b[:]); err != nil {
			return 0, err
		}
	}
	if addr := a[3].Pointer(); addr != 0 {
		var ru [sizeofRusage]byte
		fillRusage(&ru, r.UserTime, r.SysTime)
		if _, err := t.CopyOut(addr, ru[:]); err != nil {
			return 0, err
		}
	}
	return uintptr(r.PID), nil
}

// sizeofRusage is sizeof(struct rusage) on amd64.
const sizeofRusage = 144

// fillRusage encodes a struct rusage with user and system CPU time; the
// other fields (memory, faults, switches) are not accounted yet and stay 0.
func fillRusage(b *[sizeofRusage]byte, user, sys time.Duration) {
	putTimeval := func(off int, d time.Duration) {
		binary.LittleEndian.PutUint64(b[off:], uint64(d/time.Second))
		binary.LittleEndian.PutUint64(b[off+8:], uint64(d%time.Second/time.Microsecond))
	}
	putTimeval(0, user)
	putTimeval(16, sys)
}

func waitid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	idtype, id, infop, opts := a[0].Int(), a[1].Int(), a[2].Pointer(), a[3].Uint()
	if opts&^(wNoHang|wUntraced|wExited|wContinued|wNoWait|wNoThread|wAll|wClone) != 0 {
		return 0, unix.EINVAL
	}
	if opts&(wExited|wUntraced|wContinued) == 0 {
		return 0, unix.EINVAL
	}
	var pid kernel.ThreadID
	var pidfd *kernel.PidFD
	pidfdNonblock := false
	switch idtype {
	case pAll:
		pid = -1
	case pPID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		pid = kernel.ThreadID(id)
	case pPGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		pid = -kernel.ThreadID(id)
		if id == 0 {
			pid = 0
		}
	case pPIDFD:
		if id < 0 {
			return 0, unix.EINVAL
		}
		p, f, err := getPidfd(t, id)
		if err != nil {
			return 0, err
		}
		defer f.DecRef(t)
		pidfd = p
		// A non-blocking pidfd makes a wait that would block EAGAIN
		// (Linux's kernel_waitid).
		pidfdNonblock = f.StatusFlags()&unix.O_NONBLOCK != 0
	default:
		return 0, unix.EINVAL
	}
	o := kernel.WaitOptions{
		PID:       pid,
		Exited:    opts&wExited != 0,
		Stopped:   opts&wUntraced != 0,
		Continued: opts&wContinued != 0,
		NoHang:    opts&wNoHang != 0,
		NoWait:    opts&wNoWait != 0,
		Clone:     opts&wClone != 0,
		All:       opts&wAll != 0,
	}
	nonblock := false
	if pidfd != nil {
		pidfd.WaitOptionsFor(&o)
		nonblock = !o.NoHang && pidfdNonblock
		o.NoHang = o.NoHang || nonblock
	}
	r, err := t.Wait(o)
	if err != nil {
		return 0, err
	}
	if nonblock && r.PID == 0 {
		return 0, unix.EAGAIN
	}
	if ru := a[4].Pointer(); ru != 0 && r.PID != 0 {
		var b [sizeofRusage]byte
		fillRusage(&b, r.UserTime, r.SysTime)
		if _, err := t.CopyOut(ru, b[:]); err != nil {
			return 0, err
		}
	}
	if infop == 0 {
		return 0, nil
	}
	var info abi.SignalInfo
	if r.PID != 0 {
		info = abi.SignalInfo{Signo: int32(unix.SIGCHLD), Code: r.Code}
		info.SetPID(int32(r.PID))
		info.SetUID(r.UID)
		info.SetStatus(r.SigStatus)
	}
	// Linux writes si_signo, si_errno, si_code, si_pid, si_uid and
	// si_status only (zeros when WNOHANG found nothing).
	var si [abi.SizeofSignalInfo]byte
	info.Bytes(&si)
	if _, err := t.CopyOut(infop, si[0:12]); err != nil {
		return 0, err
	}
	_, err = t.CopyOut(infop+16, si[16:28])
	return 0, err
}
