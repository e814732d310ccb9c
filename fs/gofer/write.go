package gofer

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/fsutil"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// Create implements vfs.Inode.Create: regular files (the gofer donates a
// read-write descriptor of the new file), directories, symlinks, FIFOs
// (pipes of the sentry), sockets, and device nodes and whiteouts (which
// the gofer makes as placeholders, never as host device nodes).
func (i *inode) Create(ctx vfs.Context, name string, opts *vfs.CreateOptions) (vfs.Inode, error) {
	if !i.fs.opts.Writable {
		return nil, unix.EROFS
	}
	req := gproto.Request{FID: i.fid.Load(), Name: name, Mode: opts.Mode, UID: uint32(opts.UID), GID: uint32(opts.GID)}
	switch opts.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		req.Type, req.Flags = gproto.TCreate, unix.O_RDWR
	case unix.S_IFDIR:
		req.Type = gproto.TMkdir
	case unix.S_IFLNK:
		req.Type, req.Name2 = gproto.TSymlink, opts.Target
		if len(opts.Target) >= gproto.MaxPath {
			return nil, unix.ENAMETOOLONG
		}
	case unix.S_IFIFO, unix.S_IFSOCK:
		req.Type = gproto.TMknod
	case unix.S_IFCHR, unix.S_IFBLK:
		// A placeholder on the host (device.go).
		req.Type, req.Rdev = gproto.TMknod, opts.Rdev
	default:
		return nil, unix.EPERM
	}
	fid, a, fd, err := i.fs.c.NewNode(&req)
	if err != nil {
		return nil, i.fs.check(ctx, err)
	}
	i.forgetMissing(name)
	i.markStale()
	if a.Mode&unix.S_IFMT == unix.S_IFIFO {
		i.fs.mu.Lock()
		i.fs.fifos[fileKey{a.Dev, a.Ino}] = struct{}{}
		i.fs.mu.Unlock()
	}
	c := i.fs.newInode(fid, &a, i, name, fd)
	if req.Type == gproto.TMkdir && !i.fs.shared() {
		c.complete.Store(true)
	}
	return c, nil
}

// Link implements vfs.Inode.Link. The new name's node shares the
// target's state, whose nlink the gofer's reply updates.
func (i *inode) Link(ctx vfs.Context, name string, target vfs.Inode) (vfs.Inode, error) {
	if !i.fs.opts.Writable {
		return nil, unix.EROFS
	}
	t, ok := target.(*inode)
	if !ok || t.fs != i.fs {
		return nil, unix.EXDEV
	}
	fid, a, _, err := i.fs.c.NewNode(&gproto.Request{Type: gproto.TLink, FID: i.fid.Load(), Name: name, FID2: t.fid.Load()})
	if err != nil {
		return nil, i.fs.check(ctx, err)
	}
	i.forgetMissing(name)
	i.markStale()
	return i.fs.newInode(fid, &a, i, name, -1), nil
}

// Unlink implements vfs.Inode.Unlink.
func (i *inode) Unlink(ctx vfs.Context, name string, child vfs.Inode) error {
	return i.remove(ctx, name, child, 0)
}

// Rmdir implements vfs.Inode.Rmdir.
func (i *inode) Rmdir(ctx vfs.Context, name string, child vfs.Inode) error {
	return i.remove(ctx, name, child, unix.AT_REMOVEDIR)
}

func (i *inode) remove(ctx vfs.Context, name string, child vfs.Inode, flags uint32) error {
	if !i.fs.opts.Writable {
		return unix.EROFS
	}
	if err := i.fs.c.Call(&gproto.Request{Type: gproto.TUnlink, FID: i.fid.Load(), Name: name, Flags: flags}); err != nil {
		return i.fs.check(ctx, err)
	}
	i.markStale()
	if c, ok := child.(*inode); ok {
		c.dropLink()
		c.dropName(i, name)
	}
	return nil
}

// dropLink accounts for the removal of one name of the node: its fid names
// nothing now, so its attributes are the sandbox's to keep.
func (i *inode) dropLink() {
	st := i.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ftype == unix.S_IFDIR || st.attr.Nlink <= 1 {
		st.attr.Nlink = 0
	} else {
		st.attr.Nlink--
	}
	st.attr.Ctim = vfs.Now()
	// A host descriptor, if any, still knows the truth.
	st.stale = st.anyFDLocked() >= 0
}

// Rename implements vfs.Inode.Rename within the filesystem.
func (i *inode) Rename(ctx vfs.Context, oldName string, child vfs.Inode, newParent vfs.Inode, newName string, replaced vfs.Inode) error {
	return i.rename(ctx, oldName, child, newParent, newName, replaced, 0)
}

