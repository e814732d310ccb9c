package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/bpf"
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
	// NoNewPrivs starts init with prctl's no_new_privs set (OCI
	// process.noNewPrivileges).
	NoNewPrivs bool
	// CTTY, if set, is the controlling terminal of the new process's
	// session (which it leads), attached before its first instruction
	// (runsc's console: the replica is also its stdio).
	CTTY *TTYControl
	// Seccomp, if set, is a seccomp filter the process starts under
	// (config.json's linux.seccomp), inherited by its children and kept
	// across execve like one it installed itself.
	Seccomp *bpf.Program
	// Container is the id of the pod container the process belongs to
	// ("" for the sandbox's first container; container.go).
	Container string
	// PIDNamespace is the namespace the process starts in (StartProcess
	// only; init is in the root one). A container's init sets it (a new
	// namespace makes the process its init), and the processes that
	// enter the container later (nil here) join the same namespace;
	// nil for a container without init means the root namespace.
	PIDNamespace *PIDNamespace
}

// StartInit loads and starts pid 1. Errors are load errors (ENOENT,
// ENOEXEC, EACCES …) wrapped with the path.
func (k *Kernel) StartInit(c InitConfig) error {
	_, err := k.startProcess(c, true)
	return err
}

// StartProcess starts a process that enters the running sandbox from
// outside (runsc exec), as a process that joined the PID namespace with
// setns: it has no parent inside (getppid is 0) and is reaped as soon as
// it exits, when its Exited channel is closed. It fails with ESRCH once
// init has exited.
func (k *Kernel) StartProcess(c InitConfig) (*ThreadGroup, error) {
	return k.startProcess(c, false)
}

