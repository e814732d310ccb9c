package devpts

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Terminal is one pseudo-terminal: a master and a replica around a line
// discipline.
type Terminal struct {
	fs    *Filesystem
	index uint32
	// ctl is the terminal's job-control state, kept by the kernel.
	ctl *kernel.TTYControl

	// masterQ and replicaQ hold the waiters of each end.
	masterQ, replicaQ vfs.WaitQueue

	// mu protects the fields below.
	mu sync.Mutex
	ld lineDiscipline
	ws unix.Winsize
	// locked is TIOCSPTLCK's lock: replica opens fail with EIO.
	locked bool
	// masterOpen is cleared when the master is released; visible (the
	// node /dev/pts/N exists) goes with it, and hungUp is set.
	masterOpen, visible, hungUp bool
	// replicaOpens counts the replica's open descriptions; otherClosed
	// is set when it drops to 0 (master reads then fail with EIO) and
	// cleared by the next open.
	replicaOpens int
	otherClosed  bool
	// exclusive is TIOCEXCL on the replica; masterExclusive on the
	// master (no other effect: the master cannot be reopened).
	exclusive, masterExclusive bool
	// Attributes of /dev/pts/N.
	mode                uint32
	uid                 auth.KUID
	gid                 auth.KGID
	atime, mtime, ctime unix.Timespec
}

func (t *Terminal) isVisible() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.visible
}

func (t *Terminal) stat() vfs.Stat {
	t.mu.Lock()
	defer t.mu.Unlock()
	return vfs.Stat{
		Mode: unix.S_IFCHR | t.mode, Nlink: 1, UID: t.uid, GID: t.gid, Blksize: 1024,
		Ino: uint64(t.index) + 3, Dev: t.fs.dev,
		Rdev:  unix.Mkdev(replicaMajorBase+t.index/256, t.index%256),
		Atime: t.atime, Mtime: t.mtime, Ctime: t.ctime,
	}
}

// notify wakes the waiters of both ends; called without t.mu after any
// change of the queues or of the terminal's state.
func (t *Terminal) notify() {
	const all = vfs.ReadableEvents | vfs.WritableEvents | vfs.EventHUp | vfs.EventErr
	t.masterQ.Notify(all)
	t.replicaQ.Notify(all)
}

// waitLocked blocks on q until it is notified (of mask, a hangup or an
// error), ctx is interrupted or the deadline (if not zero) passes. t.mu
// is held on entry and return.
func (t *Terminal) waitLocked(ctx vfs.Context, q *vfs.WaitQueue, mask uint32, deadline time.Time) error {
	return q.WaitLockedDeadline(ctx, mask|vfs.EventHUp|vfs.EventErr, &t.mu, deadline)
}

// task returns the calling task when there is a kernel to do job control.
func (t *Terminal) task(ctx vfs.Context) *kernel.Task {
	if t.fs.k == nil {
		return nil
	}
	k, _ := ctx.(*kernel.Task)
	return k
}

// openReplica opens a new replica description. lookup is false for
// /dev/tty, which reaches the terminal through the session.
func (t *Terminal) openReplica(ctx vfs.Context, flags uint32, lookup bool) (vfs.FileDescriptionImpl, error) {
	admin := ctx.Credentials().HasCapability(auth.CAP_SYS_ADMIN)
	t.mu.Lock()
	switch {
	case !t.masterOpen || t.locked:
		t.mu.Unlock()
		return nil, unix.EIO
	case t.exclusive && !admin:
		t.mu.Unlock()
		return nil, unix.EBUSY
	}
	t.replicaOpens++
	t.otherClosed = false
	t.mu.Unlock()
	t.notify()
	if task := t.task(ctx); task != nil && lookup && flags&unix.O_NOCTTY == 0 {
		task.AcquireTTYOnOpen(t.ctl)
	}
	return &replicaFile{file{t: t}}, nil
}

// OpenControlling implements kernel.TTY.OpenControlling for /dev/tty.
func (t *Terminal) OpenControlling(task *kernel.Task, flags uint32) (vfs.FileDescriptionImpl, error) {
	return t.openReplica(task, flags, false)
}

// signal sends sig to the foreground process group.
func (t *Terminal) signal(sig unix.Signal) {
	if t.fs.k != nil {
		t.fs.k.SignalTTYForeground(t.ctl, int(sig))
	}
}

// file is what the master and the replica files share.
type file struct {
	vfs.FileDescriptionDefaultImpl
	t  *Terminal
	fd *vfs.FileDescription
}

// IsStream implements vfs.StreamFile: terminals have no offset.
func (f *file) IsStream() {}

// AsyncFile implements vfs.AsyncFile: terminals send SIGIO.
func (*file) AsyncFile() {}

// AsyncReason implements vfs.AsyncReasoner. A terminal notifies every
// change at once (notify), so its signals say POLL_IN, which Linux's
// line discipline sends when input arrives; Linux says POLL_OUT when
// room to write comes back.
func (*file) AsyncReason(uint32) int32 { return vfs.PollIn }

