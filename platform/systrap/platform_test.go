//go:build linux && amd64

package systrap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// xmm1's offset in the FXSAVE area.
const xmm1Off = 160 + 16

// waitExit reaps the stub of as, which must be dying, and returns its
// status.
func waitExit(t *testing.T, as platform.AddressSpace) unix.WaitStatus {
	t.Helper()
	a := as.(*addressSpace)
	a.mu.Lock()
	defer a.mu.Unlock()
	var ws unix.WaitStatus
	if _, err := wait4(a.pid, &ws, 0); err != nil {
		t.Fatalf("wait4: %v", err)
	}
	a.released.Store(true)
	a.reaped = true
	a.p.freeRegion(a.r)
	return ws
}

// TestStubFilterKills checks the stub's seccomp filter: an application
// that jumps to the stub's own syscall instructions cannot run the server
// thread's syscalls (they trap, as any application syscall), and a syscall
// outside the allow-list from the stub image kills the whole stub.
func TestStubFilterKills(t *testing.T) {
	f := newFixture(t)
	c := platformtest.LockedContext(t, f.Platform)

	// mmap of the memory file from the server's instruction: trapped.
	as := f.NewAS(t)
	regs := platformtest.RegsAt(f.Platform.base + offServerSyscall)
	regs.Rax = unix.SYS_MMAP
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = 0x30000000, pageSize, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED, uint64(f.MemFD), 0
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_MMAP {
		t.Errorf("trapped syscall %d, want mmap", regs.Orig_rax)
	}
	// The mapping was not made.
	regs = platformtest.RegsAt(platformtest.SnipLoad)
	regs.Rax = 0x30000000
	platformtest.SwitchOK(t, c, as, regs, platform.EventFault)

	for _, tc := range []struct {
		name string
		off  uint64
		nr   uint64
		args [6]uint64
	}{
		{"getpid from the server's syscall", offServerSyscall, unix.SYS_GETPID, [6]uint64{}},
		{"kill from the handler's rt_sigreturn", offHandlerSigreturn, unix.SYS_KILL, [6]uint64{}},
		{"execve from the set-up injection point", offInjectSyscall, unix.SYS_EXECVE, [6]uint64{}},
		{"open from the thread set-up", offThreadSeccomp, unix.SYS_OPEN, [6]uint64{}},
		{"getpid from the pointer table's mmap", offForkMmapPtr, unix.SYS_GETPID, [6]uint64{}},
		{"mmap of the memory file from the pointer table's mmap", offForkMmapPtr, unix.SYS_MMAP,
			[6]uint64{0x30000000, pageSize, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED | unix.MAP_FIXED, uint64(f.MemFD), 0}},
	} {
		t.Logf("%s", tc.name)
		as, err := f.Platform.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		regs := platformtest.RegsAt(f.Platform.base + tc.off)
		regs.Rax = tc.nr
		regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = tc.args[0], tc.args[1], tc.args[2], tc.args[3], tc.args[4], tc.args[5]
		_, _, err = c.Switch(as, regs)
		if !errors.Is(err, platform.ErrContextDead) {
			t.Errorf("%s: Switch = %v, want the context dead", tc.name, err)
		}
		ws := waitExit(t, as)
		if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
			t.Errorf("%s: stub status %#x, want killed by SIGSYS", tc.name, ws)
		}
		as.Release()
	}
}

// TestGapSyscall: a syscall number in the table's gap is a syscall, not a
// SIGILL.
func TestGapSyscall(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	for _, nr := range []uint64{335, 400, 423, 424, 1000} {
		regs := platformtest.RegsAt(platformtest.SnipSyscalls)
		regs.Rax = nr
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if regs.Rip != platformtest.SnipSyscalls+2 {
			t.Errorf("nr %d: rip %#x", nr, regs.Rip)
		}
	}
}

