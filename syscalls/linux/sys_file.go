package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

// registerFile installs the file-system syscalls.
func registerFile(t *kernel.SyscallTable) {
	for nr, fn := range map[uintptr]kernel.SyscallFn{
		unix.SYS_READ: Read, unix.SYS_WRITE: Write, unix.SYS_READV: Readv, unix.SYS_WRITEV: Writev,
		unix.SYS_PREAD64: Pread64, unix.SYS_PWRITE64: Pwrite64,
		unix.SYS_PREADV: Preadv, unix.SYS_PWRITEV: Pwritev, unix.SYS_PREADV2: Preadv2, unix.SYS_PWRITEV2: Pwritev2,
		unix.SYS_OPEN: Open, unix.SYS_OPENAT: Openat, unix.SYS_CREAT: Creat,
		unix.SYS_CLOSE: Close, unix.SYS_CLOSE_RANGE: CloseRange, unix.SYS_LSEEK: Lseek,
		unix.SYS_FSTAT: Fstat, unix.SYS_STAT: Stat, unix.SYS_LSTAT: Lstat, unix.SYS_NEWFSTATAT: Newfstatat,
		unix.SYS_STATX: Statx, unix.SYS_READLINK: Readlink, unix.SYS_READLINKAT: Readlinkat,
		unix.SYS_GETDENTS64: Getdents64, unix.SYS_GETDENTS: Getdents,
		unix.SYS_ACCESS: Access, unix.SYS_FACCESSAT: Faccessat, unix.SYS_FACCESSAT2: Faccessat2,
		unix.SYS_GETCWD: Getcwd, unix.SYS_CHDIR: Chdir, unix.SYS_FCHDIR: Fchdir,
		unix.SYS_DUP: Dup, unix.SYS_DUP2: Dup2, unix.SYS_DUP3: Dup3,
		unix.SYS_FCNTL: Fcntl, unix.SYS_IOCTL: Ioctl, unix.SYS_UMASK: Umask,
		unix.SYS_MKDIR: Mkdir, unix.SYS_MKDIRAT: Mkdirat, unix.SYS_MKNOD: Mknod, unix.SYS_MKNODAT: Mknodat,
		unix.SYS_UNLINK: Unlink, unix.SYS_UNLINKAT: Unlinkat, unix.SYS_RMDIR: Rmdir,
		unix.SYS_RENAME: Rename, unix.SYS_RENAMEAT: Renameat, unix.SYS_RENAMEAT2: Renameat2,
		unix.SYS_SYMLINK: Symlink, unix.SYS_SYMLINKAT: Symlinkat, unix.SYS_LINK: Link, unix.SYS_LINKAT: Linkat,
		unix.SYS_CHMOD: Chmod, unix.SYS_FCHMOD: Fchmod, unix.SYS_FCHMODAT: Fchmodat,
		unix.SYS_CHOWN: Chown, unix.SYS_FCHOWN: Fchown, unix.SYS_LCHOWN: Lchown, unix.SYS_FCHOWNAT: Fchownat,
		unix.SYS_TRUNCATE: Truncate, unix.SYS_FTRUNCATE: Ftruncate, unix.SYS_UTIMENSAT: Utimensat,
		unix.SYS_STATFS: Statfs, unix.SYS_FSTATFS: Fstatfs,
		unix.SYS_FSYNC: Fsync, unix.SYS_FDATASYNC: Fsync, unix.SYS_SYNC: Sync, unix.SYS_SYNCFS: Syncfs,
		unix.SYS_FADVISE64: Fadvise64,
	} {
		t.Register(nr, fn)
	}
}

