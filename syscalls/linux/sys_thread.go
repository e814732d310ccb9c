package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

func registerThread(t *kernel.SyscallTable) {
	t.Register(unix.SYS_GETPID, getpid)
	t.Register(unix.SYS_GETTID, gettid)
	t.Register(unix.SYS_GETPPID, getppid)
	t.Register(unix.SYS_GETPGID, getpgid)
	t.Register(unix.SYS_GETPGRP, getpgrp)
	t.Register(unix.SYS_GETSID, getsid)
	t.Register(unix.SYS_SET_TID_ADDRESS, setTIDAddress)
	t.Register(unix.SYS_SET_ROBUST_LIST, setRobustList)
	t.Register(unix.SYS_GET_ROBUST_LIST, getRobustList)
	t.Register(unix.SYS_EXIT, exit)
	t.Register(unix.SYS_EXIT_GROUP, exitGroup)
	t.Register(unix.SYS_CLONE, clone)
	t.Register(unix.SYS_CLONE3, clone3)
	t.Register(unix.SYS_FORK, fork)
	t.Register(unix.SYS_VFORK, vfork)
	t.Register(unix.SYS_EXECVE, execve)
	t.Register(unix.SYS_EXECVEAT, execveat)
	t.Register(unix.SYS_FUTEX, futex)
	t.Register(unix.SYS_RSEQ, rseq)
}

func getpid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroup().PID()), nil
}

func gettid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadID()), nil
}

func getppid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.PPID()), nil
}

func getpgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pid := kernel.ThreadID(a[0].Int())
	if pid == 0 {
		return uintptr(t.ThreadGroup().PGID()), nil
	}
	tg := t.Kernel().FindThreadGroup(pid)
	if tg == nil {
		return 0, unix.ESRCH
	}
	return uintptr(tg.PGID()), nil
}

func getpgrp(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroup().PGID()), nil
}

func getsid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pid := kernel.ThreadID(a[0].Int())
	if pid == 0 {
		return uintptr(t.ThreadGroup().SID()), nil
	}
	tg := t.Kernel().FindThreadGroup(pid)
	if tg == nil {
		return 0, unix.ESRCH
	}
	return uintptr(tg.SID()), nil
}

func setTIDAddress(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	t.SetClearChildTID(a[0].Pointer())
	return uintptr(t.ThreadID()), nil
}

func exit(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.ExitThread(int(a[0].Int()))
}

func exitGroup(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.ExitGroup(int(a[0].Int()))
}

// clone(flags, stack, parent_tid, child_tid, tls) — the amd64 argument order.
func clone(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[0].Uint64()
	o := kernel.CloneOptions{
		Flags:      flags &^ 0xff,
		ExitSignal: int(flags & 0xff),
		Stack:      a[1].Pointer(),
		ParentTID:  a[2].Pointer(),
		ChildTID:   a[3].Pointer(),
		TLS:        a[4].Uint64(),
	}
	tid, err := t.Clone(o)
	return uintptr(tid), err
}

// cloneArgs is struct clone_args (clone3), at most the fields we know.
const cloneArgsSizeVer0 = 64

func clone3(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	size := a[1].Uint64()
	if size < cloneArgsSizeVer0 || size > 4096 {
		return 0, unix.EINVAL
	}
	buf := make([]byte, size)
	if _, err := t.CopyIn(a[0].Pointer(), buf); err != nil {
		return 0, err
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(buf[i*8:]) }
	// Unknown trailing fields must be zero (E2BIG otherwise).
	known := 88
	if int(size) > known {
		for _, c := range buf[known:] {
			if c != 0 {
				return 0, unix.E2BIG
			}
		}
	}
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls := u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7)
	if size >= 72 && u(8) != 0 { // set_tid
		return 0, unix.EPERM
	}
	if exitSignal&^0xff != 0 || flags&0xff != 0 {
		return 0, unix.EINVAL
	}
	if (stack == 0) != (stackSize == 0) {
		return 0, unix.EINVAL
	}
	o := kernel.CloneOptions{
		Flags: flags, ExitSignal: int(exitSignal), TLS: tls,
		ParentTID: parentTID, ChildTID: childTID, PIDFD: pidfd,
	}
	if stack != 0 {
		o.Stack = stack + stackSize
	}
	tid, err := t.Clone(o)
	return uintptr(tid), err
}

func fork(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{ExitSignal: int(unix.SIGCHLD)})
	return uintptr(tid), err
}

func vfork(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{Flags: unix.CLONE_VM | unix.CLONE_VFORK, ExitSignal: int(unix.SIGCHLD)})
	return uintptr(tid), err
}

// Limits of execve's arguments (Linux: MAX_ARG_STRLEN, and a total bounded
// by a quarter of the stack limit).
const (
	maxArgStrlen = 32 * 4096
	maxArgTotal  = 2 << 20
	maxArgs      = 0x7fffffff / 8
	pathMax      = 4096
)

// copyInStringVector reads a NULL-terminated array of string pointers.
func copyInStringVector(t *kernel.Task, addr uint64, total *int) ([]string, error) {
	if addr == 0 {
		return nil, nil
	}
	var out []string
	var b [8]byte
	for i := 0; ; i++ {
		if i >= maxArgs {
			return nil, unix.E2BIG
		}
		if _, err := t.CopyIn(addr+uint64(i)*8, b[:]); err != nil {
			return nil, err
		}
		p := binary.LittleEndian.Uint64(b[:])
		if p == 0 {
			return out, nil
		}
		s, err := t.CopyInString(p, maxArgStrlen)
		if err == unix.ENAMETOOLONG {
			return nil, unix.E2BIG
		}
		if err != nil {
			return nil, err
		}
		*total += len(s) + 1 + 8
		if *total > maxArgTotal {
			return nil, unix.E2BIG
		}
		out = append(out, s)
	}
}

func execve(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return doExecve(t, a[0].Pointer(), a[1].Pointer(), a[2].Pointer(), false)
}

func execveat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	dirfd, flags := a[0].Int(), a[4].Int()
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	path, err := t.CopyInString(a[1].Pointer(), pathMax)
	if err != nil {
		return 0, err
	}
	if dirfd != unix.AT_FDCWD && (len(path) == 0 || path[0] != '/') {
		// Relative to a directory descriptor: not supported until the
		// VFS exposes descriptor paths to the loader.
		return 0, unix.ENOSYS
	}
	return doExecve(t, a[1].Pointer(), a[2].Pointer(), a[3].Pointer(), false)
}

func doExecve(t *kernel.Task, pathAddr, argvAddr, envvAddr uint64, _ bool) (uintptr, error) {
	path, err := t.CopyInString(pathAddr, pathMax)
	if err != nil {
		return 0, err
	}
	if path == "" {
		return 0, unix.ENOENT
	}
	total := 0
	argv, err := copyInStringVector(t, argvAddr, &total)
	if err != nil {
		return 0, err
	}
	envv, err := copyInStringVector(t, envvAddr, &total)
	if err != nil {
		return 0, err
	}
	if err := t.Execve(path, argv, envv); err != nil {
		return 0, err
	}
	return 0, nil
}

func rseq(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	// Restartable sequences need preemption notification from the
	// platform; glibc falls back cleanly on ENOSYS.
	return 0, unix.ENOSYS
}
