package devpts

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Terminal ioctls. Through the master, the termios, window size and job
// control requests act on the replica (Linux's tty_pair_get_tty), as
// terminal emulators expect.

// nTTY is N_TTY, the only line discipline.
const nTTY = 0

// Ioctl implements vfs.FileDescriptionImpl.Ioctl.
func (m *masterFile) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	t := m.t
	switch cmd {
	case unix.TIOCGPTN:
		return 0, putInt(ctx, arg, int32(t.index))
	case unix.TIOCSPTLCK:
		v, err := getInt(ctx, arg)
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		t.locked = v != 0
		t.mu.Unlock()
		return 0, nil
	case unix.TIOCGPTLCK:
		t.mu.Lock()
		l := t.locked
		t.mu.Unlock()
		return 0, putInt(ctx, arg, boolInt(l))
	case unix.TIOCGPTPEER:
		return t.openPeer(ctx, uint32(arg))
	}
	return t.ioctl(ctx, &m.file, true, cmd, arg)
}

// Ioctl implements vfs.FileDescriptionImpl.Ioctl. After a hangup, every
// request fails with EIO (TIOCSPGRP with ENOTTY), as Linux's
// hung_up_tty_ioctl.
func (r *replicaFile) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	t := r.t
	t.mu.Lock()
	hungUp := t.hungUp
	t.mu.Unlock()
	if hungUp {
		if cmd == unix.TIOCSPGRP {
			return 0, unix.ENOTTY
		}
		return 0, unix.EIO
	}
	return t.ioctl(ctx, &r.file, false, cmd, arg)
}

// openPeer implements TIOCGPTPEER: it opens the replica (with the open(2)
// flags in flags) and returns a new descriptor for it.
func (t *Terminal) openPeer(ctx vfs.Context, flags uint32) (uintptr, error) {
	task, ok := ctx.(*kernel.Task)
	if !ok {
		return 0, unix.ENOTTY
	}
	impl, err := t.openReplica(ctx, flags|unix.O_NOCTTY, false)
	if err != nil {
		return 0, err
	}
	rf := impl.(*replicaFile)
	fd := vfs.NewFileDescription(rf, vfs.VirtualDentry{}, flags&(unix.O_ACCMODE|unix.O_NONBLOCK), vfs.FileDescriptionOptions{})
	rf.fd = fd
	n, err := task.FDTable().Install(fd, vfs.FDFlags{CloseOnExec: flags&unix.O_CLOEXEC != 0}, 0)
	fd.DecRef(ctx)
	return uintptr(n), err
}

