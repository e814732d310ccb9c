package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// pidfds (pidfd_open(2), clone's CLONE_PIDFD): a file that stands for one
// process, or with PIDFD_THREAD one thread, for as long as it is open. It
// names its target by reference, not by number, so that a pid reused
// after the process was reaped is never mistaken for it. It polls readable
// once the process (every thread) or the thread has exited, and adds
// POLLHUP once nothing of it is left (reaped); pidfd_send_signal,
// pidfd_getfd and waitid(P_PIDFD) act on it. The file lives here, not in
// fs/, because Clone makes it for CLONE_PIDFD before the child runs.

// Flags of pidfd_open.
const (
	PidfdNonblock = unix.O_NONBLOCK // PIDFD_NONBLOCK
	PidfdThread   = unix.O_EXCL     // PIDFD_THREAD: a thread, not a process
)

// Flags of pidfd_send_signal: where the signal goes instead of the
// pidfd's own kind of target. At most one may be given.
const (
	PidfdSignalThread       = 1 // the thread (a process pidfd: its leader)
	PidfdSignalThreadGroup  = 2 // the process
	PidfdSignalProcessGroup = 4 // the process group whose id is the pid
)

// PidfdSignalFlagsValid reports whether flags are pidfd_send_signal's:
// none, or one of the PidfdSignal* flags.
func PidfdSignalFlagsValid(flags uint32) bool {
	switch flags {
	case 0, PidfdSignalThread, PidfdSignalThreadGroup, PidfdSignalProcessGroup:
		return true
	}
	return false
}

// PidFD is an open pidfd.
type PidFD struct {
	vfs.FileDescriptionDefaultImpl
	k   *Kernel
	ino uint64
	// tg is the process the pidfd stands for, and task the thread for a
	// PIDFD_THREAD pidfd (nil otherwise). k.mu protects them: a
	// CLONE_PIDFD pidfd is installed before its child exists and names
	// nothing (tg nil) until Clone sets them.
	tg   *ThreadGroup
	task *Task
}

// newPidFD returns a pidfd description for the process tg or, if task is
// not nil, the thread task of it. flags may hold O_NONBLOCK.
func (k *Kernel) newPidFD(tg *ThreadGroup, task *Task, flags uint32) (*PidFD, *vfs.FileDescription) {
	p := &PidFD{k: k, ino: k.VFS.NextAnonIno(), tg: tg, task: task}
	fd := vfs.NewFileDescription(p, vfs.VirtualDentry{}, unix.O_RDWR|flags&unix.O_NONBLOCK, vfs.FileDescriptionOptions{})
	return p, fd
}

// PidfdOpen implements pidfd_open(2) for t: a pidfd for the process pid
// of t's PID namespace (a zombie too) or, with PidfdThread, for its thread
// pid. The caller installs it close-on-exec.
func (t *Task) PidfdOpen(pid ThreadID, flags uint32) (*vfs.FileDescription, error) {
	if flags&^(PidfdNonblock|PidfdThread) != 0 || pid <= 0 {
		return nil, unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	var tg *ThreadGroup
	var task *Task
	if flags&PidfdThread != 0 {
		if task = t.ns.tasks[pid]; task == nil {
			// A zombie leader's thread is still there (Linux keeps
			// its task until the process is reaped).
			if g := t.ns.groups[pid]; g != nil && g.leader != nil {
				task = g.leader
			}
		}
		if task == nil {
			return nil, unix.ESRCH
		}
		tg = task.tg
	} else if tg = t.ns.groups[pid]; tg == nil {
		if t.ns.tasks[pid] != nil {
			return nil, unix.ENOENT // a thread other than the leader
		}
		return nil, unix.ESRCH
	}
	_, fd := k.newPidFD(tg, task, flags)
	return fd, nil
}

// AnonInodeName names the file in /proc/[pid]/fd.
func (*PidFD) AnonInodeName() string { return "[pidfd]" }

// Release implements vfs.FileDescriptionImpl.
func (*PidFD) Release(vfs.Context) {}

// Stat implements vfs.FileDescriptionImpl: an inode of its own, 0700 as
// Linux 6.18's pidfs shows it.
func (p *PidFD) Stat(vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: 0o700, Nlink: 1, Ino: p.ino, Blksize: 4096}, nil
}

