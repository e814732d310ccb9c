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
	// calibrationTime is the span between the two TSC samples of the
	// first frequency estimate. The first Update refines the estimate
	// over a window of UpdateInterval and more, so a short first window
	// only costs the first interval a few microseconds of extrapolation
	// error. New does not wait for it: until the window is long enough
	// the page says "no TSC" and the vDSO makes the syscall (see
	// calibrateLocked).
	calibrationTime = 10 * time.Millisecond
	// switchLead is how far ahead of the host's clocks the first
	// TSC-based parameters are put, after a time when the vDSO made the
	// syscall: more than a sample's error (the width of its rdtsc
	// window, tens of ns), so that no reading made through the syscall
	// is later than one made through the vDSO right after it. The next
	// Update slews the lead away, as any other.
	switchLead = uint64(time.Microsecond)
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
	// freqMult is the estimated ns-per-tick << multShift; 0 while the
	// first window (from refOld) is shorter than calibrationTime.
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

// calibrateLocked opens the window over which the TSC frequency is
// measured against CLOCK_MONOTONIC: at start if that is a usable earlier
// sample (before now, at most maxStartAge old), else now. If the window
// is calibrationTime long already, it measures at once; else the first
// Update at least calibrationTime after the window's start does
// (calibrationDue says when). The sandbox's start (runsc/boot waits for
// New before it runs init) used to sleep here for the rest of the window,
// about 4 ms of a 19 ms `runsc do`.
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
	c.refOld = s0
	if s1 := sample(unix.CLOCK_MONOTONIC); s1.ns-s0.ns >= uint64(calibrationTime) {
		c.freqMult = computeMult(s0, s1)
		if c.freqMult == 0 {
			c.tscOK = false
			return
		}
		c.refNew = s1
	}
}

// calibrationDue returns how long until the first frequency estimate can
// be made (0 if it is made, or never will be).
func (v *VDSO) calibrationDue() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := &v.clock
	if !c.tscOK || c.freqMult != 0 {
		return 0
	}
	due := c.refOld.ns + uint64(calibrationTime)
	now := clockNow(unix.CLOCK_MONOTONIC)
	if now >= due {
		return 0
	}
	return time.Duration(due - now)
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
	// Refine the frequency estimate over a long window (or make the
	// first one: calibrateLocked).
	first := c.freqMult == 0
	if m := computeMult(c.refOld, mono); m != 0 && mono.ns-c.refOld.ns >= uint64(calibrationTime) {
		c.freqMult = m
	}
	if c.freqMult == 0 {
		// The first window is still too short: the vDSO makes the
		// syscall meanwhile.
		v.p.write(&s)
		c.published, c.havePublished = s, true
		return
	}
	if first {
		c.refNew = mono
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
	if !oldOK && c.havePublished {
		// Readers made the syscall until now (see switchLead).
		monoNS += switchLead
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
