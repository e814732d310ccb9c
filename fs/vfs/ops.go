package vfs

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// StreamFile is implemented by a FileDescriptionImpl reached through the
// tree that has no file offset (fifos, ttys, sockets): its description is
// created non-seekable.
type StreamFile interface {
	IsStream()
}

// OpenOptions are open(2)'s arguments.
type OpenOptions struct {
	Flags uint32
	// Mode is the mode of a file created by O_CREAT, umask already applied.
	Mode uint32
}

// oTmpfile is O_TMPFILE without O_DIRECTORY.
const oTmpfile = unix.O_TMPFILE &^ unix.O_DIRECTORY

// OpenAt implements openat(2).
func (vfs *VirtualFilesystem) OpenAt(ctx Context, pop *PathOperation, opts *OpenOptions) (*FileDescription, error) {
	flags := opts.Flags
	if pop.Resolve&ResolveCached != 0 {
		// Nothing is guaranteed to be cached: callers retry without it.
		return nil, unix.EAGAIN
	}
	if flags&oTmpfile != 0 {
		return vfs.openTmpfile(ctx, pop, opts)
	}
	if flags&unix.O_PATH != 0 {
		flags &= unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	if flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
		return nil, unix.EINVAL
	}
	follow := flags&unix.O_NOFOLLOW == 0
	var (
		vd      VirtualDentry
		created bool
		err     error
	)
	r := vfs.newResolver(ctx, pop)
	if flags&unix.O_CREAT == 0 {
		r.opening, r.openFlags = flags&unix.O_PATH == 0, flags
		vd, err = r.resolve(pop.Path, follow)
	} else {
		vd, created, err = r.openCreate(pop.Path, flags, opts.Mode)
	}
	if err == errAnonFile {
		f := r.anon
		r.anon = nil
		r.release()
		return reopenAnon(ctx, f, flags)
	}
	r.release()
	if err != nil {
		return nil, err
	}
	return vfs.openDentry(ctx, vd, flags, created)
}

// reopenAnon opens, through a magic link, a file that has no path (a pipe,
// the sandbox's donated stdio): Linux reopens its inode; the sentry shares
// the description, which the caller's reference f becomes. It gives what
// the description allows: asking for an access mode it lacks is EACCES,
// and O_PATH or O_DIRECTORY on it fail as on a non-directory.
func reopenAnon(ctx Context, f *FileDescription, flags uint32) (*FileDescription, error) {
	var err error
	switch {
	case flags&unix.O_DIRECTORY != 0:
		err = unix.ENOTDIR
	case flags&unix.O_PATH != 0:
	case (flags&unix.O_ACCMODE == unix.O_RDONLY || flags&unix.O_ACCMODE == unix.O_RDWR) && !f.IsReadable(),
		(flags&unix.O_ACCMODE == unix.O_WRONLY || flags&unix.O_ACCMODE == unix.O_RDWR) && !f.IsWritable():
		err = unix.EACCES
	}
	if err != nil {
		f.DecRef(ctx)
		return nil, err
	}
	return f, nil
}

// openCreate resolves path for open(O_CREAT), creating a regular file if
// the last component does not exist.
func (r *resolver) openCreate(path string, flags, mode uint32) (VirtualDentry, bool, error) {
	for {
		name, trailing, err := r.walkParent(path)
		if err != nil {
			return VirtualDentry{}, false, err
		}
		if !r.cur.dentry.IsDir() {
			// "file/.." or "file/x": the walk through file fails.
			return VirtualDentry{}, false, unix.ENOTDIR
		}
		if name == "" || name == "." || name == ".." {
			// An existing directory: O_EXCL says it exists first.
			if flags&unix.O_EXCL != 0 {
				return VirtualDentry{}, false, unix.EEXIST
			}
			return VirtualDentry{}, false, unix.EISDIR
		}
		if trailing {
			return VirtualDentry{}, false, unix.EISDIR
		}
		if err := r.checkSearch(); err != nil {
			return VirtualDentry{}, false, err
		}
		parent := r.cur.dentry
		parent.mu.Lock()
		child, err := parent.childLocked(r.ctx, name)
		if err == nil {
			child.IncRef()
			parent.mu.Unlock()
			vd := r.vfs.followMounts(VirtualDentry{r.cur.mount, child})
			if flags&unix.O_EXCL != 0 {
				vd.DecRef()
				return VirtualDentry{}, false, unix.EEXIST
			}
			if vd.dentry.IsSymlink() && flags&unix.O_NOFOLLOW == 0 {
				if ml, ok := vd.dentry.inode.(MagicLink); ok {
					var landed bool
					if path, landed, err = r.followMagic(vd, ml, ""); err != nil {
						return VirtualDentry{}, false, err
					}
					if landed {
						vd := r.cur
						r.cur = VirtualDentry{}
						return vd, false, nil
					}
					continue
				}
				if path, err = r.followSymlink(vd, ""); err != nil {
					return VirtualDentry{}, false, err
				}
				continue
			}
			return vd, false, nil
		}
		if err != unix.ENOENT {
			parent.mu.Unlock()
			return VirtualDentry{}, false, err
		}
		ino, err := r.createLocked(parent, name, unix.S_IFREG|mode&0o7777, "")
		if err != nil {
			parent.mu.Unlock()
			return VirtualDentry{}, false, err
		}
		d := parent.insertChildLocked(ino, name)
		d.IncRef()
		notifyCreateLocked(parent, name)
		parent.mu.Unlock()
		return VirtualDentry{r.cur.mount, d}, true, nil
	}
}

