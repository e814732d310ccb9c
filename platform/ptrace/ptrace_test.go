//go:build linux && amd64

package ptrace

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// testConfig runs the behaviour every platform shares (package
// platformtest) on ptrace.
var testConfig = platformtest.Config[*Platform]{
	New:                 New,
	StubPage:            func(p *Platform) uint64 { return p.stubPage },
	UnmappedStoreAccess: usermem.NoAccess, // ptrace does not see the error code
}

func TestSyscall(t *testing.T)   { platformtest.TestSyscall(t, testConfig) }
func TestFaults(t *testing.T)    { platformtest.TestFaults(t, testConfig) }
func TestFSBase(t *testing.T)    { platformtest.TestFSBase(t, testConfig) }
func TestMapUnmap(t *testing.T)  { platformtest.TestMapUnmap(t, testConfig) }
func TestInterrupt(t *testing.T) { platformtest.TestInterrupt(t, testConfig) }
func TestThreadsAndAddressSpaces(t *testing.T) {
	platformtest.TestThreadsAndAddressSpaces(t, testConfig)
}

func BenchmarkSyscallRoundTrip(b *testing.B) { platformtest.BenchmarkSyscallRoundTrip(b, testConfig) }
func BenchmarkNativeGetpid(b *testing.B)     { platformtest.BenchmarkNativeGetpid(b) }

// fixture is the fixture of the tests of this platform's own mechanics.
type fixture = platformtest.Fixture[*Platform]

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	return platformtest.NewFixture(tb, testConfig.New)
}

func procExists(pid int32) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// waitGone waits for pid to disappear from /proc (reaping may be deferred
// by the control goroutine's retry tick).
func waitGone(t *testing.T, pid int32) {
	t.Helper()
	for i := 0; i < 200 && procExists(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if procExists(pid) {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		t.Errorf("stub %d still exists: %s", pid, st)
	}
}

// checkStubLayout checks that a stub holds nothing but the stub page and
// the memory file.
func checkStubLayout(t *testing.T, f *fixture, pid int32) {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, l := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
		if strings.Contains(l, "[vsyscall]") {
			continue
		}
		n++
		var start, end uint64
		fmt.Sscanf(l, "%x-%x", &start, &end)
		if start != f.Platform.stubPage || end != f.Platform.stubPage+pageSize {
			t.Errorf("stub %d has mapping %q", pid, l)
		}
	}
	if n != 1 {
		t.Errorf("stub %d has %d mappings, want only the stub page:\n%s", pid, n, maps)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 1 || fds[0].Name() != fmt.Sprint(f.MemFD) {
		var names []string
		for _, d := range fds {
			names = append(names, d.Name())
		}
		t.Errorf("stub %d has fds %v, want only %d", pid, names, f.MemFD)
	}
}

func TestStubLayoutAndRelease(t *testing.T) {
	f := newFixture(t)
	if f.Platform.stubPage < maxUserAddress || f.Platform.stubPage+pageSize > hostTaskSize {
		t.Errorf("stub page %#x outside [%#x, %#x)", f.Platform.stubPage, uint64(maxUserAddress), uint64(hostTaskSize))
	}
	checkStubLayout(t, f, f.Platform.premadePID)

	pas, err := f.Platform.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	as := pas.(*addressSpace)
	checkStubLayout(t, f, as.pid)
	platformtest.Must(t, as.MapFile(platformtest.CodeAddr, f.MemFD, platformtest.CodeOff, pageSize, usermem.AccessType{Read: true, Execute: true}))
	platformtest.Must(t, as.MapFile(platformtest.DataAddr, f.MemFD, platformtest.DataOff, pageSize, usermem.ReadWrite))

	// Two OS threads hold stub threads in as; one of them is mid-run.
	c1 := platformtest.LockedContext(t, f.Platform)
	platformtest.SwitchOK(t, c1, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
	ready := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c := f.Platform.NewContext()
		defer c.Release()
		_, _, err := c.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls))
		close(ready)
		<-release
		// The address space is gone: the context must say so.
		_, _, err2 := c.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls))
		if err == nil && !errors.Is(err2, platform.ErrContextDead) {
			err = fmt.Errorf("Switch after Release: %v, want ErrContextDead", err2)
		}
		done <- err
	}()
	<-ready
	threads, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", as.pid))
	if len(threads) != 3 {
		t.Errorf("stub has %d threads, want 3 (control + 2)", len(threads))
	}
	as.Release()
	close(release)
	platformtest.Must(t, <-done)
	if _, _, err := c1.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls)); !errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch after Release: %v, want ErrContextDead", err)
	}
	waitGone(t, as.pid)

	premade := f.Platform.premadePID
	f.Platform.Close()
	waitGone(t, premade)
	if _, err := f.Platform.NewAddressSpace(); err == nil {
		t.Error("NewAddressSpace after Close succeeded")
	}
}

