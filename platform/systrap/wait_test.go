//go:build linux && amd64

package systrap

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// us is a microsecond in the ticks of policyPlatform.
const us = 1000

// policyPlatform is a platform with only the spinning slots set.
func policyPlatform() *Platform {
	p := &Platform{maxSpinners: 1, ncpus: 2}
	p.loadNext.Store(1 << 62) // never read the host's load
	return p
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
}

// TestHostBusy: a host whose other threads leave no CPU free gets no
// spinning; the platform's own hot pairs do not count as others.
func TestHostBusy(t *testing.T) {
	for _, tc := range []struct {
		others float64
		ncpus  int
		busy   bool
	}{
		{0, 2, false}, {0.9, 2, false}, {1.1, 2, true}, {20, 2, true},
		{0, 1, false}, {0.1, 1, true}, {6.5, 8, false}, {7.5, 8, true},
	} {
		p := policyPlatform()
		p.ncpus = tc.ncpus
		p.others.Store(int64(tc.others * others1))
		if got := p.hostBusy(); got != tc.busy {
			t.Errorf("%.1f other threads on %d CPUs: busy %v, want %v", tc.others, tc.ncpus, got, tc.busy)
		}
	}
	p := policyPlatform()
	p.others.Store(2 * others1)
	if p.acquireSpin() || p.mayGrantSpin() {
		t.Error("spinning on a busy host")
	}
}

