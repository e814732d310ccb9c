package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// futex operations and flags.
const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivateFlag   = 128
	futexClockRealtime = 256
	futexBitsetAny     = 0xffffffff
)

func futex(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	addr, op, val := a[0].Pointer(), a[1].Int(), a[2].Uint()
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := uint32(futexBitsetAny)
		if cmd == futexWaitBitset {
			bitset = a[5].Uint()
		} else if op&futexClockRealtime != 0 {
			return 0, unix.ENOSYS
		}
		timeout := time.Duration(-1)
		if ts := a[3].Pointer(); ts != 0 {
			d, err := copyInTimespec(t, ts)
			if err != nil {
				return 0, err
			}
			if cmd == futexWaitBitset {
				// An absolute deadline on the chosen clock.
				now := monotonicNow()
				if op&futexClockRealtime != 0 {
					now = time.Duration(time.Now().UnixNano())
				}
				d -= now
				if d < 0 {
					d = 0
				}
			}
			timeout = d
		}
		return 0, t.FutexWait(addr, val, bitset, timeout)
	case futexWake, futexWakeBitset:
		bitset := uint32(futexBitsetAny)
		if cmd == futexWakeBitset {
			bitset = a[5].Uint()
		}
		n, err := t.FutexWake(addr, int(int32(val)), bitset)
		return uintptr(n), err
	case futexRequeue, futexCmpRequeue:
		n, err := t.FutexRequeue(addr, a[4].Pointer(), int(int32(val)), int(int32(a[3].Uint())), cmd == futexCmpRequeue, a[5].Uint())
		return uintptr(n), err
	case futexWakeOp:
		return futexDoWakeOp(t, addr, a[4].Pointer(), int(int32(val)), int(int32(a[3].Uint())), a[5].Uint())
	}
	return 0, unix.ENOSYS
}

// futexDoWakeOp implements FUTEX_WAKE_OP: atomically (with respect to
// other futex operations) apply op to *addr2, wake waiters of addr, and
// waiters of addr2 if the old value satisfies the comparison.
func futexDoWakeOp(t *kernel.Task, addr, addr2 uint64, n, n2 int, opArg uint32) (uintptr, error) {
	op := (opArg >> 28) & 0xf
	cmp := (opArg >> 24) & 0xf
	oparg := (opArg >> 12) & 0xfff
	cmparg := opArg & 0xfff
	if op&8 != 0 { // FUTEX_OP_OPARG_SHIFT
		op &^= 8
		if oparg > 31 {
			return 0, unix.EINVAL
		}
		oparg = 1 << oparg
	}
	var b [4]byte
	if _, err := t.CopyIn(addr2, b[:]); err != nil {
		return 0, err
	}
	old := binary.LittleEndian.Uint32(b[:])
	var nv uint32
	switch op {
	case 0:
		nv = oparg
	case 1:
		nv = old + oparg
	case 2:
		nv = old | oparg
	case 3:
		nv = old &^ oparg
	case 4:
		nv = old ^ oparg
	default:
		return 0, unix.ENOSYS
	}
	binary.LittleEndian.PutUint32(b[:], nv)
	if _, err := t.CopyOut(addr2, b[:]); err != nil {
		return 0, err
	}
	woke, err := t.FutexWake(addr, n, futexBitsetAny)
	if err != nil {
		return 0, err
	}
	var ok bool
	switch cmp {
	case 0:
		ok = old == cmparg
	case 1:
		ok = old != cmparg
	case 2:
		ok = int32(old) < int32(cmparg)
	case 3:
		ok = int32(old) <= int32(cmparg)
	case 4:
		ok = int32(old) > int32(cmparg)
	case 5:
		ok = int32(old) >= int32(cmparg)
	default:
		return 0, unix.ENOSYS
	}
	if ok {
		w2, err := t.FutexWake(addr2, n2, futexBitsetAny)
		if err != nil {
			return 0, err
		}
		woke += w2
	}
	return uintptr(woke), nil
}
