package systrap

import (
	"os"
	"strconv"
	"testing"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/platformtest"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// testOptions are the options of the tests' platforms: SYSTRAP_SPIN=N runs
// the tests and benchmarks with Options.Spin = N (and SYSTRAP_IDLE=1 with
// the host taken as idle, see assumeIdle).
//
// SYSTRAP_NOFSGS=1 makes the stub set the fs and gs bases with arch_prctl,
// as on hosts without FSGSBASE (make test runs the package so too where
// the host has it).
func testOptions() Options {
	n, _ := strconv.Atoi(os.Getenv("SYSTRAP_SPIN"))
	return Options{Spin: n, noFSGS: os.Getenv("SYSTRAP_NOFSGS") == "1"}
}

// assumeIdle makes p believe the host has no other thread (never sampling
// its load) if SYSTRAP_IDLE=1: to see on a loaded host what the spin
// policy does on an idle one.
func assumeIdle(p *Platform) {
	if os.Getenv("SYSTRAP_IDLE") == "1" {
		p.loadNext.Store(1 << 62)
		p.others.Store(0)
	}
}

// patchedLoop returns a context at the patch loop's getpid site, run once
// so that the site is patched.
func patchedLoop(b *testing.B) (platform.Context, platform.AddressSpace, *arch.Registers) {
	f := newPatchFixture(b)
	as := f.NewAS(b)
	c := platformtest.LockedContext(b, f.Platform)
	regs := platformtest.RegsAt(platformtest.CodeAddr + patchLoopOff)
	platformtest.SwitchOK(b, c, as, regs, platform.EventSyscall) // patches the site
	return c, as, regs
}

// BenchmarkPatchedRoundTrip measures a patched getpid loop (the
// trampoline, no signal), as glibc's getpid() makes it; hot% is the share
// of round trips the thread spent hot (both sides spinning).
func BenchmarkPatchedRoundTrip(b *testing.B) {
	benchPatched(b, nil)
}

// BenchmarkPatchedSignalPattern measures what a signal delivered after a
// patched syscall costs the platform: each round trip is a patched
// getpid, the FP state read and written (a trap out of the trampoline,
// leaveTrampoline) and the return through the signal frame; hot% as in
// BenchmarkPatchedRoundTrip.
func BenchmarkPatchedSignalPattern(b *testing.B) {
	fp := make([]byte, 4096)
	benchPatched(b, func(c platform.Context, as platform.AddressSpace) {
		if err := c.FPState(as, fp); err != nil {
			b.Fatal(err)
		}
		if err := c.SetFPState(as, fp); err != nil {
			b.Fatal(err)
		}
	})
}

// benchPatched runs b.N round trips of the patch loop's getpid, each
// followed by after (if not nil), and reports hot%.
func benchPatched(b *testing.B, after func(c platform.Context, as platform.AddressSpace)) {
	c, as, regs := patchedLoop(b)
	ctx := c.(*context)
	hot := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		regs.Rax = 0
		if ev, _, err := c.Switch(as, regs); err != nil || ev != platform.EventSyscall {
			b.Fatalf("Switch: %d, %v", ev, err)
		}
		if after != nil {
			after(c, as)
		}
		if ctx.last.hot != nil {
			hot++
		}
	}
	b.ReportMetric(100*float64(hot)/float64(b.N), "hot%")
}