// registerFileops installs the file syscalls of sys_splice.go,
// sys_xattr.go, sys_mount.go and sys_memfd.go, and the path and file
// calls added with them.
func registerFileops(t *kernel.SyscallTable) {
	registerSplice(t)
	registerXattr(t)
	registerMount(t)
	for nr, fn := range map[uintptr]kernel.SyscallFn{
		unix.SYS_MEMFD_CREATE: MemfdCreate, unix.SYS_FALLOCATE: Fallocate,
		unix.SYS_SYNC_FILE_RANGE: SyncFileRange, unix.SYS_READAHEAD: Readahead,
		unix.SYS_OPENAT2: Openat2, unix.SYS_FCHMODAT2: Fchmodat2,
		unix.SYS_UTIMES: Utimes, unix.SYS_FUTIMESAT: Futimesat, unix.SYS_UTIME: Utime,
		unix.SYS_CHROOT: Chroot,
	} {
		t.Register(nr, fn)
	}
}

// oLargefile is O_LARGEFILE on amd64; 64-bit opens always get it.
const oLargefile = 0o100000

// getFile returns a reference to the file at fd, or EBADF.
func getFile(t *kernel.Task, fd int32) (*vfs.FileDescription, vfs.FDFlags, error) {
	f, flags := t.FDTable().Get(fd)
	if f == nil {
		return nil, flags, unix.EBADF
	}
	return f, flags, nil
}

// copyInPath reads a path argument (ENAMETOOLONG at PATH_MAX).
func copyInPath(t *kernel.Task, addr uint64) (string, error) {
	return t.CopyInString(addr, vfs.PathMax-1)
}

// pathArgs holds the references behind a PathOperation.
type pathArgs struct {
	pop        vfs.PathOperation
	root, cwd  vfs.VirtualDentry
	file       *vfs.FileDescription
	emptyOnFD  bool // path was "" with AT_EMPTY_PATH: the target is pop.Start
	dirfdIsFDC bool
}

func (p *pathArgs) release(t *kernel.Task) {
	p.root.DecRef()
	p.cwd.DecRef()
	if p.file != nil {
		p.file.DecRef(t)
	}
}

// setupPath prepares a walk of path relative to dirfd. With allowEmpty
// (AT_EMPTY_PATH), an empty path names dirfd itself (p.emptyOnFD). The
// caller must call p.release(t) even on error.
func setupPath(t *kernel.Task, dirfd int32, path string, follow, allowEmpty bool, p *pathArgs) error {
	p.root, p.cwd = t.FSContext().RootAndCwd()
	p.pop = vfs.PathOperation{Root: p.root, Start: p.cwd, Path: path, Follow: follow}
	if path == "" && !allowEmpty {
		return unix.ENOENT
	}
	if len(path) > 0 && path[0] == '/' {
		return nil
	}
	if dirfd == unix.AT_FDCWD {
		p.dirfdIsFDC = true
		p.emptyOnFD = path == ""
		return nil
	}
	f, _, err := getFile(t, dirfd)
	if err != nil {
		return err
	}
	p.file = f
	if path == "" {
		p.emptyOnFD = true
		if vd := f.VirtualDentry(); vd.Ok() {
			p.pop.Start = vd
		}
		return nil
	}
	vd := f.VirtualDentry()
	if !vd.Ok() || !vd.Dentry().IsDir() {
		return unix.ENOTDIR
	}
	p.pop.Start = vd
	return nil
}

// getTarget resolves a prepared path to a reference to its target.
func (p *pathArgs) getTarget(t *kernel.Task) (vfs.VirtualDentry, error) {
	if p.emptyOnFD {
		if p.file != nil && !p.file.VirtualDentry().Ok() {
			return vfs.VirtualDentry{}, unix.EBADF
		}
		p.pop.Start.IncRef()
		return p.pop.Start, nil
	}
	return t.Kernel().VFS.GetDentryAt(t, &p.pop)
}

// Open implements open(2).
func Open(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return openat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint(), a[2].Uint())
}

// Openat implements openat(2).
func Openat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return openat(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), a[3].Uint())
}

// Creat implements creat(2).
func Creat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return openat(t, unix.AT_FDCWD, a[0].Pointer(), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, a[1].Uint())
}