func TestParseRunning(t *testing.T) {
	for _, tc := range []struct {
		in string
		n  int64
		ok bool
	}{
		{"0.50 0.40 0.30 3/245 12345\n", 3, true},
		{"14.88 14.92 14.84 16/212 1996\n", 16, true},
		{"0.00 0.00 0.00 /1 1\n", 0, false},
		{"garbage", 0, false},
	} {
		n, ok := parseRunning([]byte(tc.in))
		if n != tc.n || ok != tc.ok {
			t.Errorf("parseRunning(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
		}
	}
	if fd := procLoadavg(); fd >= 0 {
		if n, ok := readRunning(fd); !ok || n < 1 {
			t.Errorf("runnable threads in /proc/loadavg: %d, %v (this one runs)", n, ok)
		}
	}
}

// hotPlatform is policyPlatform with the hot-mode bounds set, 2 CPUs
// (one hot lease) and no other thread on the host.
func hotPlatform() *Platform {
	p := policyPlatform()
	p.hot = make([]hotSlot, p.maxSpinners)
	p.hotEnter, p.hotCap, p.hotLease, p.perUS = hotEnterUS*us, hotCapUS*us, hotLeaseUS*us, us
	return p
}

// TestHotLease: one lease on 2 CPUs; a second thread cannot go hot while
// the first holds it, and takes it once it lapsed; the first then finds
// itself cold.
func TestHotLease(t *testing.T) {
	p := hotPlatform()
	as := &addressSpace{p: p}
	a, b := &thread{as: as}, &thread{as: as}
	now := arch.Rdtsc() // mayGrantSpin reads the TSC
	if !a.enterHot(now) {
		t.Fatal("a did not go hot on an idle host")
	}
	if b.enterHot(now + us) {
		t.Fatal("b went hot while a holds the only lease")
	}
	if p.hotHeld(now) != 1 || p.mayGrantSpin() {
		t.Error("a hot pair left room for a cold spinner on 2 CPUs")
	}
	if !a.stayHot(now + 10*us) {
		t.Fatal("a cooled down with no reason")
	}
	later := now + 10*us + p.hotLease + us
	if !b.enterHot(later) {
		t.Fatal("b did not take a lapsed lease")
	}
	if a.stayHot(later + us) {
		t.Error("a still hot after b took its lease")
	}
	b.coolDown(later + 2*us)
	if p.hotHeld(later+3*us) != 0 {
		t.Error("lease not released by coolDown")
	}
}

// TestHotLoad: no thread goes hot, and a hot one cools down, when other
// threads want the CPUs the pair needs.
func TestHotLoad(t *testing.T) {
	p := hotPlatform()
	as := &addressSpace{p: p}
	a := &thread{as: as}
	now := int64(1000 * us)
	p.others.Store(others1) // one busy thread: no room for a pair on 2 CPUs
	if a.enterHot(now) {
		t.Fatal("went hot with one CPU taken")
	}
	if a.hotRetry <= now {
		t.Error("no back-off after a refusal")
	}
	p.others.Store(0)
	if !a.enterHot(a.hotRetry) {
		t.Fatal("did not go hot on an idle host")
	}
	p.others.Store(2 * others1)
	if a.stayHot(a.hotRetry + us) {
		t.Error("stayed hot with both CPUs wanted by others")
	}
	if p.hotHeld(a.hotRetry) != 0 {
		t.Error("lease kept")
	}
}

// TestHotMisses: spins that keep failing cool a thread down within a
// handful of waits, and the back-off before it goes hot again doubles;
// spins that mostly succeed keep it hot.
func TestHotMisses(t *testing.T) {
	p := hotPlatform()
	as := &addressSpace{p: p}
	a := &thread{as: as}
	now := int64(1000 * us)
	if !a.enterHot(now) {
		t.Fatal("did not go hot")
	}
	for i := 0; i < 1000; i++ {
		a.hotRecord(i%10 != 0) // 1 miss in 10
		now += us
		if !a.stayHot(now) {
			t.Fatalf("cooled down after %d waits with 1 miss in 10", i)
		}
	}
	n := 0
	for a.hot != nil && n < 100 {
		a.hotRecord(false)
		now += us
		a.stayHot(now)
		n++
	}
	if n > 12 {
		t.Errorf("%d failed spins in a row before cooling down", n)
	}
	// The period was long: no back-off at first; then short failing
	// periods double it.
	var last int64
	for i := 0; i < 5; i++ {
		now = max(now, a.hotRetry)
		if !a.enterHot(now) {
			t.Fatalf("round %d: did not go hot again", i)
		}
		for a.hot != nil {
			a.hotRecord(false)
			now += us
			a.stayHot(now)
		}
		if i > 0 && a.hotBackoff != min(2*last, hotBackoffMaxUS*us) {
			t.Errorf("round %d: back-off %d, want %d", i, a.hotBackoff, 2*last)
		}
		last = a.hotBackoff
	}
}

// fakeThread is a thread of as whose state page is plain memory: the
// hand-off words without a stub behind them. Its host thread is the test
// process' main thread, which the liveness check of a wait longer than
// livenessPeriod (a loaded host) finds alive: with tid 0 it took the
// thread for a server and reaped through a nil pointer.
func fakeThread(as *addressSpace) *thread {
	page := make([]byte, pageSize)
	if as.pid == 0 {
		as.pid = int32(unix.Getpid())
	}
	return &thread{as: as, tid: as.pid, page: page, state: word(page, tState), stubSleep: word(page, tStubSleep), sentrySleep: word(page, tSentrySleep)}
}

// TestHotTrapOut: a hot thread spins for its stub's trap out of the
// patch trampoline (a signal delivered after a patched syscall) on its
// own lease, without a cold spinning slot, which a held lease leaves none
// of on 2 CPUs: it waited through trapPol and acquireSpin before, always
// slept there, and cooled down within a few signal round trips.
func TestHotTrapOut(t *testing.T) {
	p := hotPlatform()
	as := &addressSpace{p: p}
	a := fakeThread(as)
	c := &context{p: p}
	now := arch.Rdtsc()
	if !a.enterHot(now) {
		t.Fatal("did not go hot")
	}
	if p.acquireSpin() {
		p.releaseSpin()
		// The lease lasts 2 ms of the host's clock: a test descheduled
		// for longer (a loaded CI host, as on 2026-12-04) sees it lapse
		// and the slot free, which is right.
		if arch.Rdtsc()-now <= p.hotLease {
			t.Fatal("a cold spinning slot is free beside a hot pair on 2 CPUs")
		}
	}
	for i := 0; i < 1000; i++ {
		a.slept = true
		swap(a.state, stEvent) // the stub trapped out at once
		if !a.waitTrap(c, true) {
			t.Fatal("waitTrap: the thread died")
		}
		if a.slept {
			t.Fatalf("trap out %d: the sentry slept for an answer that was there", i)
		}
		// One trap out per microsecond: the host's clock would let a
		// test descheduled for longer than the lease (a loaded CI host)
		// see it lapse, which is not what this checks.
		now += us
		if !a.stayHot(now) {
			t.Fatalf("cooled down after %d trap outs answered at once", i)
		}
	}
	if load(a.sentrySleep) != 0 || p.spinners.Load() != 0 {
		t.Error("sleep flag or a cold spinning slot left set")
	}
}

// answer starts the application of fake thread a, spinning as a hot stub
// does: it answers each hand-off at once, or 30 µs late while *late (if
// late is not nil) is set. It returns once the goroutine runs; the
// function it returns stops it.
func answer(a *thread, late *atomic.Bool) (stop func()) {
	var halt, running atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for running.Store(true); !halt.Load(); {
			if load(a.state) != stRun {
				continue
			}
			if late != nil && late.Load() {
				for d := arch.Rdtsc() + 30*us; arch.Rdtsc() < d; {
				}
			}
			swap(a.state, stEvent)
			if load(a.sentrySleep) != 0 {
				futexWake(a.state)
			}
		}
	}()
	for !running.Load() {
		runtime.Gosched()
	}
	return func() { halt.Store(true); <-done }
}

