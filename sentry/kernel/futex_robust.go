package kernel

import (
	"encoding/binary"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// Robust futexes: a thread registers (set_robust_list) the head of a list,
// in its own memory, of the locks it holds. When it exits or execs, the
// kernel walks the list and marks each lock whose word still holds the
// thread's tid with FUTEX_OWNER_DIED, waking a waiter, so that the next
// locker gets EOWNERDEAD instead of blocking forever. See Linux's
// Documentation/locking/robust-futex-ABI.rst.
//
// struct robust_list_head on amd64:
//
//	struct robust_list *next;            // list.next, offset 0
//	long futex_offset;                   // offset 8: word = entry + futex_offset
//	struct robust_list *list_op_pending; // offset 16
//
// Bit 0 of an entry pointer marks a PI futex.

// RobustListHeadSize is sizeof(struct robust_list_head) on amd64, the only
// length set_robust_list accepts.
const RobustListHeadSize = 24

// robustListLimit bounds the walk, like Linux's ROBUST_LIST_LIMIT, so that
// a circular or huge list cannot keep an exiting thread busy.
const robustListLimit = 2048

// robustDeathRetries bounds the compare-and-swap retries on one word that
// the application keeps changing.
const robustDeathRetries = 128

// releaseFutexes is the futex part of a thread's exit and of execve
// (Linux's futex_exit_release and futex_exec_release): walk the robust
// list, then hand the PI futexes the thread still owns to their waiters.
// It must run while t.mm is still the address space the list lives in,
// before CLONE_CHILD_CLEARTID is handled.
func (t *Task) releaseFutexes() {
	if t.mm == nil {
		return
	}
	if head := t.robustList.Load(); head != 0 {
		t.exitRobustList(head)
	}
	t.k.futexes.exitPI(t)
}

// fetchRobustEntry reads a list pointer at addr, splitting off the PI bit.
func fetchRobustEntry(m *mm.MemoryManager, addr uint64) (entry uint64, pi, ok bool) {
	var b [8]byte
	if _, err := m.CopyIn(addr, b[:]); err != nil {
		return 0, false, false
	}
	v := binary.LittleEndian.Uint64(b[:])
	return v &^ 1, v&1 != 0, true
}

// exitRobustList walks the robust list at head, tolerating bad pointers:
// the walk simply stops at the first one.
func (t *Task) exitRobustList(head uint64) {
	m := t.mm
	entry, pi, ok := fetchRobustEntry(m, head)
	if !ok {
		return
	}
	var b [8]byte
	if _, err := m.CopyIn(head+8, b[:]); err != nil {
		return
	}
	futexOffset := binary.LittleEndian.Uint64(b[:]) // a signed long; wraps
	pending, pendingPI, ok := fetchRobustEntry(m, head+16)
	if !ok {
		return
	}
	for limit := robustListLimit; entry != head; {
		next, nextPI, nextOK := fetchRobustEntry(m, entry)
		// The entry being added or removed is handled last, with the
		// pending rules.
		if entry != pending {
			if !t.handleFutexDeath(entry+futexOffset, pi, false) {
				return
			}
		}
		if !nextOK {
			return
		}
		entry, pi = next, nextPI
		if limit--; limit == 0 {
			break
		}
	}
	if pending != 0 {
		t.handleFutexDeath(pending+futexOffset, pendingPI, true)
	}
}

// handleFutexDeath releases the robust futex at addr if t owns it: its
// word becomes FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and one waiter is
// woken (for a PI futex, the first waiter is handed the lock). It returns
// false if the word cannot be accessed, which ends the walk.
func (t *Task) handleFutexDeath(addr uint64, pi, pending bool) bool {
	if addr&3 != 0 {
		return false
	}
	m := t.mm
	ft := &t.k.futexes
	tid := uint32(t.vtid())
	for i := 0; i < robustDeathRetries; i++ {
		uval, err := m.LoadUint32(addr)
		if err != nil {
			return false
		}
		owner := uval & futexTIDMask
		if pending && !pi && owner == 0 {
			// The owner died while unlocking, after releasing the
			// word but before waking: wake for it, and leave the
			// word alone (it is consistent).
			ft.wake(t, addr, false, 1, ^uint32(0))
			return true
		}
		if owner != tid {
			return true
		}
		mval := uval&futexWaiters | futexOwnerDied
		if pi {
			done, ok := ft.piOwnerDied(t, addr, uval, mval)
			if !ok {
				return false
			}
			if done {
				return true
			}
			continue
		}
		cur, err := m.CompareAndSwapUint32(addr, uval, mval)
		if err != nil {
			return false
		}
		if cur != uval {
			continue
		}
		if uval&futexWaiters != 0 {
			ft.wake(t, addr, false, 1, ^uint32(0))
		}
		return true
	}
	return true
}

// piOwnerDied marks the PI futex at addr, owned by the dying t with word
// uval, as FUTEX_OWNER_DIED (mval) and hands it to its first waiter, if
// any, who then owns it with FUTEX_OWNER_DIED still set. done is false if
// the word changed and the caller must look again; ok is false if the word
// cannot be accessed.
func (ft *futexTable) piOwnerDied(t *Task, addr uint64, uval, mval uint32) (done, ok bool) {
	key, err := t.futexKey(addr, false)
	if err != nil {
		return false, false
	}
	m := t.mm
	b := ft.bucket(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, err := m.CompareAndSwapUint32(addr, uval, mval)
	if err != nil {
		return false, false
	}
	if cur != uval {
		return false, true
	}
	if w := firstPILocked(b, key); w != nil {
		nv := uint32(w.tid) | futexOwnerDied | futexWaiters
		if cur, err := m.CompareAndSwapUint32(addr, mval, nv); err == nil && cur == mval {
			ft.wakeWaiterLocked(b, w)
		}
	}
	return true, true
}
