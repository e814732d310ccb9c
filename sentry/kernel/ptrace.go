package kernel

// ptrace(2) for applications, emulated entirely in the sentry: the host's
// ptrace belongs to the platform, so a tracer inside the sandbox never
// touches a host process. The model is Linux's (kernel/ptrace.c,
// kernel/signal.c's ptrace_stop, Documentation and ptrace(2)):
//
//   - A tracer is a task; its tracees are tasks (threads, not processes).
//     The link is made by PTRACE_TRACEME, ATTACH, SEIZE or automatically on
//     clone (TRACEFORK/VFORK/CLONE options, CLONE_PTRACE).
//   - A tracee stops ("ptrace-stop") at well-defined points: syscall entry
//     and exit, before a signal is delivered, in a group stop, at
//     PTRACE_EVENT_* points (fork, exec, exit, seccomp, PTRACE_INTERRUPT).
//     Its goroutine parks in ptraceStopLocked until the tracer resumes it
//     (or it is killed, or the tracer goes away). While it is parked the
//     tracer reads and writes its registers under Kernel.mu; FP state,
//     which only the tracee's own OS thread can reach on the ptrace
//     platform, is read and written by the parked tracee on the tracer's
//     behalf (ptraceStop.reqs).
//   - The tracer learns of stops and exits through wait4/waitid, which
//     report its tracees (children or not) next to its children, with the
//     stop status (code<<8)|0x7f, and through SIGCHLD (CLD_TRAPPED).
//   - A traced process' exit is reported to the tracer first; its real
//     parent sees the zombie once the tracer has collected it or detached.
//
// All ptrace state is protected by Kernel.mu except the fields marked as
// owned by the task goroutine.

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// PtraceResumeMode is how a tracer lets a stopped tracee run again.
type PtraceResumeMode int

// Resume modes (PTRACE_CONT, SYSCALL, SYSEMU, SINGLESTEP, SYSEMU_SINGLESTEP).
const (
	PtraceCont PtraceResumeMode = iota
	PtraceSyscall
	PtraceSysemu
	PtraceSingleStep
	PtraceSysemuSingleStep
)

// Options and events (include/uapi/linux/ptrace.h).
const (
	ptraceOptionsMask = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK |
		unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEVFORKDONE |
		unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_EXITKILL |
		unix.PTRACE_O_SUSPEND_SECCOMP

	// PTRACE_SYSCALL_INFO_* ops, also the event message of syscall stops
	// (PTRACE_EVENTMSG_SYSCALL_ENTRY/EXIT).
	PtraceSyscallInfoNone    = 0
	PtraceSyscallInfoEntry   = 1
	PtraceSyscallInfoExit    = 2
	PtraceSyscallInfoSeccomp = 3

	// capSysPtrace is CAP_SYS_PTRACE.
	capSysPtrace = 19

	// eflagsTF is the x86 trap flag: one instruction, then #DB.
	eflagsTF = 0x100
)

// taskPtrace is a task's ptrace state, as tracee and as tracer.
type taskPtrace struct {
	// The fields below are protected by Kernel.mu.

	// tracer traces this task; nil when untraced.
	tracer *Task
	// seized: attached with PTRACE_SEIZE (or inherited from a seized
	// parent): group stops report PTRACE_EVENT_STOP, INTERRUPT and LISTEN
	// work, and exec sends no legacy SIGTRAP.
	seized bool
	// options are the PTRACE_O_* options.
	options uint32
	// stop is the current ptrace-stop; nil while the tracee runs.
	stop *ptraceStop
	// eventMsg is PTRACE_GETEVENTMSG's value.
	eventMsg uint64
	// siginfo is the stop's siginfo (PTRACE_GETSIGINFO), valid when
	// haveSiginfo (a legacy group stop has none: EINVAL).
	siginfo     abi.SignalInfo
	haveSiginfo bool
	// syscallOp is the PTRACE_SYSCALL_INFO_* op of the current stop.
	syscallOp uint8
	// trapPending asks for a PTRACE_EVENT_STOP at the next chance
	// (PTRACE_INTERRUPT, a seized child's first stop, the end of LISTEN).
	trapPending bool
	// mode is how the tracer last resumed the tracee.
	mode PtraceResumeMode
	// exited is set when the traced task has exited; exitStatus is what
	// the tracer's wait reports. The link stays until then.
	exited     bool
	exitStatus WaitStatus

	// tracees are the tasks this task traces (including exited ones not
	// yet collected by wait).
	tracees map[*Task]struct{}

	// The fields below are owned by the task goroutine.

	// sys is the resume mode in effect for the run loop's syscall path.
	sys PtraceResumeMode
	// forcedTF: the trap flag in the registers was set by single-stepping,
	// not by the application, and is cleared at the next stop.
	forcedTF bool
}

