//go:build linux && amd64

package systrap

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
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
	// The idle threads of a released address space stop counting, but
	// the one kept for its stub's next address space (recycle).
	as2.Release()
	p.spareWG.Wait()
	kept := 0
	p.spareMu.Lock()
	for _, s := range p.spares {
		kept += idleCount(s)
	}
	p.spareMu.Unlock()
	if total := p.idleThreads.Load(); kept > 1 || total != int32(1+kept) {
		t.Errorf("%d idle threads counted after as2's release, %d kept by spares; want 1 and the kept one", total, kept)
	}
	release(as1, 3)
	if a := idleCount(as1); a != 3-kept {
		t.Errorf("as1 keeps %d idle threads, want %d", a, 3-kept)
	}
}

// TestRecycledAddressSpace: a released address space's stub, once its
// threads are gone, comes back as a spare with nothing of the last
// application left (no thread but the server and the one kept, reset, for
// the next address space; no mapping in the application range but syscall
// patching's views; a zeroed region but the protocol words and the kept
// thread's new frame, with no register or FP value of the application's),
// and serves the next address space with the kept thread.
func TestRecycledAddressSpace(t *testing.T) {
	for _, patch := range []bool{false, true} {
		t.Run(fmt.Sprint("patch=", patch), func(t *testing.T) {
			var p *Platform
			var newAS func(testing.TB) platform.AddressSpace
			if patch {
				f := newPatchFixture(t)
				p, newAS = f.Platform, f.NewAS
			} else {
				f := newFixture(t)
				p, newAS = f.Platform, f.NewAS
			}
			newAS(t) // spares come from the second address space on
			as := newAS(t).(*addressSpace)
			c := p.NewContext()
			// Values of the application's, to look for in the region.
			const marker = 0x5eca1ed0ddba11ed
			fp := make([]byte, arch.FPStateSize())
			platformtest.Must(t, c.FPState(as, fp))
			binary.LittleEndian.PutUint64(fp[160:], marker+1) // xmm0
			platformtest.Must(t, c.SetFPState(as, fp))
			regs := platformtest.RegsAt(platformtest.SnipSyscalls)
			regs.Rax = unix.SYS_GETPID
			regs.R15, regs.R12, regs.Fs_base = marker, marker+2, marker&^0xfff&(1<<46-1)
			platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
			old := threadOf(t, c, as)
			slot, tid := old.slot, old.tid
			// What the application can write in its slot (it is mapped
			// writable in the stub): on the alternate stack, and in the
			// state page.
			binary.LittleEndian.PutUint64(as.r.mem[slot*slotSize+pageSize+64:], marker)
			binary.LittleEndian.PutUint64(as.r.mem[slot*slotSize+3000:], marker)
			as.Release()
			c.Release()

			var rec *addressSpace
			for start := time.Now(); rec == nil && time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
				p.spareMu.Lock()
				for _, s := range p.spares {
					if s.pid == as.pid {
						rec = s
					}
				}
				p.spareMu.Unlock()
			}
			if rec == nil {
				t.Fatalf("stub %d not recycled as a spare within 5 s", as.pid)
			}
			if rec == as || rec.r != as.r {
				t.Fatal("the spare is not a new address space on the old stub's region")
			}
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", as.pid))
			if err != nil || len(tasks) != 2 {
				t.Errorf("recycled stub's threads: %d (%v), want the server and the kept one", len(tasks), err)
			}
			if len(rec.idle) != 1 || rec.idle[0].slot != slot || rec.idle[0].tid != tid {
				t.Fatalf("the spare's idle threads: %v, want the last one's (slot %d, tid %d)", rec.idle, slot, tid)
			}
			kt := rec.idle[0]
			if !kt.resetFrame() || kt.signo() != unix.SIGTRAP || kt.rip() != p.base+offThreadPark+1 {
				t.Errorf("kept thread: signal %d at %#x, reset frame %v; want a reset thread at thread_park", kt.signo(), kt.rip(), kt.resetFrame())
			}
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", as.pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
				var s, e uint64
				if _, err := fmt.Sscanf(l, "%x-%x", &s, &e); err != nil {
					t.Fatalf("maps line %q: %v", l, err)
				}
				view := patch && ((s >= goViewAddr && e <= goViewAddr+pageSize) || (s >= ptrTableAddr && e <= ptrTableAddr+ptrTableLen+pageSize))
				if s < maxUserAddress && !view {
					t.Errorf("recycled stub maps %s", l)
				}
			}
			mem := as.r.mem
			nonzero := func(what string, b []byte) {
				for i, v := range b {
					if v != 0 {
						t.Errorf("%s: byte %#x is %#x", what, i, v)
						return
					}
				}
			}
			nonzero("request page", mem[rSeq+4:pageSize])
			nonzero("response page", mem[respOff+pServerSleep+4:2*pageSize])
			for i := 2 * pageSize; i+8 <= len(mem); i += 8 {
				if v := binary.LittleEndian.Uint64(mem[i:]); v >= marker && v <= marker+2 || v == regs.Fs_base {
					t.Errorf("region offset %#x holds %#x, the application's", i, v)
				}
			}
			st := mem[slot*slotSize:]
			// The reset writes back the magic and, without FSGSBASE,
			// marks the bases unknown (its old ones are still set).
			le := binary.LittleEndian
			if v := le.Uint64(st[tMagic:]); v != p.magic {
				t.Errorf("the kept slot's magic: %#x, want %#x", v, p.magic)
			}
			var cur uint64
			if p.noFSGS {
				cur = baseUnknown
			}
			if fs, gs := le.Uint64(st[tFSCur:]), le.Uint64(st[tGSCur:]); fs != cur || gs != cur {
				t.Errorf("the kept slot's bases: fs %#x gs %#x, want %#x", fs, gs, cur)
			}
			nonzero("the kept slot's state page after the park's words", st[tSelf+8:tMagic])
			nonzero("the kept slot's state page after the bases", st[tGSCur+8:tResetUC])
			nonzero("the kept slot's state page after the reset frame", st[tResetUC+arch.UContextSize:pageSize])
			frameAt := slot*slotSize + kt.info
			if kt.uctx < kt.info {
				frameAt = slot*slotSize + kt.uctx
			}
			nonzero("the kept slot's alternate stack below the frame", mem[slot*slotSize+pageSize:frameAt-512])
			for i := 1; i < len(mem)/slotSize; i++ {
				if i != slot {
					nonzero(fmt.Sprint("slot ", i), mem[i*slotSize:(i+1)*slotSize])
				}
			}

			// The next address space runs on it.
			p.spareMu.Lock()
			for i, s := range p.spares {
				if s == rec {
					p.spares = append(p.spares[:i], p.spares[i+1:]...)
					break
				}
			}
			p.spareMu.Unlock()
			defer rec.Release()
			platformtest.Must(t, rec.MapFile(platformtest.CodeAddr, p.memFD, platformtest.CodeOff, pageSize, usermem.AccessType{Read: true, Execute: true}))
			platformtest.Must(t, rec.MapFile(platformtest.DataAddr, p.memFD, platformtest.DataOff, pageSize, usermem.ReadWrite))
			c2 := platformtest.LockedContext(t, p)
			regs = platformtest.RegsAt(platformtest.SnipSyscalls)
			regs.Rax = unix.SYS_GETPID
			platformtest.SwitchOK(t, c2, rec, regs, platform.EventSyscall)
			if regs.Orig_rax != unix.SYS_GETPID {
				t.Errorf("syscall %d in the recycled stub, want getpid", regs.Orig_rax)
			}
			if th := threadOf(t, c2, rec); th.tid != tid {
				t.Errorf("the next address space's first thread is %d, want the kept %d", th.tid, tid)
			}
			runXMM0(t, c2, rec, 0x1234)
		})
	}
}

