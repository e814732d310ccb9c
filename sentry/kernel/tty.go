package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Controlling terminals and terminal job control.
//
// A terminal that can control a session (a devpts replica) owns a
// TTYControl. The association lives with the session: Kernel.ttys maps a
// session id to the TTYControl of its controlling terminal, and the
// TTYControl records the session leader that acquired it and the
// foreground process group. Both are protected by Kernel.mu.
//
// An association is valid while the leader that made it is alive and still
// leads a session with that id. So a process that leaves the session with
// setsid has no controlling terminal (its new session id has no valid
// entry), and a leader's death releases the terminal, without hooks in
// setsid or exit. (Linux also sends SIGHUP to the foreground group when a
// leader with a controlling terminal exits; that needs an exit hook and is
// not done.)
//
// Linux keeps the terminal per process (signal_struct.tty), inherited on
// fork; here every member of the session shares it, except processes that
// gave it up with TIOCNOTTY (ttyTable.detached).

// TTY is what the kernel needs from a terminal that controls a session.
type TTY interface {
	// OpenControlling opens a new description of the terminal for
	// /dev/tty, with the open(2) flags.
	OpenControlling(t *Task, flags uint32) (vfs.FileDescriptionImpl, error)
}

// TTYControl is the job-control state of one terminal. Its fields are
// protected by Kernel.mu.
type TTYControl struct {
	tty TTY
	// leader is the session leader whose session the terminal controls,
	// nil when it controls none; sid is that session's id.
	leader *ThreadGroup
	sid    ThreadID
	// fg is the foreground process group (0: none).
	fg ThreadID
}

// NewTTYControl returns the job-control state of a new terminal tty.
func NewTTYControl(tty TTY) *TTYControl { return &TTYControl{tty: tty} }

// ttyTable is the Kernel's part of the association (Kernel.ttys),
// protected by Kernel.mu.
type ttyTable struct {
	// sessions maps a session id to its controlling terminal.
	sessions map[ThreadID]*TTYControl
	// detached holds the processes (and their session id at the time)
	// that gave up their session's terminal with TIOCNOTTY while not its
	// leader.
	detached map[*ThreadGroup]ThreadID
}

// ttyValidLocked reports whether c controls a live session, forgetting
// the association if its leader is gone. k.mu is held.
func (k *Kernel) ttyValidLocked(c *TTYControl) bool {
	l := c.leader
	if l == nil {
		return false
	}
	if l.exiting || l.zombie || l.sid != c.sid || l.pid != c.sid || k.root.groups[c.sid] != l {
		k.ttyDetachLocked(c)
		return false
	}
	return true
}

// ttyDetachLocked ends c's association with its session. k.mu is held.
func (k *Kernel) ttyDetachLocked(c *TTYControl) {
	if c.leader != nil && k.ttys.sessions[c.sid] == c {
		delete(k.ttys.sessions, c.sid)
	}
	c.leader, c.sid, c.fg = nil, 0, 0
}

// cttyLocked returns tg's controlling terminal, or nil. k.mu is held.
func (k *Kernel) cttyLocked(tg *ThreadGroup) *TTYControl {
	c := k.ttys.sessions[tg.sid]
	if c == nil || !k.ttyValidLocked(c) {
		return nil
	}
	if sid, ok := k.ttys.detached[tg]; ok {
		if sid == tg.sid {
			return nil
		}
		delete(k.ttys.detached, tg)
	}
	return c
}

// isLeaderLocked reports whether tg leads its session. k.mu is held.
func isLeaderLocked(tg *ThreadGroup) bool { return tg.sid == tg.pid }

// ttyAttachLocked makes c the controlling terminal of tg's session, with
// tg's process group in the foreground. k.mu is held; tg leads its
// session.
func (k *Kernel) ttyAttachLocked(c *TTYControl, tg *ThreadGroup) {
	if k.ttys.sessions == nil {
		k.ttys.sessions = make(map[ThreadID]*TTYControl)
		k.ttys.detached = make(map[*ThreadGroup]ThreadID)
	}
	c.leader, c.sid, c.fg = tg, tg.sid, tg.pgid
	k.ttys.sessions[tg.sid] = c
	for d := range k.ttys.detached {
		if d.sid == tg.sid || d.zombie {
			delete(k.ttys.detached, d)
		}
	}
}

// OpenControllingTTY opens the caller's controlling terminal for /dev/tty;
// ENXIO when it has none.
func (t *Task) OpenControllingTTY(flags uint32) (vfs.FileDescriptionImpl, error) {
	k := t.k
	k.mu.Lock()
	c := k.cttyLocked(t.tg)
	k.mu.Unlock()
	if c == nil {
		return nil, unix.ENXIO
	}
	return c.tty.OpenControlling(t, flags)
}