// ptraceStop is one ptrace-stop of a tracee. Fields are protected by
// Kernel.mu except the channels, which are immutable.
type ptraceStop struct {
	// code is the stop's exit code: the wait status is code<<8 | 0x7f.
	code int
	// reported is set once a wait has collected the stop.
	reported bool
	// groupStop: the stop stands for the tracee's part in a group stop.
	groupStop bool
	// listening: PTRACE_LISTEN; the tracee stays stopped but leaves the
	// stop (to re-trap) when the group stop ends.
	listening bool
	// retrap: leave the stop and take a PTRACE_EVENT_STOP at once.
	retrap bool
	// resumeSig is the signal the tracer resumed with.
	resumeSig int
	// resumed is closed by the tracer to end the stop.
	resumed chan struct{}
	// left is closed by the tracee when it has left the stop.
	left chan struct{}
	// reqs carries work the tracer needs done on the tracee's own thread.
	reqs chan ptraceRequest
}

type ptraceRequest struct {
	fn   func()
	done chan struct{}
}

// ptraceTraced reports whether t is traced. k.mu must be held.
func (t *Task) ptraceTracedLocked() bool { return t.ptrace.tracer != nil && !t.ptrace.exited }

// tracerSiginfo is the siginfo of a ptrace event or syscall stop
// (ptrace_do_notify): SIGTRAP (or sig), si_code the exit code, and the
// tracee's tid (in its own namespace, as Linux's task_pid_vnr(current))
// and uid.
func (t *Task) tracerSiginfo(sig, code int) abi.SignalInfo {
	info := abi.SignalInfo{Signo: int32(sig), Code: int32(code)}
	info.SetPID(int32(t.vtid())) // Linux: the tracee's own view
	info.SetUID(uint32(t.Credentials().RealKUID))
	return info
}

// ptraceStopLocked parks the traced task t in a ptrace-stop with exit code
// code and siginfo info (nil: none) until the tracer resumes it. It returns
// the signal the tracer resumed with and whether t stopped at all (false
// when it is not traced, or dying and not at its exit stop). k.mu must be
// held; it is released while t is stopped and held again on return.
// Only the task goroutine calls it.
func (t *Task) ptraceStopLocked(code int, info *abi.SignalInfo, op uint8, groupStop, exiting bool) (int, bool) {
	k, p := t.k, &t.ptrace
	if p.tracer == nil || p.exited || (!exiting && t.killed.Load()) {
		return 0, false
	}
	// The tracer reads and writes the registers (PtraceRegs) from its
	// own goroutine while t waits in the stop.
	t.fullRegs()
	if p.forcedTF {
		t.regs.Eflags &^= eflagsTF
		p.forcedTF = false
	}
	s := &ptraceStop{
		code:      code,
		groupStop: groupStop,
		resumed:   make(chan struct{}),
		left:      make(chan struct{}),
		reqs:      make(chan ptraceRequest),
	}
	p.stop = s
	p.haveSiginfo = info != nil
	if info != nil {
		p.siginfo = *info
	}
	p.syscallOp = op
	why := int32(abi.CLD_TRAPPED)
	if groupStop {
		why = abi.CLD_STOPPED
	}
	k.ptraceNotifyLocked(t, why, code&0x7f)
	var groupEnd <-chan struct{}
	if groupStop {
		groupEnd = t.tg.stopCh
	}
	k.mu.Unlock()
	t.blockStart()
wait:
	for {
		select {
		case <-s.resumed:
			break wait
		case r := <-s.reqs:
			r.fn()
			close(r.done)
		case <-groupEnd:
			groupEnd = nil
			k.mu.Lock()
			if s.listening {
				s.listening = false
				s.retrap = true
				k.mu.Unlock()
				break wait
			}
			k.mu.Unlock()
		case <-t.interruptCh:
			if !exiting && t.killed.Load() {
				break wait
			}
		}
	}
	t.blockEnd()
	k.mu.Lock()
	if p.stop == s {
		p.stop = nil
	}
	close(s.left)
	if s.retrap && p.tracer != nil {
		p.trapPending = true
		t.sig.wake.Store(true)
	}
	p.sys = PtraceCont
	if p.tracer != nil {
		p.sys = p.mode
	}
	if (p.sys == PtraceSingleStep || p.sys == PtraceSysemuSingleStep) && t.regs.Eflags&eflagsTF == 0 {
		t.regs.Eflags |= eflagsTF
		p.forcedTF = true
	}
	return s.resumeSig, true
}

// ptraceNotifyLocked tells e's tracer that e stopped (why CLD_TRAPPED or
// CLD_STOPPED) or exited: SIGCHLD unless the tracer ignores it (or set
// SA_NOCLDSTOP, for stops), and a wake-up of its waits. k.mu must be held.
func (k *Kernel) ptraceNotifyLocked(e *Task, why int32, status int) {
	tr := e.ptrace.tracer
	if tr == nil {
		return
	}
	ttg := tr.tg
	act := ttg.handlers.Action(int(unix.SIGCHLD))
	stopped := why == abi.CLD_TRAPPED || why == abi.CLD_STOPPED
	if act.Handler != SigIgn && !(stopped && act.Flags&saNoCldStop != 0) {
		info := abi.SignalInfo{Signo: int32(unix.SIGCHLD), Code: why}
		info.SetPID(int32(e.tid))
		info.SetUID(uint32(e.Credentials().RealKUID))
		info.SetStatus(int32(status))
		k.sendSignalLocked(ttg, nil, &info, true)
	}
	ttg.notifyChildEvent()
}

