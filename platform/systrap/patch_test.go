//go:build linux && amd64

package systrap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Patchable snippets, in the code page after snippets'.
const (
	// loop: mov $39, %eax; syscall; mov %rax, %rdi; inc %rbx; jmp loop
	patchLoopOff = 0x200
	// mov $39, %eax; syscall at offset 10 of its block: across two
	// blocks, patchable while the address space has one thread.
	patchFarOff = 0x300 + 10
	// a REX prefix before the mov: "mov $39, %r8d; syscall".
	patchREXOff = 0x340
	// a dynamic site, glibc's syscall(2): loop: mov 0x8(%rsp), %r9;
	// syscall; mov %rax, %rdi; inc %rbx; jmp loop
	patchDynOff = 0x380
	// the same after an fs segment prefix: not patchable.
	patchDynFSOff = 0x3c1
	// loop: mov $15, %eax; syscall; jmp loop (rt_sigreturn: never
	// patched).
	patchSigreturnOff = 0x3e0
	// a Go site (Syscall6's movs and syscall): loop: the site; inc
	// %rbx; jmp loop. And another one, with a jmp $ after it.
	patchGoOff  = 0x440
	patchGo2Off = 0x480
	// a Go site at offset 12 of its block, with a jmp $ after it: its
	// first 3 bytes in the block, the rest in the next.
	patchGoCrossOff = 0x4c0 + 12
)

var patchSnippets = map[uint64][]byte{
	patchLoopOff:      {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x48, 0x89, 0xc7, 0x48, 0xff, 0xc3, 0xeb, 0xf1},
	patchFarOff:       {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe},
	patchREXOff:       {0x41, 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe},
	patchDynOff:       {0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05, 0x48, 0x89, 0xc7, 0x48, 0xff, 0xc3, 0xeb, 0xf1},
	patchDynFSOff - 1: {0x64, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05, 0xeb, 0xfe},
	patchSigreturnOff: {0xb8, 15, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7},
	patchGoOff:        append(goSiteBytes[:], 0x48, 0xff, 0xc3, 0xeb, 0xed),
	patchGo2Off:       append(goSiteBytes[:], 0xeb, 0xfe),
	patchGoCrossOff:   append(goSiteBytes[:], 0xeb, 0xfe),
}

var siteBytes = []byte{0xb8, 39, 0, 0, 0, 0x0f, 0x05}

// patchFixture is a fixture whose platform patches syscalls, and the
// sentry's view of its code page, which stands for the memory manager.
type patchFixture struct {
	*fixture
	code []byte
}

func newPatchFixture(tb testing.TB) *patchFixture {
	tb.Helper()
	fd := platformtest.NewMemFile(tb)
	code, err := unix.Mmap(fd, platformtest.CodeOff, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		tb.Fatal(err)
	}
	for off, b := range patchSnippets {
		copy(code[off:], b)
	}
	opts := testOptions()
	opts.Patch = true
	p, err := New(fd, opts)
	if err != nil {
		unix.Munmap(code)
		tb.Fatalf("New: %v", err)
	}
	assumeIdle(p)
	p.patchEager = true
	tb.Cleanup(func() {
		p.Close()
		unix.Munmap(code)
	})
	return &patchFixture{fixture: &fixture{Platform: p, MemFD: fd}, code: code}
}

// NewAS is platformtest.Fixture.NewAS with text access to the code page.
func (f *patchFixture) NewAS(tb testing.TB) platform.AddressSpace {
	tb.Helper()
	as := f.fixture.NewAS(tb)
	inCode := func(addr, n uint64) bool {
		return addr >= platformtest.CodeAddr && addr+n <= platformtest.CodeAddr+pageSize
	}
	as.(*addressSpace).SetTextAccess(
		func(addr uint64, dst []byte) (int, error) {
			if !inCode(addr, uint64(len(dst))) {
				return 0, unix.EFAULT
			}
			return copy(dst, f.code[addr-platformtest.CodeAddr:]), nil
		},
		func(addr uint64, fn func([]byte) bool) (bool, error) {
			if !inCode(addr, 16) {
				return false, unix.EFAULT
			}
			off := addr - platformtest.CodeAddr
			// As the memory manager: the next block too, on the page.
			return fn(f.code[off:min(off+32, pageSize)]), nil
		})
	return as
}

// patchSetup returns a patching fixture, an address space and a context
// in it, and the address of the snippet at off with registers to run it.
func patchSetup(t *testing.T, off uint64) (*patchFixture, platform.AddressSpace, platform.Context, uint64, *arch.Registers) {
	t.Helper()
	f := newPatchFixture(t)
	site := platformtest.CodeAddr + off
	return f, f.NewAS(t), platformtest.LockedContext(t, f.Platform), site, platformtest.RegsAt(site)
}

// pull makes regs whole, as the kernel does before it uses the registers
// a patched syscall leaves with the application (platform.LazyRegs).
func pull(c platform.Context, regs *arch.Registers) { c.(platform.LazyRegs).PullRegs(regs) }

func (f *patchFixture) patched(off uint64) bool {
	return f.code[off] == 0xff && f.code[off+5] == 0xcc
}

// TestPatchSecondTrap: by default a site is patched at its second trap,
// not its first (a site that traps once in a process would cost a text
// page copy and a remap for nothing).
func TestPatchSecondTrap(t *testing.T) {
	f := newPatchFixture(t)
	f.Platform.patchEager = false
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	regs := platformtest.RegsAt(platformtest.CodeAddr + patchLoopOff)
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if f.patched(patchLoopOff) {
		t.Fatal("site patched at its first trap")
	}
	regs.Rax = 0
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if !f.patched(patchLoopOff) {
		t.Fatalf("site not patched at its second trap: % x", f.code[patchLoopOff:patchLoopOff+7])
	}
}

