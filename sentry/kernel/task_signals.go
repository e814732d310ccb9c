package kernel

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// Signal delivery. The model is Linux's (kernel/signal.c,
// arch/x86/kernel/signal.c):
//
//   - A signal is queued either for one task (tkill, faults) or for its
//     process (kill); each queue keeps a siginfo per instance. Standard
//     signals (below SigRTMin) coalesce while pending, real-time ones queue
//     every instance in order.
//   - Sending picks a thread that does not block the signal (the target
//     thread for thread-directed ones), sets its wake hint and interrupts it:
//     out of application code (platform Interrupt) or out of a blocking
//     syscall (InterruptChan), which then returns a restart errno.
//   - The task goroutine delivers in its run loop before it returns to
//     application code: it dequeues the lowest deliverable signal
//     (synchronous fault signals first, thread-directed before process-wide),
//     takes its default action or builds an rt_sigframe for the handler, and
//     repeats while more are deliverable (later handlers nest on top, as on
//     Linux). The first handler decides the fate of an interrupted syscall
//     (SA_RESTART).
//
// Pending sets, the group-stop state and the wait reports of a process are
// protected by Kernel.mu; masks are atomics written only by their task.

// SS_* flags of sigaltstack.
const (
	ssOnStack    = 1
	ssDisable    = 2
	ssAutoDisarm = -1 << 31 // as an int32 ss_flags
	// MinSigStackSize is MINSIGSTKSZ: sigaltstack refuses smaller stacks.
	MinSigStackSize = 2048
)

// ERESTART_RESTARTBLOCK is Linux's name for ERESTART_BLOCK: the syscall is
// restarted through restart_syscall(2) and the task's restart block.
const ERESTART_RESTARTBLOCK = ERESTART_BLOCK

// eintrRet is -EINTR in rax.
var eintrRet = ^uint64(unix.EINTR) + 1

// sysRestartSyscall is restart_syscall's number on amd64.
const sysRestartSyscall = 219

// syncSignals are taken before other pending signals (Linux's
// SYNCHRONOUS_MASK): they report the instruction that just ran.
var syncSignals = sigBit(int(unix.SIGSEGV)) | sigBit(int(unix.SIGBUS)) | sigBit(int(unix.SIGILL)) |
	sigBit(int(unix.SIGTRAP)) | sigBit(int(unix.SIGFPE)) | sigBit(int(unix.SIGSYS))

// stopSignals have the job-control stop action.
var stopSignals = sigBit(int(unix.SIGSTOP)) | sigBit(int(unix.SIGTSTP)) | sigBit(int(unix.SIGTTIN)) | sigBit(int(unix.SIGTTOU))

// unblockable are never blocked.
var unblockable = sigBit(int(unix.SIGKILL)) | sigBit(int(unix.SIGSTOP))

// maxQueuedSignals bounds the queued real-time instances of one queue when
// RLIMIT_SIGPENDING is unlimited.
const maxQueuedSignals = 1 << 16

// queuedSignal is one pending instance.
type queuedSignal struct {
	info abi.SignalInfo
	// override is set for signals from outside the sandbox and forced
	// ones: the sandbox's init does not ignore their default action.
	override bool
}

// sigQueue is a set of pending signals with their siginfo, in arrival
// order.
type sigQueue struct {
	mask uint64
	q    []queuedSignal
}

// enqueue adds an instance; a standard signal already pending is dropped.
func (q *sigQueue) enqueue(info *abi.SignalInfo, override bool) {
	sig := int(info.Signo)
	if sig < SigRTMin && q.mask&sigBit(sig) != 0 {
		return
	}
	q.q = append(q.q, queuedSignal{info: *info, override: override})
	q.mask |= sigBit(sig)
}

// dequeue removes the oldest instance of sig.
func (q *sigQueue) dequeue(sig int) queuedSignal {
	var out queuedSignal
	found, more := false, false
	for i := range q.q {
		if int(q.q[i].info.Signo) != sig {
			continue
		}
		if !found {
			out, found = q.q[i], true
			q.q = append(q.q[:i], q.q[i+1:]...)
			for _, e := range q.q[i:] {
				if int(e.info.Signo) == sig {
					more = true
					break
				}
			}
			break
		}
	}
	if !more {
		q.mask &^= sigBit(sig)
	}
	if !found {
		out.info = abi.SignalInfo{Signo: int32(sig)}
	}
	return out
}

// discard drops every pending instance of the signals in mask.
func (q *sigQueue) discard(mask uint64) {
	if q.mask&mask == 0 {
		return
	}
	n := 0
	for _, e := range q.q {
		if mask&sigBit(int(e.info.Signo)) == 0 {
			q.q[n] = e
			n++
		}
	}
	clear(q.q[n:])
	q.q = q.q[:n]
	q.mask &^= mask
}

