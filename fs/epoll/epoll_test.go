package epoll_test

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/epoll"
	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type ctx struct{}

func (ctx) Credentials() *auth.Credentials      { return auth.NewRootCredentials() }
func (ctx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (ctx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

func newPipe(t *testing.T) (r, w *vfs.FileDescription) {
	t.Helper()
	r, w = pipe.New(0, unix.O_NONBLOCK)
	t.Cleanup(func() {
		r.DecRef(ctx{})
		w.DecRef(ctx{})
	})
	return r, w
}

func wait(t *testing.T, ep *epoll.EventPoll) []epoll.Event {
	t.Helper()
	var dst [16]epoll.Event
	n, err := ep.Wait(ctx{}, dst[:], time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	return dst[:n]
}

func TestLevelEdgeOneshot(t *testing.T) {
	f := epoll.New(vfs.New())
	defer f.DecRef(ctx{})
	ep := f.Impl().(*epoll.EventPoll)
	r, w := newPipe(t)
	if err := ep.Add(r, 3, epoll.Event{Events: unix.EPOLLIN, Data: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ep.Add(r, 3, epoll.Event{Events: unix.EPOLLIN}); err != unix.EEXIST {
		t.Fatalf("second add: %v", err)
	}
	if ev := wait(t, ep); len(ev) != 0 {
		t.Fatalf("empty pipe: %v", ev)
	}
	w.Write(ctx{}, []byte("ab"))
	for i := 0; i < 2; i++ {
		if ev := wait(t, ep); len(ev) != 1 || ev[0] != (epoll.Event{Events: unix.EPOLLIN, Data: 1}) {
			t.Fatalf("LT wait %d: %v", i, ev)
		}
	}
	var buf [4]byte
	r.Read(ctx{}, buf[:])
	if ev := wait(t, ep); len(ev) != 0 {
		t.Fatalf("drained: %v", ev)
	}
	// Edge-triggered.
	if err := ep.Modify(r, 3, epoll.Event{Events: unix.EPOLLIN | epoll.EPOLLET, Data: 2}); err != nil {
		t.Fatal(err)
	}
	w.Write(ctx{}, []byte("c"))
	if ev := wait(t, ep); len(ev) != 1 || ev[0].Data != 2 {
		t.Fatalf("ET: %v", ev)
	}
	if ev := wait(t, ep); len(ev) != 0 {
		t.Fatalf("ET repeated: %v", ev)
	}
	// One-shot.
	r.Read(ctx{}, buf[:])
	if err := ep.Modify(r, 3, epoll.Event{Events: unix.EPOLLIN | epoll.EPOLLONESHOT, Data: 3}); err != nil {
		t.Fatal(err)
	}
	w.Write(ctx{}, []byte("d"))
	if ev := wait(t, ep); len(ev) != 1 || ev[0].Data != 3 {
		t.Fatalf("oneshot: %v", ev)
	}
	w.Write(ctx{}, []byte("e"))
	if ev := wait(t, ep); len(ev) != 0 {
		t.Fatalf("oneshot fired twice: %v", ev)
	}
	if err := ep.Delete(r, 3); err != nil {
		t.Fatal(err)
	}
	if err := ep.Delete(r, 3); err != unix.ENOENT {
		t.Fatalf("second delete: %v", err)
	}
}

func TestReleaseRemoves(t *testing.T) {
	f := epoll.New(vfs.New())
	defer f.DecRef(ctx{})
	ep := f.Impl().(*epoll.EventPoll)
	r, w := pipe.New(0, 0)
	defer w.DecRef(ctx{})
	ep.Add(r, 3, epoll.Event{Events: unix.EPOLLIN})
	w.Write(ctx{}, []byte("x"))
	r.DecRef(ctx{}) // last reference: the registration goes
	if ev := wait(t, ep); len(ev) != 0 {
		t.Fatalf("released file reported: %v", ev)
	}
}

func TestNestedAndLoops(t *testing.T) {
	tree := vfs.New()
	fo, fi := epoll.New(tree), epoll.New(tree)
	defer fo.DecRef(ctx{})
	defer fi.DecRef(ctx{})
	outer, inner := fo.Impl().(*epoll.EventPoll), fi.Impl().(*epoll.EventPoll)
	r, w := newPipe(t)
	inner.Add(r, 3, epoll.Event{Events: unix.EPOLLIN, Data: 1})
	if err := outer.Add(fi, 4, epoll.Event{Events: unix.EPOLLIN, Data: 2}); err != nil {
		t.Fatal(err)
	}
	if err := inner.Add(fo, 5, epoll.Event{Events: unix.EPOLLIN}); err != unix.ELOOP {
		t.Fatalf("loop: %v", err)
	}
	if err := outer.Add(fo, 5, epoll.Event{Events: unix.EPOLLIN}); err != unix.EINVAL {
		t.Fatalf("self: %v", err)
	}
	if ev := wait(t, outer); len(ev) != 0 {
		t.Fatalf("quiet outer: %v", ev)
	}
	w.Write(ctx{}, []byte("x"))
	if ev := wait(t, outer); len(ev) != 1 || ev[0].Data != 2 {
		t.Fatalf("outer: %v", ev)
	}
	var buf [1]byte
	r.Read(ctx{}, buf[:])
	if ev := wait(t, outer); len(ev) != 0 {
		t.Fatalf("outer after drain: %v", ev)
	}
}

// TestConcurrent runs writers, readers, waiters and ctl calls at once,
// for the race detector, and checks that a blocked Wait is woken.
func TestConcurrent(t *testing.T) {
	f := epoll.New(vfs.New())
	defer f.DecRef(ctx{})
	ep := f.Impl().(*epoll.EventPoll)
	const n = 8
	var rs, ws [n]*vfs.FileDescription
	for i := range rs {
		rs[i], ws[i] = newPipe(t)
		ep.Add(rs[i], int32(i), epoll.Event{Events: unix.EPOLLIN | epoll.EPOLLET, Data: uint64(i)})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var buf [64]byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				ws[i].Write(ctx{}, []byte("x"))
				rs[i].Read(ctx{}, buf[:])
				if i%2 == 0 {
					ep.Modify(rs[i], int32(i), epoll.Event{Events: unix.EPOLLIN, Data: uint64(i)})
				}
			}
		}(i)
	}
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for got < 1000 && time.Now().Before(deadline) {
		var dst [n]epoll.Event
		k, err := ep.Wait(ctx{}, dst[:], time.Now().Add(time.Second), false)
		if err != nil {
			t.Fatal(err)
		}
		got += k
	}
	close(stop)
	wg.Wait()
	if got < 1000 {
		t.Fatalf("only %d events", got)
	}
	// A waiter blocked with nothing ready is woken by a write.
	for i := range rs {
		ep.Delete(rs[i], int32(i))
		var buf [64]byte
		rs[i].Read(ctx{}, buf[:])
	}
	ep.Add(rs[0], 0, epoll.Event{Events: unix.EPOLLIN, Data: 9})
	go func() {
		time.Sleep(20 * time.Millisecond)
		ws[0].Write(ctx{}, []byte("y"))
	}()
	var dst [1]epoll.Event
	k, err := ep.Wait(ctx{}, dst[:], time.Now().Add(5*time.Second), false)
	if err != nil || k != 1 || dst[0].Data != 9 {
		t.Fatalf("blocked wait: %d %v %v", k, dst, err)
	}
}
