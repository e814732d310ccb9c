package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// futexKey returns the key of the futex word at addr in t's address space:
// EINVAL if addr is not 4-byte aligned, EFAULT for a shared futex outside
// any readable mapping.
func (t *Task) futexKey(addr uint64, private bool) (mm.FutexKey, error) {
	if addr&3 != 0 {
		return mm.FutexKey{}, unix.EINVAL
	}
	if private {
		return t.mm.PrivateFutexKey(addr), nil
	}
	return t.mm.SharedFutexKey(addr)
}

// blockFutex waits until w is woken, the timeout passes (timeout < 0: no
// timeout) or t is interrupted. It returns nil if w was woken, even when
// the wake raced with the timeout or the interruption, and releases w.
func (t *Task) blockFutex(w *futexWaiter, timeout time.Duration) error {
	var err error
	if timeout < 0 {
		err = t.Block(w.woken)
	} else {
		err = t.BlockTimeout(w.woken, timeout)
	}
	if err != nil && !t.k.futexes.dequeue(w) {
		err = nil
	}
	w.release()
	return err
}

// FutexWait implements FUTEX_WAIT and FUTEX_WAIT_BITSET: sleep while the
// word at addr holds val, until a wake whose bitset intersects bitset.
// timeout < 0 waits forever.
//
// It returns EAGAIN if the word does not hold val, ETIMEDOUT, EFAULT,
// EINVAL (bitset 0, unaligned addr), and on interruption ERESTARTSYS
// without a timeout or ERESTART_BLOCK with one (Linux restarts a timed
// wait through restart_syscall, and returns EINTR if a handler ran).
func (t *Task) FutexWait(addr uint64, private bool, val, bitset uint32, timeout time.Duration) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	m := t.mm
	w := newFutexWaiter(key, bitset)
	err = t.k.futexes.enqueue(w, func() error {
		cur, err := m.LoadUint32(addr)
		if err != nil {
			return unix.EFAULT
		}
		if cur != val {
			return unix.EAGAIN
		}
		return nil
	})
	if err != nil {
		w.release()
		return err
	}
	err = t.blockFutex(w, timeout)
	if err == ERESTARTSYS && timeout >= 0 {
		return ERESTART_BLOCK
	}
	return err
}

// FutexWake implements FUTEX_WAKE and FUTEX_WAKE_BITSET without
// FUTEX_PRIVATE_FLAG: wake up to n waiters (at least one, as Linux does
// for n <= 0) of the word at addr whose bitset intersects bitset, and
// return how many woke. It is also the kernel's own wake of a
// CLONE_CHILD_CLEARTID word, which Linux makes a shared one (libcs wait
// for it without FUTEX_PRIVATE_FLAG).
func (t *Task) FutexWake(addr uint64, n int, bitset uint32) (int, error) {
	return t.futexWake(addr, false, n, bitset)
}

// FutexWakePrivate is FutexWake with FUTEX_PRIVATE_FLAG.
func (t *Task) FutexWakePrivate(addr uint64, n int, bitset uint32) (int, error) {
	return t.futexWake(addr, true, n, bitset)
}

func (t *Task) futexWake(addr uint64, private bool, n int, bitset uint32) (int, error) {
	if bitset == 0 {
		return 0, unix.EINVAL
	}
	key, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	return t.k.futexes.wakeKey(key, n, bitset)
}

// FutexRequeue implements FUTEX_REQUEUE and FUTEX_CMP_REQUEUE: wake up to
// nWake waiters of addr and move up to nRequeue of the others to addr2;
// it returns how many were woken or moved. With cmp, the word at addr
// must hold val (EAGAIN otherwise).
func (t *Task) FutexRequeue(addr, addr2 uint64, private bool, nWake, nRequeue int, cmp bool, val uint32) (int, error) {
	if nWake < 0 || nRequeue < 0 {
		return 0, unix.EINVAL
	}
	key1, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	if !cmp {
		return t.k.futexes.requeue(key1, key2, nWake, nRequeue, nil)
	}
	m := t.mm
	return t.k.futexes.requeue(key1, key2, nWake, nRequeue, func() error {
		cur, err := m.LoadUint32(addr)
		if err != nil {
			return unix.EFAULT
		}
		if cur != val {
			return unix.EAGAIN
		}
		return nil
	})
}

// FUTEX_WAKE_OP operations and comparisons (linux/futex.h).
const (
	futexOpSet  = 0
	futexOpAdd  = 1
	futexOpOr   = 2
	futexOpAndN = 3
	futexOpXor  = 4

	futexOpOpargShift = 8 // flag: use 1 << oparg

	futexOpCmpEQ = 0
	futexOpCmpNE = 1
	futexOpCmpLT = 2
	futexOpCmpLE = 3
	futexOpCmpGT = 4
	futexOpCmpGE = 5
)

// FutexWakeOp implements FUTEX_WAKE_OP: atomically apply the operation
// encoded in encOp to the word at addr2, wake up to n waiters of addr and,
// if the old value of the word at addr2 satisfies the encoded comparison,
// up to n2 waiters of addr2. It returns how many woke in total.
func (t *Task) FutexWakeOp(addr, addr2 uint64, private bool, n, n2 int, encOp uint32) (int, error) {
	key1, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	m := t.mm
	return t.k.futexes.wakeOp(key1, key2, n, n2, func() (bool, error) {
		return futexAtomicOp(m, addr2, encOp)
	})
}

// signExtend12 sign-extends a 12-bit field.
func signExtend12(v uint32) int32 { return int32(v<<20) >> 20 }

// futexAtomicOp applies FUTEX_WAKE_OP's operation to the word at addr and
// evaluates its comparison on the old value. As on Linux, an unknown
// operation fails (ENOSYS) before the word is touched, an unknown
// comparison after; an out-of-range shift is taken modulo 32.
func futexAtomicOp(m *mm.MemoryManager, addr uint64, enc uint32) (bool, error) {
	op := (enc >> 28) & 7
	cmp := (enc >> 24) & 15
	oparg := signExtend12((enc >> 12) & 0xfff)
	cmparg := signExtend12(enc & 0xfff)
	if (enc>>28)&futexOpOpargShift != 0 {
		oparg = int32(uint32(1) << (uint32(oparg) & 31))
	}
	if op > futexOpXor {
		return false, unix.ENOSYS
	}
	arg := uint32(oparg)
	var old uint32
	for {
		cur, err := m.LoadUint32(addr)
		if err != nil {
			return false, unix.EFAULT
		}
		var nv uint32
		switch op {
		case futexOpSet:
			nv = arg
		case futexOpAdd:
			nv = cur + arg
		case futexOpOr:
			nv = cur | arg
		case futexOpAndN:
			nv = cur &^ arg
		case futexOpXor:
			nv = cur ^ arg
		}
		got, err := m.CompareAndSwapUint32(addr, cur, nv)
		if err != nil {
			return false, unix.EFAULT
		}
		if got == cur {
			old = cur
			break
		}
	}
	o := int32(old)
	switch cmp {
	case futexOpCmpEQ:
		return o == cmparg, nil
	case futexOpCmpNE:
		return o != cmparg, nil
	case futexOpCmpLT:
		return o < cmparg, nil
	case futexOpCmpLE:
		return o <= cmparg, nil
	case futexOpCmpGT:
		return o > cmparg, nil
	case futexOpCmpGE:
		return o >= cmparg, nil
	}
	return false, unix.ENOSYS
}
