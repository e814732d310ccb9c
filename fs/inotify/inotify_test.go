package inotify

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type testCtx struct{ out []byte }

func (*testCtx) Credentials() *auth.Credentials { return nil }
func (*testCtx) CopyIn(uint64, []byte) (int, error) {
	return 0, unix.EFAULT
}
func (c *testCtx) CopyOut(_ uint64, src []byte) (int, error) {
	c.out = append(c.out[:0], src...)
	return len(src), nil
}

type rec struct {
	wd                 int32
	mask, cookie, size uint32
	name               string
}

func parse(t *testing.T, b []byte) []rec {
	t.Helper()
	var out []rec
	for len(b) > 0 {
		if len(b) < EventSize {
			t.Fatalf("short event: %d bytes", len(b))
		}
		r := rec{
			wd:     int32(binary.LittleEndian.Uint32(b[0:])),
			mask:   binary.LittleEndian.Uint32(b[4:]),
			cookie: binary.LittleEndian.Uint32(b[8:]),
			size:   binary.LittleEndian.Uint32(b[12:]),
		}
		if r.size%EventSize != 0 || int(r.size) > len(b)-EventSize {
			t.Fatalf("bad len %d", r.size)
		}
		name := b[EventSize : EventSize+r.size]
		for i, c := range name {
			if c == 0 {
				r.name = string(name[:i])
				for _, z := range name[i:] {
					if z != 0 {
						t.Fatalf("padding of %q not zero", r.name)
					}
				}
				break
			}
		}
		if r.size != 0 && r.name == "" {
			t.Fatalf("name without NUL")
		}
		out = append(out, r)
		b = b[EventSize+r.size:]
	}
	return out
}

func newTest(max int) (*Instance, *watch) {
	in := FromFile(New(vfs.New(), Nonblock, max))
	w := &watch{in: in, wd: 1}
	w.mask.Store(unix.IN_ALL_EVENTS)
	in.watches[1] = w
	return in, w
}

func readAll(t *testing.T, in *Instance) []rec {
	t.Helper()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = 0xff // padding must be written, not assumed
	}
	n, err := in.PRead(&testCtx{}, buf, -1)
	if err == unix.EAGAIN {
		return nil
	}
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return parse(t, buf[:n])
}

func TestCoalescing(t *testing.T) {
	in, w := newTest(DefaultMaxQueuedEvents)
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_MODIFY, Name: "a"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_MODIFY, Name: "a"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_MODIFY, Name: "b"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_MODIFY, Name: "a"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_MODIFY})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_MODIFY})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_ACCESS})
	got := readAll(t, in)
	want := []rec{
		{1, unix.IN_MODIFY, 0, 16, "a"},
		{1, unix.IN_MODIFY, 0, 16, "b"},
		{1, unix.IN_MODIFY, 0, 16, "a"},
		{1, unix.IN_MODIFY, 0, 0, ""},
		{1, unix.IN_ACCESS, 0, 0, ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// After a read, the next event is not merged with what was read.
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_ACCESS})
	if got := readAll(t, in); len(got) != 1 {
		t.Errorf("after read: got %v", got)
	}
}

func TestNamePadding(t *testing.T) {
	in, w := newTest(DefaultMaxQueuedEvents)
	for _, name := range []string{"x", "fifteen-chars-x", "sixteen-chars-xx", "a-name-of-thirty-one-characters"} {
		w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_CREATE, Name: name})
	}
	var sizes []uint32
	for _, r := range readAll(t, in) {
		sizes = append(sizes, r.size)
	}
	if fmt.Sprint(sizes) != "[16 16 32 32]" {
		t.Errorf("name lengths %v, want [16 16 32 32]", sizes)
	}
}

func TestShortBuffer(t *testing.T) {
	in, w := newTest(DefaultMaxQueuedEvents)
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_CREATE, Name: "name"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_DELETE, Name: "name"})
	ctx := &testCtx{}
	if _, err := in.PRead(ctx, make([]byte, 31), -1); err != unix.EINVAL {
		t.Errorf("31-byte read: %v, want EINVAL", err)
	}
	if _, err := in.Ioctl(ctx, fionread, 0); err != nil || binary.LittleEndian.Uint32(ctx.out) != 64 {
		t.Errorf("FIONREAD = %v %v, want 64", ctx.out, err)
	}
	// A buffer for one and a half events returns one.
	if n, err := in.PRead(ctx, make([]byte, 48), -1); n != 32 || err != nil {
		t.Errorf("48-byte read = %d %v, want 32", n, err)
	}
	if in.Readiness(vfs.ReadableEvents) == 0 {
		t.Errorf("not readable with an event queued")
	}
	if n, err := in.PRead(ctx, make([]byte, 32), -1); n != 32 || err != nil {
		t.Errorf("second read = %d %v, want 32", n, err)
	}
	if _, err := in.PRead(ctx, make([]byte, 32), -1); err != unix.EAGAIN {
		t.Errorf("empty read: %v, want EAGAIN", err)
	}
	if in.Readiness(vfs.ReadableEvents) != 0 {
		t.Errorf("readable when empty")
	}
}

func TestOverflow(t *testing.T) {
	const max = 8
	in, w := newTest(max)
	for i := 0; i < max+5; i++ {
		w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_CREATE, Name: fmt.Sprint("f", i)})
	}
	got := readAll(t, in)
	if len(got) != max+1 {
		t.Fatalf("%d events, want %d", len(got), max+1)
	}
	if last := got[max]; last.wd != -1 || last.mask != unix.IN_Q_OVERFLOW || last.name != "" {
		t.Errorf("last event %v, want IN_Q_OVERFLOW with wd -1", last)
	}
	// Once read, the queue takes events (and can overflow) again.
	for i := 0; i < max+2; i++ {
		w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_CREATE, Name: fmt.Sprint("g", i)})
	}
	got = readAll(t, in)
	if len(got) != max+1 || got[max].mask != unix.IN_Q_OVERFLOW {
		t.Errorf("second round: %d events, last %v", len(got), got[len(got)-1])
	}
}

func TestOneshotAndFilter(t *testing.T) {
	in, w := newTest(DefaultMaxQueuedEvents)
	w.mask.Store(unix.IN_CREATE | unix.IN_ONESHOT)
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_DELETE, Name: "x"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_CREATE | unix.IN_ISDIR, Name: "x"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_CREATE, Name: "y"})
	w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_IGNORED})
	got := readAll(t, in)
	want := []rec{{1, unix.IN_CREATE | unix.IN_ISDIR, 0, 16, "x"}, {1, unix.IN_IGNORED, 0, 0, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if err := in.RemoveWatch(1); err != unix.EINVAL {
		t.Errorf("rm_watch of a oneshot watch that fired: %v, want EINVAL", err)
	}
}

// TestConcurrent queues from many goroutines while one reads; every event
// is distinct, so none may be lost below the limit.
func TestConcurrent(t *testing.T) {
	in, w := newTest(DefaultMaxQueuedEvents)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				w.NotifyWatch(vfs.WatchEvent{Mask: unix.IN_CREATE, Name: fmt.Sprintf("%d-%d", g, i)})
			}
		}(g)
	}
	seen := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		seen += len(readAll(t, in))
	}
	seen += len(readAll(t, in))
	if seen != writers*each {
		t.Errorf("read %d events, want %d", seen, writers*each)
	}
}
