//go:build linux && amd64

package systrap

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// threadOf returns the host thread c runs in as.
func threadOf(t *testing.T, c platform.Context, as platform.AddressSpace) *thread {
	t.Helper()
	th := c.(*context).threads[as.(*addressSpace)]
	if th == nil {
		t.Fatal("context has no thread in the address space")
	}
	return th
}

// idleCount is the number of idle threads of as.
func idleCount(as platform.AddressSpace) int {
	a := as.(*addressSpace)
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.idle)
}

// runXMM0 sets xmm0 to v in c's FP state and checks that the application
// sees it, and that a load through the data page works.
func runXMM0(t *testing.T, c platform.Context, as platform.AddressSpace, v uint64) {
	t.Helper()
	fp := make([]byte, arch.FPStateSize())
	platformtest.Must(t, c.FPState(as, fp))
	binary.LittleEndian.PutUint64(fp[160:], v) // xmm0
	platformtest.Must(t, c.SetFPState(as, fp))
	regs := platformtest.RegsAt(platformtest.SnipXMM0ToRdi)
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != v {
		t.Errorf("application's xmm0 = %#x, want %#x", regs.Rdi, v)
	}
	regs = platformtest.RegsAt(platformtest.SnipLoad)
	regs.Rax, regs.Rbx, regs.R15 = platformtest.DataAddr, 0x77, 0x99
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != platformtest.DataWord || regs.Rbx != 0x77 || regs.R15 != 0x99 {
		t.Errorf("load: rdi %#x rbx %#x r15 %#x", regs.Rdi, regs.Rbx, regs.R15)
	}
}

// TestThreadRecycling: a released context's host thread stays parked in
// its address space and serves the next new thread there, directly or
// through a reservation, with the new task's registers and FP state; at
// most maxIdle are kept, the others exit and free their slots.
func TestThreadRecycling(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t)

	c1 := f.Platform.NewContext()
	runXMM0(t, c1, as, 0x1111)
	tid := threadOf(t, c1, as).tid
	c1.Release()
	if n := idleCount(as); n != 1 {
		t.Fatalf("%d idle threads after a release, want 1", n)
	}

	// A new context without a reservation (a new address space's first
	// thread) takes it.
	c2 := f.Platform.NewContext()
	runXMM0(t, c2, as, 0x2222)
	if got := threadOf(t, c2, as).tid; got != tid {
		t.Errorf("second context runs in host thread %d, want the idle %d", got, tid)
	}
	c2.Release()

	// A reservation (clone) takes it; released unused, it gives it back.
	r := reserveSoon(t, as)
	if idleCount(as) != 0 {
		t.Fatal("the reservation left the idle thread idle")
	}
	r.Release()
	if idleCount(as) != 1 {
		t.Fatal("an unused reservation did not give the idle thread back")
	}
	r = reserveSoon(t, as)
	c3 := f.Platform.NewContext()
	r.Bind(c3)
	runXMM0(t, c3, as, 0x3333)
	if got := threadOf(t, c3, as).tid; got != tid {
		t.Errorf("reserved context runs in host thread %d, want the idle %d", got, tid)
	}
	c3.Release()

	// maxIdle+3 threads at once, then all released: maxIdle stay idle,
	// the others exit, and their slots come free.
	var ctxs []platform.Context
	for i := 0; i < maxIdle+3; i++ {
		c := f.Platform.NewContext()
		ctxs = append(ctxs, c)
		platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
	}
	for _, c := range ctxs {
		c.Release()
	}
	if n := idleCount(as); n != maxIdle {
		t.Errorf("%d idle threads, want %d", n, maxIdle)
	}
	a := as.(*addressSpace)
	deadline := time.Now().Add(5 * time.Second)
	for {
		exiting, gone := 0, 0
		a.mu.Lock()
		for i := 1; i <= maxThreads; i++ {
			if a.slots[i] == slotExiting {
				exiting++
				if load(word(a.r.mem, i*slotSize+tState)) == stNone {
					gone++
				}
			}
		}
		a.mu.Unlock()
		if exiting != 3 {
			t.Fatalf("%d threads told to exit, want 3", exiting)
		}
		if gone == exiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d threads told to exit are still there", exiting-gone, exiting)
		}
		time.Sleep(time.Millisecond)
	}
	// Each idle thread runs again.
	for i := 0; i < maxIdle; i++ {
		c := f.Platform.NewContext()
		defer c.Release()
		runXMM0(t, c, as, uint64(0x4000+i))
	}
	if n := idleCount(as); n != 0 {
		t.Errorf("%d idle threads left after %d new ones", n, maxIdle)
	}
}

