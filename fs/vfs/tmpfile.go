package vfs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// TmpfileCreator is implemented by directory nodes of filesystems that
// support O_TMPFILE (tmpfs): CreateTmpfile makes a regular file with no
// name that linkat may name later. It returns the node and its inode
// number (for the "#ino" name Linux shows in /proc/[pid]/fd).
type TmpfileCreator interface {
	CreateTmpfile(ctx Context, opts *CreateOptions) (Inode, uint64, error)
}

// openTmpfile implements open(O_TMPFILE): pop names the directory the
// unnamed file belongs to. The syscall layer has validated the flags
// (O_WRONLY or O_RDWR, no O_CREAT).
func (vfs *VirtualFilesystem) openTmpfile(ctx Context, pop *PathOperation, opts *OpenOptions) (*FileDescription, error) {
	p := *pop
	p.Follow = true
	dir, err := vfs.GetDentryAt(ctx, &p)
	if err != nil {
		return nil, err
	}
	defer dir.DecRef()
	if !dir.dentry.IsDir() {
		return nil, unix.ENOTDIR
	}
	creds := ctx.Credentials()
	if err := checkInodePermission(creds, MayWrite|MayExec, dir.dentry.inode); err != nil {
		return nil, err
	}
	if dir.mount.ReadOnly() {
		return nil, unix.EROFS
	}
	tc, ok := dir.dentry.inode.(TmpfileCreator)
	if !ok {
		return nil, unix.EOPNOTSUPP
	}
	_, vd, err := vfs.NewUnlinkedFile(ctx, dir, tc, opts.Mode, opts.Flags&unix.O_EXCL == 0)
	if err != nil {
		return nil, err
	}
	flags := opts.Flags &^ (unix.O_TMPFILE | unix.O_EXCL)
	impl, err := vd.dentry.inode.Open(ctx, vd, flags)
	if err != nil {
		vd.DecRef()
		return nil, err
	}
	fd := NewFileDescription(impl, vd, flags, FileDescriptionOptions{Seekable: true})
	// A new file has no lease to break, but its opens count.
	fd.counted = openKind(unix.S_IFREG, flags)
	vfs.leases.addOpen(vd.dentry.inode, fd.counted, 1)
	return fd, nil
}

// NewUnlinkedFile creates, through tc (dir's node or another directory of
// the same filesystem), a regular file that has no name, and returns a
// referenced dentry for it: a deleted child of dir called "#ino" (Linux's
// name for it in /proc/[pid]/fd). linkable lets linkat name it later
// (O_TMPFILE without O_EXCL). memfd_create uses it with its own name via
// NewUnlinkedFileNamed.
func (vfs *VirtualFilesystem) NewUnlinkedFile(ctx Context, dir VirtualDentry, tc TmpfileCreator, mode uint32, linkable bool) (uint64, VirtualDentry, error) {
	return vfs.newUnlinked(ctx, dir, tc, mode, linkable, "")
}

// NewUnlinkedFileNamed is NewUnlinkedFile with the dentry called name.
func (vfs *VirtualFilesystem) NewUnlinkedFileNamed(ctx Context, dir VirtualDentry, tc TmpfileCreator, mode uint32, name string) (VirtualDentry, error) {
	_, vd, err := vfs.newUnlinked(ctx, dir, tc, mode, false, name)
	return vd, err
}

func (vfs *VirtualFilesystem) newUnlinked(ctx Context, dir VirtualDentry, tc TmpfileCreator, mode uint32, linkable bool, name string) (uint64, VirtualDentry, error) {
	creds := ctx.Credentials()
	opts := CreateOptions{Mode: unix.S_IFREG | mode&0o7777, UID: creds.FilesystemKUID, GID: creds.FilesystemKGID}
	pmode, _, pgid := dir.dentry.inode.Perms()
	if pmode&unix.S_ISGID != 0 {
		opts.GID = pgid
	}
	ino, num, err := tc.CreateTmpfile(ctx, &opts)
	if err != nil {
		return 0, VirtualDentry{}, err
	}
	if name == "" {
		name = "#" + strconv.FormatUint(num, 10)
	}
	d := newDentry(ino, dir.dentry, name)
	d.dead = true
	d.linkable = linkable
	return num, VirtualDentry{dir.mount, d}, nil
}