// goneLocked reports whether nothing is left of the target (Linux's
// pid_task(pid, PIDTYPE_PID) is NULL): the process was reaped, or the
// thread, not its leader, has exited. k.mu must be held.
func (p *PidFD) goneLocked() bool {
	if p.tg == nil {
		return false
	}
	if p.tg.reaped {
		return true
	}
	if t := p.task; t != nil && t != p.tg.leader {
		_, live := p.tg.tasks[t]
		return !live
	}
	return false
}

// exitedLocked reports whether the target has exited: every thread of
// the process, or the thread. k.mu must be held.
func (p *PidFD) exitedLocked() bool {
	if p.tg == nil {
		return false
	}
	if t := p.task; t != nil {
		_, live := p.tg.tasks[t]
		return !live
	}
	return p.tg.zombie || p.tg.reaped
}

// Readiness implements vfs.Waitable (Linux's pidfd_poll).
func (p *PidFD) Readiness(mask uint32) uint32 {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	var r uint32
	if p.exitedLocked() {
		r = vfs.EventIn | vfs.EventRdNorm
	}
	if p.goneLocked() {
		r |= vfs.EventHUp
	}
	return r & mask
}

// EventRegister implements vfs.Waitable on the process' pidfd queue.
func (p *PidFD) EventRegister(e *vfs.WaitEntry) {
	if q := p.queue(); q != nil {
		q.EventRegister(e)
	}
}

// EventUnregister implements vfs.Waitable.
func (p *PidFD) EventUnregister(e *vfs.WaitEntry) {
	if q := p.queue(); q != nil {
		q.EventUnregister(e)
	}
}

func (p *PidFD) queue() *vfs.WaitQueue {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	if p.tg == nil {
		return nil
	}
	return &p.tg.pidfdWaiters
}

// FDInfo is the pidfd's part of /proc/[pid]/fdinfo: its target's pid in
// the reader's namespace and in each namespace from the target's own up
// (NSpid), -1 for both once the target is gone, 0 where the reader cannot
// see it.
func (p *PidFD) FDInfo(ctx vfs.Context) string {
	k := p.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if p.tg == nil || p.goneLocked() {
		return "Pid:\t-1\nNSpid:\t-1\n"
	}
	ids, level := p.tg.ids, p.tg.ns.level
	if p.task != nil {
		ids, level = p.task.ids, p.task.ns.level
	}
	t, ok := ctx.(*Task)
	if !ok || t.ns.level > level || !t.ns.contains(p.tg.ns) {
		return "Pid:\t0\nNSpid:\n"
	}
	s := fmt.Sprintf("Pid:\t%d\nNSpid:", ids[t.ns.level])
	for _, id := range ids[t.ns.level : level+1] {
		s += fmt.Sprintf("\t%d", id)
	}
	return s + "\n"
}

// ProcessPidFD returns a pidfd's view of the process tg, without a file:
// for the descriptors that Linux's pidfd_send_signal takes as pidfds (an
// open /proc/[pid] directory).
func (k *Kernel) ProcessPidFD(tg *ThreadGroup) *PidFD {
	return &PidFD{k: k, tg: tg}
}

// PidfdOf returns the pidfd that f is, or nil.
func PidfdOf(f *vfs.FileDescription) *PidFD {
	p, _ := f.Impl().(*PidFD)
	return p
}