// TestPatchLoop: a trapped site is patched and then runs through the
// trampoline, with the registers, flags and results of a real syscall.
func TestPatchLoop(t *testing.T) {
	f := newPatchFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	site := uint64(platformtest.CodeAddr + patchLoopOff)

	regs := platformtest.RegsAt(site)
	regs.Rbx, regs.Rbp, regs.Rsi, regs.Rdx = 0, 0x1111, 0x2222, 0x3333
	regs.R8, regs.R9, regs.R10, regs.R12, regs.R13, regs.R14, regs.R15 = 8, 9, 10, 12, 13, 14, 15
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if !f.patched(patchLoopOff) {
		t.Fatalf("site not patched: % x", f.code[patchLoopOff:patchLoopOff+7])
	}
	if c.(*context).last.inTramp {
		t.Fatal("the first, trapped, syscall came through the trampoline")
	}
	for i := uint64(1); i <= 100; i++ {
		regs.Rax = 1000 + i
		regs.Eflags |= 1 // CF: the trampoline must keep the flags
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if !c.(*context).last.inTramp {
			t.Fatalf("syscall %d trapped instead of using the trampoline", i)
		}
		pull(c, regs)
		if regs.Orig_rax != 39 || regs.Rip != site+7 || regs.Rcx != site+7 || regs.R11 != regs.Eflags {
			t.Fatalf("syscall %d: nr %d rip %#x rcx %#x r11 %#x flags %#x", i, regs.Orig_rax, regs.Rip, regs.Rcx, regs.R11, regs.Eflags)
		}
		if regs.Rdi != 1000+i || regs.Rbx != i {
			t.Fatalf("syscall %d: the application saw rax %d, rbx %d", i, regs.Rdi, regs.Rbx)
		}
		if regs.Rbp != 0x1111 || regs.Rsi != 0x2222 || regs.Rdx != 0x3333 || regs.R8 != 8 || regs.R9 != 9 || regs.R10 != 10 ||
			regs.R12 != 12 || regs.R13 != 13 || regs.R14 != 14 || regs.R15 != 15 || regs.Rsp != platformtest.DataAddr+pageSize-64 {
			t.Fatalf("syscall %d: registers changed: %+v", i, regs)
		}
		if regs.Eflags&1 == 0 {
			t.Fatalf("syscall %d: CF lost (flags %#x)", i, regs.Eflags)
		}
		if regs.Gs_base != 0 {
			t.Fatalf("gs base %#x", regs.Gs_base)
		}
	}

	// Not pulled, the registers a syscall leaves with the application
	// stay there, and the application's changes to them too.
	for i := uint64(101); i <= 200; i++ {
		regs.Rax = 1000 + i
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if regs.Rdi != 1000+i || regs.Orig_rax != 39 || regs.Rip != site+7 || !c.(*context).last.inTramp {
			t.Fatalf("syscall %d: rdi %d nr %d rip %#x", i, regs.Rdi, regs.Orig_rax, regs.Rip)
		}
		if regs.Rbx != 100 {
			t.Fatalf("syscall %d: rbx %d before a pull, want the stale 100", i, regs.Rbx)
		}
	}
	pull(c, regs)
	if regs.Rbx != 200 || regs.Rbp != 0x1111 || regs.R12 != 12 || regs.R15 != 15 || regs.Eflags&1 == 0 || regs.R11 != regs.Eflags {
		t.Fatalf("pulled after 100 syscalls: %+v", regs)
	}
	// Changed once pulled, they reach the application.
	regs.Rbx, regs.R12 = 5000, 0x1212
	regs.Rax = 1
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	pull(c, regs)
	if regs.Rbx != 5001 || regs.R12 != 0x1212 {
		t.Fatalf("after a change: rbx %d r12 %#x", regs.Rbx, regs.R12)
	}

	// A jump to the old syscall instruction (as a restart does) is that
	// syscall.
	regs.Rip = site + 5
	regs.Rax = 39
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != 39 || regs.Rip != site+7 {
		t.Fatalf("jump to the old syscall: nr %d rip %#x", regs.Orig_rax, regs.Rip)
	}
	regs.Rip = site + 5
	regs.Rax = unix.SYS_GETPPID
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_GETPPID || regs.Rip != site+7 {
		t.Fatalf("jump to the old syscall with another number: nr %d rip %#x", regs.Orig_rax, regs.Rip)
	}

	// FP state leaves the trampoline through a trap; the loop goes on,
	// with the registers not pulled before.
	pull(c, regs)
	rbx := regs.Rbx
	regs.Rax = 7
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if !c.(*context).last.inTramp {
		t.Fatal("not in the trampoline")
	}
	fp := make([]byte, 4096)
	platformtest.Must(t, c.FPState(as, fp))
	platformtest.Must(t, c.SetFPState(as, fp))
	regs.Rax = 8
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	pull(c, regs)
	if regs.Rdi != 8 || regs.Rbx != rbx+2 || regs.Rip != site+7 {
		t.Fatalf("after FP state: rdi %d rbx %d rip %#x", regs.Rdi, regs.Rbx, regs.Rip)
	}

	// An application gs base: the trampoline's slow path.
	regs.Gs_base = 0x12340000
	for i := 0; i < 3; i++ {
		regs.Rax = 9
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if regs.Orig_rax != 39 || regs.Rip != site+7 || regs.Gs_base != 0x12340000 || regs.Rdi != 9 {
			t.Fatalf("with a gs base: nr %d rip %#x gs %#x rdi %d", regs.Orig_rax, regs.Rip, regs.Gs_base, regs.Rdi)
		}
	}
	regs.Gs_base = 0
	regs.Rax = 10
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != 10 || !c.(*context).last.inTramp {
		t.Fatalf("back to gs 0: rdi %d, in trampoline %v", regs.Rdi, c.(*context).last.inTramp)
	}

	// Single-stepping out of a patched syscall stops after the
	// application's next instruction, not in the trampoline.
	pull(c, regs)
	regs.Eflags |= eflagsTF
	fi := platformtest.SwitchOK(t, c, as, regs, platform.EventFault)
	if fi.Signo != int32(unix.SIGTRAP) || regs.Rip != site+10 {
		t.Fatalf("single step: %+v at %#x, want SIGTRAP at %#x", fi, regs.Rip, site+10)
	}
}

