package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// withPath copies in a path and prepares its walk; fn runs with the
// prepared PathOperation.
func withPath(t *kernel.Task, dirfd int32, addr uint64, follow bool, fn func(pop *vfs.PathOperation) error) error {
	path, err := copyInPath(t, addr)
	if err != nil {
		return err
	}
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, dirfd, path, follow, false, &p); err != nil {
		return err
	}
	return fn(&p.pop)
}

// Access implements access(2).
func Access(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, faccessat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint(), 0)
}

// Faccessat implements faccessat(2).
func Faccessat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, faccessat(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), 0)
}

// Faccessat2 implements faccessat2(2).
func Faccessat2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, faccessat(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), a[3].Uint())
}

func faccessat(t *kernel.Task, dirfd int32, addr uint64, mode, flags uint32) error {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	path, err := copyInPath(t, addr)
	if err != nil {
		return err
	}
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, dirfd, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0, &p); err != nil {
		return err
	}
	if p.emptyOnFD {
		p.pop.Path = "."
	}
	return t.Kernel().VFS.AccessAt(t, &p.pop, mode, flags&unix.AT_EACCESS != 0)
}

// Getcwd implements getcwd(2).
func Getcwd(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	root, cwd := t.FSContext().RootAndCwd()
	defer root.DecRef()
	defer cwd.DecRef()
	if cwd.Dentry().IsDeleted() {
		return 0, unix.ENOENT
	}
	name := t.Kernel().VFS.PathnameWithin(root, cwd)
	size := a[1].Uint64()
	if uint64(len(name))+1 > size {
		return 0, unix.ERANGE
	}
	buf := t.Scratch(len(name) + 1)
	copy(buf, name)
	buf[len(name)] = 0
	if _, err := t.CopyOut(a[0].Pointer(), buf); err != nil {
		return 0, err
	}
	return uintptr(len(buf)), nil
}

// Chdir implements chdir(2).
func Chdir(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, withPath(t, unix.AT_FDCWD, a[0].Pointer(), true, func(pop *vfs.PathOperation) error {
		vd, err := t.Kernel().VFS.GetDentryAt(t, pop)
		if err != nil {
			return err
		}
		defer vd.DecRef()
		return setCwd(t, vd)
	})
}

func setCwd(t *kernel.Task, vd vfs.VirtualDentry) error {
	if !vd.Dentry().IsDir() {
		return unix.ENOTDIR
	}
	if err := vfs.CheckAccess(t, vd, vfs.MayExec); err != nil {
		return err
	}
	t.FSContext().SetCwd(vd)
	return nil
}

// Fchdir implements fchdir(2).
func Fchdir(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	vd := f.VirtualDentry()
	if !vd.Ok() {
		return 0, unix.ENOTDIR
	}
	return 0, setCwd(t, vd)
}

// Mkdir implements mkdir(2).
func Mkdir(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, mkdirat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint())
}

// Mkdirat implements mkdirat(2).
func Mkdirat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, mkdirat(t, a[0].Int(), a[1].Pointer(), a[2].Uint())
}

func mkdirat(t *kernel.Task, dirfd int32, addr uint64, mode uint32) error {
	mode = mode & 0o1777 &^ t.FSContext().Umask()
	return withPath(t, dirfd, addr, false, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.MkdirAt(t, pop, mode)
	})
}

// Mknod implements mknod(2).
func Mknod(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, mknodat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint())
}

// Mknodat implements mknodat(2). Device nodes need CAP_MKNOD, which the
// sandbox does not grant; regular files, fifos and sockets are created if
// the filesystem supports them.
func Mknodat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, mknodat(t, a[0].Int(), a[1].Pointer(), a[2].Uint())
}

func mknodat(t *kernel.Task, dirfd int32, addr uint64, mode uint32) error {
	switch mode & unix.S_IFMT {
	case 0:
		mode |= unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	mode = mode&unix.S_IFMT | mode&0o7777&^t.FSContext().Umask()
	return withPath(t, dirfd, addr, false, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.MknodAt(t, pop, mode)
	})
}

// Unlink implements unlink(2).
func Unlink(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, unlinkat(t, unix.AT_FDCWD, a[0].Pointer(), 0)
}

// Rmdir implements rmdir(2).
func Rmdir(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, unlinkat(t, unix.AT_FDCWD, a[0].Pointer(), unix.AT_REMOVEDIR)
}

// Unlinkat implements unlinkat(2).
func Unlinkat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, unlinkat(t, a[0].Int(), a[1].Pointer(), a[2].Uint())
}

