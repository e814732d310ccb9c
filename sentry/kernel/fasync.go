package kernel

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// F_SETOWN_EX owner types (struct f_owner_ex's type).
const (
	OwnerTID  = 0 // F_OWNER_TID: one thread
	OwnerPID  = 1 // F_OWNER_PID: a process
	OwnerPGRP = 2 // F_OWNER_PGRP: a process group
)

// pollBands is what si_band says for each reason (Linux's band_table).
var pollBands = [...]int64{
	vfs.PollIn:  vfs.EventIn | vfs.EventRdNorm,
	vfs.PollOut: vfs.EventOut | vfs.EventWrNorm | vfs.EventWrBand,
	vfs.PollMsg: vfs.EventIn | vfs.EventRdNorm | 0x400, // EPOLLMSG
	vfs.PollErr: vfs.EventErr,
	vfs.PollPri: vfs.EventPri | vfs.EventRdBand,
	vfs.PollHup: vfs.EventHUp | vfs.EventErr,
}

// FileAsync is the signal-driven I/O state of one open file description
// (Linux's fown_struct with the file's fasync_struct): who owns the file
// (F_SETOWN), which signal it sends (F_SETSIG), and, while O_ASYNC is set
// on a file that can send them, its entry on the file's wait queue, whose
// notifications become signals to the owner. Get it with FileAsyncOf.
//
// Lock order: regMu, then the file's WaitQueue lock, then mu, then
// Kernel.mu. NotifyEvent runs under the queue's lock and takes mu, then
// Kernel.mu to send; so no file may be notified with Kernel.mu held,
// which holds for every AsyncFile (only signalfd's queue is notified
// under it, and signalfd cannot drive signals).
type FileAsync struct {
	k *Kernel

	// regMu serialises O_ASYNC changes and protects w and entry's
	// registration.
	regMu sync.Mutex
	// w is the file's queue entry's Waitable while O_ASYNC is on.
	w     vfs.Waitable
	entry vfs.WaitEntry
	// reasoner gives the si_code of a notification, when the file does.
	reasoner vfs.AsyncReasoner

	// mu protects the fields below.
	mu sync.Mutex
	// typ is the owner's kind (Owner*); the owner is task (OwnerTID), tg
	// (OwnerPID, nil when the pid named no process) or the process group
	// rootID (OwnerPGRP). rootID is the owner's id in the root PID
	// namespace, 0 when there is no owner.
	typ    int
	rootID ThreadID
	task   *Task
	tg     *ThreadGroup
	// uid and euid are the credentials of whoever set the owner: the
	// owner takes the signals only if they could kill it (sigio_perm).
	uid, euid auth.KUID
	// sig is F_SETSIG's signal; 0 sends a plain SIGIO.
	sig int
	// fd is si_fd: the descriptor through which O_ASYNC was last set.
	fd int32

	// dnotify is set once the file was watched with F_NOTIFY, so that its
	// closes look for its requests (dnotify.go).
	dnotify atomic.Bool
}

// FileAsyncOf returns f's signal-driven I/O state, made on first use.
func (k *Kernel) FileAsyncOf(f *vfs.FileDescription) *FileAsync {
	return f.Async(func() any { return &FileAsync{k: k} }).(*FileAsync)
}

// Owner returns F_GETOWN_EX's answer as ns sees it: the owner's type and
// id; the id is 0 when there is no owner, it is gone (a reaped process, a
// thread that exited, a group with nobody in it) or ns cannot see it.
func (a *FileAsync) Owner(ns *PIDNamespace) (typ int, id ThreadID) {
	k := a.k
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rootID == 0 {
		return a.typ, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch a.typ {
	case OwnerTID:
		if _, live := a.task.tg.tasks[a.task]; live {
			id = ns.idOfTaskLocked(a.task)
		}
	case OwnerPID:
		if a.tg != nil && k.root.groups[a.tg.pid] == a.tg {
			id = ns.IDOfThreadGroup(a.tg)
		}
	case OwnerPGRP:
		if k.pgrpLeaderLocked(a.rootID) != nil {
			id = ns.idOfRootIDLocked(a.rootID)
		}
	}
	return a.typ, id
}

// SetOwner implements F_SETOWN and F_SETOWN_EX for t: id is in t's PID
// namespace, 0 to clear. Like Linux's find_vpid, any id that a thread,
// process or process group carries will do (ESRCH if none does); a
// process owner whose id names no process takes no signals.
func (a *FileAsync) SetOwner(t *Task, typ int, id ThreadID) error {
	if typ < OwnerTID || typ > OwnerPGRP {
		return unix.EINVAL
	}
	return a.setOwner(t, typ, id, true)
}

// setOwner is SetOwner; without force it changes nothing if the file has
// an owner already (Linux's __f_setown for dnotify).
func (a *FileAsync) setOwner(t *Task, typ int, id ThreadID, force bool) error {
	k := a.k
	a.mu.Lock()
	defer a.mu.Unlock()
	if !force && a.rootID != 0 {
		return nil
	}
	var (
		root  ThreadID
		task  *Task
		group *ThreadGroup
	)
	if id != 0 {
		k.mu.Lock()
		root = t.ns.anyRootIDLocked(id)
		task = t.ns.tasks[id]
		group = t.ns.groups[id]
		k.mu.Unlock()
		if root == 0 {
			return unix.ESRCH
		}
		if typ == OwnerTID && task == nil {
			// A group id whose leader has gone: no thread to signal.
			root = 0
		}
	}
	creds := t.Credentials()
	a.typ, a.rootID, a.task, a.tg = typ, root, task, group
	a.uid, a.euid = creds.RealKUID, creds.EffectiveKUID
	return nil
}

// Signal returns F_GETSIG's answer.
func (a *FileAsync) Signal() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sig
}

