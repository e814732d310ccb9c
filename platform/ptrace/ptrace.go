//go:build linux && amd64

// Package ptrace implements platform.Platform with host processes traced by
// ptrace: each AddressSpace is a stub process holding nothing but a tiny code
// page and mappings of the memory file, and each (task OS thread, address
// space) pair runs the application in its own stub thread under
// PTRACE_SYSEMU. The package owns the stubs' lifetime, their seccomp filter
// and every ptrace request made on them. See README.md for the design.
package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// Platform is the ptrace platform.
//
// A single control goroutine, locked to its own OS thread for the platform's
// lifetime, creates and traces the pre-made stub and the main ("control")
// thread of every address-space stub. All injected system calls (mmap,
// munmap, clone, ...) run on that thread; other goroutines send it requests.
type Platform struct {
	memFD    int
	stubPage uint64

	// premadePID is the pre-made stub's pid; set before New returns.
	premadePID int32

	// rdtscp tells whether currentCPU may use RDTSCP. Immutable.
	rdtscp bool

	// reqs carries requests to the control goroutine. closed is closed by
	// Close; the control goroutine then kills the pre-made stub and exits.
	reqs      chan *request
	closed    chan struct{}
	exited    chan struct{}
	closeOnce sync.Once
}

var _ platform.Platform = (*Platform)(nil)

// New starts the platform: it maps the stub code page above MaxUserAddress,
// starts the control thread and creates the pre-made stub. memFD is the
// memory file; it is the only descriptor stubs keep open and the only one
// MapFile accepts.
//
// New must run before the sentry installs its own seccomp filter (stubs
// inherit it) and while the sentry may still clone.
func New(memFD int) (*Platform, error) {
	if memFD < 0 {
		return nil, fmt.Errorf("ptrace platform: bad memory file descriptor %d", memFD)
	}
	page, err := mapStubPage()
	if err != nil {
		return nil, fmt.Errorf("ptrace platform: %w", err)
	}
	p := &Platform{
		memFD:    memFD,
		stubPage: page,
		rdtscp:   hasRDTSCP(),
		reqs:     make(chan *request),
		closed:   make(chan struct{}),
		exited:   make(chan struct{}),
	}
	ready := make(chan error, 1)
	go p.control(ready)
	if err := <-ready; err != nil {
		<-p.exited
		syscall.Syscall(unix.SYS_MUNMAP, uintptr(page), pageSize, 0)
		return nil, fmt.Errorf("ptrace platform: %w", err)
	}
	return p, nil
}

// MinUserAddress implements platform.Platform.
func (*Platform) MinUserAddress() uint64 { return minUserAddress }

// MaxUserAddress implements platform.Platform.
func (*Platform) MaxUserAddress() uint64 { return maxUserAddress }

// Close kills the pre-made stub and stops the control thread. Address spaces
// still alive die with it (their tracer exits; PTRACE_O_EXITKILL), so Close
// is for shutdown only.
func (p *Platform) Close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		<-p.exited
		syscall.Syscall(unix.SYS_MUNMAP, uintptr(p.stubPage), pageSize, 0)
	})
	<-p.exited
}

// NewAddressSpace implements platform.Platform by forking the pre-made stub.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	as := &addressSpace{p: p, tids: make(map[int32]struct{}), byTracer: make(map[int32]*thread)}
	as.req.done = make(chan struct{}, 1)
	r := &request{op: opNewAS, as: as, done: make(chan struct{}, 1)}
	if err := p.call(r); err != nil {
		return nil, err
	}
	return as, nil
}

// NewContext implements platform.Platform.
func (p *Platform) NewContext() platform.Context {
	return &context{p: p, threads: make(map[*addressSpace]*thread)}
}

// errClosed is returned for requests made after Close.
var errClosed = errors.New("ptrace platform: closed")

// call hands r to the control goroutine and waits for its completion.
func (p *Platform) call(r *request) error {
	select {
	case p.reqs <- r:
	case <-p.exited:
		return errClosed
	}
	<-r.done
	return r.err
}

type opKind int

const (
	opNewAS opKind = iota
	opMap
	opUnmap
	opNewThread
	opRelease
	opInject // tests only: inject an arbitrary syscall
)

// request is one operation for the control goroutine. The sender owns it
// until done receives; the control goroutine fills ret and err.
type request struct {
	op   opKind
	as   *addressSpace
	nr   uintptr
	args [6]uint64
	ret  uint64
	err  error
	done chan struct{} // buffered, capacity 1
}