// ioctl implements the requests both ends accept.
func (t *Terminal) ioctl(ctx vfs.Context, f *file, viaMaster bool, cmd uint32, arg uint64) (uintptr, error) {
	task := t.task(ctx)
	// checkChange is Linux's tty_check_change: a background process
	// changing its terminal gets SIGTTOU.
	checkChange := func() error {
		if task == nil {
			return nil
		}
		return task.CheckTTYAccess(t.ctl, int(unix.SIGTTOU))
	}
	switch cmd {
	case unix.TCGETS, unix.TCGETS2:
		t.mu.Lock()
		tm := t.ld.termios
		t.mu.Unlock()
		if cmd == unix.TCGETS {
			var b [abi.SizeofTermios]byte
			abi.MarshalTermios(b[:], &tm)
			_, err := ctx.CopyOut(arg, b[:])
			return 0, err
		}
		var b [abi.SizeofTermios2]byte
		abi.MarshalTermios2(b[:], &tm)
		_, err := ctx.CopyOut(arg, b[:])
		return 0, err

	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF, unix.TCSETS2, unix.TCSETSW2, unix.TCSETSF2:
		if err := checkChange(); err != nil {
			return 0, err
		}
		t.mu.Lock()
		tm := t.ld.termios
		t.mu.Unlock()
		var err error
		if cmd == unix.TCSETS || cmd == unix.TCSETSW || cmd == unix.TCSETSF {
			var b [abi.SizeofTermios]byte
			if _, err = ctx.CopyIn(arg, b[:]); err == nil {
				abi.UnmarshalTermios(b[:], &tm)
			}
		} else {
			var b [abi.SizeofTermios2]byte
			if _, err = ctx.CopyIn(arg, b[:]); err == nil {
				abi.UnmarshalTermios2(b[:], &tm)
			}
		}
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		// A pty has no output in flight, so TCSETSW has nothing to
		// wait for.
		if cmd == unix.TCSETSF || cmd == unix.TCSETSF2 {
			t.ld.flushInput()
		}
		t.ld.setTermios(&tm)
		t.mu.Unlock()
		t.notify()
		return 0, nil

	case unix.TIOCGWINSZ:
		t.mu.Lock()
		ws := t.ws
		t.mu.Unlock()
		var b [abi.SizeofWinsize]byte
		abi.MarshalWinsize(b[:], &ws)
		_, err := ctx.CopyOut(arg, b[:])
		return 0, err

	case unix.TIOCSWINSZ:
		var b [abi.SizeofWinsize]byte
		if _, err := ctx.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		var ws unix.Winsize
		abi.UnmarshalWinsize(b[:], &ws)
		t.mu.Lock()
		changed := ws != t.ws
		t.ws = ws
		t.mu.Unlock()
		if changed {
			t.signal(unix.SIGWINCH)
		}
		return 0, nil

	case unix.TIOCINQ: // FIONREAD
		t.mu.Lock()
		var n int
		if viaMaster {
			n = t.ld.out.len()
		} else {
			n, _ = t.ld.readable()
		}
		t.mu.Unlock()
		return 0, putInt(ctx, arg, int32(n))

	case unix.TIOCOUTQ:
		// Output leaves a pty at once: nothing is ever queued in a
		// driver.
		return 0, putInt(ctx, arg, 0)

	case unix.TCFLSH:
		if err := checkChange(); err != nil {
			return 0, err
		}
		if arg > unix.TCIOFLUSH {
			return 0, unix.EINVAL
		}
		// Each end flushes what it has to read. The output side is a
		// driver buffer that a pty never fills (bytes move to the
		// other end at once), so TCOFLUSH has nothing to discard.
		t.mu.Lock()
		if arg != unix.TCOFLUSH {
			if viaMaster {
				t.ld.flushOutput()
			} else {
				t.ld.flushInput()
			}
		}
		t.mu.Unlock()
		t.notify()
		return 0, nil

	case unix.TCXONC:
		if err := checkChange(); err != nil {
			return 0, err
		}
		t.mu.Lock()
		switch arg {
		case unix.TCOOFF:
			t.ld.stopped = true
		case unix.TCOON:
			t.ld.stopped = false
		case unix.TCIOFF, unix.TCION:
			i := unix.VSTOP
			if arg == unix.TCION {
				i = unix.VSTART
			}
			if c := t.ld.termios.Cc[i]; c != 0 {
				if viaMaster {
					t.ld.receive(c)
				} else if t.ld.outputRoom() > 0 {
					t.ld.out.push(c)
				}
			}
		default:
			t.mu.Unlock()
			return 0, unix.EINVAL
		}
		t.mu.Unlock()
		t.notify()
		return 0, nil

	case unix.TCSBRK, unix.TCSBRKP:
		// tcdrain and tcsendbreak: a pty has nothing to drain and no
		// line to break.
		return 0, checkChange()

	case unix.TIOCEXCL, unix.TIOCNXCL:
		t.mu.Lock()
		if viaMaster {
			t.masterExclusive = cmd == unix.TIOCEXCL
		} else {
			t.exclusive = cmd == unix.TIOCEXCL
		}
		t.mu.Unlock()
		return 0, nil

	case unix.TIOCGEXCL:
		t.mu.Lock()
		v := t.exclusive
		if viaMaster {
			v = t.masterExclusive
		}
		t.mu.Unlock()
		return 0, putInt(ctx, arg, boolInt(v))

	case unix.TIOCGETD:
		return 0, putInt(ctx, arg, nTTY)

	case unix.TIOCSETD:
		v, err := getInt(ctx, arg)
		if err != nil {
			return 0, err
		}
		if v != nTTY {
			return 0, unix.EINVAL
		}
		return 0, nil
	}

	// Job control.
	if task == nil {
		return 0, unix.ENOTTY
	}
	switch cmd {
	case unix.TIOCSCTTY:
		return 0, task.SetControllingTTY(t.ctl, arg == 1, f.fd == nil || f.fd.IsReadable())

	case unix.TIOCNOTTY:
		if viaMaster {
			return 0, unix.ENOTTY
		}
		return 0, task.ReleaseControllingTTY(t.ctl)

	case unix.TIOCGPGRP:
		pg, err := task.ForegroundProcessGroup(t.ctl, viaMaster)
		if err != nil {
			return 0, err
		}
		return 0, putInt(ctx, arg, int32(pg))

	case unix.TIOCSPGRP:
		v, err := getInt(ctx, arg)
		if err != nil {
			return 0, err
		}
		return 0, task.SetForegroundProcessGroup(t.ctl, kernel.ThreadID(v))

	case unix.TIOCGSID:
		sid, err := task.TTYSession(t.ctl, viaMaster)
		if err != nil {
			return 0, err
		}
		return 0, putInt(ctx, arg, int32(sid))
	}
	return 0, unix.ENOTTY
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// putInt copies an int out to the application.
func putInt(ctx vfs.Context, addr uint64, v int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	_, err := ctx.CopyOut(addr, b[:])
	return err
}

// getInt copies an int in from the application.
func getInt(ctx vfs.Context, addr uint64) (int32, error) {
	var b [4]byte
	if _, err := ctx.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}
