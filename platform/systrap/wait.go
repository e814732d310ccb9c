//go:build linux && amd64

package systrap

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// This file holds the sentry's side of every hand-off with a stub: the
// adaptive spin bounds (spinPolicy), the stub's spin budget written into a
// thread's state page (handOff), and the wait itself (waitFor), which every
// waiter uses: Switch for its thread, newThread, server requests, and any
// other entry into the sentry that parks a stub thread on its state word.
//
// The stub's side of the contract (stub.S, handler): after publishing an
// event (xchg T_STATE = ST_EVENT, FUTEX_WAKE if T_SENTRY_SLEEP), spin with
// PAUSE while T_STATE is ST_EVENT until the TSC passes its value at the
// start plus T_SPIN (0: do not spin), then set T_STUB_SLEEP and
// FUTEX_WAIT; clear T_STUB_SLEEP once awake. Any other way into the
// sentry from a stub thread must wait the same way.

// Spin bounds, in microseconds (converted to TSC ticks at New).
const (
	// spinCapUS bounds every spin: about the CPU time a futex sleep and
	// wake-up cost the two sides, so that a spin never costs more than
	// twice what sleeping would (the classic competitive bound). It is
	// still well above a trapped syscall's round trip on an idle host.
	spinCapUS = 5
	// spinSlackUS is added to twice the expected answer time.
	spinSlackUS = 1
	// maxBackoff bounds how many waits a thread sleeps without spinning
	// after its spins keep failing.
	maxBackoff = 256
	// probePeriod is how many waits a waiter whose answers look slower
	// than the cap sleeps between probes.
	probePeriod = 1024
	// hitsOne is a rate of 1 in spinPolicy.misses; a success ends a
	// back-off only while the success rate is at least minHits.
	hitsOne = 256
	minHits = hitsOne * 3 / 4
)

// spinPolicy adapts how long one side of one kind of hand-off spins. It
// tracks the time the other side usually takes to answer (an average of
// recent waits, including those that slept) and spins a little more than
// that, never more than spinCap; a waiter whose answers take longer probes
// with a full spin once per probePeriod waits. A spin that fails (the
// answer came only after the waiter had to sleep) makes the waiter sleep
// at once for the next 1, 2, 4, … maxBackoff waits; a success ends the
// back-off if at least 3 in 4 recent spins succeeded. So an idle task
// (answers that take seconds) spins only to probe, a task whose other
// side runs on a busy CPU soon spins only once in maxBackoff waits (a spin
// that succeeds only now and then, when the host happens to have a CPU
// free, does not pay for the CPU the failed ones took from others), and a
// syscall-bound task on a host with idle CPUs spins on every hand-off.
//
// A spinPolicy is owned by whoever serialises the waits it describes.
type spinPolicy struct {
	// avg is the mean answer time in ticks, an exponentially weighted
	// average (weight 1/4) of samples capped at 4 spinCap.
	avg int64
	// skip is the number of waits left that must not spin; backoff the
	// length of the next back-off.
	skip, backoff uint32
	// misses is 1 - the recent spins' success rate, in 1/hitsOne, an
	// average of weight 1/8 (0, optimistic, at first).
	misses uint32
	// slow counts the waits since the last spin while avg is over the
	// cap: avg also counts sleeping waits, whose wake-up may be what
	// makes them slow, so such a waiter probes with a full spin once per
	// probePeriod waits to learn whether a spin would catch the answer.
	slow uint32
}

// budget returns how long, in ticks, the next wait may spin (0: sleep at
// once), consuming one wait of a back-off.
func (s *spinPolicy) budget(p *Platform) int64 {
	if s == nil {
		return 0
	}
	if p.fixedSpin != 0 {
		return max(p.fixedSpin, 0)
	}
	if s.skip > 0 {
		s.skip--
		return 0
	}
	if s.avg > p.spinCap {
		if s.slow++; s.slow < probePeriod {
			return 0
		}
		s.slow = 0
		return p.spinCap
	}
	return min(2*s.avg+p.spinSlack, p.spinCap)
}

// record adds a wait that took lat ticks, of which up to budget spinning;
// spun says that the answer came while spinning.
func (s *spinPolicy) record(p *Platform, lat, budget int64, spun bool) {
	if s == nil {
		return
	}
	lat = min(lat, 4*p.spinCap)
	if spun && s.avg > p.spinCap {
		// A probe caught the answer: the slow average came from
		// wake-ups, not from the other side.
		s.avg = lat
	}
	s.avg += (lat - s.avg) / 4
	if budget == 0 {
		return
	}
	s.misses -= s.misses / 8
	if !spun {
		s.misses += hitsOne / 8
	}
	switch {
	case spun && s.misses <= hitsOne-minHits:
		s.backoff = 0
	case spun:
		s.skip = s.backoff
	default:
		s.backoff = min(max(2*s.backoff, 1), maxBackoff)
		s.skip = s.backoff
	}
}

