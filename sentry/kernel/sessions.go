package kernel

import "golang.org/x/sys/unix"

// Process groups and sessions (setpgid, setsid, getpgid, getsid). The ids live in ThreadGroup.pgid and
// ThreadGroup.sid under Kernel.mu; a process group or session exists while
// any process (zombies included, as on Linux until they are reaped) carries
// its id.

// ProcessGroupOf returns the process group id of process pid (0: the
// caller's), ESRCH if there is none (getpgid). Both ids are in the
// caller's PID namespace; a group whose id is not visible there is 0.
func (t *Task) ProcessGroupOf(pid ThreadID) (ThreadID, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	if pid != 0 {
		if tg = t.ns.lookupGroupLocked(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	return t.ns.IDOfThreadGroup(tg.pgrp), nil
}

// SessionOf returns the session id of process pid (0: the caller's),
// ESRCH if there is none (getsid).
func (t *Task) SessionOf(pid ThreadID) (ThreadID, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	if pid != 0 {
		if tg = t.ns.lookupGroupLocked(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	return t.ns.IDOfThreadGroup(tg.sess), nil
}

// SetProcessGroup implements setpgid(pid, pgid) with Linux's rules
// (kernel/sys.c): pid 0 is the caller and pgid 0 means pgid = pid; the
// target is the caller or one of its children (ESRCH otherwise), a child
// must be in the caller's session (EPERM) and must not have exec'd
// (EACCES); a session leader cannot move (EPERM); and a group other than
// the target's own pid must already exist in the caller's session (EPERM).
// pid and pgid are in the caller's PID namespace.
func (t *Task) SetProcessGroup(pid, pgid ThreadID) error {
	if pgid < 0 {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	me := t.tg
	ns := t.ns
	if pid == 0 {
		pid = ns.IDOfThreadGroup(me)
	}
	if pgid == 0 {
		pgid = pid
	}
	var p *ThreadGroup
	if o := ns.tasks[pid]; o != nil {
		if o.tg.ids[ns.level] != pid {
			// A thread that is not its group's leader.
			return unix.EINVAL
		}
		p = o.tg
	} else if p = ns.groups[pid]; p == nil {
		return unix.ESRCH
	}
	// From here on, root-namespace ids. A pgid that names no process
	// of the namespace can only be a group that does not exist.
	rootPGID := ns.pgrpRootIDLocked(pgid)
	if pgid == pid {
		rootPGID = p.pid
	} else if rootPGID == 0 {
		return unix.EPERM
	}
	pid, pgid = p.pid, rootPGID
	if p.parent == me {
		if p.sid != me.sid {
			return unix.EPERM
		}
		if p.execed {
			return unix.EACCES
		}
	} else if p != me {
		return unix.ESRCH
	}
	if p.sid == p.pid {
		return unix.EPERM
	}
	pgrp := p
	if pgid != pid {
		if pgrp = k.groupInSessionLocked(pgid, me.sid); pgrp == nil {
			return unix.EPERM
		}
	}
	p.pgid, p.pgrp = pgid, pgrp
	return nil
}

// groupInSessionLocked returns the leader (pgrp) of process group pgid if
// the group exists with a member in session sid, else nil. k.mu must be
// held.
func (k *Kernel) groupInSessionLocked(pgid, sid ThreadID) *ThreadGroup {
	for _, tg := range k.root.groups {
		if tg.pgid == pgid {
			// Every member of a group is in the same session.
			if tg.sid != sid {
				return nil
			}
			return tg.pgrp
		}
	}
	return nil
}

// NewSession implements setsid: the caller becomes the leader of a new
// session and of a new process group, both with its pid, and loses its
// controlling terminal. It fails with EPERM when the caller already leads a
// process group, or when any process group has the caller's pid as its id.
func (t *Task) NewSession() (ThreadID, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	me := t.tg
	if me.sid == me.pid {
		return 0, unix.EPERM
	}
	for _, tg := range k.root.groups {
		if tg.pgid == me.pid {
			return 0, unix.EPERM
		}
	}
	me.sid, me.pgid = me.pid, me.pid
	me.sess, me.pgrp = me, me
	return t.ns.IDOfThreadGroup(me), nil
}
