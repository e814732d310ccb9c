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
	t.Register(unix.SYS_UNSHARE, unshare)
	t.Register(unix.SYS_SETNS, setns)
	registerSession(t)
}

func getpid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Getpid()), nil
}

func gettid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Gettid()), nil
}

func getppid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.PPID()), nil
}

func setTIDAddress(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	t.SetClearChildTID(a[0].Pointer())
	return uintptr(t.Gettid()), nil
}

// unshare(flags): only CLONE_NEWPID of the namespaces (kernel.Unshare).
func unshare(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.Unshare(a[0].Uint64())
}

// setns(fd, nstype): there are no namespace files to join (/proc/[pid]/ns
// links cannot be opened), so any open descriptor is EINVAL, as Linux
// answers for a descriptor that is not a namespace.
func setns(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _ := t.FDTable().Get(a[0].Int())
	if f == nil {
		return 0, unix.EBADF
	}
	f.DecRef(t)
	return 0, unix.EINVAL
}

func exit(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.ExitThread(int(a[0].Int()))
}

func exitGroup(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.ExitGroup(int(a[0].Int()))
}

// clone(flags, stack, parent_tid, child_tid, tls) — the amd64 argument
// order. Only the low 32 bits of flags count, the low byte being the exit
// signal; with CLONE_PIDFD, parent_tid is where the pidfd goes.
func clone(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[0].Uint64() & 0xffffffff
	o := kernel.CloneOptions{
		Flags:      flags &^ 0xff,
		ExitSignal: int(flags & 0xff),
		Stack:      a[1].Pointer(),
		ParentTID:  a[2].Pointer(),
		ChildTID:   a[3].Pointer(),
		TLS:        a[4].Uint64(),
		PIDFD:      a[2].Pointer(),
	}
	if o.Flags&unix.CLONE_PIDFD != 0 && o.Flags&unix.CLONE_PARENT_SETTID != 0 {
		// Both would be written to the same word.
		return 0, unix.EINVAL
	}
	tid, err := t.Clone(o)
	return uintptr(tid), err
}

// struct clone_args sizes: VER0 has flags..tls, VER1 adds set_tid and
// set_tid_size, VER2 adds cgroup.
const (
	cloneArgsSizeVer0 = 64
	cloneArgsSizeVer2 = 88
	// maxPIDNSLevel is MAX_PID_NS_LEVEL, the longest set_tid array.
	maxPIDNSLevel = 32
	pageSize      = 4096
)