func unlinkat(t *kernel.Task, dirfd int32, addr uint64, flags uint32) error {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return unix.EINVAL
	}
	return withPath(t, dirfd, addr, false, func(pop *vfs.PathOperation) error {
		if flags&unix.AT_REMOVEDIR != 0 {
			return t.Kernel().VFS.RmdirAt(t, pop)
		}
		return t.Kernel().VFS.UnlinkAt(t, pop)
	})
}

// Rename implements rename(2).
func Rename(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, renameat(t, unix.AT_FDCWD, a[0].Pointer(), unix.AT_FDCWD, a[1].Pointer(), 0)
}

// Renameat implements renameat(2).
func Renameat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, renameat(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer(), 0)
}

// Renameat2 implements renameat2(2) with flags 0 and RENAME_NOREPLACE.
func Renameat2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, renameat(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer(), a[4].Uint())
}

func renameat(t *kernel.Task, olddirfd int32, oldAddr uint64, newdirfd int32, newAddr uint64, flags uint32) error {
	if flags&^unix.RENAME_NOREPLACE != 0 {
		return unix.EINVAL
	}
	return withPath(t, olddirfd, oldAddr, false, func(oldpop *vfs.PathOperation) error {
		return withPath(t, newdirfd, newAddr, false, func(newpop *vfs.PathOperation) error {
			return t.Kernel().VFS.RenameAt(t, oldpop, newpop, flags)
		})
	})
}

// Symlink implements symlink(2).
func Symlink(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, symlinkat(t, a[0].Pointer(), unix.AT_FDCWD, a[1].Pointer())
}

// Symlinkat implements symlinkat(2).
func Symlinkat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, symlinkat(t, a[0].Pointer(), a[1].Int(), a[2].Pointer())
}

func symlinkat(t *kernel.Task, targetAddr uint64, dirfd int32, addr uint64) error {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return err
	}
	return withPath(t, dirfd, addr, false, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.SymlinkAt(t, pop, target)
	})
}

// Link implements link(2).
func Link(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, linkat(t, unix.AT_FDCWD, a[0].Pointer(), unix.AT_FDCWD, a[1].Pointer(), 0)
}

// Linkat implements linkat(2).
func Linkat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, linkat(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer(), a[4].Uint())
}

func linkat(t *kernel.Task, olddirfd int32, oldAddr uint64, newdirfd int32, newAddr uint64, flags uint32) error {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	oldPath, err := copyInPath(t, oldAddr)
	if err != nil {
		return err
	}
	allowEmpty := flags&unix.AT_EMPTY_PATH != 0
	if allowEmpty && oldPath == "" && !t.Credentials().HasCapability(auth.CAP_DAC_READ_SEARCH) {
		return unix.ENOENT
	}
	var op pathArgs
	defer op.release(t)
	if err := setupPath(t, olddirfd, oldPath, flags&unix.AT_SYMLINK_FOLLOW != 0, allowEmpty, &op); err != nil {
		return err
	}
	if op.emptyOnFD {
		op.pop.Path = "."
		if op.file != nil && !op.pop.Start.Dentry().IsDir() {
			// linkat(fd, "", AT_EMPTY_PATH) links the file itself; the
			// walk cannot name a non-directory by "."; not supported yet.
			return unix.ENOENT
		}
	}
	return withPath(t, newdirfd, newAddr, false, func(newpop *vfs.PathOperation) error {
		return t.Kernel().VFS.LinkAt(t, &op.pop, newpop)
	})
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return readlinkat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Pointer(), a[2].Int())
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return readlinkat(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Int())
}

func readlinkat(t *kernel.Task, dirfd int32, pathAddr, bufAddr uint64, size int32) (uintptr, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	if size <= 0 {
		return 0, unix.EINVAL
	}
	var p pathArgs
	defer p.release(t)
	// An empty path reads the symlink dirfd refers to (O_PATH|O_NOFOLLOW).
	if err := setupPath(t, dirfd, path, false, true, &p); err != nil {
		return 0, err
	}
	var target string
	if p.emptyOnFD {
		if p.file == nil || !p.file.VirtualDentry().Ok() {
			return 0, unix.ENOENT
		}
		target, err = vfs.Readlink(t, p.file.VirtualDentry())
		if err == unix.EINVAL {
			err = unix.ENOENT
		}
	} else {
		target, err = t.Kernel().VFS.ReadlinkAt(t, &p.pop)
	}
	if err != nil {
		return 0, err
	}
	n := min(len(target), int(size))
	buf := t.Scratch(n)
	copy(buf, target)
	if _, err := t.CopyOut(bufAddr, buf); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// setStatPath applies opts to a path relative to dirfd (or dirfd itself
// with AT_EMPTY_PATH and "").
func setStatPath(t *kernel.Task, dirfd int32, addr uint64, follow, allowEmpty bool, opts *vfs.SetStatOptions) error {
	path, err := copyInPath(t, addr)
	if err != nil {
		return err
	}
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, dirfd, path, follow, allowEmpty, &p); err != nil {
		return err
	}
	vd, err := p.getTarget(t)
	if err != nil {
		return err
	}
	defer vd.DecRef()
	return t.Kernel().VFS.SetStat(t, vd, opts, false)
}

