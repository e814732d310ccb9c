package vfs_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// blockCtx is a Context that can wait for a lease break, as a Task does.
type blockCtx struct{ testCtx }

func (blockCtx) BlockTimeout(ch <-chan struct{}, d time.Duration) error {
	select {
	case <-ch:
		return nil
	case <-time.After(d):
		return unix.ETIMEDOUT
	}
}

func TestLeaseBreakTimesOut(t *testing.T) {
	old := vfs.LeaseBreakTime
	vfs.LeaseBreakTime = 50 * time.Millisecond
	defer func() { vfs.LeaseBreakTime = old }()
	e := newEnv(t)
	e.create(rootCtx, "/f", "x")
	ctx := blockCtx{rootCtx}
	open := func(flags uint32) (*vfs.FileDescription, error) {
		return e.vfs.OpenAt(ctx, e.pop("/f", true), &vfs.OpenOptions{Flags: flags})
	}
	h, err := open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if h != nil {
			h.DecRef(ctx)
		}
	}()
	if err := h.SetLease(rootCtx.creds, 3, unix.F_WRLCK); err != nil {
		t.Fatalf("F_WRLCK: %v", err)
	}

	// A reader waits out the break time; the lease is downgraded for it.
	start := time.Now()
	r, err := open(unix.O_RDONLY)
	if err != nil {
		t.Fatalf("reader: %v", err)
	}
	if time.Since(start) < vfs.LeaseBreakTime {
		t.Errorf("reader did not wait for the break")
	}
	if got := h.GetLease(); got != unix.F_RDLCK {
		t.Errorf("after the downgrade timed out: lease %d, want F_RDLCK", got)
	}
	r.DecRef(ctx)

	// A writer waits out the break time; the lease is removed for it.
	start = time.Now()
	w, err := open(unix.O_WRONLY)
	if err != nil {
		t.Fatalf("writer: %v", err)
	}
	if time.Since(start) < vfs.LeaseBreakTime {
		t.Errorf("writer did not wait for the break")
	}
	if got := h.GetLease(); got != unix.F_UNLCK {
		t.Errorf("after the unlock timed out: lease %d, want F_UNLCK", got)
	}
	w.DecRef(ctx)

	// The holder's close ends a break at once.
	vfs.LeaseBreakTime = time.Hour
	if err := h.SetLease(rootCtx.creds, 3, unix.F_WRLCK); err != nil {
		t.Fatalf("F_WRLCK again: %v", err)
	}
	done := make(chan error)
	go func() {
		w, err := open(unix.O_RDWR)
		if err == nil {
			w.DecRef(ctx)
		}
		done <- err
	}()
	for h.GetLease() != unix.F_UNLCK {
		time.Sleep(time.Millisecond)
	}
	h.DecRef(ctx)
	h = nil
	if err := <-done; err != nil {
		t.Fatalf("writer after the holder's close: %v", err)
	}
	// Every count went with its description.
	h2, err := open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.SetLease(rootCtx.creds, 3, unix.F_WRLCK); err != nil {
		t.Errorf("F_WRLCK with nothing else open: %v", err)
	}
	h = h2
}