// Exchange implements vfs.Exchanger: renameat2(RENAME_EXCHANGE).
func (i *inode) Exchange(ctx vfs.Context, oldName string, a vfs.Inode, newParent vfs.Inode, newName string, b vfs.Inode) error {
	return i.rename(ctx, oldName, a, newParent, newName, b, unix.RENAME_EXCHANGE)
}

func (i *inode) rename(ctx vfs.Context, oldName string, child vfs.Inode, newParent vfs.Inode, newName string, other vfs.Inode, flags uint32) error {
	if !i.fs.opts.Writable {
		return unix.EROFS
	}
	np, ok := newParent.(*inode)
	c, ok2 := child.(*inode)
	if !ok || !ok2 || np.fs != i.fs {
		return unix.EXDEV
	}
	o, _ := other.(*inode)
	if flags == unix.RENAME_EXCHANGE && o == nil {
		return unix.EINVAL
	}
	res, err := i.fs.c.Rename(&gproto.Request{Type: gproto.TRename, FID: i.fid.Load(), Name: oldName, FID2: np.fid.Load(), Name2: newName, Flags: flags})
	if err != nil {
		return i.fs.check(ctx, err)
	}
	i.markStale()
	np.markStale()
	np.forgetMissing(newName)
	// The gofer reaches a non-directory by parent and name: the moved
	// nodes take the fids the reply gives for their new names.
	c.moved(&res[0], i, oldName, np, newName)
	if flags == unix.RENAME_EXCHANGE {
		o.moved(&res[1], np, newName, i, oldName)
	} else if o != nil {
		o.dropLink()
		o.dropName(np, newName)
	}
	return nil
}