// SetSignal implements F_SETSIG: sig is 0 (plain SIGIO) or a signal.
func (a *FileAsync) SetSignal(sig int) error {
	if sig != 0 && !ValidSignal(sig) {
		return unix.EINVAL
	}
	a.mu.Lock()
	a.sig = sig
	a.mu.Unlock()
	return nil
}

// SetAsync turns O_ASYNC's signals on or off for f, reached through
// descriptor fd (si_fd). w is f's queue: a vfs.AsyncFile or a socket;
// the caller turns nothing on for other files, and sets O_ASYNC in the
// status flags.
func (a *FileAsync) SetAsync(f *vfs.FileDescription, w vfs.Waitable, fd int32, on bool) {
	a.regMu.Lock()
	defer a.regMu.Unlock()
	a.mu.Lock()
	a.fd = fd
	a.mu.Unlock()
	if !on {
		if a.unregisterLocked() {
			f.RemoveReleaseHook(a)
		}
		return
	}
	if a.w != nil {
		return
	}
	mask := uint32(vfs.EventErr | vfs.EventHUp | vfs.EventPri)
	if f.IsReadable() {
		mask |= vfs.ReadableEvents | vfs.EventRdHUp
	}
	if f.IsWritable() {
		mask |= vfs.WritableEvents
	}
	a.reasoner, _ = w.(vfs.AsyncReasoner)
	a.entry.InitCallback(a, mask)
	a.w = w
	w.EventRegister(&a.entry)
	f.AddReleaseHook(a)
}

// FileReleased implements vfs.ReleaseHook: the file's entry goes with it
// (Linux's __fput turning FASYNC off).
func (a *FileAsync) FileReleased(*vfs.FileDescription) {
	a.regMu.Lock()
	defer a.regMu.Unlock()
	a.unregisterLocked()
}

// unregisterLocked takes the entry off the file's queue, if it is on
// one, and reports whether it was. regMu must be held.
func (a *FileAsync) unregisterLocked() bool {
	if a.w == nil {
		return false
	}
	a.w.EventUnregister(&a.entry)
	a.w = nil
	return true
}

// NotifyEvent implements vfs.WaitCallback: a change of the file's
// readiness sends the owner a signal saying what changed (Linux's
// kill_fasync). It runs under the file's queue lock.
func (a *FileAsync) NotifyEvent(_ *vfs.WaitEntry, ready uint32) {
	var reason int32
	if a.reasoner != nil {
		reason = a.reasoner.AsyncReason(ready)
	} else {
		switch {
		case ready&vfs.EventHUp != 0:
			reason = vfs.PollHup
		case ready&(vfs.ReadableEvents|vfs.EventRdHUp) != 0:
			reason = vfs.PollIn
		case ready&vfs.WritableEvents != 0:
			reason = vfs.PollOut
		case ready&vfs.EventErr != 0:
			reason = vfs.PollErr
		default:
			reason = vfs.PollPri
		}
	}
	a.sendSigio(-1, reason)
}

// SendSigio sends the owner the file's signal for reason (a vfs.Poll* code)
// on descriptor fd, as Linux's send_sigio: F_SETSIG's signal with si_code
// reason, si_band and si_fd, or a plain SIGIO when there is none or a
// real-time one cannot be queued.
func (a *FileAsync) SendSigio(fd int32, reason int32) { a.sendSigio(fd, reason) }

