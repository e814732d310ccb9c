//go:build linux && amd64

package systrap

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
	// si_code of a seccomp SIGSYS (SYS_SECCOMP).
	sysSeccomp = 1
	// si_code of a signal the kernel raised without details.
	siKernel = 0x80

	// negENOSYS is rax at syscall entry.
	negENOSYS = ^uint64(unix.ENOSYS - 1)

	// Offsets in the signal frame's ucontext and siginfo.
	ucStack      = 16  // ucontext.uc_stack: ss_sp, ss_flags, ss_size
	ucMcontext   = 40  // struct sigcontext in struct ucontext
	ucSigmask    = 296 // ucontext.uc_sigmask
	scErr        = 152 // sigcontext.err (the x86 error code)
	scTrapno     = 160
	scFPState    = 184
	siCode       = 8
	siAddr       = 16
	siginfoSize  = 128
	trapPageFlt  = 14
	pfWrite      = 1 << 1
	pfInstrFetch = 1 << 4

	eflagsTF = 1 << 8

	userCS = 0x33
	userSS = 0x2b
)

// thread is an application thread of a stub, owned by one context. While
// the context is not in Switch the thread is parked in the stub's handler
// and its signal frame, in the region, holds the task's registers.
type thread struct {
	as   *addressSpace
	tid  int32
	slot int
	// page is the sentry's view of the thread's slot (state page and
	// alternate stack).
	page                          []byte
	state, stubSleep, sentrySleep *uint32
	// uctx and info are the offsets in page of the parked frame's
	// ucontext and siginfo, checked by parked.
	uctx, info int
	dead       bool
	cpu        boundCPU

	// Spinning (see handOff): stubBudget is the stub's budget at the
	// last hand-off, evAt when the sentry saw the last event (TSC), calm
	// how many hand-offs in a row did not spin.
	stubBudget int64
	evAt       int64
	calm       uint32
	// Hot state (wait.go): hot is the thread's lease while it is hot;
	// slept says whether the sentry's last hot wait slept; hotMiss is
	// the miss rate of the hot spins and hotRounds the hand-offs of this
	// hot period; cycle the average time from event to event (0: not
	// known), prevEv the last event; hotRetry the TSC before which t may
	// not go hot again, after a back-off of hotBackoff.
	hot                  *hotSlot
	slept                bool
	hotMiss, hotRounds   uint32
	cycle, prevEv        int64
	hotRetry, hotBackoff int64
	// inTramp is set while the thread is parked in the patch trampoline
	// rather than in the signal handler (patch.go).
	inTramp bool
	// rax is the trampoline's rax for the next hand-off to write to
	// tRax, if raxOut (putPatchRegs).
	rax    uint64
	raxOut bool
	// Trap outs of the trampoline per site (noteTrapOut; sites as
	// index+1, 0: none): site is the site of the last patched event,
	// sinceOut the patched events since the last trap out (saturating),
	// outSite and outRun the site of the last trap outs and how many came
	// in a row, revert a site to revert at the next Switch.
	site, outSite, revert uint32
	sinceOut, outRun      uint32
}

// stubAddr is the thread's slot's address in the stub.
func (t *thread) stubAddr() uint64 {
	return t.as.p.regionAddr + uint64(t.slot)*slotSize
}

// parked checks and records where the frame of the thread's last signal
// lies. The stub's memory is writable by the application, so nothing read
// from it is trusted beyond "a value the application could choose".
func (t *thread) parked() error {
	le := binary.LittleEndian
	base := t.stubAddr()
	u := le.Uint64(t.page[tUctx:]) - base
	i := le.Uint64(t.page[tInfo:]) - base
	if u < pageSize || u > slotSize-arch.UContextSize || i < pageSize || i > slotSize-siginfoSize {
		return fmt.Errorf("stub thread %d: signal frame outside its stack (%#x): %w", t.tid, u+base, platform.ErrContextDead)
	}
	t.uctx, t.info = int(u), int(i)
	return nil
}

func (t *thread) signo() unix.Signal { return unix.Signal(load(word(t.page, tSigno))) }

