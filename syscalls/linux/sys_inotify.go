package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/inotify"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerInotify installs the inotify syscalls.
func registerInotify(t *kernel.SyscallTable) {
	t.Register(unix.SYS_INOTIFY_INIT, InotifyInit)
	t.Register(unix.SYS_INOTIFY_INIT1, InotifyInit1)
	t.Register(unix.SYS_INOTIFY_ADD_WATCH, InotifyAddWatch)
	t.Register(unix.SYS_INOTIFY_RM_WATCH, InotifyRmWatch)
}

// InotifyInit implements inotify_init(2).
func InotifyInit(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return inotifyInit(t, 0)
}

// InotifyInit1 implements inotify_init1(2): IN_NONBLOCK, IN_CLOEXEC.
func InotifyInit1(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return inotifyInit(t, a[0].Uint())
}

func inotifyInit(t *kernel.Task, flags uint32) (uintptr, error) {
	if flags&^(inotify.Cloexec|inotify.Nonblock) != 0 {
		return 0, unix.EINVAL
	}
	f := inotify.New(t.Kernel().VFS, flags, inotify.DefaultMaxQueuedEvents)
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: flags&inotify.Cloexec != 0}, 0)
	return uintptr(fd), err
}

// inotifyFile returns the instance behind fd: EBADF for no file, EINVAL
// for a file of another kind. The caller drops the file's reference.
func inotifyFile(t *kernel.Task, fd int32) (*vfs.FileDescription, *inotify.Instance, error) {
	f, _, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	in := inotify.FromFile(f)
	if in == nil {
		f.DecRef(t)
		return nil, nil, unix.EINVAL
	}
	return f, in, nil
}

// InotifyAddWatch implements inotify_add_watch(2).
func InotifyAddWatch(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, addr, mask := a[0].Int(), a[1].Pointer(), a[2].Uint()
	// Linux's checks, in its order: flags first, then the descriptor,
	// then the path.
	if mask&unix.IN_MASK_ADD != 0 && mask&unix.IN_MASK_CREATE != 0 {
		return 0, unix.EINVAL
	}
	if mask&^inotify.AllBits != 0 || mask == 0 {
		return 0, unix.EINVAL
	}
	f, in, err := inotifyFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	path, err := copyInPath(t, addr)
	if err != nil {
		return 0, err
	}
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, unix.AT_FDCWD, path, mask&unix.IN_DONT_FOLLOW == 0, false, &p); err != nil {
		return 0, err
	}
	vd, err := p.getTarget(t)
	if err != nil {
		return 0, err
	}
	defer vd.DecRef()
	if mask&unix.IN_ONLYDIR != 0 && !vd.Dentry().IsDir() {
		return 0, unix.ENOTDIR
	}
	// Watching needs read permission on the file.
	if err := vfs.CheckAccess(t, vd, vfs.MayRead); err != nil {
		return 0, err
	}
	wd, err := in.AddWatch(t, vd, mask)
	return uintptr(wd), err
}

// InotifyRmWatch implements inotify_rm_watch(2).
func InotifyRmWatch(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, in, err := inotifyFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	return 0, in.RemoveWatch(a[1].Int())
}