// createLocked checks that r.creds may create a child in parent (r.cur)
// and asks the filesystem to. parent.mu must be held.
func (r *resolver) createLocked(parent *Dentry, name string, mode uint32, target string) (Inode, error) {
	return r.createLockedDev(parent, name, mode, target, 0)
}

// createLockedDev is createLocked for device nodes (rdev).
func (r *resolver) createLockedDev(parent *Dentry, name string, mode uint32, target string, rdev uint64) (Inode, error) {
	if r.cur.mount.ReadOnly() {
		return nil, unix.EROFS
	}
	if err := checkInodePermission(r.creds, MayWrite|MayExec, parent.inode); err != nil {
		return nil, err
	}
	pmode, _, pgid := parent.inode.Perms()
	opts := CreateOptions{Mode: mode, UID: r.creds.FilesystemKUID, GID: r.creds.FilesystemKGID, Target: target, Rdev: rdev}
	if pmode&unix.S_ISGID != 0 {
		opts.GID = pgid
		if mode&unix.S_IFMT == unix.S_IFDIR {
			opts.Mode |= unix.S_ISGID
		} else if mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP &&
			!r.creds.InGroup(pgid) && !r.creds.HasCapability(auth.CAP_FSETID) {
			// As Linux's mode_strip_sgid: a setgid-executable file in
			// a group the creator is not in would hand out that group.
			opts.Mode &^= unix.S_ISGID
		}
	}
	return parent.inode.Create(r.ctx, name, &opts)
}

// openDentry opens vd (whose reference it consumes).
func (vfs *VirtualFilesystem) openDentry(ctx Context, vd VirtualDentry, flags uint32, created bool) (*FileDescription, error) {
	d := vd.dentry
	if flags&unix.O_DIRECTORY != 0 && !d.IsDir() {
		vd.DecRef()
		return nil, unix.ENOTDIR
	}
	if flags&unix.O_PATH != 0 {
		fd := NewFileDescription(opathFile{}, vd, flags&^unix.O_PATH, FileDescriptionOptions{})
		fd.opath = true
		return fd, nil
	}
	if d.IsSymlink() {
		vd.DecRef()
		return nil, unix.ELOOP
	}
	if (d.ftype == unix.S_IFCHR || d.ftype == unix.S_IFBLK) && vd.mount.NoDev() {
		vd.DecRef()
		return nil, unix.EACCES
	}
	if flags&unix.O_CREAT != 0 && d.IsDir() {
		vd.DecRef()
		return nil, unix.EISDIR
	}
	ats := AccessFromOpenFlags(flags)
	if d.IsDir() && ats&MayWrite != 0 {
		vd.DecRef()
		return nil, unix.EISDIR
	}
	if !created {
		if ats&MayWrite != 0 && vd.mount.ReadOnly() && (d.IsRegular() || d.IsDir()) {
			vd.DecRef()
			return nil, unix.EROFS
		}
		if err := checkInodePermission(ctx.Credentials(), ats, d.inode); err != nil {
			vd.DecRef()
			return nil, err
		}
	}
	if flags&unix.O_NOATIME != 0 && !created {
		if _, uid, _ := d.inode.Perms(); !isOwner(ctx.Credentials(), uid) {
			vd.DecRef()
			return nil, unix.EPERM
		}
	}
	// As Linux's do_dentry_open, the open counts before it breaks the
	// file's leases, and the truncation comes after.
	counted, err := vfs.breakLeaseForOpen(ctx, d, flags)
	if err != nil {
		vd.DecRef()
		return nil, err
	}
	fail := func(err error) (*FileDescription, error) {
		vfs.leases.addOpen(d.inode, counted, -1)
		vd.DecRef()
		return nil, err
	}
	if flags&unix.O_TRUNC != 0 && d.IsRegular() && !created {
		opts := SetStatOptions{Mask: unix.STATX_SIZE}
		mode, _, _ := d.inode.Perms()
		if nm, kill := killPrivMode(ctx.Credentials(), mode); kill {
			opts.Mask |= unix.STATX_MODE
			opts.Mode = nm & 0o7777
		}
		if err := d.inode.SetStat(ctx, &opts); err != nil {
			return fail(err)
		}
	}
	impl, err := d.inode.Open(ctx, vd, flags)
	if err != nil {
		return fail(err)
	}
	_, stream := impl.(StreamFile)
	fd := NewFileDescription(impl, vd, flags, FileDescriptionOptions{Seekable: !stream})
	fd.counted = counted
	if da, ok := impl.(DescriptionAware); ok {
		da.SetFD(fd)
	}
	notifyOpen(fd, flags&unix.O_TRUNC != 0 && d.IsRegular() && !created)
	return fd, nil
}