// pickSignal returns the signal to take from pending given blocked, or 0.
func pickSignal(pending, blocked uint64) int {
	p := pending &^ blocked
	if p == 0 {
		return 0
	}
	if s := p & syncSignals; s != 0 {
		p = s
	}
	return bits.TrailingZeros64(p) + 1
}

// taskSignals is a task's signal state.
type taskSignals struct {
	// pending are the signals sent to this task alone; protected by k.mu.
	pending sigQueue
	// stopSeq is the group stop this task last took part in; protected
	// by k.mu.
	stopSeq uint64

	// wake is set when a signal may have become deliverable (sent,
	// unblocked) or a group stop began; the run loop then looks.
	wake atomic.Bool
	// waitSet is the set rt_sigtimedwait waits for, unblocked meanwhile:
	// a signal of it is never ignored at generation (Linux's
	// real_blocked). Written by the task goroutine, read by senders.
	waitSet atomic.Uint64

	// The fields below are owned by the task goroutine.

	// altStack is the sigaltstack; Size 0 means none.
	altStack arch.SignalStack
	// savedMask is restored after the next signal delivery (sigsuspend,
	// ppoll, pselect) when haveSavedMask.
	savedMask     uint64
	haveSavedMask bool
	// restartErr is the restart errno of the syscall that just returned,
	// waiting for the delivery pass to decide between a restart and EINTR.
	restartErr unix.Errno
	// restartBlock re-runs an interrupted syscall (restart_syscall).
	restartBlock func(t *Task) (uintptr, error)
	// fpBuf stages FP state for frames.
	fpBuf []byte
	// initialFP, when set, is loaded before the task first runs (the FP
	// state a forked child inherits).
	initialFP []byte
	// fault describes the last fault, for sigcontext's trapno/err/cr2.
	fault arch.SigContextInfo
}

// siginfoHasPID reports whether the kernel filled info's si_pid (kill,
// tkill, SIGCHLD), as a root-namespace pid that sendSignalLocked
// translates for the receiver.
func siginfoHasPID(info *abi.SignalInfo) bool {
	switch info.Code {
	case abi.SI_USER, abi.SI_TKILL:
		return info.PID() != 0
	}
	return info.Signo == int32(unix.SIGCHLD) && info.Code >= abi.CLD_EXITED && info.Code <= abi.CLD_CONTINUED
}

// sendSignalLocked queues info for t (thread-directed) or, when t is nil,
// for the process tg, and wakes a thread to take it. override marks a
// signal that the sandbox's init does not ignore. k.mu must be held.
func (k *Kernel) sendSignalLocked(tg *ThreadGroup, t *Task, info *abi.SignalInfo, override bool) error {
	sig := int(info.Signo)
	if tg.exiting || len(tg.tasks) == 0 {
		return nil
	}
	bit := sigBit(sig)
	// Job control side effects happen at send time, even for ignored
	// signals (Linux's prepare_signal).
	switch {
	case bit&stopSignals != 0:
		k.discardLocked(tg, sigBit(int(unix.SIGCONT)))
	case sig == int(unix.SIGCONT):
		k.discardLocked(tg, stopSignals)
		k.continueGroupLocked(tg)
	}
	target := t
	if target == nil {
		target = tg.leader
		if _, ok := tg.tasks[target]; !ok {
			target = nil
		}
	}
	if k.ignoredLocked(tg, target, sig, override) {
		return nil
	}
	if sig == int(unix.SIGKILL) {
		k.killGroupLocked(tg, Signaled(sig, false))
		return nil
	}
	if tg.ns != k.root && siginfoHasPID(info) {
		// si_pid is the sender's (or child's) pid as the receiver's
		// namespace sees it, 0 from outside (Linux: __send_signal).
		c := *info
		c.SetPID(int32(tg.ns.idOfRootIDLocked(ThreadID(info.PID()))))
		info = &c
	}
	q := &tg.pending
	if t != nil {
		q = &t.sig.pending
	}
	if sig >= SigRTMin {
		limit := tg.limits.Get(unix.RLIMIT_SIGPENDING).Cur
		if limit > maxQueuedSignals {
			limit = maxQueuedSignals
		}
		if uint64(len(q.q)) >= limit {
			if info.Code != abi.SI_USER && info.Code != abi.SI_KERNEL {
				return unix.EAGAIN
			}
			// Linux queues kill() signals and its own (SI_KERNEL)
			// without their siginfo past the limit; keep the bit.
			// Others (sigqueue, timers, SIGIO's POLL_* codes) fail,
			// and their senders fall back or count an overrun.
			if q.mask&bit != 0 {
				return nil
			}
		}
	}
	q.enqueue(info, override)
	tg.signalWaiters.Notify(vfs.ReadableEvents)
	if t != nil {
		t.sig.wake.Store(true)
		t.interrupt()
		return nil
	}
	if c := tg.chooseTaskLocked(sig, target); c != nil {
		c.sig.wake.Store(true)
		c.interrupt()
	}
	return nil
}

