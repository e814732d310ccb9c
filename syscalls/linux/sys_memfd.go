package linux

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/mm"
)

// memfd_create flags.
const (
	mfdCloexec      = 0x1
	mfdAllowSealing = 0x2
	mfdHugetlb      = 0x4
	mfdNoexecSeal   = 0x8
	mfdExec         = 0x10
	// mfdNameMax is the longest name (249 bytes: NAME_MAX minus "memfd:").
	mfdNameMax = 249
)

// memfdMounts holds, per VirtualFilesystem, the internal tmpfs mount that
// memfd files live on (Linux's shm_mnt): it is never attached to the tree.
var memfdMounts sync.Map // *vfs.VirtualFilesystem -> vfs.VirtualDentry

// memfdRoot returns (creating on first use) the root of the memfd mount.
func memfdRoot(t *kernel.Task) (vfs.VirtualDentry, error) {
	v := t.Kernel().VFS
	if r, ok := memfdMounts.Load(v); ok {
		return r.(vfs.VirtualDentry), nil
	}
	fs := tmpfs.New(t.Kernel().MemoryFile, tmpfs.Options{RootMode: 0o1777, DevMinor: v.NewAnonDevMinor()})
	root, err := v.NewDisconnectedMount(fs, vfs.MountOptions{})
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	r, loaded := memfdMounts.LoadOrStore(v, root)
	if loaded {
		root.DecRef()
	}
	return r.(vfs.VirtualDentry), nil
}

// MemfdCreate implements memfd_create(2): a tmpfs file without a name,
// shown as "/memfd:NAME (deleted)".
func MemfdCreate(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[1].Uint()
	name, err := t.CopyInString(a[0].Pointer(), mfdNameMax+1)
	if err == unix.ENAMETOOLONG || err == nil && len(name) > mfdNameMax {
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, err
	}
	if flags&^(mfdCloexec|mfdAllowSealing|mfdHugetlb|mfdNoexecSeal|mfdExec) != 0 {
		return 0, unix.EINVAL
	}
	if flags&mfdHugetlb != 0 {
		// No hugetlbfs in the sandbox.
		return 0, unix.EINVAL
	}
	if flags&mfdNoexecSeal != 0 && flags&mfdExec != 0 {
		return 0, unix.EINVAL
	}
	root, err := memfdRoot(t)
	if err != nil {
		return 0, err
	}
	tc, ok := root.Dentry().Inode().(vfs.TmpfileCreator)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	vd, err := t.Kernel().VFS.NewUnlinkedFileNamed(t, root, tc, 0o777, "memfd:"+name)
	if err != nil {
		return 0, err
	}
	impl, err := vd.Dentry().Inode().Open(t, vd, unix.O_RDWR)
	if err != nil {
		vd.DecRef()
		return 0, err
	}
	if flags&(mfdAllowSealing|mfdNoexecSeal) != 0 {
		tmpfs.AllowSealing(impl)
	}
	f := vfs.NewFileDescription(impl, vd, unix.O_RDWR|oLargefile, vfs.FileDescriptionOptions{Seekable: true})
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: flags&mfdCloexec != 0}, 0)
	return uintptr(fd), err
}

// fcntlSeals implements fcntl F_ADD_SEALS and F_GET_SEALS.
func fcntlSeals(f *vfs.FileDescription, cmd int32, arg uint32) (uintptr, error) {
	if f.IsOPath() {
		return 0, unix.EBADF
	}
	if cmd == unix.F_GET_SEALS {
		s, err := tmpfs.GetSeals(f.Impl())
		return uintptr(s), err
	}
	return 0, tmpfs.AddSeals(f.Impl(), arg, f.IsWritable())
}

// sealMMap applies a file's seals to an mmap request and, for a shared
// mapping that may write, counts it so that F_SEAL_WRITE can refuse with
// EBUSY (configureFileMMap calls it).
func sealMMap(t *kernel.Task, opts *mm.MMapOpts) error {
	mayWrite, hold, err := tmpfs.MMapHook(opts.Mappable, !opts.Private, opts.Perms.Write, opts.MaxPerms.Write)
	if err != nil {
		return err
	}
	opts.MaxPerms.Write = mayWrite || opts.Private && opts.MaxPerms.Write
	if hold != nil {
		inner := opts.Hold
		opts.Hold = func(inc bool) {
			hold(inc)
			if inner != nil {
				inner(inc)
			}
		}
	}
	return nil
}