// TestBadStackPointer: the handler runs on its alternate stack, so an
// application with a garbage stack pointer still traps cleanly.
func TestBadStackPointer(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	for _, sp := range []uint64{0, 1, platformtest.HoleAddr, platformtest.RoAddr + 8, 0x8000000000000000, maxUserAddress + pageSize} {
		regs := platformtest.RegsAt(platformtest.SnipSyscalls)
		regs.Rsp = sp
		regs.Rax = unix.SYS_GETPID
		ev, fi, err := c.Switch(as, regs)
		if err != nil {
			t.Fatalf("rsp %#x: Switch: %v", sp, err)
		}
		// The handler returns through rt_sigreturn, whose IRET faults
		// on a non-canonical stack pointer on AMD CPUs (Intel's loads
		// it): the application gets a SIGSEGV before its syscall. Either
		// way the trap is clean.
		if sp == 0x8000000000000000 && ev == platform.EventFault && fi.Signo == int32(unix.SIGSEGV) && regs.Rip == platformtest.SnipSyscalls {
			continue
		}
		if ev != platform.EventSyscall || regs.Rsp != sp || regs.Orig_rax != unix.SYS_GETPID {
			t.Errorf("rsp %#x: event %d (fault %+v) rsp %#x nr %d, want a syscall", sp, ev, fi, regs.Rsp, regs.Orig_rax)
		}
	}
	// A fault with a bad stack pointer, too.
	regs := platformtest.RegsAt(platformtest.SnipUD2)
	regs.Rsp = 0
	fi := platformtest.SwitchOK(t, c, as, regs, platform.EventFault)
	if fi.Signo != int32(unix.SIGILL) {
		t.Errorf("Signo = %d, want SIGILL", fi.Signo)
	}
}

// TestJITPage runs a syscall from a page the "application" wrote code into
// after mapping it writable and executable.
func TestJITPage(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	const jit = 0x40000000
	platformtest.Must(t, as.MapFile(jit, f.MemFD, platformtest.Data2Off, pageSize, usermem.AnyAccess))
	// The sentry's copy-out: write through the memory file.
	code := []byte{0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe} // mov eax, 39; syscall; jmp $
	if _, err := unix.Pwrite(f.MemFD, code, platformtest.Data2Off+0x100); err != nil {
		t.Fatal(err)
	}
	regs := platformtest.RegsAt(jit + 0x100)
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_GETPID || regs.Rip != jit+0x107 {
		t.Errorf("nr %d rip %#x", regs.Orig_rax, regs.Rip)
	}
	// Restore the page for other tests.
	var w [8]byte
	binary.LittleEndian.PutUint64(w[:], platformtest.Data2Word)
	unix.Pwrite(f.MemFD, make([]byte, len(code)), platformtest.Data2Off+0x100)
}

// TestBases: the application runs with the fs and gs bases its registers
// hold as they change from one Switch to the next and back (without
// FSGSBASE the stub sets a base only when it changed), and a thread that
// another context takes over gets that context's.
func TestBases(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	const jit = 0x40000000
	platformtest.Must(t, as.MapFile(jit, f.MemFD, platformtest.Data2Off, pageSize, usermem.AnyAccess))
	// mov %fs:0, %rdi; mov %gs:0, %rsi; syscall; jmp $
	code := []byte{0x64, 0x48, 0x8b, 0x3c, 0x25, 0, 0, 0, 0, 0x65, 0x48, 0x8b, 0x34, 0x25, 0, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe}
	const a, b = jit + 0x800, jit + 0x808
	var words [16]byte
	binary.LittleEndian.PutUint64(words[:], 0xa1a1a1a1)
	binary.LittleEndian.PutUint64(words[8:], 0xb2b2b2b2)
	for off, buf := range map[int64][]byte{0x100: code, 0x800: words[:]} {
		if _, err := unix.Pwrite(f.MemFD, buf, platformtest.Data2Off+off); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Pwrite(f.MemFD, make([]byte, len(buf)), platformtest.Data2Off+off) })
	}
	word := map[uint64]uint64{a: 0xa1a1a1a1, b: 0xb2b2b2b2}
	run := func(c platform.Context, fs, gs uint64) {
		t.Helper()
		regs := platformtest.RegsAt(jit + 0x100)
		regs.Fs_base, regs.Gs_base, regs.Rax = fs, gs, unix.SYS_GETPID
		ev, fi, err := c.Switch(as, regs)
		if err != nil {
			t.Fatalf("fs %#x gs %#x: Switch: %v", fs, gs, err)
		}
		if fs == 0 {
			if ev != platform.EventFault || fi.Signo != int32(unix.SIGSEGV) || regs.Rip != jit+0x100 {
				t.Errorf("fs 0: event %d (fault %+v) at %#x, want a SIGSEGV at the load", ev, fi, regs.Rip)
			}
			return
		}
		if ev != platform.EventSyscall || regs.Rdi != word[fs] || regs.Rsi != word[gs] {
			t.Errorf("fs %#x gs %#x: event %d, read %#x and %#x, want %#x and %#x", fs, gs, ev, regs.Rdi, regs.Rsi, word[fs], word[gs])
		}
		if regs.Fs_base != fs || regs.Gs_base != gs {
			t.Errorf("fs %#x gs %#x: bases after Switch %#x and %#x", fs, gs, regs.Fs_base, regs.Gs_base)
		}
	}
	for _, v := range [][2]uint64{{a, b}, {a, b}, {b, a}, {0, a}, {a, b}} {
		run(c, v[0], v[1])
	}
	// The next context takes c's parked thread (recycled), whose bases
	// are c's last ones.
	c.Release()
	c2 := f.Platform.NewContext()
	defer c2.Release()
	run(c2, b, a)
	if f.Platform.noFSGS {
		for _, th := range c2.(*context).threads {
			if fs := binary.LittleEndian.Uint64(th.page[tFSCur:]); fs != b {
				t.Errorf("the thread's tFSCur: %#x, want %#x", fs, uint64(b))
			}
		}
	}
}

