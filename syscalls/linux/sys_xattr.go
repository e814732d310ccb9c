package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerXattr installs the extended attribute syscalls. tmpfs stores
// them; filesystems without them (the read-only host root, procfs, devfs)
// give EOPNOTSUPP.
func registerXattr(t *kernel.SyscallTable) {
	for nr, fn := range map[uintptr]kernel.SyscallFn{
		unix.SYS_SETXATTR: Setxattr, unix.SYS_LSETXATTR: Lsetxattr, unix.SYS_FSETXATTR: Fsetxattr,
		unix.SYS_GETXATTR: Getxattr, unix.SYS_LGETXATTR: Lgetxattr, unix.SYS_FGETXATTR: Fgetxattr,
		unix.SYS_LISTXATTR: Listxattr, unix.SYS_LLISTXATTR: Llistxattr, unix.SYS_FLISTXATTR: Flistxattr,
		unix.SYS_REMOVEXATTR: Removexattr, unix.SYS_LREMOVEXATTR: Lremovexattr, unix.SYS_FREMOVEXATTR: Fremovexattr,
	} {
		t.Register(nr, fn)
	}
}

// copyInXattrName reads an attribute name: empty or longer than
// XATTR_NAME_MAX is ERANGE.
func copyInXattrName(t *kernel.Task, addr uint64) (string, error) {
	name, err := t.CopyInString(addr, vfs.XattrNameMax+1)
	if err == unix.ENAMETOOLONG || err == nil && (name == "" || len(name) > vfs.XattrNameMax) {
		return "", unix.ERANGE
	}
	return name, err
}

// xattrTarget resolves the file of an xattr call: a path (following the
// last symlink if follow) or, with path == 0, the descriptor fd.
func xattrTarget(t *kernel.Task, pathAddr uint64, fd int32, follow bool, fn func(vd vfs.VirtualDentry) error) error {
	if pathAddr == 0 {
		f, _, err := getFile(t, fd)
		if err != nil {
			return err
		}
		defer f.DecRef(t)
		if f.IsOPath() {
			return unix.EBADF
		}
		vd := f.VirtualDentry()
		if !vd.Ok() {
			return unix.EOPNOTSUPP
		}
		return fn(vd)
	}
	return withPath(t, unix.AT_FDCWD, pathAddr, follow, func(pop *vfs.PathOperation) error {
		vd, err := t.Kernel().VFS.GetDentryAt(t, pop)
		if err != nil {
			return err
		}
		defer vd.DecRef()
		return fn(vd)
	})
}

func setxattr(t *kernel.Task, pathAddr uint64, fd int32, follow bool, a arch.SyscallArguments) (uintptr, error) {
	nameAddr, valAddr, size, flags := a[1].Pointer(), a[2].Pointer(), a[3].Uint64(), a[4].Int()
	if flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return 0, unix.EINVAL
	}
	name, err := copyInXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	if size > vfs.XattrSizeMax {
		return 0, unix.E2BIG
	}
	value := make([]byte, size)
	if size > 0 {
		if _, err := t.CopyIn(valAddr, value); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, xattrTarget(t, pathAddr, fd, follow, func(vd vfs.VirtualDentry) error {
		return vfs.SetXattr(t, vd, name, value, int(flags))
	})
}

// Setxattr implements setxattr(2).
func Setxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, a[0].Pointer(), 0, true, a)
}

// Lsetxattr implements lsetxattr(2).
func Lsetxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, a[0].Pointer(), 0, false, a)
}

// Fsetxattr implements fsetxattr(2).
func Fsetxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, 0, a[0].Int(), false, a)
}

func getxattr(t *kernel.Task, pathAddr uint64, fd int32, follow bool, a arch.SyscallArguments) (uintptr, error) {
	nameAddr, valAddr, size := a[1].Pointer(), a[2].Pointer(), a[3].Uint64()
	name, err := copyInXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	size = min(size, vfs.XattrSizeMax)
	var n int
	err = xattrTarget(t, pathAddr, fd, follow, func(vd vfs.VirtualDentry) error {
		v, err := vfs.GetXattr(t, vd, name)
		if err != nil {
			return err
		}
		n = len(v)
		if size == 0 {
			return nil
		}
		if uint64(len(v)) > size {
			return unix.ERANGE
		}
		if _, err := t.CopyOut(valAddr, v); err != nil {
			return unix.EFAULT
		}
		return nil
	})
	return uintptr(n), err
}

// Getxattr implements getxattr(2).
func Getxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, a[0].Pointer(), 0, true, a)
}

// Lgetxattr implements lgetxattr(2).
func Lgetxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, a[0].Pointer(), 0, false, a)
}

// Fgetxattr implements fgetxattr(2).
func Fgetxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, 0, a[0].Int(), false, a)
}

func listxattr(t *kernel.Task, pathAddr uint64, fd int32, follow bool, a arch.SyscallArguments) (uintptr, error) {
	listAddr, size := a[1].Pointer(), a[2].Uint64()
	size = min(size, vfs.XattrListMax)
	var n int
	err := xattrTarget(t, pathAddr, fd, follow, func(vd vfs.VirtualDentry) error {
		names, err := vfs.ListXattr(t, vd)
		if err != nil {
			return err
		}
		var buf []byte
		for _, nm := range names {
			buf = append(buf, nm...)
			buf = append(buf, 0)
		}
		n = len(buf)
		if size == 0 {
			if n > vfs.XattrListMax {
				return unix.E2BIG
			}
			return nil
		}
		if uint64(n) > size {
			return unix.ERANGE
		}
		if _, err := t.CopyOut(listAddr, buf); err != nil {
			return unix.EFAULT
		}
		return nil
	})
	return uintptr(n), err
}

// Listxattr implements listxattr(2).
func Listxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, a[0].Pointer(), 0, true, a)
}

// Llistxattr implements llistxattr(2).
func Llistxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, a[0].Pointer(), 0, false, a)
}

// Flistxattr implements flistxattr(2).
func Flistxattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, 0, a[0].Int(), false, a)
}

func removexattr(t *kernel.Task, pathAddr uint64, fd int32, follow bool, a arch.SyscallArguments) (uintptr, error) {
	name, err := copyInXattrName(t, a[1].Pointer())
	if err != nil {
		return 0, err
	}
	return 0, xattrTarget(t, pathAddr, fd, follow, func(vd vfs.VirtualDentry) error {
		return vfs.RemoveXattr(t, vd, name)
	})
}

// Removexattr implements removexattr(2).
func Removexattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return removexattr(t, a[0].Pointer(), 0, true, a)
}

// Lremovexattr implements lremovexattr(2).
func Lremovexattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return removexattr(t, a[0].Pointer(), 0, false, a)
}

// Fremovexattr implements fremovexattr(2).
func Fremovexattr(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return removexattr(t, 0, a[0].Int(), false, a)
}