// TestContextRelease checks that releasing a context removes its stub thread
// but leaves the address space usable by others.
func TestContextRelease(t *testing.T) {
	f := newFixture(t)
	pas := f.NewAS(t)
	as := pas.(*addressSpace)
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c := f.Platform.NewContext()
		_, _, err := c.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls))
		c.Release()
		done <- err
	}()
	platformtest.Must(t, <-done)
	as.tidsMu.Lock()
	n := len(as.tids)
	as.tidsMu.Unlock()
	if n != 0 {
		t.Errorf("%d stub threads left after Context.Release", n)
	}
	threads, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", as.pid))
	if len(threads) != 1 {
		t.Errorf("stub has %d threads, want only the control thread", len(threads))
	}
	c := platformtest.LockedContext(t, f.Platform)
	platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
}

// TestSeccompInjected injects a syscall the filter does not allow: the stub
// must die of SIGSYS and its contexts must report ErrContextDead.
func TestSeccompInjected(t *testing.T) {
	f := newFixture(t)
	pas := f.NewAS(t)
	as := pas.(*addressSpace)
	c := platformtest.LockedContext(t, f.Platform)
	platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)

	for _, nr := range []uintptr{unix.SYS_GETPID} {
		_, err := as.do(opInject, nr)
		if !errors.Is(err, platform.ErrContextDead) {
			t.Fatalf("injected syscall %d: %v, want ErrContextDead", nr, err)
		}
	}
	if _, _, err := c.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls)); !errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch after seccomp kill: %v, want ErrContextDead", err)
	}
	c2 := f.Platform.NewContext() // same OS thread, no stub thread yet
	defer c2.Release()
	if _, _, err := c2.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls)); !errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch of a new context after seccomp kill: %v, want ErrContextDead", err)
	}
	pid := as.pid
	as.Release()
	if !as.exitKnown || !as.exitStatus.Signaled() || as.exitStatus.Signal() != unix.SIGSYS {
		t.Errorf("stub exit status %#x (known %v), want killed by SIGSYS", as.exitStatus, as.exitKnown)
	}
	waitGone(t, pid)
}