func (t *thread) sigcontext() []byte {
	return t.page[t.uctx+ucMcontext : t.uctx+ucMcontext+arch.SigContextSize]
}

func (t *thread) rip() uint64 { return binary.LittleEndian.Uint64(t.sigcontext()[16*8:]) }

// gregs returns pointers to the registers in struct sigcontext order.
func gregs(r *arch.Registers) [18]*uint64 {
	return [18]*uint64{
		&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp,
		&r.Rip, &r.Eflags,
	}
}

// putRegs writes regs into the parked frame (rt_sigreturn restores them)
// and the fs/gs bases into the state page (the handler loads them).
//
// Like putPatchRegs it writes only the words that changed: the kernel
// wrote the frame on the stub's CPU, and a line the sentry only read
// stays in that CPU's cache for rt_sigreturn.
func (t *thread) putRegs(regs *arch.Registers) {
	sc := t.sigcontext()
	for i, p := range gregs(regs) {
		putIfChanged(sc[i*8:], *p)
	}
	putIfChanged(t.page[tFSBase:], regs.Fs_base)
	gs := regs.Gs_base
	if gs == 0 && t.as.patch != nil {
		// The patch trampoline finds the state page through gs.
		gs = t.stubAddr()
	}
	putIfChanged(t.page[tGSBase:], gs)
	// The host signal mask of an application thread is always empty
	// (the sentry keeps the task's own), so that Interrupt's signal gets
	// through.
	putIfChanged(t.page[t.uctx+ucSigmask:], 0)
}

// getRegs reads the registers of the parked frame.
func (t *thread) getRegs(regs *arch.Registers) {
	le := binary.LittleEndian
	sc := t.sigcontext()
	for i, p := range gregs(regs) {
		*p = le.Uint64(sc[i*8:])
	}
	regs.Fs_base = le.Uint64(t.page[tFSBase:])
	regs.Gs_base = le.Uint64(t.page[tGSBase:])
	if regs.Gs_base == t.stubAddr() {
		regs.Gs_base = 0
	}
	regs.Cs, regs.Ss = userCS, userSS
	regs.Ds, regs.Es, regs.Fs, regs.Gs = 0, 0, 0, 0
	regs.Orig_rax = ^uint64(0)
}

// run lets the parked thread return to the application and waits until it
// parks again. It returns false if the thread died.
//
// An interrupt (c.interrupt) that goes unanswered for deafStrikes liveness
// periods means the application made its host thread deaf to
// interruptSignal (only a forged rt_sigreturn frame can block it): the
// thread is killed, which kills its stub, and the task dies with
// ErrContextDead.
func (t *thread) run(c *context) bool {
	if t.handOff(c) {
		return load(t.state) == stEvent
	}
	return false
}

// release ends the context's use of the thread. A thread parked in a live
// address space is kept there, still parked, for the address space's next
// new thread (see addressSpace.idle), up to maxIdle and maxIdlePlatform;
// any other is told to exit, and its slot is free once it is gone.
func (t *thread) release() {
	t.coolDown(arch.Rdtsc())
	as := t.as
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released.Load() {
		t.dead = true
		return
	}
	dead := t.dead
	t.dead = true // for the context that let it go
	if !dead && load(t.state) == stEvent && as.pushIdleLocked(t.recycled()) {
		return
	}
	as.exitLocked(t)
}

// recycled returns a thread for t's host thread, parked where t left it.
// What the next task finds there is t's frame (or trampoline registers),
// which its first Switch overwrites, and the FP state of t's task, which
// the kernel replaces with the new task's inherited one (SetFPState)
// before that. The spin policies carry over: threads of one address space
// that come and go usually do the same work (a pool, a helper thread per
// request), and a new thread's policies would start from nothing at each
// generation (five syscalls of a short-lived thread, each paying a
// wake-up, before they learn anything).
func (t *thread) recycled() *thread {
	n := *t
	n.dead = false
	return &n
}

