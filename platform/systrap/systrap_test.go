//go:build linux && amd64

package systrap

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Layout of the test memory file and of the test address spaces.
const (
	codeOff  = 0x0000 // code page
	dataOff  = 0x1000 // data page holding dataWord
	data2Off = 0x2000 // second data page holding data2Word
	memSize  = 0x4000

	codeAddr = 0x400000
	dataAddr = 0x600000
	roAddr   = 0x700000
	holeAddr = 0x500000

	dataWord  = 0xdeadbeefcafef00d
	data2Word = 0x0123456789abcdef
)

// Snippets in the code page, hand-assembled.
var snippets = map[uint64][]byte{
	// syscall; mov rdi, rax; syscall; jmp $
	0x00: {0x0f, 0x05, 0x48, 0x89, 0xc7, 0x0f, 0x05, 0xeb, 0xfe},
	// mov byte [rax], al; jmp $
	0x20: {0x88, 0x00, 0xeb, 0xfe},
	// ud2
	0x30: {0x0f, 0x0b},
	// int3
	0x40: {0xcc},
	// jmp $
	0x50: {0xeb, 0xfe},
	// mov rdi, fs:[0]; syscall; jmp $
	0x60: {0x64, 0x48, 0x8b, 0x3c, 0x25, 0, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfe},
	// mov rdi, [rax]; syscall; jmp $
	0x70: {0x48, 0x8b, 0x38, 0x0f, 0x05, 0xeb, 0xfe},
	// loop: syscall; jmp loop
	0x80: {0x0f, 0x05, 0xeb, 0xfc},
	// syscall; syscall; jmp $
	0x90: {0x0f, 0x05, 0x0f, 0x05, 0xeb, 0xfe},
	// movq rdi, xmm0; syscall; jmp $
	0xa0: {0x66, 0x48, 0x0f, 0x7e, 0xc7, 0x0f, 0x05, 0xeb, 0xfe},
	// movq xmm1, rdi; syscall; jmp $
	0xb0: {0x66, 0x48, 0x0f, 0x6e, 0xcf, 0x0f, 0x05, 0xeb, 0xfe},
}

const (
	snipSyscalls   = codeAddr + 0x00
	snipStore      = codeAddr + 0x20
	snipUD2        = codeAddr + 0x30
	snipInt3       = codeAddr + 0x40
	snipSpin       = codeAddr + 0x50
	snipFS         = codeAddr + 0x60
	snipLoad       = codeAddr + 0x70
	snipLoop       = codeAddr + 0x80
	snipTwoSyscall = codeAddr + 0x90
)

type fixture struct {
	p     *Platform
	memFD int
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	fd, err := unix.MemfdCreate("systrap-test", unix.MFD_CLOEXEC)
	if err != nil {
		tb.Fatalf("memfd_create: %v", err)
	}
	if err := unix.Ftruncate(fd, memSize); err != nil {
		tb.Fatalf("ftruncate: %v", err)
	}
	code := make([]byte, pageSize)
	for off, b := range snippets {
		copy(code[off:], b)
	}
	if _, err := unix.Pwrite(fd, code, codeOff); err != nil {
		tb.Fatal(err)
	}
	var w [8]byte
	binary.LittleEndian.PutUint64(w[:], dataWord)
	unix.Pwrite(fd, w[:], dataOff)
	binary.LittleEndian.PutUint64(w[:], data2Word)
	unix.Pwrite(fd, w[:], data2Off)

	p, err := New(fd, testOptions())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	assumeIdle(p)
	tb.Cleanup(func() {
		p.Close()
		unix.Close(fd)
	})
	return &fixture{p: p, memFD: fd}
}