// ptraceEventStop stops t at PTRACE_EVENT event with message msg if its
// tracer asked for that event (option bit opt). It returns whether it
// stopped. Only the task goroutine calls it, without k.mu.
func (t *Task) ptraceEventStop(event int, opt uint32, msg uint64) bool {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if !t.ptraceTracedLocked() || t.ptrace.options&opt == 0 {
		return false
	}
	code := int(unix.SIGTRAP) | event<<8
	if tr := t.ptrace.tracer; tr.ns != t.ns && event != unix.PTRACE_EVENT_EXIT && event != unix.PTRACE_EVENT_SECCOMP {
		// A tid in t's namespace (the new child's, the former one of
		// an exec), as the tracer's namespace sees it.
		msg = uint64(tr.ns.idOfRootIDLocked(t.ns.rootIDLocked(ThreadID(msg))))
	}
	t.ptrace.eventMsg = msg
	info := t.tracerSiginfo(int(unix.SIGTRAP), code)
	_, ok := t.ptraceStopLocked(code, &info, PtraceSyscallInfoNone, false, event == unix.PTRACE_EVENT_EXIT)
	return ok
}

// ptraceSyscall runs the syscall in t.regs for a task whose tracer resumed
// it with PTRACE_SYSCALL, SYSEMU or a single-step request: the
// syscall-enter-stop (not for a plain single step), the syscall unless it
// is emulated (SYSEMU) or the tracer skipped it (orig_rax set to -1), and
// then, as the tracer's latest request says, the syscall-exit-stop or a
// single-step trap.
func (t *Task) ptraceSyscall() {
	k := t.k
	mode := t.ptrace.sys
	k.mu.Lock()
	if !t.ptraceTracedLocked() {
		k.mu.Unlock()
		t.ptrace.sys = PtraceCont
		t.doSyscall()
		return
	}
	code := int(unix.SIGTRAP)
	entryOp, exitOp := uint8(PtraceSyscallInfoNone), uint8(PtraceSyscallInfoNone)
	if t.ptrace.options&unix.PTRACE_O_TRACESYSGOOD != 0 {
		code |= 0x80
		entryOp, exitOp = PtraceSyscallInfoEntry, PtraceSyscallInfoExit
	}
	info := t.tracerSiginfo(int(unix.SIGTRAP), code)
	if mode != PtraceSingleStep {
		t.ptrace.eventMsg = PtraceSyscallInfoEntry
		sig, _ := t.ptraceStopLocked(code, &info, entryOp, false, false)
		k.mu.Unlock()
		t.ptraceSyscallStopSignal(sig)
		if t.killed.Load() || mode == PtraceSysemu || mode == PtraceSysemuSingleStep {
			// Emulated: the tracer did the syscall's work and rax is
			// its result.
			return
		}
	} else {
		k.mu.Unlock()
	}
	if int64(t.regs.Orig_rax) != -1 {
		t.doSyscall()
	} // else skipped by the tracer: rax keeps what the tracer left there.
	if t.killed.Load() {
		return
	}
	switch t.ptrace.sys {
	case PtraceSyscall:
		k.mu.Lock()
		t.ptrace.eventMsg = PtraceSyscallInfoExit
		sig, _ := t.ptraceStopLocked(code, &info, exitOp, false, false)
		k.mu.Unlock()
		t.ptraceSyscallStopSignal(sig)
	case PtraceSingleStep:
		// Single-stepping over a syscall reports a trap right after it,
		// as Linux's user_single_step_report does.
		trap := abi.SignalInfo{Signo: int32(unix.SIGTRAP), Code: abi.TRAP_BRKPT}
		trap.SetAddr(t.regs.Rip)
		t.ForceSignal(&trap)
	}
}

// ptraceSyscallStopSignal sends the signal a tracer resumed a syscall stop
// with, as Linux does for the legacy "inject at syscall stop" behaviour.
func (t *Task) ptraceSyscallStopSignal(sig int) {
	if sig == 0 {
		return
	}
	info := abi.SignalInfo{Signo: int32(sig), Code: abi.SI_KERNEL}
	k := t.k
	k.mu.Lock()
	k.sendSignalLocked(t.tg, t, &info, true)
	k.mu.Unlock()
}

// ptraceSignalLocked is the signal-delivery-stop: a traced task about to
// take signal sig (info, just dequeued) stops first; the tracer may cancel
// it (resume with 0), replace it, or edit its siginfo. It returns the
// signal to deliver now (0: none; a replacement that is blocked is queued
// again). k.mu must be held; it is released while t is stopped.
func (t *Task) ptraceSignalLocked(sig int, info *abi.SignalInfo) int {
	if sig == int(unix.SIGKILL) || !t.ptraceTracedLocked() {
		return sig
	}
	nsig, ok := t.ptraceStopLocked(sig, info, PtraceSyscallInfoNone, false, false)
	if !ok {
		return sig
	}
	if t.killed.Load() || nsig == 0 {
		return 0
	}
	p := &t.ptrace
	if p.haveSiginfo {
		*info = p.siginfo
	}
	if nsig != int(info.Signo) {
		*info = abi.SignalInfo{Signo: int32(nsig), Code: abi.SI_USER}
		if tr := p.tracer; tr != nil {
			info.SetPID(int32(tr.tg.pid))
			info.SetUID(uint32(tr.Credentials().RealKUID))
		}
	}
	if t.sigMask.Load()&sigBit(nsig) != 0 {
		t.sig.pending.enqueue(info, true)
		return 0
	}
	return nsig
}

