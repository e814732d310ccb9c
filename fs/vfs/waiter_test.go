package vfs_test

import (
	"sync"
	"testing"
	"time"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

type countCB struct {
	mu    sync.Mutex
	calls int
	last  uint32
}

func (c *countCB) NotifyEvent(_ *vfs.WaitEntry, ready uint32) {
	c.mu.Lock()
	c.calls++
	c.last = ready
	c.mu.Unlock()
}

func TestWaitQueueMask(t *testing.T) {
	var q vfs.WaitQueue
	if q.HasWaiters() {
		t.Fatal("empty queue has waiters")
	}
	q.Notify(vfs.EventIn) // no waiters: nothing happens
	w := vfs.NewWaiter()
	var e vfs.WaitEntry
	e.Init(w, vfs.EventIn)
	q.EventRegister(&e)
	if !q.HasWaiters() {
		t.Fatal("registered entry not counted")
	}
	q.Notify(vfs.EventOut)
	select {
	case <-w.C():
		t.Fatal("woken for an event outside the mask")
	default:
	}
	q.Notify(vfs.EventIn | vfs.EventOut)
	select {
	case <-w.C():
	default:
		t.Fatal("not woken")
	}
	// Two notifications before the sleeper looks leave one wakeup.
	q.Notify(vfs.EventIn)
	q.Notify(vfs.EventIn)
	<-w.C()
	select {
	case <-w.C():
		t.Fatal("more than one pending wakeup")
	default:
	}
	q.EventUnregister(&e)
	q.EventUnregister(&e) // twice is harmless
	q.Notify(vfs.EventIn)
	select {
	case <-w.C():
		t.Fatal("woken after unregistering")
	default:
	}
	if q.HasWaiters() {
		t.Fatal("waiters after unregistering")
	}
}

func TestWaitQueueCallbackAndExclusive(t *testing.T) {
	var q vfs.WaitQueue
	var a, b, c countCB
	var ea, eb, ec vfs.WaitEntry
	ea.InitCallback(&a, vfs.EventIn)
	eb.InitCallback(&b, vfs.EventIn)
	ec.InitCallback(&c, vfs.EventIn|vfs.EventOut)
	ea.Exclusive, eb.Exclusive = true, true
	q.EventRegister(&ea)
	q.EventRegister(&eb)
	q.EventRegister(&ec)
	q.Notify(vfs.EventIn | vfs.EventOut)
	if a.calls != 1 || b.calls != 0 || c.calls != 1 {
		t.Fatalf("calls a=%d b=%d c=%d, want 1 0 1", a.calls, b.calls, c.calls)
	}
	if a.last != vfs.EventIn || c.last != vfs.EventIn|vfs.EventOut {
		t.Fatalf("ready masks %#x %#x", a.last, c.last)
	}
	// Removing the middle entry keeps the list intact.
	q.EventUnregister(&ea)
	q.Notify(vfs.EventIn)
	if b.calls != 1 || c.calls != 2 {
		t.Fatalf("after unregister: b=%d c=%d", b.calls, c.calls)
	}
	q.EventUnregister(&ec)
	q.EventUnregister(&eb)
	if q.HasWaiters() {
		t.Fatal("waiters left")
	}
}

// TestWaitQueueNoLostWakeup hammers the register-check-block pattern: a
// consumer that registers before checking never misses a producer's
// notification.
func TestWaitQueueNoLostWakeup(t *testing.T) {
	var q vfs.WaitQueue
	var mu sync.Mutex
	items := 0
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := vfs.GetWaiter()
		defer vfs.PutWaiter(w)
		e := w.SingleEntry(vfs.EventIn)
		got := 0
		for got < n {
			mu.Lock()
			if items > 0 {
				items--
				got++
				mu.Unlock()
				continue
			}
			q.EventRegister(e)
			mu.Unlock()
			select {
			case <-w.C():
			case <-time.After(10 * time.Second):
				t.Error("lost wakeup")
				return
			}
			q.EventUnregister(e)
		}
	}()
	for i := 0; i < n; i++ {
		mu.Lock()
		items++
		mu.Unlock()
		q.Notify(vfs.EventIn)
	}
	<-done
}

func BenchmarkNotifyNoWaiters(b *testing.B) {
	var q vfs.WaitQueue
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		q.Notify(vfs.EventIn)
	}
}
