//go:build linux && amd64

package ptrace

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

const (
	// interruptSignal is sent (tgkill) to the stub thread of a running
	// Switch by Interrupt. Like every signal reaching a stub, it only causes
	// a signal-delivery-stop: Switch suppresses it.
	interruptSignal = unix.SIGCHLD

	// sysemuStop is the stop signal of a PTRACE_SYSEMU syscall stop with
	// PTRACE_O_TRACESYSGOOD.
	sysemuStop = unix.SIGTRAP | 0x80

	// si_code values of SIGSEGV (include/uapi/asm-generic/siginfo.h).
	segvMapErr = 1
	segvAccErr = 2

	// User-mode selectors (__USER_CS, __USER_DS) of x86-64 Linux.
	userCS = 0x33
	userSS = 0x2b
)

// thread is a stub thread traced by one task OS thread.
type thread struct {
	as   *addressSpace
	tid  int32
	cpu  uint32 // the CPU the thread is bound to, or noCPU
	dead bool
	// tracer is the host tid of the OS thread that traces this thread.
	tracer int32
	// tmpl is a valid register set of the thread (taken when it was
	// seized), the base of the registers of injected syscalls.
	tmpl arch.Registers
}

// syscall runs one system call in t, which must be stopped and traced by
// the calling OS thread: like the control thread's injections, its
// registers are set to the stub's syscall instruction and it runs to the
// int3 that follows. The application's registers are not kept: the next
// Switch sets them again, and its PTRACE_SYSEMU discards the int3's
// SIGTRAP.
func (t *thread) syscall(nr uintptr, args ...uint64) (uint64, error) {
	p := t.as.p
	if cpu := p.currentCPU(); cpu != t.cpu {
		bindTo(t.tid, cpu)
		t.cpu = cpu
	}
	regs := t.tmpl
	regs.Rip = p.stubPage + stubSyscallOff
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0)
	var a [6]uint64
	copy(a[:], args)
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := setRegs(t.tid, &regs); err != nil {
		return 0, t.lost(fmt.Errorf("PTRACE_SETREGS: %w", err))
	}
	if err := ptraceReq(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
		return 0, t.lost(fmt.Errorf("PTRACE_CONT: %w", err))
	}
	var ws unix.WaitStatus
	for {
		if _, err := wait4(t.tid, &ws, 0); err != nil {
			return 0, t.lost(fmt.Errorf("wait4: %w", err))
		}
		if !ws.Stopped() {
			t.forget(true)
			return 0, fmt.Errorf("stub thread %d died (%#x): %w", t.tid, ws, platform.ErrContextDead)
		}
		if ws.StopSignal() == unix.SIGTRAP && eventOf(ws) == 0 {
			break
		}
		// Another signal (an Interrupt racing with the injection): its
		// flag stays set for the next Switch; suppress it and go on.
		if err := ptraceReq(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
			return 0, t.lost(fmt.Errorf("PTRACE_CONT: %w", err))
		}
	}
	if err := getRegs(t.tid, &regs); err != nil {
		return 0, t.lost(fmt.Errorf("PTRACE_GETREGS: %w", err))
	}
	if regs.Rip != p.stubPage+stubTrapOff+1 {
		return 0, t.lost(fmt.Errorf("stopped at %#x after an injected syscall", regs.Rip))
	}
	if e := int64(regs.Rax); e < 0 && e >= -4095 {
		return 0, unix.Errno(-e)
	}
	return regs.Rax, nil
}

// lost marks t unusable after a failed injection; the stub is killed, as
// the control thread's lost does, since its memory may now be wrong.
func (t *thread) lost(err error) error {
	unix.Kill(int(t.as.pid), unix.SIGKILL)
	t.forget(false)
	return fmt.Errorf("stub thread %d: %v: %w", t.tid, err, platform.ErrContextDead)
}

// forget marks t dead and drops it from its address space's tables;
// reaped says it has been waited for.
func (t *thread) forget(reaped bool) {
	t.dead = true
	t.as.tidsMu.Lock()
	if reaped {
		delete(t.as.tids, t.tid)
	}
	if t.as.byTracer[t.tracer] == t {
		delete(t.as.byTracer, t.tracer)
	}
	t.as.tidsMu.Unlock()
}