// TestFPState checks that FP state set by the sentry reaches the
// application and that the application's reaches the sentry.
func TestFPState(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	fp := make([]byte, arch.FPStateSize())
	platformtest.Must(t, c.FPState(as, fp))
	binary.LittleEndian.PutUint64(fp[160:], 0x1122334455667788) // xmm0
	platformtest.Must(t, c.SetFPState(as, fp))
	regs := platformtest.RegsAt(platformtest.SnipXMM0ToRdi)
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != 0x1122334455667788 {
		t.Errorf("application's xmm0 = %#x", regs.Rdi)
	}
	regs = platformtest.RegsAt(platformtest.SnipRdiToXMM1)
	regs.Rdi = 0x0badc0ffee
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	platformtest.Must(t, c.FPState(as, fp))
	if got := binary.LittleEndian.Uint64(fp[xmm1Off:]); got != 0x0badc0ffee {
		t.Errorf("sentry's xmm1 = %#x", got)
	}
	// The AVX upper halves travel too.
	if arch.FPFeatures()&4 != 0 {
		_, ymmOff, _, _ := arch.CPUID(0xd, 2)
		binary.LittleEndian.PutUint64(fp[ymmOff:], 0xfeedface)
		arch.SetXstateBV(fp, arch.XstateBV(fp)|4)
		platformtest.Must(t, c.SetFPState(as, fp))
		platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
		clear(fp)
		platformtest.Must(t, c.FPState(as, fp))
		if got := binary.LittleEndian.Uint64(fp[ymmOff:]); got != 0xfeedface || arch.XstateBV(fp)&4 == 0 {
			t.Errorf("ymm0 high = %#x (xstate_bv %#x)", got, arch.XstateBV(fp))
		}
	}
	// A state XRSTOR would refuse is refused.
	bad := append([]byte(nil), fp...)
	binary.LittleEndian.PutUint32(bad[24:], 0xffffffff) // MXCSR reserved bits
	if err := c.SetFPState(as, bad); err != unix.EINVAL {
		t.Errorf("SetFPState(bad MXCSR) = %v, want EINVAL", err)
	}
}

// TestManyThreads runs a thousand threads in one address space at once and
// many address spaces.
func TestManyThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := newFixture(t)
	as := f.NewAS(t)
	const n = 1500
	ctxs := make([]platform.Context, n)
	for i := range ctxs {
		ctxs[i] = f.Platform.NewContext()
		regs := platformtest.RegsAt(platformtest.SnipSyscalls)
		regs.Rax = uint64(i % 300)
		ev, fi, err := ctxs[i].Switch(as, regs)
		if err != nil || ev != platform.EventSyscall || regs.Orig_rax != uint64(i%300) {
			th := ctxs[i].(*context).last
			t.Fatalf("thread %d: event %d %+v err %v nr %d rip %#x; tid %d slot %d state %d uctx %#x info %#x stub %#x page %x", i, ev, fi, err, regs.Orig_rax, regs.Rip,
				th.tid, th.slot, load(th.state), th.uctx, th.info, th.stubAddr(), th.page[:64])
		}
	}
	// All alive at once; now run them concurrently.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				regs := platformtest.RegsAt(platformtest.SnipLoad)
				regs.Rax = platformtest.DataAddr
				ev, _, err := ctxs[i].Switch(as, regs)
				if err != nil || ev != platform.EventSyscall || regs.Rdi != platformtest.DataWord {
					errs <- fmt.Errorf("thread %d: event %d err %v rdi %#x", i, ev, err, regs.Rdi)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, c := range ctxs {
		c.Release()
	}
	// Released slots are reused.
	for i := 0; i < 100; i++ {
		c := f.Platform.NewContext()
		platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
		c.Release()
	}

	// Many address spaces, each with a thread.
	c := f.Platform.NewContext()
	defer c.Release()
	for i := 0; i < 200; i++ {
		as, err := f.Platform.NewAddressSpace()
		if err != nil {
			t.Fatalf("address space %d: %v", i, err)
		}
		platformtest.Must(t, as.MapFile(platformtest.CodeAddr, f.MemFD, platformtest.CodeOff, pageSize, usermem.AccessType{Read: true, Execute: true}))
		platformtest.Must(t, as.MapFile(platformtest.DataAddr, f.MemFD, platformtest.DataOff, pageSize, usermem.ReadWrite))
		platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
		if i%2 == 0 {
			as.Release()
		} else {
			t.Cleanup(as.Release)
		}
	}
}