// stubProc is the control goroutine's view of a stub process. Only the
// control goroutine touches it.
type stubProc struct {
	pid  int32
	regs arch.Registers // a valid register set of the stopped control thread
	cpu  uint32         // the CPU the thread is bound to, or noCPU
	dead bool
	// reaped is set once the leader has been waited for; its pid may then
	// be reused and must not be waited for again.
	reaped bool
	// status is the wait status of the control thread once it is dead,
	// if known (statusKnown).
	status      unix.WaitStatus
	statusKnown bool
}

// setStatus records the first known exit status of the stub.
func (s *stubProc) setStatus(ws unix.WaitStatus) {
	if !s.statusKnown {
		s.status, s.statusKnown = ws, true
	}
}

// errStubDead wraps platform.ErrContextDead for control-thread failures.
func errStubDead(pid int32, ws unix.WaitStatus) error {
	if ws.Signaled() {
		return fmt.Errorf("stub %d killed by %v: %w", pid, ws.Signal(), platform.ErrContextDead)
	}
	return fmt.Errorf("stub %d exited with %d: %w", pid, ws.ExitStatus(), platform.ErrContextDead)
}

// control is the control goroutine. It never unlocks its OS thread: when it
// returns, the thread exits, which kills every stub it still traces.
func (p *Platform) control(ready chan<- error) {
	runtime.LockOSThread()
	defer close(p.exited)

	premade, err := p.startPremade()
	if err != nil {
		ready <- err
		return
	}
	p.premadePID = premade.pid
	ready <- nil

	// dying holds released stubs whose leader could not be reaped yet
	// (their other threads are reaped by the tracing task threads).
	var dying []*stubProc
	var tick <-chan time.Time
	var ticker *time.Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		select {
		case r := <-p.reqs:
			if r.op == opRelease {
				if s := p.release(r.as); s != nil {
					dying = append(dying, s)
				}
				if s := r.as.ctl; s != nil {
					r.as.exitStatus, r.as.exitKnown = s.status, s.statusKnown
				}
				r.as.ctl = nil
				r.done <- struct{}{}
			} else {
				p.serve(premade, r)
			}
		case <-tick:
		case <-p.closed:
			p.kill(premade)
			for _, s := range dying {
				reapLeader(s, false)
			}
			return
		}
		dying = reapDying(dying)
		if len(dying) > 0 && ticker == nil {
			ticker = time.NewTicker(20 * time.Millisecond)
			tick = ticker.C
		} else if len(dying) == 0 && ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
	}
}

// reapDying reaps the leaders in dying that can be reaped and returns the
// others.
func reapDying(dying []*stubProc) []*stubProc {
	out := dying[:0]
	for _, s := range dying {
		if !reapLeader(s, false) {
			out = append(out, s) // still waiting for other threads
		}
	}
	for i := len(out); i < len(dying); i++ {
		dying[i] = nil
	}
	return out
}