// ptraceGroupStopLocked is a traced task's part in a group stop: it is
// reported to the tracer and lasts until the tracer resumes it. It
// returns false when t is not traced (or was detached while the group
// stop still holds), so that the caller parks it as usual. k.mu must be
// held; it is released while t is stopped and held again on return.
func (t *Task) ptraceGroupStopLocked() bool {
	if !t.ptraceTracedLocked() {
		return false
	}
	sig := t.tg.stopSig
	code := sig
	var info *abi.SignalInfo
	if t.ptrace.seized {
		code = sig | unix.PTRACE_EVENT_STOP<<8
		i := t.tracerSiginfo(sig, code)
		info = &i
	}
	seq := t.tg.stopSeq
	t.ptraceStopLocked(code, info, PtraceSyscallInfoNone, true, false)
	if t.ptrace.tracer == nil && t.tg.stopping && t.tg.stopSeq == seq && !t.killed.Load() {
		return false
	}
	return true
}

// ptraceTrapLocked takes a pending PTRACE_EVENT_STOP (PTRACE_INTERRUPT, a
// seized child's first stop, the end of LISTEN). It returns whether one
// was pending. k.mu must be held; it is released while t is stopped.
func (t *Task) ptraceTrapLocked() bool {
	p := &t.ptrace
	if !p.trapPending {
		return false
	}
	p.trapPending = false
	if !t.ptraceTracedLocked() {
		return true
	}
	sig := int(unix.SIGTRAP)
	tg := t.tg
	if tg.stopping && tg.stopped {
		sig = tg.stopSig
	}
	code := sig | unix.PTRACE_EVENT_STOP<<8
	info := t.tracerSiginfo(sig, code)
	p.eventMsg = 0
	t.ptraceStopLocked(code, &info, PtraceSyscallInfoNone, false, false)
	return true
}

// ptraceClone links the new task nt to t's tracer when t's tracer asked
// for the event of this kind of clone (or for CLONE_PTRACE), before nt
// first runs. It returns the event the parent reports (0: none). nt starts
// with a SIGSTOP pending, or a PTRACE_EVENT_STOP when seized.
func (t *Task) ptraceClone(nt *Task, flags uint64, exitSignal int) int {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if !t.ptraceTracedLocked() || flags&unix.CLONE_UNTRACED != 0 {
		return 0
	}
	p := &t.ptrace
	var event int
	var opt uint32
	switch {
	case flags&unix.CLONE_VFORK != 0:
		event, opt = unix.PTRACE_EVENT_VFORK, unix.PTRACE_O_TRACEVFORK
	case exitSignal != int(unix.SIGCHLD):
		event, opt = unix.PTRACE_EVENT_CLONE, unix.PTRACE_O_TRACECLONE
	default:
		event, opt = unix.PTRACE_EVENT_FORK, unix.PTRACE_O_TRACEFORK
	}
	if p.options&opt == 0 {
		event = 0
	}
	if event == 0 && flags&unix.CLONE_PTRACE == 0 {
		return 0
	}
	tr := p.tracer
	np := &nt.ptrace
	np.tracer = tr
	np.seized = p.seized
	np.options = p.options
	tr.ptrace.addTracee(nt)
	if np.seized {
		np.trapPending = true
		nt.sig.wake.Store(true)
	} else {
		info := abi.SignalInfo{Signo: int32(unix.SIGSTOP)}
		nt.sig.pending.enqueue(&info, true)
		nt.sig.wake.Store(true)
	}
	return event
}

// ptraceCloneEvents reports a clone to the tracer: the PTRACE_EVENT_FORK,
// VFORK or CLONE stop (event from ptraceClone) with the child's tid.
func (t *Task) ptraceCloneEvent(event int, tid ThreadID) {
	if event == 0 {
		return
	}
	var opt uint32
	switch event {
	case unix.PTRACE_EVENT_VFORK:
		opt = unix.PTRACE_O_TRACEVFORK
	case unix.PTRACE_EVENT_CLONE:
		opt = unix.PTRACE_O_TRACECLONE
	default:
		opt = unix.PTRACE_O_TRACEFORK
	}
	t.ptraceEventStop(event, opt, uint64(tid))
}

// ptraceVforkDone reports PTRACE_EVENT_VFORK_DONE after a vfork child
// released its parent.
func (t *Task) ptraceVforkDone(tid ThreadID) {
	t.ptraceEventStop(unix.PTRACE_EVENT_VFORK_DONE, unix.PTRACE_O_TRACEVFORKDONE, uint64(tid))
}