// context is a platform.Context. It is used by one goroutine, locked to its
// OS thread, which is the tracer of all of the context's stub threads: one
// per address space the context has switched into.
type context struct {
	p *Platform

	// The fields below are touched only by the goroutine using the
	// context.

	// tid is the host tid of the context's OS thread, once known.
	tid int32
	// last is the thread of the most recent Switch: the hot path.
	last *thread
	// threads holds a thread per address space switched into.
	threads map[*addressSpace]*thread
	// status and siginfo are Switch's buffers (kept here so that Switch
	// does not allocate).
	status  unix.WaitStatus
	siginfo [128]byte

	// interrupt is set by Interrupt and consumed by Switch.
	interrupt atomic.Uint32
	// running is pid<<32 | tid of the stub thread while Switch runs it,
	// and 0 otherwise. Interrupt signals it.
	running atomic.Uint64
}

var _ platform.Context = (*context)(nil)

// Switch implements platform.Context.Switch. The calling goroutine must be
// locked to the same OS thread for every call on this context.
func (c *context) Switch(pas platform.AddressSpace, regs *arch.Registers) (platform.Event, platform.FaultInfo, error) {
	as, _ := pas.(*addressSpace)
	t := c.last
	if t == nil || t.as != as {
		var err error
		if t, err = c.lookup(as); err != nil {
			return platform.EventInterrupted, platform.FaultInfo{}, err
		}
	}
	if t.dead || as.released.Load() {
		return platform.EventInterrupted, platform.FaultInfo{}, platform.ErrContextDead
	}
	if cpu := c.p.currentCPU(); cpu != t.cpu {
		bindTo(t.tid, cpu)
		t.cpu = cpu
	}
	// The kernel refuses other selectors (EIO); the application has no
	// business changing them.
	regs.Cs, regs.Ss = userCS, userSS

	c.running.Store(uint64(as.pid)<<32 | uint64(uint32(t.tid)))
	if c.interrupt.Swap(0) != 0 {
		c.running.Store(0)
		return platform.EventInterrupted, platform.FaultInfo{}, nil
	}
	if err := setRegs(t.tid, regs); err != nil {
		c.running.Store(0)
		return c.failed(t, regs, fmt.Errorf("PTRACE_SETREGS: %w", err))
	}
	if err := ptraceReq(unix.PTRACE_SYSEMU, t.tid, 0, 0); err != nil {
		c.running.Store(0)
		return c.failed(t, regs, fmt.Errorf("PTRACE_SYSEMU: %w", err))
	}
	_, err := wait4(t.tid, &c.status, 0)
	c.running.Store(0)
	if err != nil {
		return c.failed(t, regs, fmt.Errorf("wait4: %w", err))
	}
	return c.stopped(t, regs)
}

// stopped decodes the stop in c.status of t after a Switch.
func (c *context) stopped(t *thread, regs *arch.Registers) (platform.Event, platform.FaultInfo, error) {
	ws := c.status
	if !ws.Stopped() {
		// Exited or killed (by its filter, or with its stub): reaped.
		c.reaped(t)
		return platform.EventInterrupted, platform.FaultInfo{}, platform.ErrContextDead
	}
	if err := getRegs(t.tid, regs); err != nil {
		return c.failed(t, regs, fmt.Errorf("PTRACE_GETREGS: %w", err))
	}
	sig := ws.StopSignal()
	switch {
	case sig == sysemuStop:
		return platform.EventSyscall, platform.FaultInfo{}, nil
	case eventOf(ws) != 0:
		// PTRACE_EVENT_STOP: a group-stop or PTRACE_INTERRUPT.
		return platform.EventInterrupted, platform.FaultInfo{}, nil
	case sig == unix.SIGSEGV || sig == unix.SIGBUS || sig == unix.SIGFPE || sig == unix.SIGILL || sig == unix.SIGTRAP:
		if err := getSiginfo(t.tid, &c.siginfo); err != nil {
			return c.failed(t, regs, fmt.Errorf("PTRACE_GETSIGINFO: %w", err))
		}
		code := int32(binary.LittleEndian.Uint32(c.siginfo[8:]))
		if code <= 0 {
			// Sent by someone (SI_USER, SI_TKILL...), not a fault.
			return platform.EventInterrupted, platform.FaultInfo{}, nil
		}
		fi := platform.FaultInfo{
			Signo: int32(sig),
			Code:  code,
			Addr:  binary.LittleEndian.Uint64(c.siginfo[16:]),
		}
		if sig == unix.SIGSEGV {
			switch {
			case fi.Addr == regs.Rip:
				fi.Access = usermem.AccessType{Read: true, Execute: true}
			case code == segvAccErr:
				fi.Access = usermem.Write
			}
		}
		// The signal is suppressed by the next PTRACE_SYSEMU (data 0).
		return platform.EventFault, fi, nil
	default:
		if sig == interruptSignal {
			c.interrupt.Store(0) // this stop is the interrupt's answer
		}
		return platform.EventInterrupted, platform.FaultInfo{}, nil
	}
}