// DescriptionAware is implemented by FileDescriptionImpls opened through
// the tree that need their description (for its status flags, e.g.
// O_NONBLOCK of a FIFO): SetFD is called once it exists.
type DescriptionAware interface {
	SetFD(fd *FileDescription)
}

// OpenExecutable opens path (resolved from fsc's root and cwd, following
// symlinks) for execve and the ELF loader: it must be a regular file that
// the caller may read and execute (EACCES otherwise).
func (vfs *VirtualFilesystem) OpenExecutable(ctx Context, fsc *FSContext, path string) (*FileDescription, error) {
	root, cwd := fsc.RootAndCwd()
	defer root.DecRef()
	defer cwd.DecRef()
	vd, err := vfs.GetDentryAt(ctx, &PathOperation{Root: root, Start: cwd, Path: path, Follow: true})
	if err != nil {
		return nil, err
	}
	if !vd.dentry.IsRegular() || vd.mount.NoExec() {
		vd.DecRef()
		return nil, unix.EACCES
	}
	if err := checkInodePermission(ctx.Credentials(), MayExec, vd.dentry.inode); err != nil {
		vd.DecRef()
		return nil, err
	}
	return vfs.openDentry(ctx, vd, unix.O_RDONLY, false)
}

// StatAt implements stat(2)/lstat(2)/fstatat(2) on a path.
func (vfs *VirtualFilesystem) StatAt(ctx Context, pop *PathOperation) (Stat, *Mount, error) {
	vd, f, err := vfs.getFileAt(ctx, pop)
	if err != nil {
		return Stat{}, nil, err
	}
	if f != nil {
		defer f.DecRef(ctx)
		st, err := f.Stat(ctx)
		return st, nil, err
	}
	defer vd.DecRef()
	st, err := vd.dentry.inode.Stat(ctx)
	return st, vd.mount, err
}

// ReadlinkAt implements readlinkat(2).
func (vfs *VirtualFilesystem) ReadlinkAt(ctx Context, pop *PathOperation) (string, error) {
	pop.Follow = false
	vd, err := vfs.GetDentryAt(ctx, pop)
	if err != nil {
		return "", err
	}
	defer vd.DecRef()
	return Readlink(ctx, vd)
}

// Readlink reads the target of the symlink vd (EINVAL if it is not one).
func Readlink(ctx Context, vd VirtualDentry) (string, error) {
	if !vd.dentry.IsSymlink() {
		return "", unix.EINVAL
	}
	return vd.dentry.inode.Readlink(ctx)
}

// StatFSAt implements statfs(2).
func (vfs *VirtualFilesystem) StatFSAt(ctx Context, pop *PathOperation) (unix.Statfs_t, error) {
	vd, err := vfs.GetDentryAt(ctx, pop)
	if err != nil {
		return unix.Statfs_t{}, err
	}
	defer vd.DecRef()
	return StatFS(ctx, vd)
}

// StatFS implements fstatfs(2) on a position in the tree.
func StatFS(ctx Context, vd VirtualDentry) (unix.Statfs_t, error) {
	st, err := vd.mount.fs.StatFS(ctx)
	o := vd.mount.Options()
	if o.ReadOnly {
		st.Flags |= unix.ST_RDONLY
	}
	if o.NoSuid {
		st.Flags |= unix.ST_NOSUID
	}
	if o.NoDev {
		st.Flags |= unix.ST_NODEV
	}
	if o.NoExec {
		st.Flags |= unix.ST_NOEXEC
	}
	return st, err
}

