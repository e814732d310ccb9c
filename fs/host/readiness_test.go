package host_test

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/host"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// TestStreamReadiness checks a donated host pipe's readiness and that the
// host notifier wakes a sentry waiter when the host side writes.
func TestStreamReadiness(t *testing.T) {
	ctx := &testCtx{}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	r, err := host.NewFile(p[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.DecRef(ctx)
	if r.Waitable() == nil {
		t.Fatal("host pipe is not waitable")
	}
	if got := r.Readiness(vfs.EventIn); got != 0 {
		t.Fatalf("empty pipe readiness %#x", got)
	}
	w := vfs.NewWaiter()
	var e vfs.WaitEntry
	e.Init(w, vfs.EventIn)
	r.EventRegister(&e)
	defer r.EventUnregister(&e)
	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(p[1], []byte("x"))
	}()
	select {
	case <-w.C():
	case <-time.After(5 * time.Second):
		t.Fatal("no notification from the host")
	}
	if got := r.Readiness(vfs.EventIn); got != vfs.EventIn {
		t.Fatalf("readiness after write %#x", got)
	}
}

// TestRegularFileNotWaitable: a donated regular file is always ready and
// epoll refuses it, as Linux.
func TestRegularFileNotWaitable(t *testing.T) {
	fd, err := unix.Open(filepath.Join(t.TempDir(), "f"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	f, err := host.NewFile(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef(&testCtx{})
	if f.Waitable() != nil {
		t.Fatal("regular file is waitable")
	}
	if got := f.Readiness(vfs.AlwaysReady | vfs.EventPri); got != vfs.AlwaysReady {
		t.Fatalf("readiness %#x", got)
	}
}