// failed handles a failed ptrace request or wait on t: if t is gone, reap it
// and report the context dead; any other error also makes the context
// unusable for this address space.
func (c *context) failed(t *thread, regs *arch.Registers, err error) (platform.Event, platform.FaultInfo, error) {
	var ws unix.WaitStatus
	pid, werr := wait4(t.tid, &ws, unix.WNOHANG)
	switch {
	case werr != nil:
		// Not our tracee any more (reaped by Release, or the caller is
		// not on the tracer thread).
		t.dead = true
		return platform.EventInterrupted, platform.FaultInfo{}, fmt.Errorf("stub thread %d: %v: %w", t.tid, err, platform.ErrContextDead)
	case pid != 0 && (ws.Exited() || ws.Signaled()):
		c.reaped(t)
		return platform.EventInterrupted, platform.FaultInfo{}, platform.ErrContextDead
	case pid != 0:
		// A pending stop (e.g. after a PTRACE_SYSEMU that raced with a
		// kill): decode it.
		c.status = ws
		return c.stopped(t, regs)
	}
	// Killed but not yet reported: the exit is imminent.
	if unix.Tgkill(int(t.as.pid), int(t.tid), 0) == unix.ESRCH {
		c.reap(t)
		return platform.EventInterrupted, platform.FaultInfo{}, platform.ErrContextDead
	}
	t.dead = true
	return platform.EventInterrupted, platform.FaultInfo{}, fmt.Errorf("stub thread %d: %v: %w", t.tid, err, platform.ErrContextDead)
}

// reaped records that t has been waited for.
func (c *context) reaped(t *thread) { t.forget(true) }

// reap waits for t, which is exiting, and records it. A thread that
// faults instead of exiting is killed, with its address space's stub
// process: it cannot be made to run anything else.
func (c *context) reap(t *thread) {
	t.as.tidsMu.Lock()
	if _, ok := t.as.tids[t.tid]; ok {
		var ws unix.WaitStatus
		for {
			if _, err := wait4(t.tid, &ws, 0); err != nil || ws.Exited() || ws.Signaled() {
				break
			}
			switch ws.StopSignal() {
			case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE:
				unix.Tgkill(int(t.as.pid), int(t.tid), unix.SIGKILL)
			}
			ptraceReq(unix.PTRACE_CONT, t.tid, 0, 0)
		}
		delete(t.as.tids, t.tid)
	}
	if t.as.byTracer[t.tracer] == t {
		delete(t.as.byTracer, t.tracer)
	}
	t.as.tidsMu.Unlock()
	t.dead = true
}

