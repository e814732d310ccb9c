package kernel

import (
	"sync/atomic"
	"time"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// Tracer receives every syscall when --strace is on. The token returned by
// SyscallEnter is handed back to SyscallExit.
type Tracer interface {
	SyscallEnter(t *Task, sysno uintptr, name string, args *arch.SyscallArguments) any
	SyscallExit(t *Task, token any, ret uintptr, err error, dur time.Duration)
}

// Loader loads an executable into a fresh address space for execve and for
// the first process. It resolves path with t's root and cwd and credentials.
type Loader interface {
	Load(t *Task, m *mm.MemoryManager, path string, argv, envv []string) (Image, error)
}

// Image is where a loaded program starts.
type Image struct {
	Entry, StackPointer uint64
	// Name is the base name of the executable, for comm.
	Name string
	// Path is the resolved path, for /proc/[pid]/exe.
	Path string
}

// Task is one application thread.
type Task struct {
	k  *Kernel
	tg *ThreadGroup

	// tid is the task's id in the root PID namespace, ids its id in
	// every namespace from the root (ids[0] == tid) down to its own
	// (ids[ns.level]). They change only when a non-leader thread execs
	// and takes over the leader's ids (task goroutine, under k.mu); they
	// are fixed otherwise. ns, the task's namespace, is immutable.
	tid ThreadID
	ids []ThreadID
	ns  *PIDNamespace
	// childNS is the namespace of the task's next children: ns unless
	// the task unshared CLONE_NEWPID. Owned by the task goroutine,
	// written under k.mu.
	childNS *PIDNamespace

	// Owned by the task goroutine; no locking.
	regs      arch.Registers
	ctx       platform.Context
	lazyRegs  platform.LazyRegs // ctx, if it may leave regs partial (fullRegs)
	scratch   []byte
	pieces    [ScratchPieces][]byte // see Pieces
	restartNR uintptr               // syscall to re-run after an interruption, see task_run.go
	// robustList is written by the task goroutine and read by get_robust_list
	// from other tasks.
	robustList atomic.Uint64

	// mm, fds, fs and creds are changed only by the task goroutine
	// (execve, unshare, setuid); other goroutines read them under k.mu.
	mm    *mm.MemoryManager
	fds   *FDTableRef
	fs    *FSContextRef
	creds atomic.Pointer[auth.Credentials]

	// clearChildTID is CLONE_CHILD_CLEARTID / set_tid_address's address.
	clearChildTID uint64
	// noSIGPIPE spares the task SIGPIPE for the rest of its syscall
	// (SuppressSIGPIPE); only the task goroutine touches it.
	noSIGPIPE bool

	// threadRes is room in the address space for the task's first
	// platform thread, reserved by Clone and bound to ctx when the task
	// goroutine starts (task_clone.go: reserveThread). Set before the
	// goroutine starts, then owned by it.
	threadRes platform.ThreadReservation

	// comm is the task name (prctl PR_SET_NAME), protected by k.mu.
	comm string
	// image is the last exec'd image, protected by k.mu.
	image Image

	// sigMask is the blocked-signal mask; written by the task goroutine,
	// read by senders (atomic).
	sigMask atomic.Uint64
	// sig is the rest of the signal state (task_signals.go).
	sig taskSignals
	// ptrace is the task's ptrace state as tracee and tracer (ptrace.go).
	ptrace taskPtrace

	// killed is set when the task must exit (SIGKILL, exit_group of its
	// group, execve of another thread); interruptCh wakes it from
	// blocking syscalls and Interrupt() stops it in application code.
	killed      atomic.Bool
	interruptCh chan struct{}

	// vforkDone is closed when a CLONE_VFORK child execs or exits.
	vforkDone chan struct{}

	// startTime is when the task was created.
	startTime time.Time

	// user is the task's user CPU time as the run loop sees it: time
	// inside Switch (which includes the platform's own switch cost);
	// blocked its time in blocking waits (usage.go). Started and
	// stopped by the task goroutine, read by anyone. blockDepth counts
	// nested waits (task goroutine only).
	user, blocked intervalClock
	blockDepth    int
	// sysStart is when the task goroutine began (cpuTicks), 0 before and
	// after it ran; sysTime is its final system time in nanoseconds,
	// stored when its goroutine ends (usage.go: sysClock reads the live
	// one). Written by the task goroutine, read by anyone.
	sysStart, sysTime atomic.Int64

	// pdeathSignal is prctl(PR_SET_PDEATHSIG)'s signal, 0 for none.
	pdeathSignal atomic.Int32

	// policy is what prctl and the sched_* calls record (sched.go).
	policy taskPolicy

	// seccomp is the task's seccomp filter chain, nil when it has none
	// (seccomp.go).
	seccomp atomic.Pointer[seccompFilter]
}

// CPUTime returns the task's user and system CPU time so far.
func (t *Task) CPUTime() (user, sys time.Duration) {
	return t.cpuTime()
}

// ParentDeathSignal returns prctl(PR_GET_PDEATHSIG)'s value.
func (t *Task) ParentDeathSignal() int { return int(t.pdeathSignal.Load()) }

// SetParentDeathSignal records prctl(PR_SET_PDEATHSIG)'s signal (0 clears
// it). The exit path sends it when the parent thread exits; fork clears
// it in the child.
func (t *Task) SetParentDeathSignal(sig int) { t.pdeathSignal.Store(int32(sig)) }

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// ThreadID returns the task's tid in the root PID namespace: the kernel's
// own name for it (logs, host-side tools). Ids shown to the application
// go through its namespace (PIDNamespace.IDOfTask, Gettid).
func (t *Task) ThreadID() ThreadID { return t.tid }

// ThreadGroup returns the task's thread group.
func (t *Task) ThreadGroup() *ThreadGroup { return t.tg }

// Regs returns the task's registers, whole (fullRegs). Only the task
// goroutine may use it.
func (t *Task) Regs() *arch.Registers {
	t.fullRegs()
	return &t.regs
}

// fullRegs makes t.regs whole: after a syscall, a platform.LazyRegs
// context may have left the callee-saved registers, r11 and the flags
// with the application. Whatever reads those fields of t.regs, or writes
// any field but rax and rip, calls it first (its own goroutine only); the
// syscall path itself reads only the number, the arguments, rip and rsp.
func (t *Task) fullRegs() {
	if t.lazyRegs != nil {
		t.lazyRegs.PullRegs(&t.regs)
	}
}

// MemoryManager returns the task's address space.
func (t *Task) MemoryManager() *mm.MemoryManager { return t.mm }

// FDTable returns the task's descriptor table.
func (t *Task) FDTable() *vfs.FDTable { return t.fds.FDTable }

// FSContext returns the task's root, cwd and umask.
func (t *Task) FSContext() *vfs.FSContext { return t.fs.FSContext }

// Credentials returns the task's credentials (immutable; see auth).
func (t *Task) Credentials() *auth.Credentials { return t.creds.Load() }

// SetCredentials publishes new credentials for the task.
func (t *Task) SetCredentials(c *auth.Credentials) { t.creds.Store(c) }

// CopyIn copies application memory at addr into dst (EFAULT on a bad address).
func (t *Task) CopyIn(addr uint64, dst []byte) (int, error) { return t.mm.CopyIn(addr, dst) }

// CopyOut copies src into application memory at addr (EFAULT on a bad address).
func (t *Task) CopyOut(addr uint64, src []byte) (int, error) { return t.mm.CopyOut(addr, src) }

// CopyInString reads a NUL-terminated string (ENAMETOOLONG past maxLen).
func (t *Task) CopyInString(addr uint64, maxLen int) (string, error) {
	return t.mm.CopyInString(addr, maxLen)
}

// Scratch returns a buffer of n bytes owned by the task, valid until the
// next call. Syscalls use it to stage data without allocating.
func (t *Task) Scratch(n int) []byte {
	if cap(t.scratch) < n {
		t.scratch = make([]byte, n)
	}
	return t.scratch[:n]
}

// ScratchPieces is the length of the array Pieces returns.
const ScratchPieces = 4

// Pieces returns an array of slices owned by the task, valid until the
// next call, for a syscall that hands several buffers to one call through
// an interface (socket.StreamVec): a local array would escape, an
// allocation per syscall. The caller clears what it stored once done.
func (t *Task) Pieces() *[ScratchPieces][]byte { return &t.pieces }

// Name returns the task's comm.
func (t *Task) Name() string {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.comm
}

// SetName sets the task's comm (truncated to 15 bytes like Linux).
func (t *Task) SetName(n string) {
	if len(n) > 15 {
		n = n[:15]
	}
	t.k.mu.Lock()
	t.comm = n
	t.k.mu.Unlock()
}

// Image returns the last executed image.
func (t *Task) Image() Image {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.image
}

// SetClearChildTID implements set_tid_address.
func (t *Task) SetClearChildTID(addr uint64) { t.clearChildTID = addr }

// SetRobustList records set_robust_list's head.
func (t *Task) SetRobustList(addr uint64) { t.robustList.Store(addr) }

// RobustList returns the robust list head.
func (t *Task) RobustList() uint64 { return t.robustList.Load() }

// SignalMask returns the blocked-signal mask.
func (t *Task) SignalMask() uint64 { return t.sigMask.Load() }

// Killed reports whether the task has been told to exit.
func (t *Task) Killed() bool { return t.killed.Load() }

// interrupt wakes the task from a blocking syscall and from application
// code. Safe from any goroutine.
func (t *Task) interrupt() {
	select {
	case t.interruptCh <- struct{}{}:
	default:
	}
	if c := t.ctx; c != nil {
		c.Interrupt()
	}
}

// InterruptChan returns the channel that blocking syscalls select on, next
// to what they wait for, to notice that the task must stop waiting.
func (t *Task) InterruptChan() <-chan struct{} { return t.interruptCh }
