//go:build linux && amd64

package systrap

import (
	"testing"

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