// IsControllingTTY reports whether c is the caller's controlling terminal.
func (t *Task) IsControllingTTY(c *TTYControl) bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.k.cttyLocked(t.tg) == c
}

// AcquireTTYOnOpen is the implicit acquisition of open(2) without
// O_NOCTTY: a session leader without a controlling terminal acquires c if
// c controls no session.
func (t *Task) AcquireTTYOnOpen(c *TTYControl) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if isLeaderLocked(t.tg) && k.cttyLocked(t.tg) == nil && !k.ttyValidLocked(c) {
		k.ttyAttachLocked(c, t.tg)
	}
}

// SetControllingTTY implements TIOCSCTTY (Linux: tiocsctty in
// drivers/tty/tty_jobctrl.c): the caller must lead its session and have no
// controlling terminal (EPERM); a terminal controlling another session is
// taken from it only with steal and CAP_SYS_ADMIN (EPERM otherwise); a
// file not open for reading needs CAP_SYS_ADMIN. Already controlling the
// caller's session is success.
func (t *Task) SetControllingTTY(c *TTYControl, steal, readable bool) error {
	k := t.k
	admin := t.Credentials().HasCapability(auth.CAP_SYS_ADMIN)
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	valid := k.ttyValidLocked(c)
	if isLeaderLocked(tg) && valid && c.sid == tg.sid {
		return nil
	}
	if !isLeaderLocked(tg) || k.cttyLocked(tg) != nil {
		return unix.EPERM
	}
	if valid {
		if !steal || !admin {
			return unix.EPERM
		}
		k.ttyDetachLocked(c)
	}
	if !readable && !admin {
		return unix.EPERM
	}
	k.ttyAttachLocked(c, tg)
	return nil
}

// ReleaseControllingTTY implements TIOCNOTTY on c: ENOTTY unless c is the
// caller's controlling terminal. A session leader disassociates the whole
// session and sends SIGHUP and SIGCONT to the foreground process group;
// another process only gives the terminal up for itself.
func (t *Task) ReleaseControllingTTY(c *TTYControl) error {
	k := t.k
	k.mu.Lock()
	if k.cttyLocked(t.tg) != c {
		k.mu.Unlock()
		return unix.ENOTTY
	}
	if !isLeaderLocked(t.tg) {
		k.ttys.detached[t.tg] = t.tg.sid
		k.mu.Unlock()
		return nil
	}
	fg := c.fg
	k.ttyDetachLocked(c)
	k.mu.Unlock()
	if fg != 0 {
		k.signalTTYGroup(fg, int(unix.SIGHUP))
		k.signalTTYGroup(fg, int(unix.SIGCONT))
	}
	return nil
}

// ForegroundProcessGroup implements TIOCGPGRP. Through the replica
// (!viaMaster) the terminal must be the caller's controlling terminal
// (ENOTTY); the result is 0 when there is no foreground group.
func (t *Task) ForegroundProcessGroup(c *TTYControl, viaMaster bool) (ThreadID, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if !viaMaster && k.cttyLocked(t.tg) != c {
		return 0, unix.ENOTTY
	}
	if !k.ttyValidLocked(c) {
		return 0, nil
	}
	if t.ns == k.root {
		return c.fg, nil
	}
	return t.ns.IDOfThreadGroup(k.pgrpLeaderLocked(c.fg)), nil
}

// TTYSession implements TIOCGSID: the id of the session c controls; ENOTTY
// when it controls none or, through the replica, is not the caller's
// controlling terminal.
func (t *Task) TTYSession(c *TTYControl, viaMaster bool) (ThreadID, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if !viaMaster && k.cttyLocked(t.tg) != c {
		return 0, unix.ENOTTY
	}
	if !k.ttyValidLocked(c) {
		return 0, unix.ENOTTY
	}
	return t.ns.IDOfThreadGroup(c.leader), nil
}