// ptraceExec reports a successful execve: the PTRACE_EVENT_EXEC stop (with
// the former thread id as its message), or for a tracee attached without
// SEIZE and without TRACEEXEC, a SIGTRAP.
func (t *Task) ptraceExec(formerIDs []ThreadID) {
	if t.ptraceEventStop(unix.PTRACE_EVENT_EXEC, unix.PTRACE_O_TRACEEXEC, uint64(formerIDs[t.ns.level])) {
		return
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if t.ptraceTracedLocked() && !t.ptrace.seized {
		info := abi.SignalInfo{Signo: int32(unix.SIGTRAP), Code: abi.SI_USER}
		info.SetPID(int32(t.tg.pid))
		info.SetUID(uint32(t.Credentials().RealKUID))
		k.sendSignalLocked(t.tg, t, &info, true)
	}
}

// ptraceExitEvent is the PTRACE_EVENT_EXIT stop of a dying traced task,
// taken before it releases anything (the tracer may still read its
// registers and memory). A task killed by SIGKILL does not stop.
func (t *Task) ptraceExitEvent() {
	k := t.k
	k.mu.Lock()
	traced := t.ptraceTracedLocked() && t.ptrace.options&unix.PTRACE_O_TRACEEXIT != 0
	status := Exited(0)
	if t.tg.exiting {
		status = t.tg.status
	}
	k.mu.Unlock()
	if !traced || status == Signaled(int(unix.SIGKILL), false) {
		return
	}
	t.ptraceEventStop(unix.PTRACE_EVENT_EXIT, unix.PTRACE_O_TRACEEXIT, uint64(status))
}

// PtraceSeccomp is SECCOMP_RET_TRACE's stop: if t's tracer asked for
// PTRACE_O_TRACESECCOMP, t stops with PTRACE_EVENT_SECCOMP and msg
// (SECCOMP_RET_DATA) as its event message, and the caller then runs the
// syscall in t's registers as the tracer left them (orig_rax -1 skips
// it). It returns false when nobody traces t that way: the syscall then
// fails with ENOSYS, as on Linux.
func (t *Task) PtraceSeccomp(msg uint16) bool {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if !t.ptraceTracedLocked() || t.ptrace.options&unix.PTRACE_O_TRACESECCOMP == 0 {
		return false
	}
	code := int(unix.SIGTRAP) | unix.PTRACE_EVENT_SECCOMP<<8
	t.ptrace.eventMsg = uint64(msg)
	info := t.tracerSiginfo(int(unix.SIGTRAP), code)
	_, ok := t.ptraceStopLocked(code, &info, PtraceSyscallInfoSeccomp, false, false)
	return ok
}

func (p *taskPtrace) addTracee(e *Task) {
	if p.tracees == nil {
		p.tracees = make(map[*Task]struct{})
	}
	p.tracees[e] = struct{}{}
}

// ptraceUnlinkLocked ends e's tracing (detach, tracer exit): a stopped e
// resumes with sig. k.mu must be held.
func (k *Kernel) ptraceUnlinkLocked(e *Task, sig int) {
	p := &e.ptrace
	if tr := p.tracer; tr != nil {
		delete(tr.ptrace.tracees, e)
	}
	p.tracer = nil
	p.seized = false
	p.options = 0
	p.trapPending = false
	p.mode = PtraceCont
	if s := p.stop; s != nil {
		p.stop = nil
		s.resumeSig = sig
		s.listening = false
		close(s.resumed)
	}
	if p.exited {
		// Nobody collects the exit any more: the real parent may.
		p.exited = false
		if tg := e.tg; e == tg.leader && tg.zombie && tg.parent != nil {
			tg.parent.notifyChildEvent()
		}
	}
}

// ptraceTaskExitLocked runs when t has exited (k.mu held, t already out
// of its group): its tracees are detached (killed with EXITKILL), and if
// t itself is traced, its exit waits for the tracer's wait.
func (k *Kernel) ptraceTaskExitLocked(t *Task) {
	for e := range t.ptrace.tracees {
		if e.ptrace.options&unix.PTRACE_O_EXITKILL != 0 && !e.ptrace.exited {
			k.killGroupLocked(e.tg, Signaled(int(unix.SIGKILL), false))
		}
		k.ptraceUnlinkLocked(e, 0)
	}
	p := &t.ptrace
	p.stop = nil
	if p.tracer == nil {
		k.ptraceLeaderGoneLocked(t.tg)
		return
	}
	p.exited = true
	p.exitStatus = Exited(0)
	if t.tg.exiting {
		p.exitStatus = t.tg.status
	}
	leader := t == t.tg.leader
	if !leader || len(t.tg.tasks) == 0 {
		// The tracer's real child's exit signal was sent by the exit
		// path already; anything else gets SIGCHLD here.
		if leader && p.tracer.tg == t.tg.parent {
			p.tracer.tg.notifyChildEvent()
		} else {
			code, status := exitCodeOf(p.exitStatus)
			k.ptraceNotifyLocked(t, code, status)
		}
	}
	k.ptraceLeaderGoneLocked(t.tg)
}

// ptraceLeaderGoneLocked wakes the tracer of tg's exited leader when the
// last thread of tg has gone: the leader's exit is reportable from then on.
func (k *Kernel) ptraceLeaderGoneLocked(tg *ThreadGroup) {
	l := tg.leader
	if len(tg.tasks) != 0 || l == nil || !l.ptrace.exited || l.ptrace.tracer == nil {
		return
	}
	code, status := exitCodeOf(l.ptrace.exitStatus)
	k.ptraceNotifyLocked(l, code, status)
}

// ptraceHidesLocked reports whether the zombie child c must not be
// reported to its parent yet: its leader's exit is still to be collected
// by a tracer. k.mu must be held.
func (k *Kernel) ptraceHidesLocked(c *ThreadGroup) bool {
	l := c.leader
	return c.zombie && l != nil && l.ptrace.tracer != nil
}

// ptraceWaitLocked is the tracer's half of wait4/waitid: the first tracee
// of any thread of t's group that matches o and has a stop or an exit to
// report. found says whether any tracee matched at all. k.mu must be held.
func (k *Kernel) ptraceWaitLocked(t *Task, o WaitOptions) (r WaitResult, ok, found bool) {
	for w := range t.tg.tasks {
		for e := range w.ptrace.tracees {
			if o.ByTarget && (o.Target == nil || e != o.Target.leader) || !o.ByTarget && !ptraceWaitMatches(t, e, o.PID) {
				continue
			}
			found = true
			if r, ok = k.ptraceReportLocked(e, o); ok {
				return r, true, true
			}
		}
	}
	return WaitResult{}, false, found
}

func ptraceWaitMatches(t, e *Task, pid ThreadID) bool {
	switch {
	case pid > 0:
		return t.ns.idOfTaskLocked(e) == pid
	case pid == -1:
		return true
	case pid == 0:
		return e.tg.pgid == t.tg.pgid
	default:
		return t.ns.IDOfThreadGroup(e.tg.pgrp) == -pid
	}
}

// ptraceReportLocked collects tracee e's exit or unreported stop.
func (k *Kernel) ptraceReportLocked(e *Task, o WaitOptions) (WaitResult, bool) {
	p := &e.ptrace
	r := WaitResult{PID: o.ns.idOfTaskLocked(e), UID: uint32(e.Credentials().RealKUID)}
	r.UserTime, r.SysTime = e.CPUTime()
	switch {
	case p.exited:
		tg := e.tg
		if e == tg.leader && len(tg.tasks) != 0 {
			return r, false // reported when the whole group is gone
		}
		if !o.Exited {
			return r, false
		}
		r.Status = p.exitStatus
		code, status := exitCodeOf(p.exitStatus)
		r.Code, r.SigStatus = code, int32(status)
		if o.NoWait {
			return r, true
		}
		tr := p.tracer
		delete(tr.ptrace.tracees, e)
		p.tracer, p.exited = nil, false
		if e == tg.leader && tg.zombie {
			if tg.parent == tr.tg && k.root.groups[tg.pid] == tg {
				// The tracer is the real parent: one report reaps it.
				r.Status = tg.status
				code, status := exitCodeOf(tg.status)
				r.Code, r.SigStatus = code, int32(status)
				r.UserTime, r.SysTime = tg.cpuTimeLocked()
				k.reapLocked(tg)
			} else if tg.parent != nil {
				tg.parent.notifyChildEvent()
			}
		}
		return r, true
	case p.stop != nil && !p.stop.reported && !p.stop.listening:
		r.Status = WaitStatus(p.stop.code<<8 | 0x7f)
		r.Code, r.SigStatus = abi.CLD_TRAPPED, int32(p.stop.code)
		if p.stop.groupStop {
			r.Code = abi.CLD_STOPPED
		}
		if !o.NoWait {
			p.stop.reported = true
		}
		return r, true
	}
	return r, false
}

// PtraceTraceMe implements PTRACE_TRACEME: t's parent becomes its tracer.
func (t *Task) PtraceTraceMe() error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if t.ptrace.tracer != nil {
		return unix.EPERM
	}
	p := t.tg.parent
	if p == nil || p == t.tg || p.exiting || len(p.tasks) == 0 {
		return unix.EPERM
	}
	tr := t.tg.creator
	if tr == nil || tr.tg != p {
		tr = p.leader
	}
	if _, ok := p.tasks[tr]; !ok {
		tr = nil
		for o := range p.tasks {
			tr = o
			break
		}
	}
	t.ptrace.tracer = tr
	tr.ptrace.addTracee(t)
	return nil
}

