package pipe_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// intrCtx is a context whose blocking ends when intr is closed.
type intrCtx struct {
	ctx
	intr chan struct{}
}

func (c intrCtx) InterruptChan() <-chan struct{} { return c.intr }

// node is a FIFO inode for fstat.
type node struct{}

func (node) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: unix.S_IFIFO | 0o644, Ino: 42, Nlink: 1}, nil
}

// open opens n as a filesystem's Inode.Open and the VFS would.
func open(c vfs.Context, n *pipe.Named, flags uint32) (*vfs.FileDescription, error) {
	impl, err := n.Open(c, flags, node{})
	if err != nil {
		return nil, err
	}
	if _, ok := impl.(vfs.StreamFile); !ok {
		panic("FIFO end is not a stream")
	}
	fd := vfs.NewFileDescription(impl, vfs.VirtualDentry{}, flags, vfs.FileDescriptionOptions{})
	impl.(vfs.DescriptionAware).SetFD(fd)
	return fd, nil
}

func mustOpen(t *testing.T, n *pipe.Named, flags uint32) *vfs.FileDescription {
	t.Helper()
	fd, err := open(ctx{}, n, flags)
	if err != nil {
		t.Fatalf("open %#x: %v", flags, err)
	}
	return fd
}

// openAsync opens in a goroutine and returns a channel with the result.
func openAsync(c vfs.Context, n *pipe.Named, flags uint32) <-chan *vfs.FileDescription {
	ch := make(chan *vfs.FileDescription, 1)
	go func() {
		fd, err := open(c, n, flags)
		if err != nil {
			fd = nil
		}
		ch <- fd
	}()
	return ch
}

// blocked reports whether ch has no result within a short while.
func blocked(ch <-chan *vfs.FileDescription) bool {
	select {
	case <-ch:
		return false
	case <-time.After(50 * time.Millisecond):
		return true
	}
}

