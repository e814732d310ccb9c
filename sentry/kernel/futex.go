package kernel

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// This file holds the futex wait queues: a fixed hash table of buckets,
// each a FIFO list of the waiters of every futex key that hashes to it,
// like Linux's futex_hash_bucket. The futex operations themselves are in
// futex_ops.go (wait, wake, requeue, wake-op), futex_pi.go (PI futexes)
// and futex_robust.go (robust lists and owner death).
//
// Lock order:
//
//	futexBucket.mu (two at once only in index order, see lockTwo)
//	  Kernel.mu (PI futexes look up the owner's tid)
//	  mm locks (futex words are read and updated under the bucket lock,
//	  so that a wake cannot slip between a waiter's check of the word
//	  and its enqueueing)
//
// A waiter is woken by being unlinked from its queue (under the bucket
// lock) before a token is sent on its channel; a waiter that gives up
// (timeout, signal) unlinks itself unless a waker already did, in which
// case the wake counts. So each wake is consumed exactly once.

// Futex word bits (linux/futex.h).
const (
	futexWaiters   = 0x80000000
	futexOwnerDied = 0x40000000
	futexTIDMask   = 0x3fffffff
)

// futexBucketBits sizes the hash table: 256 buckets.
const futexBucketBits = 8

// futexWaiter is one task blocked in a futex operation.
type futexWaiter struct {
	// key, bitset, prev and next are protected by the lock of the bucket
	// the waiter is queued on.
	key        mm.FutexKey
	bitset     uint32
	prev, next *futexWaiter

	// bucket is the bucket the waiter is queued on, or nil once a waker
	// unlinked it. It is written under that bucket's lock and read
	// without a lock by the waiter, to know which lock to take.
	bucket atomic.Pointer[futexBucket]

	// pi marks a waiter in FUTEX_LOCK_PI: being woken hands it the lock.
	// tid is the waiting task's tid, which a PI handoff writes into the
	// word; wordMM and wordAddr say where the waiter sees the word, so
	// that a dying owner can be recognised. Immutable while queued.
	pi       bool
	tid      ThreadID
	wordMM   *mm.MemoryManager
	wordAddr uint64

	// woken receives one token after a waker unlinked the waiter.
	woken chan struct{}
}

// futexWaiterPool recycles waiters, so that FUTEX_WAIT allocates nothing.
// A waiter goes back to the pool only when it is unlinked and its channel
// is empty.
var futexWaiterPool = sync.Pool{
	New: func() any { return &futexWaiter{woken: make(chan struct{}, 1)} },
}

func newFutexWaiter(key mm.FutexKey, bitset uint32) *futexWaiter {
	w := futexWaiterPool.Get().(*futexWaiter)
	w.key = key
	w.bitset = bitset
	return w
}

func (w *futexWaiter) release() {
	*w = futexWaiter{woken: w.woken}
	futexWaiterPool.Put(w)
}

// futexBucket is one hash chain.
type futexBucket struct {
	// mu protects the list and the keys of the waiters on it.
	mu         sync.Mutex
	head, tail *futexWaiter

	// waiters counts the queued waiters, plus waiters about to check
	// their word. A wake that sees zero needs no lock: a waiter counts
	// itself before reading the word, so it cannot miss the new value
	// that the waker stored before calling futex.
	waiters atomic.Int32

	_ [36]byte // one bucket per 64-byte cache line
}

// futexTable holds the waiters of every futex word in the sandbox.
type futexTable struct {
	buckets [1 << futexBucketBits]futexBucket

	// piWaiters counts queued FUTEX_LOCK_PI waiters, so that a task's
	// exit looks for PI futexes it still owns only when there can be
	// some.
	piWaiters atomic.Int32
}

func (ft *futexTable) init() {}

// bucketIndex hashes a key. Only the offset is hashed (the Object is an
// interface whose identity Go cannot hash without unsafe); keys that differ
// only in Object share a chain, which costs a comparison.
func bucketIndex(k mm.FutexKey) int {
	return int(((k.Offset >> 2) * 0x9e3779b97f4a7c15) >> (64 - futexBucketBits))
}

func (ft *futexTable) bucket(k mm.FutexKey) *futexBucket {
	return &ft.buckets[bucketIndex(k)]
}

// lockTwo locks the buckets of two keys in index order and returns them;
// unlockTwo undoes it.
func (ft *futexTable) lockTwo(k1, k2 mm.FutexKey) (*futexBucket, *futexBucket) {
	i1, i2 := bucketIndex(k1), bucketIndex(k2)
	b1, b2 := &ft.buckets[i1], &ft.buckets[i2]
	switch {
	case i1 == i2:
		b1.mu.Lock()
	case i1 < i2:
		b1.mu.Lock()
		b2.mu.Lock()
	default:
		b2.mu.Lock()
		b1.mu.Lock()
	}
	return b1, b2
}

func unlockTwo(b1, b2 *futexBucket) {
	b1.mu.Unlock()
	if b2 != b1 {
		b2.mu.Unlock()
	}
}

// linkLocked appends w to b. The caller has already counted w in
// b.waiters. Preconditions: b.mu is held.
func (ft *futexTable) linkLocked(b *futexBucket, w *futexWaiter) {
	w.prev, w.next = b.tail, nil
	if b.tail != nil {
		b.tail.next = w
	} else {
		b.head = w
	}
	b.tail = w
	if w.pi {
		ft.piWaiters.Add(1)
	}
	w.bucket.Store(b)
}

// unlinkLocked removes w from b, without telling w.
// Preconditions: b.mu is held and w is on b.
func (ft *futexTable) unlinkLocked(b *futexBucket, w *futexWaiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		b.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		b.tail = w.prev
	}
	w.prev, w.next = nil, nil
	b.waiters.Add(-1)
	if w.pi {
		ft.piWaiters.Add(-1)
	}
}

