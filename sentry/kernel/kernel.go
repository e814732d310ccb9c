// Package kernel is the heart of the sentry: the Kernel object that owns all
// sandbox-wide state, and Tasks, each a goroutine that runs one application
// thread on the platform and services its syscalls and faults.
//
// Lock order (outermost first):
//
//	futexBucket.mu (futex.go; two at once only in index order)
//	  Kernel.mu (the task tree: tids, thread groups, parents, children, exit states,
//	             and every PID namespace's maps: pidns.go)
//	    ThreadGroup.sigMu (signal handlers, masks, pending sets)
//	      mm locks (taken by CopyIn/CopyOut/HandleFault)
//
// Task goroutines never hold Kernel.mu while switching to application code
// or blocking.
package kernel

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
)

// ThreadID is a thread id (and, for a thread-group leader, a process id) in
// one PID namespace (pidns.go). Inside the kernel, ids are those of the
// root namespace unless a name says otherwise.
type ThreadID int32

// maxThreadID bounds tids like Linux's default pid_max.
const maxThreadID = 4194304

// Config is what the boot code passes to New.
type Config struct {
	Platform     platform.Platform
	MemoryFile   *memfile.MemoryFile
	VFS          *vfs.VirtualFilesystem
	SyscallTable *SyscallTable
	// Hostname and Domainname are what uname(2) reports.
	Hostname, Domainname string
	// NumCPU is the number of CPUs the sandbox reports.
	NumCPU int
	// Strace, when not nil, receives one line per application syscall.
	Strace Tracer
	// DebugLog, when not nil, receives sentry diagnostics (unimplemented
	// syscalls, task exits, faults).
	DebugLog io.Writer
	// Loader loads executables for execve and for the first process.
	Loader Loader
	// Network is the sandbox's network stack (a *socket.Stack), which
	// the kernel holds for the socket layer without using it.
	Network any
	// AppClock, when not nil, reads the clock id the way the vDSO does
	// (ok false where the vDSO makes the syscall). The vDSO's clocks may
	// run a little ahead of the host's (it slews its extrapolation
	// rather than step back), so clock_gettime, gettimeofday and time
	// answer from the same parameters: a program that mixes the vDSO
	// and the syscall never sees its clock step back.
	AppClock func(id int32) (ns int64, ok bool)
}

// Kernel is the sandbox-wide state. There is exactly one per sandbox and no
// mutable sandbox state lives outside it.
type Kernel struct {
	// Immutable after New.
	Platform     platform.Platform
	MemoryFile   *memfile.MemoryFile
	VFS          *vfs.VirtualFilesystem
	SyscallTable *SyscallTable
	Loader       Loader
	Network      any
	strace       Tracer
	debugLog     io.Writer
	numCPU       int
	appClock     func(id int32) (int64, bool)

	freezer freezer // runsc pause (freeze.go)

	limits containerLimits // pids and memory limits (limits.go)

	// utsMu protects hostname and domainname.
	utsMu                sync.Mutex
	hostname, domainname string

	// unimplemented records which unimplemented syscalls were logged, so
	// that each is logged once.
	unimplemented [MaxSyscalls]atomic.Bool

	// nsInodes numbers the namespaces made since the kernel started
	// (PIDNamespace.inum).
	nsInodes atomic.Uint32

	// futexes is the futex wait-queue table.
	futexes futexTable

	// dnotify holds the directories watched with F_NOTIFY (dnotify.go).
	dnotify dnotifyTable

	// root is the root PID namespace (pidns.go); its maps hold every
	// task and process of the sandbox under its root ids. Immutable.
	root *PIDNamespace

	// mu protects the task tree below and the PID namespaces' maps.
	mu sync.Mutex
	// init is the thread group of pid 1 of the root namespace, nil
	// before the first process.
	init *ThreadGroup
	// liveTasks counts task goroutines that have not retired (Task.retire:
	// their memory and platform context released); allExited is closed
	// when it drops to zero after init exited.
	liveTasks int
	allExited chan struct{}
	// initStatus is init's wait status once it exited.
	initStatus WaitStatus
	initExited bool
	// containerNS maps a pod container to its own PID namespace, for the
	// processes that enter it later (runsc exec; task_clone.go).
	containerNS map[string]*PIDNamespace
	// ttys associates sessions with controlling terminals (tty.go).
	ttys ttyTable
}

// New creates the kernel.
func New(c Config) *Kernel {
	k := &Kernel{
		Platform:     c.Platform,
		MemoryFile:   c.MemoryFile,
		VFS:          c.VFS,
		SyscallTable: c.SyscallTable,
		Loader:       c.Loader,
		Network:      c.Network,
		strace:       c.Strace,
		debugLog:     c.DebugLog,
		numCPU:       c.NumCPU,
		appClock:     c.AppClock,
		hostname:     c.Hostname,
		domainname:   c.Domainname,
		allExited:    make(chan struct{}),
	}
	if k.numCPU <= 0 {
		k.numCPU = 1
	}
	if k.domainname == "" {
		k.domainname = "(none)"
	}
	k.root = newPIDNamespace(k, nil)
	k.futexes.init()
	return k
}

// Debugf writes a diagnostic line to the debug log, if there is one.
func (k *Kernel) Debugf(format string, args ...any) {
	if k.debugLog != nil {
		fmt.Fprintf(k.debugLog, format+"\n", args...)
	}
}

// Warnf writes a warning to the debug log (--debug or --debug-log). It is
// for conditions worth reporting once (an unimplemented syscall), never for
// hot paths; the application's own stderr is never written.
func (k *Kernel) Warnf(format string, args ...any) {
	if k.debugLog != nil {
		fmt.Fprintf(k.debugLog, "runsc: "+format+"\n", args...)
	}
}

// NumCPU returns the number of CPUs the sandbox reports.
func (k *Kernel) NumCPU() int { return k.numCPU }

// UTSNames returns the hostname and domainname.
func (k *Kernel) UTSNames() (string, string) {
	k.utsMu.Lock()
	defer k.utsMu.Unlock()
	return k.hostname, k.domainname
}

// SetHostname sets the hostname (sethostname(2)).
func (k *Kernel) SetHostname(h string) {
	k.utsMu.Lock()
	k.hostname = h
	k.utsMu.Unlock()
}

// SetDomainname sets the NIS domain name (setdomainname(2)).
func (k *Kernel) SetDomainname(d string) {
	k.utsMu.Lock()
	k.domainname = d
	k.utsMu.Unlock()
}

// Wait blocks until the first process (pid 1) and every other task have
// exited, and returns pid 1's wait status.
func (k *Kernel) Wait() WaitStatus {
	<-k.allExited
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.initStatus
}

// TaskCount returns the number of live tasks.
func (k *Kernel) TaskCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.root.tasks)
}

// AppClockNow reads clock id as the application's vDSO does, if it serves
// that clock now (Config.AppClock).
func (k *Kernel) AppClockNow(id int32) (int64, bool) {
	if k.appClock == nil {
		return 0, false
	}
	return k.appClock(id)
}
