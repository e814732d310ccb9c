package linux

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/fs/sys"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// registerMount installs mount(2) and umount2(2).
func registerMount(t *kernel.SyscallTable) {
	t.Register(unix.SYS_MOUNT, Mount)
	t.Register(unix.SYS_UMOUNT2, Umount2)
}

// Mount flags Linux accepts and ignores here (atime policy, sync,
// propagation) besides the ones the sentry implements.
const (
	msMgcMask      = 0xffff0000
	msMgcVal       = 0xc0ed0000
	msPropagation  = unix.MS_SHARED | unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_UNBINDABLE
	mountDataLimit = 4096
)

// mountOptions turns MS_* flags into per-mount flags.
func mountOptions(flags uint64) vfs.MountOptions {
	return vfs.MountOptions{
		ReadOnly: flags&unix.MS_RDONLY != 0,
		NoSuid:   flags&unix.MS_NOSUID != 0,
		NoDev:    flags&unix.MS_NODEV != 0,
		NoExec:   flags&unix.MS_NOEXEC != 0,
	}
}

// copyInOptString reads an optional string argument of mount(2).
func copyInOptString(t *kernel.Task, addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", nil
	}
	s, err := t.CopyInString(addr, max)
	if err == unix.ENAMETOOLONG {
		err = unix.EINVAL
	}
	return s, err
}

// Mount implements mount(2) for new tmpfs, proc, sysfs and cgroup2
// instances, bind mounts (MS_BIND, MS_REC), remounts (MS_REMOUNT, with
// MS_BIND for the per-mount flags only) and propagation changes (accepted; the sandbox has one mount
// namespace and no peers). It needs CAP_SYS_ADMIN.
func Mount(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	srcAddr, targetAddr, typeAddr, flags, dataAddr := a[0].Pointer(), a[1].Pointer(), a[2].Pointer(), a[3].Uint64(), a[4].Pointer()
	if flags&msMgcMask == msMgcVal {
		flags &^= msMgcMask
	}
	fstype, err := copyInOptString(t, typeAddr, 256)
	if err != nil {
		return 0, err
	}
	if _, err := copyInOptString(t, srcAddr, vfs.PathMax); err != nil {
		return 0, err
	}
	var data string
	if dataAddr != 0 && flags&unix.MS_BIND == 0 {
		if data, err = copyInOptString(t, dataAddr, mountDataLimit); err != nil {
			return 0, err
		}
	}
	v := t.Kernel().VFS
	return 0, withPath(t, unix.AT_FDCWD, targetAddr, true, func(pop *vfs.PathOperation) error {
		target, err := v.GetDentryAt(t, pop)
		if err != nil {
			return err
		}
		defer target.DecRef()
		if !t.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
		opts := mountOptions(flags)
		switch {
		case flags&unix.MS_REMOUNT != 0:
			return v.Remount(target, opts)
		case flags&unix.MS_BIND != 0:
			return withPath(t, unix.AT_FDCWD, srcAddr, true, func(spop *vfs.PathOperation) error {
				src, err := v.GetDentryAt(t, spop)
				if err != nil {
					return err
				}
				defer src.DecRef()
				return v.BindMount(src, target, flags&unix.MS_REC != 0, opts)
			})
		case flags&msPropagation != 0:
			if !target.IsMountRoot() {
				return unix.EINVAL
			}
			return nil
		case flags&unix.MS_MOVE != 0:
			return unix.EINVAL
		}
		fs, err := newMountFilesystem(t, fstype, data)
		if err != nil {
			return err
		}
		if !target.Dentry().IsDir() {
			return unix.ENOTDIR
		}
		return v.Mount(target, fs, opts)
	})
}

// newMountFilesystem makes the filesystem of a new mount.
func newMountFilesystem(t *kernel.Task, fstype, data string) (vfs.Filesystem, error) {
	v := t.Kernel().VFS
	switch fstype {
	case "":
		return nil, unix.EINVAL
	case "tmpfs":
		opts, err := tmpfs.ParseOptions(data, tmpfs.DefaultSize*2)
		if err != nil {
			return nil, err
		}
		opts.DevMinor = v.NewAnonDevMinor()
		return tmpfs.New(t.Kernel().MemoryFile, opts), nil
	case "proc":
		// A procfs instance shows the PID namespace of the task that
		// mounts it: reuse the one at boot if it shows the caller's,
		// else make one with its settings for the caller's namespace.
		root := t.FSContext().Root()
		defer root.DecRef()
		ns := t.PIDNamespace()
		for _, m := range v.Mounts(root) {
			if p, ok := m.Filesystem.(*proc.Filesystem); ok {
				if p.PIDNamespace() == ns {
					return p, nil
				}
				return p.ForPIDNamespace(ns, v.NewAnonDevMinor()), nil
			}
		}
		return proc.New(t.Kernel(), proc.Options{DevMinor: v.NewAnonDevMinor(), BootTime: time.Now(), PIDNamespace: ns}), nil
	case "sysfs", "cgroup2":
		// Likewise one sysfs and one cgroup view describe the sandbox.
		root := t.FSContext().Root()
		defer root.DecRef()
		for _, m := range v.Mounts(root) {
			if m.Filesystem.Name() == fstype {
				return m.Filesystem, nil
			}
		}
		if fstype == "sysfs" {
			return sys.New(t.Kernel(), sys.Options{DevMinor: v.NewAnonDevMinor()}), nil
		}
		return sys.NewCgroup(t.Kernel(), sys.Options{DevMinor: v.NewAnonDevMinor()}), nil
	}
	return nil, unix.ENODEV
}

// umount2 flags.
const (
	mntForce       = 0x1
	mntDetach      = 0x2
	mntExpire      = 0x4
	umountNoFollow = 0x8
)

// Umount2 implements umount2(2) (and umount). MNT_FORCE is accepted;
// MNT_EXPIRE is EAGAIN the first time, as Linux marks the mount.
func Umount2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[1].Uint()
	if flags&^(mntForce|mntDetach|mntExpire|umountNoFollow) != 0 ||
		flags&mntExpire != 0 && flags&(mntForce|mntDetach) != 0 {
		return 0, unix.EINVAL
	}
	return 0, withPath(t, unix.AT_FDCWD, a[0].Pointer(), flags&umountNoFollow == 0, func(pop *vfs.PathOperation) error {
		target, err := t.Kernel().VFS.GetDentryAt(t, pop)
		if err != nil {
			return err
		}
		defer target.DecRef()
		if !t.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
			return unix.EPERM
		}
		if !target.IsMountRoot() {
			return unix.EINVAL
		}
		if flags&mntExpire != 0 {
			return unix.EAGAIN
		}
		root := t.FSContext().Root()
		defer root.DecRef()
		if root.Mount() == target.Mount() {
			return unix.EBUSY
		}
		return t.Kernel().VFS.UmountFlags(target, flags&mntDetach != 0)
	})
}