// TestRecycleKillsLingeringStub: a stub with a thread that does not leave
// (here the sentry believes the server is one of its application threads,
// which never exits) is killed after drainWait, not recycled; so is one
// whose application mapped over syscall patching's pointer table.
func TestRecycleKillsLingeringStub(t *testing.T) {
	f := newPatchFixture(t)
	p := f.Platform
	f.NewAS(t) // spares come from the second address space on
	gone := func(as *addressSpace) {
		t.Helper()
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
			as.mu.Lock()
			reaped := as.reaped
			as.mu.Unlock()
			if reaped {
				break
			}
		}
		if err := unix.Kill(int(as.pid), 0); err != unix.ESRCH {
			t.Errorf("stub %d after its release: kill 0 = %v, want it killed", as.pid, err)
		}
		p.spareMu.Lock()
		defer p.spareMu.Unlock()
		for _, s := range p.spares {
			if s.pid == as.pid {
				t.Errorf("stub %d recycled as a spare", as.pid)
			}
		}
	}

	lingering := f.NewAS(t).(*addressSpace)
	lingering.mu.Lock()
	lingering.live = append(lingering.live, lingering.pid)
	lingering.mu.Unlock()
	lingering.Release()
	gone(lingering)

	lost := f.NewAS(t).(*addressSpace)
	if !lost.LosePatchTable(ptrTableAddr, pageSize) {
		t.Fatal("LosePatchTable did not report the loss")
	}
	lost.Release()
	gone(lost)
}