// wakeWaiterLocked unlinks w from b and wakes it. w must not be touched
// afterwards: once it has its token it may be reused.
// Preconditions: b.mu is held and w is on b.
func (ft *futexTable) wakeWaiterLocked(b *futexBucket, w *futexWaiter) {
	ft.unlinkLocked(b, w)
	w.bucket.Store(nil)
	w.woken <- struct{}{}
}

// enqueue counts w in its bucket, runs check with the bucket locked
// (it reads the futex word and returns EAGAIN or EFAULT to refuse), and
// queues w if check passes. check must not block.
func (ft *futexTable) enqueue(w *futexWaiter, check func() error) error {
	b := ft.bucket(w.key)
	b.mu.Lock()
	b.waiters.Add(1)
	if err := check(); err != nil {
		b.waiters.Add(-1)
		b.mu.Unlock()
		return err
	}
	ft.linkLocked(b, w)
	b.mu.Unlock()
	return nil
}

// dequeue removes w from its queue after it stopped waiting on its own
// (timeout, interruption). It returns false if a waker got there first,
// in which case the wake has been consumed and counts.
func (ft *futexTable) dequeue(w *futexWaiter) bool {
	for {
		b := w.bucket.Load()
		if b == nil {
			// Unlinked by a waker, whose token is sent right after.
			<-w.woken
			return false
		}
		b.mu.Lock()
		if w.bucket.Load() != b {
			// Requeued (or woken) meanwhile: look again.
			b.mu.Unlock()
			continue
		}
		ft.unlinkLocked(b, w)
		w.bucket.Store(nil)
		b.mu.Unlock()
		return true
	}
}

// wakeLocked wakes waiters of key on b whose bitset intersects bitset, in
// FIFO order, and returns how many woke. Like Linux it wakes at least one
// even when n <= 0, and it refuses (EINVAL) to wake a PI waiter.
// Preconditions: b.mu is held; b is key's bucket.
func (ft *futexTable) wakeLocked(b *futexBucket, key mm.FutexKey, n int, bitset uint32) (int, error) {
	woke := 0
	for w := b.head; w != nil; {
		next := w.next
		if w.key == key {
			if w.pi {
				return woke, unix.EINVAL
			}
			if w.bitset&bitset != 0 {
				ft.wakeWaiterLocked(b, w)
				woke++
				if woke >= n {
					break
				}
			}
		}
		w = next
	}
	return woke, nil
}

// wake wakes up to n waiters of key (see wakeLocked). Without waiters it
// takes no lock and allocates nothing.
func (ft *futexTable) wakeKey(key mm.FutexKey, n int, bitset uint32) (int, error) {
	b := ft.bucket(key)
	if b.waiters.Load() == 0 {
		return 0, nil
	}
	b.mu.Lock()
	woke, err := ft.wakeLocked(b, key, n, bitset)
	b.mu.Unlock()
	return woke, err
}

// requeue wakes up to nWake waiters of key1 and moves up to nRequeue of
// the others to key2, returning how many were woken or moved. check, if
// not nil, runs with both buckets locked first (CMP_REQUEUE's comparison).
func (ft *futexTable) requeue(key1, key2 mm.FutexKey, nWake, nRequeue int, check func() error) (int, error) {
	b1, b2 := ft.lockTwo(key1, key2)
	defer unlockTwo(b1, b2)
	if check != nil {
		if err := check(); err != nil {
			return 0, err
		}
	}
	count := 0
	for w := b1.head; w != nil; {
		next := w.next
		if count-nWake >= nRequeue {
			break
		}
		if w.key != key1 {
			w = next
			continue
		}
		if w.pi {
			return count, unix.EINVAL
		}
		count++
		switch {
		case count <= nWake:
			ft.wakeWaiterLocked(b1, w)
		case b1 == b2:
			w.key = key2
		default:
			ft.unlinkLocked(b1, w)
			w.key = key2
			b2.waiters.Add(1)
			ft.linkLocked(b2, w)
		}
		w = next
	}
	return count, nil
}

// wakeOp implements FUTEX_WAKE_OP's queue side: with both buckets locked
// it runs op (the atomic operation on the second word, which reports
// whether the comparison held), wakes up to n1 waiters of key1 and, if
// the comparison held, up to n2 waiters of key2.
func (ft *futexTable) wakeOp(key1, key2 mm.FutexKey, n1, n2 int, op func() (bool, error)) (int, error) {
	b1, b2 := ft.lockTwo(key1, key2)
	defer unlockTwo(b1, b2)
	cmp, err := op()
	if err != nil {
		return 0, err
	}
	woke, err := ft.wakeLocked(b1, key1, n1, ^uint32(0))
	if err != nil {
		return 0, err
	}
	if cmp {
		w2, err := ft.wakeLocked(b2, key2, n2, ^uint32(0))
		if err != nil {
			return 0, err
		}
		woke += w2
	}
	return woke, nil
}

// firstPILocked returns the first PI waiter of key on b, or nil.
// Preconditions: b.mu is held.
func firstPILocked(b *futexBucket, key mm.FutexKey) *futexWaiter {
	for w := b.head; w != nil; w = w.next {
		if w.pi && w.key == key {
			return w
		}
	}
	return nil
}

// wake is FUTEX_WAKE for the word at addr of t's address space, for the
// kernel's own wakes (CLONE_CHILD_CLEARTID, robust lists); it returns how
// many woke and ignores errors, as Linux does there.
func (ft *futexTable) wake(t *Task, addr uint64, private bool, n int, bitset uint32) int {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return 0
	}
	woke, _ := ft.wakeKey(key, n, bitset)
	return woke
}