// context is a platform.Context: one task's threads, one per address space
// it has run in.
type context struct {
	p *Platform

	// The fields below are owned by the goroutine using the context.
	last    *thread
	threads map[*addressSpace]*thread
	// res is the slot the kernel reserved for the task's first thread
	// (reservation.Bind), taken by threadFor.
	res *reservation
	// lazy is the thread whose tCRegs hold the callee-saved registers
	// while the regs of the last Switch have stale ones (a patched
	// syscall: platform.LazyRegs); nil when those regs are whole.
	lazy *thread

	// interrupt is set by Interrupt and consumed by Switch.
	interrupt atomic.Uint32
	// running is pid<<32 | tid of the thread while Switch runs it, else 0.
	running atomic.Uint64
}

var (
	_ platform.Context  = (*context)(nil)
	_ platform.LazyRegs = (*context)(nil)
)

// PullRegs implements platform.LazyRegs.
func (c *context) PullRegs(regs *arch.Registers) {
	if t := c.lazy; t != nil {
		t.pullCRegs(regs)
		c.lazy = nil
	}
}

// threadFor returns the context's thread in pas, creating it if needed.
func (c *context) threadFor(pas platform.AddressSpace) (*thread, error) {
	as, _ := pas.(*addressSpace)
	if t := c.last; t != nil && t.as == as && !t.dead && !as.released.Load() {
		return t, nil
	}
	if as == nil || as.p != c.p {
		return nil, fmt.Errorf("systrap platform: foreign address space %T", pas)
	}
	if as.released.Load() {
		return nil, platform.ErrContextDead
	}
	if t, ok := c.threads[as]; ok && !t.dead {
		c.last = t
		return t, nil
	}
	c.sweep()
	var res *reservation
	if c.res != nil && c.res.as == as {
		res, c.res = c.res, nil
	}
	t, err := as.newThread(res)
	if err != nil {
		return nil, err
	}
	c.threads[as] = t
	c.last = t
	return t, nil
}

// sweep forgets threads that are dead or whose address space was released.
func (c *context) sweep() {
	for as, t := range c.threads {
		if t.dead || as.released.Load() {
			delete(c.threads, as)
			if c.last == t {
				c.last = nil
			}
		}
	}
}

// Switch implements platform.Context.Switch.
func (c *context) Switch(pas platform.AddressSpace, regs *arch.Registers) (platform.Event, platform.FaultInfo, error) {
	t, err := c.threadFor(pas)
	if err != nil {
		return platform.EventInterrupted, platform.FaultInfo{}, err
	}
	if t.revert != 0 {
		if pt := t.as.patch; pt != nil {
			pt.revert(int(t.revert - 1))
		}
		t.revert = 0
	}
	// regs are whole unless a patched syscall left some of them in t's
	// tCRegs (c.lazy == t: PullRegs). Only the trampoline reads them from
	// there; regs must be whole for any other way back.
	if c.lazy != nil && c.lazy != t {
		c.PullRegs(regs)
	}
	// The trampoline restores general registers only: an application gs
	// base, or a trap flag (single-stepping would stop in the trampoline's
	// own instructions), needs a signal frame. Only the kernel's trap
	// flag (ptrace) counts, and it pulled the flags to set it; flags not
	// pulled are the application's own at the site, and an application
	// that single-steps itself traps at each trampoline instruction
	// anyway (its jump to the thunk is already one).
	if t.inTramp && (regs.Gs_base != 0 || (c.lazy == nil && regs.Eflags&eflagsTF != 0)) {
		if err := t.leaveTrampoline(c); err != nil {
			return platform.EventInterrupted, platform.FaultInfo{}, fmt.Errorf("stub thread %d: %w", t.tid, err)
		}
	}
	// A trap out of the trampoline (above, or FPState's) loaded tCRegs
	// into the frame, which putRegs rewrites.
	if c.lazy != nil && !t.inTramp {
		c.PullRegs(regs)
	}
	if t.inTramp {
		t.putPatchRegs(regs, c.lazy == t)
	} else {
		t.putRegs(regs)
	}
	running := uint64(t.as.pid)<<32 | uint64(uint32(t.tid))
	c.running.Store(running)
	for t.as.stopping.Load() != 0 {
		// A rewrite of the application's code (stopOthers): wait until
		// it is done.
		c.running.Store(0)
		t.as.waitStop()
		c.running.Store(running)
	}
	if c.interrupt.Swap(0) != 0 {
		c.running.Store(0)
		return platform.EventInterrupted, platform.FaultInfo{}, nil
	}
	ok := t.run(c)
	c.running.Store(0)
	c.lazy = nil
	if !ok {
		t.dead = true
		return platform.EventInterrupted, platform.FaultInfo{}, fmt.Errorf("stub thread %d: %w", t.tid, platform.ErrContextDead)
	}
	if t.inTramp = t.signo() == 0; t.inTramp {
		return c.patchEvent(t, regs)
	}
	if err := t.parked(); err != nil {
		t.kill()
		return platform.EventInterrupted, platform.FaultInfo{}, err
	}
	t.getRegs(regs)
	return c.event(t, regs)
}