// TestSpareAfterRecycle: while a released address space is being
// recycled (a spare to come), NewAddressSpace makes no spare ahead of
// time, which a fork+exec loop paid for with a stub made and killed every
// few programs; a recycle that fails has one made in its place.
func TestSpareAfterRecycle(t *testing.T) {
	f := newFixture(t)
	p := f.Platform
	f.NewAS(t) // spares come from the second address space on
	p.spareMu.Lock()
	p.recycling++ // one under way
	p.spareMu.Unlock()
	f.NewAS(t)
	p.spareWG.Wait()
	p.spareMu.Lock()
	n := len(p.spares)
	p.recycling--
	p.spareMu.Unlock()
	if n != 0 {
		t.Errorf("%d spares made with a recycle under way, want none", n)
	}

	// A stub whose thread lingers is killed, not recycled (see
	// TestRecycleKillsLingeringStub): a spare is made instead.
	lingering := f.NewAS(t).(*addressSpace)
	p.spareWG.Wait()
	p.spareMu.Lock()
	n = len(p.spares)
	p.spareMu.Unlock()
	if n != 1 {
		t.Fatalf("%d spares after a NewAddressSpace with no recycle under way, want 1 made", n)
	}
	// Take it without having another made (as with a recycle under
	// way, which then ends): the lingering stub's recycle is to give the
	// next.
	p.spareMu.Lock()
	p.recycling++
	p.spareMu.Unlock()
	f.NewAS(t)
	p.spareMu.Lock()
	p.recycling--
	p.spareMu.Unlock()
	lingering.mu.Lock()
	lingering.live = append(lingering.live, lingering.pid)
	lingering.mu.Unlock()
	lingering.Release()
	p.spareWG.Wait()
	p.spareMu.Lock()
	defer p.spareMu.Unlock()
	if len(p.spares) != 1 || p.spares[0].pid == lingering.pid {
		t.Errorf("after a failed recycle: %d spares, want 1 made (not the killed stub %d)", len(p.spares), lingering.pid)
	}
}

