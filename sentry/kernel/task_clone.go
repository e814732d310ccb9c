package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// InitConfig describes the sandbox's first process.
type InitConfig struct {
	Path        string
	Argv, Envv  []string
	Credentials *auth.Credentials
	FDTable     *vfs.FDTable
	FSContext   *vfs.FSContext
	Limits      *Limits
	Umask       uint32
}

// StartInit loads and starts pid 1. Errors are load errors (ENOENT,
// ENOEXEC, EACCES …) wrapped with the path.
func (k *Kernel) StartInit(c InitConfig) error {
	m, err := mm.NewMemoryManager(k.Platform, k.MemoryFile)
	if err != nil {
		return err
	}
	limits := c.Limits
	if limits == nil {
		limits = DefaultLimits()
	}
	tg := &ThreadGroup{
		k:          k,
		handlers:   &SignalHandlers{},
		limits:     limits,
		childEvent: make(chan struct{}, 1),
		tasks:      make(map[*Task]struct{}),
		children:   make(map[*ThreadGroup]struct{}),
		exitSignal: int(unix.SIGCHLD),
	}
	t := &Task{
		k:           k,
		tg:          tg,
		mm:          m,
		fds:         NewFDTableRef(c.FDTable),
		fs:          NewFSContextRef(c.FSContext),
		interruptCh: make(chan struct{}, 1),
		startTime:   time.Now(),
	}
	t.creds.Store(c.Credentials)

	k.mu.Lock()
	if k.init != nil {
		k.mu.Unlock()
		m.Release()
		return unix.EBUSY
	}
	tid, _ := k.allocTIDLocked()
	t.tid, tg.pid, tg.pgid, tg.sid = tid, tid, tid, tid
	tg.leader = t
	k.mu.Unlock()

	img, err := k.Loader.Load(t, m, c.Path, c.Argv, c.Envv)
	if err != nil {
		m.Release()
		return err
	}
	t.setImage(img)

	k.mu.Lock()
	tg.tasks[t] = struct{}{}
	k.tasks[tid] = t
	k.groups[tid] = tg
	k.init = tg
	k.liveTasks++
	k.mu.Unlock()
	t.start()
	return nil
}

// setImage resets the registers to start img.
func (t *Task) setImage(img Image) {
	t.regs = arch.Registers{}
	t.regs.Rip = img.Entry
	t.regs.Rsp = img.StackPointer
	t.regs.Cs = 0x33
	t.regs.Ss = 0x2b
	t.regs.Eflags = 0x202
	t.k.mu.Lock()
	t.image = img
	t.comm = img.Name
	if len(t.comm) > 15 {
		t.comm = t.comm[:15]
	}
	t.k.mu.Unlock()
}

// CloneOptions are the decoded arguments of clone/clone3/fork/vfork.
type CloneOptions struct {
	Flags      uint64
	ExitSignal int
	Stack      uint64 // new stack pointer, 0 to keep the caller's
	TLS        uint64
	ParentTID  uint64 // CLONE_PARENT_SETTID address
	ChildTID   uint64 // CLONE_CHILD_SETTID / CLEARTID address
	PIDFD      uint64 // CLONE_PIDFD address (unsupported: EINVAL)
}