// TestHotBudgets: a hot hand-off gives the stub the whole cap for both of
// its waits, and the sentry spins the whole cap for the application's
// answer, however fast recent answers were: here an answer 30 µs late, far
// more than the recent ones, is caught by the spin instead of a sleep (a
// wake-up costs more than the cap in a VM).
func TestHotBudgets(t *testing.T) {
	p := hotPlatform()
	as := &addressSpace{p: p}
	a := fakeThread(as)
	a.cpu = noCPU
	c := &context{p: p}
	var late atomic.Bool
	defer answer(a, &late)()
	// A sleep on this host's side (the Go scheduler, a host preemption)
	// may cool the thread down: go hot again (past the back-off), as
	// often as needed. The spin must catch most late answers, not one
	// by luck (a spin of a tenth of the cap caught one in about 200, by
	// some scheduling fluke): a window of lateRounds late answers passes
	// when at least half of them were caught. A loaded host (CI runs test
	// binaries side by side on 2 CPUs) may deschedule the answering
	// goroutine through every spin for a while (once, all 200 late
	// answers of a fixed 2000 rounds slept): windows are tried for up to
	// 20 s.
	const lateRounds = 20
	caught, lates, best := 0, 0, 0
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if a.hot == nil {
			a.hotRetry = 0
			if !a.enterHot(arch.Rdtsc()) {
				t.Fatal("did not go hot")
			}
		}
		l := i%10 == 9
		late.Store(l)
		if !a.handOff(c) {
			t.Fatal("handOff: the thread died")
		}
		if a.hot == nil {
			continue
		}
		if got := int64(*word(a.page, tSpin)); got != p.hotCap {
			t.Fatalf("stub budget %d ticks, want the cap %d", got, p.hotCap)
		}
		if got := int64(*word(a.page, tSpinWoke)); got != p.hotCap {
			t.Fatalf("stub budget after a wake-up %d ticks, want the cap %d", got, p.hotCap)
		}
		if !l {
			continue
		}
		lates++
		if !a.slept {
			caught++
		}
		if lates == lateRounds {
			best = max(best, caught)
			if 2*caught >= lateRounds {
				return
			}
			caught, lates = 0, 0
		}
	}
	t.Errorf("the sentry's spin caught at most %d of %d answers 30 µs late in a window", best, lateRounds)
}

// TestColdBudgets: a thread that is not hot gives its stub no spin budget
// (the stub sleeps at once, on the CPU it is bound to, while the sentry
// answers), however fast the answers come and whatever spinning slots are
// free; forced spinning (Options.Spin > 0) gives both of the stub's waits
// the fixed budget.
func TestColdBudgets(t *testing.T) {
	p := policyPlatform()
	as := &addressSpace{p: p}
	a := fakeThread(as)
	a.cpu = noCPU
	c := &context{p: p}
	defer answer(a, nil)()
	if !p.mayGrantSpin() {
		t.Fatal("no spinning slot free on an idle 2-CPU platform")
	}
	for i := 0; i < 200; i++ {
		if !a.handOff(c) {
			t.Fatal("handOff: the thread died")
		}
		if a.hot != nil {
			t.Fatal("went hot without a lease")
		}
		if s, w := *word(a.page, tSpin), *word(a.page, tSpinWoke); s != 0 || w != 0 {
			t.Fatalf("hand-off %d: cold stub budgets %d, %d ticks, want 0", i, s, w)
		}
	}
	p.fixedSpin = 7 * us
	if !a.handOff(c) {
		t.Fatal("handOff: the thread died")
	}
	if s, w := int64(*word(a.page, tSpin)), int64(*word(a.page, tSpinWoke)); s != p.fixedSpin || w != p.fixedSpin {
		t.Errorf("forced stub budgets %d, %d ticks, want %d", s, w, p.fixedSpin)
	}
	if n := p.spinners.Load(); n != 0 {
		t.Errorf("%d spinning slots left taken", n)
	}
}
