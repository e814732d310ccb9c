package arch

import (
	"testing"
	"time"
)

// fakeClocks is a counter at 3000 ticks per µs and a clock, both on one
// simulated time that each reading advances; the thread is preempted for
// preempt before clock reading number preemptAt (from 1; 0: never).
type fakeClocks struct {
	ns        int64
	reads     int
	preemptAt int
	preempt   time.Duration
}

func (c *fakeClocks) tsc() int64 {
	c.ns += 7
	return c.ns * 3
}

func (c *fakeClocks) now() time.Time {
	c.reads++
	if c.reads == c.preemptAt {
		c.ns += int64(c.preempt)
	}
	c.ns += 20
	return time.Unix(0, 0).Add(time.Duration(c.ns))
}

// TestMeasureTSC: the counter's rate is measured to within 1% however
// long the thread is preempted between a counter reading and a clock
// reading at either end; a calibration that paired one reading of each
// (the old one) measured half the rate with a 0.5 ms preemption at its
// second end.
func TestMeasureTSC(t *testing.T) {
	const want = 3000
	span := 500 * time.Microsecond
	// The fake is deterministic: a run without preemption counts the
	// clock readings; the second end's are the last clockPairTries.
	dry := &fakeClocks{}
	if got := measureTSC(dry.tsc, dry.now, span); got != want {
		t.Fatalf("without preemption: %d ticks per µs, want %d", got, want)
	}
	for _, c := range []struct {
		name string
		at   int
	}{
		{"at the first end", 1},
		{"at the second end", dry.reads - clockPairTries + 1},
		{"at the last reading", dry.reads},
	} {
		f := &fakeClocks{preemptAt: c.at, preempt: span}
		got := measureTSC(f.tsc, f.now, span)
		if got < want*99/100 || got > want*101/100 {
			t.Errorf("preempted %s: %d ticks per µs, want %d", c.name, got, want)
		}
	}
}
