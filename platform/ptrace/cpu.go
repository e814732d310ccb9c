//go:build linux && amd64

package ptrace

import (
	"golang.org/x/sys/unix"
)

// A ptrace round trip wakes the tracee and then the tracer. When both run on
// the same CPU these are cheap local wake-ups; across CPUs each costs an
// inter-processor interrupt, which in a VM is several microseconds. So each
// stub thread is bound to the CPU its tracer last ran on, and rebound when
// the tracer moves (rarely: the tracer is a locked OS thread).

// hasRDTSCP and rdtscpCPU are implemented in stub_amd64.s.
func hasRDTSCP() bool
func rdtscpCPU() uint32

// noCPU marks a stub thread not bound yet.
const noCPU = ^uint32(0)

// currentCPU returns the CPU the calling thread runs on.
func (p *Platform) currentCPU() uint32 {
	if p.rdtscp {
		return rdtscpCPU()
	}
	return getcpu()
}

// bindTo binds tid to cpu, ignoring failures (a cpuset may forbid it; the
// binding is only a performance hint).
func bindTo(tid int32, cpu uint32) {
	var set unix.CPUSet
	set.Set(int(cpu))
	unix.SchedSetaffinity(int(tid), &set)
}