// ignoredLocked reports whether a signal sent to tg (taken by target, if
// known) is dropped at once: not blocked, and its action is to ignore it,
// which for the sandbox's init includes every default action of a signal
// generated inside the sandbox (Linux's SIGNAL_UNKILLABLE).
func (k *Kernel) ignoredLocked(tg *ThreadGroup, target *Task, sig int, override bool) bool {
	if target != nil && (target.sigMask.Load()|target.sig.waitSet.Load())&sigBit(sig) != 0 {
		return false
	}
	if target != nil && target.ptraceTracedLocked() { // the tracer sees it
		return false
	}
	act := tg.handlers.Action(sig)
	switch act.Handler {
	case SigIgn:
		return sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP)
	case SigDfl:
		if tg.isNSInitLocked() && !override {
			return true
		}
		da := defaultActionOf(sig)
		return da == actIgnore || da == actCont
	}
	return false
}

// chooseTaskLocked picks the thread of tg that takes a process-wide sig:
// the preferred one if it does not block it, else any that does not; nil if
// all block it (the first to unblock it takes it). k.mu must be held.
func (tg *ThreadGroup) chooseTaskLocked(sig int, preferred *Task) *Task {
	bit := sigBit(sig)
	if preferred != nil && preferred.sigMask.Load()&bit == 0 && !preferred.killed.Load() {
		return preferred
	}
	for t := range tg.tasks {
		if t.sigMask.Load()&bit == 0 && !t.killed.Load() {
			return t
		}
	}
	return nil
}

// discardLocked drops pending instances of mask from tg and its tasks.
func (k *Kernel) discardLocked(tg *ThreadGroup, mask uint64) {
	tg.pending.discard(mask)
	for t := range tg.tasks {
		t.sig.pending.discard(mask)
	}
}

// deliverableLocked returns the signal t would take now, or 0.
func (t *Task) deliverableLocked() int {
	blocked := t.sigMask.Load()
	if s := pickSignal(t.sig.pending.mask, blocked); s != 0 {
		return s
	}
	return pickSignal(t.tg.pending.mask, blocked)
}

// interrupted reports whether a blocking syscall of t must give up now:
// the task is dying, a signal is deliverable or a group stop waits for it.
func (t *Task) interrupted() bool {
	if t.killed.Load() {
		return true
	}
	if !t.sig.wake.Load() {
		return false
	}
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.deliverableLocked() != 0 || (t.tg.stopping && t.sig.stopSeq != t.tg.stopSeq) || t.ptrace.trapPending
}

// SetSignalMask sets the blocked-signal mask; SIGKILL and SIGSTOP can never
// be blocked. Unblocking makes pending signals deliverable on the way back
// to application code.
func (t *Task) SetSignalMask(m uint64) {
	m &^= unblockable
	old := t.sigMask.Swap(m)
	if old&^m != 0 {
		t.sig.wake.Store(true)
	}
}

// SetSavedSignalMask arranges for the mask m to be restored after the next
// signal handler frame is set up, or when the current syscall returns if no
// handler runs (sigsuspend, ppoll, pselect6, epoll_pwait: they install a
// temporary mask with SetSignalMask and return an ERESTART errno when
// interrupted).
func (t *Task) SetSavedSignalMask(m uint64) {
	t.sig.savedMask = m
	t.sig.haveSavedMask = true
}

// SetRestartBlock records how restart_syscall(2) resumes the current
// syscall after it returns ERESTART_RESTARTBLOCK and no handler runs
// (nanosleep and clock_nanosleep compute the time left). A handler running
// in between makes the syscall fail with EINTR instead and forgets fn.
func (t *Task) SetRestartBlock(fn func(t *Task) (uintptr, error)) { t.sig.restartBlock = fn }

// RestartSyscall implements restart_syscall(2).
func (t *Task) RestartSyscall() (uintptr, error) {
	fn := t.sig.restartBlock
	t.sig.restartBlock = nil
	if fn == nil {
		return 0, unix.EINTR
	}
	return fn(t)
}

// PendingSignals returns the blocked signals pending for t or its process
// (rt_sigpending).
func (t *Task) PendingSignals() uint64 {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return (t.sig.pending.mask | t.tg.pending.mask) & t.sigMask.Load()
}

// SetSignalAction implements rt_sigaction's change of sig's action; when
// the new action ignores the signal, its pending instances are discarded
// (POSIX).
func (t *Task) SetSignalAction(sig int, act *SigAction) (SigAction, error) {
	old, err := t.tg.handlers.SetAction(sig, act)
	if err != nil || act == nil {
		return old, err
	}
	if act.Handler == SigIgn || (act.Handler == SigDfl && defaultActionOf(sig) == actIgnore) ||
		(act.Handler == SigDfl && sig == int(unix.SIGCONT)) {
		t.k.mu.Lock()
		t.k.discardLocked(t.tg, sigBit(sig))
		t.k.mu.Unlock()
	}
	return old, nil
}