// TestKeptThreadForgedState: an application that changed its host
// thread's alternate stack and signal mask with a forged rt_sigreturn frame
// (the only way it can) leaves a kept thread that the reset set back: the
// kernel's frame at its park shows the slot's alternate stack and an empty
// mask. A park frame that shows anything else is refused (resetFrame).
func TestKeptThreadForgedState(t *testing.T) {
	f := newFixture(t)
	p := f.Platform
	f.NewAS(t) // spares come from the second address space on
	as := f.NewAS(t).(*addressSpace)
	c := p.NewContext()
	regs := platformtest.RegsAt(platformtest.SnipSyscalls)
	regs.Rax = unix.SYS_GETPID
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	th := threadOf(t, c, as)
	slot := th.stubAddr()

	// The forged frame: the alternate stack starts a page higher (its top,
	// where frames go, is the same), SIGUSR2 is blocked, and it returns
	// to a getpid.
	const frame = 0x50000000
	platformtest.Must(t, as.MapFile(frame, f.MemFD, platformtest.Data2Off, pageSize, usermem.ReadWrite))
	uc := make([]byte, arch.UContextSize)
	var r arch.Registers
	r.Rip, r.Rsp, r.Eflags, r.Cs, r.Ss = platformtest.SnipSyscalls, platformtest.DataAddr+pageSize-64, 0x202, userCS, userSS
	r.Rax = unix.SYS_GETPID
	arch.PutSigContext(uc[ucMcontext:], &r, arch.SigContextInfo{})
	le := binary.LittleEndian
	le.PutUint64(uc[ucStack:], slot+2*pageSize)
	le.PutUint64(uc[ucStack+16:], slotSize-2*pageSize)
	le.PutUint64(uc[ucSigmask:], 1<<(unix.SIGUSR2-1))
	if _, err := unix.Pwrite(f.MemFD, uc, platformtest.Data2Off+0x200); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Pwrite(f.MemFD, make([]byte, len(uc)), platformtest.Data2Off+0x200) })
	regs = platformtest.RegsAt(p.base + offHandlerSigreturn)
	regs.Rax = unix.SYS_RT_SIGRETURN
	regs.Rsp = frame + 0x200
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_GETPID {
		t.Fatalf("syscall %d after the forged frame, want getpid", regs.Orig_rax)
	}
	if got := le.Uint64(th.page[th.uctx+ucStack:]); got != slot+2*pageSize {
		t.Fatalf("the kernel's frame shows the alternate stack at %#x, want the forged %#x", got, slot+2*pageSize)
	}
	if th.resetFrame() {
		t.Fatal("resetFrame accepts the frame of a thread with a forged alternate stack")
	}

	as.Release()
	c.Release()
	p.spareWG.Wait()
	p.spareMu.Lock()
	defer p.spareMu.Unlock()
	for _, s := range p.spares {
		if s.pid != as.pid {
			continue
		}
		if len(s.idle) != 1 {
			t.Fatalf("the recycled stub keeps %d threads, want 1", len(s.idle))
		}
		kt := s.idle[0]
		if !kt.resetFrame() {
			t.Error("the kept thread's park frame is not a reset thread's")
		}
		// Each field the check reads is one the program could have
		// left wrong.
		for _, off := range []int{ucStack, ucStack + 8, ucStack + 16, ucSigmask, ucMcontext + 15*8} {
			w := kt.page[kt.uctx+off:]
			v := le.Uint64(w)
			le.PutUint64(w, v^0x1000)
			if kt.resetFrame() {
				t.Errorf("resetFrame accepts a frame with word %d changed", off)
			}
			le.PutUint64(w, v)
		}
		return
	}
	t.Fatal("the stub was not recycled with its thread")
}

// TestSandboxEnding: once the sandbox ends (its init exited), a released
// address space's stub is killed, not cleaned into a spare, and no spare
// is made any more: nothing will use one, and the sandbox's exit waited
// for the scrub.
func TestSandboxEnding(t *testing.T) {
	f := newFixture(t)
	p := f.Platform
	f.NewAS(t) // spares come from the second address space on
	as := f.NewAS(t).(*addressSpace)
	p.spareWG.Wait()
	p.SandboxEnding()
	as.Release()
	p.spareWG.Wait()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
		if unix.Kill(int(as.pid), 0) == unix.ESRCH {
			break
		}
	}
	if err := unix.Kill(int(as.pid), 0); err != unix.ESRCH {
		t.Errorf("stub %d released after the sandbox's end: kill 0 = %v, want it killed", as.pid, err)
	}
	p.spareMu.Lock()
	for _, s := range p.spares {
		if s.pid == as.pid {
			t.Errorf("stub %d recycled as a spare after the sandbox's end", as.pid)
		}
	}
	p.spareMu.Unlock()
	p.makeSpare()
	p.spareWG.Wait()
	p.spareMu.Lock()
	making := p.spareMaking
	p.spareMu.Unlock()
	if making {
		t.Error("a spare is being made after the sandbox's end")
	}
}