// credsContext overrides a Context's credentials (for access(2)).
type credsContext struct {
	Context
	creds *auth.Credentials
}

func (c credsContext) Credentials() *auth.Credentials { return c.creds }

// AccessAt implements faccessat2(2): mode is F_OK or a mask of
// R_OK/W_OK/X_OK; unless effective, the real uid and gid are used.
func (vfs *VirtualFilesystem) AccessAt(ctx Context, pop *PathOperation, mode uint32, effective bool) error {
	if !effective {
		// As Linux's access_override_creds: the real ids, and unless
		// SECBIT_NO_SETUID_FIXUP, no capabilities for a real uid other
		// than 0 and the permitted ones for 0.
		c := ctx.Credentials()
		caps := c.EffectiveCaps
		if c.SecureBits&auth.SecbitNoSetuidFixup == 0 {
			if c.RealKUID != 0 {
				caps = 0
			} else {
				caps = c.PermittedCaps
			}
		}
		if c.FilesystemKUID != c.RealKUID || c.FilesystemKGID != c.RealKGID || c.EffectiveCaps != caps {
			n := c.Fork()
			n.FilesystemKUID, n.FilesystemKGID = c.RealKUID, c.RealKGID
			n.EffectiveCaps = caps
			ctx = credsContext{ctx, n}
		}
	}
	vd, f, err := vfs.getFileAt(ctx, pop)
	if err != nil {
		return err
	}
	if f != nil {
		// A file without a path: what its description allows.
		defer f.DecRef(ctx)
		if mode&MayRead != 0 && !f.IsReadable() || mode&MayWrite != 0 && !f.IsWritable() || mode&MayExec != 0 {
			return unix.EACCES
		}
		return nil
	}
	defer vd.DecRef()
	if mode == 0 {
		return nil
	}
	if mode&MayWrite != 0 && vd.mount.ReadOnly() && !vd.dentry.IsSymlink() && (vd.dentry.IsRegular() || vd.dentry.IsDir()) {
		return unix.EROFS
	}
	if mode&MayExec != 0 && vd.dentry.IsRegular() && vd.mount.NoExec() {
		return unix.EACCES
	}
	return checkInodePermission(ctx.Credentials(), mode, vd.dentry.inode)
}

// MkdirAt implements mkdirat(2); mode has the umask applied.
func (vfs *VirtualFilesystem) MkdirAt(ctx Context, pop *PathOperation, mode uint32) error {
	return vfs.createAt(ctx, pop, unix.S_IFDIR|mode&0o7777, "", 0, true)
}

// SymlinkAt implements symlinkat(2).
func (vfs *VirtualFilesystem) SymlinkAt(ctx Context, pop *PathOperation, target string) error {
	if target == "" {
		return unix.ENOENT
	}
	return vfs.createAt(ctx, pop, unix.S_IFLNK|0o777, target, 0, false)
}

// MknodAt implements mknodat(2) for the types the filesystem supports;
// rdev is the device number of a device node.
func (vfs *VirtualFilesystem) MknodAt(ctx Context, pop *PathOperation, mode uint32, rdev uint64) error {
	return vfs.createAt(ctx, pop, mode, "", rdev, false)
}

func (vfs *VirtualFilesystem) createAt(ctx Context, pop *PathOperation, mode uint32, target string, rdev uint64, allowTrailing bool) error {
	p, err := vfs.walkToParent(ctx, pop)
	if err != nil {
		return err
	}
	defer p.r.release()
	if err := p.r.checkSearch(); err != nil {
		return err
	}
	if p.isDotName() {
		return unix.EEXIST
	}
	parent := p.r.cur.dentry
	parent.mu.Lock()
	defer parent.mu.Unlock()
	if _, err := parent.childLocked(ctx, p.name); err == nil {
		return unix.EEXIST
	} else if err != unix.ENOENT {
		return err
	}
	if p.trailing && !allowTrailing {
		return unix.ENOENT
	}
	ino, err := p.r.createLockedDev(parent, p.name, mode, target, rdev)
	if err != nil {
		return err
	}
	parent.insertChildLocked(ino, p.name)
	notifyCreateLocked(parent, p.name)
	return nil
}

// LinkAt implements linkat(2): oldpop.Follow is AT_SYMLINK_FOLLOW.
func (vfs *VirtualFilesystem) LinkAt(ctx Context, oldpop, newpop *PathOperation) error {
	old, err := vfs.GetDentryAt(ctx, oldpop)
	if err != nil {
		return err
	}
	defer old.DecRef()
	return vfs.Link(ctx, old, newpop)
}