// clone3(struct clone_args *args, size_t size), validated like Linux's
// copy_clone_args_from_user and clone3_args_valid. Any size from VER0 to a
// page is accepted; bytes past the fields known here must be zero (E2BIG).
// The cgroup of CLONE_INTO_CGROUP is checked and otherwise ignored: the
// sandbox has no cgroup tree of its own.
func clone3(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	size := a[1].Uint64()
	if size > pageSize {
		return 0, unix.E2BIG
	}
	if size < cloneArgsSizeVer0 {
		return 0, unix.EINVAL
	}
	var buf [cloneArgsSizeVer2]byte
	n := size
	if n > cloneArgsSizeVer2 {
		n = cloneArgsSizeVer2
	}
	if _, err := t.CopyIn(a[0].Pointer(), buf[:n]); err != nil {
		return 0, err
	}
	if size > cloneArgsSizeVer2 {
		tail := t.Scratch(int(size - cloneArgsSizeVer2))
		if _, err := t.CopyIn(a[0].Pointer()+cloneArgsSizeVer2, tail); err != nil {
			return 0, err
		}
		for _, c := range tail {
			if c != 0 {
				return 0, unix.E2BIG
			}
		}
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(buf[i*8:]) }
	flags, pidfd, childTID, parentTID, exitSignal := u(0), u(1), u(2), u(3), u(4)
	stack, stackSize, tls, setTID, setTIDSize, cgroup := u(5), u(6), u(7), u(8), u(9), u(10)
	switch {
	case setTIDSize > maxPIDNSLevel,
		setTID == 0 && setTIDSize > 0,
		setTID != 0 && setTIDSize == 0,
		exitSignal > kernel.NumSignals,
		flags&unix.CLONE_INTO_CGROUP != 0 && (cgroup > 0x7fffffff || size < cloneArgsSizeVer2):
		return 0, unix.EINVAL
	}
	var tids []kernel.ThreadID
	if setTIDSize > 0 {
		b := make([]byte, 4*setTIDSize)
		if _, err := t.CopyIn(setTID, b); err != nil {
			return 0, err
		}
		tids = make([]kernel.ThreadID, setTIDSize)
		for i := range tids {
			tids[i] = kernel.ThreadID(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	const known = 0xffffffff | unix.CLONE_CLEAR_SIGHAND | unix.CLONE_INTO_CGROUP
	switch {
	case flags&^known != 0,
		// The low byte is the exit signal in clone(2), never a flag here
		// (except CLONE_NEWTIME, which reuses a bit of it).
		flags&(unix.CLONE_DETACHED|(0xff&^unix.CLONE_NEWTIME)) != 0,
		flags&(unix.CLONE_THREAD|unix.CLONE_PARENT) != 0 && exitSignal != 0,
		(stack == 0) != (stackSize == 0),
		stack+stackSize < stack:
		return 0, unix.EINVAL
	}
	o := kernel.CloneOptions{
		Flags: flags, ExitSignal: int(exitSignal), TLS: tls,
		ParentTID: parentTID, ChildTID: childTID, PIDFD: pidfd, SetTID: tids,
	}
	if stack != 0 {
		// clone3 takes the lowest address and the size of the stack.
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

// execveat(dirfd, path, argv, envp, flags): a relative path starts at
// dirfd; AT_EMPTY_PATH with an empty path runs dirfd itself (fexecve);
// AT_SYMLINK_NOFOLLOW refuses a final symlink with ELOOP.
//
// The loader resolves names from the task's root, so a name relative to a
// descriptor is handed to it as the descriptor's absolute path joined with
// the name (and the descriptor's own path for AT_EMPTY_PATH). comm is the
// file's base name either way, as on Linux 6.14 and later.
func execveat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	dirfd, flags := a[0].Int(), a[4].Int()
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	path, err := t.CopyInString(a[1].Pointer(), pathMax)
	if err != nil {
		return 0, err
	}
	name, err := execveatName(t, dirfd, path, flags)
	if err != nil {
		return 0, err
	}
	return execveNamed(t, name, a[2].Pointer(), a[3].Pointer())
}

// execveatName turns execveat's (dirfd, path, flags) into a name the
// loader resolves from the task's root and cwd.
func execveatName(t *kernel.Task, dirfd int32, path string, flags int32) (string, error) {
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, dirfd, path, true, flags&unix.AT_EMPTY_PATH != 0, &p); err != nil {
		return "", err
	}
	if flags&unix.AT_SYMLINK_NOFOLLOW != 0 && !p.emptyOnFD {
		p.pop.Follow = false
		vd, err := t.Kernel().VFS.GetDentryAt(t, &p.pop)
		if err != nil {
			return "", err
		}
		link := vd.Dentry().IsSymlink()
		vd.DecRef()
		if link {
			return "", unix.ELOOP
		}
		p.pop.Follow = true
	}
	if p.dirfdIsFDC && !p.emptyOnFD || len(path) > 0 && path[0] == '/' {
		return path, nil
	}
	if p.emptyOnFD && p.file == nil {
		// AT_FDCWD with an empty path: the working directory, which is
		// not a regular file.
		return "", unix.EACCES
	}
	vd := p.pop.Start
	if !vd.Ok() {
		return "", unix.EACCES
	}
	dir := t.Kernel().VFS.PathnameWithin(p.root, vd)
	if p.emptyOnFD {
		if !vd.Dentry().IsRegular() {
			return "", unix.EACCES
		}
		return dir, nil
	}
	if dir == "/" {
		return "/" + path, nil
	}
	return dir + "/" + path, nil
}

func doExecve(t *kernel.Task, pathAddr, argvAddr, envvAddr uint64, _ bool) (uintptr, error) {
	path, err := t.CopyInString(pathAddr, pathMax)
	if err != nil {
		return 0, err
	}
	if path == "" {
		return 0, unix.ENOENT
	}
	return execveNamed(t, path, argvAddr, envvAddr)
}

// execveNamed reads argv and envp and execs name.
func execveNamed(t *kernel.Task, path string, argvAddr, envvAddr uint64) (uintptr, error) {
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