// TestSeccompFilterArgs checks that allowed syscalls with other arguments
// are refused too.
func TestSeccompFilterArgs(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		nr   uintptr
		args []uint64
	}{
		{"mmap private", unix.SYS_MMAP, []uint64{0x100000, pageSize, unix.PROT_READ, unix.MAP_PRIVATE | unix.MAP_FIXED, uint64(f.MemFD), 0}},
		{"mmap other fd", unix.SYS_MMAP, []uint64{0x100000, pageSize, unix.PROT_READ, unix.MAP_SHARED | unix.MAP_FIXED, uint64(f.MemFD) + 1, 0}},
		{"clone with CLONE_VM", unix.SYS_CLONE, []uint64{forkCloneFlags | unix.CLONE_VM}},
		{"thread clone at the injection address", unix.SYS_CLONE, []uint64{threadCloneFlags}},
		{"prctl other", unix.SYS_PRCTL, []uint64{unix.PR_SET_NO_NEW_PRIVS, 1}},
		{"openat", unix.SYS_OPENAT, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pas, err := f.Platform.NewAddressSpace()
			if err != nil {
				t.Fatal(err)
			}
			as := pas.(*addressSpace)
			_, err = as.do(opInject, tc.nr, tc.args...)
			if !errors.Is(err, platform.ErrContextDead) {
				t.Errorf("inject: %v, want ErrContextDead", err)
			}
			as.Release()
			if !as.exitStatus.Signaled() || as.exitStatus.Signal() != unix.SIGSYS {
				t.Errorf("exit status %#x, want SIGSYS", as.exitStatus)
			}
		})
	}
}

// TestSeccompDetached detaches a stub thread at a syscall stop: running
// untraced, its next syscall comes from application code and the filter
// kills the stub.
func TestSeccompDetached(t *testing.T) {
	f := newFixture(t)
	pas := f.NewAS(t)
	as := pas.(*addressSpace)
	// A second OS thread with a stub thread in as.
	ready := make(chan struct{})
	cont := make(chan struct{})
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c := f.Platform.NewContext()
		defer c.Release()
		_, _, err := c.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls))
		close(ready)
		<-cont
		if err == nil {
			_, _, err = c.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls))
			if errors.Is(err, platform.ErrContextDead) {
				err = nil
			} else {
				err = fmt.Errorf("Switch of the other thread: %v, want ErrContextDead", err)
			}
		}
		done <- err
	}()
	<-ready

	cp := platformtest.LockedContext(t, f.Platform)
	regs := platformtest.RegsAt(platformtest.SnipTwoSyscall)
	regs.Rax = unix.SYS_GETPID
	platformtest.SwitchOK(t, cp, as, regs, platform.EventSyscall)
	c := cp.(*context)
	if err := ptraceReq(unix.PTRACE_DETACH, c.last.tid, 0, 0); err != nil {
		t.Fatalf("PTRACE_DETACH: %v", err)
	}
	// Wait for the detached thread to die: it is no longer traced, so its
	// forbidden syscall kills it (and the group) at once and, being a
	// non-leader, it is reaped at once. The leader and the other stub thread
	// stay in tracing stops (PTRACE_EVENT_EXIT) until their tracers act, so
	// their state is no sign of progress.
	detached := c.last.tid
	for i := 0; i < 1000; i++ {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", as.pid, detached))
		if err != nil || strings.Contains(string(st), ") Z") || strings.Contains(string(st), ") X") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(cont)
	platformtest.Must(t, <-done)
	if _, _, err := cp.Switch(as, platformtest.RegsAt(platformtest.SnipSyscalls)); !errors.Is(err, platform.ErrContextDead) {
		t.Errorf("Switch of the detached context: %v, want ErrContextDead", err)
	}
	pid := as.pid
	as.Release()
	if !as.exitStatus.Signaled() || as.exitStatus.Signal() != unix.SIGSYS {
		t.Errorf("exit status %#x, want SIGSYS", as.exitStatus)
	}
	waitGone(t, pid)
}

func TestBPFBuilder(t *testing.T) {
	var b bpf.Assembler
	b.JEq(1, "missing", "")
	if _, err := b.Assemble(); err == nil {
		t.Error("undefined label accepted")
	}
	prog, err := stubFilter(0x7ff000000000, 5)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(prog); n == 0 || n > 255 {
		t.Errorf("filter has %d instructions", n)
	}
	if last := prog[len(prog)-1]; last.Code != unix.BPF_RET|unix.BPF_K || last.K != bpf.RetKillProcess {
		t.Errorf("filter does not end in KILL_PROCESS: %+v", last)
	}
}
