//go:build linux && amd64

package systrap

import (
	"slices"
	"time"
)

// Stopping an address space's application threads, for the rewrites of
// application code that take two steps: a patched syscall site across two
// 16-byte blocks (see patcher.rewrite), written, or restored, one block at
// a time. A thread that ran those bytes between the steps would decode a
// mix of old and new code; while the address space is stopped, none of
// its threads runs application code.
//
// A context publishes the thread it is about to run (context.running)
// before it reads addressSpace.stopping, and a stopper sets stopping
// before it reads the contexts' running words (all sequentially
// consistent), so either the thread sees the stop and waits in Switch
// (waitStop) or the stopper sees the thread and interrupts it:
// interruptSignal parks its stub thread, Switch returns EventInterrupted,
// which the task takes as a spurious interrupt, and its next Switch waits
// until the stop ends. A thread stopped with its rip at a site's old
// syscall instruction (between the mov and the syscall) meets the patch's
// int3 there, which jumpedSite turns into the syscall it was about to
// make.

// stopWait bounds how long stopOthers waits for the threads to park: an
// application can make a host thread deaf to interruptSignal only with a
// forged signal frame (see thread.run), and then its own code may be left
// unpatched, or, for a restore that must happen, restored under it.
const stopWait = 20 * time.Millisecond

// stopPoll is how often stopOthers looks at the running threads again.
const stopPoll = 50 * time.Microsecond

// stopOthers keeps as's threads out of application code until resume,
// which the caller must call whatever it returns; it reports whether they
// all left within stopWait. The caller's own thread, if it has one in
// as, is in the sentry (its Switch returned). It may be called with the
// memory manager's lock held, not with Platform.ctxMu.
func (as *addressSpace) stopOthers() bool {
	as.stopMu.Lock()
	as.stopping.Store(1)
	p := as.p
	// kicked are the host threads signalled so far, once each: a thread
	// already parked with the signal pending gets it when it next runs
	// (a spurious interrupt), and one that did not answer is deaf.
	var kicked []int32
	deadline := time.Now().Add(stopWait)
	for {
		busy := false
		p.ctxMu.Lock()
		for c := range p.ctxs {
			r := c.running.Load()
			if r == 0 || int32(r>>32) != as.pid {
				continue
			}
			busy = true
			if tid := int32(uint32(r)); !slices.Contains(kicked, tid) {
				tgkill(as.pid, tid, interruptSignal)
				kicked = append(kicked, tid)
			}
		}
		p.ctxMu.Unlock()
		if !busy {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(stopPoll)
	}
}

// resume ends stopOthers' stop.
func (as *addressSpace) resume() {
	as.stopping.Store(0)
	as.stopMu.Unlock()
}

// waitStop waits until the stop under way, if any, ends: the stopper
// holds stopMu for writing until then.
func (as *addressSpace) waitStop() {
	as.stopMu.RLock()
	as.stopMu.RUnlock()
}
