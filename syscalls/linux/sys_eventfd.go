package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/eventfd"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerEventfd installs eventfd and eventfd2.
func registerEventfd(t *kernel.SyscallTable) {
	t.Register(unix.SYS_EVENTFD, Eventfd)
	t.Register(unix.SYS_EVENTFD2, Eventfd2)
}

// Eventfd implements eventfd(2) (no flags).
func Eventfd(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return doEventfd(t, a[0].Uint(), 0)
}

// Eventfd2 implements eventfd2: EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC.
func Eventfd2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return doEventfd(t, a[0].Uint(), a[1].Uint())
}

func doEventfd(t *kernel.Task, initval, flags uint32) (uintptr, error) {
	if flags&^(eventfd.Semaphore|eventfd.Cloexec|eventfd.Nonblock) != 0 {
		return 0, unix.EINVAL
	}
	f := eventfd.New(uint64(initval), flags)
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: flags&eventfd.Cloexec != 0}, 0)
	return uintptr(fd), err
}