// SetFD implements vfs.DescriptionAware.
func (f *file) SetFD(fd *vfs.FileDescription) { f.fd = fd }

func (f *file) nonblocking() bool {
	return f.fd != nil && f.fd.StatusFlags()&unix.O_NONBLOCK != 0
}

// masterFile is an open master (a /dev/ptmx description).
type masterFile struct {
	file
}

// replicaFile is an open replica (/dev/pts/N or /dev/tty).
type replicaFile struct {
	file
}

// Release implements vfs.FileDescriptionImpl.Release: the replica is
// hung up and its node removed; the session it controls loses it, and its
// leader gets SIGHUP.
func (m *masterFile) Release(vfs.Context) {
	t := m.t
	t.mu.Lock()
	t.masterOpen, t.visible, t.hungUp = false, false, true
	gone := t.replicaOpens == 0
	t.mu.Unlock()
	t.notify()
	if t.fs.k != nil {
		t.fs.k.HangupTTY(t.ctl)
	}
	if gone {
		t.fs.release(t)
	}
}

// Release implements vfs.FileDescriptionImpl.Release.
func (r *replicaFile) Release(vfs.Context) {
	t := r.t
	t.mu.Lock()
	t.replicaOpens--
	if t.replicaOpens == 0 {
		t.otherClosed = true
	}
	gone := t.replicaOpens == 0 && !t.masterOpen
	t.mu.Unlock()
	t.notify()
	if gone {
		t.fs.release(t)
	}
}

// Stat implements vfs.FileDescriptionImpl.Stat.
func (m *masterFile) Stat(ctx vfs.Context) (vfs.Stat, error) { return m.t.fs.ptmx.Stat(ctx) }

// Stat implements vfs.FileDescriptionImpl.Stat.
func (r *replicaFile) Stat(vfs.Context) (vfs.Stat, error) { return r.t.stat(), nil }

// PRead implements vfs.FileDescriptionImpl.PRead: the replica's output.
// It blocks until there is some; once the replica has been opened and
// closed again, it fails with EIO.
func (m *masterFile) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	t := m.t
	t.mu.Lock()
	for t.ld.out.len() == 0 {
		if t.otherClosed {
			t.mu.Unlock()
			return 0, unix.EIO
		}
		if m.nonblocking() {
			t.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if err := t.waitLocked(ctx, &t.masterQ, vfs.ReadableEvents, time.Time{}); err != nil {
			t.mu.Unlock()
			return 0, err
		}
	}
	n := t.ld.out.pop(dst)
	t.mu.Unlock()
	t.notify()
	return n, nil
}

// PWrite implements vfs.FileDescriptionImpl.PWrite: the replica's input,
// through the line discipline. Signal characters signal the foreground
// process group. It blocks while the input queue is full.
func (m *masterFile) PWrite(ctx vfs.Context, src []byte, _ int64, _ bool) (int, int64, error) {
	t := m.t
	done := 0
	var err error
	t.mu.Lock()
	for done < len(src) {
		r := t.ld.receive(src[done])
		if r == noRoom {
			t.mu.Unlock()
			t.notify()
			t.mu.Lock()
			if m.nonblocking() {
				err = unix.EAGAIN
				break
			}
			if err = t.waitLocked(ctx, &t.masterQ, vfs.WritableEvents, time.Time{}); err != nil {
				break
			}
			continue
		}
		done++
		if r != received {
			t.mu.Unlock()
			t.notify()
			switch r {
			case sigInt:
				t.signal(unix.SIGINT)
			case sigQuit:
				t.signal(unix.SIGQUIT)
			case sigTstp:
				t.signal(unix.SIGTSTP)
			}
			t.mu.Lock()
		}
	}
	t.mu.Unlock()
	t.notify()
	if done > 0 {
		return done, 0, nil
	}
	return 0, 0, err
}