// lookup returns the context's thread in as, creating it if needed: the
// control goroutine clones a thread in the stub, which spins untraced until
// this OS thread seizes it.
func (c *context) lookup(as *addressSpace) (*thread, error) {
	if as == nil || as.p != c.p {
		return nil, fmt.Errorf("ptrace platform: foreign address space %T", as)
	}
	if t, ok := c.threads[as]; ok && !t.dead {
		c.last = t
		return t, nil
	}
	c.sweep()
	if as.released.Load() {
		return nil, platform.ErrContextDead
	}
	tid, err := as.newThread()
	if err != nil {
		return nil, fmt.Errorf("creating a stub thread: %w", err)
	}
	t := &thread{as: as, tid: tid, cpu: noCPU}
	if err := c.seize(t); err != nil {
		// A thread nobody traces cannot be left spinning: kill the stub.
		unix.Tgkill(int(as.pid), int(tid), unix.SIGKILL)
		t.dead = true
		return nil, fmt.Errorf("seizing stub thread %d: %v: %w", tid, err, platform.ErrContextDead)
	}
	if err := getRegs(tid, &t.tmpl); err != nil {
		unix.Tgkill(int(as.pid), int(tid), unix.SIGKILL)
		t.dead = true
		return nil, fmt.Errorf("stub thread %d: PTRACE_GETREGS: %v: %w", tid, err, platform.ErrContextDead)
	}
	if c.tid == 0 {
		c.tid = int32(unix.Gettid())
	}
	t.tracer = c.tid
	as.tidsMu.Lock()
	as.byTracer[c.tid] = t
	as.tidsMu.Unlock()
	c.threads[as] = t
	c.last = t
	return t, nil
}

// seize makes the calling OS thread the tracer of t and waits for it to stop.
func (c *context) seize(t *thread) error {
	opts := unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACESYSGOOD
	if err := ptraceReq(unix.PTRACE_SEIZE, t.tid, 0, uintptr(opts)); err != nil {
		return fmt.Errorf("PTRACE_SEIZE: %w", err)
	}
	if err := ptraceReq(unix.PTRACE_INTERRUPT, t.tid, 0, 0); err != nil {
		return fmt.Errorf("PTRACE_INTERRUPT: %w", err)
	}
	for {
		var ws unix.WaitStatus
		if _, err := wait4(t.tid, &ws, 0); err != nil {
			return fmt.Errorf("wait4: %w", err)
		}
		if !ws.Stopped() {
			c.reaped(t)
			return fmt.Errorf("stub thread died: %#x", ws)
		}
		if eventOf(ws) == unix.PTRACE_EVENT_STOP {
			return nil
		}
		// A signal got there first: suppress it and wait for the
		// interrupt's stop.
		if err := ptraceReq(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
			return fmt.Errorf("PTRACE_CONT: %w", err)
		}
	}
}

// sweep forgets threads that are dead or whose address space was released
// (the control goroutine reaps those).
func (c *context) sweep() {
	for as, t := range c.threads {
		if t.dead || as.released.Load() {
			t.forget(false)
			delete(c.threads, as)
			if c.last == t {
				c.last = nil
			}
		}
	}
}

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.interrupt.Store(1)
	if r := c.running.Load(); r != 0 {
		tgkill(int32(r>>32), int32(uint32(r)), interruptSignal)
	}
}

// Release implements platform.Context.Release. It must be called on the
// context's OS thread: each of its stub threads in a live address space is
// made to exit (an injected exit) and reaped. A locked goroutine that exits
// without releasing its context kills those address spaces instead
// (PTRACE_O_EXITKILL).
func (c *context) Release() {
	for as, t := range c.threads {
		delete(c.threads, as)
		dead := t.dead
		t.forget(false)
		if dead || as.released.Load() {
			continue
		}
		var cur arch.Registers
		if getRegs(t.tid, &cur) == nil {
			// From the register set taken when the thread was
			// seized, as injected syscalls are: the application's
			// may not return to user mode (sysfuzz left one that
			// faulted there at every try).
			regs := t.tmpl
			regs.Rip = c.p.stubPage + stubSyscallOff
			regs.Rax = unix.SYS_EXIT
			regs.Orig_rax = ^uint64(0)
			regs.Rdi = 0
			if setRegs(t.tid, &regs) == nil && ptraceReq(unix.PTRACE_CONT, t.tid, 0, 0) == nil {
				c.reap(t)
				continue
			}
		}
		// Not our tracee (wrong OS thread?): leave it to Release of the
		// address space.
		t.dead = true
	}
	c.last = nil
}
