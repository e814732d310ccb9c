package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
)

// NumSignals is the number of signals (1..64).
const NumSignals = 64

// SigRTMin is the first real-time signal: signals below it coalesce while
// pending, real-time ones queue every instance.
const SigRTMin = 32

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

// SendSignal sends sig to the process tg as kill(2) would on behalf of
// sender: si_code SI_USER with the sender's pid and real uid. A nil
// sender means the signal comes from outside the sandbox (runsc forwards
// host signals, runsc kill): like a signal from an ancestor PID namespace,
// SIGKILL and SIGSTOP act on the sandbox's init, and any other signal whose
// action there is the default one is ignored (Linux's SIGNAL_UNKILLABLE
// with force only for SIGKILL/SIGSTOP), so a container's init without a
// SIGTERM handler survives `kill TERM` as it does under runc. Errors (bad
// signal number) are dropped; callers that need them use SendSignalToGroup.
func (k *Kernel) SendSignal(tg *ThreadGroup, sig int, sender *Task) {
	if sig == 0 || !ValidSignal(sig) {
		return
	}
	info := userSignalInfo(sig, abi.SI_USER, sender)
	override := forcedSignal(sender, tg, sig)
	k.mu.Lock()
	k.sendSignalLocked(tg, nil, &info, override)
	k.mu.Unlock()
}

// forcedSignal reports whether sig from sender reaches tg's namespace init
// even without a handler there: SIGKILL and SIGSTOP from outside the
// namespace (an ancestor one, or the host for a nil sender).
func forcedSignal(sender *Task, tg *ThreadGroup, sig int) bool {
	return (sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP)) && senderOutside(sender, tg)
}

// userSignalInfo is the siginfo of a signal sent by a task with kill,
// tkill or tgkill: si_pid and si_uid of the sender (0 for the kernel or
// the host).
func userSignalInfo(sig int, code int32, sender *Task) abi.SignalInfo {
	info := abi.SignalInfo{Signo: int32(sig), Code: code}
	if sender != nil {
		info.SetPID(int32(sender.tg.pid))
		info.SetUID(uint32(sender.Credentials().RealKUID))
	}
	return info
}

// killGroup makes every task of tg exit; the group's status is s unless it
// was already exiting.
func (k *Kernel) killGroup(tg *ThreadGroup, s WaitStatus) {
	k.mu.Lock()
	k.killGroupLocked(tg, s)
	k.mu.Unlock()
}

// killGroupLocked is killGroup with k.mu held.
func (k *Kernel) killGroupLocked(tg *ThreadGroup, s WaitStatus) {
	if !tg.exiting {
		tg.exiting = true
		tg.status = s
	}
	for t := range tg.tasks {
		t.killed.Store(true)
		t.interrupt()
	}
}

// FindThreadGroup returns the live or zombie process with pid in the root
// PID namespace (the host's view: runsc). Syscalls use Task.FindThreadGroup.
func (k *Kernel) FindThreadGroup(pid ThreadID) *ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.root.groups[pid]
}

// FindTask returns the live task with tid in the root PID namespace.
func (k *Kernel) FindTask(tid ThreadID) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.root.tasks[tid]
}

// FindThreadGroup returns the live or zombie process pid of t's PID
// namespace (kill, rt_sigqueueinfo, prlimit64), nil if there is none.
func (t *Task) FindThreadGroup(pid ThreadID) *ThreadGroup {
	return t.ns.ThreadGroupWithID(pid)
}

// FindTask returns the live task tid of t's PID namespace (tkill,
// tgkill, sched_*, futex), nil if there is none.
func (t *Task) FindTask(tid ThreadID) *Task {
	return t.ns.TaskWithID(tid)
}

// SignalProcessGroup sends sig to every process in group pgid on behalf
// of sender (kill with a pid <= 0). It returns ESRCH if there is none and
// EPERM if sender may signal none of them.
func (k *Kernel) SignalProcessGroup(pgid ThreadID, sig int, sender *Task) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.signalManyLocked(sig, sender, nil, func(tg *ThreadGroup) bool { return tg.pgid == pgid })
}

// SignalProcessGroupOf is kill(-pgid) from sender: pgid is in sender's
// PID namespace (0: sender's own group).
func (t *Task) SignalProcessGroupOf(pgid ThreadID, sig int) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	root := t.tg.pgid
	if pgid != 0 {
		if root = t.ns.pgrpRootIDLocked(pgid); root == 0 {
			return unix.ESRCH
		}
	}
	return k.signalManyLocked(sig, t, nil, func(tg *ThreadGroup) bool { return tg.pgid == root })
}

// SignalAll sends sig to every process but init and the sender's own
// (kill(-1, sig)); ESRCH if there is none.
func (k *Kernel) SignalAll(sig int, sender *Task) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.signalManyLocked(sig, sender, nil, func(tg *ThreadGroup) bool {
		if sender == nil {
			return tg != k.init
		}
		// Linux: every process the sender sees but its namespace's
		// init and its own.
		return tg != sender.tg && tg != sender.ns.init
	})
}

// signalManyLocked sends sig (0: only checks) to every live process that
// match selects, with kill's permission rule per target, as info or, if
// info is nil, as kill's SI_USER. Like Linux, the result is success if any
// target was signalled, else the last error. k.mu must be held.
func (k *Kernel) signalManyLocked(sig int, sender *Task, info *abi.SignalInfo, match func(*ThreadGroup) bool) error {
	err := error(unix.ESRCH)
	any := false
	groups := k.root.groups
	if sender != nil {
		groups = sender.ns.groups
	}
	for _, tg := range groups {
		if tg.zombie || len(tg.tasks) == 0 || !match(tg) {
			continue
		}
		if sender != nil && !mayKill(sender, tg, sig) {
			err = unix.EPERM
			continue
		}
		any = true
		if sig != 0 {
			si := userSignalInfo(sig, abi.SI_USER, sender)
			if info != nil {
				si = *info
			}
			k.sendSignalLocked(tg, nil, &si, sender == nil || forcedSignal(sender, tg, sig))
		}
	}
	if any {
		return nil
	}
	return err
}

// MayKill reports whether sender may send sig to the process tg (kill(2)'s
// permission check): its real or effective uid matches the target's real or
// saved uid, or it has CAP_KILL, or sig is SIGCONT within its session.
func (k *Kernel) MayKill(sender *Task, tg *ThreadGroup, sig int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return mayKill(sender, tg, sig)
}

// mayKill is MayKill with k.mu held.
func mayKill(sender *Task, tg *ThreadGroup, sig int) bool {
	if sender.tg == tg {
		return true
	}
	target := tg.leader
	if target == nil || len(tg.tasks) == 0 {
		for t := range tg.tasks {
			target = t
			break
		}
	}
	if target == nil {
		return true
	}
	if killCredsOK(sender.Credentials(), target.Credentials()) {
		return true
	}
	return sig == int(unix.SIGCONT) && sender.tg.sid == tg.sid
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

// coreSignaled is the wait status of tg dying of a signal whose default
// action dumps core. The sentry never writes a core file; like Linux when
// RLIMIT_CORE is 0, the status then says no core was dumped, and when the
// limit allows one it says a core was dumped (what the parent would see
// natively), and the debug log reports it.
func (k *Kernel) coreSignaled(tg *ThreadGroup, sig int) WaitStatus {
	if tg.limits.Get(unix.RLIMIT_CORE).Cur == 0 {
		return Signaled(sig, false)
	}
	k.Debugf("pid %d: signal %d dumps core (no core file is written)", tg.pid, sig)
	return Signaled(sig, true)
}
