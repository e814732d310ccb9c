package kernel

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// containerLimits are the container's resource limits that the sentry
// enforces itself, as the host's cgroup controllers would for a native
// container (runsc update changes them at run time).
type containerLimits struct {
	// pids is the most live tasks the container may have (Linux's pids
	// controller: pids.max); 0 means none.
	pids atomic.Int64
	// oomStarted is set once the OOM killer goroutine runs.
	oomStarted atomic.Bool
	// containerPids are the pids limits of the containers of a pod
	// (container.go) that have one, by id: the most live tasks of that
	// container, under the sandbox's own limit above. Protected by
	// Kernel.mu.
	containerPids map[string]int64
}

// SetPidsLimit sets the most tasks (threads) the container may have; fork
// and clone fail with EAGAIN past it (Linux: the pids controller). n <= 0
// removes the limit. Tasks that already exist are not touched.
func (k *Kernel) SetPidsLimit(n int64) {
	if n < 0 {
		n = 0
	}
	k.limits.pids.Store(n)
}

// PidsLimit returns the limit SetPidsLimit set (0: none).
func (k *Kernel) PidsLimit() int64 { return k.limits.pids.Load() }

// SetContainerPidsLimit sets the most tasks container id (ThreadGroup.
// Container, not the sandbox's own "") may have, as SetPidsLimit does for
// the sandbox: the pids controller of a pod member's cgroup, nested in
// the pod's. n <= 0 removes it.
func (k *Kernel) SetContainerPidsLimit(id string, n int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n <= 0 {
		delete(k.limits.containerPids, id)
		return
	}
	if k.limits.containerPids == nil {
		k.limits.containerPids = map[string]int64{}
	}
	k.limits.containerPids[id] = n
}

// ContainerPidsLimit returns the limit SetContainerPidsLimit set for
// container id (0: none).
func (k *Kernel) ContainerPidsLimit(id string) int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.limits.containerPids[id]
}

// pidsLimitReachedLocked reports whether a new task of container would
// exceed the sandbox's pids limit or the container's. k.mu must be held
// (the count and the insertion of the new task are then atomic, so
// racing forks cannot overshoot).
func (k *Kernel) pidsLimitReachedLocked(container string) bool {
	n := k.limits.pids.Load()
	if n > 0 && int64(len(k.root.tasks)) >= n {
		return true
	}
	n = k.limits.containerPids[container]
	if n <= 0 {
		return false
	}
	var have int64
	for _, t := range k.root.tasks {
		if t.tg.container == container {
			have++
		}
	}
	return have >= n
}

// SetMemoryLimit limits the application's memory (the memory file's
// allocation) to bytes, 0 meaning none, and starts the OOM killer: when
// an allocation is refused, the process with the most resident memory is
// killed with SIGKILL (Linux's memory cgroup OOM killer), and the
// allocating access is retried.
func (k *Kernel) SetMemoryLimit(bytes uint64) {
	k.MemoryFile.SetLimit(bytes)
	if !k.limits.oomStarted.Swap(true) {
		go k.oomKiller()
	}
}

// oomKiller runs for the sandbox's lifetime, woken by the memory file.
func (k *Kernel) oomKiller() {
	for range k.MemoryFile.OOM() {
		v := k.oomVictim()
		if v == nil {
			continue
		}
		k.Warnf("memory limit reached (%d bytes): killed process %d (%s), resident %d bytes",
			k.MemoryFile.Limit(), v.tg.pid, v.comm, v.rss)
		k.SendSignal(v.tg, int(unix.SIGKILL), nil)
		// Wait until the victim has exited and its memory is back, so
		// that the allocations that failed meanwhile do not claim a
		// second victim.
		for i := 0; i < 400; i++ {
			st := v.tg.State()
			if st.Zombie || st.Reaped {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		select {
		case <-k.MemoryFile.OOM():
		default:
		}
	}
}

type oomCandidate struct {
	tg   *ThreadGroup
	comm string
	rss  uint64
}

// oomVictim returns the live process with the most resident memory
// (ties: the newest), or nil.
func (k *Kernel) oomVictim() *oomCandidate {
	type cand struct {
		tg   *ThreadGroup
		mm   *mm.MemoryManager
		comm string
	}
	k.mu.Lock()
	var cands []cand
	for _, tg := range k.root.groups {
		if tg.exiting || tg.zombie {
			continue
		}
		for t := range tg.tasks {
			if t.mm != nil {
				cands = append(cands, cand{tg, t.mm, t.comm})
				break
			}
		}
	}
	k.mu.Unlock()
	var best *oomCandidate
	for _, c := range cands {
		rss := c.mm.ResidentSize()
		if best == nil || rss > best.rss || (rss == best.rss && c.tg.pid > best.tg.pid) {
			best = &oomCandidate{tg: c.tg, comm: c.comm, rss: rss}
		}
	}
	return best
}
