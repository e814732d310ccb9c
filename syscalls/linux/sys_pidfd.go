package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerPidfd installs pidfd_open, pidfd_send_signal and pidfd_getfd
// (waitid's P_PIDFD is in sys_wait.go, CLONE_PIDFD in the kernel's Clone).
func registerPidfd(t *kernel.SyscallTable) {
	t.Register(unix.SYS_PIDFD_OPEN, pidfdOpen)
	t.Register(unix.SYS_PIDFD_SEND_SIGNAL, pidfdSendSignal)
	t.Register(unix.SYS_PIDFD_GETFD, pidfdGetfd)
}

// pidfdOpen implements pidfd_open(2): the descriptor is always
// close-on-exec.
func pidfdOpen(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, err := t.PidfdOpen(kernel.ThreadID(a[0].Int()), a[1].Uint())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: true}, 0)
	return uintptr(fd), err
}

// getPidfd returns the pidfd behind fd with a reference on its file
// (EBADF if fd is not open or not a pidfd).
func getPidfd(t *kernel.Task, fd int32) (*kernel.PidFD, *vfs.FileDescription, error) {
	f, _, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	p := kernel.PidfdOf(f)
	if p == nil {
		f.DecRef(t)
		return nil, nil, unix.EBADF
	}
	return p, f, nil
}

// pidfdSendSignal implements pidfd_send_signal(2). A siginfo, if given,
// is checked by the kernel (si_signo must be sig; only negative si_codes
// other than SI_TKILL for another process).
func pidfdSendSignal(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	sig, infoAddr, flags := int(a[1].Int()), a[2].Pointer(), a[3].Uint()
	if !kernel.PidfdSignalFlagsValid(flags) {
		return 0, unix.EINVAL
	}
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	// An open /proc/[pid] directory stands for its process too.
	p := kernel.PidfdOf(f)
	if p == nil {
		tg := proc.ProcessOfDir(f)
		if tg == nil {
			return 0, unix.EBADF
		}
		p = t.Kernel().ProcessPidFD(tg)
	}
	var info *abi.SignalInfo
	if infoAddr != 0 {
		var b [abi.SizeofSignalInfo]byte
		if _, err := t.CopyIn(infoAddr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		info = new(abi.SignalInfo)
		info.FromBytes(&b)
	}
	return 0, p.SendSignal(t, sig, info, flags)
}

// pidfdGetfd implements pidfd_getfd(2): a duplicate, close-on-exec, of
// descriptor targetfd of the pidfd's process.
func pidfdGetfd(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[2].Uint() != 0 {
		return 0, unix.EINVAL
	}
	p, f, err := getPidfd(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	target, err := p.GetFD(t, a[1].Int())
	if err != nil {
		return 0, err
	}
	defer target.DecRef(t)
	fd, err := t.FDTable().Install(target, vfs.FDFlags{CloseOnExec: true}, 0)
	return uintptr(fd), err
}