// PRead implements vfs.FileDescriptionImpl.PRead: the line discipline's
// input, a line at a time in canonical mode, else as VMIN and VTIME say.
// A background process reading its controlling terminal gets SIGTTIN.
// After a hangup, reads return end of file (EIO for one that was waiting).
func (r *replicaFile) PRead(ctx vfs.Context, dst []byte, _ int64) (int, error) {
	t := r.t
	if task := t.task(ctx); task != nil {
		if err := task.CheckTTYAccess(t.ctl, int(unix.SIGTTIN)); err != nil {
			return 0, err
		}
	}
	if len(dst) == 0 {
		return 0, nil
	}
	t.mu.Lock()
	// Linux's n_tty_read: with VMIN > 0, wait for VMIN bytes, VTIME (if
	// set) being the longest gap between two; with VMIN == 0, wait up to
	// VTIME for one byte, or not at all.
	minimum, interByte, poll := 1, time.Duration(0), false
	var deadline time.Time
	if !t.ld.canonical() {
		vmin, vtime := int(t.ld.termios.Cc[unix.VMIN]), time.Duration(t.ld.termios.Cc[unix.VTIME])*100*time.Millisecond
		if vmin > 0 {
			minimum, interByte = vmin, vtime
		} else if vtime > 0 {
			deadline = time.Now().Add(vtime)
		} else {
			poll = true
		}
	}
	copied := 0
	waited := false
	var err error
	for {
		if t.hungUp {
			if waited && copied == 0 {
				err = unix.EIO
			}
			break
		}
		if t.ld.canonical() {
			if len(t.ld.lines) > 0 {
				copied = t.ld.readLine(dst)
				break
			}
		} else if t.ld.in.len() > 0 {
			copied += t.ld.in.pop(dst[copied:])
			if copied >= minimum || copied == len(dst) {
				break
			}
			if interByte > 0 {
				deadline = time.Now().Add(interByte)
			}
			continue
		}
		if poll && !t.ld.canonical() {
			break
		}
		if r.nonblocking() {
			if copied == 0 {
				err = unix.EAGAIN
			}
			break
		}
		waited = true
		if err = t.waitLocked(ctx, &t.replicaQ, vfs.ReadableEvents, deadline); err != nil {
			if err == unix.ETIMEDOUT {
				err = nil
			}
			break
		}
	}
	t.mu.Unlock()
	t.notify()
	if copied > 0 {
		return copied, nil
	}
	return 0, err
}

// PWrite implements vfs.FileDescriptionImpl.PWrite: output, through
// output processing, to the master. With TOSTOP a background process gets
// SIGTTOU. It blocks while output is stopped or the master has not read
// enough; after a hangup it fails with EIO.
func (r *replicaFile) PWrite(ctx vfs.Context, src []byte, _ int64, _ bool) (int, int64, error) {
	t := r.t
	t.mu.Lock()
	tostop := t.ld.lflag(unix.TOSTOP)
	t.mu.Unlock()
	if task := t.task(ctx); task != nil && tostop {
		if err := task.CheckTTYAccess(t.ctl, int(unix.SIGTTOU)); err != nil {
			return 0, 0, err
		}
	}
	done := 0
	var err error
	t.mu.Lock()
	for done < len(src) {
		if t.hungUp {
			err = unix.EIO
			break
		}
		if !t.ld.stopped && t.ld.outputChar(src[done]) {
			done++
			continue
		}
		t.mu.Unlock()
		t.notify()
		t.mu.Lock()
		if r.nonblocking() {
			err = unix.EAGAIN
			break
		}
		if err = t.waitLocked(ctx, &t.replicaQ, vfs.WritableEvents, time.Time{}); err != nil {
			break
		}
	}
	t.mu.Unlock()
	t.notify()
	if done > 0 {
		return done, 0, nil
	}
	return 0, 0, err
}

// Readiness implements vfs.Waitable: readable with replica output,
// writable while the input queue has room, hung up once the replica was
// opened and closed.
func (m *masterFile) Readiness(mask uint32) uint32 {
	t := m.t
	var ev uint32
	t.mu.Lock()
	if t.ld.out.len() > 0 {
		ev |= vfs.ReadableEvents
	}
	if t.otherClosed {
		ev |= vfs.EventHUp
	}
	if t.ld.in.len() < inCap {
		ev |= vfs.WritableEvents
	}
	t.mu.Unlock()
	return ev & (mask | vfs.AlwaysReported)
}

// EventRegister implements vfs.Waitable.
func (m *masterFile) EventRegister(e *vfs.WaitEntry) { m.t.masterQ.EventRegister(e) }

// EventUnregister implements vfs.Waitable.
func (m *masterFile) EventUnregister(e *vfs.WaitEntry) { m.t.masterQ.EventUnregister(e) }

// Readiness implements vfs.Waitable: readable when a read would return
// (a line, an end of file, VMIN bytes when VTIME is 0), writable while
// output has room; everything once hung up.
func (r *replicaFile) Readiness(mask uint32) uint32 {
	t := r.t
	var ev uint32
	t.mu.Lock()
	if t.hungUp {
		t.mu.Unlock()
		ev = vfs.ReadableEvents | vfs.WritableEvents | vfs.EventErr | vfs.EventHUp
		return ev & (mask | vfs.AlwaysReported)
	}
	n, eof := t.ld.readable()
	need := 1
	if vmin := int(t.ld.termios.Cc[unix.VMIN]); !t.ld.canonical() && vmin > 0 && t.ld.termios.Cc[unix.VTIME] == 0 {
		need = vmin
	}
	if n >= need || eof {
		ev |= vfs.ReadableEvents
	}
	if !t.ld.stopped && t.ld.outputRoom() >= 8 {
		ev |= vfs.WritableEvents
	}
	t.mu.Unlock()
	return ev & (mask | vfs.AlwaysReported)
}

// EventRegister implements vfs.Waitable.
func (r *replicaFile) EventRegister(e *vfs.WaitEntry) { r.t.replicaQ.EventRegister(e) }

// EventUnregister implements vfs.Waitable.
func (r *replicaFile) EventUnregister(e *vfs.WaitEntry) { r.t.replicaQ.EventUnregister(e) }