func openat(t *kernel.Task, dirfd int32, addr uint64, flags, mode uint32) (uintptr, error) {
	return openatResolve(t, dirfd, addr, flags, mode, 0)
}

// oTmpfile is O_TMPFILE without O_DIRECTORY.
const oTmpfile = unix.O_TMPFILE &^ unix.O_DIRECTORY

// openatResolve is openat with openat2's resolve flags.
func openatResolve(t *kernel.Task, dirfd int32, addr uint64, flags, mode uint32, resolve uint64) (uintptr, error) {
	if flags&oTmpfile != 0 {
		// O_TMPFILE needs O_DIRECTORY, no O_CREAT, and write access.
		if flags&(unix.O_TMPFILE|unix.O_CREAT) != unix.O_TMPFILE || flags&unix.O_ACCMODE == unix.O_RDONLY {
			return 0, unix.EINVAL
		}
	} else if flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
		// Linux 6.4 refuses the pair, before it reads the path.
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, addr)
	if err != nil {
		return 0, err
	}
	var p pathArgs
	defer p.release(t)
	sp := path
	if resolve&(vfs.ResolveBeneath|vfs.ResolveInRoot) != 0 && len(path) > 0 && path[0] == '/' {
		// Scoped walks start at dirfd even for absolute paths.
		sp = "." + path
	}
	if err := setupPath(t, dirfd, sp, flags&unix.O_NOFOLLOW == 0, false, &p); err != nil {
		return 0, err
	}
	p.pop.Path = path
	p.pop.Resolve = resolve
	flags |= oLargefile
	opts := vfs.OpenOptions{Flags: flags, Mode: mode & 0o7777 &^ t.FSContext().Umask()}
	f, err := t.Kernel().VFS.OpenAt(t, &p.pop, &opts)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: flags&unix.O_CLOEXEC != 0}, 0)
	return uintptr(fd), err
}

// Close implements close(2).
func Close(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, t.FDTable().Close(t, a[0].Int())
}

// closeRangeUnshare and closeRangeCloexec are close_range(2)'s flags.
const (
	closeRangeUnshare = 1 << 1
	closeRangeCloexec = 1 << 2
)

// CloseRange implements close_range(2). CLOSE_RANGE_UNSHARE is accepted;
// the table is not unshared (the kernel owns table sharing).
func CloseRange(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	first, last, flags := a[0].Uint(), a[1].Uint(), a[2].Uint()
	if flags&^(closeRangeUnshare|closeRangeCloexec) != 0 || first > last {
		return 0, unix.EINVAL
	}
	t.FDTable().CloseRange(t, first, last, flags&closeRangeCloexec != 0)
	return 0, nil
}

// Dup implements dup(2).
func Dup(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{}, 0)
	return uintptr(fd), err
}

