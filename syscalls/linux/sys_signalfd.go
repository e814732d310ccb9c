package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/signalfd"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerSignalfd installs signalfd and signalfd4.
func registerSignalfd(t *kernel.SyscallTable) {
	t.Register(unix.SYS_SIGNALFD, Signalfd)
	t.Register(unix.SYS_SIGNALFD4, Signalfd4)
}

// Signalfd implements signalfd(2) (no flags).
func Signalfd(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return doSignalfd(t, a[0].Int(), a[1].Pointer(), a[2].Uint64(), 0)
}

// Signalfd4 implements signalfd4: SFD_CLOEXEC and SFD_NONBLOCK.
func Signalfd4(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return doSignalfd(t, a[0].Int(), a[1].Pointer(), a[2].Uint64(), a[3].Uint())
}

func doSignalfd(t *kernel.Task, fd int32, maskAddr, size uint64, flags uint32) (uintptr, error) {
	if flags&^(unix.SFD_CLOEXEC|unix.SFD_NONBLOCK) != 0 || size != 8 {
		return 0, unix.EINVAL
	}
	var b [8]byte
	if _, err := t.CopyIn(maskAddr, b[:]); err != nil {
		return 0, err
	}
	mask := binary.LittleEndian.Uint64(b[:])
	if fd != -1 {
		f, _, err := getFile(t, fd)
		if err != nil {
			return 0, err
		}
		defer f.DecRef(t)
		sf, ok := f.Impl().(*signalfd.File)
		if !ok {
			return 0, unix.EINVAL
		}
		sf.SetMask(mask)
		return uintptr(fd), nil
	}
	f := signalfd.New(t, mask, flags&unix.SFD_NONBLOCK)
	defer f.DecRef(t)
	nfd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: flags&unix.SFD_CLOEXEC != 0}, 0)
	return uintptr(nfd), err
}
