package kernel

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// object stands in for the memory a key names.
type object struct{ _ int }

func key(o *object, off uint64) mm.FutexKey { return mm.FutexKey{Object: o, Offset: off} }

// queueN queues n waiters on k and returns them in order.
func queueN(t *testing.T, ft *futexTable, k mm.FutexKey, n int, bitset uint32) []*futexWaiter {
	t.Helper()
	var ws []*futexWaiter
	for i := 0; i < n; i++ {
		w := newFutexWaiter(k, bitset)
		if err := ft.enqueue(w, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	return ws
}

func isWoken(w *futexWaiter) bool {
	select {
	case <-w.woken:
		return true
	default:
		return false
	}
}

func TestFutexWakeFIFOAndCounts(t *testing.T) {
	var ft futexTable
	o := &object{}
	k := key(o, 0x1000)
	if n, err := ft.wakeKey(k, 1, ^uint32(0)); n != 0 || err != nil {
		t.Fatalf("wake without waiters: %d, %v", n, err)
	}
	ws := queueN(t, &ft, k, 4, ^uint32(0))
	if n, _ := ft.wakeKey(k, 2, ^uint32(0)); n != 2 {
		t.Fatalf("woke %d, want 2", n)
	}
	for i, w := range ws {
		if got, want := isWoken(w), i < 2; got != want {
			t.Errorf("waiter %d woken=%v, want %v", i, got, want)
		}
	}
	// Another key at the same offset (another address space) is untouched.
	other := queueN(t, &ft, key(&object{}, 0x1000), 1, ^uint32(0))
	// n <= 0 wakes one, like Linux.
	if n, _ := ft.wakeKey(k, 0, ^uint32(0)); n != 1 || !isWoken(ws[2]) {
		t.Fatalf("wake(0) woke %d", n)
	}
	if n, _ := ft.wakeKey(k, 10, ^uint32(0)); n != 1 || !isWoken(ws[3]) {
		t.Fatalf("wake(10) woke %d", n)
	}
	if isWoken(other[0]) {
		t.Error("waiter of another key woken")
	}
	if !ft.dequeue(other[0]) {
		t.Error("dequeue of a queued waiter reported a wake")
	}
	for i := range ft.buckets {
		if n := ft.buckets[i].waiters.Load(); n != 0 {
			t.Errorf("bucket %d counts %d waiters", i, n)
		}
	}
}

func TestFutexBitset(t *testing.T) {
	var ft futexTable
	k := key(&object{}, 0x2000)
	a := queueN(t, &ft, k, 1, 0x1)
	b := queueN(t, &ft, k, 1, 0x2)
	if n, _ := ft.wakeKey(k, 10, 0x2); n != 1 || isWoken(a[0]) || !isWoken(b[0]) {
		t.Fatalf("bitset wake woke %d", n)
	}
	if n, _ := ft.wakeKey(k, 10, 0x3); n != 1 || !isWoken(a[0]) {
		t.Fatalf("second wake woke %d", n)
	}
}

func TestFutexEnqueueCheckRefuses(t *testing.T) {
	var ft futexTable
	k := key(&object{}, 0x3000)
	w := newFutexWaiter(k, ^uint32(0))
	if err := ft.enqueue(w, func() error { return unix.EAGAIN }); err != unix.EAGAIN {
		t.Fatalf("got %v", err)
	}
	w.release()
	if n := ft.bucket(k).waiters.Load(); n != 0 {
		t.Fatalf("refused waiter still counted: %d", n)
	}
	if n, _ := ft.wakeKey(k, 1, ^uint32(0)); n != 0 {
		t.Fatal("refused waiter was queued")
	}
}

func TestFutexRequeue(t *testing.T) {
	var ft futexTable
	o := &object{}
	k1, k2 := key(o, 0x4000), key(o, 0x8000)
	ws := queueN(t, &ft, k1, 5, ^uint32(0))
	if n, err := ft.requeue(k1, k2, 1, 2, nil); n != 3 || err != nil {
		t.Fatalf("requeue: %d, %v", n, err)
	}
	if !isWoken(ws[0]) {
		t.Error("first waiter not woken")
	}
	// ws[1], ws[2] now wait on k2; ws[3], ws[4] still on k1.
	if n, _ := ft.wakeKey(k2, 10, ^uint32(0)); n != 2 || !isWoken(ws[1]) || !isWoken(ws[2]) {
		t.Fatalf("wake of k2 woke %d", n)
	}
	if n, _ := ft.wakeKey(k1, 10, ^uint32(0)); n != 2 || !isWoken(ws[3]) || !isWoken(ws[4]) {
		t.Fatalf("wake of k1 woke %d", n)
	}
	// A failing comparison changes nothing.
	ws = queueN(t, &ft, k1, 1, ^uint32(0))
	if _, err := ft.requeue(k1, k2, 1, 1, func() error { return unix.EAGAIN }); err != unix.EAGAIN {
		t.Fatalf("cmp requeue: %v", err)
	}
	// Requeue onto the same key counts but keeps the waiter.
	if n, _ := ft.requeue(k1, k1, 0, 5, nil); n != 1 {
		t.Fatalf("same-key requeue: %d", n)
	}
	if n, _ := ft.wakeKey(k1, 1, ^uint32(0)); n != 1 || !isWoken(ws[0]) {
		t.Fatal("waiter lost by same-key requeue")
	}
	// Requeue with nothing to wake and nothing to move.
	if n, _ := ft.requeue(k1, k2, 0, 0, nil); n != 0 {
		t.Fatalf("empty requeue: %d", n)
	}
}

func TestFutexWakeOp(t *testing.T) {
	var ft futexTable
	o := &object{}
	k1, k2 := key(o, 0x100), key(o, 0x104)
	a := queueN(t, &ft, k1, 2, ^uint32(0))
	b := queueN(t, &ft, k2, 2, ^uint32(0))
	n, err := ft.wakeOp(k1, k2, 1, 1, func() (bool, error) { return true, nil })
	if n != 2 || err != nil || !isWoken(a[0]) || !isWoken(b[0]) {
		t.Fatalf("wakeOp: %d, %v", n, err)
	}
	n, _ = ft.wakeOp(k1, k2, 1, 1, func() (bool, error) { return false, nil })
	if n != 1 || !isWoken(a[1]) || isWoken(b[1]) {
		t.Fatalf("wakeOp with false comparison: %d", n)
	}
	if _, err := ft.wakeOp(k1, k2, 1, 1, func() (bool, error) { return false, unix.EFAULT }); err != unix.EFAULT {
		t.Fatalf("wakeOp error: %v", err)
	}
	if isWoken(b[1]) || !ft.dequeue(b[1]) {
		t.Fatal("failed wakeOp woke a waiter")
	}
}

func TestFutexWakeRefusesPIWaiter(t *testing.T) {
	var ft futexTable
	k := key(&object{}, 0x10)
	w := newFutexWaiter(k, ^uint32(0))
	w.pi = true
	b := ft.bucket(k)
	b.mu.Lock()
	b.waiters.Add(1)
	ft.linkLocked(b, w)
	b.mu.Unlock()
	if ft.piWaiters.Load() != 1 {
		t.Fatal("PI waiter not counted")
	}
	if _, err := ft.wakeKey(k, 1, ^uint32(0)); err != unix.EINVAL {
		t.Fatalf("FUTEX_WAKE of a PI waiter: %v", err)
	}
	if !ft.dequeue(w) || ft.piWaiters.Load() != 0 {
		t.Fatal("PI waiter accounting")
	}
}

// TestFutexRaces has waiters give up (as on a timeout) while wakers and
// requeuers run: every waiter must end either woken exactly once or
// dequeued by itself, and the wakes reported must match.
func TestFutexRaces(t *testing.T) {
	var ft futexTable
	o := &object{}
	keys := []mm.FutexKey{key(o, 0), key(o, 4), key(o, 1<<20)}
	const waiters = 200
	var woken, gaveUp, reported atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := newFutexWaiter(keys[i%len(keys)], ^uint32(0))
			if err := ft.enqueue(w, func() error { return nil }); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-w.woken:
				woken.Add(1)
			case <-time.After(time.Duration(i%7) * time.Millisecond):
				if ft.dequeue(w) {
					gaveUp.Add(1)
				} else {
					woken.Add(1)
				}
			}
			w.release()
		}(i)
	}
	var wakers sync.WaitGroup
	for j := 0; j < 4; j++ {
		wakers.Add(1)
		go func(j int) {
			defer wakers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[(i+j)%len(keys)]
				if j == 0 {
					ft.requeue(k, keys[(i+1)%len(keys)], 0, 3, nil)
					continue
				}
				n, err := ft.wakeKey(k, 2, ^uint32(0))
				if err != nil {
					t.Error(err)
				}
				reported.Add(int64(n))
			}
		}(j)
	}
	wg.Wait()
	close(stop)
	wakers.Wait()
	if woken.Load()+gaveUp.Load() != waiters {
		t.Errorf("woken %d + gave up %d != %d", woken.Load(), gaveUp.Load(), waiters)
	}
	if woken.Load() != reported.Load() {
		t.Errorf("%d waiters woken but wakers reported %d", woken.Load(), reported.Load())
	}
}

func TestSignExtendAndDecode(t *testing.T) {
	if signExtend12(0xfff) != -1 || signExtend12(0x7ff) != 2047 || signExtend12(0x800) != -2048 {
		t.Fatal("signExtend12")
	}
}
