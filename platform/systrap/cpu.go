//go:build linux && amd64

package systrap

import "golang.org/x/sys/unix"

// A wake-up of a thread on another CPU costs an inter-processor interrupt,
// several microseconds in a VM, while a wake-up on the waker's own CPU,
// which then sleeps, is a plain context switch. Unless the platform spins
// (Options.Spin), each application thread is bound to the CPU its sentry
// thread last ran on.

// rdtscpCPU is implemented in stub_amd64.s. Every x86-64 CPU with FSGSBASE
// has RDTSCP.
func rdtscpCPU() uint32

// noCPU marks a thread not bound yet.
const noCPU = ^uint32(0)

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