func (k *Kernel) startProcess(c InitConfig, isInit bool) (*ThreadGroup, error) {
	m, err := mm.NewMemoryManager(k.Platform, k.MemoryFile)
	if err != nil {
		return nil, err
	}
	limits := c.Limits
	if limits == nil {
		limits = DefaultLimits()
	}
	tg := &ThreadGroup{
		k:          k,
		handlers:   &SignalHandlers{},
		limits:     limits,
		childEvent: make(chan struct{}),
		tasks:      make(map[*Task]struct{}),
		children:   make(map[*ThreadGroup]struct{}),
		exitSignal: int(unix.SIGCHLD),
		container:  c.Container,
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
	if c.NoNewPrivs {
		t.policy.noNewPrivs.Store(true)
	}
	if c.Seccomp != nil {
		t.seccomp.Store(&seccompFilter{prog: c.Seccomp, pathLen: c.Seccomp.Len()})
	}

	if !isInit {
		tg.exited = make(chan struct{})
	}
	k.mu.Lock()
	if isInit && k.init != nil {
		k.mu.Unlock()
		m.Release()
		return nil, unix.EBUSY
	}
	if !isInit && (k.init == nil || k.initExited) {
		k.mu.Unlock()
		m.Release()
		return nil, unix.ESRCH
	}
	ns := k.root
	if !isInit {
		ns = c.PIDNamespace
		if ns == nil {
			ns = k.containerNS[c.Container]
		}
		if ns == nil {
			ns = k.root
		}
	}
	t.ns, tg.ns, t.childNS = ns, ns, ns
	// A process entering a running sandbox gets its pid once loaded (it
	// is not registered before, so a pid allocated now could be taken).
	if isInit {
		ids, _ := ns.allocIDsLocked(nil, false)
		t.setIDs(ids)
	}
	tg.leader = t
	k.mu.Unlock()

	img, err := k.Loader.Load(t, m, c.Path, c.Argv, c.Envv)
	if err != nil {
		m.Release()
		return nil, err
	}
	t.setImage(img)

	k.mu.Lock()
	if !isInit {
		if k.initExited {
			k.mu.Unlock()
			m.Release()
			return nil, unix.ESRCH
		}
		ids, err := ns.allocIDsLocked(nil, false)
		if err != nil {
			k.mu.Unlock()
			m.Release()
			if ns.dying {
				return nil, unix.ESRCH
			}
			return nil, err
		}
		t.setIDs(ids)
	}
	tg.tasks[t] = struct{}{}
	k.registerTaskLocked(t, true)
	if isInit {
		k.init = tg
		ns.init = tg
	} else if c.PIDNamespace != nil {
		// A container's init: the processes that enter the container
		// later join its namespace.
		if k.containerNS == nil {
			k.containerNS = make(map[string]*PIDNamespace)
		}
		k.containerNS[c.Container] = ns
	}
	if c.CTTY != nil && !k.ttyValidLocked(c.CTTY) {
		k.ttyAttachLocked(c.CTTY, tg)
	}
	k.liveTasks++
	k.mu.Unlock()
	t.start()
	return tg, nil
}

// setIDs gives the leader of a new process its ids (one per namespace
// level, from the root down) and the process its pid, pgid and sid.
func (t *Task) setIDs(ids []ThreadID) {
	tid := ids[0]
	t.ids, t.tg.ids = ids, ids
	t.tid, t.tg.pid, t.tg.pgid, t.tg.sid = tid, tid, tid, tid
	t.tg.pgrp, t.tg.sess = t.tg, t.tg
}

// setImage resets the registers to start img.
func (t *Task) setImage(img Image) {
	t.fullRegs()
	t.regs = arch.Registers{}
	t.regs.Rip = img.Entry
	t.regs.Rsp = img.StackPointer
	t.regs.Cs = 0x33
	t.regs.Ss = 0x2b
	t.regs.Eflags = 0x202
	// The image starts with a clean FP state, as after Linux's
	// fpu_flush_thread: a platform thread's own may hold anything (the
	// last program's registers, or what the sentry had in its own when it
	// made the stub).
	if t.ctx == nil {
		fp := make([]byte, arch.FPStateSize())
		arch.InitFPState(fp)
		t.sig.initialFP = fp
	} else if err := t.restoreFPState(0); err != nil {
		t.k.Debugf("tid %d: resetting FP state at exec: %v", t.tid, err)
	}
	t.k.mu.Lock()
	t.image = img
	t.comm = img.Name
	if len(t.comm) > 15 {
		t.comm = t.comm[:15]
	}
	t.k.mu.Unlock()
}

const (
	// capCheckpointRestore is CAP_CHECKPOINT_RESTORE, which also allows
	// clone3's set_tid.
	capCheckpointRestore = 40

	// cloneNamespaces are the namespace flags. Apart from CLONE_NEWPID
	// (pidns.go), the sandbox is one set of namespaces: creating new ones
	// is refused with EPERM (what an unprivileged caller gets on Linux)
	// even for root, until nested namespaces exist.
	cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUSER |
		unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS |
		unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
)

// CloneOptions are the decoded arguments of clone/clone3/fork/vfork. The
// syscall layer has already applied the checks specific to its entry
// point (clone3's struct validation); Clone applies the flag rules common
// to both, as Linux's copy_process does.
type CloneOptions struct {
	Flags      uint64
	ExitSignal int
	Stack      uint64 // new stack pointer, 0 to keep the caller's
	TLS        uint64
	ParentTID  uint64 // CLONE_PARENT_SETTID address
	ChildTID   uint64 // CLONE_CHILD_SETTID / CLEARTID address
	PIDFD      uint64 // CLONE_PIDFD address: the pidfd's number goes there (an int)
	// SetTID is clone3's set_tid array: the tid the child must get, one
	// per PID namespace level (the sandbox has one level).
	SetTID []ThreadID
}

// validateCloneFlags applies copy_process's flag rules (Linux:
// kernel/fork.c). k.mu must not be held.
func (t *Task) validateCloneFlags(o *CloneOptions) error {
	f := o.Flags
	switch {
	case f&(unix.CLONE_NEWNS|unix.CLONE_FS) == unix.CLONE_NEWNS|unix.CLONE_FS,
		f&(unix.CLONE_NEWUSER|unix.CLONE_FS) == unix.CLONE_NEWUSER|unix.CLONE_FS,
		// Threads share signal handlers, and shared handlers need a
		// shared address space (the handler addresses mean nothing
		// elsewhere).
		f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0,
		f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0,
		f&unix.CLONE_THREAD != 0 && f&(unix.CLONE_NEWUSER|unix.CLONE_NEWPID) != 0,
		f&(unix.CLONE_SIGHAND|unix.CLONE_CLEAR_SIGHAND) == unix.CLONE_SIGHAND|unix.CLONE_CLEAR_SIGHAND,
		f&unix.CLONE_PIDFD != 0 && f&unix.CLONE_DETACHED != 0:
		return unix.EINVAL
	}
	if f&(unix.CLONE_PARENT|unix.CLONE_THREAD|unix.CLONE_NEWPID) != 0 {
		t.k.mu.Lock()
		// The PID namespace's init cannot make siblings: they would have
		// no parent inside the namespace.
		isInit := t.tg.isNSInitLocked()
		// After unshare(CLONE_NEWPID), threads (they would live in
		// another namespace than their group) and a second new namespace
		// are refused (Linux: copy_process, copy_pid_ns).
		unshared := t.childNS != t.ns
		t.k.mu.Unlock()
		if f&unix.CLONE_PARENT != 0 && isInit {
			return unix.EINVAL
		}
		if f&(unix.CLONE_THREAD|unix.CLONE_NEWPID) != 0 && unshared {
			return unix.EINVAL
		}
	}
	if o.ExitSignal < 0 || o.ExitSignal > 255 {
		return unix.EINVAL
	}
	return nil
}

// Clone creates a new task as clone(2) does and returns its tid in the
// caller's PID namespace.
func (t *Task) Clone(o CloneOptions) (ThreadID, error) {
	if err := t.validateCloneFlags(&o); err != nil {
		return 0, err
	}
	f := o.Flags
	if f&unix.CLONE_THREAD != 0 {
		// Threads send no signal when they exit.
		o.ExitSignal = 0
	}
	k := t.k
	creds := t.Credentials()
	if f&(cloneNamespaces&^unix.CLONE_NEWPID) != 0 {
		return 0, unix.EPERM
	}
	// The child's PID namespace: a new one (CLONE_NEWPID, which needs
	// CAP_SYS_ADMIN in the sandbox's user namespace), or the caller's
	// namespace for children.
	k.mu.Lock()
	ns := t.childNS
	k.mu.Unlock()
	if f&unix.CLONE_NEWPID != 0 {
		if !creds.HasCapability(auth.CAP_SYS_ADMIN) {
			return 0, unix.EPERM
		}
		var err error
		if ns, err = ns.NewChild(); err != nil {
			return 0, err
		}
	}
	if len(o.SetTID) > 0 {
		// Linux: alloc_pid checks the values, then the capability.
		if len(o.SetTID) > ns.level+1 {
			return 0, unix.EINVAL
		}
		for _, tid := range o.SetTID {
			if tid < 1 || tid >= maxThreadID {
				return 0, unix.EINVAL
			}
		}
		if !creds.HasCapability(auth.CAP_SYS_ADMIN) && !creds.HasCapability(capCheckpointRestore) {
			return 0, unix.EPERM
		}
	}
	// RLIMIT_NPROC (threads count too). The count is taken before the
	// task tree is locked, so racing forks may overshoot by a few.
	if err := t.CheckNPROC(); err != nil {
		return 0, err
	}

	// Address space.
	var m *mm.MemoryManager
	if f&unix.CLONE_VM != 0 {
		t.mm.IncUsers()
		m = t.mm
	} else {
		var err error
		var settid uint64
		if f&unix.CLONE_CHILD_SETTID != 0 {
			settid = o.ChildTID
		}
		if m, err = t.mm.Fork(t.regs.Rip, t.regs.Rsp, settid); err != nil {
			return 0, unix.ENOMEM
		}
	}
	// Room for the new task's thread in the platform's address space,
	// before anything the application could see (its tid) exists.
	res, err := reserveThread(m)
	if err != nil {
		m.Release()
		return 0, err
	}
	t.fullRegs()
	nt := &Task{
		k:           k,
		mm:          m,
		threadRes:   res,
		regs:        t.regs,
		interruptCh: make(chan struct{}, 1),
		startTime:   time.Now(),
		image:       t.Image(),
	}
	nt.creds.Store(creds)
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
	// CLONE_SYSVSEM shares System V semaphore undo lists; there are no
	// semaphores yet, so there is nothing to share.

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
	// CLONE_PIDFD: the pidfd goes into the caller's table now (after the
	// child's copy of it: a child of its own table does not get it) and
	// its number to o.PIDFD, which must be writable (EFAULT fails the
	// clone, as Linux's put_user in copy_process). It names the child
	// once the child exists.
	var pidfd *PidFD
	pidfdNum := int32(-1)
	fail := func(err error) (ThreadID, error) {
		if pidfd != nil {
			if pf := t.fds.Remove(pidfdNum); pf != nil {
				pf.DecRef(t)
			}
		}
		nt.releaseResources()
		return 0, err
	}
	if f&unix.CLONE_PIDFD != 0 {
		var file *vfs.FileDescription
		pidfd, file = k.newPidFD(nil, nil, 0)
		pidfdNum, err = t.fds.Install(file, vfs.FDFlags{CloseOnExec: true}, 0)
		file.DecRef(t)
		if err != nil {
			pidfd = nil
			return fail(err)
		}
		if err := t.putUint32(o.PIDFD, uint32(pidfdNum)); err != nil {
			return fail(unix.EFAULT)
		}
	}

	k.mu.Lock()
	if t.tg.exiting || t.killed.Load() {
		k.mu.Unlock()
		return fail(ERESTARTNOINTR)
	}
	if k.pidsLimitReachedLocked(t.tg.container) {
		k.mu.Unlock()
		return fail(unix.EAGAIN)
	}
	ids, err := ns.allocIDsLocked(o.SetTID, f&unix.CLONE_THREAD != 0)
	if err != nil {
		k.mu.Unlock()
		return fail(err)
	}
	tid := ids[0]
	nt.tid, nt.ids, nt.ns, nt.childNS = tid, ids, ns, ns
	nt.comm = t.comm
	if f&unix.CLONE_THREAD != 0 {
		nt.tg = t.tg
	} else {
		handlers := t.tg.handlers
		if f&unix.CLONE_SIGHAND == 0 {
			handlers = handlers.copy()
			if f&unix.CLONE_CLEAR_SIGHAND != 0 {
				handlers.resetForExec()
			}
		}
		tg := &ThreadGroup{
			k:          k,
			pid:        tid,
			ids:        ids,
			ns:         ns,
			handlers:   handlers,
			limits:     t.tg.limits.Copy(),
			childEvent: make(chan struct{}),
			leader:     nt,
			tasks:      make(map[*Task]struct{}),
			children:   make(map[*ThreadGroup]struct{}),
			exitSignal: o.ExitSignal,
			pgid:       t.tg.pgid,
			sid:        t.tg.sid,
			pgrp:       t.tg.pgrp,
			sess:       t.tg.sess,
			container:  t.tg.container,
		}
		parent := t.tg
		if f&unix.CLONE_PARENT != 0 && t.tg.parent != nil {
			// A sibling: it reports to the caller's parent, with the
			// caller's own exit signal (Linux ignores the one given).
			parent = t.tg.parent
			tg.exitSignal = t.tg.exitSignal
		}
		tg.parent = parent
		parent.children[tg] = struct{}{}
		nt.tg = tg
	}
	if pidfd != nil {
		pidfd.tg = nt.tg
		if f&unix.CLONE_THREAD != 0 {
			pidfd.task = nt
		}
	}
	t.inheritSeccompLocked(nt)
	nt.tg.tasks[nt] = struct{}{}
	k.registerTaskLocked(nt, f&unix.CLONE_THREAD == 0)
	k.liveTasks++
	k.mu.Unlock()
	// The child's tid as the caller and as the child see it.
	vtid := ids[t.ns.level]
	childTID := ids[ns.level]

	// Linux writes the parent's word from the parent after the child
	// exists, and the child's word from the child before it first runs;
	// a bad address is silently ignored in both. Each is the tid in the
	// namespace of the task that writes it.
	if f&unix.CLONE_PARENT_SETTID != 0 {
		t.putUint32(o.ParentTID, uint32(vtid))
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		nt.putUint32(o.ChildTID, uint32(childTID))
	}
	t.inheritSignalState(nt, f)
	var vforkDone chan struct{}
	if f&unix.CLONE_VFORK != 0 {
		vforkDone = make(chan struct{})
		nt.vforkDone = vforkDone
	}
	event := t.ptraceClone(nt, f, o.ExitSignal)
	nt.start()
	t.ptraceCloneEvent(event, vtid)
	if vforkDone != nil {
		// The parent sleeps until the child execs or exits, like Linux's
		// killable wait: other signals stay pending until then, and only
		// a kill of the parent ends the wait early (the child goes on).
		t.waitVfork(vforkDone)
		t.ptraceVforkDone(vtid)
	}
	return vtid, nil
}

// reserveThread reserves room for a new task's thread in m's platform
// address space, if the platform limits the threads of an address space
// (systrap: 4095 each). Without it the platform would refuse the thread
// at its first run, after clone had returned its tid, and the task would
// die; Linux fails clone with EAGAIN at a thread limit. A new address
// space (fork) always has room, so this matters for CLONE_VM; it is taken
// for every clone all the same, which keeps one rule: every cloned task
// holds a reservation until its context binds it (newContext) or it is
// released (releaseResources).
func reserveThread(m *mm.MemoryManager) (platform.ThreadReservation, error) {
	r, ok := m.AddressSpace().(platform.ThreadReserver)
	if !ok {
		return nil, nil
	}
	res, err := r.ReserveThread()
	if err != nil {
		return nil, unix.EAGAIN
	}
	return res, nil
}

// newContext returns a platform context for the task goroutine, holding
// the thread reservation Clone made for the task, if any.
func (t *Task) newContext() platform.Context {
	ctx := t.k.Platform.NewContext()
	if r := t.threadRes; r != nil {
		t.threadRes = nil
		r.Bind(ctx)
	}
	return ctx
}

// releaseResources drops what a task that never ran holds.
func (t *Task) releaseResources() {
	if r := t.threadRes; r != nil {
		t.threadRes = nil
		r.Release()
	}
	t.fds.decRef(t)
	t.fs.decRef()
	t.mm.Release()
}

// unshareFlags are the flags unshare(2) knows (Linux: ksys_unshare).
const unshareFlags = unix.CLONE_THREAD | unix.CLONE_FS | unix.CLONE_NEWNS | unix.CLONE_SIGHAND |
	unix.CLONE_VM | unix.CLONE_FILES | unix.CLONE_SYSVSEM | cloneNamespaces

// Unshare implements unshare(2). CLONE_NEWPID makes a new PID namespace
// for the caller's next children (the caller stays where it is); CLONE_FS
// and CLONE_FILES give the caller its own copy of a shared filesystem
// context or descriptor table; CLONE_THREAD, CLONE_SIGHAND and CLONE_VM
// are accepted only when there is nothing to unshare. The other namespaces
// are EPERM as in clone.
func (t *Task) Unshare(flags uint64) error {
	if flags&^unshareFlags != 0 {
		return unix.EINVAL
	}
	// Linux's implications: a new user namespace needs a private fs and
	// a single thread; a new mount namespace a private fs; CLONE_VM
	// implies CLONE_SIGHAND, which implies CLONE_THREAD.
	if flags&unix.CLONE_NEWUSER != 0 {
		flags |= unix.CLONE_THREAD | unix.CLONE_FS
	}
	if flags&unix.CLONE_VM != 0 {
		flags |= unix.CLONE_SIGHAND
	}
	if flags&unix.CLONE_SIGHAND != 0 {
		flags |= unix.CLONE_THREAD
	}
	if flags&unix.CLONE_NEWNS != 0 {
		flags |= unix.CLONE_FS
	}
	k := t.k
	k.mu.Lock()
	single := len(t.tg.tasks) == 1
	unshared := t.childNS != t.ns
	k.mu.Unlock()
	// (Linux also refuses CLONE_SIGHAND and CLONE_VM when the handlers
	// or the address space are shared with another process; here only
	// the thread count is checked, which both imply.)
	if flags&unix.CLONE_THREAD != 0 && !single {
		return unix.EINVAL
	}
	if flags&(cloneNamespaces&^unix.CLONE_NEWPID) != 0 {
		return unix.EPERM
	}
	var ns *PIDNamespace
	if flags&unix.CLONE_NEWPID != 0 {
		if !t.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
		if unshared {
			// Linux's copy_pid_ns: the caller's namespace for
			// children must still be its own.
			return unix.EINVAL
		}
		var err error
		if ns, err = t.ns.NewChild(); err != nil {
			return err
		}
	}
	var oldFDs *FDTableRef
	var oldFS *FSContextRef
	k.mu.Lock()
	if flags&unix.CLONE_FILES != 0 && t.fds.users.Load() > 1 {
		oldFDs = t.fds
		t.fds = NewFDTableRef(t.fds.Fork())
	}
	if flags&unix.CLONE_FS != 0 && t.fs.users.Load() > 1 {
		oldFS = t.fs
		t.fs = NewFSContextRef(t.fs.Fork())
	}
	if ns != nil {
		t.childNS = ns
	}
	k.mu.Unlock()
	if oldFDs != nil {
		oldFDs.decRef(t)
	}
	if oldFS != nil {
		oldFS.decRef()
	}
	return nil
}
