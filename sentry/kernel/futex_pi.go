package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// PI futexes (FUTEX_LOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI).
//
// The futex word is the lock: the owner's tid, plus FUTEX_WAITERS when
// waiters are (or may be) queued in the kernel, so that the owner's
// user-space unlock fails its compare-and-swap and calls FUTEX_UNLOCK_PI,
// plus FUTEX_OWNER_DIED after a robust owner died. Priority inheritance
// itself has no meaning in the sentry, which does not schedule; what
// matters is the ownership protocol: the kernel takes a free lock for the
// caller, hands a released lock directly to the first waiter (writing its
// tid into the word), and hands the lock of a dying owner to a waiter.
//
// All changes of the word by the kernel are compare-and-swaps under the
// key's bucket lock, because application threads change it concurrently
// with atomic instructions.

// FutexLockPI implements FUTEX_LOCK_PI, FUTEX_LOCK_PI2 and (with try)
// FUTEX_TRYLOCK_PI on the word at addr. timeout < 0 waits forever.
//
// It returns nil when the caller owns the lock (the word then holds its
// tid, with FUTEX_OWNER_DIED if the previous owner died), EDEADLK if it
// owned it already, ESRCH if the word names a task that does not exist,
// EAGAIN for a failed trylock, ETIMEDOUT, EFAULT, and ERESTARTNOINTR when
// interrupted (Linux never returns EINTR here).
func (t *Task) FutexLockPI(addr uint64, private bool, timeout time.Duration, try bool) error {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	ft := &t.k.futexes
	b := ft.bucket(key)
	m := t.mm
	tid := uint32(t.vtid())
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		b.mu.Lock()
		uval, err := m.LoadUint32(addr)
		if err != nil {
			b.mu.Unlock()
			return unix.EFAULT
		}
		owner := uval & futexTIDMask
		if owner == tid {
			b.mu.Unlock()
			return unix.EDEADLK
		}
		queued := firstPILocked(b, key) != nil
		if owner == 0 {
			// Free (the previous owner may have died): take it,
			// keeping OWNER_DIED for the caller to see.
			nv := tid | uval&futexOwnerDied
			if queued {
				nv |= futexWaiters
			}
			cur, err := m.CompareAndSwapUint32(addr, uval, nv)
			b.mu.Unlock()
			if err != nil {
				return unix.EFAULT
			}
			if cur == uval {
				return nil
			}
			continue
		}
		// Owned by someone else: make the owner's unlock come to the
		// kernel. Linux sets the bit even for a trylock that fails.
		if uval&futexWaiters == 0 {
			cur, err := m.CompareAndSwapUint32(addr, uval, uval|futexWaiters)
			if err != nil {
				b.mu.Unlock()
				return unix.EFAULT
			}
			if cur != uval {
				b.mu.Unlock()
				continue
			}
		}
		if !queued {
			// The first waiter checks that the owner exists.
			o := t.ns.TaskWithID(ThreadID(owner))
			if o == nil {
				b.mu.Unlock()
				return unix.ESRCH
			}
			if o.killed.Load() {
				// The owner is exiting: its exit releases what it
				// holds (robust list, PI handoff) or it disappears.
				// Wait for either, like Linux's -EBUSY retry.
				b.mu.Unlock()
				if _, err := t.Sleep(time.Millisecond); err != nil {
					return ERESTARTNOINTR
				}
				continue
			}
		}
		if try {
			b.mu.Unlock()
			return unix.EAGAIN
		}
		w := newFutexWaiter(key, ^uint32(0))
		w.pi = true
		w.tid = t.vtid()
		w.wordMM = m
		w.wordAddr = addr
		b.waiters.Add(1)
		ft.linkLocked(b, w)
		b.mu.Unlock()

		left := time.Duration(-1)
		if timeout >= 0 {
			left = time.Until(deadline)
			if left < 0 {
				left = 0
			}
		}
		// Being woken means the lock was handed over.
		err = t.blockFutex(w, left)
		if err == ERESTARTSYS {
			return ERESTARTNOINTR
		}
		return err
	}
}

// FutexUnlockPI implements FUTEX_UNLOCK_PI: the caller, which must own the
// lock (EPERM otherwise), releases it to the first waiter queued in the
// kernel (the word becomes the waiter's tid with FUTEX_WAITERS), or sets
// the word to 0 if there is none (EAGAIN if the word changed meanwhile).
func (t *Task) FutexUnlockPI(addr uint64, private bool) error {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	ft := &t.k.futexes
	b := ft.bucket(key)
	m := t.mm
	tid := uint32(t.vtid())
	for {
		b.mu.Lock()
		uval, err := m.LoadUint32(addr)
		if err != nil {
			b.mu.Unlock()
			return unix.EFAULT
		}
		if uval&futexTIDMask != tid {
			b.mu.Unlock()
			return unix.EPERM
		}
		if w := firstPILocked(b, key); w != nil {
			cur, err := m.CompareAndSwapUint32(addr, uval, uint32(w.tid)|futexWaiters)
			if err != nil {
				b.mu.Unlock()
				return unix.EFAULT
			}
			if cur != uval {
				b.mu.Unlock()
				continue
			}
			ft.wakeWaiterLocked(b, w)
			b.mu.Unlock()
			return nil
		}
		cur, err := m.CompareAndSwapUint32(addr, uval, 0)
		b.mu.Unlock()
		if err != nil {
			return unix.EFAULT
		}
		if cur != uval {
			return unix.EAGAIN
		}
		return nil
	}
}

// exitPI hands the PI futexes that t still owns and that have waiters in
// the kernel to their first waiter, as Linux's exit_pi_state_list does
// for a dying owner: the waiter returns from FUTEX_LOCK_PI owning the
// lock, with FUTEX_OWNER_DIED set even for a lock that was not on a robust
// list (Linux's fixup_pi_state_owner does the same). It runs after the robust list, which has already released the
// robust ones. It scans the queues only when PI waiters exist at all.
func (ft *futexTable) exitPI(t *Task) {
	if ft.piWaiters.Load() == 0 {
		return
	}
	tid := uint32(t.vtid())
	for i := range ft.buckets {
		b := &ft.buckets[i]
		if b.waiters.Load() == 0 {
			continue
		}
		b.mu.Lock()
		for w := b.head; w != nil; {
			next := w.next
			if w.pi {
				// Waiters of one key are met in FIFO order, and after
				// the handoff the word no longer names t.
				uval, err := w.wordMM.LoadUint32(w.wordAddr)
				if err == nil && uval&futexTIDMask == tid {
					nv := uint32(w.tid) | futexWaiters | futexOwnerDied
					if cur, err := w.wordMM.CompareAndSwapUint32(w.wordAddr, uval, nv); err == nil && cur == uval {
						ft.wakeWaiterLocked(b, w)
					}
				}
			}
			w = next
		}
		b.mu.Unlock()
	}
}
