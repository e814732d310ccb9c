package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// withPath copies in a path and prepares its walk; fn runs with the
// prepared PathOperation.
func withPath(t *kernel.Task, dirfd int32, addr uint64, follow bool, fn func(pop *vfs.PathOperation) error) error {
	var p pathArgs
	defer p.release(t)
	if err := preparePath(t, dirfd, addr, follow, &p); err != nil {
		return err
	}
	return fn(&p.pop)
}

// preparePath reads the path at addr and prepares its walk relative to
// dirfd in p, which the caller must release even on error.
func preparePath(t *kernel.Task, dirfd int32, addr uint64, follow bool, p *pathArgs) error {
	path, err := copyInPath(t, addr)
	if err != nil {
		return err
	}
	return setupPath(t, dirfd, path, follow, false, p)
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
	return 0, mknodat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint(), a[2].Uint64())
}

// Mknodat implements mknodat(2): regular files, FIFOs and sockets are
// created if the filesystem supports them; device nodes need CAP_MKNOD
// and a permitted device number (tmpfs.PermittedDevice), else EPERM.
func Mknodat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, mknodat(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), a[3].Uint64())
}

func mknodat(t *kernel.Task, dirfd int32, addr uint64, mode uint32, dev uint64) error {
	var rdev uint64
	switch mode & unix.S_IFMT {
	case 0:
		mode |= unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		// The argument is the old encoding of dev_t (new_decode_dev).
		d := uint32(dev)
		rdev = unix.Mkdev((d&0xfff00)>>8, (d&0xff)|((d>>12)&0xfff00))
		if !t.Credentials().HasCapability(auth.CAP_MKNOD) || !tmpfs.PermittedDevice(mode, rdev) {
			return unix.EPERM
		}
	case unix.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	mode = mode&unix.S_IFMT | mode&0o7777&^t.FSContext().Umask()
	return withPath(t, dirfd, addr, false, func(pop *vfs.PathOperation) error {
		return t.Kernel().VFS.MknodAt(t, pop, mode, rdev)
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

// Renameat2 implements renameat2(2): RENAME_NOREPLACE, RENAME_EXCHANGE
// and RENAME_WHITEOUT (which needs CAP_MKNOD).
func Renameat2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, renameat(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer(), a[4].Uint())
}

func renameat(t *kernel.Task, olddirfd int32, oldAddr uint64, newdirfd int32, newAddr uint64, flags uint32) error {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 ||
		flags&unix.RENAME_EXCHANGE != 0 && flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 {
		return unix.EINVAL
	}
	if flags&unix.RENAME_WHITEOUT != 0 && !t.Credentials().HasCapability(auth.CAP_MKNOD) {
		return unix.EPERM
	}
	return withPath(t, olddirfd, oldAddr, false, func(oldpop *vfs.PathOperation) error {
		var np pathArgs
		defer np.release(t)
		if err := preparePath(t, newdirfd, newAddr, false, &np); err != nil {
			if werr := t.Kernel().VFS.WalkParentError(t, oldpop); werr != nil {
				return werr
			}
			return err
		}
		return t.Kernel().VFS.RenameAt(t, oldpop, &np.pop, flags)
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
	// The old file is resolved before the new path is read, as Linux
	// orders their errors (an empty new path is ENOENT only then);
	// linkat(fd, "", AT_EMPTY_PATH) links the descriptor's file itself
	// (an O_TMPFILE file gets its first name this way).
	old, err := op.getTarget(t)
	if err != nil {
		return err
	}
	defer old.DecRef()
	return withPath(t, newdirfd, newAddr, false, func(newpop *vfs.PathOperation) error {
		return t.Kernel().VFS.Link(t, old, newpop)
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

// Fchmodat2 implements fchmodat2(2): fchmodat with AT_SYMLINK_NOFOLLOW
// (EOPNOTSUPP on a symlink, whose mode cannot change) and AT_EMPTY_PATH.
func Fchmodat2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[3].Uint()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, a[1].Pointer())
	if err != nil {
		return 0, err
	}
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, a[0].Int(), path, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0, &p); err != nil {
		return 0, err
	}
	vd, err := p.getTarget(t)
	if err != nil {
		return 0, err
	}
	defer vd.DecRef()
	if vd.Dentry().IsSymlink() {
		return 0, unix.EOPNOTSUPP
	}
	return 0, t.Kernel().VFS.SetStat(t, vd, &vfs.SetStatOptions{Mask: unix.STATX_MODE, Mode: a[2].Uint() & 0o7777}, false)
}

// timevalTimes reads utimes' two struct timevals (NULL: now).
func timevalTimes(t *kernel.Task, addr uint64) (*vfs.SetStatOptions, error) {
	opts := &vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME}
	if addr == 0 {
		opts.Atime.Nsec, opts.Mtime.Nsec = utimeNow, utimeNow
		return opts, nil
	}
	var b [32]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return nil, unix.EFAULT
	}
	for i, ts := range []*unix.Timespec{&opts.Atime, &opts.Mtime} {
		sec := int64(binary.LittleEndian.Uint64(b[i*16:]))
		usec := int64(binary.LittleEndian.Uint64(b[i*16+8:]))
		if usec < 0 || usec >= 1000000 {
			return nil, unix.EINVAL
		}
		*ts = unix.Timespec{Sec: sec, Nsec: usec * 1000}
	}
	return opts, nil
}

// Utimes implements utimes(2).
func Utimes(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	opts, err := timevalTimes(t, a[1].Pointer())
	if err != nil {
		return 0, err
	}
	return 0, setStatPath(t, unix.AT_FDCWD, a[0].Pointer(), true, false, opts)
}

// Futimesat implements futimesat(2); a NULL path names dirfd itself.
func Futimesat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	opts, err := timevalTimes(t, a[2].Pointer())
	if err != nil {
		return 0, err
	}
	if a[1].Pointer() == 0 {
		return 0, setStatFD(t, a[0].Int(), opts)
	}
	return 0, setStatPath(t, a[0].Int(), a[1].Pointer(), true, false, opts)
}

// Utime implements utime(2): struct utimbuf holds whole seconds.
func Utime(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	opts := &vfs.SetStatOptions{Mask: unix.STATX_ATIME | unix.STATX_MTIME}
	if addr := a[1].Pointer(); addr == 0 {
		opts.Atime.Nsec, opts.Mtime.Nsec = utimeNow, utimeNow
	} else {
		var b [16]byte
		if _, err := t.CopyIn(addr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		opts.Atime.Sec = int64(binary.LittleEndian.Uint64(b[0:]))
		opts.Mtime.Sec = int64(binary.LittleEndian.Uint64(b[8:]))
	}
	return 0, setStatPath(t, unix.AT_FDCWD, a[0].Pointer(), true, false, opts)
}

// Chroot implements chroot(2): it needs CAP_SYS_CHROOT and search
// permission on the new root; later walks of every thread sharing the
// FSContext start there and never go above it.
func Chroot(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, withPath(t, unix.AT_FDCWD, a[0].Pointer(), true, func(pop *vfs.PathOperation) error {
		vd, err := t.Kernel().VFS.GetDentryAt(t, pop)
		if err != nil {
			return err
		}
		defer vd.DecRef()
		if !vd.Dentry().IsDir() {
			return unix.ENOTDIR
		}
		if err := vfs.CheckAccess(t, vd, vfs.MayExec); err != nil {
			return err
		}
		if !t.Credentials().HasCapability(auth.CAP_SYS_CHROOT) {
			return unix.EPERM
		}
		t.FSContext().SetRoot(vd)
		return nil
	})
}

// openHowSize0 is OPEN_HOW_SIZE_VER0, sizeof(struct open_how).
const openHowSize0 = 24

// validOpenFlags is VALID_OPEN_FLAGS.
const validOpenFlags = unix.O_RDONLY | unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY |
	unix.O_TRUNC | unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | oLargefile |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_PATH | unix.O_TMPFILE | unix.O_SYNC

// Openat2 implements openat2(2): struct open_how (extensible: larger
// sizes must be zero past what the sentry knows) and the RESOLVE_* flags.
func Openat2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, howAddr, size := a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Uint64()
	if size < openHowSize0 {
		return 0, unix.EINVAL
	}
	if size > 4096 {
		return 0, unix.E2BIG
	}
	buf := make([]byte, size)
	if _, err := t.CopyIn(howAddr, buf); err != nil {
		return 0, unix.EFAULT
	}
	for _, c := range buf[openHowSize0:] {
		if c != 0 {
			return 0, unix.E2BIG
		}
	}
	flags := binary.LittleEndian.Uint64(buf[0:])
	mode := binary.LittleEndian.Uint64(buf[8:])
	resolve := binary.LittleEndian.Uint64(buf[16:])
	if flags&^uint64(validOpenFlags) != 0 {
		return 0, unix.EINVAL
	}
	if resolve&^0x3f != 0 || resolve&vfs.ResolveBeneath != 0 && resolve&vfs.ResolveInRoot != 0 {
		return 0, unix.EINVAL
	}
	willCreate := flags&unix.O_CREAT != 0 || flags&oTmpfile != 0
	if willCreate && mode&^0o7777 != 0 || !willCreate && mode != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.O_PATH != 0 && flags&^uint64(unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_PATH|unix.O_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	if resolve&vfs.ResolveCached != 0 && flags&(unix.O_TRUNC|unix.O_CREAT|oTmpfile) != 0 {
		return 0, unix.EAGAIN
	}
	return openatResolve(t, dirfd, pathAddr, uint32(flags), uint32(mode), resolve)
}
