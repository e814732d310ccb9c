//go:build linux && amd64

// Package platformtest is for tests only: the behaviour every platform
// (ptrace, systrap) must have, written once as test functions that take a
// Config (how to make the platform, and the little that differs between
// platforms), plus the fixture they run on: a memory file holding
// hand-assembled code snippets and two data words, and address spaces
// mapping it. Each platform's tests call them from their own TestXxx.
//
// It is an ordinary package only so that the tests of several packages can
// share it; import it from _test.go files only.
package platformtest

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

// PageSize is the host page size the fixture assumes.
const PageSize = 4096

// Layout of the test memory file and of the test address spaces.
const (
	CodeOff  = 0x0000 // code page
	DataOff  = 0x1000 // data page holding DataWord
	Data2Off = 0x2000 // second data page holding Data2Word
	MemSize  = 0x4000

	CodeAddr = 0x400000
	DataAddr = 0x600000
	RoAddr   = 0x700000
	HoleAddr = 0x500000

	DataWord  = 0xdeadbeefcafef00d
	Data2Word = 0x0123456789abcdef
)

// Snippets are the code page's contents by offset, hand-assembled. Code
// from offset 0x200 on is free for a platform's own snippets.
var Snippets = map[uint64][]byte{
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

// The snippets' addresses in an address space from Fixture.NewAS.
const (
	SnipSyscalls   = CodeAddr + 0x00
	SnipStore      = CodeAddr + 0x20
	SnipUD2        = CodeAddr + 0x30
	SnipInt3       = CodeAddr + 0x40
	SnipSpin       = CodeAddr + 0x50
	SnipFS         = CodeAddr + 0x60
	SnipLoad       = CodeAddr + 0x70
	SnipLoop       = CodeAddr + 0x80
	SnipTwoSyscall = CodeAddr + 0x90
	SnipXMM0ToRdi  = CodeAddr + 0xa0
	SnipRdiToXMM1  = CodeAddr + 0xb0
)

// si_code values of SIGSEGV.
const (
	SegvMapErr = 1
	SegvAccErr = 2
)

// Config is what the shared tests need to know about a platform of type P.
type Config[P platform.Platform] struct {
	// New returns a platform whose memory file is memFD.
	New func(memFD int) (P, error)
	// StubPage returns the address of p's own stub code, above
	// MaxUserAddress, which MapFile must refuse.
	StubPage func(p P) uint64
	// UnmappedStoreAccess is the access a store to an unmapped page
	// reports: Write where the platform sees the page fault's error code,
	// NoAccess where it does not.
	UnmappedStoreAccess usermem.AccessType
}

// Fixture is a platform and its memory file, both released at the test's
// cleanup.
type Fixture[P platform.Platform] struct {
	Platform P
	MemFD    int
}

// NewMemFile returns a memory file of MemSize bytes holding Snippets at
// CodeOff, DataWord at DataOff and Data2Word at Data2Off, closed at tb's
// cleanup.
func NewMemFile(tb testing.TB) int {
	tb.Helper()
	fd, err := unix.MemfdCreate("platform-test", unix.MFD_CLOEXEC)
	if err != nil {
		tb.Fatalf("memfd_create: %v", err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, MemSize); err != nil {
		tb.Fatalf("ftruncate: %v", err)
	}
	code := make([]byte, PageSize)
	for off, b := range Snippets {
		copy(code[off:], b)
	}
	data := binary.LittleEndian.AppendUint64(nil, DataWord)
	data2 := binary.LittleEndian.AppendUint64(nil, Data2Word)
	for _, c := range []struct {
		b   []byte
		off int64
	}{{code, CodeOff}, {data, DataOff}, {data2, Data2Off}} {
		if _, err := unix.Pwrite(fd, c.b, c.off); err != nil {
			tb.Fatalf("pwrite: %v", err)
		}
	}
	return fd
}

// NewFixture returns a fixture on a new memory file (see NewMemFile)
// whose platform newPlatform made; the platform is closed at tb's cleanup.
func NewFixture[P platform.Platform](tb testing.TB, newPlatform func(memFD int) (P, error)) *Fixture[P] {
	tb.Helper()
	fd := NewMemFile(tb)
	p, err := newPlatform(fd)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(p.Close) // runs before the memory file's close
	return &Fixture[P]{Platform: p, MemFD: fd}
}

// NewAS returns an address space, released at tb's cleanup, with the code
// page executable at CodeAddr, the data page read-write at DataAddr and
// read-only at RoAddr.
func (f *Fixture[P]) NewAS(tb testing.TB) platform.AddressSpace {
	tb.Helper()
	as, err := f.Platform.NewAddressSpace()
	if err != nil {
		tb.Fatalf("NewAddressSpace: %v", err)
	}
	tb.Cleanup(as.Release)
	Must(tb, as.MapFile(CodeAddr, f.MemFD, CodeOff, PageSize, usermem.AccessType{Read: true, Execute: true}))
	Must(tb, as.MapFile(DataAddr, f.MemFD, DataOff, PageSize, usermem.ReadWrite))
	Must(tb, as.MapFile(RoAddr, f.MemFD, DataOff, PageSize, usermem.Read))
	return as
}

// Must fails tb at once if err is not nil.
func Must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// LockedContext locks the calling goroutine to its thread and returns a
// context released (and the thread unlocked) at cleanup.
func LockedContext(tb testing.TB, p platform.Platform) platform.Context {
	runtime.LockOSThread()
	c := p.NewContext()
	tb.Cleanup(func() {
		c.Release()
		runtime.UnlockOSThread()
	})
	return c
}

// RegsAt returns registers that run the code at rip with the stack at the
// top of the data page.
func RegsAt(rip uint64) *arch.Registers {
	return &arch.Registers{Rip: rip, Rsp: DataAddr + PageSize - 64}
}

// SwitchOK runs c in as and fails tb at once unless Switch returns the
// event want; it returns the fault information.
func SwitchOK(tb testing.TB, c platform.Context, as platform.AddressSpace, regs *arch.Registers, want platform.Event) platform.FaultInfo {
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

// TestSyscall checks that a syscall stops Switch with the number and
// arguments the application set, and that the return value the sentry sets
// is what the application sees.
func TestSyscall[P platform.Platform](t *testing.T, cfg Config[P]) {
	f := NewFixture(t, cfg.New)
	as := f.NewAS(t)
	c := LockedContext(t, f.Platform)

	regs := RegsAt(SnipSyscalls)
	regs.Rax = unix.SYS_GETPID
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = 1, 2, 3, 4, 5, 6
	SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Orig_rax != unix.SYS_GETPID {
		t.Errorf("Orig_rax = %d, want %d", regs.Orig_rax, unix.SYS_GETPID)
	}
	args := arch.SyscallArgs(regs)
	for i, a := range args {
		if uint64(a) != uint64(i+1) {
			t.Errorf("arg %d = %d, want %d", i, a, i+1)
		}
	}
	if regs.Rip != SnipSyscalls+2 {
		t.Errorf("Rip = %#x, want %#x", regs.Rip, SnipSyscalls+2)
	}
	// The return value set by the sentry is what the application sees.
	arch.SetReturn(regs, 0x1234)
	SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != 0x1234 {
		t.Errorf("application saw rax = %#x, want 0x1234", regs.Rdi)
	}
	if regs.Rip != SnipSyscalls+7 {
		t.Errorf("Rip = %#x, want %#x", regs.Rip, SnipSyscalls+7)
	}
}

// TestFaults checks the fault events of bad stores, jumps and traps.
func TestFaults[P platform.Platform](t *testing.T, cfg Config[P]) {
	f := NewFixture(t, cfg.New)
	as := f.NewAS(t)
	c := LockedContext(t, f.Platform)

	for _, tc := range []struct {
		name   string
		rip    uint64
		rax    uint64
		signo  unix.Signal
		code   int32 // 0: don't check
		addr   uint64
		access usermem.AccessType
	}{
		{"unmapped store", SnipStore, HoleAddr + 8, unix.SIGSEGV, SegvMapErr, HoleAddr + 8, cfg.UnmappedStoreAccess},
		{"read-only store", SnipStore, RoAddr + 16, unix.SIGSEGV, SegvAccErr, RoAddr + 16, usermem.Write},
		{"jump to hole", HoleAddr, 0, unix.SIGSEGV, SegvMapErr, HoleAddr, usermem.AccessType{Read: true, Execute: true}},
		{"ud2", SnipUD2, 0, unix.SIGILL, 0, SnipUD2, usermem.NoAccess},
		{"int3", SnipInt3, 0, unix.SIGTRAP, 0, 0, usermem.NoAccess},
	} {
		// No t.Run: subtests run on other goroutines, hence other OS
		// threads than the tracer.
		func() {
			t.Logf("%s", tc.name)
			regs := RegsAt(tc.rip)
			regs.Rax = tc.rax
			fi := SwitchOK(t, c, as, regs, platform.EventFault)
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
	regs := RegsAt(SnipSyscalls)
	SwitchOK(t, c, as, regs, platform.EventSyscall)
}

// TestFSBase checks that the application runs with the fs base the
// registers hold.
func TestFSBase[P platform.Platform](t *testing.T, cfg Config[P]) {
	f := NewFixture(t, cfg.New)
	as := f.NewAS(t)
	c := LockedContext(t, f.Platform)
	regs := RegsAt(SnipFS)
	regs.Fs_base = DataAddr
	SwitchOK(t, c, as, regs, platform.EventSyscall)
	if regs.Rdi != DataWord {
		t.Errorf("fs:[0] = %#x, want %#x", regs.Rdi, uint64(DataWord))
	}
	if regs.Fs_base != DataAddr {
		t.Errorf("Fs_base = %#x after Switch", regs.Fs_base)
	}
}

// TestMapUnmap checks MapFile, remapping and Unmap as the application
// sees them, and that bad requests are refused.
func TestMapUnmap[P platform.Platform](t *testing.T, cfg Config[P]) {
	f := NewFixture(t, cfg.New)
	as := f.NewAS(t)
	c := LockedContext(t, f.Platform)
	const addr = 0x10000000

	load := func() (platform.Event, platform.FaultInfo, *arch.Registers) {
		regs := RegsAt(SnipLoad)
		regs.Rax = addr
		ev, fi, err := c.Switch(as, regs)
		if err != nil {
			t.Fatalf("Switch: %v", err)
		}
		return ev, fi, regs
	}
	if ev, fi, _ := load(); ev != platform.EventFault || fi.Addr != addr || fi.Code != SegvMapErr {
		t.Fatalf("load from unmapped page: event %d %+v", ev, fi)
	}
	Must(t, as.MapFile(addr, f.MemFD, DataOff, PageSize, usermem.Read))
	if ev, _, regs := load(); ev != platform.EventSyscall || regs.Rdi != DataWord {
		t.Fatalf("load after MapFile: event %d rdi %#x", ev, regs.Rdi)
	}
	// Replacing a mapping (MAP_FIXED) from another goroutine.
	done := make(chan error)
	go func() { done <- as.MapFile(addr, f.MemFD, Data2Off, PageSize, usermem.Read) }()
	Must(t, <-done)
	if ev, _, regs := load(); ev != platform.EventSyscall || regs.Rdi != Data2Word {
		t.Fatalf("load after remap: event %d rdi %#x", ev, regs.Rdi)
	}
	Must(t, as.Unmap(addr, PageSize))
	if ev, fi, _ := load(); ev != platform.EventFault || fi.Addr != addr || fi.Code != SegvMapErr {
		t.Fatalf("load after Unmap: event %d %+v", ev, fi)
	}

	// Bad arguments are refused before reaching the stub.
	maxUser := f.Platform.MaxUserAddress()
	for _, err := range []error{
		as.MapFile(addr, 0, 0, PageSize, usermem.Read),                                // not the memory file
		as.MapFile(addr+1, f.MemFD, 0, PageSize, usermem.Read),                        // unaligned
		as.MapFile(maxUser, f.MemFD, 0, PageSize, usermem.Read),                       // stub region
		as.MapFile(cfg.StubPage(f.Platform), f.MemFD, 0, PageSize, usermem.AnyAccess), // the stub page
		as.MapFile(0, f.MemFD, 0, PageSize, usermem.Read),                             // below MinUserAddress
		as.Unmap(maxUser-PageSize, 2*PageSize),                                        // crosses Max
	} {
		if err != unix.EINVAL {
			t.Errorf("bad request: err = %v, want EINVAL", err)
		}
	}
}

// TestInterrupt checks that Interrupt stops a running application, or the
// next Switch, once.
func TestInterrupt[P platform.Platform](t *testing.T, cfg Config[P]) {
	f := NewFixture(t, cfg.New)
	as := f.NewAS(t)
	c := LockedContext(t, f.Platform)

	// Interrupt before Switch: the next Switch returns at once.
	c.Interrupt()
	regs := RegsAt(SnipSpin)
	SwitchOK(t, c, as, regs, platform.EventInterrupted)

	// Interrupt of a busy loop from another goroutine.
	for i := 0; i < 3; i++ {
		stop := make(chan struct{})
		go func() {
			time.Sleep(50 * time.Millisecond)
			c.Interrupt()
			close(stop)
		}()
		start := time.Now()
		regs := RegsAt(SnipSpin)
		SwitchOK(t, c, as, regs, platform.EventInterrupted)
		<-stop
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("interrupt took %v", d)
		}
		if regs.Rip != SnipSpin {
			t.Errorf("Rip = %#x, want the loop at %#x", regs.Rip, SnipSpin)
		}
	}
	// No stale interrupt is left behind: a syscall gets through (allow one
	// benign spurious interrupt).
	regs = RegsAt(SnipSyscalls)
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
func TestThreadsAndAddressSpaces[P platform.Platform](t *testing.T, cfg Config[P]) {
	f := NewFixture(t, cfg.New)
	as1 := f.NewAS(t)
	as2 := f.NewAS(t)
	// Distinguish the two: different pages at the same address.
	const addr = 0x20000000
	Must(t, as1.MapFile(addr, f.MemFD, DataOff, PageSize, usermem.Read))
	Must(t, as2.MapFile(addr, f.MemFD, Data2Off, PageSize, usermem.Read))

	check := func(c platform.Context, as platform.AddressSpace, want uint64) error {
		regs := RegsAt(SnipLoad)
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
			c := f.Platform.NewContext()
			defer c.Release()
			for i := 0; i < 100; i++ {
				if err := check(c, as1, DataWord); err != nil {
					errs <- fmt.Errorf("goroutine %d, as1: %v", g, err)
					return
				}
				if g == 0 {
					if err := check(c, as2, Data2Word); err != nil {
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
func BenchmarkSyscallRoundTrip[P platform.Platform](b *testing.B, cfg Config[P]) {
	f := NewFixture(b, cfg.New)
	as := f.NewAS(b)
	c := LockedContext(b, f.Platform)
	regs := RegsAt(SnipLoop)
	SwitchOK(b, c, as, regs, platform.EventSyscall)
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