// newAS returns an address space with the code page executable at codeAddr,
// the data page read-write at dataAddr and read-only at roAddr.
func (f *fixture) newAS(tb testing.TB) platform.AddressSpace {
	tb.Helper()
	as, err := f.p.NewAddressSpace()
	if err != nil {
		tb.Fatalf("NewAddressSpace: %v", err)
	}
	tb.Cleanup(as.Release)
	must(tb, as.MapFile(codeAddr, f.memFD, codeOff, pageSize, usermem.AccessType{Read: true, Execute: true}))
	must(tb, as.MapFile(dataAddr, f.memFD, dataOff, pageSize, usermem.ReadWrite))
	must(tb, as.MapFile(roAddr, f.memFD, dataOff, pageSize, usermem.Read))
	return as
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// lockedContext locks the calling goroutine to its thread and returns a
// context released (and the thread unlocked) at cleanup.
func lockedContext(tb testing.TB, p *Platform) platform.Context {
	runtime.LockOSThread()
	c := p.NewContext()
	tb.Cleanup(func() {
		c.Release()
		runtime.UnlockOSThread()
	})
	return c
}

func regsAt(rip uint64) *arch.Registers {
	return &arch.Registers{Rip: rip, Rsp: dataAddr + pageSize - 64}
}

func switchOK(tb testing.TB, c platform.Context, as platform.AddressSpace, regs *arch.Registers, want platform.Event) platform.FaultInfo {
	tb.Helper()
	ev, fi, err := c.Switch(as, regs)
	if err != nil {
		tb.Fatalf("Switch: %v", err)
	}
	if ev != want {
		tb.Fatalf("Switch = event %d (fault %+v, rip %#x), want %d", ev, fi, regs.Rip, want)
	}
	return fi
}

func TestSyscall(t *testing.T) {
	f := newFixture(t)
	as := f.newAS(t)
	c := lockedContext(t, f.p)

	regs := regsAt(snipSyscalls)
	regs.Rax = unix.SYS_GETPID
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = 1, 2, 3, 4, 5, 6
	switchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_GETPID {
		t.Errorf("Orig_rax = %d, want %d", regs.Orig_rax, unix.SYS_GETPID)
	}
	args := arch.SyscallArgs(regs)
	for i, a := range args {
		if uint64(a) != uint64(i+1) {
			t.Errorf("arg %d = %d, want %d", i, a, i+1)
		}
	}
	if regs.Rip != snipSyscalls+2 {
		t.Errorf("Rip = %#x, want %#x", regs.Rip, snipSyscalls+2)
	}
	// The return value set by the sentry is what the application sees.
	arch.SetReturn(regs, 0x1234)
	switchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != 0x1234 {
		t.Errorf("application saw rax = %#x, want 0x1234", regs.Rdi)
	}
	if regs.Rip != snipSyscalls+7 {
		t.Errorf("Rip = %#x, want %#x", regs.Rip, snipSyscalls+7)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	as := f.newAS(t)
	c := lockedContext(t, f.p)

	for _, tc := range []struct {
		name   string
		rip    uint64
		rax    uint64
		signo  unix.Signal
		code   int32 // 0: don't check
		addr   uint64
		access usermem.AccessType
	}{
		{"unmapped store", snipStore, holeAddr + 8, unix.SIGSEGV, segvMapErr, holeAddr + 8, usermem.Write}, // systrap sees the error code
		{"read-only store", snipStore, roAddr + 16, unix.SIGSEGV, segvAccErr, roAddr + 16, usermem.Write},
		{"jump to hole", holeAddr, 0, unix.SIGSEGV, segvMapErr, holeAddr, usermem.AccessType{Read: true, Execute: true}},
		{"ud2", snipUD2, 0, unix.SIGILL, 0, snipUD2, usermem.NoAccess},
		{"int3", snipInt3, 0, unix.SIGTRAP, 0, 0, usermem.NoAccess},
	} {
		// No t.Run: subtests run on other goroutines, hence other OS
		// threads than the tracer.
		func() {
			t.Logf("%s", tc.name)
			regs := regsAt(tc.rip)
			regs.Rax = tc.rax
			fi := switchOK(t, c, as, regs, platform.EventFault)
			if fi.Signo != int32(tc.signo) {
				t.Errorf("Signo = %d, want %d", fi.Signo, tc.signo)
			}
			if tc.code != 0 && fi.Code != tc.code {
				t.Errorf("Code = %d, want %d", fi.Code, tc.code)
			}
			if tc.addr != 0 && fi.Addr != tc.addr {
				t.Errorf("Addr = %#x, want %#x", fi.Addr, tc.addr)
			}
			if fi.Access != tc.access {
				t.Errorf("Access = %v, want %v", fi.Access, tc.access)
			}
			if tc.signo != unix.SIGTRAP && regs.Rip != tc.rip {
				t.Errorf("Rip = %#x, want the faulting instruction %#x", regs.Rip, tc.rip)
			}
		}()
	}
	// The fault signals were suppressed: the stub thread still works.
	regs := regsAt(snipSyscalls)
	switchOK(t, c, as, regs, platform.EventSyscall)
}

func TestFSBase(t *testing.T) {
	f := newFixture(t)
	as := f.newAS(t)
	c := lockedContext(t, f.p)
	regs := regsAt(snipFS)
	regs.Fs_base = dataAddr
	switchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != dataWord {
		t.Errorf("fs:[0] = %#x, want %#x", regs.Rdi, uint64(dataWord))
	}
	if regs.Fs_base != dataAddr {
		t.Errorf("Fs_base = %#x after Switch", regs.Fs_base)
	}
}

func TestMapUnmap(t *testing.T) {
	f := newFixture(t)
	as := f.newAS(t)
	c := lockedContext(t, f.p)
	const addr = 0x10000000

	load := func() (platform.Event, platform.FaultInfo, *arch.Registers) {
		regs := regsAt(snipLoad)
		regs.Rax = addr
		ev, fi, err := c.Switch(as, regs)
		if err != nil {
			t.Fatalf("Switch: %v", err)
		}
		return ev, fi, regs
	}
	if ev, fi, _ := load(); ev != platform.EventFault || fi.Addr != addr || fi.Code != segvMapErr {
		t.Fatalf("load from unmapped page: event %d %+v", ev, fi)
	}
	must(t, as.MapFile(addr, f.memFD, dataOff, pageSize, usermem.Read))
	if ev, _, regs := load(); ev != platform.EventSyscall || regs.Rdi != dataWord {
		t.Fatalf("load after MapFile: event %d rdi %#x", ev, regs.Rdi)
	}
	// Replacing a mapping (MAP_FIXED) from another goroutine.
	done := make(chan error)
	go func() { done <- as.MapFile(addr, f.memFD, data2Off, pageSize, usermem.Read) }()
	must(t, <-done)
	if ev, _, regs := load(); ev != platform.EventSyscall || regs.Rdi != data2Word {
		t.Fatalf("load after remap: event %d rdi %#x", ev, regs.Rdi)
	}
	must(t, as.Unmap(addr, pageSize))
	if ev, fi, _ := load(); ev != platform.EventFault || fi.Addr != addr || fi.Code != segvMapErr {
		t.Fatalf("load after Unmap: event %d %+v", ev, fi)
	}

	// Bad arguments are refused before reaching the stub.
	for _, err := range []error{
		as.MapFile(addr, 0, 0, pageSize, usermem.Read),                 // not the memory file
		as.MapFile(addr+1, f.memFD, 0, pageSize, usermem.Read),         // unaligned
		as.MapFile(maxUserAddress, f.memFD, 0, pageSize, usermem.Read), // stub region
		as.MapFile(f.p.base, f.memFD, 0, pageSize, usermem.AnyAccess),  // the stub page
		as.MapFile(0, f.memFD, 0, pageSize, usermem.Read),              // below MinUserAddress
		as.Unmap(maxUserAddress-pageSize, 2*pageSize),                  // crosses Max
	} {
		if err != unix.EINVAL {
			t.Errorf("bad request: err = %v, want EINVAL", err)
		}
	}
}

func TestInterrupt(t *testing.T) {
	f := newFixture(t)
	as := f.newAS(t)
	c := lockedContext(t, f.p)

	// Interrupt before Switch: the next Switch returns at once.
	c.Interrupt()
	regs := regsAt(snipSpin)
	switchOK(t, c, as, regs, platform.EventInterrupted)

	// Interrupt of a busy loop from another goroutine.
	for i := 0; i < 3; i++ {
		stop := make(chan struct{})
		go func() {
			time.Sleep(50 * time.Millisecond)
			c.Interrupt()
			close(stop)
		}()
		start := time.Now()
		regs := regsAt(snipSpin)
		switchOK(t, c, as, regs, platform.EventInterrupted)
		<-stop
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("interrupt took %v", d)
		}
		if regs.Rip != snipSpin {
			t.Errorf("Rip = %#x, want the loop at %#x", regs.Rip, snipSpin)
		}
	}
	// No stale interrupt is left behind: a syscall gets through (allow one
	// benign spurious interrupt).
	regs = regsAt(snipSyscalls)
	ev, _, err := c.Switch(as, regs)
	if err == nil && ev == platform.EventInterrupted {
		ev, _, err = c.Switch(as, regs)
	}
	if err != nil || ev != platform.EventSyscall {
		t.Fatalf("Switch after interrupts: %d, %v", ev, err)
	}
}

// TestThreadsAndAddressSpaces runs two OS threads in one address space and
// one of them alternately in two address spaces.
func TestThreadsAndAddressSpaces(t *testing.T) {
	f := newFixture(t)
	as1 := f.newAS(t)
	as2 := f.newAS(t)
	// Distinguish the two: different pages at the same address.
	const addr = 0x20000000
	must(t, as1.MapFile(addr, f.memFD, dataOff, pageSize, usermem.Read))
	must(t, as2.MapFile(addr, f.memFD, data2Off, pageSize, usermem.Read))

	check := func(c platform.Context, as platform.AddressSpace, want uint64) error {
		regs := regsAt(snipLoad)
		regs.Rax = addr
		ev, fi, err := c.Switch(as, regs)
		if err != nil {
			return err
		}
		if ev != platform.EventSyscall || regs.Rdi != want {
			return fmt.Errorf("event %d %+v rdi %#x, want syscall with %#x", ev, fi, regs.Rdi, want)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c := f.p.NewContext()
			defer c.Release()
			for i := 0; i < 100; i++ {
				if err := check(c, as1, dataWord); err != nil {
					errs <- fmt.Errorf("goroutine %d, as1: %v", g, err)
					return
				}
				if g == 0 {
					if err := check(c, as2, data2Word); err != nil {
						errs <- fmt.Errorf("goroutine %d, as2: %v", g, err)
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
}

// BenchmarkSyscallRoundTrip measures one application syscall trapped to the
// sentry and resumed: Switch returning EventSyscall.
func BenchmarkSyscallRoundTrip(b *testing.B) {
	f := newFixture(b)
	as := f.newAS(b)
	c := lockedContext(b, f.p)
	regs := regsAt(snipLoop)
	switchOK(b, c, as, regs, platform.EventSyscall)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		regs.Rax = 0
		if ev, _, err := c.Switch(as, regs); err != nil || ev != platform.EventSyscall {
			b.Fatalf("Switch: %d, %v", ev, err)
		}
	}
}

// BenchmarkNativeGetpid is the native reference for the round trip.
func BenchmarkNativeGetpid(b *testing.B) {
	for i := 0; i < b.N; i++ {
		syscall.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	}
}

const (
	segvMapErr = 1
	segvAccErr = 2
)
