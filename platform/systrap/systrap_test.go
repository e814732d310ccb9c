//go:build linux && amd64

package systrap

import (
	"runtime"
	"testing"
	"time"

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

// TestServerSpin: after a request whose budget lets it spin, the server
// waits for the next one awake, and it sleeps (flagged, so that the
// sentry wakes it) once the budget is spent; requests are answered either
// way, and with a budget of 0 it sleeps at once.
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
	p.loadNext.Store(1 << 62) // the host taken as idle: the budget is granted
	p.others.Store(0)
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
}
