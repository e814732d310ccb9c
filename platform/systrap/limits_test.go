//go:build linux && amd64

package systrap

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
)

// reserve reserves a thread slot in as.
func reserve(as platform.AddressSpace) (platform.ThreadReservation, error) {
	return as.(platform.ThreadReserver).ReserveThread()
}

// reserveSoon reserves a slot that is free or about to be (a released
// thread's host thread exits asynchronously), failing the test if none
// comes.
func reserveSoon(t *testing.T, as platform.AddressSpace) platform.ThreadReservation {
	t.Helper()
	for i := 0; ; i++ {
		r, err := reserve(as)
		if err == nil {
			return r
		}
		if !errors.Is(err, unix.EAGAIN) || i == 100 {
			t.Fatalf("ReserveThread: %v", err)
		}
	}
}

// TestThreadCap fills an address space's thread slots: 4000 threads alive
// at once all run; once all maxThreads slots are taken or reserved,
// ReserveThread (what clone asks for) fails with EAGAIN up front, and a
// thread without a reservation fails at its first Switch with EAGAIN,
// leaving the address space and its other threads working. A reserved slot
// cannot be taken by an unreserved thread, serves the context it is bound
// to, and is freed by Release or by the release of a context that never
// used it; a released thread's slot is used again.
func TestThreadCap(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := newFixture(t)
	as := f.NewAS(t)
	ctxs := make([]platform.Context, 0, maxThreads)
	defer func() {
		for _, c := range ctxs {
			c.Release()
		}
	}()
	newCtx := func() platform.Context {
		c := f.Platform.NewContext()
		ctxs = append(ctxs, c)
		return c
	}
	for i := 0; i < maxThreads-1; i++ {
		c := newCtx()
		regs := platformtest.RegsAt(platformtest.SnipSyscalls)
		regs.Rax = uint64(i % 300)
		ev, _, err := c.Switch(as, regs)
		if err != nil || ev != platform.EventSyscall || regs.Orig_rax != uint64(i%300) {
			t.Fatalf("thread %d: event %d, err %v, nr %d", i, ev, err, regs.Orig_rax)
		}
		if i == 3999 {
			// 4000 at once: each runs again.
			for j, c := range ctxs {
				regs := platformtest.RegsAt(platformtest.SnipLoad)
				regs.Rax = platformtest.DataAddr
				if ev, _, err := c.Switch(as, regs); err != nil || ev != platform.EventSyscall || regs.Rdi != platformtest.DataWord {
					t.Fatalf("thread %d of 4000: event %d, err %v", j, ev, err)
				}
			}
		}
	}
	// One slot left: it can be reserved, and then nothing more.
	last, err := reserve(as)
	if err != nil {
		t.Fatalf("reserving the last slot: %v", err)
	}
	if _, err := reserve(as); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("reserving slot %d: %v, want EAGAIN", maxThreads+1, err)
	}
	// An unreserved thread does not take the reserved slot.
	stray := f.Platform.NewContext()
	if _, _, err := stray.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls)); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("unreserved thread %d: Switch = %v, want EAGAIN", maxThreads, err)
	}
	stray.Release()
	// The context the reservation is bound to gets it.
	c := newCtx()
	last.Bind(c)
	platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
	// Releasing a used reservation changes nothing: still full.
	last.Release()
	if _, err := reserve(as); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("full address space: ReserveThread = %v, want EAGAIN", err)
	}
	extra := f.Platform.NewContext()
	defer extra.Release()
	if _, _, err := extra.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls)); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("thread %d: Switch = %v, want EAGAIN", maxThreads+1, err)
	}
	// The others still work.
	platformtest.SwitchOK(t, ctxs[0], as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)

	// A released thread's slot can be reserved once its host thread has
	// exited (ReserveThread waits a little for it).
	ctxs[1].Release()
	ctxs = append(ctxs[:1], ctxs[2:]...)
	r := reserveSoon(t, as)
	if _, err := reserve(as); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("after one release and one reservation: ReserveThread = %v, want EAGAIN", err)
	}
	// Release gives an unbound reservation back; so does the release of
	// a context that never ran (a task that died before its first run).
	r.Release()
	r.Release() // idempotent
	r = reserveSoon(t, as)
	unused := f.Platform.NewContext()
	r.Bind(unused)
	unused.Release()
	r = reserveSoon(t, as)
	// Bound and used: the thread runs.
	late := newCtx()
	r.Bind(late)
	platformtest.SwitchOK(t, late, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
	if _, err := reserve(as); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("full again: ReserveThread = %v, want EAGAIN", err)
	}
}

// TestReserveThreadRace reserves, binds, runs and releases from several
// goroutines at once (as the sentry clones and exits tasks of one address
// space in parallel), with the address space nearly full, and checks that
// the slots add up afterwards: every slot can be reserved again, and not
// one more.
func TestReserveThreadRace(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t)
	// Fill all but a few slots with reservations, so that the goroutines
	// below run into the limit.
	const spare = 6
	held := make([]platform.ThreadReservation, 0, maxThreads)
	for i := 0; i < maxThreads-spare; i++ {
		r, err := reserve(as)
		if err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
		held = append(held, r)
	}
	const workers, rounds = 8, 60
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := 0; i < rounds; i++ {
				r, err := reserve(as)
				if errors.Is(err, unix.EAGAIN) {
					continue // the others hold the spare slots
				}
				if err != nil {
					report(fmt.Errorf("worker %d: ReserveThread: %v", g, err))
					return
				}
				switch i % 3 {
				case 0: // clone failed later
					r.Release()
				case 1: // the task died before running
					c := f.Platform.NewContext()
					r.Bind(c)
					c.Release()
				case 2: // the task ran and exited
					c := f.Platform.NewContext()
					r.Bind(c)
					regs := platformtest.RegsAt(platformtest.SnipSyscalls)
					regs.Rax = unix.SYS_GETPID
					ev, _, err := c.Switch(as, regs)
					c.Release()
					if err != nil || ev != platform.EventSyscall {
						report(fmt.Errorf("worker %d: reserved thread: event %d, %v", g, ev, err))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	// Exactly the spare slots are free again (threads that exited may
	// still be leaving: reserveSoon waits for them).
	for i := 0; i < spare; i++ {
		held = append(held, reserveSoon(t, as))
	}
	if _, err := reserve(as); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("reservation %d: %v, want EAGAIN", maxThreads+1, err)
	}
	for _, r := range held {
		r.Release()
	}
	// All free: a full set of reservations again.
	for i := 0; i < maxThreads; i++ {
		r, err := reserve(as)
		if err != nil {
			t.Fatalf("after releasing all: reservation %d: %v", i, err)
		}
		defer r.Release()
	}
}
