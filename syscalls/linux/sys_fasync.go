package linux

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// Signal-driven I/O: the file owner (F_SETOWN, F_SETOWN_EX and the
// sockets' FIOSETOWN/SIOCSPGRP), F_SETSIG, and O_ASYNC (F_SETFL, FIOASYNC).
// The state is the kernel's FileAsync, one per open file description.

// The sockets' owner ioctls (sock_ioctl).
const (
	fiosetown = 0x8901
	siocspgrp = 0x8902
	fiogetown = 0x8903
	siocgpgrp = 0x8904
)

// asyncWaitable returns the queue that O_ASYNC listens to on f, nil for a
// file that sends no signals (Linux's files without f_op->fasync).
func asyncWaitable(f *vfs.FileDescription) vfs.Waitable {
	switch w := f.Impl().(type) {
	case vfs.AsyncFile:
		return w
	case socket.Socket:
		return w
	}
	return nil
}

// setAsync turns O_ASYNC on or off for f, reached through fd (F_SETFL
// and FIOASYNC). A file that cannot send signals keeps its flag, as on
// Linux, where only a file's fasync method changes it; setAsync reports
// whether the flag is as asked.
func setAsync(t *kernel.Task, f *vfs.FileDescription, fd int32, on bool) bool {
	if (f.StatusFlags()&unix.O_ASYNC != 0) == on {
		return true
	}
	w := asyncWaitable(f)
	if w == nil {
		return false
	}
	t.Kernel().FileAsyncOf(f).SetAsync(f, w, fd, on)
	f.SetAsyncFlag(on)
	return true
}

// fcntlAsync implements F_SETOWN, F_GETOWN, F_SETOWN_EX, F_GETOWN_EX,
// F_SETSIG and F_GETSIG.
func fcntlAsync(t *kernel.Task, f *vfs.FileDescription, cmd int32, arg uint64) (uintptr, error) {
	a := t.Kernel().FileAsyncOf(f)
	switch cmd {
	case unix.F_SETOWN:
		return 0, setOwner(t, a, int32(arg))
	case unix.F_GETOWN:
		return uintptr(getOwner(t, a)), nil
	case unix.F_SETOWN_EX:
		var b [8]byte
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		typ, id := int32(binary.LittleEndian.Uint32(b[0:])), int32(binary.LittleEndian.Uint32(b[4:]))
		if id < 0 {
			// find_vpid finds no negative pid.
			if typ < kernel.OwnerTID || typ > kernel.OwnerPGRP {
				return 0, unix.EINVAL
			}
			return 0, unix.ESRCH
		}
		return 0, a.SetOwner(t, int(typ), kernel.ThreadID(id))
	case unix.F_GETOWN_EX:
		typ, id := a.Owner(t.PIDNamespace())
		var b [8]byte
		binary.LittleEndian.PutUint32(b[0:], uint32(typ))
		binary.LittleEndian.PutUint32(b[4:], uint32(id))
		_, err := t.CopyOut(arg, b[:])
		return 0, err
	case unix.F_SETSIG:
		// The argument is an int; a negative one is no signal.
		sig := int32(arg)
		if sig < 0 {
			return 0, unix.EINVAL
		}
		return 0, a.SetSignal(int(sig))
	case unix.F_GETSIG:
		return uintptr(a.Signal()), nil
	}
	return 0, unix.EINVAL
}

// setOwner is F_SETOWN's reading of its argument: a process, or with a
// minus sign a process group.
func setOwner(t *kernel.Task, a *kernel.FileAsync, who int32) error {
	if who >= 0 {
		return a.SetOwner(t, kernel.OwnerPID, kernel.ThreadID(who))
	}
	if who == math.MinInt32 {
		return unix.EINVAL
	}
	return a.SetOwner(t, kernel.OwnerPGRP, kernel.ThreadID(-who))
}

// getOwner is F_GETOWN: a process group's id comes back negative.
func getOwner(t *kernel.Task, a *kernel.FileAsync) int32 {
	typ, id := a.Owner(t.PIDNamespace())
	if typ == kernel.OwnerPGRP {
		return -int32(id)
	}
	return int32(id)
}

// socketOwnerIoctl implements FIOSETOWN/SIOCSPGRP and FIOGETOWN/SIOCGPGRP
// on a socket: F_SETOWN and F_GETOWN through an int in memory.
func socketOwnerIoctl(t *kernel.Task, f *vfs.FileDescription, cmd uint32, arg uint64) (uintptr, error) {
	a := t.Kernel().FileAsyncOf(f)
	var b [4]byte
	if cmd == fiosetown || cmd == siocspgrp {
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		return 0, setOwner(t, a, int32(binary.LittleEndian.Uint32(b[:])))
	}
	binary.LittleEndian.PutUint32(b[:], uint32(getOwner(t, a)))
	_, err := t.CopyOut(arg, b[:])
	return 0, err
}