// needsSignalWork reports whether the run loop must call handleSignals
// before returning to application code.
func (t *Task) needsSignalWork() bool {
	return t.sig.wake.Load() || t.sig.restartErr != 0 || t.sig.haveSavedMask
}

// handleSignals is the delivery pass of the run loop: job-control stops,
// default actions and handler frames for every deliverable signal, then
// the fate of an interrupted syscall when no handler took it.
func (t *Task) handleSignals() {
	k := t.k
	handled := false
	for !t.killed.Load() {
		t.sig.wake.Store(false)
		k.mu.Lock()
		tg := t.tg
		if tg.exiting {
			k.mu.Unlock()
			return
		}
		if t.ptraceTrapLocked() { // PTRACE_INTERRUPT's stop
			k.mu.Unlock()
			continue
		}
		if tg.stopping && t.sig.stopSeq != tg.stopSeq {
			t.groupStopLocked()
			k.mu.Unlock()
			continue
		}
		sig := pickSignal(t.sig.pending.mask, t.sigMask.Load())
		var e queuedSignal
		switch {
		case sig != 0:
			e = t.sig.pending.dequeue(sig)
		default:
			if sig = pickSignal(tg.pending.mask, t.sigMask.Load()); sig == 0 {
				k.mu.Unlock()
				t.finishSignals(handled)
				return
			}
			e = tg.pending.dequeue(sig)
		}
		// A tracer sees the signal first (signal-delivery-stop).
		if sig = t.ptraceSignalLocked(sig, &e.info); sig == 0 || t.killed.Load() {
			k.mu.Unlock()
			continue
		}
		act := tg.handlers.Action(sig)
		switch act.Handler {
		case SigIgn:
			k.mu.Unlock()
			continue
		case SigDfl:
			if tg.isNSInitLocked() && !e.override {
				k.mu.Unlock()
				continue
			}
			switch defaultActionOf(sig) {
			case actIgnore, actCont:
				k.mu.Unlock()
			case actStop:
				k.startGroupStopLocked(tg, sig)
				k.mu.Unlock()
			case actTerm:
				k.killGroupLocked(tg, Signaled(sig, false))
				k.mu.Unlock()
				return
			case actCore:
				k.killGroupLocked(tg, k.coreSignaled(tg, sig))
				k.mu.Unlock()
				return
			}
			continue
		}
		if act.Flags&SaResethand != 0 {
			tg.handlers.resetOneShot(sig)
		}
		k.mu.Unlock()
		if !handled {
			t.restartForHandler(act)
		}
		handled = true
		if err := t.setupSignalFrame(sig, &e.info, act); err != nil {
			k.Debugf("tid %d: cannot deliver signal %d: %v", t.tid, sig, err)
			t.forceSigsegv(sig)
		}
	}
}

// restartForHandler applies Linux's rule for a syscall interrupted by a
// signal whose handler runs: EINTR, or a restart with SA_RESTART for
// ERESTARTSYS and always for ERESTARTNOINTR.
func (t *Task) restartForHandler(act SigAction) {
	e := t.sig.restartErr
	t.sig.restartErr = 0
	switch e {
	case ERESTART_BLOCK, ERESTARTNOHAND:
		t.regs.Rax = eintrRet
	case ERESTARTSYS:
		if act.Flags&SaRestart == 0 {
			t.regs.Rax = eintrRet
			return
		}
		fallthrough
	case ERESTARTNOINTR:
		t.regs.Rax = t.regs.Orig_rax
		t.regs.Rip -= 2
	}
}

// finishSignals ends a delivery pass: with no handler run, an interrupted
// syscall is restarted transparently and a saved mask is restored.
func (t *Task) finishSignals(handled bool) {
	if e := t.sig.restartErr; e != 0 {
		t.sig.restartErr = 0
		switch e {
		case ERESTARTNOHAND, ERESTARTSYS, ERESTARTNOINTR:
			t.regs.Rax = t.regs.Orig_rax
			t.regs.Rip -= 2
		case ERESTART_BLOCK:
			t.regs.Rax = sysRestartSyscall
			t.regs.Rip -= 2
		}
	}
	if t.sig.haveSavedMask && !handled {
		t.sig.haveSavedMask = false
		t.SetSignalMask(t.sig.savedMask)
	}
}

// forceSigsegv is Linux's force_sigsegv: a handler frame for sig could not
// be built, so the task gets a SIGSEGV it cannot handle if sig was SIGSEGV.
func (t *Task) forceSigsegv(sig int) {
	if sig == int(unix.SIGSEGV) {
		t.tg.handlers.resetOneShot(sig)
	}
	info := abi.SignalInfo{Signo: int32(unix.SIGSEGV), Code: abi.SI_KERNEL}
	t.ForceSignal(&info)
}

// resetOneShot resets sig's action to SIG_DFL (SA_RESETHAND).
func (sh *SignalHandlers) resetOneShot(sig int) {
	sh.mu.Lock()
	sh.actions[sig].Handler = SigDfl
	sh.actions[sig].Flags &^= SaSiginfo | SaResethand | SaNodefer | SaRestart | SaOnstack
	sh.mu.Unlock()
}

