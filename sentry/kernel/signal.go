package kernel

import (
	"sync"

	"golang.org/x/sys/unix"
)

// NumSignals is the number of signals (1..64).
const NumSignals = 64

// Special handler values.
const (
	SigDfl = 0
	SigIgn = 1
)

// SigAction is the kernel's struct sigaction on amd64.
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// SignalHandlers are the actions of a process (shared by CLONE_SIGHAND).
type SignalHandlers struct {
	mu      sync.Mutex
	actions [NumSignals + 1]SigAction
}

func sigBit(sig int) uint64 { return 1 << uint(sig-1) }

// ValidSignal reports whether sig is 1..64.
func ValidSignal(sig int) bool { return sig >= 1 && sig <= NumSignals }

// Action returns the action of sig.
func (sh *SignalHandlers) Action(sig int) SigAction {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.actions[sig]
}

// SetAction installs act for sig and returns the old one. SIGKILL and
// SIGSTOP cannot be changed (EINVAL).
func (sh *SignalHandlers) SetAction(sig int, act *SigAction) (SigAction, error) {
	if !ValidSignal(sig) {
		return SigAction{}, unix.EINVAL
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := sh.actions[sig]
	if act != nil {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			return old, unix.EINVAL
		}
		a := *act
		a.Mask &^= sigBit(int(unix.SIGKILL)) | sigBit(int(unix.SIGSTOP))
		sh.actions[sig] = a
	}
	return old, nil
}

// copy returns an independent copy (fork without CLONE_SIGHAND).
func (sh *SignalHandlers) copy() *SignalHandlers {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return &SignalHandlers{actions: sh.actions}
}

// resetForExec resets caught signals to SIG_DFL, as execve does; ignored
// signals stay ignored.
func (sh *SignalHandlers) resetForExec() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i := range sh.actions {
		if sh.actions[i].Handler != SigIgn {
			sh.actions[i] = SigAction{}
		}
	}
}

type defaultAction int

const (
	actTerm defaultAction = iota
	actCore
	actIgnore
	actStop
	actCont
)

func defaultActionOf(sig int) defaultAction {
	switch unix.Signal(sig) {
	case unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGBUS,
		unix.SIGFPE, unix.SIGSEGV, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS:
		return actCore
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return actIgnore
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return actStop
	case unix.SIGCONT:
		return actCont
	}
	return actTerm
}

// SendSignal sends sig to thread group tg on behalf of sender (nil when
// the signal comes from outside the sandbox or from the kernel itself).
//
// Until signal delivery to handlers lands, a signal with a handler is
// recorded and logged; default actions are carried out: termination kills
// the group, ignore and stop/continue are ignored.
func (k *Kernel) SendSignal(tg *ThreadGroup, sig int, sender *Task) {
	if sig == 0 {
		return
	}
	act := tg.handlers.Action(sig)
	isKill := sig == int(unix.SIGKILL)
	if !isKill {
		if act.Handler == SigIgn {
			return
		}
		if act.Handler != SigDfl {
			k.Warnf("pid %d: delivery of signal %d to a handler is not implemented yet; signal dropped", tg.pid, sig)
			return
		}
	}
	// A pid-namespace init ignores default-action signals sent from
	// inside its namespace, including SIGKILL.
	k.mu.Lock()
	isInit := tg == k.init
	k.mu.Unlock()
	if isInit && sender != nil {
		return
	}
	switch da := defaultActionOf(sig); {
	case isKill:
		k.killGroup(tg, Signaled(sig, false))
	case da == actTerm:
		k.killGroup(tg, Signaled(sig, false))
	case da == actCore:
		k.killGroup(tg, Signaled(sig, true))
	}
}

// killGroup makes every task of tg exit; the group's status is s unless it
// was already exiting.
func (k *Kernel) killGroup(tg *ThreadGroup, s WaitStatus) {
	k.mu.Lock()
	if !tg.exiting {
		tg.exiting = true
		tg.status = s
	}
	tasks := make([]*Task, 0, len(tg.tasks))
	for t := range tg.tasks {
		tasks = append(tasks, t)
	}
	k.mu.Unlock()
	for _, t := range tasks {
		t.killed.Store(true)
		t.interrupt()
	}
}

// FindThreadGroup returns the live or zombie process with pid.
func (k *Kernel) FindThreadGroup(pid ThreadID) *ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.groups[pid]
}

// FindTask returns the live task with tid.
func (k *Kernel) FindTask(tid ThreadID) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// SignalProcessGroup sends sig to every process in group pgid; it returns
// ESRCH if there is none.
func (k *Kernel) SignalProcessGroup(pgid ThreadID, sig int, sender *Task) error {
	k.mu.Lock()
	var targets []*ThreadGroup
	for _, tg := range k.groups {
		if tg.pgid == pgid && !tg.zombie {
			targets = append(targets, tg)
		}
	}
	k.mu.Unlock()
	if len(targets) == 0 {
		return unix.ESRCH
	}
	for _, tg := range targets {
		k.SendSignal(tg, sig, sender)
	}
	return nil
}

// SignalAll sends sig to every process but init and the sender's own
// (kill(-1, sig)); ESRCH if there is none.
func (k *Kernel) SignalAll(sig int, sender *Task) error {
	k.mu.Lock()
	var targets []*ThreadGroup
	for _, tg := range k.groups {
		if tg != k.init && !tg.zombie && (sender == nil || tg != sender.tg) {
			targets = append(targets, tg)
		}
	}
	k.mu.Unlock()
	if len(targets) == 0 {
		return unix.ESRCH
	}
	for _, tg := range targets {
		k.SendSignal(tg, sig, sender)
	}
	return nil
}

// Signal action flags the kernel itself looks at.
const (
	saNoCldStop = 0x1
	saNoCldWait = 0x2
	SaSiginfo   = 0x4
	SaRestorer  = 0x04000000
	SaOnstack   = 0x08000000
	SaRestart   = 0x10000000
	SaNodefer   = 0x40000000
	SaResethand = 0x80000000
)

// errInvalidSignal is EINVAL for a signal number outside 1..64.
var errInvalidSignal = unix.EINVAL
