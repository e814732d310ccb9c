package kernel

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// futexKey identifies a futex word. Private futexes are keyed by address
// space and address.
//
// TODO(processes issue): key shared futexes by memory-file offset so that
// they work across fork and MAP_SHARED.
type futexKey struct {
	mm   *mm.MemoryManager
	addr uint64
}

type futexWaiter struct {
	key    futexKey
	bitset uint32
	// woken is closed by the waker, which also removes the waiter from
	// the queue (under futexTable.mu).
	woken chan struct{}
}

// futexTable holds the waiters of every futex word.
type futexTable struct {
	// mu protects queues. Lock order: futexTable.mu before mm locks
	// (futex reads the word while holding it, so that a wake cannot be
	// lost between the check and the enqueue).
	mu     sync.Mutex
	queues map[futexKey][]*futexWaiter
}

func (ft *futexTable) init() { ft.queues = make(map[futexKey][]*futexWaiter) }

// FutexWait implements FUTEX_WAIT(_BITSET): sleep while the word at addr
// holds val. timeout < 0 waits forever.
func (t *Task) FutexWait(addr uint64, val, bitset uint32, timeout time.Duration) error {
	if addr&3 != 0 {
		return unix.EINVAL
	}
	if bitset == 0 {
		return unix.EINVAL
	}
	ft := &t.k.futexes
	key := futexKey{t.mm, addr}
	var b [4]byte
	ft.mu.Lock()
	if _, err := t.mm.CopyIn(addr, b[:]); err != nil {
		ft.mu.Unlock()
		return unix.EFAULT
	}
	if binary.LittleEndian.Uint32(b[:]) != val {
		ft.mu.Unlock()
		return unix.EAGAIN
	}
	w := &futexWaiter{key: key, bitset: bitset, woken: make(chan struct{})}
	ft.queues[key] = append(ft.queues[key], w)
	ft.mu.Unlock()

	var err error
	if timeout < 0 {
		err = t.Block(w.woken)
	} else {
		err = t.BlockTimeout(w.woken, timeout)
	}
	if err == nil {
		return nil
	}
	// Timed out or interrupted: leave the queue unless a waker got there
	// first, in which case the wake counts.
	ft.mu.Lock()
	defer ft.mu.Unlock()
	select {
	case <-w.woken:
		return nil
	default:
	}
	// A requeue may have moved the waiter to another word.
	q := ft.queues[w.key]
	for i, x := range q {
		if x == w {
			q = append(q[:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(ft.queues, w.key)
	} else {
		ft.queues[w.key] = q
	}
	if err == ERESTARTSYS {
		// futex_wait is restarted only when it has no timeout.
		if timeout >= 0 {
			return unix.EINTR
		}
	}
	return err
}

// FutexWake implements FUTEX_WAKE(_BITSET): wake at most n waiters of the
// word at addr whose bitset intersects bitset. It returns how many woke.
func (t *Task) FutexWake(addr uint64, n int, bitset uint32) (int, error) {
	if addr&3 != 0 {
		return 0, unix.EINVAL
	}
	if bitset == 0 {
		return 0, unix.EINVAL
	}
	return t.k.futexes.wake(t, addr, true, n, bitset), nil
}

func (ft *futexTable) wake(t *Task, addr uint64, private bool, n int, bitset uint32) int {
	key := futexKey{t.mm, addr}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	q := ft.queues[key]
	woke := 0
	out := q[:0]
	for _, w := range q {
		if woke < n && w.bitset&bitset != 0 {
			close(w.woken)
			woke++
			continue
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		delete(ft.queues, key)
	} else {
		ft.queues[key] = out
	}
	return woke
}

// FutexRequeue implements FUTEX_REQUEUE/CMP_REQUEUE: wake up to nWake
// waiters of addr and move up to nRequeue of the rest to addr2. With cmp,
// the word at addr must hold val (EAGAIN otherwise).
func (t *Task) FutexRequeue(addr, addr2 uint64, nWake, nRequeue int, cmp bool, val uint32) (int, error) {
	if addr&3 != 0 || addr2&3 != 0 {
		return 0, unix.EINVAL
	}
	ft := &t.k.futexes
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if cmp {
		var b [4]byte
		if _, err := t.mm.CopyIn(addr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if binary.LittleEndian.Uint32(b[:]) != val {
			return 0, unix.EAGAIN
		}
	}
	key, key2 := futexKey{t.mm, addr}, futexKey{t.mm, addr2}
	q := ft.queues[key]
	done := 0
	i := 0
	for ; i < len(q) && done < nWake; i++ {
		close(q[i].woken)
		done++
	}
	moved := 0
	for ; i < len(q) && moved < nRequeue; i++ {
		q[i].key = key2
		ft.queues[key2] = append(ft.queues[key2], q[i])
		moved++
	}
	rest := append([]*futexWaiter(nil), q[i:]...)
	if len(rest) == 0 {
		delete(ft.queues, key)
	} else {
		ft.queues[key] = rest
	}
	return done + moved, nil
}