// Dup2 implements dup2(2).
func Dup2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	oldfd, newfd := a[0].Int(), a[1].Int()
	f, _, err := getFile(t, oldfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if oldfd == newfd {
		return uintptr(newfd), nil
	}
	return uintptr(newfd), t.FDTable().InstallAt(t, newfd, f, vfs.FDFlags{})
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	oldfd, newfd, flags := a[0].Int(), a[1].Int(), a[2].Uint()
	if flags&^unix.O_CLOEXEC != 0 || oldfd == newfd {
		return 0, unix.EINVAL
	}
	f, _, err := getFile(t, oldfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	return uintptr(newfd), t.FDTable().InstallAt(t, newfd, f, vfs.FDFlags{CloseOnExec: flags&unix.O_CLOEXEC != 0})
}

// Fcntl implements fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD,
// F_GETFL, F_SETFL, the record locks (sys_lock.go),
// F_GETPIPE_SZ/F_SETPIPE_SZ (sys_pipe.go) and the memfd seals
// (sys_memfd.go), signal-driven I/O's (sys_fasync.go) and F_NOTIFY
// (the kernel's dnotify) and the leases (F_SETLEASE, F_GETLEASE: fs/vfs's
// lease.go).
func Fcntl(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, cmd := a[0].Int(), a[1].Int()
	f, flags, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		min := a[2].Int()
		if min < 0 || min >= t.FDTable().Limit() {
			return 0, unix.EINVAL
		}
		nfd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: cmd == unix.F_DUPFD_CLOEXEC}, min)
		return uintptr(nfd), err
	case unix.F_GETFD:
		if flags.CloseOnExec {
			return unix.FD_CLOEXEC, nil
		}
		return 0, nil
	case unix.F_SETFD:
		return 0, t.FDTable().SetFlags(fd, vfs.FDFlags{CloseOnExec: a[2].Int()&unix.FD_CLOEXEC != 0})
	case unix.F_GETFL:
		return uintptr(f.StatusFlags()), nil
	case unix.F_SETFL:
		if f.IsOPath() {
			return 0, unix.EBADF
		}
		if err := f.CheckSetStatusFlags(t, a[2].Uint()); err != nil {
			return 0, err
		}
		setAsync(t, f, fd, a[2].Uint()&unix.O_ASYNC != 0)
		f.SetStatusFlags(a[2].Uint())
		return 0, nil
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		return fcntlLock(t, f, cmd, a[2].Pointer())
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		return pipeFcntl(t, f, cmd, a[2].Uint())
	case unix.F_ADD_SEALS, unix.F_GET_SEALS:
		return fcntlSeals(f, cmd, a[2].Uint())
	case unix.F_SETOWN, unix.F_GETOWN, unix.F_SETOWN_EX, unix.F_GETOWN_EX, unix.F_SETSIG, unix.F_GETSIG:
		if f.IsOPath() {
			return 0, unix.EBADF
		}
		return fcntlAsync(t, f, cmd, a[2].Pointer())
	case unix.F_NOTIFY:
		if f.IsOPath() {
			return 0, unix.EBADF
		}
		return 0, t.Kernel().Dnotify(t, f, fd, a[2].Uint())
	case unix.F_GETLEASE:
		if f.IsOPath() {
			return 0, unix.EBADF
		}
		return uintptr(f.GetLease()), nil
	case unix.F_SETLEASE:
		if f.IsOPath() {
			return 0, unix.EBADF
		}
		typ := a[2].Int()
		if typ != unix.F_RDLCK && typ != unix.F_WRLCK && typ != unix.F_UNLCK {
			return 0, unix.EINVAL
		}
		// The break's signal goes through the file's signal-driven I/O
		// state, which must exist before the lease does.
		as := t.Kernel().FileAsyncOf(f)
		if err := f.SetLease(t.Credentials(), fd, int16(typ)); err != nil {
			return 0, err
		}
		if typ != unix.F_UNLCK {
			return 0, as.SetLeaseOwner(t)
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}

// Generic ioctl requests handled for every file.
const (
	fionclex = 0x5450
	fioclex  = 0x5451
	fionbio  = 0x5421
	fioasync = 0x5452
)

// Ioctl implements ioctl(2): FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC and a
// socket's owner (sys_fasync.go) here, everything else by the file (ENOTTY if it does not know the request).
func Ioctl(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, cmd, arg := a[0].Int(), a[1].Uint(), a[2].Pointer()
	f, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	switch cmd {
	case fioclex, fionclex:
		return 0, t.FDTable().SetFlags(fd, vfs.FDFlags{CloseOnExec: cmd == fioclex})
	case fionbio, fioasync:
		var b [4]byte
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		on := b != [4]byte{}
		if cmd == fioasync {
			if !setAsync(t, f, fd, on) {
				return 0, unix.ENOTTY
			}
			return 0, nil
		}
		fl := f.StatusFlags() &^ unix.O_NONBLOCK
		if on {
			fl |= unix.O_NONBLOCK
		}
		f.SetStatusFlags(fl)
		return 0, nil
	case fiosetown, siocspgrp, fiogetown, siocgpgrp:
		if _, ok := f.Impl().(socket.Socket); ok {
			return socketOwnerIoctl(t, f, cmd, arg)
		}
	}
	return f.Ioctl(t, cmd, arg)
}