// TestPatchRefused: sites that are not provably "mov $NR, %eax; syscall"
// in one 16-byte block stay as they are and still work.
func TestPatchRefused(t *testing.T) {
	f := newPatchFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	for _, off := range []uint64{patchREXOff} {
		start := platformtest.CodeAddr + off
		regs := platformtest.RegsAt(start)
		regs.Rax = 39
		for i := 0; i < 3; i++ {
			regs.Rip = start
			regs.Rax = 39
			platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
			if regs.Orig_rax != 39 {
				t.Errorf("%#x: nr %d", off, regs.Orig_rax)
			}
		}
		if bytes.Contains(f.code[off:off+16], []byte{0xff, 0x24, 0x25}) {
			t.Errorf("%#x: patched: % x", off, f.code[off:off+16])
		}
	}
	// A syscall whose number is not the mov's (the mov was jumped over)
	// does not patch the site either.
	regs := platformtest.RegsAt(platformtest.CodeAddr + patchLoopOff + 5)
	regs.Rax = unix.SYS_GETPPID
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if f.patched(patchLoopOff) {
		t.Error("patched for another syscall number")
	}
	if !bytes.Equal(f.code[patchLoopOff:patchLoopOff+7], siteBytes) {
		t.Errorf("site changed: % x", f.code[patchLoopOff:patchLoopOff+7])
	}
}

// TestPatchRevert: a site whose syscalls keep leaving the trampoline (a
// signal delivered after each: the FP state read and written) gets its
// code back and traps again, with the registers of a real syscall; one
// whose trap outs are rare stays patched; rt_sigreturn is never patched.
func TestPatchRevert(t *testing.T) {
	f := newPatchFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	site := uint64(platformtest.CodeAddr + patchLoopOff)
	fp := make([]byte, 4096)
	regs := platformtest.RegsAt(site)
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if !f.patched(patchLoopOff) {
		t.Fatal("site not patched")
	}
	ctx := c.(*context)
	pt := as.(*addressSpace).patch

	// One trap out every trapOutGap+1 patched syscalls: stays patched.
	for i := 0; i < 4*trapOutRun*(trapOutGap+1); i++ {
		regs.Rax = 0
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if !ctx.last.inTramp {
			t.Fatalf("syscall %d trapped", i)
		}
		if i%(trapOutGap+1) == 0 {
			platformtest.Must(t, c.FPState(as, fp))
			platformtest.Must(t, c.SetFPState(as, fp))
		}
	}
	if !f.patched(patchLoopOff) {
		t.Fatal("a site with rare trap outs was reverted")
	}

	// A trap out after every syscall: reverted after trapOutRun.
	pull(c, regs)
	rbx := regs.Rbx
	n := 0
	for ; n < 2*trapOutRun && f.patched(patchLoopOff); n++ {
		regs.Rax = 0
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		platformtest.Must(t, c.FPState(as, fp))
		platformtest.Must(t, c.SetFPState(as, fp))
	}
	if f.patched(patchLoopOff) || !bytes.Equal(f.code[patchLoopOff:patchLoopOff+7], siteBytes) {
		t.Fatalf("not reverted after %d trap outs in a row: % x", n, f.code[patchLoopOff:patchLoopOff+7])
	}
	if n < trapOutRun {
		t.Errorf("reverted after %d trap outs", n)
	}
	for i := 0; i < 5; i++ {
		regs.Rax = 100 + uint64(i)
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if ctx.last.inTramp || regs.Orig_rax != 39 || regs.Rip != site+7 || regs.Rdi != 100+uint64(i) {
			t.Fatalf("after revert: trampoline %v nr %d rip %#x rdi %d", ctx.last.inTramp, regs.Orig_rax, regs.Rip, regs.Rdi)
		}
	}
	if regs.Rbx != rbx+uint64(n)+5 {
		t.Errorf("loop count %d, want %d", regs.Rbx, rbx+uint64(n)+5)
	}
	if !bytes.Equal(f.code[patchLoopOff:patchLoopOff+7], siteBytes) {
		t.Fatal("site patched again")
	}
	// An int3 at the old syscall that ran before the rewrite is still
	// that syscall.
	if ret, ok := pt.jumpedSite(site + 5); !ok || ret != site+7 {
		t.Errorf("jumpedSite after revert: %#x, %v", ret, ok)
	}
	if _, ok := pt.jumpedSite(platformtest.CodeAddr + patchFarOff + 5); ok {
		t.Error("jumpedSite took a site never patched")
	}

	regs = platformtest.RegsAt(platformtest.CodeAddr + patchSigreturnOff)
	for i := 0; i < 3; i++ {
		regs.Rax = 15
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if regs.Orig_rax != unix.SYS_RT_SIGRETURN || ctx.last.inTramp {
			t.Fatalf("rt_sigreturn: nr %d, trampoline %v", regs.Orig_rax, ctx.last.inTramp)
		}
		regs.Rip = platformtest.CodeAddr + patchSigreturnOff
	}
	if bytes.Contains(f.code[patchSigreturnOff:patchSigreturnOff+9], []byte{0xff, 0x24, 0x25}) {
		t.Error("rt_sigreturn patched")
	}
}