// startPremade creates the pre-made stub and strips its address space to the
// stub page.
func (p *Platform) startPremade() (*stubProc, error) {
	filter, err := stubFilter(p.stubPage, p.memFD)
	if err != nil {
		return nil, err
	}
	prog := &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	pid, err := startStub(p.stubPage, p.memFD)
	if err != nil {
		return nil, err
	}
	s := &stubProc{pid: pid, cpu: noCPU}
	// The child stops at the stub's int3 (SIGTRAP). Any other signal that
	// reaches it first is suppressed.
	for {
		var ws unix.WaitStatus
		if _, err := wait4(pid, &ws, 0); err != nil {
			return nil, fmt.Errorf("waiting for the pre-made stub: %w", err)
		}
		if ws.Exited() || ws.Signaled() {
			return nil, errStubDead(pid, ws)
		}
		if ws.StopSignal() == unix.SIGTRAP {
			break
		}
		if err := ptraceReq(unix.PTRACE_CONT, pid, 0, 0); err != nil {
			return nil, fmt.Errorf("continuing the pre-made stub: %w", err)
		}
	}
	opts := unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEEXIT
	if err := ptraceReq(unix.PTRACE_SETOPTIONS, pid, 0, uintptr(opts)); err != nil {
		p.kill(s)
		return nil, fmt.Errorf("PTRACE_SETOPTIONS on the pre-made stub: %w", err)
	}
	if err := getRegs(pid, &s.regs); err != nil {
		p.kill(s)
		return nil, fmt.Errorf("PTRACE_GETREGS on the pre-made stub: %w", err)
	}
	if s.regs.Rip != p.stubPage+stubTrapOff+1 {
		p.kill(s)
		return nil, fmt.Errorf("pre-made stub stopped at %#x, want %#x", s.regs.Rip, p.stubPage+stubTrapOff+1)
	}
	// A thread of a libc-linked sentry (e.g. -race builds) has registered
	// an rseq area, which the child inherited; the kernel would fault on it
	// (SIGSEGV) once it is unmapped.
	if rc, err := getRseqConfig(pid); err == nil && rc.abiPointer != 0 {
		const rseqFlagUnregister = 1
		if _, err := p.inject(s, stubSyscallOff, unix.SYS_RSEQ, rc.abiPointer, uint64(rc.abiSize), rseqFlagUnregister, uint64(rc.signature)); err != nil {
			p.kill(s)
			return nil, fmt.Errorf("unregistering rseq in the pre-made stub: %w", err)
		}
	}
	// The filter: from here on only the platform's own syscalls work. The
	// child set PR_SET_NO_NEW_PRIVS; prog is read from the child's copy of
	// the sentry's memory, made after prog was built.
	_, err = p.inject(s, stubSyscallOff, unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, addrOf(prog))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(filter)
	if err != nil {
		p.kill(s)
		return nil, fmt.Errorf("installing the stub's seccomp filter: %w", err)
	}
	// Unmap everything but the stub page: the sentry's text, heap, stacks,
	// vDSO, vvar...
	if _, err := p.inject(s, stubSyscallOff, unix.SYS_MUNMAP, 0, p.stubPage); err != nil {
		p.kill(s)
		return nil, fmt.Errorf("unmapping the pre-made stub's low range: %w", err)
	}
	end := p.stubPage + pageSize
	if _, err := p.inject(s, stubSyscallOff, unix.SYS_MUNMAP, end, hostTaskSize-end); err != nil {
		p.kill(s)
		return nil, fmt.Errorf("unmapping the pre-made stub's high range: %w", err)
	}
	return s, nil
}

// kill kills and reaps a stub process that has no thread but its control
// thread (the pre-made stub, or a new one that failed to initialise).
func (p *Platform) kill(s *stubProc) {
	unix.Kill(int(s.pid), unix.SIGKILL)
	s.dead = true
	reapLeader(s, true)
}

// reapLeader waits for the leader of a killed stub, letting it through its
// PTRACE_EVENT_EXIT stop. Without block it gives up when the leader cannot be
// reaped yet. It reports whether the leader is gone.
func reapLeader(s *stubProc, block bool) bool {
	flags := unix.WNOHANG
	if block {
		flags = 0
	}
	for !s.reaped {
		var ws unix.WaitStatus
		pid, err := wait4(s.pid, &ws, flags)
		switch {
		case err != nil:
			s.reaped = true
		case pid == 0:
			return false
		case ws.Exited() || ws.Signaled():
			s.reaped = true
			s.setStatus(ws)
		default:
			if eventOf(ws) == unix.PTRACE_EVENT_EXIT {
				msg, _ := unix.PtraceGetEventMsg(int(s.pid))
				s.setStatus(unix.WaitStatus(msg))
			}
			ptraceReq(unix.PTRACE_CONT, s.pid, 0, 0)
		}
	}
	return true
}

// release kills the stub of a released address space and reaps all of its
// threads: the stub threads traced by task threads (the sentry may reap any
// tracee of its own threads) and then the leader. It returns s if the leader
// could not be reaped yet and must be retried.
func (p *Platform) release(as *addressSpace) *stubProc {
	s := as.ctl
	if s == nil {
		return nil
	}
	unix.Kill(int(s.pid), unix.SIGKILL)
	as.tidsMu.Lock()
	for tid := range as.tids {
		reapThread(s.pid, tid)
		delete(as.tids, tid)
	}
	clear(as.byTracer)
	as.tidsMu.Unlock()
	s.dead = true
	if reapLeader(s, false) {
		return nil
	}
	return s
}

