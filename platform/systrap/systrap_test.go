//go:build linux && amd64

package systrap

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// testConfig runs the behaviour every platform shares (package
// platformtest) on systrap.
var testConfig = platformtest.Config[*Platform]{
	New: func(memFD int) (*Platform, error) {
		p, err := New(memFD, testOptions())
		if err != nil {
			return nil, err
		}
		assumeIdle(p)
		return p, nil
	},
	StubPage:            func(p *Platform) uint64 { return p.base },
	UnmappedStoreAccess: usermem.Write, // systrap sees the error code
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

// TestServerSpin: under forced spinning, after a request whose budget
// lets it spin, the server waits for the next one awake, and it sleeps
// (flagged, so that the sentry wakes it) once the budget is spent;
// requests are answered either way, and with a budget of 0 it sleeps at
// once.
func TestServerSpin(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t).(*addressSpace)
	p := f.Platform
	sleeping := word(as.r.mem, respOff+pServerSleep)
	unmap := func() {
		t.Helper()
		if err := as.Unmap(platformtest.RoAddr, platformtest.PageSize); err != nil {
			t.Fatalf("Unmap: %v", err)
		}
	}
	// waitSleep waits up to a second for the server to sleep.
	waitSleep := func() time.Duration {
		t.Helper()
		start := time.Now()
		for load(sleeping) == 0 {
			if time.Since(start) > time.Second {
				t.Fatal("the server did not sleep within a second")
			}
			runtime.Gosched()
		}
		return time.Since(start)
	}
	p.serverSpin = int64(20 * time.Millisecond / time.Microsecond * time.Duration(p.perUS))
	p.fixedSpin = p.perUS
	waitSleep()
	unmap() // wakes the sleeping server
	if load(sleeping) != 0 {
		t.Fatal("the server answered a request with its sleep flag still set")
	}
	if d := waitSleep(); d < 10*time.Millisecond {
		t.Errorf("the server slept %v after a request with a 20 ms budget", d)
	}
	p.serverSpin = 0
	unmap()
	if d := waitSleep(); d > 500*time.Millisecond {
		t.Errorf("the server took %v to sleep without a budget", d)
	}
	unmap() // and is woken again

	// The application can clear the flag (the response page is its to
	// write): the sleeping server is then not woken, and looks again
	// within its longest sleep.
	waitSleep()
	*sleeping = 0
	start := time.Now()
	unmap()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a request to a server whose sleep flag was cleared took %v", d)
	}
}

