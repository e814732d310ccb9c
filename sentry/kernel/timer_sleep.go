package kernel

import (
	"time"
)

// cpuSleepPoll is how often a sleep on a CPU-time clock looks at the
// clock again.
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
		if c.IsCPU() && d > cpuSleepPoll {
			// CPU time can only be polled.
			d = cpuSleepPoll
		}
		if tm == nil {
			tm = time.NewTimer(d)
		} else {
			tm.Reset(d)
		}
		t.blockStart()
		select {
		case <-tm.C:
			// Host clocks: the Go timer runs on CLOCK_MONOTONIC, so loop
			// to check the sleep's own clock.
		case <-t.interruptCh:
			t.blockEnd()
			return ERESTARTSYS
		}
		t.blockEnd()
	}
}
