package pipe_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

type ctx struct{}

func (ctx) Credentials() *auth.Credentials      { return auth.NewRootCredentials() }
func (ctx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (ctx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

func TestReadiness(t *testing.T) {
	r, w := pipe.New(0, unix.O_NONBLOCK)
	all := uint32(vfs.AlwaysReady | vfs.AlwaysReported)
	if got := r.Readiness(all); got != 0 {
		t.Errorf("empty read end: %#x", got)
	}
	if got := w.Readiness(all); got != vfs.WritableEvents {
		t.Errorf("empty write end: %#x", got)
	}
	w.Write(ctx{}, make([]byte, pipe.DefaultSize-100))
	if got := r.Readiness(all); got != vfs.ReadableEvents {
		t.Errorf("read end with data: %#x", got)
	}
	if got := w.Readiness(all); got != 0 {
		t.Errorf("nearly full write end: %#x", got)
	}
	w.DecRef(ctx{})
	if got := r.Readiness(all); got != vfs.ReadableEvents|vfs.EventHUp {
		t.Errorf("read end after writer closed: %#x", got)
	}
	r.DecRef(ctx{})

	r, w = pipe.New(0, 0)
	r.DecRef(ctx{})
	if got := w.Readiness(all); got != vfs.WritableEvents|vfs.EventErr {
		t.Errorf("write end without reader: %#x", got)
	}
	w.DecRef(ctx{})
}

func TestRingWraps(t *testing.T) {
	r, w := pipe.New(0, unix.O_NONBLOCK)
	defer r.DecRef(ctx{})
	defer w.DecRef(ctx{})
	src := make([]byte, 3000)
	dst := make([]byte, 3000)
	for i := 0; i < 200; i++ {
		for j := range src {
			src[j] = byte(i + j)
		}
		if n, err := w.Write(ctx{}, src); n != len(src) || err != nil {
			t.Fatalf("write %d: %d %v", i, n, err)
		}
		if n, err := r.Read(ctx{}, dst); n != len(dst) || err != nil {
			t.Fatalf("read %d: %d %v", i, n, err)
		}
		for j := range dst {
			if dst[j] != src[j] {
				t.Fatalf("round %d byte %d: %d != %d", i, j, dst[j], src[j])
			}
		}
	}
}

// TestNoAllocs checks that reads and writes nobody waits for do not
// allocate.
func TestNoAllocs(t *testing.T) {
	r, w := pipe.New(0, unix.O_NONBLOCK)
	defer r.DecRef(ctx{})
	defer w.DecRef(ctx{})
	buf := make([]byte, 512)
	w.Write(ctx{}, buf) // allocates the ring
	r.Read(ctx{}, buf)
	allocs := testing.AllocsPerRun(1000, func() {
		w.Write(ctx{}, buf)
		r.Read(ctx{}, buf)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write+read", allocs)
	}
}

func BenchmarkWriteRead(b *testing.B) {
	r, w := pipe.New(0, unix.O_NONBLOCK)
	defer r.DecRef(ctx{})
	defer w.DecRef(ctx{})
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w.Write(ctx{}, buf)
		r.Read(ctx{}, buf)
	}
}