// Lseek implements lseek(2).
func Lseek(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	whence := a[2].Int()
	if whence < unix.SEEK_SET || whence > unix.SEEK_HOLE {
		return 0, unix.EINVAL
	}
	off, err := f.Seek(t, a[1].Int64(), int(whence))
	return uintptr(off), err
}

// Umask implements umask(2).
func Umask(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.FSContext().SwapUmask(a[0].Uint() & 0o777)), nil
}

// Fsync implements fsync(2) and fdatasync(2).
func Fsync(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	return 0, f.Sync(t)
}

// Sync implements sync(2): nothing is buffered outside the memory file.
func Sync(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) { return 0, nil }

// Syncfs implements syncfs(2): nothing is buffered outside the memory
// file, so it only checks the descriptor (O_PATH ones are EBADF).
func Syncfs(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	return 0, nil
}

// Fallocate implements fallocate(2) after Linux's generic checks
// (vfs_fallocate); the file decides which modes it supports.
func Fallocate(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, mode, off, length := a[0].Int(), a[1].Uint(), a[2].Int64(), a[3].Int64()
	f, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	const supported = unix.FALLOC_FL_KEEP_SIZE | unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_COLLAPSE_RANGE |
		unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_INSERT_RANGE | unix.FALLOC_FL_UNSHARE_RANGE | 0x80 /* WRITE_ZEROES */
	if off < 0 || length <= 0 {
		return 0, unix.EINVAL
	}
	if mode&^supported != 0 {
		return 0, unix.EOPNOTSUPP
	}
	// As Linux 6.x: an invalid combination of modes is EOPNOTSUPP.
	switch mode &^ unix.FALLOC_FL_KEEP_SIZE {
	case 0, unix.FALLOC_FL_UNSHARE_RANGE, unix.FALLOC_FL_ZERO_RANGE:
	case unix.FALLOC_FL_PUNCH_HOLE:
		if mode&unix.FALLOC_FL_KEEP_SIZE == 0 {
			return 0, unix.EOPNOTSUPP
		}
	case unix.FALLOC_FL_COLLAPSE_RANGE, unix.FALLOC_FL_INSERT_RANGE, 0x80:
		if mode&unix.FALLOC_FL_KEEP_SIZE != 0 {
			return 0, unix.EOPNOTSUPP
		}
	default:
		return 0, unix.EOPNOTSUPP
	}
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	return 0, f.Allocate(t, mode, off, length)
}

// SyncFileRange implements sync_file_range(2): validation only.
func SyncFileRange(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, off, nbytes, flags := a[0].Int(), a[1].Int64(), a[2].Int64(), a[3].Uint()
	const valid = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if flags&^valid != 0 || off < 0 || nbytes < 0 || off+nbytes < off {
		return 0, unix.EINVAL
	}
	f, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	switch fileMode(t, f) {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFBLK, unix.S_IFLNK:
		return 0, nil
	}
	return 0, unix.ESPIPE
}

// Readahead implements readahead(2): validation only (file data is in
// memory already).
func Readahead(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if f.IsOPath() || !f.IsReadable() {
		return 0, unix.EBADF
	}
	if !f.Seekable() || fileMode(t, f) != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	if a[1].Int64() < 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// Fadvise64 implements fadvise64(2) as a no-op after Linux's checks.
func Fadvise64(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if a[2].Int64() < 0 || a[3].Int() < 0 || a[3].Int() > unix.FADV_NOREUSE {
		return 0, unix.EINVAL
	}
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	if !f.Seekable() {
		return 0, unix.ESPIPE
	}
	return 0, nil
}