// Link implements linkat(2) for an already resolved old file (linkat
// with AT_EMPTY_PATH names the file of a descriptor, even an O_TMPFILE).
// Its errors come in Linux's order: the new name's (its parent, EEXIST,
// EROFS), EXDEV, the parent's permission, then EPERM for a directory.
func (vfs *VirtualFilesystem) Link(ctx Context, old VirtualDentry, newpop *PathOperation) error {
	p, err := vfs.walkToParent(ctx, newpop)
	if err != nil {
		return err
	}
	defer p.r.release()
	if err := p.r.checkSearch(); err != nil {
		return err
	}
	if p.isDotName() {
		return unix.EEXIST
	}
	parent := p.r.cur.dentry
	parent.mu.Lock()
	defer parent.mu.Unlock()
	if _, err := parent.childLocked(ctx, p.name); err == nil {
		return unix.EEXIST
	} else if err != unix.ENOENT {
		return err
	}
	if p.trailing {
		return unix.ENOENT
	}
	if p.r.cur.mount.ReadOnly() {
		return unix.EROFS
	}
	if p.r.cur.mount != old.mount {
		return unix.EXDEV
	}
	if err := checkInodePermission(p.r.creds, MayWrite|MayExec, parent.inode); err != nil {
		return err
	}
	if old.dentry.IsDir() {
		return unix.EPERM
	}
	old.dentry.mu.Lock()
	dead, linkable := old.dentry.dead, old.dentry.linkable
	old.dentry.mu.Unlock()
	if dead && !linkable {
		return unix.ENOENT
	}
	ino, err := parent.inode.Link(ctx, p.name, old.dentry.inode)
	if err != nil {
		return err
	}
	if linkable {
		old.dentry.mu.Lock()
		old.dentry.linkable = false
		old.dentry.mu.Unlock()
	}
	parent.insertChildLocked(ino, p.name)
	notifyLinkLocked(old.dentry, parent, p.name)
	return nil
}

// UnlinkAt implements unlinkat(2) without AT_REMOVEDIR.
func (vfs *VirtualFilesystem) UnlinkAt(ctx Context, pop *PathOperation) error {
	return vfs.removeAt(ctx, pop, false)
}

// RmdirAt implements rmdir(2) and unlinkat(AT_REMOVEDIR).
func (vfs *VirtualFilesystem) RmdirAt(ctx Context, pop *PathOperation) error {
	return vfs.removeAt(ctx, pop, true)
}

func (vfs *VirtualFilesystem) removeAt(ctx Context, pop *PathOperation, dir bool) error {
	p, err := vfs.walkToParent(ctx, pop)
	if err != nil {
		return err
	}
	defer p.r.release()
	switch {
	case p.name == "" && dir:
		return unix.EBUSY
	case p.name == "." && dir:
		return unix.EINVAL
	case p.name == ".." && dir:
		return unix.ENOTEMPTY
	case p.isDotName():
		return unix.EISDIR
	}
	if err := p.r.checkSearch(); err != nil {
		return err
	}
	if p.r.cur.mount.ReadOnly() {
		return unix.EROFS
	}
	parent := p.r.cur.dentry
	parent.mu.Lock()
	child, err := parent.childLocked(ctx, p.name)
	if err != nil {
		parent.mu.Unlock()
		return err
	}
	err = func() error {
		if !dir && p.trailing {
			if child.IsDir() {
				return unix.EISDIR
			}
			return unix.ENOTDIR
		}
		if err := checkInodePermission(p.r.creds, MayWrite|MayExec, parent.inode); err != nil {
			return err
		}
		if err := checkSticky(p.r.creds, parent.inode, child.inode); err != nil {
			return err
		}
		if dir {
			if !child.IsDir() {
				return unix.ENOTDIR
			}
			if child.mounts.Load() != 0 || (p.r.root.dentry == child && p.r.root.mount == p.r.cur.mount) {
				return unix.EBUSY
			}
			return parent.inode.Rmdir(ctx, p.name, child.inode)
		}
		if child.IsDir() {
			return unix.EISDIR
		}
		if child.mounts.Load() != 0 {
			return unix.EBUSY
		}
		return parent.inode.Unlink(ctx, p.name, child.inode)
	}()
	if err != nil {
		parent.mu.Unlock()
		return err
	}
	child.killLocked(parent, p.name)
	parent.mu.Unlock()
	removeAndNotify(ctx, parent, p.name, child)
	return nil
}