// Clone creates a new task as clone(2) does and returns its tid in the
// caller's PID namespace.
func (t *Task) Clone(o CloneOptions) (ThreadID, error) {
	f := o.Flags
	// Flag combinations Linux rejects.
	if f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0 {
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0 {
		return 0, unix.EINVAL
	}
	if f&(unix.CLONE_NEWNS|unix.CLONE_FS) == unix.CLONE_NEWNS|unix.CLONE_FS {
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_THREAD != 0 && o.ExitSignal != 0 {
		// Linux ignores the exit signal of threads.
		o.ExitSignal = 0
	}
	if o.ExitSignal < 0 || o.ExitSignal > NumSignals {
		return 0, unix.EINVAL
	}
	if f&unix.CLONE_PIDFD != 0 {
		return 0, unix.EINVAL
	}
	const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUSER | unix.CLONE_NEWNET |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP
	if f&nsFlags != 0 {
		return 0, unix.EPERM
	}
	k := t.k

	// Address space.
	var m *mm.MemoryManager
	if f&unix.CLONE_VM != 0 {
		t.mm.IncUsers()
		m = t.mm
	} else {
		var err error
		if m, err = t.mm.Fork(); err != nil {
			return 0, err
		}
	}
	nt := &Task{
		k:           k,
		mm:          m,
		regs:        t.regs,
		interruptCh: make(chan struct{}, 1),
		startTime:   time.Now(),
		image:       t.Image(),
	}
	nt.creds.Store(t.Credentials())
	nt.inheritPolicy(t)
	nt.sigMask.Store(t.sigMask.Load())
	if f&unix.CLONE_FILES != 0 {
		t.fds.incRef()
		nt.fds = t.fds
	} else {
		nt.fds = NewFDTableRef(t.fds.Fork())
	}
	if f&unix.CLONE_FS != 0 {
		t.fs.incRef()
		nt.fs = t.fs
	} else {
		nt.fs = NewFSContextRef(t.fs.Fork())
	}
	// Child registers: returns 0 from the syscall.
	nt.regs.Rax = 0
	if o.Stack != 0 {
		nt.regs.Rsp = o.Stack
	}
	if f&unix.CLONE_SETTLS != 0 {
		nt.regs.Fs_base = o.TLS
	}
	if f&unix.CLONE_CHILD_CLEARTID != 0 {
		nt.clearChildTID = o.ChildTID
	}

	k.mu.Lock()
	if t.tg.exiting {
		k.mu.Unlock()
		nt.releaseResources()
		return 0, unix.EINTR
	}
	tid, ok := k.allocTIDLocked()
	if !ok {
		k.mu.Unlock()
		nt.releaseResources()
		return 0, unix.EAGAIN
	}
	nt.tid = tid
	nt.comm = t.comm
	if f&unix.CLONE_THREAD != 0 {
		nt.tg = t.tg
	} else {
		handlers := t.tg.handlers
		if f&unix.CLONE_SIGHAND == 0 {
			handlers = handlers.copy()
		}
		tg := &ThreadGroup{
			k:          k,
			pid:        tid,
			handlers:   handlers,
			limits:     t.tg.limits.Copy(),
			childEvent: make(chan struct{}, 1),
			leader:     nt,
			tasks:      make(map[*Task]struct{}),
			children:   make(map[*ThreadGroup]struct{}),
			exitSignal: o.ExitSignal,
			pgid:       t.tg.pgid,
			sid:        t.tg.sid,
		}
		parent := t.tg
		if f&unix.CLONE_PARENT != 0 && t.tg.parent != nil {
			parent = t.tg.parent
		}
		tg.parent = parent
		parent.children[tg] = struct{}{}
		k.groups[tid] = tg
		nt.tg = tg
	}
	t.inheritSeccompLocked(nt)
	nt.tg.tasks[nt] = struct{}{}
	k.tasks[tid] = nt
	k.liveTasks++
	k.mu.Unlock()

	if f&unix.CLONE_PARENT_SETTID != 0 {
		t.putUint32(o.ParentTID, uint32(tid))
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		nt.putUint32(o.ChildTID, uint32(tid))
	}
	t.inheritSignalState(nt, f)
	var vforkDone chan struct{}
	if f&unix.CLONE_VFORK != 0 {
		vforkDone = make(chan struct{})
		nt.vforkDone = vforkDone
	}
	nt.start()
	if vforkDone != nil {
		// The parent sleeps until the child execs or exits; only SIGKILL
		// (which kills the parent) ends the wait early.
		t.waitVfork(vforkDone)
	}
	return tid, nil
}

// releaseResources drops what a task that never ran holds.
func (t *Task) releaseResources() {
	t.fds.decRef(t)
	t.fs.decRef()
	t.mm.Release()
}