// PtraceAttach implements PTRACE_ATTACH (seize false: the tracee gets a
// SIGSTOP) and PTRACE_SEIZE (options opts, no stop).
func (t *Task) PtraceAttach(tid ThreadID, seize bool, opts uint64) error {
	if seize && opts&^ptraceOptionsMask != 0 {
		return unix.EIO
	}
	if opts&unix.PTRACE_O_SUSPEND_SECCOMP != 0 && !t.Credentials().HasCapability(21) {
		return unix.EPERM
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	e := t.ns.tasks[tid]
	if e == nil {
		return unix.ESRCH
	}
	if e.tg == t.tg {
		return unix.EPERM
	}
	if !ptraceMayAccess(t, e) {
		return unix.EPERM
	}
	if e.ptrace.tracer != nil || e.tg.exiting || e.killed.Load() {
		return unix.EPERM
	}
	e.ptrace.tracer = t
	e.ptrace.seized = seize
	e.ptrace.mode = PtraceCont
	if seize {
		e.ptrace.options = uint32(opts)
	}
	t.ptrace.addTracee(e)
	if !seize {
		info := abi.SignalInfo{Signo: int32(unix.SIGSTOP), Code: abi.SI_KERNEL}
		k.sendSignalLocked(e.tg, e, &info, true)
	}
	if e.tg.stopping {
		// Parked in a group stop: it re-reports the stop to its tracer.
		e.sig.wake.Store(true)
		e.interrupt()
	}
	return nil
}

// ptraceMayAccess is Linux's __ptrace_may_access for attaching with real
// credentials: the caller's real uid and gid match every uid and gid of
// the target, or the caller has CAP_SYS_PTRACE.
func ptraceMayAccess(t, e *Task) bool {
	c, tc := t.Credentials(), e.Credentials()
	if c.RealKUID == tc.RealKUID && c.RealKUID == tc.EffectiveKUID && c.RealKUID == tc.SavedKUID &&
		c.RealKGID == tc.RealKGID && c.RealKGID == tc.EffectiveKGID && c.RealKGID == tc.SavedKGID {
		return true
	}
	return c.HasCapability(capSysPtrace)
}

// PtraceTracee returns the task tid that t traces. Unless running is
// allowed, it must be in a ptrace-stop. ESRCH otherwise, as Linux's
// ptrace_check_attach.
func (t *Task) PtraceTracee(tid ThreadID, running bool) (*Task, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	e := t.ns.tasks[tid]
	if e == nil || e.ptrace.tracer != t || e.ptrace.exited {
		return nil, unix.ESRCH
	}
	if !running && (e.ptrace.stop == nil || e.ptrace.stop.listening) {
		return nil, unix.ESRCH
	}
	return e, nil
}

// stoppedLocked returns e's stop if t traces e and e is in a ptrace-stop.
func (t *Task) stoppedLocked(e *Task) (*ptraceStop, error) {
	p := &e.ptrace
	if p.tracer != t || p.exited || p.stop == nil || p.stop.listening {
		return nil, unix.ESRCH
	}
	return p.stop, nil
}

// PtraceResume ends the ptrace-stop of e with signal sig (PTRACE_CONT,
// SYSCALL, SYSEMU, SINGLESTEP, SYSEMU_SINGLESTEP).
func (t *Task) PtraceResume(e *Task, mode PtraceResumeMode, sig int) error {
	if sig < 0 || sig > NumSignals {
		return unix.EIO
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := t.stoppedLocked(e)
	if err != nil {
		return err
	}
	e.ptrace.mode = mode
	e.ptrace.stop = nil
	s.resumeSig = sig
	close(s.resumed)
	return nil
}

// PtraceDetach implements PTRACE_DETACH: e runs on untraced, with sig
// delivered if it was in a signal-delivery-stop.
func (t *Task) PtraceDetach(e *Task, sig int) error {
	if sig < 0 || sig > NumSignals {
		return unix.EIO
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := t.stoppedLocked(e); err != nil {
		return err
	}
	k.ptraceUnlinkLocked(e, sig)
	return nil
}

// PtraceKill implements PTRACE_KILL: the tracee's process dies of SIGKILL.
func (t *Task) PtraceKill(e *Task) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if e.ptrace.tracer != t || e.ptrace.exited {
		return unix.ESRCH
	}
	k.killGroupLocked(e.tg, Signaled(int(unix.SIGKILL), false))
	return nil
}

// PtraceInterrupt implements PTRACE_INTERRUPT: a seized tracee stops with
// PTRACE_EVENT_STOP at its next chance (a blocking syscall is interrupted
// and restarted afterwards); a LISTENing one re-traps.
func (t *Task) PtraceInterrupt(e *Task) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	p := &e.ptrace
	if p.tracer != t || p.exited {
		return unix.ESRCH
	}
	if !p.seized {
		return unix.EIO
	}
	if s := p.stop; s != nil {
		if s.listening {
			s.listening = false
			s.retrap = true
			p.stop = nil
			close(s.resumed)
		}
		return nil
	}
	p.trapPending = true
	e.sig.wake.Store(true)
	e.interrupt()
	return nil
}

// PtraceListen implements PTRACE_LISTEN: a seized tracee in a
// PTRACE_EVENT_STOP stays stopped, but is no longer reported and takes no
// requests, until its group stop ends (or PTRACE_INTERRUPT), when it
// re-traps with PTRACE_EVENT_STOP.
func (t *Task) PtraceListen(e *Task) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	s, err := t.stoppedLocked(e)
	if err != nil {
		return err
	}
	if !e.ptrace.seized || !e.ptrace.haveSiginfo || e.ptrace.siginfo.Code>>8 != unix.PTRACE_EVENT_STOP {
		return unix.EIO
	}
	if s.groupStop && !e.tg.stopping {
		// The group stop ended since the trap: re-trap at once.
		s.retrap = true
		e.ptrace.stop = nil
		close(s.resumed)
		return nil
	}
	s.listening = true
	return nil
}

