//go:build linux && amd64

package systrap

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A hand-off between a task's sentry thread and its stub thread either
// sleeps on a futex (a wake-up costs the waker a futex syscall and the
// sleeper a trip through the scheduler, several microseconds in a VM) or
// spins, which answers in a fraction of a microsecond but needs both
// threads on CPUs of their own. The platform spins only while that pays:
// see spinPolicy (wait.go) for the per-thread bounds, and spinners for the
// sentry-wide cap on spinning threads.
//
// While a thread does not spin, it is bound to the CPU its sentry thread
// last ran on: a wake-up on the waker's own CPU, which then sleeps, is a
// plain context switch, while one on another CPU costs an inter-processor
// interrupt. A thread that spins is unbound, or the two would share a CPU.

// rdtscpCPU is implemented in stub_amd64.s. Every x86-64 CPU with FSGSBASE
// has RDTSCP.
func rdtscpCPU() uint32

// rdtsc and spinWhile are implemented in cpu_amd64.s.
func rdtsc() int64
func spinWhile(w *uint32, v uint32, deadline int64) bool

// noCPU marks a thread not bound yet.
const noCPU = ^uint32(0)

// tscPerUS is the time-stamp counter's rate in ticks per microsecond,
// measured once (the spin bounds are in ticks; the stub has no other
// clock). Linux requires an invariant TSC for its own clock on the hosts
// systrap runs on (FSGSBASE CPUs).
var (
	tscOnce  sync.Once
	tscPerUS int64
)

// calibrateTSC measures tscPerUS against CLOCK_MONOTONIC over 0.5 ms
// (a busy wait, once per process: the error is far below what the spin
// bounds need).
func calibrateTSC() int64 {
	tscOnce.Do(func() {
		t0, n0 := rdtsc(), time.Now()
		for time.Since(n0) < 500*time.Microsecond {
		}
		t1, d := rdtsc(), time.Since(n0)
		tscPerUS = max((t1-t0)*int64(time.Microsecond)/int64(d), 1)
	})
	return tscPerUS
}

// spinCPUs is how many CPUs the sentry may use: GOMAXPROCS, or fewer if
// its affinity mask allows fewer.
func spinCPUs() int {
	n := runtime.GOMAXPROCS(0)
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil {
		n = min(n, set.Count())
	}
	return n
}

// loadPeriodUS is how often the host's load average is read.
const loadPeriodUS = 100000

// hostBusy reports whether the host had no CPU free over the last minute
// (its 1-minute load average, read with sysinfo at most every
// loadPeriodUS): then nothing spins (unless Options.Spin asks for fixed
// spins), as a spinner would take the CPU that the other side of its
// hand-off, or another program, needs.
func (p *Platform) hostBusy() bool {
	if p.fixedSpin > 0 {
		return false // the user asked for spinning
	}
	now := rdtsc()
	next := p.loadNext.Load()
	if now >= next && p.loadNext.CompareAndSwap(next, now+loadPeriodUS*tscPerUS) {
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			p.busy.Store(loadBusy(si.Loads[0], p.ncpus))
		}
	}
	return p.busy.Load()
}

// loadBusy reports whether a 1-minute load average load1 (fixed point,
// 1<<16 = 1) leaves less than one of ncpus CPUs free.
func loadBusy(load1 uint64, ncpus int) bool {
	return load1+1<<16 > uint64(ncpus)<<16
}

// acquireSpin reserves one of the platform's spinning slots. A spinning
// thread needs a CPU of its own while the other side of its hand-off needs
// another, so at most half the CPUs spin, and none on a busy host.
func (p *Platform) acquireSpin() bool {
	if p.hostBusy() {
		return false
	}
	for {
		n := p.spinners.Load()
		if n >= p.maxSpinners {
			return false
		}
		if p.spinners.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (p *Platform) releaseSpin() { p.spinners.Add(-1) }

// mayGrantSpin reports whether a free spinning slot is left now.
func (p *Platform) mayGrantSpin() bool {
	return p.spinners.Load() < p.maxSpinners && !p.hostBusy()
}

// bind binds t to the calling thread's CPU if it is not there already.
func (t *thread) bind() {
	cpu := rdtscpCPU()
	if cpu == t.cpu {
		return
	}
	t.cpu = cpu
	var set unix.CPUSet
	set.Set(int(cpu))
	unix.SchedSetaffinity(int(t.tid), &set)
}

// unbind lets t run on any of the sentry's CPUs again.
func (t *thread) unbind() {
	if t.cpu == noCPU {
		return
	}
	t.cpu = noCPU
	unix.SchedSetaffinity(int(t.tid), &t.as.p.cpus)
}