// sendSigio is SendSigio; fd -1 stands for the descriptor O_ASYNC was set
// through.
func (a *FileAsync) sendSigio(fd int32, reason int32) {
	k := a.k
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rootID == 0 {
		return
	}
	if fd < 0 {
		fd = a.fd
	}
	var info abi.SignalInfo
	if a.sig != 0 {
		info.Signo = int32(a.sig)
		info.Code = reason
		if a.sig != int(unix.SIGIO) && sigSpecificCodes(a.sig) {
			info.Code = abi.SI_SIGIO
		}
		info.SetBandFD(pollBands[reason], fd)
	}
	plain := abi.SignalInfo{Signo: int32(unix.SIGIO), Code: abi.SI_KERNEL}
	a.toOwnerLocked(func(tg *ThreadGroup, t *Task) {
		if info.Signo == 0 || k.sendSignalLocked(tg, t, &info, false) != nil {
			k.sendSignalLocked(tg, t, &plain, false)
		}
	})
}

// SendSigurg tells the owner of socket f that urgent data arrived (Linux's
// sk_send_sigurg): SIGURG whether or not O_ASYNC is set and, while it is,
// F_SETSIG's signal with POLL_PRI if one is set. A file without an owner
// sends nothing. The caller must not hold Kernel.mu; it may hold the
// socket's own lock, which comes before the file's queue lock.
func SendSigurg(f *vfs.FileDescription) {
	a, _ := f.Async(nil).(*FileAsync)
	if a == nil {
		return
	}
	k := a.k
	a.mu.Lock()
	if a.rootID == 0 {
		a.mu.Unlock()
		return
	}
	urg := abi.SignalInfo{Signo: int32(unix.SIGURG), Code: abi.SI_KERNEL}
	a.toOwnerLocked(func(tg *ThreadGroup, t *Task) { k.sendSignalLocked(tg, t, &urg, false) })
	sig := a.sig
	a.mu.Unlock()
	if sig != 0 && f.StatusFlags()&unix.O_ASYNC != 0 {
		a.sendSigio(-1, vfs.PollPri)
	}
}

// toOwnerLocked calls send, with Kernel.mu held, for each of the owner's
// processes (tg, with t nil) or its thread (t) that may take its signals
// (sigio_perm). a.mu must be held, and a.rootID not 0.
func (a *FileAsync) toOwnerLocked(send func(tg *ThreadGroup, t *Task)) {
	k := a.k
	deliver := func(tg *ThreadGroup, t *Task) {
		target := t
		if target == nil {
			if target = tg.leader; target == nil {
				return
			}
		}
		if a.permitted(target.Credentials()) {
			send(tg, t)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch a.typ {
	case OwnerTID:
		if _, live := a.task.tg.tasks[a.task]; live {
			deliver(a.task.tg, a.task)
		}
	case OwnerPID:
		if a.tg != nil {
			deliver(a.tg, nil)
		}
	case OwnerPGRP:
		for _, tg := range k.root.groups {
			if tg.pgid == a.rootID {
				deliver(tg, nil)
			}
		}
	}
}

// permitted is Linux's sigio_perm: whoever set the owner is root or
// shares a uid with it. a.mu must be held.
func (a *FileAsync) permitted(c *auth.Credentials) bool {
	return a.euid == auth.RootUID || a.euid == c.SavedKUID || a.euid == c.RealKUID ||
		a.uid == c.SavedKUID || a.uid == c.RealKUID
}

// sigSpecificCodes reports whether sig has si_codes of its own, which a
// POLL_* code would be mistaken for (Linux's sig_specific_sicodes).
func sigSpecificCodes(sig int) bool {
	switch unix.Signal(sig) {
	case unix.SIGILL, unix.SIGFPE, unix.SIGSEGV, unix.SIGBUS, unix.SIGTRAP,
		unix.SIGCHLD, unix.SIGIO, unix.SIGSYS:
		return true
	}
	return false
}

// anyRootIDLocked translates id of ns into the root namespace when a
// thread, a process or a process group or session carries it (Linux's
// find_vpid), 0 when none does. k.mu must be held.
func (ns *PIDNamespace) anyRootIDLocked(id ThreadID) ThreadID {
	if id <= 0 {
		return 0
	}
	if ns.level > 0 {
		return ns.pgrpRootIDLocked(id)
	}
	if ns.tasks[id] != nil || ns.groups[id] != nil {
		return id
	}
	for _, tg := range ns.groups {
		if tg.pgid == id || tg.sid == id {
			return id
		}
	}
	return 0
}

// SetLeaseOwner makes t's process the owner of the file when it has none,
// as F_SETLEASE does (Linux's lease_setup).
func (a *FileAsync) SetLeaseOwner(t *Task) error {
	return a.setOwner(t, OwnerPID, t.tg.ids[t.ns.level], false)
}

// LeaseRemoved implements vfs.LeaseAsync: a lease's removal clears the
// file's owner and F_SETSIG signal (Linux's lease_modify: f_delown).
func (a *FileAsync) LeaseRemoved() {
	a.mu.Lock()
	a.typ, a.rootID, a.task, a.tg = OwnerPID, 0, nil, nil
	a.sig = 0
	a.mu.Unlock()
}

var _ vfs.LeaseAsync = (*FileAsync)(nil)