// TestDeafThread: an application that forges an rt_sigreturn frame blocking
// the interrupt signal in its host thread and then loops is killed rather
// than left running uninterruptibly.
func TestDeafThread(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := newFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	const frame = 0x50000000
	platformtest.Must(t, as.MapFile(frame, f.MemFD, platformtest.Data2Off, pageSize, usermem.ReadWrite))
	uc := make([]byte, arch.UContextSize)
	var r arch.Registers
	r.Rip, r.Rsp, r.Eflags, r.Cs, r.Ss = platformtest.SnipSpin, platformtest.DataAddr+pageSize-64, 0x202, userCS, userSS
	arch.PutSigContext(uc[ucMcontext:], &r, arch.SigContextInfo{})
	binary.LittleEndian.PutUint64(uc[ucSigmask:], 1<<(interruptSignal-1))
	if _, err := unix.Pwrite(f.MemFD, uc, platformtest.Data2Off+0x200); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Pwrite(f.MemFD, make([]byte, len(uc)), platformtest.Data2Off+0x200) })
	regs := platformtest.RegsAt(f.Platform.base + offHandlerSigreturn)
	regs.Rax = unix.SYS_RT_SIGRETURN
	regs.Rsp = frame + 0x200
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.Interrupt()
	}()
	start := time.Now()
	_, _, err := c.Switch(as, regs)
	if !errors.Is(err, platform.ErrContextDead) {
		t.Fatalf("Switch = %v, want the context dead", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestInterruptClearedSleepWord: an application that clears its state
// page's T_SENTRY_SLEEP (through gs, whose base is the state page while the
// application leaves it at 0) and then loops is still interrupted
// promptly: the stub, told the sentry does not sleep, does not wake it when
// it parks for the interrupt, and the sentry must find the event itself
// (it polls while the thread runs application code), not a liveness
// period (1 s) later.
func TestInterruptClearedSleepWord(t *testing.T) {
	// Patching on: the trampoline needs gs, so a base of 0 is the state page.
	f := newPatchFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	const jit = 0x40000000
	platformtest.Must(t, as.MapFile(jit, f.MemFD, platformtest.Data2Off, pageSize, usermem.AnyAccess))
	// movl $0, %gs:T_SENTRY_SLEEP; jmp $
	code := []byte{0x65, 0xc7, 0x04, 0x25, tSentrySleep, 0, 0, 0, 0, 0, 0, 0, 0xeb, 0xfe}
	if _, err := unix.Pwrite(f.MemFD, code, platformtest.Data2Off+0x100); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Pwrite(f.MemFD, make([]byte, len(code)), platformtest.Data2Off+0x100) })
	for i := 0; i < 3; i++ {
		regs := platformtest.RegsAt(jit + 0x100)
		sent := make(chan time.Time, 1)
		go func() {
			time.Sleep(50 * time.Millisecond)
			sent <- time.Now()
			c.Interrupt()
		}()
		ev, fi, err := c.Switch(as, regs)
		if err != nil || ev != platform.EventInterrupted {
			t.Fatalf("Switch = %d (%+v at %#x), %v; want an interrupt", ev, fi, regs.Rip, err)
		}
		// The poll's period, not the liveness period; a wide margin
		// for a loaded host.
		if d := time.Since(<-sent); d > 500*time.Millisecond {
			t.Errorf("round %d: the interrupt took %v", i, d)
		}
	}
}