// PtraceSetOptions implements PTRACE_SETOPTIONS.
func (t *Task) PtraceSetOptions(e *Task, opts uint64) error {
	if opts&^ptraceOptionsMask != 0 {
		return unix.EINVAL
	}
	if opts&unix.PTRACE_O_SUSPEND_SECCOMP != 0 && !t.Credentials().HasCapability(21) {
		return unix.EPERM
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := t.stoppedLocked(e); err != nil {
		return err
	}
	e.ptrace.options = uint32(opts)
	return nil
}

// PtraceEventMsg implements PTRACE_GETEVENTMSG.
func (t *Task) PtraceEventMsg(e *Task) (uint64, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := t.stoppedLocked(e); err != nil {
		return 0, err
	}
	return e.ptrace.eventMsg, nil
}

// PtraceSigInfo implements PTRACE_GETSIGINFO (EINVAL in a stop without
// one: a legacy group stop).
func (t *Task) PtraceSigInfo(e *Task) (abi.SignalInfo, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := t.stoppedLocked(e); err != nil {
		return abi.SignalInfo{}, err
	}
	if !e.ptrace.haveSiginfo {
		return abi.SignalInfo{}, unix.EINVAL
	}
	return e.ptrace.siginfo, nil
}

// PtraceSetSigInfo implements PTRACE_SETSIGINFO.
func (t *Task) PtraceSetSigInfo(e *Task, info *abi.SignalInfo) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := t.stoppedLocked(e); err != nil {
		return err
	}
	if !e.ptrace.haveSiginfo {
		return unix.EINVAL
	}
	e.ptrace.siginfo = *info
	return nil
}

