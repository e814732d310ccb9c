package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// futex operations and flags (linux/futex.h).
const (
	futexWait          = 0
	futexWake          = 1
	futexFD            = 2
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexLockPI        = 6
	futexUnlockPI      = 7
	futexTrylockPI     = 8
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexWaitRequeuePI = 11
	futexCmpRequeuePI  = 12
	futexLockPI2       = 13
	futexPrivateFlag   = 128
	futexClockRealtime = 256
	futexCmdMask       = ^(futexPrivateFlag | futexClockRealtime)
	futexBitsetAny     = 0xffffffff
)

// futex(uaddr, op, val, timeout/val2, uaddr2, val3). See futex(2); the
// order of checks follows Linux's kernel/futex/syscalls.c: the timeout is
// read and validated first, then FUTEX_CLOCK_REALTIME is refused for
// operations that take no absolute timeout, then the operation runs.
func futex(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	addr, op, val := a[0].Pointer(), a[1].Int(), a[2].Uint()
	cmd := op & futexCmdMask
	private := op&futexPrivateFlag != 0
	realtime := op&futexClockRealtime != 0

	timeout := time.Duration(-1)
	switch cmd {
	case futexWait, futexWaitBitset, futexLockPI, futexLockPI2, futexWaitRequeuePI:
		ts := a[3].Pointer()
		if ts == 0 {
			break
		}
		d, err := copyInTimespec(t, ts)
		if err != nil {
			return 0, err
		}
		switch {
		case cmd == futexWait:
			// Relative, on CLOCK_MONOTONIC.
		case cmd == futexLockPI || realtime:
			// Absolute on CLOCK_REALTIME (FUTEX_LOCK_PI always).
			d -= time.Duration(time.Now().UnixNano())
		default:
			// Absolute on CLOCK_MONOTONIC.
			d -= monotonicNow()
		}
		timeout = max(d, 0)
	}
	if realtime && cmd != futexWaitBitset && cmd != futexWaitRequeuePI && cmd != futexLockPI2 {
		return 0, unix.ENOSYS
	}

	switch cmd {
	case futexWait:
		return 0, t.FutexWait(addr, private, val, futexBitsetAny, timeout)
	case futexWaitBitset:
		return 0, t.FutexWait(addr, private, val, a[5].Uint(), timeout)
	case futexWake, futexWakeBitset:
		bitset := uint32(futexBitsetAny)
		if cmd == futexWakeBitset {
			bitset = a[5].Uint()
		}
		var n int
		var err error
		if private {
			n, err = t.FutexWakePrivate(addr, int(int32(val)), bitset)
		} else {
			n, err = t.FutexWake(addr, int(int32(val)), bitset)
		}
		return uintptr(n), err
	case futexRequeue, futexCmpRequeue:
		n, err := t.FutexRequeue(addr, a[4].Pointer(), private, int(int32(val)), int(int32(a[3].Uint())), cmd == futexCmpRequeue, a[5].Uint())
		return uintptr(n), err
	case futexWakeOp:
		n, err := t.FutexWakeOp(addr, a[4].Pointer(), private, int(int32(val)), int(int32(a[3].Uint())), a[5].Uint())
		return uintptr(n), err
	case futexLockPI, futexLockPI2:
		return 0, t.FutexLockPI(addr, private, timeout, false)
	case futexTrylockPI:
		return 0, t.FutexLockPI(addr, private, -1, true)
	case futexUnlockPI:
		return 0, t.FutexUnlockPI(addr, private)
	}
	// FUTEX_FD was removed from Linux in 2.6.26; the requeue-PI pair
	// (used by no current libc's condition variables) is not implemented.
	return 0, unix.ENOSYS
}

func setRobustList(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[1].Uint64() != kernel.RobustListHeadSize {
		return 0, unix.EINVAL
	}
	t.SetRobustList(a[0].Pointer())
	return 0, nil
}

// getRobustList(pid, head_ptr, len_ptr). Reading another thread's head
// needs ptrace-read access to it (Linux: PTRACE_MODE_READ_REALCREDS).
func getRobustList(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pid := kernel.ThreadID(a[0].Int())
	target := t
	if pid != 0 {
		if target = t.FindTask(pid); target == nil {
			return 0, unix.ESRCH
		}
		if !mayReadTask(t, target) {
			return 0, unix.EPERM
		}
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], kernel.RobustListHeadSize)
	if _, err := t.CopyOut(a[2].Pointer(), b[:]); err != nil {
		return 0, err
	}
	binary.LittleEndian.PutUint64(b[:], target.RobustList())
	if _, err := t.CopyOut(a[1].Pointer(), b[:]); err != nil {
		return 0, err
	}
	return 0, nil
}

// capSysPtrace is CAP_SYS_PTRACE.
const capSysPtrace = 19

// mayReadTask is ptrace_may_access(target, PTRACE_MODE_READ_REALCREDS)
// without LSMs or dumpability: a thread of the same process always; else
// the caller's real uid and gid must match all of the target's user and
// group ids, or the caller needs CAP_SYS_PTRACE.
func mayReadTask(t, target *kernel.Task) bool {
	if t.ThreadGroup() == target.ThreadGroup() {
		return true
	}
	c, tc := t.Credentials(), target.Credentials()
	if c.HasCapability(capSysPtrace) {
		return true
	}
	uid, gid := c.RealKUID, c.RealKGID
	return uid == tc.RealKUID && uid == tc.EffectiveKUID && uid == tc.SavedKUID &&
		gid == tc.RealKGID && gid == tc.EffectiveKGID && gid == tc.SavedKGID
}