// fpState returns the task's FP state in t.sig.fpBuf.
func (t *Task) fpState() ([]byte, error) {
	n := arch.FPStateSize()
	if len(t.sig.fpBuf) != n {
		t.sig.fpBuf = make([]byte, n)
	}
	if err := t.ctx.FPState(t.mm.AddressSpace(), t.sig.fpBuf); err != nil {
		return nil, err
	}
	return t.sig.fpBuf, nil
}

// setupSignalFrame builds the rt_sigframe for a handler of sig and points
// the registers at the handler (Linux's setup_rt_frame and
// signal_setup_done).
func (t *Task) setupSignalFrame(sig int, info *abi.SignalInfo, act SigAction) error {
	if act.Flags&SaRestorer == 0 {
		// x86-64 has no vDSO trampoline for sigreturn: Linux refuses.
		return unix.EFAULT
	}
	t.fullRegs()
	sp := t.regs.Rsp
	alt := &t.sig.altStack
	onAlt := t.onAltStack(sp)
	entering := false
	if act.Flags&SaOnstack != 0 && !onAlt && alt.Size != 0 && alt.Flags&ssDisable == 0 {
		sp, entering = alt.Top(), true
	}
	fp, err := t.fpState()
	if err != nil {
		return err
	}
	fpSize := len(fp)
	l := arch.LayoutSignalFrame(sp, entering, fpSize)
	if (onAlt || entering) && !alt.Contains(l.Frame) {
		return unix.EFAULT
	}
	// The FP state: Linux's XSAVE frame carries _fpx_sw_bytes in the
	// legacy area's reserved bytes and FP_XSTATE_MAGIC2 after the area.
	ucFlags := uint64(arch.UCSigContextSS | arch.UCStrictRestoreSS)
	if arch.UseXsave() {
		ucFlags |= arch.UCFPXState
		arch.PutSwBytes(fp, arch.FPXSwBytes{
			Magic1:       arch.FPXStateMagic1,
			ExtendedSize: uint32(fpSize + arch.FPXStateMagic2Size),
			Xfeatures:    arch.FPFeatures(),
			XstateSize:   uint32(fpSize),
		})
		arch.SetXstateBV(fp, arch.XstateBV(fp)|arch.XfeatureFPSSE)
	}
	if _, err := t.CopyOut(l.FPState, fp); err != nil {
		return err
	}
	if arch.UseXsave() {
		var m [4]byte
		binary.LittleEndian.PutUint32(m[:], arch.FPXStateMagic2)
		if _, err := t.CopyOut(l.FPState+uint64(fpSize), m[:]); err != nil {
			return err
		}
	}

	mask := t.sigMask.Load()
	if t.sig.haveSavedMask {
		mask = t.sig.savedMask
	}
	var b [arch.SignalFrameSize]byte
	binary.LittleEndian.PutUint64(b[0:], act.Restorer)
	binary.LittleEndian.PutUint64(b[arch.UContextOffset:], ucFlags)
	arch.PutSignalStack(b[arch.UCStackOffset:], arch.SignalStack{Sp: alt.Sp, Flags: t.altStackFlags(), Size: alt.Size})
	extra := t.sig.fault
	extra.Oldmask = mask
	extra.FPState = l.FPState
	arch.PutSigContext(b[arch.SigContextOffset:], &t.regs, extra)
	binary.LittleEndian.PutUint64(b[arch.UCSigmaskOffset:], mask)
	var si [abi.SizeofSignalInfo]byte
	info.Bytes(&si)
	copy(b[arch.SiginfoOffset:], si[:])
	if _, err := t.CopyOut(l.Frame, b[:]); err != nil {
		return err
	}

	// The handler starts with a clean FP state (fpu__clear_user_states).
	arch.InitFPState(fp)
	if err := t.ctx.SetFPState(t.mm.AddressSpace(), fp); err != nil {
		return err
	}
	arch.SetupSignalHandlerRegs(&t.regs, l, sig, act.Handler)
	t.sig.fault = arch.SigContextInfo{}
	if alt.Flags&ssAutoDisarm != 0 {
		*alt = arch.SignalStack{Flags: ssDisable}
	}
	t.sig.haveSavedMask = false
	newMask := mask | act.Mask
	if act.Flags&SaNodefer == 0 {
		newMask |= sigBit(sig)
	}
	t.SetSignalMask(newMask)
	return nil
}

// onAltStack is Linux's on_sig_stack: sp lies on the alternate stack and
// the stack is not auto-disarmed.
func (t *Task) onAltStack(sp uint64) bool {
	a := &t.sig.altStack
	return a.Flags&ssAutoDisarm == 0 && a.Contains(sp)
}

// altStackFlags is the sas_ss_flags Linux saves in uc_stack.
func (t *Task) altStackFlags() int32 {
	a := &t.sig.altStack
	if a.Size == 0 && a.Flags == 0 {
		return ssDisable
	}
	return a.Flags
}

