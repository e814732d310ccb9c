package boot

import (
	"github.com/rampart-sandbox/rampart/sentry/control"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Limits are the container's limits the sentry enforces (the control
// protocol's form, which runsc update sends too).
type Limits = control.Limits

// applyLimits makes the kernel enforce the container's limits (the part
// of linux.resources that the sentry accounts itself: application memory
// and tasks). Nil fields are left as they are.
func applyLimits(k *kernel.Kernel, l *Limits) {
	if l == nil {
		return
	}
	if l.MemoryBytes != nil {
		k.SetMemoryLimit(*l.MemoryBytes)
	}
	if l.Pids != nil {
		k.SetPidsLimit(*l.Pids)
	}
}

// update serves control.CmdUpdate (runsc update): new limits for the
// running container.
func (s *sandbox) update(r control.Request) control.Response {
	if r.Limits == nil {
		return control.Response{Error: "update without limits"}
	}
	applyLimits(s.k, r.Limits)
	return control.Response{}
}
