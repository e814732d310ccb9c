package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

func copyOutStat(t *kernel.Task, addr uint64, st *vfs.Stat) error {
	var s unix.Stat_t
	st.ToStatT(&s)
	buf := t.Scratch(abi.SizeofStat)
	abi.MarshalStat(buf, &s)
	_, err := t.CopyOut(addr, buf)
	return err
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	st, err := f.Stat(t)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, a[1].Pointer(), &st)
}

// Stat implements stat(2).
func Stat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return fstatat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Pointer(), 0)
}

// Lstat implements lstat(2).
func Lstat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return fstatat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Pointer(), unix.AT_SYMLINK_NOFOLLOW)
}

// Newfstatat implements newfstatat(2).
func Newfstatat(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return fstatat(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Uint())
}

// statTarget resolves the target of a stat-like call: a path relative to
// dirfd, or dirfd itself with AT_EMPTY_PATH and "". It returns the stat and
// the mount id.
func statTarget(t *kernel.Task, dirfd int32, pathAddr uint64, flags uint32) (vfs.Stat, uint64, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return vfs.Stat{}, 0, err
	}
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, dirfd, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0, &p); err != nil {
		return vfs.Stat{}, 0, err
	}
	if p.emptyOnFD && p.file != nil {
		st, err := p.file.Stat(t)
		var id uint64
		if vd := p.file.VirtualDentry(); vd.Ok() {
			id = vd.Mount().ID()
		}
		return st, id, err
	}
	if p.emptyOnFD {
		// AT_FDCWD with "" and AT_EMPTY_PATH: the working directory.
		vd, err := p.getTarget(t)
		if err != nil {
			return vfs.Stat{}, 0, err
		}
		defer vd.DecRef()
		st, err := vd.Dentry().Inode().Stat(t)
		return st, vd.Mount().ID(), err
	}
	st, m, err := t.Kernel().VFS.StatAt(t, &p.pop)
	var id uint64
	if m != nil {
		id = m.ID()
	}
	return st, id, err
}

func fstatat(t *kernel.Task, dirfd int32, pathAddr, statAddr uint64, flags uint32) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	st, _, err := statTarget(t, dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, statAddr, &st)
}

// Statx implements statx(2).
func Statx(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, flags, mask, addr := a[0].Int(), a[1].Pointer(), a[2].Uint(), a[3].Uint(), a[4].Pointer()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 ||
		flags&atStatxSyncType == atStatxSyncType || mask&unix.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	st, mntID, err := statTarget(t, dirfd, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	var sx unix.Statx_t
	st.ToStatx(&sx, mntID)
	buf := t.Scratch(abi.SizeofStatx)
	abi.MarshalStatx(buf, &sx)
	_, err = t.CopyOut(addr, buf)
	return 0, err
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	path, err := copyInPath(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	var p pathArgs
	defer p.release(t)
	if err := setupPath(t, unix.AT_FDCWD, path, true, false, &p); err != nil {
		return 0, err
	}
	st, err := t.Kernel().VFS.StatFSAt(t, &p.pop)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStatfs(t, a[1].Pointer(), &st)
}

// pipefsMagic is reported by fstatfs on files outside the tree.
const pipefsMagic = 0x50495045

// Fstatfs implements fstatfs(2).
func Fstatfs(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	f, _, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	st := unix.Statfs_t{Type: pipefsMagic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}
	if vd := f.VirtualDentry(); vd.Ok() {
		if st, err = vfs.StatFS(t, vd); err != nil {
			return 0, err
		}
	}
	return 0, copyOutStatfs(t, a[1].Pointer(), &st)
}

func copyOutStatfs(t *kernel.Task, addr uint64, st *unix.Statfs_t) error {
	buf := t.Scratch(abi.SizeofStatfs)
	abi.MarshalStatfs(buf, st)
	_, err := t.CopyOut(addr, buf)
	return err
}

// atStatxSyncType is AT_STATX_SYNC_TYPE (AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC).
const atStatxSyncType = 0x6000