// errSigreturn is returned by rt_sigreturn: the registers are the restored
// ones and must not be overwritten with a return value.
var errSigreturn = errors.New("rt_sigreturn: registers restored")

// SignalReturn implements rt_sigreturn(2): the frame the handler returned
// through (its return address popped, so at rsp-8) gives back the
// registers, the mask, the alternate stack and the FP state. A frame that
// cannot be read or restored kills the task with SIGSEGV, like Linux's
// badframe.
func (t *Task) SignalReturn() error {
	t.fullRegs()
	frame := t.regs.Rsp - 8
	var b [arch.SignalFrameSize]byte
	if _, err := t.CopyIn(frame, b[:]); err != nil {
		t.badFrame()
		return errSigreturn
	}
	t.sig.restartBlock = nil
	t.SetSignalMask(binary.LittleEndian.Uint64(b[arch.UCSigmaskOffset:]))
	regs := t.regs
	fpAddr := arch.GetSigContext(b[arch.SigContextOffset:], &regs)
	t.regs = regs
	if err := t.restoreFPState(fpAddr); err != nil {
		t.k.Debugf("tid %d: rt_sigreturn: bad FP state at %#x: %v", t.tid, fpAddr, err)
		t.badFrame()
		return errSigreturn
	}
	// Errors are ignored, as in Linux, which checks the handler's stack
	// pointer: a handler that installed a stack it is running on keeps it.
	ss := arch.GetSignalStack(b[arch.UCStackOffset:])
	t.setAltStack(&ss, frame+8)
	return errSigreturn
}

// badFrame kills the task with SIGSEGV (signal_fault in Linux).
func (t *Task) badFrame() {
	info := abi.SignalInfo{Signo: int32(unix.SIGSEGV), Code: abi.SI_KERNEL}
	t.ForceSignal(&info)
}

// restoreFPState loads the FP state of a signal frame at addr (0: the init
// state), as Linux's fpu__restore_sig: an XSAVE frame must carry both
// magics, else only the legacy x87/SSE region is taken.
func (t *Task) restoreFPState(addr uint64) error {
	n := arch.FPStateSize()
	if len(t.sig.fpBuf) != n {
		t.sig.fpBuf = make([]byte, n)
	}
	fp := t.sig.fpBuf
	if addr == 0 {
		arch.InitFPState(fp)
		return t.ctx.SetFPState(t.mm.AddressSpace(), fp)
	}
	clear(fp)
	if _, err := t.CopyIn(addr, fp[:arch.FxsaveSize]); err != nil {
		return err
	}
	fxOnly := true
	if arch.UseXsave() {
		sw := arch.SwBytes(fp)
		minSize := uint32(arch.FxsaveSize + arch.XsaveHeaderSize)
		if sw.Magic1 == arch.FPXStateMagic1 && sw.XstateSize >= minSize &&
			sw.XstateSize <= uint32(n) && sw.XstateSize <= sw.ExtendedSize {
			var m [4]byte
			if _, err := t.CopyIn(addr+uint64(sw.XstateSize), m[:]); err != nil {
				return err
			}
			if binary.LittleEndian.Uint32(m[:]) == arch.FPXStateMagic2 {
				fxOnly = false
				if _, err := t.CopyIn(addr+arch.FxsaveSize, fp[arch.FxsaveSize:sw.XstateSize]); err != nil {
					return err
				}
				// Components outside the frame's xfeatures get their
				// init state; bits the CPU does not know stay, so that
				// the platform refuses them like XRSTOR would.
				bv := arch.XstateBV(fp)
				arch.SetXstateBV(fp, bv&(sw.Xfeatures|^arch.FPFeatures()))
			}
		}
	}
	if fxOnly {
		clear(fp[arch.FxsaveSize:])
		arch.SetXstateBV(fp, arch.XfeatureFPSSE)
	}
	if !arch.ValidMXCSR(arch.MXCSR(fp)) {
		return unix.EINVAL
	}
	return t.ctx.SetFPState(t.mm.AddressSpace(), fp)
}

// AltStack returns the sigaltstack as sigaltstack(2) reports it for a task
// whose stack pointer is sp.
func (t *Task) AltStack(sp uint64) arch.SignalStack {
	a := t.sig.altStack
	var flags int32
	switch {
	case a.Size == 0:
		flags = ssDisable
	case t.onAltStack(sp):
		flags = ssOnStack
	}
	a.Flags = flags | (a.Flags & ssAutoDisarm)
	return a
}

// SetAltStack implements the setting half of sigaltstack(2) for a task
// whose stack pointer is sp: EPERM while running on the current stack,
// EINVAL for bad flags, ENOMEM below MINSIGSTKSZ.
func (t *Task) SetAltStack(ss *arch.SignalStack) error { return t.setAltStack(ss, t.regs.Rsp) }