// setStatFD applies opts to the file at fd.
func setStatFD(t *kernel.Task, fd int32, opts *vfs.SetStatOptions) error {
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
		return unix.EINVAL
	}
	return t.Kernel().VFS.SetStat(t, vd, opts, true)
}

// Chmod implements chmod(2).
func Chmod(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setStatPath(t, unix.AT_FDCWD, a[0].Pointer(), true, false, &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: a[1].Uint() & 0o7777})
}

// Fchmodat implements fchmodat(2).
func Fchmodat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setStatPath(t, a[0].Int(), a[1].Pointer(), true, false, &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: a[2].Uint() & 0o7777})
}

// Fchmod implements fchmod(2).
func Fchmod(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setStatFD(t, a[0].Int(), &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: a[1].Uint() & 0o7777})
}

func chownOpts(uid, gid uint32) *vfs.SetStatOptions {
	opts := &vfs.SetStatOptions{}
	if uid != auth.NoID {
		opts.Mask |= unix.STATX_UID
		opts.UID = auth.KUID(uid)
	}
	if gid != auth.NoID {
		opts.Mask |= unix.STATX_GID
		opts.GID = auth.KGID(gid)
	}
	return opts
}

// Chown implements chown(2).
func Chown(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setStatPath(t, unix.AT_FDCWD, a[0].Pointer(), true, false, chownOpts(a[1].Uint(), a[2].Uint()))
}

// Lchown implements lchown(2).
func Lchown(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setStatPath(t, unix.AT_FDCWD, a[0].Pointer(), false, false, chownOpts(a[1].Uint(), a[2].Uint()))
}

// Fchown implements fchown(2).
func Fchown(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setStatFD(t, a[0].Int(), chownOpts(a[1].Uint(), a[2].Uint()))
}

// Fchownat implements fchownat(2).
func Fchownat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[4].Uint()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	return 0, setStatPath(t, a[0].Int(), a[1].Pointer(), flags&unix.AT_SYMLINK_NOFOLLOW == 0,
		flags&unix.AT_EMPTY_PATH != 0, chownOpts(a[2].Uint(), a[3].Uint()))
}

// Truncate implements truncate(2).
func Truncate(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	length := a[1].Int64()
	if length < 0 {
		return 0, unix.EINVAL
	}
	return 0, setStatPath(t, unix.AT_FDCWD, a[0].Pointer(), true, false, &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: uint64(length)})
}

// Ftruncate implements ftruncate(2).
func Ftruncate(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	length := a[1].Int64()
	if length < 0 {
		return 0, unix.EINVAL
	}
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	vd := f.VirtualDentry()
	if !f.IsWritable() || !vd.Ok() || !vd.Dentry().IsRegular() {
		return 0, unix.EINVAL
	}
	return 0, t.Kernel().VFS.SetStat(t, vd, &vfs.SetStatOptions{Mask: unix.STATX_SIZE, Size: uint64(length)}, true)
}

// UTIME_NOW and UTIME_OMIT.
const (
	utimeNow  = (1 << 30) - 1
	utimeOmit = (1 << 30) - 2
)

// Utimensat implements utimensat(2) (and futimens: a NULL path).
func Utimensat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, timesAddr, flags := a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Uint()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	opts := vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME}
	if timesAddr == 0 {
		opts.Atime.Nsec, opts.Mtime.Nsec = utimeNow, utimeNow
	} else {
		var b [32]byte
		if _, err := t.CopyIn(timesAddr, b[:]); err != nil {
			return 0, err
		}
		opts.Atime = abi.UnmarshalTimespec(b[0:])
		opts.Mtime = abi.UnmarshalTimespec(b[16:])
		for _, ts := range []int64{opts.Atime.Nsec, opts.Mtime.Nsec} {
			if (ts < 0 || ts > 999999999) && ts != utimeNow && ts != utimeOmit {
				return 0, unix.EINVAL
			}
		}
	}
	if pathAddr == 0 {
		// futimens(fd, times).
		f, _, err := getFile(t, dirfd)
		if err != nil {
			return 0, err
		}
		defer f.DecRef(t)
		vd := f.VirtualDentry()
		if !vd.Ok() {
			return 0, unix.EINVAL
		}
		return 0, t.Kernel().VFS.SetStat(t, vd, &opts, true)
	}
	return 0, setStatPath(t, dirfd, pathAddr, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0, &opts)
}
