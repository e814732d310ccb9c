//go:build linux && amd64

package systrap

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// This file holds the sentry's side of every hand-off with a stub: which
// threads spin (hot ones, on both sides; cold waits do not), the stub's
// spin budget written into a thread's state page (handOff), and the wait
// itself (waitFor), which every waiter uses: Switch for its thread,
// newThread, server requests, and any other entry into the sentry that
// parks a stub thread on its state word.
//
// The stub's side of the contract (stub.S, handler): after publishing an
// event (xchg T_STATE = ST_EVENT, FUTEX_WAKE if T_SENTRY_SLEEP), spin with
// PAUSE while T_STATE is ST_EVENT until the TSC passes its value at the
// start plus T_SPIN, or T_SPIN_WOKE if it woke the sentry (0: do not
// spin), then set T_STUB_SLEEP and
// FUTEX_WAIT; clear T_STUB_SLEEP once awake. Any other way into the
// sentry from a stub thread must wait the same way.

// hitsOne is a rate of 1 in thread.hotMiss.
const hitsOne = 256

// Cold waits do not spin. A thread that is not hot (below) stays bound to
// its sentry thread's CPU (bind), where a hand-off is two context switches:
// 3.7 µs a round trip for a futex ping-pong on one CPU of the 2-vCPU VM
// this was measured on. A spin needs the other side on the other CPU, and
// a spin that fails there turns the hand-off into a wake-up of that vCPU:
// 44-50 µs a round trip, the same ping-pong across CPUs. An adaptive cold
// spin (up to twice the recent answers + 1 µs, at most 5 µs, backing off
// after failures) bought nothing measurable on any benchmark and cost the
// throughput ones a fifth to a third, where two processes' threads each
// spun for the other's CPU: with cold spins removed, alternated runs of
// tcp_throughput 18.4-25.2 -> 12.8-15.0 µs, unix_throughput 18.3-22.9 ->
// 13.9-17.3, pipe_throughput 21.8-26.7 -> 18.1-23.5, the rest within
// their noise. Syscall-bound threads go hot, where both sides spin.
// Forced spinning (Options.Spin > 0) still spins fixedSpin on every wait.

// waitFor waits until *w != v: under forced spinning it spins first, for
// fixedSpin, if a spinning slot is free; then it sleeps on the futex with
// *sleep set (the other side wakes it only then). See sleepWhile for pid,
// tid, interrupt and reaped. It returns false if the other side died.
func (p *Platform) waitFor(w *uint32, v uint32, sleep *uint32, pid, tid int32, interrupt *atomic.Uint32, reaped *bool) bool {
	_, alive := p.spinThenSleep(w, v, sleep, arch.Rdtsc(), max(p.fixedSpin, 0), pid, tid, interrupt, reaped)
	return alive
}

// spinThenSleep waits until *w != v, spinning from start up to budget
// ticks if a spinning slot is free, then sleeping as waitFor does. spun is
// 1 if the spin caught the change, -1 if it did not, 0 if there was no
// spin.
func (p *Platform) spinThenSleep(w *uint32, v uint32, sleep *uint32, start, budget int64, pid, tid int32, interrupt *atomic.Uint32, reaped *bool) (spun int, alive bool) {
	if budget > 0 && p.acquireSpin() {
		ok, _ := spinWhile(w, v, start, start+budget)
		p.releaseSpin()
		if ok {
			return 1, true
		}
		spun = -1
	}
	return spun, sleepWhile(w, v, sleep, pid, tid, interrupt, reaped)
}

var livenessPeriod = unix.Timespec{Sec: 1}

// runPoll is how long a wait for a thread that runs application code
// sleeps before it looks at the thread's state word itself. The stub wakes
// the sentry only if T_SENTRY_SLEEP says it sleeps, and the state page is
// the application's to write (through gs, whose base it is while the
// application leaves it at 0): an application that clears the word would
// otherwise have its next event, the answer to an interrupt (a signal, a
// kill) included, seen only at the liveness period's end, a second later.
// A busy thread costs its sentry thread 20 wake-ups a second.
var runPoll = unix.Timespec{Nsec: 50e6}