// RenameAt implements renameat2(2): flags are 0 or RENAME_NOREPLACE,
// RENAME_EXCHANGE (both names must exist; they swap) or RENAME_WHITEOUT
// (the old name becomes a whiteout, a 0:0 character device; the caller
// checked CAP_MKNOD).
func (vfs *VirtualFilesystem) RenameAt(ctx Context, oldpop, newpop *PathOperation, flags uint32) error {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 ||
		flags&unix.RENAME_EXCHANGE != 0 && flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 {
		return unix.EINVAL
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	op, err := vfs.walkToParent(ctx, oldpop)
	if err != nil {
		return err
	}
	defer op.r.release()
	np, err := vfs.walkToParent(ctx, newpop)
	if err != nil {
		return err
	}
	defer np.r.release()
	// Linux's order: EXDEV, then "." or ".." as a name (EEXIST for the
	// new one under RENAME_NOREPLACE, which forbids any existing target).
	if op.r.cur.mount != np.r.cur.mount {
		return unix.EXDEV
	}
	if op.isDotName() {
		return unix.EBUSY
	}
	if np.isDotName() {
		if flags&unix.RENAME_NOREPLACE != 0 {
			return unix.EEXIST
		}
		return unix.EBUSY
	}
	if err := op.r.checkSearch(); err != nil {
		return err
	}
	if err := np.r.checkSearch(); err != nil {
		return err
	}
	mnt := op.r.cur.mount
	if mnt.ReadOnly() {
		return unix.EROFS
	}
	creds := op.r.creds
	oldParent, newParent := op.r.cur.dentry, np.r.cur.dentry
	if _, ok := oldParent.inode.(NoWhiteouts); ok && flags&unix.RENAME_WHITEOUT != 0 {
		return unix.EINVAL
	}

	vfs.renameMu.Lock()
	defer vfs.renameMu.Unlock()
	// Lock order is parent before child (as every single-directory
	// operation that touches a child's lock): lock an ancestor first.
	// Unrelated directories are never locked together by anyone else.
	first, second := oldParent, newParent
	for d := oldParent.parent; d != nil; d = d.parent {
		if d == newParent {
			first, second = newParent, oldParent
			break
		}
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if second != first {
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	if newParent.dead {
		return unix.ENOENT
	}
	child, err := oldParent.childLocked(ctx, op.name)
	if err != nil {
		return err
	}
	if (op.trailing || np.trailing) && !child.IsDir() {
		return unix.ENOTDIR
	}
	replaced, err := newParent.childLocked(ctx, np.name)
	if err != nil && (err != unix.ENOENT || exchange) {
		return err
	}
	if exchange {
		if (op.trailing || np.trailing) && !replaced.IsDir() {
			return unix.ENOTDIR
		}
		return vfs.exchangeLocked(ctx, creds, oldParent, op.name, child, newParent, np.name, replaced)
	}
	if replaced != nil {
		// RENAME_NOREPLACE refuses any existing target, the file
		// itself included.
		if flags&unix.RENAME_NOREPLACE != 0 {
			return unix.EEXIST
		}
	}
	// Ancestry before anything else about the two files, as Linux's
	// lock_rename trap: a directory may not move to itself or below
	// it, and the replaced file may not be an ancestor of the source.
	if child.IsDir() {
		for d := newParent; d != nil; d = d.parent {
			if d == child {
				return unix.EINVAL
			}
		}
	}
	if replaced != nil {
		for d := oldParent; d != nil; d = d.parent {
			if d == replaced {
				return unix.ENOTEMPTY
			}
		}
		if replaced == child || replaced.inode == child.inode {
			return nil
		}
	}
	// Permissions, as may_delete/may_create.
	if err := checkInodePermission(creds, MayWrite|MayExec, oldParent.inode); err != nil {
		return err
	}
	if err := checkSticky(creds, oldParent.inode, child.inode); err != nil {
		return err
	}
	if newParent != oldParent {
		if err := checkInodePermission(creds, MayWrite|MayExec, newParent.inode); err != nil {
			return err
		}
		if child.IsDir() {
			if err := checkInodePermission(creds, MayWrite, child.inode); err != nil {
				return err
			}
		}
	}
	if replaced != nil {
		if err := checkSticky(creds, newParent.inode, replaced.inode); err != nil {
			return err
		}
		if child.IsDir() && !replaced.IsDir() {
			return unix.ENOTDIR
		}
		if !child.IsDir() && replaced.IsDir() {
			return unix.EISDIR
		}
		if replaced.mounts.Load() != 0 {
			return unix.EBUSY
		}
	}
	if child.mounts.Load() != 0 {
		return unix.EBUSY
	}
	var replacedInode Inode
	if replaced != nil {
		replacedInode = replaced.inode
	}
	if err := oldParent.inode.Rename(ctx, op.name, child.inode, newParent.inode, np.name, replacedInode); err != nil {
		return err
	}
	if replaced != nil {
		replaced.killLocked(newParent, np.name)
		defer replaced.decRef()
	}
	delete(oldParent.children, op.name)
	if newParent.children == nil {
		newParent.children = make(map[string]*Dentry)
	}
	newParent.children[np.name] = child
	child.name = np.name
	if newParent != oldParent {
		newParent.IncRef()
		child.parent = newParent
		// oldParent is referenced by op.r.cur, so this is not the last.
		oldParent.refs.Add(-1)
	}
	notifyRename(ctx, oldParent, op.name, newParent, np.name, child, replaced)
	if flags&unix.RENAME_WHITEOUT != 0 {
		wo, err := oldParent.inode.Create(ctx, op.name, &CreateOptions{Mode: unix.S_IFCHR, UID: creds.FilesystemKUID, GID: creds.FilesystemKGID})
		if err != nil {
			return err
		}
		oldParent.insertChildLocked(wo, op.name)
	}
	return nil
}

// NoWhiteouts is implemented by directory nodes of filesystems that cannot
// make the whiteout of renameat2(RENAME_WHITEOUT) (a gofer mount: device
// nodes on the host are not the container's): the rename then fails with
// EINVAL before anything moves, as on Linux for such a filesystem.
type NoWhiteouts interface {
	NoWhiteouts()
}

// Exchanger is implemented by directory nodes whose filesystem supports
// renameat2(RENAME_EXCHANGE): it swaps this directory's oldName (a) with
// newParent's newName (b).
type Exchanger interface {
	Exchange(ctx Context, oldName string, a Inode, newParent Inode, newName string, b Inode) error
}

// exchangeLocked is RENAME_EXCHANGE once both parents are locked.
func (vfs *VirtualFilesystem) exchangeLocked(ctx Context, creds *auth.Credentials, oldParent *Dentry, oldName string, a *Dentry, newParent *Dentry, newName string, b *Dentry) error {
	if a == b || a.inode == b.inode {
		return nil
	}
	for _, c := range []struct{ parent, child *Dentry }{{oldParent, a}, {newParent, b}} {
		if err := checkInodePermission(creds, MayWrite|MayExec, c.parent.inode); err != nil {
			return err
		}
		if err := checkSticky(creds, c.parent.inode, c.child.inode); err != nil {
			return err
		}
		if c.child.mounts.Load() != 0 {
			return unix.EBUSY
		}
	}
	if oldParent != newParent {
		for _, c := range []*Dentry{a, b} {
			if c.IsDir() {
				if err := checkInodePermission(creds, MayWrite, c.inode); err != nil {
					return err
				}
			}
		}
		// Neither may end up below itself.
		for d := newParent; d != nil; d = d.parent {
			if d == a {
				return unix.EINVAL
			}
		}
		for d := oldParent; d != nil; d = d.parent {
			if d == b {
				return unix.EINVAL
			}
		}
	}
	ex, ok := oldParent.inode.(Exchanger)
	if !ok {
		return unix.EINVAL
	}
	if err := ex.Exchange(ctx, oldName, a.inode, newParent.inode, newName, b.inode); err != nil {
		return err
	}
	oldParent.children[oldName] = b
	newParent.children[newName] = a
	a.name, b.name = newName, oldName
	if oldParent != newParent {
		a.parent, b.parent = newParent, oldParent
	}
	notifyExchange(ctx, oldParent, oldName, a, newParent, newName, b)
	return nil
}

// utimeNow and utimeOmit are utimensat's special nanosecond values.
const (
	utimeNow  = (1 << 30) - 1
	utimeOmit = (1 << 30) - 2
)

// SetStat implements chmod, chown, truncate and utimensat on vd after
// Linux's permission checks. Atime/Mtime may carry UTIME_NOW or UTIME_OMIT
// in Nsec. byFD is true for the f* variants (ftruncate needs no write
// permission: the caller checked that the file is open for writing).
func (vfs *VirtualFilesystem) SetStat(ctx Context, vd VirtualDentry, opts *SetStatOptions, byFD bool) error {
	creds := ctx.Credentials()
	ino := vd.dentry.inode
	mode, uid, gid := ino.Perms()
	o := *opts
	if o.Mask&unix.STATX_ATIME != 0 && o.Atime.Nsec == utimeOmit {
		o.Mask &^= unix.STATX_ATIME
	}
	if o.Mask&unix.STATX_MTIME != 0 && o.Mtime.Nsec == utimeOmit {
		o.Mask &^= unix.STATX_MTIME
	}
	if o.Mask == 0 {
		return nil
	}
	if vd.mount.ReadOnly() {
		return unix.EROFS
	}
	if o.Mask&unix.STATX_SIZE != 0 {
		switch {
		case vd.dentry.IsDir():
			return unix.EISDIR
		case !vd.dentry.IsRegular():
			return unix.EINVAL
		}
		if !byFD {
			if err := CheckPermission(creds, MayWrite, mode, uid, gid); err != nil {
				return err
			}
			// truncate(2) breaks the file's leases as an open for
			// writing would, and counts as one meanwhile (Linux's
			// vfs_truncate); ftruncate(2) does not.
			counted, err := vfs.breakLeaseForOpen(ctx, vd.dentry, unix.O_WRONLY)
			if err != nil {
				return err
			}
			defer vfs.leases.addOpen(ino, counted, -1)
		}
		if err := checkNewSize(ctx, o.Size, func() (uint64, error) {
			st, err := ino.Stat(ctx)
			return st.Size, err
		}); err != nil {
			return err
		}
		if o.Mask&unix.STATX_MODE == 0 {
			if nm, kill := killPrivMode(creds, mode); kill {
				o.Mask |= unix.STATX_MODE
				o.Mode = nm & 0o7777
			}
		}
	}
	if o.Mask&(unix.STATX_UID|unix.STATX_GID) != 0 {
		// As Linux's chown_ok and chgrp_ok.
		hasChown := creds.HasCapability(auth.CAP_CHOWN)
		if o.Mask&unix.STATX_UID != 0 && !hasChown && !(creds.FilesystemKUID == uid && o.UID == uid) {
			return unix.EPERM
		}
		if o.Mask&unix.STATX_GID != 0 && !hasChown && !(creds.FilesystemKUID == uid && (o.GID == gid || creds.InGroup(o.GID))) {
			return unix.EPERM
		}
		if mode&unix.S_IFMT != unix.S_IFDIR && o.Mask&unix.STATX_MODE == 0 {
			nm := mode &^ unix.S_ISUID
			if mode&0o010 != 0 {
				nm &^= unix.S_ISGID
			}
			if nm != mode {
				o.Mask |= unix.STATX_MODE
				o.Mode = nm & 0o7777
			}
		}
	}
	if opts.Mask&unix.STATX_MODE != 0 {
		if !isOwner(creds, uid) {
			return unix.EPERM
		}
		o.Mode &= 0o7777
		g := gid
		if o.Mask&unix.STATX_GID != 0 {
			g = o.GID
		}
		if !creds.InGroup(g) && !creds.HasCapability(auth.CAP_FSETID) {
			o.Mode &^= unix.S_ISGID
		}
	}
	if o.Mask&(unix.STATX_ATIME|unix.STATX_MTIME) != 0 {
		// As Linux's vfs_utimes, only "both now" (or NULL times) is a
		// touch that write permission allows; {UTIME_NOW, UTIME_OMIT}
		// is an explicit change that needs ownership.
		explicit := o.Mask&(unix.STATX_ATIME|unix.STATX_MTIME) != unix.STATX_ATIME|unix.STATX_MTIME ||
			o.Atime.Nsec != utimeNow || o.Mtime.Nsec != utimeNow
		if !isOwner(creds, uid) {
			if explicit {
				return unix.EPERM
			}
			if err := CheckPermission(creds, MayWrite, mode, uid, gid); err != nil {
				return err
			}
		}
		now := Now()
		if o.Atime.Nsec == utimeNow {
			o.Atime = now
		}
		if o.Mtime.Nsec == utimeNow {
			o.Mtime = now
		}
	}
	return vfs.notifySetStat(vd, &o, ino.SetStat(ctx, &o))
}

// SetStatAt is SetStat on a path.
func (vfs *VirtualFilesystem) SetStatAt(ctx Context, pop *PathOperation, opts *SetStatOptions) error {
	vd, err := vfs.GetDentryAt(ctx, pop)
	if err != nil {
		return err
	}
	defer vd.DecRef()
	return vfs.SetStat(ctx, vd, opts, false)
}

// IsDeleted reports whether the dentry has been unlinked.
func (d *Dentry) IsDeleted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead
}