// reapThread waits until stub thread tid of the killed stub pid is gone,
// reaping it if it is a tracee of one of the sentry's threads.
//
// It never blocks in wait4: a tracer (a task's OS thread) that exits while
// its tracee is dying detaches it, and the kernel then reaps the dead
// thread itself without waking waiters, so a blocking wait4(tid) would
// sleep forever (and the tid may be recycled). Instead it polls, which
// ends within a few milliseconds of the SIGKILL.
func reapThread(pid, tid int32) {
	delay := 20 * time.Microsecond
	for {
		var ws unix.WaitStatus
		r, err := wait4(tid, &ws, unix.WNOHANG)
		switch {
		case err != nil:
			return // not (or no longer) a tracee of ours: gone
		case r == tid && (ws.Exited() || ws.Signaled()):
			return
		case r == tid:
			continue // a stop reported before the kill; its exit follows
		}
		if tgkill(pid, tid, 0) == unix.ESRCH {
			return // reaped by the kernel, or the tid is another's now
		}
		time.Sleep(delay)
		delay = min(2*delay, 2*time.Millisecond)
	}
}

// serve runs one request on the control thread.
func (p *Platform) serve(premade *stubProc, r *request) {
	defer func() { r.done <- struct{}{} }()
	r.err = nil
	switch r.op {
	case opNewAS:
		s, err := p.forkAS(premade)
		if err != nil {
			r.err = err
			return
		}
		r.as.ctl = s
		r.as.pid = s.pid
		return
	}
	s := r.as.ctl
	if s == nil || s.dead {
		r.err = fmt.Errorf("address space released or dead: %w", platform.ErrContextDead)
		return
	}
	a := &r.args
	var ret uint64
	var err error
	switch r.op {
	case opMap:
		ret, err = p.inject(s, stubSyscallOff, unix.SYS_MMAP, a[0], a[1], a[2], unix.MAP_SHARED|unix.MAP_FIXED, uint64(p.memFD), a[3])
		if err == nil && ret != a[0] {
			err = fmt.Errorf("mmap returned %#x, want %#x", ret, a[0])
		}
	case opUnmap:
		ret, err = p.inject(s, stubSyscallOff, unix.SYS_MUNMAP, a[0], a[1])
	case opNewThread:
		ret, err = p.inject(s, stubCloneOff, unix.SYS_CLONE, threadCloneFlags)
		if err == nil {
			r.as.tidsMu.Lock()
			r.as.tids[int32(ret)] = struct{}{}
			r.as.tidsMu.Unlock()
		}
	case opInject:
		ret, err = p.inject(s, stubSyscallOff, r.nr, a[0], a[1], a[2], a[3], a[4], a[5])
	default:
		err = fmt.Errorf("ptrace platform: unknown request %d", r.op)
	}
	r.ret, r.err = ret, err
}

// forkAS creates an address-space stub by injecting clone into the pre-made
// stub. The child is auto-attached to this thread (PTRACE_O_TRACEFORK).
func (p *Platform) forkAS(premade *stubProc) (*stubProc, error) {
	if premade.dead {
		return nil, fmt.Errorf("pre-made stub: %w", platform.ErrContextDead)
	}
	ret, err := p.inject(premade, stubSyscallOff, unix.SYS_CLONE, forkCloneFlags)
	if err != nil {
		return nil, fmt.Errorf("forking the pre-made stub: %w", err)
	}
	pid := int32(ret)
	s := &stubProc{pid: pid, cpu: noCPU}
	// The first stop is the auto-attach SIGSTOP (or, if it was already
	// consumed, the int3 after the clone).
	var ws unix.WaitStatus
	if _, err := wait4(pid, &ws, 0); err != nil {
		return nil, fmt.Errorf("waiting for new stub %d: %w", pid, err)
	}
	if !ws.Stopped() {
		return nil, errStubDead(pid, ws)
	}
	// No PTRACE_O_TRACECLONE: new stub threads must be born untraced so
	// that the task thread that will run them can seize them.
	//
	// PTRACE_O_TRACEEXIT lets inject notice a stub dying under it without
	// blocking on the leader's reaping, which must wait for the stub's
	// other threads (see release).
	opts := unix.PTRACE_O_EXITKILL | unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEEXIT
	if err := ptraceReq(unix.PTRACE_SETOPTIONS, pid, 0, uintptr(opts)); err != nil {
		p.kill(s)
		return nil, fmt.Errorf("PTRACE_SETOPTIONS on stub %d: %w", pid, err)
	}
	if err := getRegs(pid, &s.regs); err != nil {
		p.kill(s)
		return nil, fmt.Errorf("PTRACE_GETREGS on stub %d: %w", pid, err)
	}
	// PR_SET_PDEATHSIG is cleared by fork; the parent is this thread.
	if _, err := p.inject(s, stubSyscallOff, unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uint64(unix.SIGKILL)); err != nil {
		p.kill(s)
		return nil, fmt.Errorf("PR_SET_PDEATHSIG in stub %d: %w", pid, err)
	}
	return s, nil
}