// PtraceRegs runs fn on the registers of e, stopped and traced by t, with
// k.mu held: fn must not block or touch application memory.
func (t *Task) PtraceRegs(e *Task, fn func(r *arch.Registers) error) error {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := t.stoppedLocked(e); err != nil {
		return err
	}
	return fn(&e.regs)
}

// PtraceSyscallInfo returns what PTRACE_GET_SYSCALL_INFO reports about
// e's stop: its op, the registers and, for a seccomp stop, the
// SECCOMP_RET_DATA.
func (t *Task) PtraceSyscallInfo(e *Task) (op uint8, regs arch.Registers, data uint64, err error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := t.stoppedLocked(e); err != nil {
		return 0, regs, 0, err
	}
	return e.ptrace.syscallOp, e.regs, e.ptrace.eventMsg, nil
}

// PtraceFPState runs fn on e's full FP state (arch.FPStateSize bytes,
// XSAVE standard format) on e's own goroutine, which alone can reach it;
// if fn returns true the state is written back (EINVAL for a state the
// CPU would refuse). e must be stopped and traced by t.
func (t *Task) PtraceFPState(e *Task, fn func(fp []byte) (bool, error)) error {
	k := t.k
	k.mu.Lock()
	s, err := t.stoppedLocked(e)
	k.mu.Unlock()
	if err != nil {
		return err
	}
	var ferr error
	req := ptraceRequest{done: make(chan struct{})}
	req.fn = func() {
		fp, err := e.fpState()
		if err != nil {
			ferr = unix.EIO
			return
		}
		write, err := fn(fp)
		if err != nil {
			ferr = err
			return
		}
		if write {
			if err := e.ctx.SetFPState(e.mm.AddressSpace(), fp); err != nil {
				ferr = unix.EINVAL
			}
		}
	}
	select {
	case s.reqs <- req:
	case <-s.left:
		return unix.ESRCH
	}
	<-req.done
	return ferr
}

// PtraceCopyIn reads e's memory at addr ignoring its protections
// (PTRACE_PEEKDATA, FOLL_FORCE). e must be stopped and traced by t.
func (t *Task) PtraceCopyIn(e *Task, addr uint64, dst []byte) (int, error) {
	k := t.k
	k.mu.Lock()
	if _, err := t.stoppedLocked(e); err != nil {
		k.mu.Unlock()
		return 0, err
	}
	m := e.mm
	m.IncUsers()
	k.mu.Unlock()
	defer m.Release()
	return m.CopyInForce(addr, dst)
}

// PtraceCopyOut writes e's memory at addr ignoring the lack of PROT_WRITE
// on private mappings (PTRACE_POKEDATA, breakpoints in text).
func (t *Task) PtraceCopyOut(e *Task, addr uint64, src []byte) (int, error) {
	k := t.k
	k.mu.Lock()
	if _, err := t.stoppedLocked(e); err != nil {
		k.mu.Unlock()
		return 0, err
	}
	m := e.mm
	m.IncUsers()
	k.mu.Unlock()
	defer m.Release()
	return m.CopyOutForce(addr, src)
}

// tracerPIDLocked returns the thread id of t's tracer, 0 when untraced.
// k.mu must be held.
func (t *Task) tracerPIDLocked() ThreadID {
	if tr := t.ptrace.tracer; tr != nil && !t.ptrace.exited {
		return tr.tid
	}
	return 0
}