func TestNamedOpenRules(t *testing.T) {
	var n pipe.Named
	if _, err := open(ctx{}, &n, unix.O_WRONLY|unix.O_NONBLOCK); err != unix.ENXIO {
		t.Fatalf("nonblocking writer without reader: %v, want ENXIO", err)
	}
	r := mustOpen(t, &n, unix.O_RDONLY|unix.O_NONBLOCK)
	w := mustOpen(t, &n, unix.O_WRONLY|unix.O_NONBLOCK)
	w.DecRef(ctx{})
	r.DecRef(ctx{})

	// A blocking reader waits for a writer, and a writer for a reader.
	rc := openAsync(ctx{}, &n, unix.O_RDONLY)
	if !blocked(rc) {
		t.Fatal("reader did not wait for a writer")
	}
	w = mustOpen(t, &n, unix.O_WRONLY)
	r = <-rc
	if r == nil {
		t.Fatal("reader open failed")
	}
	r.DecRef(ctx{})
	w.DecRef(ctx{})

	wc := openAsync(ctx{}, &n, unix.O_WRONLY)
	if !blocked(wc) {
		t.Fatal("writer did not wait for a reader")
	}
	// A reader that comes and goes at once still releases the writer.
	r = mustOpen(t, &n, unix.O_RDONLY|unix.O_NONBLOCK)
	r.DecRef(ctx{})
	w = <-wc
	if w == nil {
		t.Fatal("writer open failed")
	}
	if _, err := w.Write(ctx{}, []byte("x")); err != unix.EPIPE {
		t.Errorf("write without reader: %v, want EPIPE", err)
	}
	w.DecRef(ctx{})

	// O_RDWR never waits.
	rw := mustOpen(t, &n, unix.O_RDWR)
	if _, err := rw.Write(ctx{}, []byte("ab")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if k, err := rw.Read(ctx{}, b); k != 2 || err != nil {
		t.Errorf("read from O_RDWR: %d %v", k, err)
	}
	st, _ := rw.Stat(ctx{})
	if st.Ino != 42 {
		t.Errorf("fstat of a FIFO reports ino %d, want the node's", st.Ino)
	}
	rw.DecRef(ctx{})
}

func TestNamedOpenInterrupted(t *testing.T) {
	var n pipe.Named
	c := intrCtx{intr: make(chan struct{})}
	rc := make(chan error, 1)
	go func() {
		_, err := open(c, &n, unix.O_RDONLY)
		rc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(c.intr)
	if err := <-rc; err != vfs.ErrInterrupted {
		t.Fatalf("interrupted open: %v, want ERESTARTSYS", err)
	}
	// The interrupted reader is gone: a nonblocking writer finds none.
	if _, err := open(ctx{}, &n, unix.O_WRONLY|unix.O_NONBLOCK); err != unix.ENXIO {
		t.Fatalf("writer after interrupted reader: %v, want ENXIO", err)
	}
}

func TestNamedDataOutlivesWriters(t *testing.T) {
	var n pipe.Named
	r := mustOpen(t, &n, unix.O_RDONLY|unix.O_NONBLOCK)
	w := mustOpen(t, &n, unix.O_WRONLY)
	w.Write(ctx{}, []byte("hello"))
	w.DecRef(ctx{})
	w = mustOpen(t, &n, unix.O_WRONLY)
	w.Write(ctx{}, []byte(" world"))
	b := make([]byte, 32)
	k, err := r.Read(ctx{}, b)
	if string(b[:k]) != "hello world" || err != nil {
		t.Errorf("read %q %v, want both writers' data", b[:k], err)
	}
	w.Write(ctx{}, []byte("lost"))
	w.DecRef(ctx{})
	r.DecRef(ctx{})

	// Once every end closed, the queued data is gone.
	r = mustOpen(t, &n, unix.O_RDONLY|unix.O_NONBLOCK)
	defer r.DecRef(ctx{})
	if k, err := r.Read(ctx{}, b); k != 0 || err != nil {
		t.Errorf("read of a reopened FIFO: %q %v, want end of file", b[:k], err)
	}
}

func TestNamedReadiness(t *testing.T) {
	var n pipe.Named
	all := uint32(vfs.AlwaysReady | vfs.AlwaysReported)
	r := mustOpen(t, &n, unix.O_RDONLY|unix.O_NONBLOCK)
	defer r.DecRef(ctx{})
	if got := r.Readiness(all); got != 0 {
		t.Errorf("reader before any writer: %#x, want nothing (no POLLHUP)", got)
	}
	w := mustOpen(t, &n, unix.O_WRONLY)
	if got := w.Readiness(all); got != vfs.WritableEvents {
		t.Errorf("writer: %#x", got)
	}
	w.Write(ctx{}, []byte("x"))
	if got := r.Readiness(all); got != vfs.ReadableEvents {
		t.Errorf("reader with data: %#x", got)
	}
	w.DecRef(ctx{})
	if got := r.Readiness(all); got != vfs.ReadableEvents|vfs.EventHUp {
		t.Errorf("reader after the writer left: %#x", got)
	}
	rw := mustOpen(t, &n, unix.O_RDWR)
	defer rw.DecRef(ctx{})
	if got := rw.Readiness(all); got != vfs.ReadableEvents|vfs.WritableEvents {
		t.Errorf("O_RDWR: %#x", got)
	}
}

// TestNamedConcurrent opens and closes both sides from many goroutines;
// run with -race.
func TestNamedConcurrent(t *testing.T) {
	var n pipe.Named
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func(g int) {
			ok := true
			for i := 0; i < 200; i++ {
				flags := uint32(unix.O_RDONLY)
				if (g+i)%2 == 1 {
					flags = unix.O_WRONLY
				}
				fd, err := open(ctx{}, &n, flags)
				if err != nil {
					ok = false
					break
				}
				if flags == unix.O_WRONLY {
					fd.Write(ctx{}, []byte("z"))
				} else {
					fd.Read(ctx{}, make([]byte, 1))
				}
				fd.DecRef(ctx{})
			}
			done <- ok
		}(g)
	}
	// An opener whose partners have all finished would wait forever: an
	// O_RDWR open now and then releases it (it counts as both sides).
	for left := 8; left > 0; {
		select {
		case ok := <-done:
			if !ok {
				t.Error("open failed")
			}
			left--
		case <-time.After(time.Millisecond):
			mustOpen(t, &n, unix.O_RDWR).DecRef(ctx{})
		}
	}
}