// sleepWhile sleeps on the futex w while *w == v, with *sleep set (the
// other side wakes it only then). Every livenessPeriod it checks that the
// other side lives: the thread tid of stub pid, or if tid is 0, the stub
// process, which is then reaped if dead (*reaped is set). It returns false
// if the other side died.
//
// If interrupt is not nil (a thread running application code), it wakes
// every runPoll to set *sleep again, an interrupt left unanswered is
// signalled again at each liveness period, and after deafStrikes periods
// the thread is killed (see thread.run).
func sleepWhile(w *uint32, v uint32, sleep *uint32, pid, tid int32, interrupt *atomic.Uint32, reaped *bool) bool {
	swap(sleep, 1)
	strikes := 0
	wait := &livenessPeriod
	if interrupt != nil {
		wait = &runPoll
	}
	var next time.Time // a running thread's next liveness check
	for load(w) == v {
		futexWait(w, v, wait)
		if load(w) != v {
			break
		}
		if interrupt != nil {
			swap(sleep, 1)
			now := time.Now()
			if next.IsZero() {
				next = now.Add(time.Duration(livenessPeriod.Nano() - runPoll.Nano()))
			}
			if now.Before(next) {
				continue
			}
			next = now.Add(time.Duration(livenessPeriod.Nano()))
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
// ticks): a hot thread's (see hotSlot) the hot cap, a cold one's none (or
// fixedSpin under forced spinning). It returns false if the thread died.
func (t *thread) handOff(c *context) bool {
	p := t.as.p
	now := arch.Rdtsc()
	hot := t.hot != nil
	t.stubAnswered()
	if hot {
		hot = t.stayHot(now)
	} else if t.cycle < p.hotEnter && now >= t.hotRetry && p.fixedSpin == 0 {
		hot = t.enterHot(now)
	}
	var appBudget int64
	if hot {
		t.stubBudget, appBudget = p.hotCap, p.hotCap
	} else {
		t.stubBudget = 0
		if p.fixedSpin > 0 {
			appBudget = p.fixedSpin
			if p.mayGrantSpin() {
				t.stubBudget = p.fixedSpin
			}
		}
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
	// Written only when they change (see putPatchRegs). The stub spins as
	// long after waking the sentry as it would have anyway (a hot stub
	// spins the whole cap whichever way it reached the sentry).
	if b := uint32(min(t.stubBudget, 1<<31)); *word(t.page, tSpin) != b || *word(t.page, tSpinWoke) != b {
		*word(t.page, tSpin) = b
		*word(t.page, tSpinWoke) = b
	}
	if t.raxOut {
		binary.LittleEndian.PutUint64(t.page[tRax:], t.rax)
		t.raxOut = false
	}
	swap(t.state, stRun)
	woke := load(t.stubSleep) != 0
	if woke {
		futexWake(t.state)
	}
	var ok bool
	if hot {
		ok, t.evAt = t.hotWait(c, stRun, now)
	} else {
		ok = p.waitFor(t.state, stRun, t.sentrySleep, t.as.pid, t.tid, &c.interrupt, nil)
		t.evAt = arch.Rdtsc()
	}
	// The event rate: time from event to event (the sentry's answer and
	// the application's run, wake-ups included).
	if t.cycle == 0 {
		t.cycle = hotWarmup * p.hotEnter
	}
	t.cycle += (min(t.evAt-t.prevEv, hotWarmup*p.hotEnter) - t.cycle) / 8
	t.prevEv = t.evAt
	return ok
}

// waitTrap waits until the stub, told to leave the patch trampoline
// (stTrap), has trapped out and parked in its handler; hot says whether t
// is hot. The answer is a signal delivery away (the stub restores the
// registers and traps with an int3), a few µs. A hot thread spins for it
// on its lease, up to the hot cap, whatever the cold slots say: with the
// lease held on 2 CPUs none is free, and a sentry that slept here made
// the stub, after its trap, wake it and spin through that wake-up; such
// spins failed, and a thread delivering signals after patched syscalls
// cooled down within a few round trips and stayed cold behind its
// back-off. A cold one waits as every cold wait does (waitFor). It returns
// false if the thread died.
func (t *thread) waitTrap(c *context, hot bool) bool {
	var ok bool
	if hot {
		ok, t.evAt = t.hotWait(c, stTrap, arch.Rdtsc())
	} else {
		ok = t.as.p.waitFor(t.state, stTrap, t.sentrySleep, t.as.pid, t.tid, &c.interrupt, nil)
		t.evAt = arch.Rdtsc()
	}
	return ok
}

// hotWait is a hot thread's wait while its state is v: a spin of the
// whole hot cap from now (the TSC), then a sleep; t.slept and the miss
// rate record which ended it. It returns false if the thread died, and
// the TSC when the wait ended.
func (t *thread) hotWait(c *context, v uint32, now int64) (bool, int64) {
	spun, at := spinWhile(t.state, v, now, now+t.as.p.hotCap)
	t.slept = !spun
	t.hotRecord(spun)
	if spun {
		return true, at
	}
	ok := sleepWhile(t.state, v, t.sentrySleep, t.as.pid, t.tid, &c.interrupt, nil)
	return ok, arch.Rdtsc()
}

// stubAnswered adds how a hot thread's stub waited for the sentry's
// answer to its last event (seen at t.evAt) to the hot miss rate: while
// it spun, or after it slept.
func (t *thread) stubAnswered() {
	if t.evAt == 0 || t.hot == nil {
		return
	}
	t.hotRecord(t.stubBudget > 0 && load(t.stubSleep) == 0)
}

// calmBeforeBind is how many hand-offs in a row without spinning a thread
// waits before it binds again (a spinning thread is unbound), so that a
// thread at the edge does not pay two sched_setaffinity calls per spin.
const calmBeforeBind = 4

// Hot threads. A futex sleep on one side makes the other side's answer as
// slow as a wake-up, so neither side's spin pays until the other spins
// too. A thread whose events come fast (the application makes
// a syscall within a few µs of the sentry's answer, and the sentry answers
// within a few µs) therefore goes hot, and both sides spin together, each
// up to hotCapUS for every answer.
//
// The hot spin is as long as a wake-up costs, not a multiple of the
// recent answers: in a VM a futex wake-up of a thread whose CPU went idle
// waits for the hypervisor to run that vCPU again, 15–130 µs on the 2-vCPU
// VM this was tuned on (against a round trip of 0.3–0.7 µs when both
// spin), so a spin shorter than that which fails for an answer that came
// a few µs late (a host interrupt, the Go runtime, a syscall with more
// work) costs a wake-up on top of the wait. Spinning up to the wake-up's
// cost at most doubles a late answer's latency, the classic competitive
// bound. Budgets of 8× the recent answers (≤ 25 µs) missed often enough
// here to cool a getpid loop down a hundred times a second, and each cold
// period's round trips took 50–200 µs: patched getpid 1.2–1.5 µs, against
// 0.7–0.9 µs with the whole cap.
//
// A hot pair keeps two CPUs busy (one side spins while the other works),
// so a thread goes hot only with a lease (hotSlot) — at most half the
// sentry's CPUs, spinning slots included — and while sampleLoad sees the
// CPUs for the pair free of other programs' threads. It cools down (lease
// released, back to cold waits) when more than one in four recent
// spins of either side failed (the answer came only after a sleep), when
// other threads want the CPUs, or when its lease lapsed (the task did not
// come back for hotLeaseUS: blocked in the sentry, or gone). After cooling
// down with few hand-offs done, it may not go hot again for a back-off
// that doubles (hotBackoffUS up to hotBackoffMaxUS), so that a task whose
// spins keep failing spins a negligible share of its time.
const (
	// hotEnterUS: a thread goes hot when its average time from event to
	// event, in the cold state (wake-ups included), is below this.
	hotEnterUS = 200
	// hotCapUS is a hot wait's spin: about a wake-up's cost in a VM
	// (see above).
	hotCapUS = 100
	// hotLeaseUS is how long a hot lease lasts without a hand-off.
	hotLeaseUS = 2000
	// hotBackoffUS and hotBackoffMaxUS bound the back-off after a hot
	// period that did not pay.
	hotBackoffUS    = 1000
	hotBackoffMaxUS = 1000000
	// hotWarmup caps the event-time samples (and starts the average)
	// at hotWarmup × hotEnterUS, so that a thread goes hot only after
	// a dozen fast events.
	hotWarmup = 8
	// hotPaid is how many hand-offs a hot period needs to reset the
	// back-off.
	hotPaid = 4096
	// hotMaxMiss: a hot thread cools down when its spins' miss rate
	// (in 1/hitsOne, an average of weight 1/32) passes 1 in 4: after
	// about 10 failures in a row, or more than a quarter over a longer
	// run (a burst of failures, when the host preempts one side for a
	// moment, is no reason to stop).
	hotMaxMiss = hitsOne / 4
)

// hotSlot is a lease on a pair of CPUs for one hot thread. owner is the
// thread, until the TSC when the lease lapses unless renewed; a thread
// whose lease lapsed may find another owner (the lease is then the other
// thread's: it checks owner at each renewal).
type hotSlot struct {
	owner atomic.Pointer[thread]
	until atomic.Int64
	_     [48]byte // one cache line each
}

// hotHeld is the number of hot leases held at now.
func (p *Platform) hotHeld(now int64) int {
	n := 0
	for i := range p.hot {
		if p.hot[i].until.Load() >= now {
			n++
		}
	}
	return n
}

// hotRoom reports whether the host has CPUs for the hot pairs (held, plus
// the one that would enter if entering) besides the other threads that
// want one: entering tolerates half a thread of others on top, staying
// less than one, so that a thread at the edge does not flap.
func (p *Platform) hotRoom(now int64, entering bool) bool {
	p.sampleLoad(now, !entering)
	held := int64(p.hotHeld(now))
	need := p.others.Load() + 2*held*others1
	if entering {
		return need+2*others1 <= int64(p.ncpus)*others1+others1/2
	}
	return need < int64(p.ncpus+1)*others1
}

// enterHot makes t hot if a lease is free and the host has the CPUs.
func (t *thread) enterHot(now int64) bool {
	p := t.as.p
	if p.fixedSpin != 0 || len(p.hot) == 0 || !p.hotRoom(now, true) {
		t.hotRetry = now + hotBackoffUS*p.perUS
		return false
	}
	for i := range p.hot {
		s := &p.hot[i]
		if s.until.Load() >= now {
			continue
		}
		if o := s.owner.Load(); s.owner.CompareAndSwap(o, t) {
			s.until.Store(now + p.hotLease)
			t.hot = s
			t.hotMiss, t.hotRounds = 0, 0
			return true
		}
	}
	t.hotRetry = now + hotBackoffUS*p.perUS
	return false
}

// stayHot renews t's lease, or cools t down (see hotSlot); it reports
// whether t is still hot.
func (t *thread) stayHot(now int64) bool {
	p := t.as.p
	s := t.hot
	t.hotRounds++
	if s.owner.Load() == t && s.until.Load() >= now && t.hotMiss <= hotMaxMiss && p.hotRoom(now, false) {
		if s.until.Load()-now < p.hotLease/2 {
			s.until.Store(now + p.hotLease)
		}
		return true
	}
	t.coolDown(now)
	return false
}

// coolDown releases t's lease and sets the back-off before it may go hot
// again.
func (t *thread) coolDown(now int64) {
	s := t.hot
	if s == nil {
		return
	}
	p := t.as.p
	t.hot = nil
	if s.owner.Load() == t {
		s.until.Store(0)
	}
	if t.hotRounds >= hotPaid {
		t.hotBackoff = 0
	} else {
		t.hotBackoff = min(max(2*t.hotBackoff, hotBackoffUS*p.perUS), hotBackoffMaxUS*p.perUS)
	}
	t.hotRetry = now + t.hotBackoff
	// The event rate starts over as "slow": the thread is cold for a
	// reason.
	t.cycle = 0
}

// hotRecord adds a hot wait that ended while spinning, or not, to the miss
// rate.
func (t *thread) hotRecord(spun bool) {
	t.hotMiss -= t.hotMiss / 32
	if !spun {
		t.hotMiss += hitsOne / 32
	}
}
