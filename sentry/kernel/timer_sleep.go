package kernel

import (
	"time"
)

// cpuSleepPoll is how often a sleep on a CPU-time clock looks at the
// clock again (and makes the clock's tasks account their time).
const cpuSleepPoll = 4 * time.Millisecond

// SleepUntil blocks until clock c reads deadline or later (nanosleep,
// clock_nanosleep). It returns nil when the deadline is reached and
// ERESTARTSYS when the task is interrupted (a signal, or being killed);
// the caller then decides between EINTR and a restart.
func (t *Task) SleepUntil(c Clock, deadline int64) error {
	var tm *time.Timer
	defer func() {
		if tm != nil {
			tm.Stop()
		}
	}()
	for {
		if t.killed.Load() {
			return ERESTARTSYS
		}
		now := c.Now()
		if now >= deadline {
			return nil
		}
		d := time.Duration(deadline - now)
		if c.IsCPU() {
			// CPU time can only be polled; the tasks that own the clock
			// are interrupted so that their running time is counted.
			if d > cpuSleepPoll {
				d = cpuSleepPoll
			}
			c.kick()
		}
		if tm == nil {
			tm = time.NewTimer(d)
		} else {
			tm.Reset(d)
		}
		select {
		case <-tm.C:
			// Host clocks: the Go timer runs on CLOCK_MONOTONIC, so loop
			// to check the sleep's own clock.
		case <-t.interruptCh:
			return ERESTARTSYS
		}
	}
}

// kick interrupts the tasks whose CPU time c counts and that run
// application code, so that the run loop accounts their time.
func (c Clock) kick() {
	if c.t != nil {
		c.t.k.mu.Lock()
		if ctx := c.t.ctx; ctx != nil {
			ctx.Interrupt()
		}
		c.t.k.mu.Unlock()
		return
	}
	k := c.tg.k
	k.mu.Lock()
	for t := range c.tg.tasks {
		if ctx := t.ctx; ctx != nil {
			ctx.Interrupt()
		}
	}
	k.mu.Unlock()
}