func (t *Task) setAltStack(ss *arch.SignalStack, sp uint64) error {
	if t.onAltStack(sp) {
		return unix.EPERM
	}
	mode := ss.Flags &^ ssAutoDisarm
	if mode != ssDisable && mode != ssOnStack && mode != 0 {
		return unix.EINVAL
	}
	n := *ss
	if mode == ssDisable {
		n.Sp, n.Size = 0, 0
	} else if n.Size < MinSigStackSize {
		return unix.ENOMEM
	}
	t.sig.altStack = n
	return nil
}

// SignalSuspend implements rt_sigsuspend(2): it waits with mask installed
// until a signal is delivered, then returns EINTR with the old mask back.
func (t *Task) SignalSuspend(mask uint64) error {
	old := t.sigMask.Load()
	t.SetSignalMask(mask)
	t.SetSavedSignalMask(old)
	return t.Pause()
}

// Pause implements pause(2).
func (t *Task) Pause() error {
	t.blockStart()
	defer t.blockEnd()
	for !t.interrupted() {
		<-t.interruptCh
	}
	return ERESTARTNOHAND
}

// dequeueFromSetLocked takes a pending signal in set, thread-directed
// first. k.mu must be held.
func (t *Task) dequeueFromSetLocked(set uint64) (abi.SignalInfo, bool) {
	if s := pickSignal(t.sig.pending.mask&set, 0); s != 0 {
		return t.sig.pending.dequeue(s).info, true
	}
	if s := pickSignal(t.tg.pending.mask&set, 0); s != 0 {
		return t.tg.pending.dequeue(s).info, true
	}
	return abi.SignalInfo{}, false
}

// SignalTimedWait implements rt_sigtimedwait(2): it takes a pending signal
// of set, waiting for one until timeout passes (negative: forever; zero:
// only look). It returns EAGAIN on timeout and EINTR when a signal outside
// set is delivered.
func (t *Task) SignalTimedWait(set uint64, timeout time.Duration) (abi.SignalInfo, error) {
	set &^= unblockable
	k := t.k
	k.mu.Lock()
	info, ok := t.dequeueFromSetLocked(set)
	k.mu.Unlock()
	if ok {
		return info, nil
	}
	if timeout == 0 {
		return abi.SignalInfo{}, unix.EAGAIN
	}
	var expired <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		expired = tm.C
	}
	// While waiting, the signals of set are unblocked so that senders
	// pick this thread (Linux's real_blocked).
	old := t.sigMask.Load()
	t.sig.waitSet.Store(set)
	t.sigMask.Store(old &^ set)
	defer func() {
		t.sigMask.Store(old)
		t.sig.waitSet.Store(0)
	}()
	for {
		k.mu.Lock()
		info, ok := t.dequeueFromSetLocked(set)
		other := !ok && (t.deliverableLocked() != 0 || (t.tg.stopping && t.sig.stopSeq != t.tg.stopSeq))
		k.mu.Unlock()
		if ok {
			return info, nil
		}
		if other || t.killed.Load() {
			t.sig.wake.Store(true)
			return abi.SignalInfo{}, unix.EINTR
		}
		t.blockStart()
		select {
		case <-t.interruptCh:
		case <-expired:
			t.blockEnd()
			return abi.SignalInfo{}, unix.EAGAIN
		}
		t.blockEnd()
	}
}

// startGroupStopLocked begins a job-control stop of tg for sig: every
// thread parks in its next delivery pass. k.mu must be held.
func (k *Kernel) startGroupStopLocked(tg *ThreadGroup, sig int) {
	if tg.stopping || tg.exiting {
		return
	}
	tg.stopping = true
	tg.stopped = false
	tg.stopSig = sig
	tg.stopSeq++
	tg.stopCount = 0
	tg.stopCh = make(chan struct{})
	for t := range tg.tasks {
		t.sig.wake.Store(true)
		t.interrupt()
	}
}

// groupStopLocked parks t for the group stop in progress until SIGCONT or
// SIGKILL; the last thread to stop reports the stop to the parent. k.mu
// must be held; it is released while parked and held again on return.
func (t *Task) groupStopLocked() {
	k, tg := t.k, t.tg
	t.sig.stopSeq = tg.stopSeq
	tg.stopCount++
	k.checkGroupStoppedLocked(tg)
	if t.ptraceGroupStopLocked() { // a tracee's group stop is a ptrace-stop
		return
	}
	ch := tg.stopCh
	k.mu.Unlock()
	t.blockStart()
	defer t.blockEnd()
	for !t.killed.Load() {
		select {
		case <-ch:
			k.mu.Lock()
			return
		case <-t.interruptCh:
			k.mu.Lock()
			if t.ptraceGroupStopLocked() { // attached while stopped
				return
			}
			k.mu.Unlock()
		}
	}
	k.mu.Lock()
}