// TestThreadRecyclingPatched: a thread that left its task in the patch
// trampoline (a patched exit) serves the next task with whole registers
// and that task's FP state.
func TestThreadRecyclingPatched(t *testing.T) {
	f := newPatchFixture(t)
	as := f.NewAS(t)
	site := uint64(platformtest.CodeAddr + patchLoopOff)
	c1 := f.Platform.NewContext()
	regs := platformtest.RegsAt(site)
	for i := 0; i < 3; i++ {
		platformtest.SwitchOK(t, c1, as, regs, platform.EventSyscall)
	}
	th := threadOf(t, c1, as)
	if !th.inTramp {
		t.Fatal("the loop's syscalls did not come through the trampoline")
	}
	c1.Release()

	// Whole registers through the trampoline, then the FP state (which
	// takes the thread out of it).
	c2 := f.Platform.NewContext()
	defer c2.Release()
	regs = platformtest.RegsAt(platformtest.SnipLoad)
	regs.Rax, regs.Rbx, regs.Rbp, regs.R12, regs.R15 = platformtest.DataAddr, 0x77, 0x88, 0x12, 0x99
	platformtest.SwitchOK(t, c2, as, regs, platform.EventSyscall)
	if got := threadOf(t, c2, as); got.tid != th.tid {
		t.Fatalf("second context runs in host thread %d, want the idle %d", got.tid, th.tid)
	}
	if regs.Rdi != platformtest.DataWord || regs.Rbx != 0x77 || regs.Rbp != 0x88 || regs.R12 != 0x12 || regs.R15 != 0x99 {
		t.Errorf("registers after the recycled thread's first run: %+v", regs)
	}
	runXMM0(t, c2, as, 0x5555)
}

// TestIdleThreadsPlatformCap: the platform keeps at most idleCap idle
// threads over all its address spaces; a reservation that gives its idle
// thread back when the cap is reached makes it exit instead; a released
// address space's idle threads no longer count.
func TestIdleThreadsPlatformCap(t *testing.T) {
	f := newFixture(t)
	p := f.Platform
	p.idleCap = 3
	as1, as2 := f.NewAS(t), f.NewAS(t)
	release := func(as platform.AddressSpace, n int) {
		var ctxs []platform.Context
		for i := 0; i < n; i++ {
			c := p.NewContext()
			ctxs = append(ctxs, c)
			platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
		}
		for _, c := range ctxs {
			c.Release()
		}
	}
	release(as1, 2)
	release(as2, 2)
	if a, b, total := idleCount(as1), idleCount(as2), p.idleThreads.Load(); a != 2 || b != 1 || total != 3 {
		t.Fatalf("idle threads: %d and %d, %d counted; want 2 and 1 of at most 3", a, b, total)
	}
	// A reservation takes one; while it is out, as2 keeps another; given
	// back over the cap, the reserved one exits.
	r := reserveSoon(t, as1)
	release(as2, 2)
	if b := idleCount(as2); b != 2 {
		t.Fatalf("as2 keeps %d idle threads, want 2", b)
	}
	r.Release()
	if a, total := idleCount(as1), p.idleThreads.Load(); a != 1 || total != 3 {
		t.Errorf("after the reservation's release: as1 keeps %d, %d counted; want 1 of 3", a, total)
	}
	// The idle threads of a released address space stop counting.
	as2.Release()
	if total := p.idleThreads.Load(); total != 1 {
		t.Errorf("%d idle threads counted after as2's release, want 1", total)
	}
	release(as1, 3)
	if a := idleCount(as1); a != 3 {
		t.Errorf("as1 keeps %d idle threads, want 3", a)
	}
}