// inject runs one system call in the stopped control thread of s: the
// registers are set to the stub's syscall instruction at off, the thread is
// continued to the int3 that follows, and rax is returned (a -errno is
// returned as an error). It runs on the control thread only.
func (p *Platform) inject(s *stubProc, off uint64, nr uintptr, args ...uint64) (uint64, error) {
	if s.dead {
		return 0, errStubDead(s.pid, s.status)
	}
	// Collect a notification that arrived while the stub was stopped (it
	// was killed): resuming it would lose it, and waiting for its exit could
	// then block until the task threads reap the stub's other threads.
	var ws unix.WaitStatus
	if pid, err := wait4(s.pid, &ws, unix.WNOHANG); err != nil || pid != 0 {
		switch {
		case err != nil:
			s.reaped = true
		case ws.Exited() || ws.Signaled():
			s.reaped = true
			s.setStatus(ws)
		default:
			if eventOf(ws) == unix.PTRACE_EVENT_EXIT {
				msg, _ := unix.PtraceGetEventMsg(int(s.pid))
				s.setStatus(unix.WaitStatus(msg))
			}
			ptraceReq(unix.PTRACE_CONT, s.pid, 0, 0) // let it die
		}
		s.dead = true
		return 0, fmt.Errorf("stub %d: unexpected state %#x: %w", s.pid, ws, platform.ErrContextDead)
	}
	if cpu := p.currentCPU(); cpu != s.cpu {
		bindTo(s.pid, cpu)
		s.cpu = cpu
	}
	regs := s.regs
	regs.Rip = p.stubPage + off
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0)
	var a [6]uint64
	copy(a[:], args)
	regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := setRegs(s.pid, &regs); err != nil {
		return 0, p.lost(s, fmt.Errorf("PTRACE_SETREGS: %w", err))
	}
	if err := ptraceReq(unix.PTRACE_CONT, s.pid, 0, 0); err != nil {
		return 0, p.lost(s, fmt.Errorf("PTRACE_CONT: %w", err))
	}
	for {
		if _, err := wait4(s.pid, &ws, 0); err != nil {
			return 0, p.lost(s, fmt.Errorf("wait4: %w", err))
		}
		switch {
		case ws.Exited() || ws.Signaled():
			s.dead, s.reaped = true, true
			s.setStatus(ws)
			return 0, errStubDead(s.pid, ws)
		case eventOf(ws) == unix.PTRACE_EVENT_EXIT:
			// The stub is dying (killed while running the syscall).
			// Its leader is reaped by release, after its other threads.
			msg, _ := unix.PtraceGetEventMsg(int(s.pid))
			s.dead = true
			s.setStatus(unix.WaitStatus(msg))
			ptraceReq(unix.PTRACE_CONT, s.pid, 0, 0)
			return 0, errStubDead(s.pid, s.status)
		case ws.StopSignal() == unix.SIGTRAP && eventOf(ws) == 0:
			// The int3 after the syscall.
			if err := getRegs(s.pid, &regs); err != nil {
				return 0, p.lost(s, fmt.Errorf("PTRACE_GETREGS: %w", err))
			}
			if regs.Rip != p.stubPage+stubTrapOff+1 {
				return 0, p.lost(s, fmt.Errorf("stub stopped at %#x after an injected syscall", regs.Rip))
			}
			if e := int64(regs.Rax); e < 0 && e >= -4095 {
				return 0, unix.Errno(-e)
			}
			return regs.Rax, nil
		}
		// A fork event stop, or a signal (suppressed): go on.
		if err := ptraceReq(unix.PTRACE_CONT, s.pid, 0, 0); err != nil {
			return 0, p.lost(s, fmt.Errorf("PTRACE_CONT: %w", err))
		}
	}
}

// lost kills a stub whose control thread no longer behaves as expected. It
// does not wait: the leader can only be reaped after the stub's other threads
// (traced by task threads), which release does.
func (p *Platform) lost(s *stubProc, err error) error {
	unix.Kill(int(s.pid), unix.SIGKILL)
	s.dead = true
	return fmt.Errorf("stub %d: %v: %w", s.pid, err, platform.ErrContextDead)
}
