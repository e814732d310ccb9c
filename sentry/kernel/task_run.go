package kernel

import (
	"errors"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// Restart errors: a blocking syscall interrupted by a signal returns one of
// these; the run loop turns it into EINTR or a restart (Linux's
// ERESTARTSYS family, never seen by the application).
const (
	ERESTARTSYS    = unix.Errno(512)
	ERESTARTNOINTR = unix.Errno(513)
	ERESTARTNOHAND = unix.Errno(514)
	ERESTART_BLOCK = unix.Errno(516)
)

// errExit is returned by syscalls after which the task must not return to
// application code (exit, exit_group, a fatal error in execve).
var errExit = errors.New("task exiting")

// ErrExit returns the sentinel a syscall returns when the task is exiting.
func ErrExit() error { return errExit }

// start runs the task on a new goroutine.
func (t *Task) start() {
	go t.run()
}

// run is the task goroutine: it switches into application code, handles
// what comes back, and exits when the task does.
func (t *Task) run() {
	// The ptrace platform ties a stub thread to the tracing OS thread,
	// which is discarded, still locked, when the goroutine ends (dropping
	// any ptrace relationship it had). A platform whose contexts leave
	// nothing on the calling thread needs no lock: a task woken by
	// another (a futex, a pipe) then runs on the waker's OS thread as
	// soon as the waker blocks, where a locked one waits for its own
	// thread's host wake-up (15-130 us in a VM; futex_pingpong took
	// 122 us a round trip locked, 17-27 unlocked).
	if r, ok := t.k.Platform.(platform.ReusableThreads); !ok || !r.ThreadsReusable() {
		runtime.LockOSThread()
	}
	t.ctx = t.newContext()
	t.lazyRegs, _ = t.ctx.(platform.LazyRegs)
	if fp := t.sig.initialFP; fp != nil {
		t.sig.initialFP = nil
		if err := t.ctx.SetFPState(t.mm.AddressSpace(), fp); err != nil {
			t.k.Debugf("tid %d: inheriting FP state: %v", t.tid, err)
		}
	}
	t.sig.wake.Store(true)
	t.startSysClock()
	var spurious mm.SpuriousFault
	for !t.killed.Load() {
		if t.k.freezer.frozen.Load() && t.waitThawed() {
			continue
		}
		if t.tg.cpuTimersArmed() {
			t.checkCPUTimers()
		}
		if t.needsSignalWork() {
			t.handleSignals()
			if t.killed.Load() {
				break
			}
		}
		t.enterUser()
		ev, fi, err := t.ctx.Switch(t.mm.AddressSpace(), &t.regs)
		t.leaveUser()
		if err != nil {
			t.k.Warnf("tid %d: platform: %v", t.tid, err)
			t.k.killGroup(t.tg, Signaled(int(unix.SIGKILL), false))
			break
		}
		switch ev {
		case platform.EventSyscall:
			if t.ptrace.sys != PtraceCont {
				t.ptraceSyscall() // syscall stops around doSyscall
			} else {
				t.doSyscall()
			}
		case platform.EventFault:
			t.handleFault(fi, &spurious)
		case platform.EventInterrupted:
		}
	}
	t.ptraceExitEvent()
	t.stopSysClock()
	t.exit()
	t.ctx.Release()
	t.ctx, t.lazyRegs = nil, nil
	t.retire()
}

// doSyscall runs the syscall whose number and arguments are in t.regs.
func (t *Task) doSyscall() {
	nr := arch.SyscallNo(&t.regs)
	if f := t.seccomp.Load(); f != nil {
		if !t.seccompAllows(f, nr) {
			return
		}
		// A tracer handling SECCOMP_RET_TRACE may have changed it.
		nr = arch.SyscallNo(&t.regs)
	}
	args := arch.SyscallArgs(&t.regs)
	var (
		ret uintptr
		err error
	)
	e := t.k.SyscallTable.Lookup(nr)
	if t.k.strace != nil {
		name := ""
		if e != nil {
			name = e.Name
		}
		ret, err = t.invokeTraced(nr, e, name, args)
	} else {
		ret, err = t.invoke(nr, e, args)
	}
	if err == errExit || err == errSigreturn {
		return
	}
	if err != nil {
		errno, ok := err.(unix.Errno)
		if !ok {
			errno = t.wrappedErrno(nr, err)
		}
		switch errno {
		case ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_BLOCK:
			// The delivery pass before the next return to application
			// code decides: restart, or EINTR if a handler runs.
			t.sig.restartErr = errno
		}
		t.regs.Rax = uint64(-int64(errno))
		return
	}
	t.regs.Rax = uint64(ret)
}

// invokeTraced is invoke under --strace. It is apart from doSyscall so
// that the arguments, whose address the tracer keeps, are copied to the
// heap only when tracing (doSyscall allocates nothing).
func (t *Task) invokeTraced(nr uintptr, e *Syscall, name string, args arch.SyscallArguments) (uintptr, error) {
	tok := t.k.strace.SyscallEnter(t, nr, name, &args)
	start := time.Now()
	ret, err := t.invoke(nr, e, args)
	t.k.strace.SyscallExit(t, tok, ret, err, time.Since(start))
	return ret, err
}

// wrappedErrno is the errno a wrapped Go error from inside the sentry
// carries, which is what the application sees, or EIO (logged under
// --debug) if it carries none.
func (t *Task) wrappedErrno(nr uintptr, err error) unix.Errno {
	if errno, ok := findErrno(err); ok {
		return errno
	}
	t.k.Debugf("tid %d: syscall %d: %v", t.tid, nr, err)
	return unix.EIO
}

// findErrno is errors.As(err, *unix.Errno) without the allocation of its
// target: the first unix.Errno in err's tree, depth first.
func findErrno(err error) (unix.Errno, bool) {
	for err != nil {
		switch e := err.(type) {
		case unix.Errno:
			return e, true
		case interface{ Unwrap() []error }:
			for _, w := range e.Unwrap() {
				if errno, ok := findErrno(w); ok {
					return errno, true
				}
			}
			return 0, false
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return 0, false
		}
	}
	return 0, false
}

func (t *Task) invoke(nr uintptr, e *Syscall, args arch.SyscallArguments) (uintptr, error) {
	if e == nil || e.Fn == nil {
		if e != nil && !t.k.unimplemented[nr].Swap(true) {
			name := e.Name
			if name == "" {
				name = "unknown"
			}
			t.k.Warnf("unimplemented syscall %s (%d) returns ENOSYS", name, nr)
		}
		return 0, unix.ENOSYS
	}
	return e.Fn(t, args)
}

// handleFault resolves an application fault in the memory manager or
// turns it into the synchronous signal Linux would force on the task:
// SIGSEGV with si_addr and SEGV_MAPERR/SEGV_ACCERR as the memory manager
// decides, SIGBUS, SIGFPE, SIGILL, SIGTRAP with the host's si_code and
// si_addr (for int3, SI_KERNEL and no address, rip after the int3).
//
// spurious is the task's record of its last spurious fault.
func (t *Task) handleFault(fi platform.FaultInfo, spurious *mm.SpuriousFault) {
	sig, code, addr := fi.Signo, fi.Code, fi.Addr
	if sig == int32(unix.SIGSEGV) && code != abi.SI_KERNEL {
		sig, code = t.mm.HandleThreadFault(fi.Addr, fi.Access, fi.Code, spurious)
		if sig == 0 {
			return
		}
	}
	if t.k.debugLog != nil {
		t.k.Debugf("tid %d: signal %d (code %d) at address %#x, rip %#x", t.tid, sig, code, addr, t.regs.Rip)
	}
	t.recordFault(sig, code, addr, fi.Access.Write, fi.Access.Execute && addr == t.regs.Rip)
	info := abi.SignalInfo{Signo: sig, Code: code}
	if code != abi.SI_KERNEL || sig != int32(unix.SIGTRAP) {
		info.SetAddr(addr)
	}
	t.ForceSignal(&info)
}

// Block waits until ch is ready or the task is interrupted: it returns
// ERESTARTSYS when a signal became deliverable to it (or it must stop for
// job control, or die). The caller returns that error from its syscall
// (or converts it: ERESTARTNOHAND, ERESTART_RESTARTBLOCK, EINTR).
func (t *Task) Block(ch <-chan struct{}) error {
	if t.interrupted() {
		select {
		case <-ch:
			return nil
		default:
			return ERESTARTSYS
		}
	}
	t.blockStart()
	defer t.blockEnd()
	for {
		select {
		case <-ch:
			return nil
		case <-t.interruptCh:
			if t.interrupted() {
				return ERESTARTSYS
			}
		}
	}
}

// BlockTimeout is Block with a deadline: it returns ETIMEDOUT when d passes.
func (t *Task) BlockTimeout(ch <-chan struct{}, d time.Duration) error {
	if d <= 0 {
		select {
		case <-ch:
			return nil
		default:
			return unix.ETIMEDOUT
		}
	}
	if t.interrupted() {
		return ERESTARTSYS
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	t.blockStart()
	defer t.blockEnd()
	for {
		select {
		case <-ch:
			return nil
		case <-t.interruptCh:
			if t.interrupted() {
				return ERESTARTSYS
			}
		case <-tm.C:
			return unix.ETIMEDOUT
		}
	}
}

// Sleep blocks for d; it returns the time left and ERESTARTSYS when
// interrupted.
func (t *Task) Sleep(d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return 0, nil
	}
	start := time.Now()
	left := func() time.Duration {
		l := d - time.Since(start)
		if l < 0 {
			l = 0
		}
		return l
	}
	if t.interrupted() {
		return d, ERESTARTSYS
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	t.blockStart()
	defer t.blockEnd()
	for {
		select {
		case <-tm.C:
			return 0, nil
		case <-t.interruptCh:
			if t.interrupted() {
				return left(), ERESTARTSYS
			}
		}
	}
}
