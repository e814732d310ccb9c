package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/pipe"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

func registerPipe(t *kernel.SyscallTable) {
	t.Register(unix.SYS_PIPE, pipeSyscall)
	t.Register(unix.SYS_PIPE2, pipe2)
}

func pipeSyscall(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, doPipe(t, a[0].Pointer(), 0)
}

func pipe2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, doPipe(t, a[0].Pointer(), a[1].Uint())
}

func doPipe(t *kernel.Task, addr uint64, flags uint32) error {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT) != 0 {
		return unix.EINVAL
	}
	r, w := pipe.New(0, flags)
	defer r.DecRef(t)
	defer w.DecRef(t)
	fds, err := t.FDTable().InstallMany([]*vfs.FileDescription{r, w}, vfs.FDFlags{CloseOnExec: flags&unix.O_CLOEXEC != 0}, 0)
	if err != nil {
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(fds[0]))
	binary.LittleEndian.PutUint32(b[4:], uint32(fds[1]))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		for _, fd := range fds {
			if f := t.FDTable().Remove(fd); f != nil {
				f.DecRef(t)
			}
		}
		return err
	}
	return nil
}

// pipeFcntl implements fcntl F_GETPIPE_SZ and F_SETPIPE_SZ (EBADF for a
// file that is not a pipe, as Linux).
func pipeFcntl(t *kernel.Task, f *vfs.FileDescription, cmd int32, arg uint32) (uintptr, error) {
	if cmd == unix.F_GETPIPE_SZ {
		n, ok := pipe.Size(f.Impl())
		if !ok {
			return 0, unix.EBADF
		}
		return uintptr(n), nil
	}
	n, err := pipe.SetSize(t, f.Impl(), arg)
	return uintptr(n), err
}
