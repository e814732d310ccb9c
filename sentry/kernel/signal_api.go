package kernel

import (
	"github.com/rampart-sandbox/rampart/abi"
)

// The signal-sending entry points every part of the sentry uses. Callers
// build the siginfo; the kernel fills nothing in except what Linux's own
// senders would (it never rewrites si_code).
//
// Signals sent through them count as generated inside the sandbox: the
// sandbox's init (a PID-namespace init) ignores those whose action is the
// default one. Permission checks (kill across users) are the caller's:
// see MayKill.

// SendSignalToTask queues info for t alone: tkill/tgkill,
// rt_tgsigqueueinfo, SIGEV_THREAD_ID timers. It returns EINVAL for a bad
// signal number, EAGAIN when a real-time signal with a negative si_code
// cannot be queued (RLIMIT_SIGPENDING), and nil when t has already exited
// (like Linux, silently).
func (k *Kernel) SendSignalToTask(t *Task, info *abi.SignalInfo) error {
	return k.sendSignalToTask(t, info, false)
}

// SendSignalToTaskFrom is SendSignalToTask for a signal sender sent with
// tkill, tgkill or rt_tgsigqueueinfo: from outside the target's PID
// namespace, SIGKILL and SIGSTOP reach its init.
func (k *Kernel) SendSignalToTaskFrom(t *Task, info *abi.SignalInfo, sender *Task) error {
	return k.sendSignalToTask(t, info, forcedSignal(sender, t.tg, int(info.Signo)))
}

// sendSignalToTask is SendSignalToTask with Linux's force flag (see
// forcedSignal).
func (k *Kernel) sendSignalToTask(t *Task, info *abi.SignalInfo, force bool) error {
	if !ValidSignal(int(info.Signo)) {
		return errInvalidSignal
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := t.tg.tasks[t]; !ok {
		return nil
	}
	return k.sendSignalLocked(t.tg, t, info, force)
}

// SendSignalToGroupFrom is SendSignalToGroup for a signal sender sent
// with rt_sigqueueinfo (see SendSignalToTaskFrom).
func (k *Kernel) SendSignalToGroupFrom(tg *ThreadGroup, info *abi.SignalInfo, sender *Task) error {
	if !ValidSignal(int(info.Signo)) {
		return errInvalidSignal
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sendSignalLocked(tg, nil, info, forcedSignal(sender, tg, int(info.Signo)))
}

// SendSignalToGroup queues info for the process tg: kill, rt_sigqueueinfo,
// timers, SIGCHLD, SIGPIPE's group-wide cousins. Any thread that does not
// block it may take it. Errors as SendSignalToTask.
func (k *Kernel) SendSignalToGroup(tg *ThreadGroup, info *abi.SignalInfo) error {
	if !ValidSignal(int(info.Signo)) {
		return errInvalidSignal
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sendSignalLocked(tg, nil, info, false)
}

// ForceSignal delivers a synchronous signal to t (faults, seccomp's
// SECCOMP_RET_TRAP, a corrupt signal frame): like Linux's force_sig_info, a
// blocked or ignored signal is unblocked and reset to its default action,
// so the task cannot survive it by ignoring it, and the sandbox's init is
// not spared. Only the task goroutine calls it, for itself; the signal is
// delivered before the task next returns to application code.
func (t *Task) ForceSignal(info *abi.SignalInfo) {
	sig := int(info.Signo)
	if !ValidSignal(sig) {
		return
	}
	sh := t.tg.handlers
	sh.mu.Lock()
	act := &sh.actions[sig]
	blocked := t.sigMask.Load()&sigBit(sig) != 0
	if blocked || act.Handler == SigIgn {
		act.Handler = SigDfl
	}
	sh.mu.Unlock()
	if blocked {
		t.sigMask.Store(t.sigMask.Load() &^ sigBit(sig))
	}
	k := t.k
	k.mu.Lock()
	k.sendSignalLocked(t.tg, t, info, true)
	k.mu.Unlock()
}

// SuppressSIGPIPE turns SendSIGPIPE off for the rest of t's syscall, or
// back on (pwritev2's RWF_NOSIGNAL). Only t's goroutine may call it.
func (t *Task) SuppressSIGPIPE(on bool) { t.noSIGPIPE = on }

// SendSIGPIPE sends SIGPIPE to t itself, as a write to a pipe or socket
// without readers does (Linux's send_sig(SIGPIPE, current, 0)): a
// thread-directed signal from the kernel, si_code SI_USER with the
// writer's own pid, like Linux's kernel-originated send_sig.
func (t *Task) SendSIGPIPE() {
	if t.noSIGPIPE {
		return
	}
	info := abi.SignalInfo{Signo: 13, Code: abi.SI_USER}
	info.SetPID(int32(t.tg.pid))
	info.SetUID(uint32(t.Credentials().RealKUID))
	t.k.SendSignalToTask(t, &info)
}
