package vdso

import (
	"fmt"
	"math/bits"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// multShift is the fixed shift of the TSC-to-ns multiplier.
	multShift = 32
	// calibrationTime is how long New waits between its two TSC samples:
	// it is on the sandbox's start-up path (runsc/boot overlaps it with
	// the rest), and the first Update refines the estimate over a window
	// of UpdateInterval and more, so a short first window only costs
	// the first interval a few microseconds of extrapolation error.
	calibrationTime = 10 * time.Millisecond
	// refAge is how old the frequency reference may get before it is
	// renewed; the estimate uses a window of refAge..2*refAge, which
	// follows the host's NTP frequency changes while averaging out the
	// sampling error.
	refAge = 32 * time.Second
	// maxRealtimeHold is the largest backwards step of CLOCK_REALTIME
	// that Update hides (sampling noise); a larger one is a host clock
	// step and is passed through.
	maxRealtimeHold = uint64(time.Millisecond)
	// sampleTries is how many (rdtsc, clock, rdtsc) triples a sample
	// takes; the tightest wins.
	sampleTries = 5
)

// clockState is the writer's state; protected by VDSO.mu.
type clockState struct {
	tscOK      bool
	ncpus      uint32
	getcpuMode uint32
	coarseRes  uint64

	// refOld and refNew are (tsc, CLOCK_MONOTONIC) samples used to
	// estimate the TSC frequency.
	refOld, refNew tscSample
	// freqMult is the estimated ns-per-tick << multShift.
	freqMult uint64
	// published is what is on the page; valid if havePublished.
	published     snapshot
	havePublished bool
}

// tscSample pairs a TSC reading with a host clock reading in ns.
type tscSample struct {
	tsc, ns uint64
}

func clockNow(id int32) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0
	}
	return uint64(ts.Sec)*1e9 + uint64(ts.Nsec)
}

// sample reads clock id between two TSC readings, several times, and
// returns the tightest pairing (TSC at the middle of the window).
func sample(id int32) tscSample {
	var best tscSample
	bestWidth := ^uint64(0)
	for i := 0; i < sampleTries; i++ {
		t1 := rdtsc()
		ns := clockNow(id)
		t2 := rdtsc()
		if t2 < t1 {
			continue
		}
		if w := t2 - t1; w < bestWidth {
			bestWidth = w
			best = tscSample{tsc: t1 + w/2, ns: ns}
		}
	}
	return best
}

// computeMult returns ((ns1-ns0) << multShift) / (tsc1-tsc0), or 0 if
// the samples are unusable.
func computeMult(a, b tscSample) uint64 {
	if b.tsc <= a.tsc || b.ns <= a.ns {
		return 0
	}
	dns, dtsc := b.ns-a.ns, b.tsc-a.tsc
	hi, lo := dns>>(64-multShift), dns<<multShift
	if hi >= dtsc {
		return 0
	}
	q, _ := bits.Div64(hi, lo, dtsc)
	return q
}

// A Sample is a reading of the TSC and CLOCK_MONOTONIC taken together.
// Both are the host's, the same in every process, so one taken by the
// process that starts the sandbox (runsc do, runsc create) opens the
// sandbox's first calibration window (New): by the time the sandbox
// builds its vDSO, the window is long enough, and start-up does not wait
// calibrationTime for it.
type Sample struct{ TSC, Mono uint64 }

// TakeSample reads the TSC and CLOCK_MONOTONIC together.
func TakeSample() Sample {
	s := sample(unix.CLOCK_MONOTONIC)
	return Sample{TSC: s.tsc, Mono: s.ns}
}

// String encodes s for a command line; ParseSample reads it back.
func (s Sample) String() string { return fmt.Sprintf("%d,%d", s.TSC, s.Mono) }

// ParseSample decodes what Sample.String wrote.
func ParseSample(v string) (Sample, error) {
	var s Sample
	if _, err := fmt.Sscanf(v, "%d,%d", &s.TSC, &s.Mono); err != nil {
		return Sample{}, fmt.Errorf("vdso: clock sample %q: %w", v, err)
	}
	return s, nil
}

// maxStartAge bounds the age of a start sample New uses: an older one
// comes from a process that waited long (a paused create), and the
// window is as good with a fresh sample and the usual wait.
const maxStartAge = 60 * time.Second

