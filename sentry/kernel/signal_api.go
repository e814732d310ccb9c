package kernel

import (
	"github.com/rampart-sandbox/rampart/abi"
)

// The signal-sending entry points every part of the sentry uses. Callers
// build the siginfo; the kernel fills nothing in except what Linux's own
// senders would (it never rewrites si_code).
//
// Placeholder implementations: until signal delivery lands they fall back
// to SendSignal's default-action handling.

// SendSignalToTask queues info for t alone: tkill/tgkill,
// rt_tgsigqueueinfo, SIGEV_THREAD_ID timers. It returns EINVAL for a bad
// signal number and nil when t has already exited (like Linux, silently).
func (k *Kernel) SendSignalToTask(t *Task, info *abi.SignalInfo) error {
	if !ValidSignal(int(info.Signo)) {
		return errInvalidSignal
	}
	k.SendSignal(t.tg, int(info.Signo), nil)
	return nil
}

// SendSignalToGroup queues info for the process tg: kill, rt_sigqueueinfo,
// timers, SIGCHLD, SIGPIPE's group-wide cousins. Any thread that does not
// block it may take it.
func (k *Kernel) SendSignalToGroup(tg *ThreadGroup, info *abi.SignalInfo) error {
	if !ValidSignal(int(info.Signo)) {
		return errInvalidSignal
	}
	k.SendSignal(tg, int(info.Signo), nil)
	return nil
}

// ForceSignal delivers a synchronous signal to t (faults, seccomp's
// SECCOMP_RET_TRAP, a corrupt signal frame): like Linux's force_sig_info, a
// blocked or ignored signal is unblocked and reset to its default action,
// so the task cannot survive it by ignoring it. Only the task goroutine
// calls it, for itself.
func (t *Task) ForceSignal(info *abi.SignalInfo) {
	sig := int(info.Signo)
	t.k.killGroup(t.tg, Signaled(sig, defaultActionOf(sig) == actCore))
}