// TestServerPlacement: by default a request binds the server thread to
// the caller's CPU and leaves it asleep after its answer; a clone request
// unbinds it first, so that the new thread may run on any CPU.
func TestServerPlacement(t *testing.T) {
	f := newFixture(t)
	p := f.Platform
	if p.cpus.Count() < 2 {
		t.Skip("one CPU")
	}
	as := f.NewAS(t).(*addressSpace)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var mine unix.CPUSet
	platformtest.Must(t, unix.SchedGetaffinity(0, &mine))
	defer unix.SchedSetaffinity(0, &mine)
	sleeping := word(as.r.mem, respOff+pServerSleep)
	for _, cpu := range []int{1, 0} {
		var set unix.CPUSet
		set.Set(cpu)
		platformtest.Must(t, unix.SchedSetaffinity(0, &set))
		platformtest.Must(t, as.Unmap(platformtest.RoAddr, platformtest.PageSize))
		var got unix.CPUSet
		platformtest.Must(t, unix.SchedGetaffinity(int(as.pid), &got))
		if got.Count() != 1 || !got.IsSet(cpu) {
			t.Errorf("server's CPUs after a request from CPU %d: %d of them, CPU %d in: %v", cpu, got.Count(), cpu, got.IsSet(cpu))
		}
		deadline := time.Now().Add(time.Second)
		for load(sleeping) == 0 && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		if load(sleeping) == 0 {
			t.Error("the server did not go to sleep after its answer")
		}
	}
	c := f.Platform.NewContext()
	defer c.Release()
	platformtest.SwitchOK(t, c, as, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
	th := c.(*context).threads[as]
	for _, who := range []struct {
		name string
		tid  int32
	}{{"server", as.pid}, {"new thread", th.tid}} {
		var got unix.CPUSet
		platformtest.Must(t, unix.SchedGetaffinity(int(who.tid), &got))
		if got != p.cpus {
			t.Errorf("%s's CPUs after a clone: %d, want all %d", who.name, got.Count(), p.cpus.Count())
		}
	}
}

// TestMapFiles: a batch maps and unmaps in order, in one request; a bad
// entry is refused before the stub sees anything, and one the host refuses
// stops the batch there with its error.
func TestMapFiles(t *testing.T) {
	f := newFixture(t)
	as := f.NewAS(t).(*addressSpace)
	c := platformtest.LockedContext(t, f.Platform)
	const a, b = 0x10000000, 0x20000000
	loadAt := func(addr uint64) (platform.Event, uint64) {
		t.Helper()
		regs := platformtest.RegsAt(platformtest.SnipLoad)
		regs.Rax = addr
		ev, _, err := c.Switch(as, regs)
		if err != nil {
			t.Fatalf("Switch: %v", err)
		}
		return ev, regs.Rdi
	}
	read := usermem.Read
	seq := load(word(as.r.mem, rSeq))
	platformtest.Must(t, as.MapFiles([]platform.Mapping{
		{Addr: a, FD: f.MemFD, Off: platformtest.DataOff, Length: platformtest.PageSize, Access: read},
		{Addr: b, FD: f.MemFD, Off: platformtest.DataOff, Length: platformtest.PageSize, Access: read},
		{Addr: b, FD: f.MemFD, Off: platformtest.Data2Off, Length: platformtest.PageSize, Access: read},
	}))
	if n := load(word(as.r.mem, rSeq)) - seq; n != 1 {
		t.Errorf("a batch of 3 took %d requests", n)
	}
	if ev, w := loadAt(a); ev != platform.EventSyscall || w != platformtest.DataWord {
		t.Errorf("first mapping: event %d, word %#x", ev, w)
	}
	if ev, w := loadAt(b); ev != platform.EventSyscall || w != platformtest.Data2Word {
		t.Errorf("replaced mapping: event %d, word %#x (the batch ran out of order?)", ev, w)
	}
	platformtest.Must(t, as.MapFiles([]platform.Mapping{{Addr: a, Length: platformtest.PageSize}}))
	if ev, _ := loadAt(a); ev != platform.EventFault {
		t.Errorf("load after a batched unmap: event %d", ev)
	}
	for _, ms := range [][]platform.Mapping{
		{{Addr: a, FD: 0, Length: platformtest.PageSize, Access: read}},                   // not the memory file
		{{Addr: a + 1, FD: f.MemFD, Length: platformtest.PageSize, Access: read}},         // unaligned
		{{Addr: f.Platform.MaxUserAddress(), FD: f.MemFD, Length: platformtest.PageSize}}, // stub region
		make([]platform.Mapping, platform.MaxBatch+1),                                     // too long
	} {
		if err := as.MapFiles(ms); err != unix.EINVAL {
			t.Errorf("bad batch: %v, want EINVAL", err)
		}
	}
	// The host refuses the second (an offset past the largest file:
	// EOVERFLOW); the third does not run.
	err := as.MapFiles([]platform.Mapping{
		{Addr: a, FD: f.MemFD, Off: platformtest.DataOff, Length: platformtest.PageSize, Access: read},
		{Addr: b, FD: f.MemFD, Off: 1 << 63, Length: platformtest.PageSize, Access: read},
		{Addr: b, FD: f.MemFD, Off: platformtest.DataOff, Length: platformtest.PageSize, Access: read},
	})
	if err != unix.EOVERFLOW {
		t.Errorf("batch with an impossible offset: %v, want EOVERFLOW", err)
	}
	if ev, w := loadAt(a); ev != platform.EventSyscall || w != platformtest.DataWord {
		t.Errorf("entry before the failure: event %d, word %#x", ev, w)
	}
	if ev, w := loadAt(b); ev != platform.EventSyscall || w != platformtest.Data2Word {
		t.Errorf("entry after the failure ran: event %d, word %#x", ev, w)
	}
}

// TestSpareAddressSpace: from the second address space on, the platform
// keeps a spare ready, hands it out next, makes another, and kills the
// spare at Close.
func TestSpareAddressSpace(t *testing.T) {
	fd := platformtest.NewMemFile(t)
	p, err := New(fd, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			p.Close()
		}
	}()
	spare := func() *addressSpace {
		t.Helper()
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
			p.spareMu.Lock()
			var s *addressSpace
			if n := len(p.spares); n > 0 {
				s = p.spares[n-1]
			}
			p.spareMu.Unlock()
			if s != nil {
				return s
			}
		}
		t.Fatal("no spare address space within 5 s")
		return nil
	}
	first, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	time.Sleep(10 * time.Millisecond)
	p.spareMu.Lock()
	early := len(p.spares) > 0 || p.spareMaking
	p.spareMu.Unlock()
	if early {
		t.Error("a spare was made for the first address space")
	}
	second, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	s := spare()
	third, err := p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer third.Release()
	if third != platform.AddressSpace(s) {
		t.Error("the spare was not handed out")
	}
	// The spare works like any address space.
	c := platformtest.LockedContext(t, p)
	platformtest.Must(t, third.MapFile(platformtest.CodeAddr, fd, platformtest.CodeOff, platformtest.PageSize, usermem.AccessType{Read: true, Execute: true}))
	platformtest.Must(t, third.MapFile(platformtest.DataAddr, fd, platformtest.DataOff, platformtest.PageSize, usermem.ReadWrite))
	platformtest.SwitchOK(t, c, third, platformtest.RegsAt(platformtest.SnipSyscalls), platform.EventSyscall)
	next := spare()
	if next == s {
		t.Fatal("the spare handed out is still the spare")
	}
	pid := next.pid
	p.Close()
	closed = true
	if err := unix.Kill(int(pid), 0); err != unix.ESRCH {
		t.Errorf("the spare's stub %d after Close: kill 0 = %v", pid, err)
	}
}