// SetStat implements vfs.Inode.SetStat. A size change of a file that has a
// host descriptor for writing is made on it (no round trip, and right for
// an unlinked file); the rest goes to the gofer.
func (i *inode) SetStat(ctx vfs.Context, opts *vfs.SetStatOptions) error {
	if !i.fs.opts.Writable {
		return unix.EROFS
	}
	st := i.st
	req := gproto.Request{Type: gproto.TSetStat, FID: i.fid.Load()}
	if opts.Mask&unix.STATX_MODE != 0 {
		req.Mask |= gproto.SetMode
		req.Mode = opts.Mode & 0o7777
	}
	if opts.Mask&unix.STATX_UID != 0 {
		req.Mask |= gproto.SetUID
		req.UID = uint32(opts.UID)
	}
	if opts.Mask&unix.STATX_GID != 0 {
		req.Mask |= gproto.SetGID
		req.GID = uint32(opts.GID)
	}
	if opts.Mask&unix.STATX_ATIME != 0 {
		req.Mask |= gproto.SetAtime
		req.Atime = opts.Atime
	}
	if opts.Mask&unix.STATX_MTIME != 0 {
		req.Mask |= gproto.SetMtime
		req.Mtime = opts.Mtime
	}
	if opts.Mask&unix.STATX_SIZE != 0 {
		if int64(opts.Size) < 0 {
			return unix.EFBIG
		}
		st.wmu.Lock()
		defer st.wmu.Unlock()
		st.mu.Lock()
		fd := st.rwFD
		st.mu.Unlock()
		if fd >= 0 {
			if err := unix.Ftruncate(fd, int64(opts.Size)); err != nil {
				return err
			}
		} else {
			req.Mask |= gproto.SetSize
			req.Off = opts.Size
		}
	}
	if req.Mask != 0 {
		if err := i.fs.c.Call(&req); err != nil {
			return i.fs.check(ctx, err)
		}
	}
	now := vfs.Now()
	c, _ := st.cacheAndSize()
	if c != nil && opts.Mask&unix.STATX_SIZE != 0 {
		c.mu.Lock()
		c.truncateLocked(int64(opts.Size))
		c.mu.Unlock()
		// Once the new size is known (st.mu's deferred unlock runs
		// first), mappings lose their pages past it, private copies
		// too (SIGBUS there, as on Linux). A memory manager translates
		// with st.mu taken under its own lock: not held here.
		defer i.maps.Truncated(mappable{i}, opts.Size)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	a := &st.attr
	if opts.Mask&unix.STATX_MODE != 0 {
		a.Mode = a.Mode&unix.S_IFMT | opts.Mode&0o7777
	}
	if opts.Mask&unix.STATX_UID != 0 {
		a.Uid = uint32(opts.UID)
	}
	if opts.Mask&unix.STATX_GID != 0 {
		a.Gid = uint32(opts.GID)
	}
	if opts.Mask&unix.STATX_SIZE != 0 {
		if int64(opts.Size) != a.Size {
			a.Mtim = now
		}
		a.Size = int64(opts.Size)
	}
	if opts.Mask&unix.STATX_ATIME != 0 {
		a.Atim = opts.Atime
	}
	if opts.Mask&unix.STATX_MTIME != 0 {
		a.Mtim = opts.Mtime
	}
	a.Ctim = now
	st.stale = true
	return nil
}

// GetXattr implements vfs.XattrInode.GetXattr. The gofer maps the
// sandbox's user.*, trusted.* and security.* names to the host's (its
// placeholder.go); the VFS has checked the caller's rights.
func (i *inode) GetXattr(ctx vfs.Context, name string) ([]byte, error) {
	if i.knownNoXattr() {
		if !gproto.XattrNameMapped(name) {
			return nil, unix.EOPNOTSUPP
		}
		return nil, unix.ENODATA
	}
	i.fs.xattrAsked()
	b, err := i.fs.c.Bytes(&gproto.Request{Type: gproto.TGetXattr, FID: i.fid.Load(), Name: name, Count: vfs.XattrSizeMax})
	return b, i.fs.check(ctx, err)
}

// SetXattr implements vfs.XattrInode.SetXattr.
func (i *inode) SetXattr(ctx vfs.Context, name string, value []byte, flags int) error {
	if !i.fs.opts.Writable {
		return unix.EROFS
	}
	i.xattrChanging()
	err := i.fs.c.Call(&gproto.Request{Type: gproto.TSetXattr, FID: i.fid.Load(), Name: name, Value: value, Flags: uint32(flags)})
	if err == unix.EMSGSIZE {
		// Larger than one gofer message can carry.
		return unix.E2BIG
	}
	if err == nil {
		i.xattrChanged()
		i.st.mu.Lock()
		i.st.attr.Ctim = vfs.Now()
		i.st.mu.Unlock()
	}
	return i.fs.check(ctx, err)
}

// ListXattr implements vfs.XattrInode.ListXattr: the names the gofer
// shows the sandbox (the VFS hides trusted.* from the unprivileged).
func (i *inode) ListXattr(ctx vfs.Context) ([]string, error) {
	if i.knownNoXattr() {
		return nil, nil
	}
	i.fs.xattrAsked()
	b, err := i.fs.c.Bytes(&gproto.Request{Type: gproto.TListXattr, FID: i.fid.Load()})
	if err != nil {
		if err == unix.EOPNOTSUPP {
			return nil, nil
		}
		return nil, i.fs.check(ctx, err)
	}
	var names []string
	for _, n := range strings.Split(string(b), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// RemoveXattr implements vfs.XattrInode.RemoveXattr.
func (i *inode) RemoveXattr(ctx vfs.Context, name string) error {
	if !i.fs.opts.Writable {
		return unix.EROFS
	}
	err := i.fs.c.Call(&gproto.Request{Type: gproto.TRemoveXattr, FID: i.fid.Load(), Name: name})
	if err == nil {
		i.st.mu.Lock()
		i.st.attr.Ctim = vfs.Now()
		i.st.mu.Unlock()
	}
	return i.fs.check(ctx, err)
}

// CreateTmpfile implements vfs.TmpfileCreator (open(O_TMPFILE)): the gofer
// makes the unnamed host file and donates a read-write descriptor of it;
// linkat names it later through the gofer's own descriptor.
func (i *inode) CreateTmpfile(ctx vfs.Context, opts *vfs.CreateOptions) (vfs.Inode, uint64, error) {
	if !i.fs.opts.Writable {
		return nil, 0, unix.EROFS
	}
	if i.ftype() != unix.S_IFDIR {
		return nil, 0, unix.ENOTDIR
	}
	req := gproto.Request{Type: gproto.TTmpfile, FID: i.fid.Load(), Mode: opts.Mode, UID: uint32(opts.UID), GID: uint32(opts.GID)}
	fid, a, fd, err := i.fs.c.NewNode(&req)
	if err != nil {
		return nil, 0, i.fs.check(ctx, err)
	}
	return i.fs.newInode(fid, &a, nil, "", fd), a.Ino, nil
}

// NewInProcess serves hostDir from a gofer server running in this process
// (goroutines on a socketpair) and returns a client filesystem on it; the
// server (hence the filesystem) is read-only unless opts make the
// filesystem writable. It is for
// tests: the sandbox itself always talks to a separate `runsc gofer`
// process.
func NewInProcess(mf fsutil.MemoryFile, hostDir string, opts ...Options) (*Filesystem, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	rootFD, err := unix.Open(hostDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	readOnly := len(opts) == 0 || !opts[0].Writable
	s, err := gproto.NewServer(rootFD, fds[0], readOnly)
	if err != nil {
		unix.Close(rootFD)
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, err
	}
	go s.Serve()
	c, err := gproto.NewClient(fds[1])
	if err != nil {
		return nil, err
	}
	return New(mf, c, opts...)
}