// kill ends a thread whose state cannot be trusted any more.
func (t *thread) kill() {
	tgkill(t.as.pid, t.tid, unix.SIGKILL)
	t.dead = true
}

// event decodes why the thread parked.
func (c *context) event(t *thread, regs *arch.Registers) (platform.Event, platform.FaultInfo, error) {
	le := binary.LittleEndian
	sig := t.signo()
	code := int32(le.Uint32(t.page[t.info+siCode:]))
	switch {
	case sig == unix.SIGSYS && code == sysSeccomp:
		// The kernel rolled rax back to the syscall number; rip is
		// after the syscall instruction. At syscall entry Linux has
		// rax = -ENOSYS (what a ptracer sees).
		regs.Orig_rax = regs.Rax
		regs.Rax = negENOSYS
		if pt := t.as.patch; pt != nil {
			pt.maybePatch(regs.Rip, regs.Orig_rax)
		}
		return platform.EventSyscall, platform.FaultInfo{}, nil
	case sig == unix.SIGILL && code == siKernel:
		// Linux 6.x answers a syscall number in the x86-64 table's gap
		// (335-423) with a SIGILL instead of running seccomp; rax is
		// already -ENOSYS and the number lost. To the sentry it is the
		// unknown syscall -1, which fails with ENOSYS as on Linux.
		return platform.EventSyscall, platform.FaultInfo{}, nil
	case (sig == unix.SIGSEGV || sig == unix.SIGBUS || sig == unix.SIGFPE || sig == unix.SIGILL || sig == unix.SIGTRAP) && code > 0:
		fi := platform.FaultInfo{Signo: int32(sig), Code: code, Addr: le.Uint64(t.page[t.info+siAddr:])}
		if sig == unix.SIGSEGV {
			sc := t.sigcontext()
			if le.Uint64(sc[scTrapno:]) == trapPageFlt {
				e := le.Uint64(sc[scErr:])
				switch {
				case e&pfInstrFetch != 0:
					fi.Access = usermem.AccessType{Read: true, Execute: true}
				case e&pfWrite != 0:
					fi.Access = usermem.Write
				default:
					fi.Access = usermem.Read
				}
			}
		}
		if c.patchFault(t, regs, &fi) {
			return platform.EventSyscall, platform.FaultInfo{}, nil
		}
		return platform.EventFault, fi, nil
	default:
		if sig == interruptSignal {
			c.interrupt.Store(0) // this stop is the interrupt's answer
		}
		c.rewindThunk(t, regs)
		return platform.EventInterrupted, platform.FaultInfo{}, nil
	}
}

// Interrupt implements platform.Context.Interrupt: a running thread gets
// interruptSignal, whose handler parks it like a syscall would.
func (c *context) Interrupt() {
	c.interrupt.Store(1)
	if r := c.running.Load(); r != 0 {
		tgkill(int32(r>>32), int32(uint32(r)), interruptSignal)
	}
}

// Release implements platform.Context.Release: its threads exit, and a
// reserved slot it never used is freed.
func (c *context) Release() {
	c.p.ctxMu.Lock()
	delete(c.p.ctxs, c)
	c.p.ctxMu.Unlock()
	if c.res != nil {
		c.res.Release()
		c.res = nil
	}
	for as, t := range c.threads {
		delete(c.threads, as)
		if !t.dead {
			t.release()
		}
	}
	c.last = nil
}