// SendSignal implements pidfd_send_signal(2) from t: sig (0 only checks)
// to the pidfd's process, or its thread for a PIDFD_THREAD pidfd, or
// where flags say. info, if not nil, is the caller's siginfo, which it may
// give only with a negative si_code other than SI_TKILL unless it signals
// itself.
func (p *PidFD) SendSignal(t *Task, sig int, info *abi.SignalInfo, flags uint32) error {
	if !PidfdSignalFlagsValid(flags) {
		return unix.EINVAL
	}
	if sig != 0 && !ValidSignal(sig) {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg, task := p.tg, p.task
	if tg == nil || p.goneLocked() {
		return unix.ESRCH
	}
	// A pid the caller cannot see is EINVAL (access_pidfd_pidns).
	if !t.ns.contains(tg.ns) {
		return unix.EINVAL
	}
	// The thread whose pid the pidfd holds: a process pidfd's is its
	// leader's.
	own := task
	if own == nil {
		own = tg.leader
	}
	thread := task != nil
	switch flags {
	case PidfdSignalThread:
		thread, task = true, own
	case PidfdSignalThreadGroup:
		thread = false
	}
	si := userSignalInfo(sig, abi.SI_USER, t) // SI_USER even for a thread, as Linux 6.18
	if info != nil {
		if int(info.Signo) != sig {
			return unix.EINVAL
		}
		// Only a thread signalling its own pid may say anything.
		if (own != t || flags == PidfdSignalProcessGroup) && (info.Code >= 0 || info.Code == abi.SI_TKILL) {
			return unix.EPERM
		}
		si = *info
	}
	if flags == PidfdSignalProcessGroup {
		root := tg.pid
		return k.signalManyLocked(sig, t, &si, func(g *ThreadGroup) bool { return g.pgid == root })
	}
	if !mayKill(t, tg, sig) {
		return unix.EPERM
	}
	if sig == 0 || tg.zombie {
		return nil
	}
	if !thread {
		return k.sendSignalLocked(tg, nil, &si, forcedSignal(t, tg, sig))
	}
	if _, live := tg.tasks[task]; !live {
		return nil // an exited leader: Linux finds it until the process is reaped
	}
	return k.sendSignalLocked(tg, task, &si, forcedSignal(t, tg, sig))
}

// GetFD implements pidfd_getfd(2) for t: the file of descriptor fd of the
// pidfd's process, if t may ptrace it (Linux's PTRACE_MODE_ATTACH_REALCREDS).
// The caller holds the returned reference.
func (p *PidFD) GetFD(t *Task, fd int32) (*vfs.FileDescription, error) {
	k := t.k
	k.mu.Lock()
	tg, task := p.tg, p.task
	if tg == nil || p.goneLocked() {
		k.mu.Unlock()
		return nil, unix.ESRCH
	}
	if task == nil {
		task = tg.leader
	}
	if _, live := tg.tasks[task]; !live {
		// An exited leader has let go of its files; a live thread
		// of its process has them (Linux finds no files: ESRCH).
		k.mu.Unlock()
		return nil, unix.ESRCH
	}
	if tg != t.tg && !ptraceMayAccess(t, task) {
		k.mu.Unlock()
		return nil, unix.EPERM
	}
	if task.fds == nil {
		k.mu.Unlock()
		return nil, unix.ESRCH
	}
	// Safe to read after the task exits: its table is then empty (as
	// Resources).
	fds := task.fds.FDTable
	k.mu.Unlock()
	f, _ := fds.Get(fd)
	if f == nil {
		return nil, unix.EBADF
	}
	return f, nil
}

// waitTarget returns the process that waitid(P_PIDFD) waits for: the
// pidfd's process, or nil for a PIDFD_THREAD pidfd of a thread other
// than its leader, which no wait reports.
func (p *PidFD) waitTarget() *ThreadGroup {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	if p.tg == nil || p.task != nil && p.task != p.tg.leader {
		return nil
	}
	return p.tg
}

// WaitOptionsFor sets o to wait for the pidfd's process (waitid with
// P_PIDFD); a pidfd that names no process of t's children then matches
// none (ECHILD).
func (p *PidFD) WaitOptionsFor(o *WaitOptions) {
	o.Target = p.waitTarget()
	o.ByTarget = true
}