// checkGroupStoppedLocked completes a group stop once every thread has
// stopped: the parent sees CLD_STOPPED (wait with WUNTRACED, SIGCHLD unless
// SA_NOCLDSTOP). k.mu must be held.
func (k *Kernel) checkGroupStoppedLocked(tg *ThreadGroup) {
	if !tg.stopping || tg.stopped || tg.stopCount < len(tg.tasks) || len(tg.tasks) == 0 {
		return
	}
	tg.stopped = true
	tg.stopReport = tg.stopSig
	tg.contReport = false
	k.notifyParentStopLocked(tg, abi.CLD_STOPPED, tg.stopSig)
}

// continueGroupLocked ends a group stop (SIGCONT). k.mu must be held.
func (k *Kernel) continueGroupLocked(tg *ThreadGroup) {
	if !tg.stopping {
		return
	}
	wasStopped := tg.stopped
	tg.stopping, tg.stopped = false, false
	close(tg.stopCh)
	tg.stopCh = nil
	if wasStopped {
		tg.stopReport = 0
		tg.contReport = true
		k.notifyParentStopLocked(tg, abi.CLD_CONTINUED, int(unix.SIGCONT))
	}
}

// notifyParentStopLocked tells tg's parent that tg stopped or continued
// (do_notify_parent_cldstop). k.mu must be held.
func (k *Kernel) notifyParentStopLocked(tg *ThreadGroup, code int32, status int) {
	p := tg.parent
	if p == nil || p == tg {
		return
	}
	act := p.handlers.Action(int(unix.SIGCHLD))
	if act.Handler != SigIgn && act.Flags&saNoCldStop == 0 {
		info := k.childInfoLocked(tg, code, status)
		k.sendSignalLocked(p, nil, &info, true)
	}
	p.notifyChildEvent()
}

// childInfoLocked builds the SIGCHLD siginfo for a change of child tg.
func (k *Kernel) childInfoLocked(tg *ThreadGroup, code int32, status int) abi.SignalInfo {
	info := abi.SignalInfo{Signo: int32(unix.SIGCHLD), Code: code}
	info.SetPID(int32(tg.pid))
	info.SetUID(tg.realUIDLocked())
	info.SetStatus(int32(status))
	u, s := tg.cpuTimeLocked()
	info.SetUtime(int64(u) / 1e7) // clock ticks (USER_HZ = 100)
	info.SetStime(int64(s) / 1e7)
	return info
}

// realUIDLocked returns the real uid of tg's leader (or of any task).
func (tg *ThreadGroup) realUIDLocked() uint32 {
	if tg.leader != nil {
		return uint32(tg.leader.Credentials().RealKUID)
	}
	return 0
}

// inheritSignalState is the signal part of clone: nt gets a copy of t's
// FP state and, unless it shares t's address space without vfork, of its
// alternate stack (Linux's copy_process). It also records t as the thread
// whose exit sends nt's process its parent-death signal.
func (t *Task) inheritSignalState(nt *Task, flags uint64) {
	if flags&(unix.CLONE_VM|unix.CLONE_VFORK) != unix.CLONE_VM {
		nt.sig.altStack = t.sig.altStack
	}
	if t.ctx != nil {
		if fp, err := t.fpState(); err == nil {
			nt.sig.initialFP = append([]byte(nil), fp...)
		}
	}
	if nt.tg != t.tg {
		t.k.mu.Lock()
		nt.tg.creator = t
		if nt.tg.parent != t.tg {
			nt.tg.creator = nt.tg.parent.leader
		}
		t.k.mu.Unlock()
	}
}

// waitVfork waits, killable but not interruptible, for a vfork child to
// exec or exit.
func (t *Task) waitVfork(done <-chan struct{}) {
	t.blockStart()
	defer t.blockEnd()
	for !t.killed.Load() {
		select {
		case <-done:
			return
		case <-t.interruptCh:
		}
	}
}

// execSignalHook is the signal part of execve: the alternate stack is
// forgotten (handlers are reset by the caller).
func (t *Task) execSignalHook() {
	t.sig.altStack = arch.SignalStack{Flags: ssDisable}
	t.sig.restartBlock = nil
}

// recordFault keeps the CPU's view of a fault for the next signal frame's
// sigcontext (trapno, err, cr2).
func (t *Task) recordFault(sig int32, code int32, addr uint64, write, exec bool) {
	var f arch.SigContextInfo
	switch unix.Signal(sig) {
	case unix.SIGSEGV, unix.SIGBUS:
		if code == abi.SI_KERNEL {
			f.Trapno = 13 // #GP
			break
		}
		f.Trapno = 14 // #PF
		f.Cr2 = addr
		f.Err = 4 // user mode
		if code == abi.SEGV_ACCERR {
			f.Err |= 1
		}
		if write {
			f.Err |= 2
		}
		if exec {
			f.Err |= 0x10
		}
	case unix.SIGFPE:
		f.Trapno = 0 // #DE
	case unix.SIGILL:
		f.Trapno = 6 // #UD
	case unix.SIGTRAP:
		f.Trapno = 3 // #BP
	}
	t.sig.fault = f
}