// SetForegroundProcessGroup implements TIOCSPGRP (Linux: tiocspgrp): a
// background caller is subject to SIGTTOU (CheckTTYAccess); c must be the
// caller's controlling terminal (ENOTTY); pgid must be a process group of
// the caller's session (EINVAL if negative, ESRCH if none has that id,
// EPERM if it is in another session).
func (t *Task) SetForegroundProcessGroup(c *TTYControl, pgid ThreadID) error {
	if err := t.CheckTTYAccess(c, int(unix.SIGTTOU)); err != nil {
		if err == unix.EIO {
			return unix.ENOTTY
		}
		return err
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cttyLocked(t.tg) != c {
		return unix.ENOTTY
	}
	if pgid < 0 {
		return unix.EINVAL
	}
	if pgid = t.ns.pgrpRootIDLocked(pgid); pgid == 0 {
		return unix.ESRCH
	}
	found := false
	for _, tg := range k.root.groups {
		if tg.pgid != pgid || tg.zombie {
			continue
		}
		found = true
		if tg.sid != t.tg.sid {
			return unix.EPERM
		}
	}
	if !found {
		return unix.ESRCH
	}
	c.fg = pgid
	return nil
}

// CheckTTYAccess is Linux's __tty_check_change: whether the caller may
// read (sig SIGTTIN) or change or write (sig SIGTTOU) the terminal c. It
// may unless c is its controlling terminal with a foreground group other
// than its own. A background caller that ignores or blocks sig may go on
// (SIGTTOU) or gets EIO (SIGTTIN); one in an orphaned process group gets
// EIO; otherwise sig goes to its process group and the call is restarted
// after the stop (ERESTARTSYS).
func (t *Task) CheckTTYAccess(c *TTYControl, sig int) error {
	k := t.k
	k.mu.Lock()
	if k.cttyLocked(t.tg) != c || c.fg == 0 || c.fg == t.tg.pgid {
		k.mu.Unlock()
		return nil
	}
	pgid := t.tg.pgid
	orphaned := k.pgrpOrphanedLocked(pgid)
	k.mu.Unlock()
	if t.tg.handlers.Action(sig).Handler == SigIgn || t.SignalMask()&sigBit(sig) != 0 {
		if sig == int(unix.SIGTTIN) {
			return unix.EIO
		}
		return nil
	}
	if orphaned {
		return unix.EIO
	}
	k.signalTTYGroup(pgid, sig)
	return ERESTARTSYS
}

// pgrpOrphanedLocked reports whether process group pgid is orphaned
// (POSIX; Linux's will_become_orphaned_pgrp): no live member has a parent
// in another process group of the same session, init not counting. k.mu
// is held.
func (k *Kernel) pgrpOrphanedLocked(pgid ThreadID) bool {
	for _, tg := range k.root.groups {
		if tg.pgid != pgid || tg.zombie || tg.exiting {
			continue
		}
		p := tg.parent
		if p != nil && p != k.init && p.pgid != pgid && p.sid == tg.sid {
			return false
		}
	}
	return true
}

// SignalTTYForeground sends sig to c's foreground process group (the
// terminal's signal characters, SIGWINCH), if there is one.
func (k *Kernel) SignalTTYForeground(c *TTYControl, sig int) {
	k.mu.Lock()
	fg := ThreadID(0)
	if k.ttyValidLocked(c) {
		fg = c.fg
	}
	k.mu.Unlock()
	if fg != 0 {
		k.signalTTYGroup(fg, sig)
	}
}

// HangupTTY is the hangup of c (its pty master was closed; Linux's
// __tty_hangup): the session loses its controlling terminal and its leader
// gets SIGHUP and SIGCONT.
func (k *Kernel) HangupTTY(c *TTYControl) {
	k.mu.Lock()
	var leader *ThreadGroup
	if k.ttyValidLocked(c) {
		leader = c.leader
	}
	k.ttyDetachLocked(c)
	k.mu.Unlock()
	if leader != nil {
		for _, sig := range []unix.Signal{unix.SIGHUP, unix.SIGCONT} {
			info := abi.SignalInfo{Signo: int32(sig), Code: abi.SI_KERNEL}
			k.SendSignalToGroup(leader, &info)
		}
	}
}

// ReleaseTTY forgets c when its terminal goes away.
func (k *Kernel) ReleaseTTY(c *TTYControl) {
	k.mu.Lock()
	k.ttyDetachLocked(c)
	k.mu.Unlock()
}

// signalTTYGroup sends sig, as the kernel (SI_KERNEL, Linux's kill_pgrp
// with priv set), to every live process of group pgid. k.mu is not held.
func (k *Kernel) signalTTYGroup(pgid ThreadID, sig int) {
	k.mu.Lock()
	var targets []*ThreadGroup
	for _, tg := range k.root.groups {
		if tg.pgid == pgid && !tg.zombie {
			targets = append(targets, tg)
		}
	}
	k.mu.Unlock()
	for _, tg := range targets {
		info := abi.SignalInfo{Signo: int32(sig), Code: abi.SI_KERNEL}
		k.SendSignalToGroup(tg, &info)
	}
}
