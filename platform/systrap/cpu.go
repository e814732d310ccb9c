//go:build linux && amd64

package systrap

import (
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// A hand-off between a task's sentry thread and its stub thread either
// sleeps on a futex (a wake-up costs the waker a futex syscall and the
// sleeper a trip through the scheduler, several microseconds in a VM) or
// spins, which answers in a fraction of a microsecond but needs both
// threads on CPUs of their own. The platform spins only for hot threads,
// whose events come within microseconds of each other (wait.go), and
// around a new thread's set-up; spinners and the hot leases cap the
// spinning threads sentry-wide.
//
// While a thread does not spin, it is bound to the CPU its sentry thread
// last ran on: a wake-up on the waker's own CPU, which then sleeps, is a
// plain context switch, while one on another CPU costs an inter-processor
// interrupt. A thread that spins is unbound, or the two would share a CPU.

// currentCPU returns the CPU the calling thread runs on; it is
// implemented in stub_amd64.s.
func currentCPU() uint32

// spinWhile is implemented in cpu_amd64.s (the TSC itself is
// arch.Rdtsc). now is the caller's last TSC reading, returned as last if
// the loop reads none: a spin that ends tells its caller the time
// without another RDTSC (hot hand-offs time every event).
func spinWhile(w *uint32, v uint32, now, deadline int64) (changed bool, last int64)

// boundCPU is the CPU a stub's host thread (an application thread, or a
// server) is bound to, or noCPU. Its owner serialises bindHere and unbind.
type boundCPU uint32

// noCPU marks a thread not bound (or not yet).
const noCPU = ^boundCPU(0)

// bindHere binds host thread tid to the calling thread's CPU, unless b
// says it is there already (one sched_setaffinity only when that changed).
func (b *boundCPU) bindHere(tid int32) {
	cpu := boundCPU(currentCPU())
	if cpu == *b {
		return
	}
	*b = cpu
	var set unix.CPUSet
	set.Set(int(cpu))
	unix.SchedSetaffinity(int(tid), &set)
}

// unbind lets host thread tid run on any of cpus again.
func (b *boundCPU) unbind(tid int32, cpus *unix.CPUSet) {
	if *b == noCPU {
		return
	}
	*b = noCPU
	unix.SchedSetaffinity(int(tid), cpus)
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

// loadPeriodUS is how often the host's load is sampled.
const loadPeriodUS = 4000

// others1 is one thread of "others" in the fixed point of
// Platform.others.
const others1 = 256

// OpenHostLoad opens /proc/loadavg for the spin policy, if it is not open
// yet. The sandbox calls it before its fence takes /proc away (New, which
// comes after the fence, calls it too, for other users).
func OpenHostLoad() { procLoadavg() }

// procLoadavg returns a descriptor of /proc/loadavg, whose fourth field
// counts the host's runnable threads now (nr_running, over all CPUs), or
// -1 if /proc was not there (then the 1-minute load average, from sysinfo,
// stands in). It is opened once per process and never closed: a sample in
// flight never reads a descriptor reused for something else.
func procLoadavg() int {
	loadOnce.Do(func() {
		loadFD = -1
		if fd, err := unix.Open("/proc/loadavg", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			loadFD = fd
		}
	})
	return loadFD
}

var (
	loadOnce sync.Once
	loadFD   int
)

// sampleLoad refreshes the estimate of how many threads of other programs
// (and of the sentry's other work) want a CPU, at most every
// loadPeriodUS, by whichever caller comes first: the host's runnable
// count minus the platform's own share at that moment (the sampling
// thread, unless it is one of the hot pairs, and two threads per hot
// pair: one side spins while the other works), averaged with weight 1/4
// (so a program that starts or stops is seen within about 20 ms, while one
// sample's noise is damped). selfHot says whether the caller is a hot
// thread's sentry thread. No allocation; one pread64 per period.
func (p *Platform) sampleLoad(now int64, selfHot bool) {
	next := p.loadNext.Load()
	if now < next || !p.loadNext.CompareAndSwap(next, now+loadPeriodUS*p.perUS) {
		return
	}
	own := 2 * int64(p.hotHeld(now))
	if !selfHot {
		own++
	}
	var others int64
	if n, ok := readRunning(p.loadFD); ok {
		others = max(n-own, 0) * others1
	} else {
		// The 1-minute load average lags, and counts what the platform
		// itself spun a minute ago: the fallback only keeps spinning off
		// on a host that stays busy.
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) != nil {
			return
		}
		others = max(int64(si.Loads[0]>>8)-(own-1)*others1, 0)
	}
	avg := p.others.Load()
	p.others.Store(avg + (others-avg)/4)
}

// readRunning reads the runnable count ("R/T", the fourth field) from
// /proc/loadavg open on fd.
func readRunning(fd int) (int64, bool) {
	if fd < 0 {
		return 0, false
	}
	var buf [128]byte
	n, err := unix.Pread(fd, buf[:], 0)
	if err != nil || n <= 0 {
		return 0, false
	}
	return parseRunning(buf[:n])
}

// parseRunning parses the runnable count in the text of /proc/loadavg
// ("0.50 0.40 0.30 3/245 12345").
func parseRunning(b []byte) (int64, bool) {
	slash := -1
	for i, c := range b {
		if c == '/' {
			slash = i
			break
		}
	}
	if slash <= 0 {
		return 0, false
	}
	var n, mul int64 = 0, 1
	i := slash - 1
	for ; i >= 0 && b[i] >= '0' && b[i] <= '9'; i-- {
		n += int64(b[i]-'0') * mul
		mul *= 10
	}
	if i == slash-1 {
		return 0, false
	}
	return n, true
}

// hostBusy reports whether a spin outside a hot lease may not start: the
// other programs' threads and the hot pairs leave less than one CPU free
// (see sampleLoad). A spinner there takes the CPU that the other side of
// its hand-off, or another program, needs. Fixed spins (Options.Spin > 0)
// ignore it.
func (p *Platform) hostBusy() bool {
	if p.fixedSpin > 0 {
		return false // the user asked for spinning
	}
	now := arch.Rdtsc()
	p.sampleLoad(now, false)
	return p.others.Load()+int64(2*p.hotHeld(now)+1)*others1 > int64(p.ncpus)*others1
}

// acquireSpin reserves one of the platform's spinning slots for a spin
// outside a hot lease (forced spinning, a new thread's set-up). A spinning thread needs a CPU of its own while the other side of
// its hand-off needs another, so at most half the CPUs spin (hot pairs
// included), and none on a busy host.
func (p *Platform) acquireSpin() bool {
	if p.hostBusy() {
		return false
	}
	limit := p.maxSpinners - int32(p.hotHeld(arch.Rdtsc()))
	for {
		n := p.spinners.Load()
		if n >= limit {
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
	return p.spinners.Load()+int32(p.hotHeld(arch.Rdtsc())) < p.maxSpinners && !p.hostBusy()
}

// bind binds t to the calling thread's CPU if it is not there already.
func (t *thread) bind() { t.cpu.bindHere(t.tid) }

// unbind lets t run on any of the sentry's CPUs again.
func (t *thread) unbind() { t.cpu.unbind(t.tid, &t.as.p.cpus) }
