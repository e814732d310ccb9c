//go:build linux && amd64

package systrap

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
)

// TestThreadCap fills an address space's thread slots: 4000 threads alive
// at once all run, and once all maxThreads slots are taken the next
// thread fails with EAGAIN (Linux's answer at a thread limit), leaving the
// address space and its other threads working; a released slot is used
// again.
func TestThreadCap(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := newFixture(t)
	as := f.newAS(t)
	ctxs := make([]platform.Context, 0, maxThreads)
	defer func() {
		for _, c := range ctxs {
			c.Release()
		}
	}()
	for i := 0; i < maxThreads; i++ {
		c := f.p.NewContext()
		ctxs = append(ctxs, c)
		regs := regsAt(snipSyscalls)
		regs.Rax = uint64(i % 300)
		ev, _, err := c.Switch(as, regs)
		if err != nil || ev != platform.EventSyscall || regs.Orig_rax != uint64(i%300) {
			t.Fatalf("thread %d: event %d, err %v, nr %d", i, ev, err, regs.Orig_rax)
		}
		if i == 3999 {
			// 4000 at once: each runs again.
			for j, c := range ctxs {
				regs := regsAt(snipLoad)
				regs.Rax = dataAddr
				if ev, _, err := c.Switch(as, regs); err != nil || ev != platform.EventSyscall || regs.Rdi != dataWord {
					t.Fatalf("thread %d of 4000: event %d, err %v", j, ev, err)
				}
			}
		}
	}
	extra := f.p.NewContext()
	defer extra.Release()
	_, _, err := extra.Switch(as, regsAt(snipSyscalls))
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("thread %d: Switch = %v, want EAGAIN", maxThreads+1, err)
	}
	// The others still work; a released slot serves the next thread.
	switchOK(t, ctxs[0], as, regsAt(snipSyscalls), platform.EventSyscall)
	ctxs[1].Release()
	ctxs = append(ctxs[:1], ctxs[2:]...)
	late := f.p.NewContext()
	defer late.Release()
	// The released thread's slot is free once its host thread has exited.
	for i := 0; ; i++ {
		ev, _, err := late.Switch(as, regsAt(snipSyscalls))
		if err == nil {
			if ev != platform.EventSyscall {
				t.Fatalf("after a release: event %d", ev)
			}
			break
		}
		if !errors.Is(err, unix.EAGAIN) || i == 1000 {
			t.Fatalf("after a release: %v", err)
		}
		late.Release()
		late = f.p.NewContext()
	}
}
