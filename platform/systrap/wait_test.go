//go:build linux && amd64

package systrap

import "testing"

// us is a microsecond in the ticks of policyPlatform.
const us = 1000

// policyPlatform is a platform with only the spin bounds set.
func policyPlatform() *Platform {
	p := &Platform{spinCap: spinCapUS * us, spinSlack: spinSlackUS * us, maxSpinners: 1, ncpus: 2}
	p.loadNext.Store(1 << 62) // never read the host's load
	return p
}

func TestSpinPolicyIdle(t *testing.T) {
	p := policyPlatform()
	var s spinPolicy
	// Answers that take longer than the cap: spin only to probe, once
	// per probePeriod waits.
	spins := 0
	const waits = 10000
	for i := 0; i < waits; i++ {
		b := s.budget(p)
		if b > 0 {
			spins++
		}
		s.record(p, 1000*us, b, false)
	}
	if spins > waits/probePeriod+1 {
		t.Errorf("spun %d times in %d waits for slow answers", spins, waits)
	}
}

// TestSpinPolicyProbe: a waiter whose sleeping waits look slow (their
// wake-ups cost more than the cap) but whose other side answers within 2
// µs finds out with a probe and then spins.
func TestSpinPolicyProbe(t *testing.T) {
	p := policyPlatform()
	s := spinPolicy{avg: 10 * us}
	spins := 0
	for i := 0; i < probePeriod+50; i++ {
		b := s.budget(p)
		if b == 0 {
			s.record(p, 10*us, 0, false)
			continue
		}
		spins++
		s.record(p, 2*us, b, true)
	}
	if spins < 40 {
		t.Errorf("spun %d times after a successful probe", spins)
	}
}

func TestSpinPolicyFast(t *testing.T) {
	p := policyPlatform()
	var s spinPolicy
	// Answers within 3 µs (seen through sleeping waits at first): spin a
	// bit more than that, never more than the cap.
	for i := 0; i < 20; i++ {
		b := s.budget(p)
		s.record(p, 3*us, b, b >= 3*us)
	}
	b := s.budget(p)
	if b < 3*us || b > 10*us {
		t.Errorf("budget after 3 µs answers = %d, want in [%d, %d]", b, 3*us, 10*us)
	}
	// One slow answer does not stop spinning for long.
	s.record(p, 1000*us, b, false)
	spins := 0
	for i := 0; i < 40; i++ {
		b := s.budget(p)
		if b > 0 {
			spins++
		}
		s.record(p, 3*us, b, b >= 3*us)
	}
	if spins < 30 {
		t.Errorf("spun %d of 40 waits after one slow answer", spins)
	}
}

func TestSpinPolicyBackoff(t *testing.T) {
	p := policyPlatform()
	s := spinPolicy{avg: 2 * us}
	// Spins that keep failing (the other side is not running) while the
	// answers still come fast once the waiter sleeps: back off
	// exponentially, up to maxBackoff waits without spinning.
	spins := 0
	const waits = 4000
	for i := 0; i < waits; i++ {
		b := s.budget(p)
		if b > 0 {
			spins++
		}
		s.record(p, 2*us, b, false)
	}
	// 1, 2, 4, … 256 waits without spinning after each failure.
	if spins > 9+waits/maxBackoff+1 {
		t.Errorf("spun %d times in %d waits whose spins all failed", spins, waits)
	}
	if s.backoff != maxBackoff {
		t.Errorf("backoff = %d, want %d", s.backoff, maxBackoff)
	}
	// Once spins succeed again, the back-off ends: after a few
	// successes, every wait spins.
	run := 0
	for i := 0; i < 100*maxBackoff && run < 10; i++ {
		b := s.budget(p)
		if b == 0 {
			run = 0
			s.record(p, 2*us, 0, false)
			continue
		}
		run++
		s.record(p, 2*us, b, true)
	}
	if run < 10 {
		t.Errorf("spins that succeed did not end the back-off")
	}
}

func TestSpinSlots(t *testing.T) {
	p := policyPlatform()
	if !p.acquireSpin() {
		t.Fatal("first slot refused")
	}
	if p.acquireSpin() || p.mayGrantSpin() {
		t.Error("a second spinner on a 2-CPU budget")
	}
	p.releaseSpin()
	if !p.mayGrantSpin() {
		t.Error("slot not released")
	}
	// Fixed settings override the policy.
	var s spinPolicy
	s.record(p, 1000*us, 0, false)
	p.fixedSpin = -1
	if b := s.budget(p); b != 0 {
		t.Errorf("never-spin budget = %d", b)
	}
	p.fixedSpin = 7
	if b := s.budget(p); b != 7 {
		t.Errorf("fixed budget = %d, want 7", b)
	}
}

// TestSpinPolicyRareHits: spins that succeed only one time in two (the
// host sometimes has a CPU free) end up spinning about once per
// maxBackoff waits, while spins that succeed nine times in ten go on.
func TestSpinPolicyRareHits(t *testing.T) {
	p := policyPlatform()
	for _, tc := range []struct {
		every      int // one failure per every spins
		minS, maxS int // spins in 10000 waits
	}{
		{2, 0, 200},
		{10, 5000, 10000},
	} {
		s := spinPolicy{avg: 2 * us}
		spins := 0
		for i := 0; i < 10000; i++ {
			b := s.budget(p)
			if b == 0 {
				s.record(p, 2*us, 0, false)
				continue
			}
			spins++
			s.record(p, 2*us, b, spins%tc.every != 0)
		}
		if spins < tc.minS || spins > tc.maxS {
			t.Errorf("one failure in %d: %d spins in 10000 waits, want %d to %d", tc.every, spins, tc.minS, tc.maxS)
		}
	}
}

// TestHostBusy: a host whose load average leaves no CPU free gets no
// spinning.
func TestHostBusy(t *testing.T) {
	for _, tc := range []struct {
		load  float64
		ncpus int
		busy  bool
	}{
		{0, 2, false}, {0.9, 2, false}, {1.1, 2, true}, {20, 2, true},
		{0, 1, false}, {0.1, 1, true}, {6.5, 8, false}, {7.5, 8, true},
	} {
		if got := loadBusy(uint64(tc.load*65536), tc.ncpus); got != tc.busy {
			t.Errorf("load %.1f on %d CPUs: busy %v, want %v", tc.load, tc.ncpus, got, tc.busy)
		}
	}
	p := policyPlatform()
	p.busy.Store(true)
	if p.acquireSpin() || p.mayGrantSpin() {
		t.Error("spinning on a busy host")
	}
}