// TestPatchFork: a forked address space inherits the patched sites.
func TestPatchFork(t *testing.T) {
	f := newPatchFixture(t)
	parent := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	site := uint64(platformtest.CodeAddr + patchLoopOff)
	regs := platformtest.RegsAt(site)
	platformtest.SwitchOK(t, c, parent, regs, platform.EventSyscall)
	if !f.patched(patchLoopOff) {
		t.Fatal("not patched")
	}
	child := f.NewAS(t)
	parent.(*addressSpace).ForkPatches(child)
	// The child runs the (shared) patched code through its own pointer
	// table and trampoline.
	c2 := f.Platform.NewContext()
	defer c2.Release()
	regs2 := platformtest.RegsAt(site)
	for i := 0; i < 3; i++ {
		regs2.Rax = 5
		platformtest.SwitchOK(t, c2, child, regs2, platform.EventSyscall)
		if regs2.Orig_rax != 39 || regs2.Rip != site+7 {
			t.Fatalf("child: nr %d rip %#x", regs2.Orig_rax, regs2.Rip)
		}
	}
	// An address space that did not inherit them (it cannot happen with
	// a memory manager: its memory is its own) and runs the patched code
	// gets a fault, and the sentry stays unharmed.
	other := f.NewAS(t)
	c3 := f.Platform.NewContext()
	defer c3.Release()
	fi := platformtest.SwitchOK(t, c3, other, platformtest.RegsAt(site), platform.EventFault)
	if fi.Signo != int32(unix.SIGSEGV) {
		t.Errorf("fault %+v, want SIGSEGV", fi)
	}
}

// TestPatchInterrupts: interrupts that land anywhere in the trampoline
// never lose a syscall or show the stub's addresses.
func TestPatchInterrupts(t *testing.T) {
	f := newPatchFixture(t)
	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	site := uint64(platformtest.CodeAddr + patchLoopOff)
	regs := platformtest.RegsAt(site)
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	syscalls, interrupts := switchInterrupted(t, c, as, regs, 2*time.Second,
		func(n uint64) { regs.Rax = n },
		func(n uint64) {
			if n%2 == 0 {
				// Not pulled: interrupts of the trampoline's way back
				// then find them in tCRegs.
				return
			}
			pull(c, regs)
			if regs.Orig_rax != 39 || regs.Rip != site+7 || regs.Rbx != n {
				t.Fatalf("syscall %d: nr %d rip %#x rbx %d", n, regs.Orig_rax, regs.Rip, regs.Rbx)
			}
		})
	t.Logf("%d syscalls, %d interrupts", syscalls, interrupts)
	if syscalls < 10 {
		t.Errorf("only %d syscalls", syscalls)
	}
}

// switchInterrupted runs the thread at regs for d while another goroutine
// interrupts it every 20 µs: next sets the registers up before each
// Switch and check looks at the n-th syscall (both get the syscalls seen
// so far). An interrupt must stop the thread in application code; a fault
// fails the test. It returns the syscalls and interrupts seen. The
// interrupter's last Interrupt may still be pending afterwards (it may
// come after the last Switch): the caller's next Switch may be
// interrupted, as the sentry's may (switchAfterInterrupts).
func switchInterrupted(t *testing.T, c platform.Context, as platform.AddressSpace, regs *arch.Registers, d time.Duration, next, check func(n uint64)) (syscalls, interrupts uint64) {
	t.Helper()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			c.Interrupt()
			time.Sleep(20 * time.Microsecond)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		next(syscalls)
		ev, fi, err := c.Switch(as, regs)
		if err != nil {
			t.Fatalf("Switch: %v", err)
		}
		switch ev {
		case platform.EventSyscall:
			syscalls++
			check(syscalls)
		case platform.EventInterrupted:
			interrupts++
			if regs.Rip < platformtest.CodeAddr || regs.Rip >= platformtest.CodeAddr+pageSize {
				t.Fatalf("interrupted at %#x, outside the application (signal %d)", regs.Rip, c.(*context).last.signo())
			}
		default:
			t.Fatalf("fault %+v at %#x", fi, regs.Rip)
		}
	}
	return syscalls, interrupts
}

// switchAfterInterrupts is platformtest.SwitchOK for the first Switch
// after switchInterrupted: an interrupt left pending stops it before the
// thread runs, and the sentry would switch again, as this does.
func switchAfterInterrupts(t *testing.T, c platform.Context, as platform.AddressSpace, regs *arch.Registers, want platform.Event) {
	t.Helper()
	for i := 0; i < 3; i++ {
		ev, fi, err := c.Switch(as, regs)
		if err != nil {
			t.Fatalf("Switch: %v", err)
		}
		if ev == platform.EventInterrupted {
			continue
		}
		if ev != want {
			t.Fatalf("Switch = event %d (fault %+v, rip %#x), want %d", ev, fi, regs.Rip, want)
		}
		return
	}
	t.Fatalf("Switch interrupted 3 times after the interrupter stopped")
}

