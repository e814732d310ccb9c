package arch

import (
	"math/bits"
	"sync"
	"time"
)

// The time-stamp counter as a clock for short intervals on hot paths (the
// run loop's user-time accounting, the platform's spin bounds): it costs
// a few nanoseconds to read, where the vDSO's clock_gettime costs about
// forty in a VM, and a syscall round trip reads a clock several times.

// Rdtsc returns the time-stamp counter. Its ticks are a clock only where
// InvariantTSC says so.
func Rdtsc() int64

// invariantTSC is CPUID.80000007H:EDX[8]: the counter runs at a constant
// rate in every P-, C- and T-state, and Linux keeps it synchronised
// across CPUs (it is what its own "tsc" clocksource needs). A CPU
// constant, read once at package initialisation.
var invariantTSC = func() bool {
	if max, _, _, _ := CPUID(0x80000000, 0); max < 0x80000007 {
		return false
	}
	_, _, _, edx := CPUID(0x80000007, 0)
	return edx&(1<<8) != 0
}()

// InvariantTSC reports whether the time-stamp counter is a clock.
func InvariantTSC() bool { return invariantTSC }

// tscRate holds the counter's measured rate: a CPU constant, measured at
// most once per process (TSCPerUS).
var tscRate struct {
	once  sync.Once
	perUS int64
}

// TSCPerUS returns the time-stamp counter's rate in ticks per
// microsecond, measured against CLOCK_MONOTONIC the first time it is
// called: a busy wait of 0.5 ms, once per process (the error, well under
// 0.1%, is far below what its users need).
func TSCPerUS() int64 {
	tscRate.once.Do(func() {
		tscRate.perUS = measureTSC(Rdtsc, time.Now, 500*time.Microsecond)
	})
	return tscRate.perUS
}

// measureTSC measures the rate of the counter tsc reads against the clock
// now reads, over at least span. Each end is a pair of readings taken
// together (clockPair): a thread preempted between its counter and its
// clock reading skewed the rate by the length of the preemption, and a
// test run under load once measured half the rate (0.5 ms lost between
// the end's two readings), which halved every spin budget made from it.
func measureTSC(tsc func() int64, now func() time.Time, span time.Duration) int64 {
	t0, n0 := clockPair(tsc, now)
	for now().Sub(n0) < span {
	}
	t1, n1 := clockPair(tsc, now)
	return max((t1-t0)*int64(time.Microsecond)/int64(n1.Sub(n0)), 1)
}

// clockPairTries is how many clock readings clockPair chooses from.
const clockPairTries = 8

// clockPair returns a counter reading and a clock reading made at the same
// time: of clockPairTries clock readings, each between two counter
// readings, the one whose counter readings are closest, with the counter
// at their middle. A reading the thread was preempted in is never the
// closest unless every one was.
func clockPair(tsc func() int64, now func() time.Time) (int64, time.Time) {
	var tick, width int64 = 0, -1
	var at time.Time
	for range clockPairTries {
		a := tsc()
		n := now()
		b := tsc()
		if w := b - a; width < 0 || w < width {
			tick, width, at = a+w/2, w, n
		}
	}
	return tick, at
}

// TSCToNS converts a non-negative number of time-stamp counter ticks to
// nanoseconds (0 for a negative one), without overflow for any int64.
func TSCToNS(ticks int64) int64 {
	if ticks <= 0 {
		return 0
	}
	per := uint64(TSCPerUS())
	hi, lo := bits.Mul64(uint64(ticks), 1000)
	// ticks < 2^63, so hi < 500: Div64 cannot overflow unless the
	// counter is slower than 500 ticks per µs and ticks is huge.
	if hi >= per {
		return 1<<63 - 1
	}
	q, _ := bits.Div64(hi, lo, per)
	return int64(min(q, 1<<63-1))
}