// calibrateLocked measures the TSC frequency against CLOCK_MONOTONIC,
// over a window that starts at start if that is a usable earlier sample
// (before now, at most maxStartAge old), else now; it waits for the rest
// of calibrationTime if the window is shorter.
func (v *VDSO) calibrateLocked(start *Sample) {
	c := &v.clock
	var ts unix.Timespec
	if unix.ClockGetres(unix.CLOCK_REALTIME_COARSE, &ts) == nil {
		c.coarseRes = uint64(ts.Sec)*1e9 + uint64(ts.Nsec)
	}
	if c.coarseRes == 0 {
		c.coarseRes = uint64(4 * time.Millisecond)
	}
	if !c.tscOK {
		return
	}
	s0 := sample(unix.CLOCK_MONOTONIC)
	if start != nil && start.TSC < s0.tsc && start.Mono < s0.ns && s0.ns-start.Mono < uint64(maxStartAge) {
		s0 = tscSample{tsc: start.TSC, ns: start.Mono}
	}
	if d := time.Duration(clockNow(unix.CLOCK_MONOTONIC) - s0.ns); d < calibrationTime {
		time.Sleep(calibrationTime - d)
	}
	s1 := sample(unix.CLOCK_MONOTONIC)
	c.freqMult = computeMult(s0, s1)
	if c.freqMult == 0 {
		c.tscOK = false
		return
	}
	c.refOld, c.refNew = s0, s1
}

// at converts a clock value sampled at TSC s.tsc to the value at TSC tsc.
func at(s tscSample, tsc, mult uint64) uint64 {
	if tsc >= s.tsc {
		return s.ns + scale(tsc, s.tsc, mult, multShift)
	}
	return s.ns - scale(s.tsc, tsc, mult, multShift)
}

// updateLocked samples the host clocks and publishes new parameters.
func (v *VDSO) updateLocked() {
	c := &v.clock
	s := snapshot{
		ncpus:      c.ncpus,
		getcpuMode: c.getcpuMode,
		coarseRes:  c.coarseRes,
		shift:      multShift,
	}
	if !c.tscOK {
		v.p.write(&s)
		c.published, c.havePublished = s, true
		return
	}
	mono := sample(unix.CLOCK_MONOTONIC)
	// Refine the frequency estimate over a long window.
	if m := computeMult(c.refOld, mono); m != 0 && mono.ns-c.refOld.ns >= uint64(calibrationTime) {
		c.freqMult = m
	}
	if mono.ns-c.refNew.ns >= uint64(refAge) {
		c.refOld, c.refNew = c.refNew, mono
	}
	mult := c.freqMult
	base := mono.tsc

	hostMono := mono.ns
	monoNS := hostMono
	old := &c.published
	oldOK := c.havePublished && old.flags&flagTSC != 0
	if oldOK {
		ext := old.baseNS[clockMonotonic] + scale(base, old.tscBase, old.mult, old.shift)
		if ext > monoNS {
			// We are ahead of the host: hold, and slew so that the
			// lead is gone by the next update.
			lead := ext - monoNS
			monoNS = ext
			interval := uint64(UpdateInterval)
			if lead >= interval/2 {
				mult /= 2
			} else {
				hi, lo := bits.Mul64(mult, interval-lead)
				mult, _ = bits.Div64(hi, lo, interval)
			}
		}
	}
	lead := monoNS - hostMono
	s.flags = flagTSC
	s.tscBase = base
	s.mult = mult
	s.baseNS[clockMonotonic] = monoNS
	for _, id := range [...]int32{unix.CLOCK_REALTIME, unix.CLOCK_BOOTTIME, unix.CLOCK_MONOTONIC_RAW} {
		host := at(sample(id), base, c.freqMult) + lead
		if oldOK {
			ext := old.baseNS[id] + scale(base, old.tscBase, old.mult, old.shift)
			if host < ext && (id != unix.CLOCK_REALTIME || ext-host <= maxRealtimeHold) {
				host = ext
			}
		}
		s.baseNS[id] = host
	}
	s.baseNS[clockRealtimeCoarse] = s.baseNS[clockRealtime]
	s.baseNS[clockMonotonicCoar] = s.baseNS[clockMonotonic]
	for _, id := range servedClocks {
		s.clockMask |= 1 << id
	}
	v.p.write(&s)
	c.published, c.havePublished = s, true
}