// TestPatchManyThreads: every thread slot of an address space runs the
// same patched site concurrently.
func TestPatchManyThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	f := newPatchFixture(t)
	as := f.NewAS(t)
	site := uint64(platformtest.CodeAddr + patchLoopOff)
	const n = maxThreads
	ctxs := make([]platform.Context, n)
	defer func() {
		for _, c := range ctxs {
			if c != nil {
				c.Release()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				ctxs[i] = f.Platform.NewContext()
				regs := platformtest.RegsAt(site)
				for k := uint64(0); k < 3; k++ {
					regs.Rax = uint64(i)
					ev, _, err := ctxs[i].Switch(as, regs)
					if err != nil || ev != platform.EventSyscall || regs.Orig_rax != 39 || (k > 0 && regs.Rdi != uint64(i)) {
						select {
						case errs <- fmt.Errorf("thread %d, syscall %d: event %d err %v nr %d rdi %d", i, k, ev, err, regs.Orig_rax, regs.Rdi):
						default:
						}
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !f.patched(patchLoopOff) {
		t.Error("not patched")
	}
}

// TestPatchPtrTableMapped: the application mapping memory over the pointer
// table stops patching.
func TestPatchPtrTableMapped(t *testing.T) {
	f := newPatchFixture(t)
	as := f.NewAS(t)
	// As the memory manager does before it maps memory there.
	if !as.(*addressSpace).LosePatchTable(ptrTableAddr, pageSize) {
		t.Fatal("LosePatchTable: the pointer table's first page does not take its place")
	}
	platformtest.Must(t, as.MapFile(ptrTableAddr, f.MemFD, platformtest.Data2Off, pageSize, usermem.Read))
	c := platformtest.LockedContext(t, f.Platform)
	regs := platformtest.RegsAt(platformtest.CodeAddr + patchLoopOff)
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if f.patched(patchLoopOff) {
		t.Error("patched with the pointer table gone")
	}
}

// TestPatchDynamic: a dynamic site ("mov 0x8(%rsp), %r9; syscall", whose
// number is in rax) is patched, runs through its own thunk with the
// number it was given each time and the r9 its mov loads, and keeps the
// number across interrupts anywhere in the thunk and the trampoline; its
// slow path (an application gs base) and a jump to its old syscall are
// syscalls too. One after a segment prefix is left alone.
func TestPatchDynamic(t *testing.T) {
	f, as, c, site, regs := patchSetup(t, patchDynOff)
	regs.Rax = unix.SYS_GETPID
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_GETPID || regs.Rip != site+7 {
		t.Fatalf("trapped syscall: nr %d rip %#x", regs.Orig_rax, regs.Rip)
	}
	if !f.patched(patchDynOff) {
		t.Fatalf("dynamic site not patched: % x", f.code[patchDynOff:patchDynOff+7])
	}
	r9 := regs.R9 // what 8(%rsp) holds
	nrs := []uint64{unix.SYS_GETTID, unix.SYS_GETPID, 1000, unix.SYS_GETPPID, 1 << 40}
	for i := uint64(1); i <= 50; i++ {
		nr := nrs[i%uint64(len(nrs))]
		regs.Rax = nr // the previous call's result is the next one's number
		regs.R9 = 0xdead
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if !c.(*context).last.inTramp {
			t.Fatalf("call %d trapped instead of using the trampoline", i)
		}
		if regs.Orig_rax != nr || regs.Rip != site+7 || regs.Rcx != site+7 || regs.R9 != r9 || regs.Rdi != nr {
			t.Fatalf("call %d: nr %d (want %d) rip %#x rcx %#x r9 %#x (want %#x) rdi %d", i, regs.Orig_rax, nr, regs.Rip, regs.Rcx, regs.R9, r9, regs.Rdi)
		}
	}

	// A jump to the old syscall instruction takes rax as the number.
	regs.Rip, regs.Rax = site+5, unix.SYS_GETPPID
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_GETPPID || regs.Rip != site+7 {
		t.Fatalf("jump to the old syscall: nr %d rip %#x", regs.Orig_rax, regs.Rip)
	}

	// An application gs base: the thunk's own slow path.
	regs.Gs_base = 0x12340000
	for i := 0; i < 3; i++ {
		regs.Rax = unix.SYS_GETTID
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if regs.Orig_rax != unix.SYS_GETTID || regs.Rip != site+7 || regs.Gs_base != 0x12340000 || regs.R9 != r9 {
			t.Fatalf("with a gs base: nr %d rip %#x gs %#x r9 %#x", regs.Orig_rax, regs.Rip, regs.Gs_base, regs.R9)
		}
	}
	regs.Gs_base = 0

	// Interrupts anywhere: every syscall still has its own number.
	want := uint64(unix.SYS_GETPID)
	regs.Rax = want
	calls, interrupts := switchInterrupted(t, c, as, regs, time.Second,
		func(uint64) {},
		func(n uint64) {
			if regs.Orig_rax != want || regs.Rip != site+7 {
				t.Fatalf("call %d: nr %d, want %d, rip %#x", n, regs.Orig_rax, want, regs.Rip)
			}
			want = nrs[n%uint64(len(nrs))]
			regs.Rax = want
		})
	t.Logf("%d calls, %d interrupts", calls, interrupts)
	if calls < 10 {
		t.Errorf("only %d calls", calls)
	}

	// An interrupt in the thunk goes back to the site, with the number
	// back in rax once the thunk moved it to r11.
	ctx := c.(*context)
	for at := uint64(0); at < offDynThunkEnd-offDynThunk; at++ {
		r := arch.Registers{Rip: f.Platform.base + dynThunksOff + at, Rax: 7, R11: unix.SYS_GETPID}
		ctx.rewindThunk(ctx.last, &r)
		wantRax := uint64(7)
		if at >= offDynThunkMoved-offDynThunk {
			wantRax = unix.SYS_GETPID
		}
		if r.Rip != site || r.Rax != wantRax {
			t.Errorf("interrupt at thunk offset %d: rip %#x rax %d, want %#x, %d", at, r.Rip, r.Rax, site, wantRax)
		}
	}

	// The pointer table gone from the host (as an munmap around it once
	// took it): the jump through it faults, and the fault is the site's
	// mov and syscall, with rax's number.
	sas := as.(*addressSpace)
	sas.patch.lost.Store(true) // not to be recycled without its table
	sas.mu.Lock()
	_, err := sas.r.call(sas.pid, &sas.reaped, unix.SYS_MUNMAP, 0, ptrTableAddr, ptrTableEnd-ptrTableAddr)
	sas.mu.Unlock()
	platformtest.Must(t, err)
	// The platform reads 8(%rsp) through the memory manager, here the
	// code page, where the value is put.
	const stackOff = 0xf00
	binary.LittleEndian.PutUint64(f.code[stackOff+8:], 0x1122334455667788)
	regs = platformtest.RegsAt(site)
	regs.Rsp = platformtest.CodeAddr + stackOff
	for _, nr := range nrs {
		regs.Rax, regs.R9 = nr, 0xdead
		// An interrupt of the part above may still be pending.
		switchAfterInterrupts(t, c, as, regs, platform.EventSyscall)
		if regs.Orig_rax != nr || regs.Rip != site+7 || regs.R9 != 0x1122334455667788 {
			t.Fatalf("with the table gone: nr %d (want %d) rip %#x r9 %#x", regs.Orig_rax, nr, regs.Rip, regs.R9)
		}
	}

	// After a segment prefix the mov reads another address: not patched.
	regs = platformtest.RegsAt(platformtest.CodeAddr + patchDynFSOff)
	regs.Rax = unix.SYS_GETPID
	switchAfterInterrupts(t, c, as, regs, platform.EventSyscall)
	if f.code[patchDynFSOff] != 0x4c {
		t.Errorf("site after an fs prefix patched: % x", f.code[patchDynFSOff-1:patchDynFSOff+7])
	}
}

// TestPatchCrossing: a site across two 16-byte blocks is patched while the
// address space has a single thread, runs through the trampoline like any
// site, and stays patched when a second thread comes. With another thread
// running application code, the site is patched, and later restored, with
// that thread stopped: it returns from Switch as interrupted, and runs on
// afterwards.
func TestPatchCrossing(t *testing.T) {
	f := newPatchFixture(t)
	site := uint64(platformtest.CodeAddr + patchFarOff)
	run := func(c platform.Context, as platform.AddressSpace) *context {
		t.Helper()
		regs := platformtest.RegsAt(site)
		regs.Rax = 39
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if regs.Orig_rax != 39 || regs.Rip != site+7 || regs.Rcx != site+7 {
			t.Fatalf("nr %d rip %#x rcx %#x", regs.Orig_rax, regs.Rip, regs.Rcx)
		}
		return c.(*context)
	}

	as := f.NewAS(t)
	c := platformtest.LockedContext(t, f.Platform)
	run(c, as)
	if !f.patched(patchFarOff) {
		t.Fatalf("single thread: not patched: % x", f.code[patchFarOff:patchFarOff+7])
	}
	for i := 0; i < 3; i++ {
		if ctx := run(c, as); !ctx.last.inTramp {
			t.Fatalf("call %d trapped", i)
		}
	}
	res, err := as.(*addressSpace).ReserveThread()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if !f.patched(patchFarOff) {
		t.Fatalf("second thread reserved: site restored: % x", f.code[patchFarOff:patchFarOff+7])
	}
	for i := 0; i < 3; i++ {
		if ctx := run(c, as); !ctx.last.inTramp {
			t.Fatalf("call %d with a second thread trapped", i)
		}
	}
	as.(*addressSpace).UnpatchText(platformtest.CodeAddr, platformtest.CodeAddr+pageSize, f.access)
	if !bytes.Equal(f.code[patchFarOff:patchFarOff+7], siteBytes) {
		t.Fatalf("not restored: % x", f.code[patchFarOff:patchFarOff+7])
	}

	// Two threads, the other one in a loop of application code (the
	// "jmp ." after the site) all along.
	as2 := f.NewAS(t)
	c2 := platformtest.LockedContext(t, f.Platform)
	spin := func() (stop func() int) {
		c3 := f.Platform.NewContext()
		var stops atomic.Int32
		done := make(chan struct{})
		quit := make(chan struct{})
		go func() {
			defer close(done)
			regs := platformtest.RegsAt(site + 7)
			for {
				ev, _, err := c3.Switch(as2, regs)
				if err != nil || ev != platform.EventInterrupted || regs.Rip != site+7 {
					t.Errorf("spinning thread: event %v rip %#x err %v", ev, regs.Rip, err)
					return
				}
				select {
				case <-quit:
					return
				default:
					stops.Add(1)
				}
			}
		}()
		// Let it run application code before the other thread traps.
		for c3.(*context).running.Load() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		return func() int {
			close(quit)
			c3.Interrupt()
			<-done
			c3.Release()
			return int(stops.Load())
		}
	}
	stop := spin()
	run(c2, as2)
	if !f.patched(patchFarOff) {
		t.Fatalf("two threads: not patched: % x", f.code[patchFarOff:patchFarOff+7])
	}
	if ctx := run(c2, as2); !ctx.last.inTramp {
		t.Fatal("two threads: the patched site trapped")
	}
	if n := stop(); n == 0 {
		t.Error("the other thread was never stopped for the rewrite")
	}
	stop = spin()
	as2.(*addressSpace).UnpatchText(platformtest.CodeAddr, platformtest.CodeAddr+pageSize, f.access)
	if !bytes.Equal(f.code[patchFarOff:patchFarOff+7], siteBytes) {
		t.Fatalf("two threads: not restored: % x", f.code[patchFarOff:patchFarOff+7])
	}
	if n := stop(); n == 0 {
		t.Error("the other thread was never stopped for the restore")
	}
}

// TestPatchGoCrossing: a Go site whose bytes span two blocks is patched in
// an address space with several threads, in one step: its patch changes
// only its first 3 bytes, which are in the first block.
func TestPatchGoCrossing(t *testing.T) {
	f, as, c, site, regs := patchSetup(t, patchGoCrossOff)
	res, err := as.(*addressSpace).ReserveThread()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	for i := 0; i < 3; i++ {
		pull(c, regs)
		regs.Rip, regs.Rax, regs.Rsi = site, unix.SYS_GETPID, uint64(i)
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if regs.Orig_rax != unix.SYS_GETPID || regs.Rip != site+goSiteLen || regs.R10 != uint64(i) {
			t.Fatalf("call %d: nr %d rip %#x r10 %#x", i, regs.Orig_rax, regs.Rip, regs.R10)
		}
		if i > 0 && !c.(*context).last.inTramp {
			t.Fatalf("call %d trapped", i)
		}
	}
	want := append([]byte{0xff, 0x24, 0x25}, goSiteBytes[3:]...)
	if got := f.code[patchGoCrossOff : patchGoCrossOff+goSiteLen]; !bytes.Equal(got, want) {
		t.Fatalf("Go site: % x, want % x", got, want)
	}
}

// access is UnpatchText's access to the code page, as the memory manager
// gives it.
func (f *patchFixture) access(addr uint64, fn func(b []byte) bool) {
	off := addr - platformtest.CodeAddr
	fn(f.code[off : off+16])
}

// TestPatchGo: a Go site (internal/runtime/syscall.Syscall6) is patched by
// its first 3 bytes alone, runs through the Go thunk with the number it
// was given and the registers its movs set, and stays right where the
// rest of the site is run: a jump to its old syscall, an interrupt in its
// thunk (back to the same mov of the site, or to its syscall once the
// movs are done), the thunk's slow path, the Go view gone. An address
// space patches one Go site.
func TestPatchGo(t *testing.T) {
	f, as, c, site, regs := patchSetup(t, patchGoOff)
	// set gives the site's inputs; check what its movs made of them.
	set := func(n uint64) {
		pull(c, regs)
		regs.Rsi, regs.Rdi, regs.Rcx, regs.Rbx = 0x1000+n, 0x2000+n, 0x3000+n, 0x4000+n
	}
	check := func(what string, n, nr, rbx uint64) {
		t.Helper()
		if regs.Orig_rax != nr || regs.Rip != site+goSiteLen || regs.R10 != 0x1000+n || regs.Rdx != 0x2000+n ||
			regs.Rsi != 0x3000+n || regs.Rdi != rbx {
			t.Fatalf("%s: nr %d (want %d) rip %#x r10 %#x rdx %#x rsi %#x rdi %#x", what, regs.Orig_rax, nr, regs.Rip, regs.R10, regs.Rdx, regs.Rsi, regs.Rdi)
		}
	}
	set(0)
	regs.Rax = unix.SYS_GETPID
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	check("trapped", 0, unix.SYS_GETPID, 0x4000)
	want := append([]byte{0xff, 0x24, 0x25}, goSiteBytes[3:]...)
	if !bytes.Equal(f.code[patchGoOff:patchGoOff+goSiteLen], want) {
		t.Fatalf("Go site: % x, want % x", f.code[patchGoOff:patchGoOff+goSiteLen], want)
	}
	nrs := []uint64{unix.SYS_GETTID, unix.SYS_GETPID, 1000, unix.SYS_GETPPID}
	for i := uint64(1); i <= 50; i++ {
		nr := nrs[i%uint64(len(nrs))]
		set(i)
		regs.Rax = nr
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		if !c.(*context).last.inTramp {
			t.Fatalf("call %d trapped instead of using the trampoline", i)
		}
		check(fmt.Sprintf("call %d", i), i, nr, 0x4000+i+1)
	}

	// A jump to the old syscall, which the patch left in place.
	set(60)
	regs.Rip, regs.Rax, regs.R10, regs.Rdx, regs.Rsi, regs.Rdi = site+goMovsLen, unix.SYS_GETPPID, 0x1000+60, 0x2000+60, 0x3000+60, 7
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	check("jump to the old syscall", 60, unix.SYS_GETPPID, 7)

	// The thunk's slow path: an application gs base.
	regs.Gs_base = 0x12340000
	for i := uint64(70); i < 73; i++ {
		set(i)
		regs.Rax = unix.SYS_GETTID
		platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
		check("with a gs base", i, unix.SYS_GETTID, 0x4000+i+1)
	}
	regs.Gs_base = 0

	// Interrupts anywhere: every call has its number and its movs (from
	// the second on, rsi is rcx after the syscall before: the site's
	// address after it).
	var n0 uint64 = 100
	set(n0)
	regs.Rax = unix.SYS_GETPID
	calls, interrupts := switchInterrupted(t, c, as, regs, time.Second,
		func(uint64) {},
		func(n uint64) {
			r10 := site + goSiteLen
			if n == 2 {
				r10 = 0x3000 + n0
			}
			if n == 1 {
				check("first interrupted call", n0, unix.SYS_GETPID, 0x4000+n0+1)
			} else if regs.Orig_rax != unix.SYS_GETPID || regs.Rip != site+goSiteLen || regs.R10 != r10 ||
				regs.Rsi != site+goSiteLen || regs.Rdx != regs.Rdi-1 {
				t.Fatalf("call %d: nr %d rip %#x r10 %#x rsi %#x rdx %#x rdi %#x", n, regs.Orig_rax, regs.Rip, regs.R10, regs.Rsi, regs.Rdx, regs.Rdi)
			}
			regs.Rax = unix.SYS_GETPID
		})
	t.Logf("%d calls, %d interrupts", calls, interrupts)
	if calls < 10 {
		t.Errorf("only %d calls", calls)
	}

	// An interrupt in the thunk: in its movs, back to the same mov of the
	// site; after them, to the site's syscall, with the number back in
	// rax once the thunk moved it to r11.
	ctx := c.(*context)
	for at := uint64(0); at < goMovsLen+offDynThunkEnd-offDynThunkBody; at++ {
		if at < goMovsLen && at%3 != 0 {
			continue // not an instruction's start
		}
		r := arch.Registers{Rip: f.Platform.base + goThunkOff + at, Rax: 7, R11: unix.SYS_GETPID}
		ctx.rewindThunk(ctx.last, &r)
		wantRip, wantRax := site+min(at, goMovsLen), uint64(7)
		if at >= goMovsLen+offDynThunkMoved-offDynThunkBody {
			wantRax = unix.SYS_GETPID
		}
		if r.Rip != wantRip || r.Rax != wantRax {
			t.Errorf("interrupt at thunk offset %d: rip %#x rax %d, want %#x, %d", at, r.Rip, r.Rax, wantRip, wantRax)
		}
	}

	// A second Go site in the same address space stays as it is.
	regs2 := platformtest.RegsAt(platformtest.CodeAddr + patchGo2Off)
	regs2.Rax = unix.SYS_GETPID
	switchAfterInterrupts(t, c, as, regs2, platform.EventSyscall)
	if !bytes.Equal(f.code[patchGo2Off:patchGo2Off+goSiteLen], goSiteBytes[:]) {
		t.Errorf("second Go site patched: % x", f.code[patchGo2Off:patchGo2Off+goSiteLen])
	}

	// The Go view gone (the application unmapped it behind the memory
	// manager's back, as nothing else can): the jump faults, and the
	// fault is the site's syscall, movs included.
	platformtest.Must(t, as.Unmap(goViewAddr, pageSize))
	set(200)
	regs.Rax = unix.SYS_GETTID
	platformtest.SwitchOK(t, c, as, regs, platform.EventSyscall)
	check("Go view gone", 200, unix.SYS_GETTID, 0x4000+200+1)

	// Memory mapped over the Go view ends patching, like the pointer
	// table's.
	if !as.(*addressSpace).LosePatchTable(goViewAddr, pageSize) {
		t.Fatal("LosePatchTable: the Go view does not take the pointer table's place")
	}
}

// TestKeptThreadKeepsForkPatches: in an address space made from a recycled
// stub, whose only thread is the one kept for it (idle), the first
// reservation (the kernel's Clone takes one for a fork child's first
// task) does not undo the sites patched across two blocks that the child
// inherited: no thread runs its code yet, and the one reserved is its
// first.
func TestKeptThreadKeepsForkPatches(t *testing.T) {
	f := newPatchFixture(t)
	p := f.Platform
	site := uint64(platformtest.CodeAddr + patchFarOff)
	parent := f.NewAS(t)
	c := platformtest.LockedContext(t, p)
	regs := platformtest.RegsAt(site)
	regs.Rax = 39
	platformtest.SwitchOK(t, c, parent, regs, platform.EventSyscall)
	if !f.patched(patchFarOff) {
		t.Fatalf("not patched: % x", f.code[patchFarOff:patchFarOff+7])
	}

	old := f.NewAS(t)
	c2 := p.NewContext()
	regs = platformtest.RegsAt(platformtest.SnipSyscalls)
	regs.Rax = unix.SYS_GETPID
	platformtest.SwitchOK(t, c2, old, regs, platform.EventSyscall)
	old.Release()
	c2.Release()
	p.spareWG.Wait()
	child := f.NewAS(t).(*addressSpace)
	if idleCount(child) != 1 {
		t.Fatalf("the new address space has %d idle threads, want the kept one", idleCount(child))
	}
	parent.(*addressSpace).ForkPatches(child)
	res, err := child.ReserveThread()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if !f.patched(patchFarOff) {
		t.Errorf("the first reservation in the child undid the site: % x", f.code[patchFarOff:patchFarOff+7])
	}
}

// TestSiteTable: entries read back as stored across chunks, the last one
// (the Go site's) included; storing 0 where no chunk is makes none; all
// yields the entries that are set, in order.
func TestSiteTable(t *testing.T) {
	var st siteTable
	idx := []int{0, 1, siteChunkLen - 1, siteChunkLen, maxSites, maxSites + maxDynSites - 1, goSite}
	for _, i := range idx {
		st.store(i, uint64(i)+1)
	}
	st.store(3*siteChunkLen, 0)
	if st.chunks[3].Load() != nil {
		t.Error("storing 0 made a chunk")
	}
	var got []int
	for i, v := range st.all {
		if v != uint64(i)+1 {
			t.Errorf("entry %d = %d, want %d", i, v, i+1)
		}
		got = append(got, i)
	}
	if fmt.Sprint(got) != fmt.Sprint(idx) {
		t.Errorf("all yields %v, want %v", got, idx)
	}
	st.store(1, 0)
	if st.load(1) != 0 || st.load(2) != 0 || st.load(goSite) != goSite+1 {
		t.Errorf("load after clearing entry 1: %d %d %d", st.load(1), st.load(2), st.load(goSite))
	}
}

// TestAroundViews checks the unmaps Unmap and scrub send for a range that
// overlaps syscall patching's views: every page of the range but the
// views', in order, and nothing else.
func TestAroundViews(t *testing.T) {
	inView := func(a uint64) bool {
		return (a >= goViewAddr && a < goViewAddr+pageSize) || (a >= ptrTableAddr && a < ptrTableEnd)
	}
	for _, r := range [][2]uint64{
		{minUserAddress, 1 << 32},
		{0x40000000, 0xc0000000},
		{goViewAddr, goViewAddr + pageSize},
		{goViewAddr - pageSize, goViewAddr + 2*pageSize},
		{ptrTableAddr + pageSize, ptrTableEnd + pageSize},
		{ptrTableAddr - 3*pageSize, ptrTableAddr + pageSize},
		{goViewAddr + pageSize, ptrTableAddr},
	} {
		var buf [3]platform.Mapping
		ms := aroundViews(buf[:0], r[0], r[1])
		prev := r[0]
		for _, m := range ms {
			if m.Access.Any() || m.Length == 0 || m.Addr < prev || m.Addr+m.Length > r[1] {
				t.Fatalf("range [%#x, %#x): bad unmap %+v in %+v", r[0], r[1], m, ms)
			}
			for a := prev; a < m.Addr; a += pageSize {
				if !inView(a) {
					t.Errorf("range [%#x, %#x): page %#x left mapped", r[0], r[1], a)
				}
			}
			for a := m.Addr; a < m.Addr+m.Length; a += pageSize {
				if inView(a) {
					t.Errorf("range [%#x, %#x): view page %#x unmapped", r[0], r[1], a)
				}
			}
			prev = m.Addr + m.Length
		}
		for a := prev; a < r[1]; a += pageSize {
			if !inView(a) {
				t.Errorf("range [%#x, %#x): page %#x left mapped", r[0], r[1], a)
			}
		}
	}
}