// waitFor waits until *w != v, spinning first if pol allows it and a
// spinning slot is free, then sleeping on the futex with *sleep set (the
// other side wakes it only then). See sleepWhile for pid, tid, interrupt
// and reaped. It returns false if the other side died.
func (p *Platform) waitFor(w *uint32, v uint32, sleep *uint32, pol *spinPolicy, pid, tid int32, interrupt *atomic.Uint32, reaped *bool) bool {
	start := rdtsc()
	budget := pol.budget(p)
	if budget > 0 {
		if !p.acquireSpin() {
			budget = 0
		} else {
			spun := spinWhile(w, v, start+budget)
			p.releaseSpin()
			if spun {
				pol.record(p, rdtsc()-start, budget, true)
				return true
			}
		}
	}
	alive := sleepWhile(w, v, sleep, pid, tid, interrupt, reaped)
	pol.record(p, rdtsc()-start, budget, false)
	return alive
}

var livenessPeriod = unix.Timespec{Sec: 1}

// sleepWhile sleeps on the futex w while *w == v, with *sleep set (the
// other side wakes it only then). Every livenessPeriod it checks that the
// other side lives: the thread tid of stub pid, or if tid is 0, the stub
// process, which is then reaped if dead (*reaped is set). It returns false
// if the other side died.
//
// If interrupt is not nil (a thread running application code), an
// interrupt left unanswered is signalled again at each period, and after
// deafStrikes periods the thread is killed (see thread.run).
func sleepWhile(w *uint32, v uint32, sleep *uint32, pid, tid int32, interrupt *atomic.Uint32, reaped *bool) bool {
	swap(sleep, 1)
	strikes := 0
	for load(w) == v {
		futexWait(w, v, &livenessPeriod)
		if load(w) != v {
			break
		}
		if tid != 0 {
			if tgkill(pid, tid, 0) == unix.ESRCH {
				swap(sleep, 0)
				return false
			}
		} else if reapIfDead(pid) {
			*reaped = true
			swap(sleep, 0)
			return false
		}
		if interrupt != nil && interrupt.Load() != 0 {
			strikes++
			sig := interruptSignal
			if strikes >= deafStrikes {
				sig = unix.SIGKILL
			}
			tgkill(pid, tid, sig)
		}
	}
	swap(sleep, 0)
	return true
}

// deafStrikes is how many liveness periods an interrupt may go unanswered
// before the thread is killed.
const deafStrikes = 5

// handOff lets t, parked in the stub's handler, go on (state stRun) and
// waits until it parks again. Before letting it go it gives the stub's wait
// for the sentry's answer to its next event a spin budget (tSpin, in TSC
// ticks), from how long the sentry took to answer its recent events. It
// returns false if the thread died.
func (t *thread) handOff(c *context) bool {
	p := t.as.p
	now := rdtsc()
	if t.evAt != 0 {
		// The stub's previous wait: did it end while spinning?
		stubSpun := t.stubBudget > 0 && load(t.stubSleep) == 0
		t.stubPol.record(p, now-t.evAt, t.stubBudget, stubSpun)
	}
	t.stubBudget = 0
	appBudget := t.appPol.peek(p)
	if p.mayGrantSpin() {
		t.stubBudget = t.stubPol.budget(p)
	}
	if t.stubBudget > 0 || appBudget > 0 {
		t.unbind()
		t.calm = 0
	} else if p.bindIdle {
		if t.calm < calmBeforeBind {
			t.calm++
		} else {
			t.bind()
		}
	}
	*word(t.page, tSpin) = uint32(min(t.stubBudget, 1<<31))
	swap(t.state, stRun)
	if load(t.stubSleep) != 0 {
		futexWake(t.state)
	}
	ok := p.waitFor(t.state, stRun, t.sentrySleep, &t.appPol, t.as.pid, t.tid, &c.interrupt, nil)
	t.evAt = rdtsc()
	return ok
}

// calmBeforeBind is how many hand-offs in a row without spinning a thread
// waits before it binds again (a spinning thread is unbound), so that a
// thread at the edge does not pay two sched_setaffinity calls per spin.
const calmBeforeBind = 4

// peek returns what budget would return, without consuming a back-off
// wait.
func (s *spinPolicy) peek(p *Platform) int64 {
	c := *s
	return c.budget(p)
}
